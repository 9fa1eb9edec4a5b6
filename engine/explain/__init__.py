"""Stage 5, explain: the report, built from firings, resolutions and the plan.

`report` turns an evaluation into the report contract (plain data, schema-checked) and refuses a plan whose
allocation claims do not hold; `unknowns` says which decisions an unknown input touched. May import the
pipeline's result types and every stage below it; never a renderer."""
