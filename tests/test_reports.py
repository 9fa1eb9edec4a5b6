"""Explanation reports: golden Markdown / HTML / JSON for the four examples, every rule firing with a
sentence and a source, `signalwise explain`, and the HTML report's self-containment and structure.

Regenerate the goldens after an intended change (policy, engine or renderer), then review the diff:

    SIGNALWISE_UPDATE_GOLDEN=1 pytest tests/test_reports.py

The comparison masks sha256 hashes and policy line numbers (a policy edit moves them without changing
what a report says); everything else must match byte for byte.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.render import RENDERERS
from signalwise.engine.render.common import (
    chain,
    firing_entries,
    one_line_reason,
    parse_source,
    wanted_without_signal,
)

from .conftest import EXAMPLE_NAMES, ROOT, run_cli

GOLDEN = ROOT / "tests" / "golden" / "reports"
UPDATE = os.environ.get("SIGNALWISE_UPDATE_GOLDEN") == "1"
REGENERATE = "SIGNALWISE_UPDATE_GOLDEN=1 pytest tests/test_reports.py"


def _evaluate(name: str, fmt: str = "json") -> str:
    """Evaluate an example through the CLI with paths relative to the repository root, so the report
    (which records its input paths) is the same in every checkout."""
    with contextlib.chdir(ROOT):
        result = run_cli(
            "evaluate",
            "--profile",
            f"examples/{name}/profile.yaml",
            "--programs",
            f"examples/{name}/programs.csv",
            "--format",
            fmt,
        )
    assert result.exit_code == 0, result.output
    return str(result.output)


@pytest.fixture(scope="module")
def example_reports() -> dict[str, dict[str, Any]]:
    return {name: json.loads(_evaluate(name)) for name in EXAMPLE_NAMES}


# ---------------------------------------------------------------------------------------------- goldens


_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
_YAML_LINE = re.compile(r"(\.ya?ml):\d+")
_JSON_LINE = re.compile(r'"line": \d+')


def _volatile_masked(text: str) -> str:
    """The report with file hashes and policy line numbers masked: editing a policy moves those without
    changing what the report says, so they alone do not fail a golden (the goldens still record them)."""
    return _JSON_LINE.sub('"line": 0', _YAML_LINE.sub(r"\1:0", _SHA256.sub("<sha256>", text)))


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_golden_report(example_reports: dict[str, dict[str, Any]], name: str, fmt: str) -> None:
    text = RENDERERS[fmt](example_reports[name])
    path = GOLDEN / f"{name}.{fmt}"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden {path.relative_to(ROOT)}; create it with: {REGENERATE}"
    expected = path.read_text(encoding="utf-8")
    if _volatile_masked(text) != _volatile_masked(expected):
        diff = "".join(
            list(
                difflib.unified_diff(
                    _volatile_masked(expected).splitlines(True),
                    _volatile_masked(text).splitlines(True),
                    f"golden/{path.name}",
                    "now",
                    n=1,
                )
            )[:60]
        )
        pytest.fail(
            f"{name}.{fmt} differs from its golden. If the change is intended, regenerate with:\n"
            f"    {REGENERATE}\nand review the diff.\n{diff}"
        )


def test_cli_output_is_the_renderer_output(example_reports: dict[str, dict[str, Any]]) -> None:
    assert _evaluate("strong-im", "md") == RENDERERS["md"](example_reports["strong-im"])


def test_html_without_output_goes_to_a_file_and_says_where(tmp_path: Path,
                                                           example_reports: dict[str, dict[str, Any]]) -> None:
    with contextlib.chdir(tmp_path):
        result = run_cli("evaluate", "--profile", str(ROOT / "examples/strong-im/profile.yaml"),
                         "--programs", str(ROOT / "examples/strong-im/programs.csv"), "--format", "html")
        assert result.exit_code == 0 and result.stdout == ""
        assert "wrote signalwise-evaluate.html" in result.stderr
        assert (tmp_path / "signalwise-evaluate.html").read_text().startswith("<!DOCTYPE html>")


def test_reports_are_deterministic(example_reports: dict[str, dict[str, Any]]) -> None:
    report = example_reports["gold-silver-im"]
    for fmt in ("md", "html", "text"):
        assert RENDERERS[fmt](copy.deepcopy(report)) == RENDERERS[fmt](report)


def test_format_choices_are_text_md_json_html() -> None:
    result = run_cli("evaluate", "--help")
    assert "[text|md|json|html]" in result.output


def test_html_report_written_with_output_option(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    with contextlib.chdir(ROOT):
        result = run_cli(
            "evaluate",
            "--profile",
            "examples/moderate-fm/profile.yaml",
            "--programs",
            "examples/moderate-fm/programs.csv",
            "--format",
            "html",
            "-o",
            str(out),
        )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ------------------------------------------------------------------------------------- sentences, sources

# Every allocation decision (`allocate.*`, a sentence from policies/guidance/messages.yaml used when no quota
# rule is involved, e.g. a program covered by its institution's signal) names its source (`message_sources:`).
SOURCELESS_ALLOWED = ("input.",)  # the shortlist itself: no published source


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_firing_has_a_sentence_and_a_source(
    example_reports: dict[str, dict[str, Any]], name: str
) -> None:
    report = example_reports[name]
    missing_text, missing_source = [], []
    for where, entry in firing_entries(report):
        rule = str(entry.get("rule") or "")
        if not str(entry.get("text") or "").strip():
            missing_text.append(f"{where}: {rule}")
        if not entry.get("source") and not rule.startswith(SOURCELESS_ALLOWED):
            missing_source.append(f"{where}: {rule}")
    for rule_id, item in report["rules"].items():
        if not item.get("because"):
            missing_text.append(f"rules: {rule_id} has no because template")
        if not item.get("source"):
            missing_source.append(f"rules: {rule_id}")
    for p in report["programs"]:
        missing_text += [f"program {p['id']} why-not {w['tier']}" for w in p["why_not"] if not w.get("text")]
        missing_text += [f"program {p['id']} advice {a['rule']}" for a in p["advice"] if not a.get("advice")]
    for f in report["findings"]:
        if not f.get("advice"):
            missing_text.append(f"finding {f['rule']} has no 'what to do'")
    assert not missing_text, "firings without a sentence:\n" + "\n".join(missing_text)
    assert not missing_source, "firings without a source:\n" + "\n".join(missing_source)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_program_has_a_checkable_reason(example_reports: dict[str, dict[str, Any]], name: str) -> None:
    report = example_reports[name]
    tiers = [s["tier"] for s in report["signals"]]
    for p in report["programs"]:
        assert one_line_reason(p), p["id"]
        if p.get("score") is not None:  # eligible: the chain ends with the allocation step
            assert chain(report, p)[-1][0] == "allocation", p["id"]
        if p["decision"] not in tiers:
            assert {w["tier"] for w in p["why_not"]} == set(tiers), p["id"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_markdown_has_every_section_and_program(
    example_reports: dict[str, dict[str, Any]], name: str
) -> None:
    report = example_reports[name]
    md = RENDERERS["md"](report)
    for heading in (
        "## Summary",
        "## Plan",
        "## Words used in this report",
        "## The plan at a glance",
        "## What to watch",
        "## Programs",
        "## How this was decided: reproduce and check",
        "## Policies used",
        "## Numbers used",
        "## Rules that fired",
        "## Sources",
    ):
        assert f"\n{heading}\n" in md, heading
    for p in report["programs"]:
        assert f"({p['id']}): " in md
    for pol in report["policies"]:
        assert pol["sha256"] in md
    assert report["inputs"]["profile"]["sha256"] in md
    if wanted_without_signal(report):
        assert "\n## How else to show interest\n" in md
    assert "USCE" not in md or "**USCE**: US clinical experience" in md


# ---------------------------------------------------------------------------------------------- HTML

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SVG_SELF_CLOSING = {"rect", "line", "circle", "path", "polyline", "polygon", "ellipse"}


class _Checker(HTMLParser):
    """A strict-enough structural check: nesting, ids, anchors, SVG text alternatives, external refs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[tuple[str, str]] = []
        self.attrs_with_http: list[tuple[str, str, str]] = []
        self.tags: dict[str, int] = {}
        self.svgs: list[dict[str, str]] = []
        self.svg_children: dict[str, list[tuple[str, str]]] = {}
        self.figures: list[set[str]] = []
        self.completed_figures: list[set[str]] = []
        self.loading_attrs: list[tuple[str, str]] = []
        self.meta: list[dict[str, str]] = []
        self.html_lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        key = f"svg:{tag}" if "svg" in self.stack else tag
        self.tags[key] = self.tags.get(key, 0) + 1
        if "id" in a:
            self.ids.append(a["id"])
        self.loading_attrs += [(tag, k) for k in a if k in ("src", "srcset", "data", "poster", "background")]
        for k, v in a.items():
            if re.search(r"https?:", v):
                self.attrs_with_http.append((tag, k, v))
            if k == "href":
                self.hrefs.append((tag, v))
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "meta":
            self.meta.append(a)
        if tag == "svg":
            self.svgs.append(a)
            self.svg_children[a.get("id", "")] = []
        if self.svgs and "svg" in self.stack and tag in ("title", "desc"):
            self.svg_children[self.svgs[-1].get("id", "")].append((tag, a.get("id", "")))
        for fig in self.figures:
            fig.add(tag)
        if tag == "figure":
            self.figures.append(set())
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(
                f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}> at line {self.getpos()[0]}"
            )
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "figure":
            self.completed_figures.append(self.figures.pop())


def _check_html(text: str, report: dict[str, Any]) -> _Checker:
    c = _Checker()
    c.feed(text)
    c.close()
    assert not c.errors, c.errors[:5]
    assert not c.stack, f"unclosed tags: {c.stack}"
    assert text.startswith("<!DOCTYPE html>\n")
    assert c.html_lang == "en"
    assert c.tags.get("html") == c.tags.get("head") == c.tags.get("body") == c.tags.get("title") == 1
    assert any(m.get("charset") == "utf-8" for m in c.meta)
    csp = [m for m in c.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]
    # self-contained: nothing that loads anything
    for tag in ("script", "link", "img", "iframe", "object", "embed", "base", "video", "audio", "source"):
        assert tag not in c.tags, f"<{tag}> in a self-contained report"
    assert "@import" not in text and not re.search(r"url\((?!#)", text), "CSS loads something"
    assert not c.loading_attrs, c.loading_attrs[:3]
    cited = {
        src.url for _w, e in firing_entries(report) if (src := parse_source(e.get("source"))) and src.url
    }
    cited |= {
        src.url
        for item in list(report.get("rules", {}).values()) + list(report.get("context", {}).values())
        if (src := parse_source(item.get("source"))) and src.url
    }
    for tag, attr, value in c.attrs_with_http:
        assert (tag, attr) == ("a", "href") and value in cited, f"external reference <{tag} {attr}={value!r}>"
    # ids unique; in-page links resolve
    dupes = {i for i in c.ids if c.ids.count(i) > 1}
    assert not dupes, dupes
    ids = set(c.ids)
    for _tag, href in c.hrefs:
        if href.startswith("#"):
            assert href[1:] in ids, f"broken in-page link {href}"
    # charts: role=img, a <title> and <desc> named by aria-labelledby, and a data table beside them
    assert len(c.svgs) == (2 if report["signals"] else 1)
    for svg in c.svgs:
        assert svg.get("role") == "img"
        labelled = svg.get("aria-labelledby", "").split()
        kids = c.svg_children[svg["id"]]
        assert [k for k, _ in kids][:2] == ["title", "desc"]
        assert labelled == [i for _, i in kids[:2]]
    figures = c.completed_figures
    assert len(figures) == len(c.svgs)
    for fig in figures:
        assert {"svg", "figcaption", "table", "caption"} <= fig
    return c


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_html_is_one_self_contained_well_formed_file(
    example_reports: dict[str, dict[str, Any]], name: str
) -> None:
    report = example_reports[name]
    html = RENDERERS["html"](report)
    _check_html(html, report)
    for p in report["programs"]:
        assert f'id="p-{p["id"]}"' in html
    for section in ("summary", "plan", "terms", "picture", "findings", "programs", "appendix"):
        assert f'id="{section}"' in html
    assert "@media print" in html


def test_html_and_markdown_escape_user_data(example_reports: dict[str, dict[str, Any]]) -> None:
    report = copy.deepcopy(example_reports["gold-silver-im"])
    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)> | *bold* [link](http://evil.test)'
    report["programs"][0]["name"] = evil
    report["programs"][0]["because"][0]["text"] = evil
    report["findings"][0]["text"] = evil
    report["applicant"]["geography"]["must_have"] = ["<b>x</b>"]
    html = RENDERERS["html"](report)
    assert "<script" not in html and "<img" not in html and "<b>x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in html
    _check_html(html, report)
    md = RENDERERS["md"](report)
    raw_tags = [m.group(0) for m in re.finditer(r"(?<!\\)<[^>\s]*", md) if not m.group(0).startswith("<http")]
    assert not raw_tags, raw_tags[:3]  # every "<" in data is escaped; only source autolinks remain
    assert "\\[link\\](http://evil.test)" in md
    rows = [line for line in md.splitlines() if "alert" in line and line.startswith("|")]
    # the table row keeps its five columns: pipes in the data are escaped
    assert rows and all(len(re.split(r"(?<!\\)\|", r)) == 7 for r in rows)


def test_html_marks_acronyms_and_glosses_them(example_reports: dict[str, dict[str, Any]]) -> None:
    html = RENDERERS["html"](example_reports["strong-im"])
    assert '<abbr title="US clinical experience: clinical rotations in US hospitals">USCE</abbr>' in html
    assert "<dt>USCE</dt>" in html and "<dt>reach</dt>" in html


def test_a_report_without_a_glossary_marks_no_acronym(example_reports: dict[str, dict[str, Any]]) -> None:
    """An older report read back has no `glossary`: nothing is glossed from Python instead."""
    report = copy.deepcopy(example_reports["strong-im"])
    del report["glossary"]
    html = RENDERERS["html"](report)
    assert "<abbr" not in html and "<dt>" not in html.split('id="terms"')[1].split("</section>")[0]
    assert "USCE" in html


@pytest.mark.parametrize("extra", [("--signals", "gold=2,silver=3,bronze=2"), ("--signals", "alpha=5")])
def test_every_allocation_decision_names_its_source_without_a_ratio_row(extra: tuple[str, ...]) -> None:
    """Tiers the guide gives no ratio row for: no quota rule fires, so `allocate.*` entries cite the
    sources policies/guidance/messages.yaml names for them (the covered programs: the specialty's)."""
    ex = ROOT / "examples" / "gold-silver-im"
    result = run_cli("evaluate", "--profile", str(ex / "profile.yaml"), "--programs", str(ex / "programs.csv"),
                     *extra, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    entries = [(w, e) for w, e in firing_entries(report) if str(e.get("rule", "")).startswith("allocate.")]
    assert entries, "no allocation entry without a quota rule: the test checks nothing"
    for where, entry in entries:
        assert entry.get("source"), f"{where}: {entry['rule']}"
    rules = {e["rule"] for _w, e in entries}
    if "gold" in extra[1]:  # institution-level tiers: the covered program cites the specialty's AAIM source
        covered = [e for _w, e in entries if e["rule"] == "allocate.allocation.covered"]
        assert covered and all(str(e["source"]).startswith("AAIM") for e in covered)
    else:  # a tier of no ratio table: programs left out cite the labelled signalwise choice
        assert rules == {"allocate.allocation.left-out"}
        assert all("signalwise design choice" in str(e["source"]) for _w, e in entries)


# ---------------------------------------------------------------------------------------------- explain


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports") / "gold-silver.json"
    path.write_text(_evaluate("gold-silver-im"), encoding="utf-8")
    return path


def _explain(*args: str) -> Any:
    return run_cli("explain", *args)


def test_explain_program_shows_the_how_chain(
    report_file: Path, example_reports: dict[str, dict[str, Any]]
) -> None:
    result = _explain(str(report_file), "--program", "GSI-10")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("GSI-10 · Pemberlyn Medical Center Internal Medicine\n")
    assert "Decision: silver signal · fit: target · score: 15" in out
    program = next(p for p in example_reports["gold-silver-im"]["programs"] if p["id"] == "GSI-10")
    for b in program["because"]:
        assert f"rule {b['rule']} · {b['policy']}" in out
    assert "HOW" in out and "WHY NOT" in out
    reach = _explain(str(report_file), "--program", "GSI-03").output
    assert "WHAT WOULD CHANGE IT" in reach and "A rotation at Ondermere" in reach


def test_explain_why_not_gold_names_the_outranking_program(
    report_file: Path, example_reports: dict[str, dict[str, Any]]
) -> None:
    programs = {p["id"]: p for p in example_reports["gold-silver-im"]["programs"]}
    why = next(w for w in programs["GSI-10"]["why_not"] if w["tier"] == "gold")
    assert why["outranked_by"] == "GSI-09" and why["outranked_by_all"] == ["GSI-09"]
    result = _explain(str(report_file), "--program", "GSI-10", "--why-not", "gold")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # unwrapped
    assert out.startswith("Why not a gold signal for GSI-10")
    assert why["text"] in out
    other = programs["GSI-09"]
    assert (f"Outranked by: GSI-09 {other['name']} (gold signal, {other['fit']}, score {other['score']:g})"
            in out)
    assert re.search(r"rotation — \+4", out)  # the score part GSI-09 has and GSI-10 lacks
    gap = other["score"] - programs["GSI-10"]["score"]
    assert f"Score gap: {gap:g} point(s)" in out


def test_explain_why_not_for_an_excluded_program_gives_the_condition_and_what_would_change(
    report_file: Path,
) -> None:
    result = _explain(str(report_file), "--program", "GSI-03", "--why-not", "silver")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Reason: set aside for a soft reason: it takes only a spare signal" in out
    assert "The condition that applies:" in out
    assert "rule exclude.reach-without-connection" in out
    assert "What would change it:" in out and "A rotation at Ondermere" in out


def test_explain_why_not_the_tier_it_got(report_file: Path) -> None:
    result = _explain(str(report_file), "--program", "gsi-01", "--why-not", "Gold")
    assert result.exit_code == 0, result.output
    assert "Decision: gold signal (this program gets this tier)." in result.output


def test_explain_rule_shows_text_rationale_source_and_where_it_fired(report_file: Path) -> None:
    result = _explain(str(report_file), "--rule", "fit.reach.low-img-share")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Rule fit.reach.low-img-share: Few IMGs among the residents\n")
    for fragment in (
        "policy:     guidance.program-fit@1.1.1",
        "defined in: policies/guidance/program-fit.yaml:",
        "because:    {p.name} has few IMGs",
        "rationale:",
        "source:     Ultimate Guide",
        "fired:      8 time(s)",
        "GSI-01 Albrenna",
        "Where it fired, and what it said:",
    ):
        assert fragment in out, fragment


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--program", "GSI-1"], ["no program 'GSI-1'", "did you mean 'GSI-31'"]),
        (["--program", "Albrenna"], ["did you mean 'GSI-01'"]),
        (["--program", "GSI-01", "--why-not", "gld"], ["no signal tier 'gld'", "did you mean 'gold'"]),
        (
            ["--rule", "fit.reach.low-img"],
            ["no rule 'fit.reach.low-img'", "did you mean 'fit.reach.low-img-share'"],
        ),
    ],
)
def test_explain_unknown_ids_suggest_the_right_one(
    report_file: Path, args: list[str], fragments: list[str]
) -> None:
    result = _explain(str(report_file), *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def test_explain_bad_files_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    missing = _explain(str(tmp_path / "nope.json"), "--program", "X")
    assert missing.exit_code == 2 and "file not found" in missing.output
    (tmp_path / "report.md").write_text("# Signal plan\n")
    not_json = _explain(str(tmp_path / "report.md"), "--program", "X")
    assert (
        not_json.exit_code == 2
        and "not a JSON report" in not_json.output
        and "--format json" in not_json.output
    )
    (tmp_path / "other.json").write_text('{"hello": 1}')
    other = _explain(str(tmp_path / "other.json"), "--program", "X")
    assert other.exit_code == 2 and "not a signalwise report" in other.output
    (tmp_path / "broken.json").write_text('{"report_version": "1.0", "programs": [{"id": 1}]}')
    broken = _explain(str(tmp_path / "broken.json"), "--program", "X")
    assert broken.exit_code == 2 and "schema problem" in broken.output
    for r in (missing, not_json, other, broken):
        assert "Traceback" not in r.output


def test_explain_needs_exactly_one_question(report_file: Path) -> None:
    for args, message in (((), "give exactly one of --program ID or --rule ID"),
                          (("--program", "GSI-01", "--rule", "score.ties"),
                           "give exactly one of --program ID or --rule ID"),
                          (("--rule", "score.ties", "--why-not", "gold"), "--why-not needs --program ID")):
        result = _explain(str(report_file), *args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
