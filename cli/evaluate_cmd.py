"""`signalwise evaluate`: profile + shortlist -> explained signal plan."""

from __future__ import annotations

import click

from .options import evaluation_inputs
from .output import echo, safe


@click.command("evaluate")
@evaluation_inputs
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json", "html"]), default="text",
              show_default=True, help="html: one self-contained, printable file (use with -o).")
@click.option("--strategy", type=click.Choice(["guide", "gain"]), default="guide", show_default=True,
              help="guide: the guide's ratios are hard quotas; gain: maximise expected interviews "
                   "(needs interview-rate data).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help="Write the report here.")
def evaluate_command(profile: str, programs: str, specialty: str | None, cycle: str | None,
                     signals: str | None, policies: str | None, fmt: str, strategy: str,
                     output: str | None) -> None:
    """Recommend which programs get which signal, and explain every decision."""
    from signalwise.engine.catalogue import bundled_root
    from signalwise.engine.context import parse_signals_option
    from signalwise.engine.explain import build_report
    from signalwise.engine.files import refuse_overwriting_inputs, refuse_writing_into, write_atomic
    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.render import RENDERERS

    folders = (policies or bundled_root(),)
    if output:
        refuse_overwriting_inputs(output, (profile, programs))
        refuse_writing_into(output, folders)
    req = Request(profile, programs, specialty, cycle,
                  parse_signals_option(signals) if signals is not None else None, policies, strategy)
    report = build_report(evaluate(req))
    text = safe(RENDERERS[fmt](report), fmt)
    if output:
        write_atomic(output, text, inputs=(profile, programs), folders=folders)
        echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
