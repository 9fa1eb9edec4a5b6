"""HTML pages come from Jinja2 templates; an advising office brands them with --template DIR.

The bundled templates ship with the package; a template folder overrides any file and falls back to the
bundled ones for the rest; a broken folder (missing, a syntax error, an unknown name) is the user's input
error: exit 2 with the file and line, no traceback. Rendering stays byte-deterministic and escaped.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.render import render_report
from signalwise.engine.render.templating import BUNDLED

from .conftest import EXAMPLES, ROOT, example_args, run_cli

BRANDED = ROOT / "tests" / "templates" / "branded"
GSI = EXAMPLES / "gold-silver-im"
BRAND = '<div class="brand" role="banner"><span class="brand-name">Lakeside Advising Office</span>'


def _evaluate_html(tmp_path: Path, *extra: str, name: str = "strong-im") -> Any:
    out = tmp_path / "plan.html"
    result = run_cli("evaluate", *example_args(name), "--format", "html", "-o", str(out), *extra)
    return result, (out.read_text(encoding="utf-8") if out.exists() else "")


def _track_html(tmp_path: Path, *extra: str) -> Any:
    out = tmp_path / "season.html"
    result = run_cli("track", "--log", str(GSI / "interview-log.csv"), "--programs", str(GSI / "programs.csv"),
                     "--specialty", "internal-medicine", "--cycle", "eras-2026", "--as-of", "2025-11-15",
                     "--target", "12", "--format", "html", "-o", str(out), *extra)
    return result, (out.read_text(encoding="utf-8") if out.exists() else "")


def test_every_bundled_template_is_package_data() -> None:
    """A non-editable install finds the templates only if pyproject ships them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["signalwise.engine.render"]
    assert "jinja2" in " ".join(config["project"]["dependencies"])
    files = sorted(p.relative_to(BUNDLED.parent).as_posix() for p in BUNDLED.rglob("*") if p.is_file())
    assert {"templates/base.html.j2", "templates/report.html.j2", "templates/track.html.j2",
            "templates/init/profile.yaml", "templates/init/shortlist.yaml"} <= set(files)
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not unshipped, f"templates not in package-data: {unshipped}"


def test_evaluate_and_track_pages_share_the_layout_and_stylesheet(tmp_path: Path) -> None:
    _, report = _evaluate_html(tmp_path)
    _, season = _track_html(tmp_path)
    style = re.compile(r"<style>.*?</style>", re.S)
    assert style.search(report) and style.search(report).group() == style.search(season).group()  # type: ignore[union-attr]
    for page in (report, season):
        assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">") and page.endswith("</body>\n</html>\n")
        assert "Content-Security-Policy" in page and "<script" not in page


def test_a_branded_template_dir_brands_both_pages_and_falls_back_for_the_rest(tmp_path: Path) -> None:
    plain_result, plain = _evaluate_html(tmp_path)
    result, branded = _evaluate_html(tmp_path, "--template", str(BRANDED))
    assert plain_result.exit_code == 0 and result.exit_code == 0, result.output
    assert BRAND in branded and "prepared for Signal plan: Internal medicine" in branded
    assert ".brand { background: #12395b;" in branded
    assert BRAND not in plain and "Lakeside" not in plain
    # only the office's files differ: everything else came from the bundled templates
    brand_lines = {ln for ln in branded.splitlines() if ln not in plain.splitlines()}
    assert all("brand" in ln or "#12395b" in ln for ln in brand_lines), brand_lines
    t_result, season = _track_html(tmp_path, "--template", str(BRANDED))
    assert t_result.exit_code == 0, t_result.output
    assert BRAND in season and "prepared for Interview season as of 2025-11-15" in season
    assert '<section id="pace">' in season


def test_explain_and_compare_pages_use_the_same_templates(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert run_cli("evaluate", *example_args("strong-im"), "--format", "json", "-o", str(plan)).exit_code == 0
    program = json.loads(plan.read_text())["programs"][0]["id"]
    out = tmp_path / "explain.html"
    result = run_cli("explain", str(plan), "--program", program, "--format", "html", "-o", str(out),
                     "--template", str(BRANDED))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert BRAND in page and '<section id="explanation"><pre class="explanation">' in page
    assert "--ink: #1d1d1f" in page


@pytest.mark.parametrize("command", ["evaluate", "track", "batch", "compare", "explain"])
def test_every_command_with_html_takes_template(command: str) -> None:
    result = run_cli(command, "--help")
    assert "--template DIR" in result.output and "html" in result.output


def _broken(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "office"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("page", ["evaluate", "track"])
@pytest.mark.parametrize(("name", "text", "line", "message"), [
    ("brand.html.j2", "<div>\n<p>{% if title %}unclosed</p>\n", 2, "template syntax error: Unexpected end of template"),
    ("brand.html.j2", "<div>\n<p>{{ office_name }}</p>\n</div>\n", 2,
     "the template uses a name the page does not have: 'office_name' is undefined"),
    ("footer.html.j2", "<footer>\n{{ title.missing_attribute }}\n</footer>\n", 2, "missing_attribute"),
])
def test_a_broken_template_is_an_input_error_with_file_and_line(tmp_path: Path, page: str, name: str, text: str,
                                                                 line: int, message: str) -> None:
    folder = _broken(tmp_path, name, text)
    run = _evaluate_html if page == "evaluate" else _track_html
    result, written = run(tmp_path, "--template", str(folder))
    assert result.exit_code == 2, result.output
    assert f"{folder / name}:{line}: " in result.output and message in result.output
    assert "Traceback" not in result.output and written == ""


def test_a_missing_template_dir_is_an_input_error(tmp_path: Path) -> None:
    result, written = _evaluate_html(tmp_path, "--template", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and f"{tmp_path / 'nowhere'}: template folder not found" in result.output
    assert written == "" and "Traceback" not in result.output


def test_templates_that_include_each_other_in_a_circle_are_an_input_error(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "brand.html.j2", '<div>{% include "footer.html.j2" %}</div>\n')
    (folder / "footer.html.j2").write_text('<footer>{% include "brand.html.j2" %}</footer>\n', encoding="utf-8")
    result, written = _evaluate_html(tmp_path, "--template", str(folder))
    assert result.exit_code == 2, result.output
    assert f"{folder}: the templates include or extend each other in a circle" in result.output
    assert "Traceback" not in result.output and written == ""


def test_an_office_template_cannot_reach_into_python(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "brand.html.j2", "{{ title.__class__.__mro__ }}\n")
    result, written = _evaluate_html(tmp_path, "--template", str(folder))
    assert result.exit_code == 2 and "brand.html.j2" in result.output and written == ""


def test_templated_html_is_deterministic_and_escaped(reports: dict[str, dict[str, Any]]) -> None:
    report = json.loads(json.dumps(reports["strong-im"]))
    report["programs"][0]["name"] = "<script>alert('x')</script> & Co"
    first = render_report(report, "html", template_dir=str(BRANDED))
    assert first == render_report(report, "html", template_dir=str(BRANDED))
    assert "<script>" not in first and "&lt;script&gt;" in first


def test_batch_brands_every_applicants_page(tmp_path: Path) -> None:
    import shutil

    cohort = tmp_path / "cohort" / "sam"
    cohort.mkdir(parents=True)
    for name in ("profile.yaml", "programs.csv"):
        shutil.copy(EXAMPLES / "strong-im" / name, cohort / name)
    out = tmp_path / "reports"
    result = run_cli("batch", str(tmp_path / "cohort"), "-o", str(out), "--workers", "1", "--format", "html",
                     "--template", str(BRANDED))
    assert result.exit_code == 0, result.output
    page = (out / "sam.html").read_text(encoding="utf-8")
    assert BRAND in page and '<section id="programs">' in page
    # the office edits its header: the report is redone, not reused as up to date
    office = tmp_path / "office"
    shutil.copytree(BRANDED, office)
    args = ("batch", str(tmp_path / "cohort"), "-o", str(out), "--workers", "1", "--format", "html",
            "--template", str(office))
    assert run_cli(*args).exit_code == 0
    (office / "brand.html.j2").write_text('<div class="brand">Hillside Advising</div>\n', encoding="utf-8")
    again = run_cli(*args)
    assert again.exit_code == 0 and "1 evaluated" in again.output, again.output
    assert '<div class="brand">Hillside Advising</div>' in (out / "sam.html").read_text(encoding="utf-8")
