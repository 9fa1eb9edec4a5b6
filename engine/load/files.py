"""Reading input files defensively, and writing output files atomically.

Every reader refuses what is not a small, regular, UTF-8 text file, with a message that says what was
expected. Writers never leave a half-written file and never overwrite one of the run's inputs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import stat
import tempfile
from functools import cache
from pathlib import Path

from ..errors import InputError, Problem

MAX_INPUT_BYTES = 5 * 1024 * 1024  # documented in docs/reliability.md


@cache
def package_dir(package: str) -> Path:
    """The folder of one of signalwise's data packages (`signalwise.schemas`, `signalwise.policies`).

    signalwise is installed as files (a wheel or an editable install), never zipped, so its data is
    read straight from the package's folder: `importlib.resources` would do the same here, after
    importing about a dozen more modules on every cold start."""
    module = importlib.import_module(package)
    return Path(module.__file__ or "").resolve().parent


def read_text(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """Read a UTF-8 text file, refusing directories, devices, huge or binary files (a UTF-8 BOM is dropped)."""
    return decode_text(read_bytes(path, max_bytes=max_bytes), str(path))


def read_bytes(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """Read a file's bytes, refusing directories, devices and huge files.

    The file is opened without blocking (a FIFO cannot stall us) and checked through the open
    descriptor, so a file swapped for a device between the check and the read is still refused. At
    most `max_bytes + 1` bytes are ever read, so memory stays bounded whatever the file claims.
    """
    name = str(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise InputError([Problem(name, None, None, "file not found")]) from None
    except OSError as exc:
        raise InputError([Problem(name, None, None, f"cannot read file: {exc.strerror}")]) from None
    _refuse_unless_small_regular_file(name, st, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags)
    except OSError as exc:
        raise InputError([Problem(name, None, None, f"cannot read file: {exc.strerror}")]) from None
    try:
        _refuse_unless_small_regular_file(name, os.fstat(fd), max_bytes)
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InputError([Problem(name, None, None, f"cannot read file: {exc.strerror}")]) from None
    finally:
        os.close(fd)
    if size > max_bytes:  # the file grew after it was checked: we stopped reading at the limit
        raise InputError([_too_big(name, None, max_bytes)])
    return b"".join(chunks)


def _refuse_unless_small_regular_file(name: str, st: os.stat_result, max_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise InputError([Problem(name, None, None, "is a directory", "expected a file")])
    if not stat.S_ISREG(st.st_mode):
        raise InputError([Problem(name, None, None, "is not a regular file (a device, pipe or socket)",
                                  "expected a YAML or CSV file")])
    if st.st_size > max_bytes:
        raise InputError([_too_big(name, st.st_size, max_bytes)])


def _too_big(name: str, size: int | None, max_bytes: int) -> Problem:
    shown = f"{size:,} bytes" if size is not None else "larger than the limit"
    return Problem(name, None, None, f"file is {shown}; the limit is {max_bytes:,} bytes",
                   "split the file or remove unrelated content")


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes as UTF-8 text, or explain why they are not. A UTF-8 byte-order mark (Excel's "CSV UTF-8"
    starts with one) is dropped."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError([Problem(name, 1, None, "file is saved as UTF-16 text",
                                  "save it as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')")])
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


def refuse_overwriting_inputs(path: str | Path, inputs: tuple[str | Path, ...]) -> None:
    """`-o` must not name one of the run's inputs (checked before any work, and again when writing)."""
    target = Path(path)
    for inp in inputs:
        try:
            if target.exists() and os.path.samefile(target, inp):
                raise InputError([Problem(str(path), None, "-o", "output would overwrite an input file",
                                          "choose another output path")])
        except FileNotFoundError:
            continue


def refuse_writing_into(path: str | Path, folders: tuple[str | Path, ...]) -> None:
    """`-o` must not land inside a policy folder (`--policies`, or the bundled one): a file there would be
    read as a policy by the next run, and could replace one. Links are followed."""
    try:
        target = Path(path).resolve()
    except (OSError, RuntimeError):
        return  # unresolvable (a link loop): the write itself will fail with a message
    for folder in folders:
        try:
            root = Path(folder).resolve()
        except (OSError, RuntimeError):
            continue
        if target == root or root in target.parents:
            raise InputError([Problem(str(path), None, "-o", f"output would be written inside the policy folder "
                                      f"{folder}", "write it elsewhere: files there are read as policies")])


def write_atomic(path: str | Path, content: str, *, inputs: tuple[str | Path, ...] = (),
                 folders: tuple[str | Path, ...] = ()) -> None:
    """Write `content` to `path` via a temporary file and rename, so a failure never clobbers it.

    The temporary file lives next to the target (same file system, so the rename is atomic) and is
    removed on any failure, including Ctrl-C. A new output is created readable by its owner only
    (a plan is personal data); an existing output keeps its permissions. `-o /dev/stdout` and other
    non-regular targets are written directly: there is no file to protect.
    """
    target = Path(path)
    refuse_overwriting_inputs(path, inputs)
    refuse_writing_into(path, folders)
    if target.is_dir():
        raise InputError([Problem(str(path), None, "-o", "output path is a directory",
                                  "give a file name")])
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError([Problem(str(path), None, "-o", "output directory does not exist")])
    try:
        existing = os.stat(target)
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        _write_through(target, content)
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        if existing is not None:
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise
    _sync_directory(directory)


def _write_through(target: Path, content: str) -> None:
    try:
        with open(target, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(content)
    except OSError as exc:
        raise _cannot_write(target, exc) from None


def _cannot_write(path: str | Path, exc: OSError) -> InputError:
    return InputError([Problem(str(path), None, "-o", f"cannot write the output: {exc.strerror or exc}",
                               "check the folder exists, is writable and the disk is not full")])


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(dfd)
    finally:
        os.close(dfd)
