"""`signalwise explain`: answer "how?" and "why not?" for one program, or show one rule, from a report."""

from __future__ import annotations

import json

import click

from .output import emit, format_option, output_option, template_option


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
@format_option()
@output_option("Write the answer here.")
@template_option
def explain_command(report: str, program: str | None, why_not: str | None, rule: str | None, fmt: str,
                    output: str | None, template: str | None) -> None:
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
        found = view.find_rule(data, report, rule)
        text, item, title = view.rule_view(data, found), {"rule": found, **data["rules"].get(found, {})}, found
    else:
        p = view.find_program(data, report, program or "")
        title = f"{p['name']} ({p['id']})"
        if why_not is not None:
            tier = view.check_tier(data, report, why_not)
            text = view.why_not_view(data, p, tier)
            item = {"program": p["id"], "why_not": [w for w in p.get("why_not", []) if w["tier"] == tier]}
            title = f"Why not {tier}: {title}"
        else:
            text, item = view.program_view(data, p), p
    if fmt == "json":
        text = json.dumps(item, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    elif fmt == "md":
        text = f"# {title}\n\n```\n{text}```\n"
    elif fmt == "html":
        from signalwise.engine.render.templating import render_page

        text = render_page("text_page.html.j2", {"title": title, "subtitles": [], "section_id": "explanation",
                                                 "text": text.rstrip("\n")}, template)
    emit(text, fmt=fmt, output=output, command="explain", inputs=(report,))
