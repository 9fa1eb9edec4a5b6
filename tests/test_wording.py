"""Every report an applicant reads, in every format, reads as English (issue 13): no doubled words ("signal
signal"), no "(s)" constructs next to numbers, no "1 warnings", no "a at-risk", no ranges like "6-6", no
line broken inside an identifier or a hyphenated word, and no `None` or `unknown, unknown` in tracking."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.render import RENDERERS
from signalwise.engine.render.tracking import render_tracking

from .conftest import EXAMPLE_NAMES, EXAMPLES, evaluate_json, run_cli

DOUBLED = re.compile(r"\b([A-Za-z]{2,})[ ]\1\b", re.IGNORECASE)
PLURAL_S = re.compile(r"\w\(s\)")
ONE_PLURAL = re.compile(r"\b1 (warnings|points|programs|signals|parts|residents|months|letters|publications|"
                        r"posters|invitations|errors|policies|solves|programs\(s\))\b")
A_VOWEL = re.compile(r"\ba (at-|an? |[aeio][a-z]*-)", re.IGNORECASE)
SAME_RANGE = re.compile(r"(?<![\d.:/-])(\d+)\s*[-–]\s*\1(?![\d.:/-])")
DOUBLE_PLURAL = re.compile(r"\b(signal|program)s?[ :]{1,2}(?:(?!by\b)\w+[ :]{1,2})?\1s?\b", re.IGNORECASE)


def visible_text(fmt: str, text: str) -> str:
    """What a reader sees: HTML without tags and the CSS; JSON's strings; the rest as is."""
    if fmt == "html":
        text = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)
        text = re.sub(r"</?(td|th|tr|li|p|div|h[1-6]|dt|dd|summary|caption|desc|title|text|strong)\b[^>]*>", "\n", text)
        text = re.sub(r"<[^>]+>", "", text)
        return html.unescape(text)
    if fmt == "json":
        strings: list[str] = []

        def walk(v: Any) -> None:
            if isinstance(v, str):
                strings.append(v)
            elif isinstance(v, dict):
                for k, x in v.items():
                    if k not in ("sha256", "file", "because", "rationale") or isinstance(x, list):
                        walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(json.loads(text))
        return "\n".join(strings)
    return text


def wording_problems(text: str, *, wrapped: bool = False) -> list[str]:
    out = []
    for name, pattern in (("doubled word", DOUBLED), ("(s) construct", PLURAL_S), ("singular count", ONE_PLURAL),
                          ("'a' before a vowel", A_VOWEL), ("range of one number", SAME_RANGE),
                          ("doubled noun", DOUBLE_PLURAL)):
        for m in pattern.finditer(text):
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.end())
            out.append(f"{name}: {m.group(0)!r} in {text[start:end if end >= 0 else None][:160]!r}")
    if wrapped:  # a line of wrapped text never ends inside a hyphenated word or an identifier
        for line in text.splitlines():
            if re.search(r"[A-Za-z0-9]-$", line.rstrip()):
                out.append(f"line broken inside a word: {line!r}")
    return out


def test_the_checker_catches_every_listed_slip() -> None:
    for bad in ("Your signal signal to X", "Signals used: signals 7 of 7", "1 warnings", "you are a at-risk applicant",
                "Score: 1 points", "target range (6-6)", "11 target program(s)", "Interview target: 12-12",
                "[tier.at-\n    risk.several-risks]"):
        assert wording_problems(bad, wrapped=True), bad
    assert not wording_problems("the guide's range of 4-5; 2025-26 season; 2026-12-01; a university program")


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    return {name: evaluate_json(name) for name in EXAMPLE_NAMES}


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("fmt", ["text", "md", "json", "html"])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_reads_well_in_every_format(reports: dict[str, dict[str, Any]], name: str, fmt: str,
                                                  verbose: bool) -> None:
    text = RENDERERS[fmt](reports[name], verbose=verbose)
    problems = wording_problems(visible_text(fmt, text), wrapped=fmt == "text")
    assert not problems, "\n".join(problems[:20])


def test_text_report_keeps_rule_ids_for_verbose_and_shows_why_closed_and_how_to_show_interest(
        reports: dict[str, dict[str, Any]]) -> None:
    report = reports["at-risk-im"]
    plain = RENDERERS["text"](report)
    assert "tier.at-risk" not in plain and "[none]" not in plain and "guidance." not in plain
    assert "requires USMLE Step 3, which you have not taken" in plain          # why RIM-13 is closed
    assert "How else to show interest" in plain and "What to do:" in plain
    verbose = RENDERERS["text"](report, verbose=True)
    assert "rule tier.at-risk.several-risks" in verbose and "Policies: " in verbose


def test_html_folds_rule_ids_and_values_into_how_this_was_decided(reports: dict[str, dict[str, Any]]) -> None:
    page = RENDERERS["html"](reports["at-risk-im"])
    assert "values seen" not in page
    visible = re.sub(r"<details class=\"how\">.*?</details>", "", page, flags=re.S)
    assert "What the rule read" not in visible and "guidance.program-fit@" not in visible.split('id="appendix"')[0]


def _track(fmt: str, *extra: str, out: Path | None = None) -> str:
    ex = EXAMPLES / "gold-silver-im"
    result = run_cli("track", "--log", str(ex / "interview-log.csv"), "--programs", str(ex / "programs.csv"),
                     "--format", fmt, *extra, *(("-o", str(out)) if out else ()))
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8") if out else str(result.stdout)


@pytest.mark.parametrize("fmt", ["text", "md", "json", "html"])
@pytest.mark.parametrize("extra", [("--specialty", "internal-medicine", "--cycle", "eras-2026"),
                                   ("--specialty", "internal-medicine", "--cycle", "eras-2026", "--target", "12",
                                    "--as-of", "2025-11-15")])
def test_tracking_reads_well(fmt: str, extra: tuple[str, ...], tmp_path: Path) -> None:
    text = visible_text(fmt, _track(fmt, *extra, out=tmp_path / "track.html" if fmt == "html" else None))
    assert not wording_problems(text), wording_problems(text)
    if fmt != "json":
        assert "None" not in text and "unknown, unknown" not in text


def test_compare_reads_well(tmp_path: Path) -> None:
    ex = EXAMPLES / "gold-silver-im-rates"
    result = run_cli("compare", "--profile", str(ex / "profile.yaml"), "--programs", str(ex / "programs.csv"),
                     "--plan", str(ex / "my-signals.yaml"))
    assert result.exit_code == 0, result.output
    assert "Solver" not in result.output and "scipy" not in result.output
    problems = [p for p in wording_problems(result.output) if "range of one number" not in p or "(" in p]
    assert not [p for p in problems if "doubled" in p or "(s)" in p], problems
    _ = render_tracking  # the tracking renderer is exercised through the CLI above
