"""`signalwise batch`: a whole cohort, one report per applicant plus a cohort summary."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from .options import cohort_options, strategy_option
from .output import echo, format_option, template_option, verbose_option


@click.command("batch", short_help="Evaluate a cohort: one report per applicant plus a summary.")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the reports and the summary (created if missing).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the number of cores).")
@cohort_options
@strategy_option
@format_option(help_text="Format of each applicant's report.")
@verbose_option
@template_option
@click.option("--force", is_flag=True, help="Re-evaluate applicants whose reports are already up to date.")
def batch_command(directory: Path, outdir: Path, workers: int | None, specialty: str | None, cycle: str | None,
                  signals: str | None, policies: str | None, strategy: str, fmt: str, verbose: bool,
                  template: str | None, force: bool) -> None:
    """Evaluate every applicant folder in DIR (each with profile.yaml and programs.csv).

    Takes the evaluation options of `signalwise evaluate` (--specialty, --cycle, --signals, --policies,
    --strategy), applied to every applicant.

    Writes OUTDIR/<applicant>.<txt|md|json|html> for each applicant and the cohort summary
    OUTDIR/_summary.csv and OUTDIR/_summary.md (tier, signals used/available per tier, findings by
    level, status and error message), ordered by folder name. Every file is written atomically, so
    an interrupted run can simply be rerun: applicants whose report is newer than their inputs (and
    made with the same policy files and format) are skipped unless --force. One applicant's invalid
    input is reported in the summary and does not stop the others.

    Exit codes: 0 every applicant has a report; 2 some applicants had invalid input (listed in the
    summary; the others are done); 3 a policy misbehaved for some applicant; 1 an internal error for
    some applicant (a bug); 130 interrupted (rerun to continue).
    """
    from signalwise.engine.batch import SUMMARY_CSV, SUMMARY_MD, run_batch

    with contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def on_plan(todo: int, reused: int) -> None:
            if reused:
                echo(f"{reused} applicant(s) already have a current report: skipped "
                           "(--force redoes them)", err=True)
            bar = click.progressbar(length=todo, label="evaluating", file=sys.stderr, show_pos=True,
                                    show_eta=True)
            bars.append(stack.enter_context(bar))

        def progress(n: int) -> None:
            for bar in bars:
                bar.update(n)

        try:
            options = {"specialty": specialty, "cycle": cycle, "signals": signals, "policies": policies,
                       "strategy": strategy, "verbose": "yes" if verbose else None,
                       "template": template}
            result = run_batch(directory, outdir, fmt=fmt, workers=workers, force=force, progress=progress,
                               on_plan=on_plan, options=options)
        except KeyboardInterrupt:
            stack.close()
            echo("\ninterrupted: finished reports are kept; rerun the same command to continue",
                       err=True)
            click.get_current_context().exit(130)
    ok = len(result.outcomes) - result.failed
    echo(f"{len(result.outcomes)} applicants: {ok} ok ({result.evaluated} evaluated, {result.reused} "
               f"up to date), {result.failed} with errors; {result.seconds:.1f} s"
               + (f" on {result.workers} worker(s)" if result.workers else ""), err=True)
    if result.ignored:
        echo(f"ignored {len(result.ignored)} folder(s) without profile.yaml or programs.csv: "
                   + ", ".join(result.ignored[:5]) + (" ..." if len(result.ignored) > 5 else ""), err=True)
    for o in result.outcomes:
        if o.status == "error":
            first_line = (o.error or "").splitlines()[0] if o.error else ""
            echo(f"error: {o.applicant}: {first_line}", err=True)
    echo(f"summary: {outdir / SUMMARY_MD} and {outdir / SUMMARY_CSV}", err=True)
    if result.exit_code:
        click.get_current_context().exit(result.exit_code)
