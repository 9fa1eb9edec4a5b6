"""Click options shared by the commands that evaluate an applicant (evaluate, compare, batch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

_INPUTS = (
    click.option("--profile", "profile", required=True, type=click.Path(dir_okay=True),
                 help="Applicant profile (YAML)."),
    click.option("--programs", "programs", required=True, type=click.Path(dir_okay=True),
                 help="Program shortlist (CSV with a header row, or YAML list); its interview_rate_* "
                      "columns override the interview model."),
    click.option("--specialty", help="Override the profile's specialty, e.g. family-medicine."),
    click.option("--cycle", help="Override the profile's cycle, e.g. eras-2026."),
    click.option("--signals", "signals", help="What-if signal counts: 7, or gold=3,silver=12."),
    click.option("--policies", "policies", type=click.Path(file_okay=False),
                 help="Use policies (and policies/models) from this folder instead of the bundled ones."),
)


def evaluation_inputs(command: Callable[..., Any]) -> Callable[..., Any]:
    """--profile, --programs, --specialty, --cycle, --signals and --policies, in that order."""
    for option in reversed(_INPUTS):
        command = option(command)
    return command


def strategy_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--strategy", type=click.Choice(["guide", "gain"]), default="guide", show_default=True,
                        help="guide: the guide's ratios are hard quotas; gain: maximise expected interviews "
                             "(needs interview-rate data).")(command)


def cohort_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The evaluation options of `evaluate` for a whole cohort: --specialty, --cycle, --signals, --policies."""
    for option in reversed(_INPUTS[2:]):
        command = option(command)
    return command
