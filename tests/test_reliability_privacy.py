"""Privacy: a profile is personal data. No network access at any point, nothing written besides the
requested output, and no profile content in logs or error messages beyond the field in question."""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLE_NAMES, EXAMPLES, run_cli
from .reliability_support import PROFILE, PROGRAMS, set_cell, write_inputs

# --- an audit hook that records network and file-system writes while a test is watching -----------

_WATCH: list[list[tuple[str, tuple[Any, ...]]]] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_NETWORK_EVENTS = ("socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "webbrowser.")
_WRITE_EVENTS = ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.truncate",
                 "os.chmod", "os.utime", "shutil.", "sqlite3.connect", "subprocess.Popen", "os.system")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _WATCH:
        return
    if event.startswith(_NETWORK_EVENTS) or event.startswith(_WRITE_EVENTS):
        _WATCH[-1].append((event, args))
    elif event == "open" and len(args) >= 3:
        mode, flags = args[1], args[2]
        if any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS):
            _WATCH[-1].append((event, args))


sys.addaudithook(_hook)  # audit hooks cannot be removed; this one does nothing unless a test watches


Events = list[tuple[str, tuple[Any, ...]]]


@contextmanager
def watching() -> Iterator[Events]:
    """Record network use and file-system writes (by path) made inside the block."""
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # importing a module is not the tool writing data
    events: Events = []
    _WATCH.append(events)
    try:
        yield events
    finally:
        _WATCH.remove(events)
        sys.dont_write_bytecode = saved


def _written_paths(events: Events) -> set[Path]:
    return {Path(os.fsdecode(e[1][0])) for e in events if e[0] == "open" and isinstance(e[1][0], str | bytes)}


# --- no network ---------------------------------------------------------------------------------


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"network access attempted: {args!r}")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname", "socketpair",
                 "create_server", "fromfd"):
        monkeypatch.setattr(socket, name, _no_network)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_full_evaluation_never_touches_the_network(name: str, offline: None, tmp_path: Path) -> None:
    with watching() as events:
        for fmt in ("text", "md", "json"):
            result = run_cli("evaluate", "--profile", str(EXAMPLES / name / "profile.yaml"),
                             "--programs", str(EXAMPLES / name / "programs.csv"), "--format", fmt,
                             "-o", str(tmp_path / f"plan.{fmt}"))
            assert result.exit_code == 0, result.output
    assert [e for e in events if e[0].startswith(_NETWORK_EVENTS)] == []


def test_errors_never_touch_the_network(offline: None, tmp_path: Path) -> None:
    args = write_inputs(tmp_path, profile=PROFILE.replace("step2_ck: 242", "step2_ck: 400", 1))
    with watching() as events:
        assert run_cli(*args).exit_code == 2
        assert run_cli(*args[:2], str(tmp_path / "missing.yaml"), *args[3:]).exit_code == 2
    assert [e for e in events if e[0].startswith(_NETWORK_EVENTS)] == []


# --- nothing written besides the requested output -----------------------------------------------


def _listing(*folders: Path) -> dict[str, list[str]]:
    return {str(f): sorted(str(p.relative_to(f)) for p in f.rglob("*")) for f in folders if f.exists()}


def test_nothing_is_written_besides_the_requested_output(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, cwd, tmp, home, out_dir = (tmp_path / n for n in ("inputs", "cwd", "tmp", "home", "out"))
    for folder in (inputs, cwd, tmp, home, out_dir):
        folder.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("HOME", str(home))
    args = write_inputs(inputs)
    before = _listing(inputs, cwd, tmp, home, out_dir)
    output = out_dir / "plan.md"
    with watching() as events:
        result = run_cli(*args, "--format", "md", "-o", str(output))
    assert result.exit_code == 0, result.output
    after = _listing(inputs, cwd, tmp, home, out_dir)
    assert after.pop(str(out_dir)) == ["plan.md"]
    assert before.pop(str(out_dir)) == []
    assert after == before
    assert {p.parent for p in _written_paths(events)} == {out_dir}, events  # the temp file beside -o
    renames = [e for e in events if e[0] == "os.rename"]
    assert len(renames) == 1 and Path(os.fsdecode(renames[0][1][1])) == output
    assert not [e for e in events if e[0] not in ("open", "os.rename", "os.chmod")], events


def test_a_failed_run_writes_nothing(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: 400", 1)
    args = write_inputs(tmp_path, profile=bad)
    with watching() as events:
        assert run_cli(*args, "-o", str(tmp_path / "plan.md")).exit_code == 2
    assert events == []
    assert not (tmp_path / "plan.md").exists()


def test_stdout_is_the_only_channel_without_an_output_file(tmp_path: Path) -> None:
    args = write_inputs(tmp_path)
    with watching() as events:
        result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert events == []


# --- errors show the field in question, not the profile -----------------------------------------

SECRET = "confidential-family-situation"


def _secret_profile() -> str:
    """The example profile carrying a sensitive-looking value in an unrelated field."""
    return PROFILE.replace("interests: [research, teaching]", f"interests: [research, {SECRET}]", 1)


def _assert_private(output: str, *shown: str) -> None:
    assert SECRET not in output, output
    for other in ("Caribbean", "242", "midwest", "Quillmere", "Vellamy"):
        assert other not in output, (other, output)
    for fragment in shown:
        assert fragment in output, (fragment, output)


def test_bad_red_flag_shows_that_item_only(tmp_path: Path) -> None:
    bad = _secret_profile().replace("red_flags: []", "red_flags: [exam-failure, arrested-once]", 1)
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert result.exit_code == 2
    _assert_private(result.output, "applicant.red_flags[1]", '"arrested-once"')
    assert "exam-failure, leave-of-absence" in result.output  # what was expected is listed
    assert "[exam-failure, arrested-once]" not in result.output


def test_unknown_field_shows_its_name_not_its_value(tmp_path: Path) -> None:
    bad = _secret_profile().replace("geography:", "diagnosis: major depressive disorder\ngeography:", 1)
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert result.exit_code == 2
    _assert_private(result.output, "unknown field 'diagnosis'")
    assert "depressive" not in result.output


def test_yaml_syntax_error_does_not_quote_the_line(tmp_path: Path) -> None:
    bad = _secret_profile().replace("red_flags: []", f'red_flags: ["{SECRET} unclosed', 1)
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert result.exit_code == 2
    _assert_private(result.output, "profile.yaml:", "not valid YAML")
    assert "^" not in result.output  # no source excerpt with a caret under it


def test_wrong_type_in_a_mapping_does_not_dump_the_mapping(tmp_path: Path) -> None:
    bad = _secret_profile().replace("step2_ck: 242", f"step2_ck: {{score: 242, note: {SECRET}}}", 1)
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert result.exit_code == 2
    _assert_private(result.output, "applicant.exams.step2_ck: got a mapping; expected a whole number")


def test_long_values_are_shortened_in_messages(tmp_path: Path) -> None:
    long_value = "=" + "A" * 5000
    result = run_cli(*write_inputs(tmp_path, programs=set_cell(PROGRAMS, 3, "name", long_value)))
    assert result.exit_code == 2
    assert "A" * 100 not in result.output
    assert len(result.output) < 600, result.output


def test_bad_csv_cell_shows_that_cell_not_the_row(tmp_path: Path) -> None:
    result = run_cli(*write_inputs(tmp_path, profile=_secret_profile(),
                                   programs=set_cell(PROGRAMS, 2, "img_share", "lots")))
    assert result.exit_code == 2
    _assert_private(result.output, "programs.csv:3: img_share: got 'lots'")


def test_nothing_about_the_profile_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    args = write_inputs(tmp_path, profile=_secret_profile())
    assert run_cli(*args, "-o", str(tmp_path / "plan.md")).exit_code == 0
    bad = _secret_profile().replace("step2_ck: 242", "step2_ck: 400", 1)
    assert run_cli(*write_inputs(tmp_path, profile=bad)).exit_code == 2
    for record in caplog.records:
        assert SECRET not in record.getMessage()
