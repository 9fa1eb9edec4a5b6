"""`signalwise evaluate`: profile + shortlist -> explained signal plan."""

from __future__ import annotations

import gc

import click

from .options import evaluation_inputs, strategy_option
from .output import emit, format_option, output_option, template_option, verbose_option


@click.command("evaluate")
@evaluation_inputs
@strategy_option
@format_option()
@output_option("Write the report here.")
@verbose_option
@template_option
def evaluate_command(profile: str, programs: str, specialty: str | None, cycle: str | None,
                     signals: str | None, policies: str | None, strategy: str, fmt: str,
                     output: str | None, verbose: bool, template: str | None) -> None:
    """Recommend which programs get which signal, and explain every decision."""
    # One evaluation, then the process ends: the cyclic garbage collector would walk the growing heap
    # about a hundred times (3% of a cold run at 200 programs) to free almost nothing. Reference
    # counting still frees everything as usual; the collector is back on afterwards (tests run commands
    # in one process).
    enabled = gc.isenabled()
    gc.disable()
    try:
        _evaluate(profile, programs, specialty, cycle, signals, policies, strategy, fmt, output, verbose, template)
    finally:
        if enabled:
            gc.enable()


def _evaluate(profile: str, programs: str, specialty: str | None, cycle: str | None, signals: str | None,
              policies: str | None, strategy: str, fmt: str, output: str | None, verbose: bool,
              template: str | None) -> None:
    from signalwise.engine.chain.context import parse_signals_option
    from signalwise.engine.explain.report import build_report
    from signalwise.engine.load.files import refuse_overwriting_inputs, refuse_writing_into
    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.policy.catalogue import bundled_root
    from signalwise.engine.render import render_report

    folders = (policies or bundled_root(),)
    if output:
        refuse_overwriting_inputs(output, (profile, programs))
        refuse_writing_into(output, folders)
    req = Request(profile, programs, specialty, cycle,
                  parse_signals_option(signals) if signals is not None else None, policies, strategy)
    report = build_report(evaluate(req))
    emit(render_report(report, fmt, verbose=verbose, template_dir=template), fmt=fmt, output=output, command="evaluate",
         inputs=(profile, programs), policies=policies)
