"""The cache of parsed, validated policy files (engine/policy/cache.py, issue 15): never trusted, never stale,
never a different report."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from signalwise.engine.policy import cache as policy_cache
from signalwise.engine.policy.catalogue import bundled_root
from signalwise.engine.policy.loader import load_policy_file

from .conftest import ROOT, example_args

GUIDANCE = sorted((bundled_root() / "guidance").glob("*.yaml"))[0]


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(folder))
    monkeypatch.delenv(policy_cache.NO_CACHE_ENV, raising=False)
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "policies").glob("*/*.json") if not p.name.startswith("."))


def _cli(cache: Path | None, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    if cache is None:
        env[policy_cache.NO_CACHE_ENV] = "1"
    else:
        env[policy_cache.CACHE_ENV] = str(cache)
        env.pop(policy_cache.NO_CACHE_ENV, None)
    return subprocess.run([sys.executable, "-c", "from signalwise.cli.main import main; main()", *args],
                          env=env, cwd=cwd, capture_output=True, check=False)


def test_the_test_suite_never_uses_the_user_cache() -> None:
    import platformdirs

    root = policy_cache.cache_root()
    assert root.name.startswith("signalwise-test-cache-")  # tests/conftest.py's private folder
    assert root != Path(platformdirs.user_cache_dir("signalwise", appauthor=False))


def test_a_cached_policy_equals_a_fresh_one(cache_dir: Path) -> None:
    fresh = load_policy_file(GUIDANCE, "g")
    assert len(_entries(cache_dir)) == 1
    cached = load_policy_file(GUIDANCE, "g")
    assert cached == fresh
    assert cached.sha256 == fresh.sha256


def test_a_changed_file_is_never_served_from_an_old_entry(cache_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p.yaml"
    shutil.copy(GUIDANCE, copy)
    first = load_policy_file(copy)
    text = copy.read_text(encoding="utf-8")
    copy.write_text(text.replace(f"title: {first.raw['title']}", "title: A changed title", 1), encoding="utf-8")
    changed = load_policy_file(copy)
    assert changed.title == "A changed title" and changed.sha256 != first.sha256
    assert len(_entries(cache_dir)) == 2


def test_a_stale_entry_of_other_code_is_ignored(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_policy_file(GUIDANCE)
    monkeypatch.setattr(policy_cache, "code_digest", lambda: "another-signalwise-version")
    assert policy_cache.lookup(GUIDANCE.read_text(encoding="utf-8")) is None  # other key: not found
    load_policy_file(GUIDANCE)
    assert len(_entries(cache_dir)) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "wrong-key", "valid-json-wrong-doc"])
def test_a_corrupt_entry_is_ignored_and_rebuilt(cache_dir: Path, damage: str) -> None:
    fresh = load_policy_file(GUIDANCE)
    entry, = _entries(cache_dir)
    raw = entry.read_bytes()
    header, _, body = raw.partition(b"\n")
    if damage == "truncate":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        entry.write_bytes(raw[:-10] + bytes([raw[-10] ^ 0x01]) + raw[-9:])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(4096))
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "wrong-key":
        fmt, _, digest = header.decode().split(" ")
        entry.write_bytes(f"{fmt} {'0' * 64} {digest}\n".encode() + body)
    else:  # a well-formed entry whose document was tampered with, digest recomputed: JSON of another shape
        import hashlib

        doc = b'{"data": [], "positions": {}}'
        fmt, key, _ = header.decode().split(" ")
        entry.write_bytes(f"{fmt} {key} {hashlib.sha256(doc).hexdigest()}\n".encode() + doc)
    assert load_policy_file(GUIDANCE) == fresh
    if damage != "valid-json-wrong-doc":
        assert policy_cache.lookup(GUIDANCE.read_text(encoding="utf-8")) is not None  # rebuilt


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_folder_is_skipped(cache_dir: Path) -> None:
    cache_dir.mkdir()
    cache_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert load_policy_file(GUIDANCE) == load_policy_file(GUIDANCE)
        assert _entries(cache_dir) == []
    finally:
        cache_dir.chmod(stat.S_IRWXU)


def test_an_unwritable_cache_location_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(blocker / "cache"))  # cannot be created, even by root
    monkeypatch.delenv(policy_cache.NO_CACHE_ENV, raising=False)
    assert load_policy_file(GUIDANCE) == load_policy_file(GUIDANCE)


def test_no_cache_disables_reads_and_writes(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(policy_cache.NO_CACHE_ENV, "1")
    load_policy_file(GUIDANCE)
    assert not cache_dir.exists()


def test_reports_are_byte_identical_with_and_without_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ["evaluate", *example_args("gold-silver-im"), "--format", "json"]
    without = _cli(None, *args)
    filling = _cli(cache, *args)
    warm = _cli(cache, *args)
    assert without.returncode == filling.returncode == warm.returncode == 0, without.stderr
    assert without.stdout == filling.stdout == warm.stdout
    assert len(_entries(cache)) >= 2 and list((cache / "checked").glob("*.ok"))


def test_two_processes_filling_the_cache_at_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ["evaluate", *example_args("strong-im"), "--format", "json"]
    env = dict(os.environ, **{policy_cache.CACHE_ENV: str(cache)})
    env.pop(policy_cache.NO_CACHE_ENV, None)
    cmd = [sys.executable, "-c", "from signalwise.cli.main import main; main()", *args]
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(4)]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs[0][1]
    assert len({o for o, _ in outs}) == 1
    assert not [p for p in (cache / "policies").rglob(".tmp-*")]  # no half-written leftovers
    assert _cli(cache, *args).stdout == outs[0][0]


def test_a_policy_folder_is_cached_by_content_and_still_runs_supervised(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A --policies copy of the bundled policies with one changed file is cached like any other, and the
    changed file's hash (not the cache) still decides that its rules run in the supervised engine process."""
    from signalwise.engine.chain.runtime import _untrusted  # type: ignore[attr-defined]
    from signalwise.engine.policy.catalogue import Catalogue

    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root)
    guidance = sorted((root / "guidance").glob("*.yaml"))[0]
    guidance.write_text(guidance.read_text(encoding="utf-8") + "\n# a local edit\n", encoding="utf-8")
    cache = tmp_path / "cache"
    args = ["evaluate", *example_args("strong-im"), "--policies", str(root), "--format", "json"]
    assert _cli(cache, *args).returncode == 0
    assert _cli(cache, *args).stdout == _cli(None, *args).stdout
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(cache))
    ps = Catalogue(root).policy_set("eras-2026", "internal-medicine", allow_missing_specialty=False,
                                    where=("x", None))
    assert policy_cache.lookup(guidance.read_text(encoding="utf-8")) is not None  # served from the cache
    assert _untrusted(ps)


def test_cache_info_and_clear(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _cli(cache, "evaluate", *example_args("strong-im"), "--format", "json").returncode == 0
    info = _cli(cache, "cache", "info", "--format", "json")
    assert info.returncode == 0
    import json

    data = json.loads(info.stdout)
    assert data["folder"] == str(cache) and data["entries"] >= 2 and data["enabled"]
    cleared = _cli(cache, "cache", "clear")
    assert cleared.returncode == 0 and b"removed" in cleared.stdout
    assert json.loads(_cli(cache, "cache", "info", "--format", "json").stdout)["entries"] == 0


def test_a_read_only_cache_folder_as_root_is_skipped(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores folder permissions, so the read-only folder's refusal is simulated where it happens."""
    import tempfile

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied", str(cache_dir))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert load_policy_file(GUIDANCE) == load_policy_file(GUIDANCE)
    assert _entries(cache_dir) == []


def test_the_bundled_set_is_trusted_without_hashing_every_bundled_file(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """Issue 15: `_untrusted` first hashes only the bundled file of each policy's own name; the full
    set of bundled hashes is computed only when that says no (a renamed but identical file is trusted)."""
    from signalwise.engine.chain.runtime import _untrusted  # type: ignore[attr-defined]
    from signalwise.engine.policy import catalogue
    from signalwise.engine.policy.catalogue import Catalogue

    calls = {"n": 0}
    original = catalogue.bundled_hashes

    def counted() -> frozenset[str]:
        calls["n"] += 1
        return original()

    monkeypatch.setattr(catalogue, "bundled_hashes", counted)
    args = ("eras-2026", "internal-medicine")
    kw = {"allow_missing_specialty": False, "where": ("x", None)}
    assert not _untrusted(Catalogue(bundled_root()).policy_set(*args, **kw))  # type: ignore[arg-type]
    assert calls["n"] == 0
    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root)
    first = sorted((root / "guidance").glob("*.yaml"))[0]
    first.rename(first.with_name("zz-" + first.name))  # same bytes, another name
    assert not _untrusted(Catalogue(root).policy_set(*args, **kw))  # type: ignore[arg-type]
    assert calls["n"] >= 1
