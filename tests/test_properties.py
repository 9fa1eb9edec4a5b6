"""Property-based tests (Hypothesis) of the whole CLI over generated profiles, shortlists and --signals.

1. No input makes the CLI crash: the exit code is always 0 or 2, never 1 (a bug) or 3 (a policy fault),
   and no traceback is printed — for valid inputs, corrupted inputs and arbitrary bytes alike.
2. Every valid input gives a plan within quota, one decision per program, each explained by rules that
   exist in the loaded policies; unused signals always come with the unused-signal warning.
3. Every invalid input (a valid one corrupted: wrong type, out of range, unknown field, bad choice,
   spreadsheet formula, duplicate id) gives exit 2 with the file, the line and the field.

CI runs a few dozen examples per property. For a long run set SIGNALWISE_PROPERTY_EXAMPLES, e.g.
`SIGNALWISE_PROPERTY_EXAMPLES=2500 pytest -q tests/test_properties.py --hypothesis-show-statistics`
(docs/reliability.md records the figure); tests/fuzz/fuzz_loaders.py fuzzes the loaders for longer.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signalwise.engine.policy.catalogue import Catalogue, bundled_root, match_year_of
from signalwise.engine.policy.compiler import all_rules

from .fuzz.fuzz_loaders import run_fuzz
from .reliability_support import Outcome
from .reliability_support import invoke_cli as run_cli
from .test_invariants import profile as invariant_profile
from .test_invariants import program

LONG = int(os.environ.get("SIGNALWISE_PROPERTY_EXAMPLES", "0"))


def budget(ci_examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings: a small CI budget, or SIGNALWISE_PROPERTY_EXAMPLES examples for a long run."""
    return settings(max_examples=LONG or ci_examples, deadline=None, derandomize=not LONG,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much], database=None)


CATALOGUE = Catalogue(bundled_root())
PAIRS = sorted((cycle, specialty)
               for cycle in CATALOGUE.cycles() for specialty in CATALOGUE.specialties(cycle))


@cache
def known_rules(cycle: str, specialty: str) -> frozenset[str]:
    ps = CATALOGUE.policy_set(cycle, specialty, allow_missing_specialty=False, where=("x", None))
    return frozenset(r.id for r in all_rules(ps))


# --- generators ---------------------------------------------------------------------------------

SIGNALS = st.one_of(
    st.none(),
    st.integers(0, 100).map(str),
    st.tuples(st.integers(0, 100), st.integers(0, 100)).map(lambda t: f"gold={t[0]},silver={t[1]}"),
    st.tuples(st.integers(0, 10), st.integers(0, 40)).map(lambda t: f" gold = {t[0]} , silver={t[1]} "),
)


def _place(prof: dict[str, Any], pair: tuple[str, str], year: int, extra: dict[str, Any]) -> dict[str, Any]:
    out = {**prof, "cycle": pair[0], "specialty": pair[1]}
    applicant = {**prof["applicant"], "graduation_year": year}
    for key, value in extra.items():
        if key == "step2_reference":
            out[key] = value
        else:
            applicant[key] = value
    out["applicant"] = applicant
    return out


EXTRA = st.fixed_dictionaries({}, optional={
    "step2_reference": st.integers(200, 260),
    "research": st.fixed_dictionaries({"publications": st.integers(0, 30), "posters": st.integers(0, 30)}),
    "school": st.fixed_dictionaries({"us_match_history": st.sampled_from(["strong", "moderate", "weak",
                                                                          "unknown"])}),
})

# Any cycle and specialty in the catalogue, graduating no later than that cycle's Match.
valid_profile = st.tuples(invariant_profile, st.sampled_from(PAIRS), EXTRA).flatmap(
    lambda t: st.integers(1990, match_year_of(t[1][0])).map(lambda year: _place(t[0], t[1], year, t[2])))

valid_shortlist = st.lists(program, min_size=1, max_size=30)


def write_case(folder: Path, prof: dict[str, Any] | str | bytes, progs: list[dict[str, Any]] | str | bytes,
               programs_name: str = "programs.csv") -> list[str]:
    """Write the two files (a CSV shortlist typed the way a spreadsheet exports it)."""
    p_path, s_path = folder / "profile.yaml", folder / programs_name
    _write(p_path, prof if isinstance(prof, str | bytes) else yaml.safe_dump(prof, sort_keys=False))
    _write(s_path, progs if isinstance(progs, str | bytes) else
           (to_csv(progs) if programs_name.endswith(".csv") else yaml.safe_dump(progs)))
    return ["evaluate", "--profile", str(p_path), "--programs", str(s_path)]


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def with_ids(progs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": f"G-{i:03d}", **p} for i, p in enumerate(progs)]


COLUMNS = ["id", "name", "state", "setting", "research_intensity", "img_share", "alumni_from_my_school",
           "step2_min", "max_years_since_graduation", "requires_step3", "sponsors_visa", "accepts_signals",
           "location_desirability", "home", "rotated", "ties", "would_attend", "interest", "area_type",
           "institution"]


def to_csv(progs: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in progs:
        writer.writerow([_cell(p.get(c)) for c in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def assert_no_crash(result: Outcome) -> None:
    assert result.exit_code in (0, 2), (result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output
    assert "internal error" not in result.output


# --- 1 + 2: valid inputs give an explained plan within quota ------------------------------------


@budget(40)
@given(valid_profile, valid_shortlist, SIGNALS, st.booleans(), st.booleans())
def test_every_valid_input_gives_an_explained_plan_within_quota(
        prof: dict[str, Any], progs: list[dict[str, Any]], sig: str | None, as_yaml: bool,
        home: bool) -> None:
    progs = with_ids(progs)
    if home:
        prof = {**prof, "home_program": progs[-1]["id"]}
    with tempfile.TemporaryDirectory() as tmp:
        args = write_case(Path(tmp), prof, progs, "programs.yaml" if as_yaml else "programs.csv")
        result = run_cli(*args, "--format", "json", *(["--signals", sig] if sig is not None else []))
    assert_no_crash(result)
    if result.exit_code == 2:  # the only valid-input refusal: the policy does not know this cycle's count
        assert sig is None and "pass --signals" in result.output, result.output
        return
    check_report(json.loads(result.stdout), prof, len(progs))


def check_report(report: dict[str, Any], prof: dict[str, Any], n_programs: int) -> None:
    rules = known_rules(prof["cycle"], prof["specialty"])
    levels = {s["tier"]: s for s in report["signals"]}
    assert len(report["programs"]) == n_programs
    assert len({p["id"] for p in report["programs"]}) == n_programs  # one decision per program
    for tier, level in levels.items():
        given_to = [p for p in report["programs"] if p["decision"] == tier]
        assert len(given_to) == level["assigned"] <= level["available"], (tier, level)
        assert sum(level["by_fit"].values()) == level["assigned"]
    for p in report["programs"]:
        assert p["decision"] in set(levels) | {"none", "exempt", "excluded"}, p["decision"]
        if p["fit"] == "closed":
            assert p["decision"] == "excluded"
        assert p["because"], p["id"]
        for b in p["because"]:
            assert b["text"].strip(), b
            assert b["rule"] in rules or b["rule"].endswith(".default") or b["rule"].startswith("allocat"), b
        for w in p["why_not"]:
            assert w["text"].strip(), w
    for f in report["findings"]:
        assert (f["rule"] in rules or f["rule"].startswith("input.")) and f["text"].strip(), f
    unused = sum(s["available"] - s["assigned"] for s in report["signals"])
    warned = [f for f in report["findings"] if f["rule"] == "check.unused-signals"]
    assert bool(unused) == bool(warned), (unused, warned)
    assert report["applicant"]["tier"] and report["applicant"]["because"]


# --- 3: corrupted inputs give exit 2 with file, line and field ----------------------------------

NUMERIC_LIMITS: dict[tuple[str, ...], tuple[int, int]] = {  # path -> (lowest valid, highest valid)
    ("applicant", "exams", "step2_ck"): (1, 300),
    ("applicant", "exams", "step2_attempts"): (1, 6),
    ("applicant", "usce", "months"): (0, 120),
    ("applicant", "usce", "months_in_specialty"): (0, 120),
    ("applicant", "letters", "us_in_specialty"): (0, 20),
}
MAPPINGS = [(), ("applicant",), ("applicant", "exams"), ("applicant", "usce"), ("applicant", "letters"),
            ("geography",), ("goals",)]


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    return [path]


def _get(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _set(value: dict[str, Any], path: tuple[str, ...], new: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(value))
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return out


def _wrong_type(old: Any) -> Any:
    if isinstance(old, bool):
        return "maybe"
    if isinstance(old, int | float):
        return "lots"
    if isinstance(old, list):
        return "one, two"
    return 7


@st.composite
def corrupted_profile(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid profile with one thing wrong, and the field the message must name."""
    prof = draw(valid_profile)
    kind = draw(st.sampled_from(["type", "range", "unknown", "choice", "graduation"]))
    if kind == "type":
        path = draw(st.sampled_from([p for p in _leaves(prof) if p not in (("cycle",), ("specialty",))]))
        return _set(prof, path, _wrong_type(_get(prof, path))), ".".join(path)
    if kind == "range":
        path = draw(st.sampled_from(sorted(NUMERIC_LIMITS)))
        lo, hi = NUMERIC_LIMITS[path]
        bad = draw(st.one_of(st.integers(hi + 1, 10**9), st.integers(-(10**9), lo - 1)))
        return _set(prof, path, bad), ".".join(path)
    if kind == "unknown":
        at = draw(st.sampled_from(MAPPINGS))
        key = draw(st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True))
        if key in (_get(prof, at) or {}) or key in ("step1", "step3"):
            key = "zz_" + key
        return _set(prof, (*at, key), draw(st.integers())), ".".join((*at, key))
    if kind == "choice":
        path = draw(st.sampled_from([("applicant", "graduate_type"), ("applicant", "exams", "step1"),
                                     ("applicant", "letters", "strength"), ("goals", "setting")]))
        choice = draw(st.sampled_from(["unknown-choice", "US-MD", "Pass", ""]))
        return _set(prof, path, choice), ".".join(path)
    year = match_year_of(prof["cycle"]) + draw(st.integers(1, 60))
    return _set(prof, ("applicant", "graduation_year"), year), "applicant.graduation_year"


@budget(40)
@given(corrupted_profile(), valid_shortlist)
def test_every_corrupted_profile_is_refused_naming_the_field(case: tuple[dict[str, Any], str],
                                                             progs: list[dict[str, Any]]) -> None:
    prof, field = case
    with tempfile.TemporaryDirectory() as tmp:  # --signals: a cycle without known counts reaches every check
        result = run_cli(*write_case(Path(tmp), prof, with_ids(progs)), "--signals", "7")
    assert_no_crash(result)
    assert result.exit_code == 2, result.output
    assert "profile.yaml:" in result.output and field in result.output, (field, result.output)


CSV_CORRUPTIONS = {  # column -> bad cells and the words the message must contain
    "img_share": (["1.5", "-0.1", "lots", "=B2", "nan", "200%"], "img_share"),
    "interest": (["0", "6", "three", "2.5", "@A1"], "interest"),
    "setting": (["hospital", "+x"], "setting"),
    "sponsors_visa": (["maybe", "=TRUE()"], "sponsors_visa"),
    "name": (["=HYPERLINK(1)", "+cmd", "@SUM(1)", "-2+3"], "name"),
    "state": (["Ohio", "XX", "O"], "state"),
    "ties": (["family;cousins"], "ties"),
}


@st.composite
def corrupted_shortlist(draw: st.DrawFn) -> tuple[str, int, str]:
    """A valid CSV with one cell, column or row wrong; the line and field the message must name."""
    progs = with_ids(draw(valid_shortlist))
    text = to_csv(progs)
    lines = text.splitlines()
    kind = draw(st.sampled_from(["cell", "cell", "column", "duplicate", "short-row"]))
    if kind == "column":
        col = draw(st.sampled_from(COLUMNS[4:]))
        lines[0] = ",".join(c + "x" if c == col else c for c in COLUMNS)
        return "\n".join(lines) + "\n", 1, col + "x"
    row = draw(st.integers(1, len(progs)))
    if kind == "duplicate":
        lines.append(lines[row])
        return "\n".join(lines) + "\n", len(lines), "duplicate program id"
    if kind == "short-row":
        lines[row] = lines[row].rsplit(",", 3)[0]
        return "\n".join(lines) + "\n", row + 1, "but the header has"
    col = draw(st.sampled_from(sorted(CSV_CORRUPTIONS)))
    bad = draw(st.sampled_from(CSV_CORRUPTIONS[col][0]))
    cells = next(csv.reader([lines[row]]))
    cells[COLUMNS.index(col)] = bad
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    lines[row] = out.getvalue()
    return "\n".join(lines) + "\n", row + 1, CSV_CORRUPTIONS[col][1]


@budget(40)
@given(valid_profile, corrupted_shortlist())
def test_every_corrupted_shortlist_is_refused_naming_line_and_field(prof: dict[str, Any],
                                                                    case: tuple[str, int, str]) -> None:
    text, line, field = case
    with tempfile.TemporaryDirectory() as tmp:
        result = run_cli(*write_case(Path(tmp), prof, text), "--signals", "7")
    assert_no_crash(result)
    assert result.exit_code == 2, result.output
    assert f"programs.csv:{line}" in result.output and field in result.output, (line, field, result.output)


# --- 1: arbitrary input never crashes -----------------------------------------------------------

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30)


@budget(100)
@given(st.one_of(st.binary(max_size=3000), st.text(max_size=3000),
                 json_like.map(lambda v: yaml.safe_dump(v, allow_unicode=True))),
       st.one_of(st.binary(max_size=3000), st.text(max_size=3000),
                 st.lists(st.lists(st.text(max_size=12), max_size=8), max_size=8).map(
                     lambda rows: "\n".join(",".join(r) for r in [COLUMNS[:4], *rows]))),
       st.booleans())
def test_arbitrary_files_never_crash_the_cli(profile_content: str | bytes, programs_content: str | bytes,
                                            yaml_shortlist: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        args = write_case(Path(tmp), profile_content, programs_content,
                          "programs.yaml" if yaml_shortlist else "programs.csv")
        assert_no_crash(run_cli(*args))


@budget(60)
@given(valid_profile, valid_shortlist, st.text(max_size=30), st.sampled_from(["--specialty", "--cycle",
                                                                              "--signals"]))
def test_arbitrary_options_never_crash_the_cli(prof: dict[str, Any], progs: list[dict[str, Any]],
                                               value: str, option: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert_no_crash(run_cli(*write_case(Path(tmp), prof, with_ids(progs)), option, value))


def test_fuzz_target_runs_clean_for_a_few_hundred_inputs() -> None:
    stats = run_fuzz(iterations=300, seed=7)
    assert stats["crashes"] == 0, stats
    assert stats["accepted"] > 0 and stats["refused"] > 0, stats
