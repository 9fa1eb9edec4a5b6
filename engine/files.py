"""Reading input files defensively, and writing output files atomically.

Every reader refuses what is not a small, regular, UTF-8 text file, with a message that says what was
expected. Writers never leave a half-written file and never overwrite one of the run's inputs.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError, Problem

MAX_INPUT_BYTES = 5 * 1024 * 1024  # documented in docs/reliability.md


def read_text(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """Read a UTF-8 text file, refusing directories, devices, huge, binary or BOM-prefixed files."""
    name = str(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise InputError([Problem(name, None, None, "file not found")]) from None
    except OSError as exc:
        raise InputError([Problem(name, None, None, f"cannot read file: {exc.strerror}")]) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError([Problem(name, None, None, "is a directory", "expected a file")])
    if not stat.S_ISREG(st.st_mode):
        raise InputError([Problem(name, None, None, "is not a regular file", "expected a YAML or CSV file")])
    if st.st_size > max_bytes:
        raise InputError([Problem(name, None, None,
                                  f"file is {st.st_size:,} bytes; the limit is {max_bytes:,} bytes",
                                  "split the file or remove unrelated content")])
    try:
        with open(name, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError([Problem(name, None, None, f"cannot read file: {exc.strerror}")]) from None
    return decode_text(data, name)


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes as UTF-8 text, or explain why they are not."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError([Problem(name, 1, None, "file starts with a byte-order mark (BOM)",
                                  "save it as UTF-8 without BOM (in Excel: 'CSV UTF-8' then remove the BOM, "
                                  "or export from a text editor)")])
    if b"\x00" in data:
        raise InputError([Problem(name, None, None, "not a text file (it contains NUL bytes)",
                                  "expected UTF-8 text")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError([Problem(name, line, None, f"not valid UTF-8 (byte {exc.start})",
                                  "save the file with UTF-8 encoding")]) from None
    if not text.strip():
        raise InputError([Problem(name, None, None, "file is empty")])
    return text


def write_atomic(path: str | Path, content: str, *, inputs: tuple[str | Path, ...] = ()) -> None:
    """Write `content` to `path` via a temporary file and rename, so a failure never clobbers it."""
    target = Path(path)
    for inp in inputs:
        try:
            if target.exists() and os.path.samefile(target, inp):
                raise InputError([Problem(str(path), None, "-o", "output would overwrite an input file",
                                          "choose another output path")])
        except FileNotFoundError:
            continue
    if target.is_dir():
        raise InputError([Problem(str(path), None, "-o", "output path is a directory",
                                  "give a file name")])
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError([Problem(str(path), None, "-o", "output directory does not exist")])
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
