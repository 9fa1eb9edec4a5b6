"""`signalwise track`: after submission, compare invitations with the plan and the season's pace."""

from __future__ import annotations

import datetime as dt

import click

from .output import DATE, as_date, emit, format_option, output_option, template_option, verbose_option


@click.command("track")
@click.option("--log", "log", required=True, type=click.Path(dir_okay=True), help="Interview log (CSV or YAML).")
@click.option("--programs", "programs", required=True, type=click.Path(dir_okay=True), help="Your shortlist.")
@click.option("--report", "report", type=click.Path(dir_okay=True),
              help="The JSON report that planned your signals (signalwise evaluate --format json).")
@click.option("--as-of", "as_of", type=DATE, metavar="YYYY-MM-DD",
              help="Judge the season as of this date; default today.")
@click.option("--specialty", help="Specialty, if no --report is given.")
@click.option("--cycle", help="Cycle, e.g. eras-2026, if no --report is given.")
@click.option("--target", type=click.IntRange(1, 100), help="Your interview target, if the policy has none.")
@click.option("--review-from", "review_from", type=DATE, metavar="YYYY-MM-DD",
              help="Date programs started reviewing, if the policy has none.")
@click.option("--policies", type=click.Path(file_okay=False), help="Use policies from this folder.")
@format_option()
@output_option("Write the result here.")
@verbose_option
@template_option
def track_command(log: str, programs: str, report: str | None, as_of: dt.datetime | None, specialty: str | None,
                  cycle: str | None, target: int | None, review_from: dt.datetime | None, policies: str | None,
                  fmt: str, output: str | None, verbose: bool, template: str | None) -> None:
    """Track invitations against your plan and the season's pace; advise what to do next."""
    from signalwise.engine.render.tracking import render_tracking
    from signalwise.engine.season.tracking import TrackRequest, track

    req = TrackRequest(log, programs, report, as_date(as_of), specialty, cycle, target, as_date(review_from),
                       policies)
    text = render_tracking(track(req), fmt, verbose=verbose, template_dir=template)
    emit(text, fmt=fmt, output=output, command="track", inputs=(log, programs, report), policies=policies)
