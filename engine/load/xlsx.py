"""Read a shortlist straight from an Excel workbook (.xlsx), so an applicant never has to export one.

The sheet named `programs` (any case) is read, else the workbook's active sheet. Each row becomes the text
a "CSV UTF-8" export would hold (numbers as typed, `TRUE` as yes, dates as YYYY-MM-DD, formulas by their
last computed value), and the CSV reader types it, so both give the same plan. Row numbers are the lines
in messages. A workbook is a zip file: its entries are checked before anything is unpacked, so a small
file that would unpack to gigabytes is refused.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from ..errors import InputError, Problem

MAX_UNPACKED_BYTES = 64 * 1024 * 1024   # a 2,000-program sheet unpacks to a few MB
MAX_ENTRIES = 2_000
MAX_COLUMNS = 256


def _not_a_workbook(name: str, why: str) -> InputError:
    return InputError([Problem(name, None, None, f"not a readable Excel workbook ({why})",
                               "save it from Excel as 'Excel Workbook (.xlsx)', or export 'CSV UTF-8'")])


def _check_zip(data: bytes, name: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _not_a_workbook(name, "it is not an .xlsx file") from None
    if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise InputError([Problem(name, None, None, f"the workbook unpacks to more than "
                                  f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB",
                                  "keep only the shortlist sheet in the workbook")])


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def sheet_rows(data: bytes, name: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts) for every row of the shortlist sheet, header first."""
    _check_zip(data, name)
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a declared dependency
        raise _not_a_workbook(name, "openpyxl is not installed") from None
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise _not_a_workbook(name, type(exc).__name__) from None
    try:
        sheet = next((ws for ws in wb.worksheets if ws.title.strip().lower() == "programs"), None) or wb.active
        if sheet is None or not hasattr(sheet, "iter_rows"):
            raise _not_a_workbook(name, "it has no worksheet")
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=False)
        number = 0
        for cells in rows:
            row_no = next((c.row for c in cells if getattr(c, "row", None)), None)
            number = row_no if row_no is not None else number + 1
            texts = [cell_text(getattr(c, "value", None)) for c in cells]
            while texts and texts[-1] == "":
                texts.pop()
            yield number, texts
    except InputError:
        raise
    except Exception as exc:
        raise _not_a_workbook(name, type(exc).__name__) from None
    finally:
        wb.close()
