"""`signalwise policy ...` and `signalwise schema ...`: the policy author's tools."""

from __future__ import annotations

import click


@click.group("policy")
def policy_group() -> None:
    """Validate, test, diff and list policy files."""


@click.group("schema")
def schema_group() -> None:
    """JSON Schemas for editors."""
