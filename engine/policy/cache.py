"""A cache of parsed and schema-validated policy files across runs (issue 15).

Every CLI run starts cold; without this cache it parses the YAML of every policy it uses and validates it
against the policy JSON Schema (most of the start-up work after the imports). An entry holds the parsed
document and its source positions, keyed by the SHA-256 of

- the policy file's exact text,
- every JSON Schema in `schemas/`,
- every engine module (the YAML loader, the schema and semantic checks, this module), by name, size and
  modification time as CPython's bytecode cache judges a module, and the signalwise version,

so a changed policy file, schema, loader or version never finds an old entry. It works the same for the
bundled policies and for any `--policies` folder, because the key is the file's content, not its path.

An entry is never trusted: it is read only if its header names the same key and the SHA-256 of its body
matches, and the document must parse as JSON; anything else (truncated, corrupt, unreadable, another
format) is ignored and rebuilt from the file. The typed `Policy` is always rebuilt from the document, and
its `sha256` is always the hash of the text just read, so the runtime's decision to run a policy set in
the supervised engine process (which recognises the bundled policies by file hash) cannot be changed by
the cache. Writes are atomic (a temporary file renamed into place), so two processes filling the cache
at once each write a whole entry and the last rename wins; a cache folder that cannot be written is
silently skipped.

Location: `$SIGNALWISE_CACHE_DIR`, else the user cache folder (`platformdirs`). `SIGNALWISE_NO_CACHE=1`
turns it off. `signalwise cache info|clear` shows and empties it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import signalwise.engine as _engine

from ..load.files import package_dir

CACHE_ENV = "SIGNALWISE_CACHE_DIR"
NO_CACHE_ENV = "SIGNALWISE_NO_CACHE"
FORMAT = "signalwise-policy-cache/1"
VERSION = "0.1.0"
_SUBDIR = "policies"
_CHECKED = "checked"
_DERIVED = "derived"


def enabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def cache_root() -> Path:
    """Where the cache lives (whether or not it exists yet)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("signalwise", appauthor=False))


@cache
def code_digest() -> str:
    """SHA-256 of the schemas, the engine's modules and the version: part of every key.

    The schemas count by content. An engine module counts by its name, size and modification time, the
    test CPython itself uses to decide that a module's cached bytecode is stale: reading and hashing
    every module's source on every cold start cost more than the cache saved on some commands."""
    h = hashlib.sha256(f"{FORMAT}\n{VERSION}\n".encode())
    schemas = package_dir("signalwise.schemas")
    for path in sorted(schemas.glob("*.json")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    here = Path(_engine.__file__).resolve().parent  # the whole engine package, whatever module this is
    for rel, size, mtime in sorted(_modules(str(here), "")):
        h.update(f"{rel}\0{size}\0{mtime}\0".encode())
    return h.hexdigest()


def _modules(folder: str, prefix: str) -> list[tuple[str, int, int]]:
    """(path relative to the engine, size, mtime in ns) of every module under `folder`."""
    out: list[tuple[str, int, int]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    out.extend(_modules(entry.path, f"{prefix}{entry.name}/"))
            elif entry.name.endswith(".py"):
                st = entry.stat()
                out.append((prefix + entry.name, st.st_size, st.st_mtime_ns))
    return out


def entry_key(text: str, kind: str = "policy") -> str:
    """The key of a document's entry: its exact text, what it was validated as (`kind`: the schema's
    name) and the code; the same text validated as another kind of document never shares an entry."""
    tag = b"" if kind == "policy" else kind.encode() + b"\0"
    return hashlib.sha256(code_digest().encode() + b"\0" + tag + text.encode("utf-8")).hexdigest()


def _entry_path(key: str) -> Path:
    return cache_root() / _SUBDIR / key[:2] / f"{key}.json"


def lookup(text: str, kind: str = "policy") -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]] | None:
    """The parsed, validated document and positions of policy text (or of another `kind` of bundled
    document, e.g. an interview model), or None (no usable entry)."""
    if not enabled():
        return None
    key = entry_key(text, kind)
    try:
        raw = _entry_path(key).read_bytes()
    except (OSError, ValueError):
        return None
    try:
        header, _, body = raw.partition(b"\n")
        fmt, stored_key, digest = header.decode("ascii").split(" ")
        if fmt != FORMAT or stored_key != key or hashlib.sha256(body).hexdigest() != digest:
            return None
        doc = json.loads(body)
        data, positions = doc["data"], doc["positions"]
        if not isinstance(data, dict) or not isinstance(positions, list):
            return None
        return data, {tuple(path): int(line) for path, line in positions}
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        return None


def store(text: str, data: dict[str, Any], positions: dict[tuple[str | int, ...], int],
          kind: str = "policy") -> None:
    """Remember a document that parsed and validated; a document JSON cannot hold exactly is not stored."""
    if not enabled():
        return
    try:
        body = json.dumps({"data": data, "positions": [[list(p), line] for p, line in positions.items()]},
                          ensure_ascii=False, sort_keys=False, allow_nan=False, separators=(",", ":"))
        if json.loads(body)["data"] != data:  # e.g. non-string keys: JSON would change the document
            return
    except (ValueError, TypeError, RecursionError):
        return
    key = entry_key(text, kind)
    encoded = body.encode("utf-8")
    payload = f"{FORMAT} {key} {hashlib.sha256(encoded).hexdigest()}\n".encode("ascii") + encoded
    _write_atomic(_entry_path(key), payload)


def _derived_path(kind: str, material: bytes) -> tuple[str, Path]:
    key = hashlib.sha256(code_digest().encode() + b"\0derived\0" + kind.encode() + b"\0" + material).hexdigest()
    return key, cache_root() / _DERIVED / kind / f"{key}.json"


def lookup_derived(kind: str, material: bytes) -> Any:
    """A value computed from exactly `material` (e.g. every policy file's bytes) by this very code, or None.
    Read like a policy entry: header key and body SHA-256 must match, else it is ignored."""
    if not enabled():
        return None
    key, path = _derived_path(kind, material)
    try:
        header, _, body = path.read_bytes().partition(b"\n")
        fmt, stored_key, digest = header.decode("ascii").split(" ")
        if fmt != FORMAT or stored_key != key or hashlib.sha256(body).hexdigest() != digest:
            return None
        return json.loads(body)
    except (OSError, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        return None


def store_derived(kind: str, material: bytes, value: Any) -> None:
    if not enabled():
        return
    try:
        body = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        return
    key, path = _derived_path(kind, material)
    _write_atomic(path, f"{FORMAT} {key} {hashlib.sha256(body).hexdigest()}\n".encode("ascii") + body)


def _checked_key(policies: list[tuple[str, str]]) -> str:
    content = "".join(f"{ref}\0{sha}\n" for ref, sha in policies)
    return hashlib.sha256(f"{code_digest()}\0checked\0{content}".encode()).hexdigest()


def was_checked(policies: list[tuple[str, str]]) -> bool:
    """Did a run with this very code already pass the semantic checks of exactly this policy set (each
    policy's id@version and file SHA-256, in order)? A marker of any other content is ignored."""
    if not enabled():
        return False
    key = _checked_key(policies)
    try:
        return (cache_root() / _CHECKED / f"{key}.ok").read_text(encoding="ascii") == f"{FORMAT} checked {key}\n"
    except (OSError, ValueError):
        return False


def mark_checked(policies: list[tuple[str, str]]) -> None:
    if enabled():
        key = _checked_key(policies)
        _write_atomic(cache_root() / _CHECKED / f"{key}.ok", f"{FORMAT} checked {key}\n".encode("ascii"))


def _write_atomic(path: Path, payload: bytes) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass  # a read-only or full cache folder: run without caching
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def info() -> dict[str, Any]:
    """What `signalwise cache info` shows."""
    root = cache_root()
    entries = sorted(p for p in (root / _SUBDIR).glob("*/*.json") if not p.name.startswith(".")) \
        if (root / _SUBDIR).is_dir() else []
    size = 0
    for p in entries:
        try:
            size += p.stat().st_size
        except OSError:
            continue
    return {"folder": str(root), "enabled": enabled(), "entries": len(entries), "bytes": size,
            "key": code_digest()[:16]}


def clear() -> int:
    """Remove every entry (and leftover temporary files); the number of files removed."""
    removed = 0
    for folder, pattern in ((cache_root() / _SUBDIR, "*/*"), (cache_root() / _CHECKED, "*"),
                            (cache_root() / _DERIVED, "*/*")):
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob(pattern)):
            if p.is_file() and p.suffix in (".json", ".ok"):
                p.unlink(missing_ok=True)
                removed += 1
        for d in sorted(folder.iterdir()):
            if d.is_dir():
                with contextlib.suppress(OSError):
                    d.rmdir()
    return removed
