"""The rules engine, one package per stage of the data flow, each importing only the stages below it.

    load -> policy (validate, compile) -> chain -> plan (allocate) -> explain -> render

`pipeline.py` strings the stages together for one evaluation; `batch.py` (a class of applicants),
`season/` (tracking after submission) and `authoring/` (the policy author's tools) sit on top, side by
side. The order is a checked contract (`[tool.importlinter]` in pyproject.toml; docs/architecture.md,
"Layers"); `errors.py`, the problem and error types every stage raises, is the bottom layer.
"""
