"""docs/performance.md and docs/optimizer.md's solve-time table are generated from the benchmark results
(bench/results/latest.json, resume.json): no figure is written by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import render_docs

NUMBER = re.compile(r"(?<![\w.\-])\d[\d,]*(?:\.\d+)?(?![\w])")


def prose(text: str) -> str:
    """Text without fenced code blocks, code spans, HTML comments and placeholders: what a reader takes
    as statements (commands and file names may hold digits)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return render_docs.PLACEHOLDER.sub(" ", text)


def test_the_pages_are_what_the_results_give() -> None:
    for path, text in render_docs.expected().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} differs from what bench/results give: run `python -m bench.render_docs`")


def test_the_template_states_no_number_of_its_own() -> None:
    numbers = NUMBER.findall(prose(render_docs.TEMPLATE.read_text(encoding="utf-8")))
    assert numbers == [], f"hand-written figures in bench/templates/performance.md: {numbers}"


def test_the_number_check_can_fail(tmp_path: Path) -> None:
    text = render_docs.TEMPLATE.read_text(encoding="utf-8") + "\nIt runs in 24.3 s, 41 applicants per second.\n"
    assert NUMBER.findall(prose(text)) == ["24.3", "41"]
    assert NUMBER.findall(prose("`python -m bench --repeat 3` and {{floor_ms}}")) == []


def test_every_placeholder_has_a_value_from_the_results() -> None:
    latest, _ = render_docs.load()
    names = set(render_docs.PLACEHOLDER.findall(render_docs.TEMPLATE.read_text(encoding="utf-8")))
    values = render_docs.values(latest)
    missing = sorted(n for n in names if not n.startswith("block:") and n not in values)
    assert missing == []


def test_the_generated_numbers_change_with_the_results() -> None:
    latest, resume = render_docs.load()
    before = render_docs.performance(latest, resume)
    latest["cold"]["evaluate_200"]["wall"]["median"] *= 3
    after = render_docs.performance(latest, resume)
    assert before != after
    assert render_docs.values(latest)["eval200_ratio"] in after


def test_the_optimizer_table_comes_from_the_results() -> None:
    latest, _ = render_docs.load()
    table = render_docs.optimizer_table(latest)
    doc = render_docs.OPTIMIZER.read_text(encoding="utf-8")
    assert table in doc
    assert latest["optimizer"], "no optimizer timings in the results"
    for key, o in latest["optimizer"].items():
        assert f"| {o['programs']:,} |" in table, key


@pytest.mark.parametrize("flag", ["--check"])
def test_render_docs_check_mode_passes_on_the_committed_pages(flag: str) -> None:
    assert render_docs.main([flag]) == 0
