"""After submission: tracking invitations over the season.

Reads an interview log and a shortlist (and optionally a plan report), runs the tracking policies and
says where the season stands. A sibling of `engine.batch` and `engine.authoring`: it may use every stage
below it, and no sibling imports it."""
