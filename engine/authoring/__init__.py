"""The policy author's tools: validate, test, diff, lint, new-cycle and list.

Each module is pure over loaded policies (`tree.PolicyTree`) and returns values; `cli/policy_cmd.py`
prints them and picks exit codes.
"""
