"""`signalwise explain`: answer "how?" and "why not?" for one program, or show one rule, from a report."""

from __future__ import annotations

import click

from .output import echo


@click.command("explain")
@click.argument("report", type=click.Path(dir_okay=True))
@click.option("--program", "program", metavar="ID", help="A program id from the report: how it was decided.")
@click.option(
    "--why-not",
    "why_not",
    metavar="TIER",
    help="With --program: why it did not get this signal tier (e.g. gold, silver, signal).",
)
@click.option(
    "--rule", "rule", metavar="ID", help="A rule id: its text, rationale, source and where it fired."
)
def explain_command(report: str, program: str | None, why_not: str | None, rule: str | None) -> None:
    """Explain one decision of a report written by `signalwise evaluate --format json`.

    \b
    signalwise explain report.json --program P123                 how P123 was decided
    signalwise explain report.json --program P123 --why-not gold  why P123 did not get gold
    signalwise explain report.json --rule score.rotation          a rule, and where it fired
    """
    from signalwise.engine.render import explain_view as view

    if (program is None) == (rule is None):
        raise click.UsageError("give exactly one of --program ID or --rule ID")
    if why_not is not None and program is None:
        raise click.UsageError("--why-not needs --program ID")
    data = view.load_report(report)
    if rule is not None:
        echo(view.rule_view(data, view.find_rule(data, report, rule)), nl=False)
        return
    assert program is not None
    p = view.find_program(data, report, program)
    if why_not is not None:
        echo(view.why_not_view(data, p, view.check_tier(data, report, why_not)), nl=False)
    else:
        echo(view.program_view(data, p), nl=False)
