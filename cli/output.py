"""The flags every command shares, and how a command's output reaches the reader.

Applicant-facing commands (evaluate, compare, explain, track, batch) take `--format text|md|json|html`,
`-o` and `--verbose`; policy authors' commands take `--format text|json` and `-o`. The default is `text`
everywhere. HTML is a file, never a terminal flood: without `-o` it goes to `signalwise-<command>.html`
in the current folder, and the command says so. Everything printed goes through `safe`: no control
character from an input, a policy or a report read back reaches the terminal raw (docs/reliability.md,
"Output hygiene"), and `-o` never lands inside a policy folder.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

APPLICANT_FORMATS = ("text", "md", "json", "html")
# In JSON, the same characters are written as \u escapes (C0 ones already are, by json.dumps).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Whether a text holds one, asked of its UTF-8 (a report of a few MB seldom does, and a character-class
# scan of the text costs more than writing it): U+007F, U+0080-U+00BF (lead byte \xc2), and the marks
# U+200E-U+200F, U+202A-U+202E, U+2066-U+2069 by a pattern with a literal first byte (searched for fast).
_JSON_UNSAFE_MARKS = re.compile(rb"\xe2(?:\x80[\x8e\x8f\xaa-\xae]|\x81[\xa6-\xa9])")
AUTHOR_FORMATS = ("text", "json")
CHECK_FORMATS = ("text", "json", "junit")  # policy validate, lint and test: JUnit XML for CI


def format_option(choices: Sequence[str] = APPLICANT_FORMATS, help_text: str | None = None
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    default_help = ("text: for the terminal; md: Markdown; json: the full data; html: a self-contained, "
                    "printable page (written to signalwise-<command>.html unless -o is given)"
                    if "html" in choices else "text: for the terminal; json: for tools"
                    + ("; junit: JUnit XML for CI" if "junit" in choices else ""))
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default="text", show_default=True,
                        help=help_text or default_help)


def output_option(help_text: str = "Write the output to this file (atomically) instead of the terminal."
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help=help_text)


def verbose_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-v", "--verbose", is_flag=True,
                        help="Show the rule, policy and source behind every reason (HTML: opened).")(command)


def _checked_template_dir(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        from signalwise.engine.render.templating import check_template_dir

        check_template_dir(value)  # before any work: a broken template folder is an input error (exit 2)
    return value


def template_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--template DIR`: an advising office's templates for the HTML pages (see docs/applicant-guide.md)."""
    return click.option("--template", "template", metavar="DIR", callback=_checked_template_dir,
                        help="With --format html: a folder of templates that override the bundled ones "
                             "(e.g. brand.html.j2, brand.css.j2, footer.html.j2); missing files fall back "
                             "to the bundled templates.")(command)


DATE = click.DateTime(formats=["%Y-%m-%d"])


def as_date(value: dt.datetime | dt.date | None) -> dt.date | None:
    """A --date option's value (Click gives a datetime) as a date."""
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def safe(text: str, fmt: str = "text") -> str:
    """`text` as printed or written for format `fmt`: JSON keeps its syntax (\\u escapes), every other
    format shows control characters as `\\x1b`."""
    if fmt == "json":
        data = text.encode("utf-8", "surrogatepass")
        if b"\x7f" not in data and b"\xc2" not in data and not _JSON_UNSAFE_MARKS.search(data):
            return text
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if text.isascii() and text.replace("\n", "").replace("\t", "").isprintable():
        return text  # no control character to show (terminal_safe would return it unchanged)
    from signalwise.engine.render.common import terminal_safe  # imported only when needed: it is not free

    return terminal_safe(text)


def echo(message: str = "", *, err: bool = False, nl: bool = True, fmt: str = "text") -> None:
    click.echo(safe(message, fmt), err=err, nl=nl)


def emit(text: str, *, fmt: str, output: str | None, command: str,
         inputs: tuple[str | Path | None, ...] = (), policies: str | Path | None = None) -> None:
    """Print `text`, or write it to `-o` (HTML without `-o`: to signalwise-<command>.html) and say where.

    The file never replaces an input and never lands inside the policy folder in use (`policies`, or the
    bundled one)."""
    from signalwise.engine.load.files import write_atomic
    from signalwise.engine.policy.catalogue import bundled_root

    text = safe(text, fmt)
    folders = (policies or bundled_root(),)
    if output is None and fmt == "html":
        output = f"signalwise-{command}.html"
        write_atomic(output, text, inputs=tuple(x for x in inputs if x), folders=folders)
        echo(f"wrote {output} (open it in a browser; -o chooses another file)", err=True)
        return
    if output:
        write_atomic(output, text, inputs=tuple(x for x in inputs if x), folders=folders)
        echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
