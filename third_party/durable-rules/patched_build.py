"""PEP 517 build backend: durable-rules 2.0.28 from PyPI, patched, built by setuptools.

1. Get the released sdist: $SIGNALWISE_DURABLE_RULES_SDIST (a local copy, for offline or mirrored
   installs), else the copy cached in build/ by an earlier build, else PyPI's file host.
2. Check its SHA-256 against the pin below; any other file is refused.
3. Unpack it into a temporary directory and apply patches/*.patch in name order. A hunk that does not
   match the pinned source exactly stops the build.
4. Build the wheel from the patched tree with setuptools (upstream's own setup.py).

Only `build_wheel` is defined: pip derives the metadata from the wheel, so each install builds once.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from setuptools import build_meta

HERE = Path(__file__).resolve().parent
SDIST = "durable_rules-2.0.28.tar.gz"
SHA256 = "053b26f5e48d312d4fa27995243f954671be6eece477f150c059c364eb4d7d61"
URL = ("https://files.pythonhosted.org/packages/91/f2/3194b4eaf7260bae0a4f046dfdda5db2ed9d58b3d7a051e375b3c14d8f26/"
       + SDIST)
LOCAL_COPY_ENV = "SIGNALWISE_DURABLE_RULES_SDIST"
CACHE = HERE / "build" / SDIST


def build_wheel(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                metadata_directory: str | None = None) -> str:
    wheel_directory = os.path.abspath(wheel_directory)
    with tempfile.TemporaryDirectory(prefix="durable-rules-") as tmp:
        tree = patched_tree(Path(tmp))
        cwd = os.getcwd()
        os.chdir(tree)
        try:
            return str(build_meta.build_wheel(wheel_directory, config_settings))
        finally:
            os.chdir(cwd)


def patched_tree(workdir: Path) -> Path:
    """The sdist unpacked under `workdir` with every patch applied; returns the source root."""
    archive = workdir / SDIST
    archive.write_bytes(sdist_bytes())
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: refuse links and paths outside workdir
            tar.extractall(workdir, filter="data")
        else:  # pragma: no cover - the archive is pinned by its hash
            tar.extractall(workdir)
    root = workdir / SDIST.removesuffix(".tar.gz")
    for patch in sorted((HERE / "patches").glob("*.patch")):
        try:
            apply_patch(patch.read_text(encoding="utf-8"), root)
        except PatchError as exc:
            raise PatchError(f"{patch.name}: {exc}") from None
    return root


def sdist_bytes() -> bytes:
    local = os.environ.get(LOCAL_COPY_ENV)
    if local:
        return _verified(Path(local).read_bytes(), local)
    if CACHE.is_file():
        data = CACHE.read_bytes()
        if hashlib.sha256(data).hexdigest() == SHA256:
            return data
    data = _verified(_download(URL), URL)
    try:  # cache for the next build (a second Python, a reinstall); best effort
        CACHE.parent.mkdir(exist_ok=True)
        partial = CACHE.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(CACHE)
    except OSError:
        pass
    return data


def _download(url: str) -> bytes:
    error: Exception | None = None
    for attempt in range(3):
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return bytes(response.read())
        except OSError as exc:
            error = exc
            time.sleep(2 * attempt + 1)
    raise RuntimeError(f"could not download {url}: {error}. Download that file by other means and set "
                       f"{LOCAL_COPY_ENV} to its path (its SHA-256 must be {SHA256}).")


def _verified(data: bytes, source: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{source}: SHA-256 {digest}, expected {SHA256} ({SDIST} as released on PyPI)")
    return data


class PatchError(Exception):
    pass


_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply_patch(text: str, root: Path) -> None:
    """Apply a unified diff (`diff -u` / `git diff`, paths prefixed a/ and b/) strictly.

    Text before the first `--- ` line is a description. Every context and removed line must match the
    file at the hunk's stated position (trailing whitespace aside); there is no fuzz and no offset search.
    """
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        name = lines[i + 1][4:].split("\t")[0].strip()
        path = (root / name.split("/", 1)[1]).resolve()
        if root.resolve() not in path.parents:
            raise PatchError(f"{name}: outside the source tree")
        content = path.read_text(encoding="utf-8").splitlines(keepends=True)
        i += 2
        shift = 0
        while i < len(lines) and (m := _HUNK.match(lines[i])):
            old_start, old_len = int(m[1]), int(m[2] or 1)
            new_len = int(m[4] or 1)
            i += 1
            old: list[str] = []
            new: list[str] = []
            while len(old) < old_len or len(new) < new_len:
                if i >= len(lines):
                    raise PatchError(f"{name}: hunk at line {old_start} is cut short")
                line = lines[i]
                tag, body = (line[0], line[1:]) if line else (" ", "")
                if tag in " -":
                    old.append(body)
                if tag in " +":
                    new.append(body)
                if tag not in " -+\\":
                    raise PatchError(f"{name}: unexpected line in hunk at line {old_start}: {line!r}")
                i += 1
            start = (old_start if old_len == 0 else old_start - 1) + shift  # -N,0 inserts after line N
            found = [x.rstrip() for x in content[start:start + len(old)]]
            if found != [x.rstrip() for x in old]:
                raise PatchError(f"{name}: hunk at line {old_start} does not match the source")
            content[start:start + len(old)] = [x + "\n" for x in new]
            shift += len(new) - len(old)
        path.write_text("".join(content), encoding="utf-8")
