"""Planning: which program gets which signal, and the claims that explain the plan.

Owns the allocation vocabulary (`quotas`), the candidates read from the rules' facts (`candidates`), the
one allocation model for both strategies (`solve`, `allocate`), the explanations as checked data
(`claims`), interview-rate models and expected outcomes (`interview_model`, `outcome`) and the gain
tools behind `signalwise compare` (`optimize`). It may import the chain layer's facts and the policy
model, never the pipeline, the explainer or the renderers: the pipeline calls it, not the other way.
"""
