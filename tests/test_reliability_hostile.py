"""Hostile input: alias bombs, deep nesting, oversized files, devices and pipes are refused quickly
(under 2 s here) with bounded memory (under 100 MB more than a plain run), with exit code 2.

Limits (docs/reliability.md): 5 MB per input file (engine/load/files.py), 100,000 YAML nodes and 100,000
values after alias expansion, 64 nesting levels, 10,000 characters per YAML value (engine/load/yamlsafe.py),
2,000 programs and 50 listed problems per file (engine/load/inputs.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from signalwise.engine.errors import InputError
from signalwise.engine.load.files import MAX_INPUT_BYTES, read_text
from signalwise.engine.load.yamlsafe import MAX_DEPTH, MAX_NODES

from .conftest import run_cli
from .reliability_support import PROFILE, PROGRAMS, assert_input_error, cli_peak_rss_mb, measure, write_inputs

SECONDS = 2.0
EXTRA_MB = 100.0
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="devices, FIFOs and wait4 are POSIX")


def _billion_laughs() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    names = "abcdefghij"
    for prev, name in zip(names, names[1:], strict=False):
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text  # 9**10 = 3.5 billion strings if expanded


HOSTILE_YAML = {
    "billion-laughs": (_billion_laughs(), f"document expands to more than {MAX_NODES:,} values"),
    "alias-used-as-key": ("x: &x [lol, lol]\n? *x\n: 1\n", "mapping keys must be plain text"),
    "self-referencing-alias": (PROFILE + "extra: &x [*x]\n", f"nested deeper than {MAX_DEPTH} levels"),
    "10000-open-brackets": ("[" * 10_000 + "]" * 10_000 + "\n", f"nested deeper than {MAX_DEPTH} levels"),
    "10000-open-braces": ("{a: " * 10_000 + "}" * 10_000 + "\n", f"nested deeper than {MAX_DEPTH} levels"),
    "10000-unclosed-brackets": ("[" * 10_000, f"nested deeper than {MAX_DEPTH} levels"),
    "100000-nested-block-lists": ("- " * 100_000 + "x\n", f"nested deeper than {MAX_DEPTH} levels"),
    "1500-indented-mappings": ("".join("  " * i + "a:\n" for i in range(1_500)) + "  " * 1_500 + "1\n",
                               f"nested deeper than {MAX_DEPTH} levels"),
    "flat-list-of-2-million": ("[" + ",".join(["1"] * 2_000_000) + "]\n",
                               f"document has more than {MAX_NODES:,} values"),
    "one-value-of-4-MB": ("specialty: " + "x" * 4_000_000 + "\n", "value is 4,000,000 characters long"),
}


# The costliest cases get their memory checked on the whole process instead (RSS of a child process,
# below), because tracemalloc slows them several-fold.
RSS_CASES = ("billion-laughs", "flat-list-of-2-million", "10000-open-brackets")


def _expect_refused(args: list[str], *fragments: str, memory: bool = True) -> None:
    result, cost = measure(lambda: run_cli(*args), memory=memory)
    assert_input_error(result, *fragments)
    assert cost.seconds < SECONDS, cost
    assert cost.peak_mb < EXTRA_MB, cost


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_hostile_yaml_profile_is_refused_quickly_in_bounded_memory(tmp_path: Path, case: str) -> None:
    text, fragment = HOSTILE_YAML[case]
    _expect_refused(write_inputs(tmp_path, profile=text), "profile.yaml", fragment,
                    memory=case not in RSS_CASES)


def test_hostile_yaml_shortlist_is_refused_too(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, programs=_billion_laughs(), programs_name="programs.yaml")
    _expect_refused(args, "programs.yaml", "document expands to more than", memory=False)


def test_oversized_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "programs.csv"
    with open(big, "wb") as fh:  # a valid-looking CSV just over the limit
        fh.write(PROGRAMS.encode())
        row = (PROGRAMS.splitlines()[1] + "\n").encode()
        while fh.tell() <= MAX_INPUT_BYTES:
            fh.write(row * 1000)
    args = ["evaluate", "--profile", str(write_profile(tmp_path)), "--programs", str(big)]
    _expect_refused(args, "programs.csv: file is", "the limit is 5,242,880 bytes")


def test_sparse_file_claiming_a_terabyte_is_refused(tmp_path: Path) -> None:
    sparse = tmp_path / "profile.yaml"
    with open(sparse, "wb") as fh:
        fh.truncate(1 << 40)
    _expect_refused(["evaluate", "--profile", str(sparse), "--programs", str(tmp_path / "none.csv")],
                    "profile.yaml: file is 1,099,511,627,776 bytes")


def test_csv_that_never_closes_a_quote_is_refused(tmp_path: Path) -> None:
    bad = PROGRAMS.splitlines()[0] + '\nA-1,"' + "x" * 4_000_000 + "\n"
    _expect_refused(write_inputs(tmp_path, programs=bad), "programs.csv:2: a value is longer than")


def test_csv_of_a_million_bad_rows_stops_after_fifty_problems(tmp_path: Path) -> None:
    bad = PROGRAMS.splitlines()[0] + "\n" + "x\n" * 1_000_000
    _expect_refused(write_inputs(tmp_path, programs=bad), "programs.csv:51: row has 1 value but",
                    "stopped reading at line 52 after 50 problems")


def test_csv_of_a_million_columns_is_refused(tmp_path: Path) -> None:
    bad = PROGRAMS + "x," * 1_000_000 + "\n"
    _expect_refused(write_inputs(tmp_path, programs=bad), "programs.csv:39: row has 1000001 values")


def test_directory_is_refused(tmp_path: Path) -> None:
    _expect_refused(["evaluate", "--profile", str(tmp_path), "--programs", str(tmp_path)], "is a directory")


@posix_only
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_refused_without_reading(tmp_path: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    _expect_refused(["evaluate", "--profile", device, "--programs", device],
                    f"{device}: is not a regular file", "expected a YAML or CSV file")


@posix_only
def test_symlink_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "profile.yaml"
    link.symlink_to("/dev/zero")
    _expect_refused(["evaluate", "--profile", str(link), "--programs", str(link)], "is not a regular file")


@posix_only
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "profile.yaml"
    os.mkfifo(fifo)
    _expect_refused(["evaluate", "--profile", str(fifo), "--programs", str(fifo)], "is not a regular file")


def test_reader_never_reads_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even if the size check were fooled (a file growing while we read), at most limit + 1 bytes are read."""
    from signalwise.engine.load import files

    path = tmp_path / "grows.yaml"
    path.write_bytes(b"a: 1\n" * 1000)
    monkeypatch.setattr(files, "_refuse_unless_small_regular_file", lambda *a: None)
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(files.os, "read", counting_read)
    with pytest.raises(InputError, match="larger than the limit"):
        read_text(path, max_bytes=100)
    assert sum(reads) <= 101


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc (Linux)")
@pytest.mark.parametrize("case", RSS_CASES)
def test_peak_memory_of_the_whole_process_stays_modest(tmp_path: Path, case: str,
                                                       baseline_rss_mb: float) -> None:
    """Process-level check (peak RSS, includes libyaml's C memory): hostile run vs a run refused at once."""
    profile = write_profile(tmp_path)
    baseline = baseline_rss_mb
    profile.write_text(HOSTILE_YAML[case][0], encoding="utf-8")
    programs = tmp_path / "programs.csv"
    programs.write_text(PROGRAMS, encoding="utf-8")
    code, err, peak = cli_peak_rss_mb(["evaluate", "--profile", str(profile), "--programs", str(programs)],
                                      tmp_path)
    assert code == 2, err
    assert "Traceback" not in err
    assert peak - baseline < EXTRA_MB, (baseline, peak)


@pytest.fixture(scope="module")
def baseline_rss_mb(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Peak RSS of a run that stops at once (missing files): interpreter, Click and the engine imported."""
    tmp = tmp_path_factory.mktemp("baseline")
    code, _, peak = cli_peak_rss_mb(["evaluate", "--profile", str(tmp / "missing.yaml"),
                                     "--programs", str(tmp / "missing.csv")], tmp)
    assert code == 2
    return peak


def write_profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return path
