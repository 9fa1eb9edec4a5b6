"""Everything the CLI prints goes through here: no control character from an input, a policy or a report
read back reaches the terminal raw (docs/reliability.md, "Output hygiene")."""

from __future__ import annotations

import re

import click

# In JSON, the same characters are written as \u escapes (C0 ones already are, by json.dumps).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: str, fmt: str = "text") -> str:
    """`text` as printed or written for format `fmt`: JSON keeps its syntax (\\u escapes), every other
    format shows control characters as `\\x1b`."""
    from signalwise.engine.render.common import terminal_safe

    if fmt == "json":
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return terminal_safe(text)


def echo(message: str = "", *, err: bool = False, nl: bool = True, fmt: str = "text") -> None:
    click.echo(safe(message, fmt), err=err, nl=nl)
