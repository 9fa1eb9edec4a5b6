"""Rules engine: load, validate, compile, chain, allocate, explain, render."""

# Cold start (issue 15). The standard library builds each dataclass's methods (__init__, __repr__, __eq__,
# __hash__, and __setattr__/__delattr__ when frozen) from source text at import, compiling every one:
# signalwise defines some sixty dataclasses, and those compilations were about a tenth of a cold
# `evaluate`. The compiled code is kept beside the policy cache (`_CODE_DIR` in its folder), keyed by the
# exact source text: a text seen before runs the code object compiled from that same text in an earlier
# run (the same thing Python's own bytecode cache does for modules), any other text is compiled as usual.
# Only signalwise's own dataclasses use it. The file is read only when it is this interpreter's format,
# owned by this user, writable by no one else, and its body's SHA-256 matches its header; anything else
# is ignored (and replaced at exit). `SIGNALWISE_NO_CACHE=1` turns it off; `signalwise cache clear`
# removes it.

import dataclasses as _dataclasses


def _install_method_cache() -> None:
    import atexit
    import builtins
    import contextlib
    import os
    import sys
    from types import CodeType
    from typing import Any

    if os.environ.get("SIGNALWISE_NO_CACHE", "").strip().lower() in ("1", "true", "yes", "on"):
        return
    codes: dict[str, CodeType] = {}
    new: dict[str, CodeType] = {}
    used: set[str] = set()
    loaded = False

    def path() -> str:
        from .policy_cache import cache_root

        return os.path.join(cache_root(), _CODE_DIR, f"dataclasses-{sys.implementation.cache_tag}.marshal")

    def header(body: bytes) -> bytes:
        import hashlib
        from importlib.util import MAGIC_NUMBER

        return (_FORMAT + MAGIC_NUMBER + sys.version.encode() + b"\0" + hashlib.sha256(body).digest())

    def load() -> None:
        import marshal

        nonlocal loaded
        loaded = True
        try:
            with open(path(), "rb") as fh:
                st = os.fstat(fh.fileno())
                if (hasattr(os, "getuid") and st.st_uid != os.getuid()) or st.st_mode & 0o022:
                    return
                data = fh.read()
        except OSError:
            return
        size = len(header(b""))
        if data[:size] != header(data[size:]):  # before unmarshalling: damaged bytes can crash marshal
            return
        try:
            found = marshal.loads(data[size:])
        except Exception:  # noqa: BLE001 - whatever it is, the file is not used
            return
        if not isinstance(found, dict):
            return
        codes.update((k, v) for k, v in found.items() if type(k) is str and type(v) is CodeType)

    def cached_exec(source: Any, globals: Any = None, locals: Any = None) -> None:  # noqa: A002
        if type(source) is str and type(globals) is dict and str(globals.get("__name__", "")).startswith(
                "signalwise."):
            if not loaded:
                load()
            code = codes.get(source)
            if code is None:
                code = new[source] = compile(source, "<string>", "exec")
            else:
                used.add(source)
            source = code
        builtins.exec(source, globals, locals)

    def save() -> None:
        import marshal
        import tempfile

        if not new:
            return
        # Texts of earlier versions of the code pile up as it changes: past a bound, keep only this run's.
        kept = codes if len(codes) + len(new) <= _MAX_KEPT else {t: codes[t] for t in used}
        body = marshal.dumps({**kept, **new})
        target = path()
        tmp = None
        try:
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".tmp-")  # mode 0600
            with os.fdopen(fd, "wb") as fh:
                fh.write(header(body) + body)
            os.replace(tmp, target)  # atomic: another process reads the old file or this one
            tmp = None
        except OSError:
            pass  # a read-only cache folder: compile again next time
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    _dataclasses.exec = cached_exec  # type: ignore[attr-defined]  # the module's `exec`, not the builtin
    atexit.register(save)


_FORMAT = b"signalwise-dataclass-code/1\0"
_CODE_DIR = "code"
_MAX_KEPT = 2000  # compiled methods kept at most (signalwise's classes need some three hundred)
_install_method_cache()
