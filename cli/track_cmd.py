"""`signalwise track`: after submission, compare invitations with the plan and the season's pace."""

from __future__ import annotations

from datetime import date

import click

from .output import echo, safe


def _date(value: str | None, flag: str) -> date | None:
    from signalwise.engine.errors import input_error
    from signalwise.engine.tracking import MAX_DATE, MIN_DATE, parse_day

    if value is None:
        return None
    day = parse_day(value)
    if day is None:
        shown = repr(value) if len(value) <= 40 else repr(value[:38]) + "…"
        raise input_error("command line", f"got {shown}; expected a date YYYY-MM-DD between {MIN_DATE} and "
                          f"{MAX_DATE}", field=flag)
    return day


@click.command("track")
@click.option("--log", "log", required=True, type=click.Path(dir_okay=True), help="Interview log (CSV or YAML).")
@click.option("--programs", "programs", required=True, type=click.Path(dir_okay=True), help="Your shortlist.")
@click.option("--report", "report", type=click.Path(dir_okay=True),
              help="The JSON report that planned your signals (signalwise evaluate --format json).")
@click.option("--as-of", "as_of", help="Judge the season as of this date (YYYY-MM-DD); default today.")
@click.option("--specialty", help="Specialty, if no --report is given.")
@click.option("--cycle", help="Cycle, e.g. eras-2026, if no --report is given.")
@click.option("--target", type=click.IntRange(1, 100), help="Your interview target, if the policy has none.")
@click.option("--review-from", "review_from", help="Date programs started reviewing, if the policy has none.")
@click.option("--policies", type=click.Path(file_okay=False), help="Use policies from this folder.")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json", "html"]), default="text",
              show_default=True, help="html: one self-contained page with the pace chart (use with -o).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help="Write the result here.")
def track_command(log: str, programs: str, report: str | None, as_of: str | None, specialty: str | None,
                  cycle: str | None, target: int | None, review_from: str | None, policies: str | None,
                  fmt: str, output: str | None) -> None:
    """Track invitations against your plan and the season's pace; advise what to do next."""
    from signalwise.engine.files import write_atomic
    from signalwise.engine.render.tracking import render_tracking
    from signalwise.engine.tracking import TrackRequest, track

    req = TrackRequest(log, programs, report, _date(as_of, "--as-of"), specialty, cycle, target,
                       _date(review_from, "--review-from"), policies)
    text = safe(render_tracking(track(req), fmt), fmt)
    if output:
        from signalwise.engine.catalogue import bundled_root

        write_atomic(output, text, inputs=tuple(x for x in (log, programs, report) if x),
                     folders=(policies or bundled_root(),))
        echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
