"""`signalwise init DIR`: a commented profile and a shortlist template to fill in, so a new applicant starts
from files that already evaluate instead of from the JSON Schema.

The texts are data, not code: engine/render/templates/init/profile.yaml (written as is) and
init/shortlist.yaml (one note and one fictional example value per column). The shortlist is written twice:
programs.xlsx with each note as a comment on its header cell, and programs.csv whose notes are in
README.txt (a CSV has no comments the reader would accept). Nothing is ever overwritten.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import click

from .output import echo

FILES = ("profile.yaml", "programs.csv", "programs.xlsx", "README.txt")


@click.command("init")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
def init_command(directory: Path) -> None:
    """Write a commented profile.yaml and a shortlist template (programs.csv, programs.xlsx) into DIR.

    Every value in them is a fictional example: replace it with yours. DIR is created if needed; a file
    that already exists there is never overwritten.
    """
    import yaml
    from signalwise.engine.errors import InputError, Problem
    from signalwise.engine.render.templating import BUNDLED

    existing = [directory / name for name in FILES if (directory / name).exists()]
    if existing:
        raise InputError([Problem(str(path), None, None, "already exists; signalwise init never overwrites a file",
                                  "choose a new folder, or move the file away") for path in existing])
    if directory.exists() and not directory.is_dir():
        raise InputError([Problem(str(directory), None, None, "is a file, not a folder")])
    profile = (BUNDLED / "init" / "profile.yaml").read_text(encoding="utf-8")
    columns: list[dict[str, Any]] = yaml.safe_load(
        (BUNDLED / "init" / "shortlist.yaml").read_text(encoding="utf-8"))["columns"]
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "profile.yaml", profile.encode("utf-8"))
    _write(directory / "programs.csv", _csv(columns).encode("utf-8"))
    _write(directory / "programs.xlsx", _xlsx(columns))
    _write(directory / "README.txt", _readme(directory, columns).encode("utf-8"))
    for name in FILES:
        echo(f"wrote {directory / name}", err=True)
    echo(f"Next: replace the fictional example values in both files with yours, then run\n"
         f"  signalwise evaluate --profile {directory / 'profile.yaml'} --programs {directory / 'programs.xlsx'}\n"
         f"(or --programs {directory / 'programs.csv'}; README.txt and docs/applicant-guide.md explain every "
         "field)")


def _write(path: Path, data: bytes) -> None:
    """Write a new file atomically (temporary file, then rename); never replaces one that appeared since."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.link(tmp, path)  # fails if the file exists: no overwrite even in a race
    finally:
        os.unlink(tmp)


def _example(value: Any) -> str:
    return "" if value is None else str(value)


def _csv(columns: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c["column"] for c in columns])
    writer.writerow([_example(c["example"]) for c in columns])
    return out.getvalue()


def _xlsx(columns: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "programs"
    for i, c in enumerate(columns, start=1):
        head = ws.cell(row=1, column=i, value=c["column"])
        head.font = Font(bold=True)
        head.comment = Comment(c["note"], "signalwise init", width=320, height=110)
        value = c["example"]
        if isinstance(value, str) and value.endswith("%"):
            cell = ws.cell(row=2, column=i, value=float(value[:-1]) / 100)
            cell.number_format = "0%"
        elif value not in (None, ""):
            ws.cell(row=2, column=i, value=value)
        ws.column_dimensions[head.column_letter].width = max(12, len(c["column"]) + 2)
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _readme(directory: Path, columns: list[dict[str, Any]]) -> str:
    lines = [
        "Your signalwise files (written by `signalwise init`)",
        "",
        "profile.yaml   about you; every field has a comment above it.",
        "programs.xlsx  your shortlist as an Excel workbook; hover over a column header for its note.",
        "programs.csv   the same shortlist as CSV; the notes for its columns are below.",
        "",
        "Every value in these files is a FICTIONAL EXAMPLE: replace the example row with your programs (one row",
        "each) and every profile value with yours. Only id, name and state are required; a blank cell is",
        "unknown, and the report says which decisions an unknown touched. You may add your own columns",
        "(notes, website): signalwise keeps them and no rule reads them. Keep one of the two shortlist files.",
        "",
        "Then run:",
        f"  signalwise evaluate --profile {directory / 'profile.yaml'} --programs {directory / 'programs.xlsx'}",
        "",
        "The shortlist's columns:",
        "",
    ]
    width = max(len(c["column"]) for c in columns)
    lines += [f"{c['column']:<{width}}  {c['note']}" for c in columns]
    lines += ["", "docs/applicant-guide.md explains every profile field and column in full.", ""]
    return "\n".join(lines)
