"""Nothing lost: reports are written atomically (temporary file + rename), a failed run never touches an
existing report, an input is never written, and `-o` pointing at an input is refused."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
from pathlib import Path

import pytest
from signalwise.engine.errors import InputError
from signalwise.engine.load import files
from signalwise.engine.load.files import write_atomic

from .conftest import run_cli
from .reliability_support import PROFILE, assert_input_error, write_inputs

OLD = "previous plan: keep me\n"


def _snapshot(folder: Path) -> dict[str, tuple[str, float]]:
    """Every file under folder: sha256 and modification time."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".plan"))


@pytest.fixture
def old_output(tmp_path: Path) -> Path:
    out = tmp_path / "plan.json"
    out.write_text(OLD, encoding="utf-8")
    return out


def test_report_is_written_and_no_temporary_file_remains(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = run_cli(*write_inputs(tmp_path), "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("{")
    assert _leftovers(tmp_path) == []


def test_failure_while_rendering_leaves_the_old_report_intact(tmp_path: Path, old_output: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from signalwise.engine import render

    def broken(report: object) -> str:
        raise RuntimeError("renderer failed half-way")

    monkeypatch.setitem(render.RENDERERS, "json", broken)
    monkeypatch.delenv("SIGNALWISE_DEBUG", raising=False)
    result = run_cli(*write_inputs(tmp_path), "--format", "json", "-o", str(old_output))
    assert result.exit_code == 1 and "internal error" in result.output and "Traceback" not in result.output
    assert old_output.read_text(encoding="utf-8") == OLD
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_failure_while_writing_leaves_the_old_report_intact(tmp_path: Path, old_output: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            where: str) -> None:
    """A full disk (ENOSPC) at any step: exit 2 naming -o, the old report untouched, the temp file gone."""
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if where == "write":
        real_fdopen = os.fdopen

        class Failing:
            def __init__(self, fd: int, *a: object, **k: object) -> None:
                self._fh = real_fdopen(fd, "w", encoding="utf-8")

            def __enter__(self) -> Failing:
                return self

            def __exit__(self, *exc: object) -> None:
                self._fh.close()

            def write(self, text: str) -> int:
                self._fh.write(text[: len(text) // 2])  # half the report reaches the temp file
                no_space()
                return 0

        monkeypatch.setattr(files.os, "fdopen", Failing)
    elif where == "fsync":
        monkeypatch.setattr(files.os, "fsync", no_space)
    else:
        monkeypatch.setattr(files.os, "replace", no_space)
    result = run_cli(*write_inputs(tmp_path), "--format", "json", "-o", str(old_output))
    assert_input_error(result, "plan.json: -o: cannot write the output: No space left on device")
    assert old_output.read_text(encoding="utf-8") == OLD
    assert _leftovers(tmp_path) == []


def test_interrupt_while_writing_removes_the_temporary_file(tmp_path: Path, old_output: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(old_output, "new plan\n")
    assert old_output.read_text(encoding="utf-8") == OLD
    assert _leftovers(tmp_path) == []


def test_invalid_input_leaves_the_old_report_intact(tmp_path: Path, old_output: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: 400", 1)
    assert run_cli(*write_inputs(tmp_path, profile=bad), "-o", str(old_output)).exit_code == 2
    assert old_output.read_text(encoding="utf-8") == OLD


@pytest.mark.parametrize("target", ["profile.yaml", "programs.csv", "./sub/../programs.csv"])
def test_output_pointing_at_an_input_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "sub").mkdir()
    args = write_inputs(tmp_path)
    before = _snapshot(tmp_path)
    result = run_cli(*args, "-o", str(tmp_path / target))
    assert_input_error(result, "-o: output would overwrite an input file", "choose another output path")
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_output_reaching_an_input_through_a_link_is_refused(tmp_path: Path, kind: str) -> None:
    args = write_inputs(tmp_path)
    link = tmp_path / "plan.txt"
    if kind == "symlink":
        link.symlink_to(tmp_path / "programs.csv")
    else:
        os.link(tmp_path / "programs.csv", link)
    before = _snapshot(tmp_path)
    assert_input_error(run_cli(*args, "-o", str(link)), "output would overwrite an input file")
    assert _snapshot(tmp_path) == before


def test_inputs_are_never_modified(tmp_path: Path) -> None:
    args = write_inputs(tmp_path)
    inputs = {p: p.read_bytes() for p in (tmp_path / "profile.yaml", tmp_path / "programs.csv")}
    modes = {p: p.stat().st_mode for p in inputs}
    before = _snapshot(tmp_path)
    for fmt in ("text", "md", "json"):
        assert run_cli(*args, "--format", fmt).exit_code == 0
    assert run_cli(*args, "-o", str(tmp_path / "out" / "nope.md")).exit_code == 2
    assert _snapshot(tmp_path) == before
    assert {p: p.read_bytes() for p in inputs} == inputs
    assert {p: p.stat().st_mode for p in inputs} == modes


def test_output_directory_must_exist(tmp_path: Path) -> None:
    assert_input_error(run_cli(*write_inputs(tmp_path), "-o", str(tmp_path / "missing" / "plan.md")),
                       "-o: output directory does not exist")


def test_output_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plan.md").mkdir()
    result = run_cli(*write_inputs(tmp_path), "-o", str(tmp_path / "plan.md"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "directory" in result.output


def test_unwritable_folder_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    assert_input_error(run_cli(*write_inputs(tmp_path), "-o", str(tmp_path / "plan.md")),
                       "-o: cannot write the output: Permission denied")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_new_report_is_private_and_an_existing_one_keeps_its_mode(tmp_path: Path, old_output: Path) -> None:
    args = write_inputs(tmp_path)
    new = tmp_path / "new.md"
    assert run_cli(*args, "--format", "md", "-o", str(new)).exit_code == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    old_output.chmod(0o644)
    assert run_cli(*args, "--format", "json", "-o", str(old_output)).exit_code == 0
    assert stat.S_IMODE(old_output.stat().st_mode) == 0o644


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_output_to_a_device_is_written_through(tmp_path: Path) -> None:
    result = run_cli(*write_inputs(tmp_path), "-o", "/dev/null")
    assert result.exit_code == 0, result.output
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_write_atomic_refuses_an_input_given_directly(tmp_path: Path) -> None:
    src = tmp_path / "profile.yaml"
    src.write_text(PROFILE, encoding="utf-8")
    with pytest.raises(InputError, match="output would overwrite an input file"):
        write_atomic(src, "x", inputs=(src,))
    assert src.read_text(encoding="utf-8") == PROFILE
