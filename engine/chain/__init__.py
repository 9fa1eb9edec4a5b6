"""Stage 3, chain: forward chaining over facts with durable-rules.

`runtime` is the only module that imports durable-rules (a checked contract); `facts` remembers every fact
and who derived it; `conditions` evaluates a rule's tests in Python for explanations; `context` builds the
context fact (counts, parameters, home rule). May import `engine.policy`, `engine.load`, `engine.errors`."""
