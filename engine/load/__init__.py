"""Stage 1, load: read the applicant's files and any JSON or YAML document defensively.

Owns file-system hazards (size, encoding, atomic writes), the safe YAML loader with line positions, JSON
Schema validation with readable errors, the profile and shortlist (CSV, XLSX, YAML) as typed records,
census geography, and reading a report back. Imports only `engine.errors`: nothing here knows what a
policy, a rule or a plan is."""
