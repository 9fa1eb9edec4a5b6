"""Stage 2, policies: everything about a policy set before it runs.

Reading one policy file into the typed model (`model`, `loader`), finding the files of one evaluation and
the season open today (`catalogue`), the specialty registry, the semantic checks across a set (`check`)
and the limits that make a set safe to run (`limits`, `capacity`), the policy language's values and text
templates, and compiling a set to durable-rules JSON (`compiler`: a pure function of the set, so it sits
with the checks that must know what compiles). May import `engine.load` and `engine.errors`."""
