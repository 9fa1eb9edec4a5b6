"""`signalwise init DIR`: a commented profile and a shortlist template that evaluate as written, never
overwriting a file; docs/applicant-guide.md covers every field of both."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from signalwise.engine.load.schemas import load_schema

from .conftest import ROOT, run_cli

GUIDE = ROOT / "docs" / "applicant-guide.md"


def _leaves(schema: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, spec in schema.get("properties", {}).items():
        if spec.get("type") == "object" and spec.get("properties"):
            out += _leaves(spec, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


def _plan(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(p["id"], p["decision"], p["fit"], p.get("score")) for p in report["programs"]]


def test_init_writes_files_that_evaluate_to_the_same_plan_from_csv_and_xlsx(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "sam"  # created, parents too
    result = run_cli("init", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", "profile.yaml", "programs.csv",
                                                        "programs.xlsx"]
    assert f"signalwise evaluate --profile {folder / 'profile.yaml'} --programs {folder / 'programs.xlsx'}" \
        in result.stdout
    plans = []
    for sheet in ("programs.csv", "programs.xlsx"):
        out = run_cli("evaluate", "--profile", str(folder / "profile.yaml"), "--programs", str(folder / sheet),
                      "--format", "json")
        assert out.exit_code == 0, out.output
        report = json.loads(out.stdout)
        assert report["programs"][0]["name"].startswith("Example Fictional Hospital")
        plans.append((_plan(report), report["signals"]))
    assert plans[0] == plans[1]
    assert plans[0][0][0][1] != "excluded"  # the example row is a usable program, not a closed one


def test_profile_has_a_comment_for_every_field_and_fictional_values(tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path)).exit_code == 0
    text = (tmp_path / "profile.yaml").read_text(encoding="utf-8")
    assert "FICTIONAL EXAMPLE" in text.splitlines()[1]
    lines = text.splitlines()
    for field in _leaves(load_schema("profile")):
        key = field.rsplit(".", 1)[-1]
        at = [i for i, ln in enumerate(lines) if re.match(rf"\s*(# )?{key}:", ln)]
        assert at, f"profile.yaml does not show {field}"
        above = lines[at[0] - 1].strip()
        assert above.startswith("#") and len(above) > 20, f"{field} has no comment above it"
    assert yaml.safe_load(text)["applicant"]["graduate_type"] == "us-img"


def test_shortlist_headers_have_notes_in_the_workbook_and_the_readme(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    assert run_cli("init", str(tmp_path)).exit_code == 0
    header = (tmp_path / "programs.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert set(header) == set(load_schema("program")["properties"])
    ws = load_workbook(tmp_path / "programs.xlsx").active
    cells = list(ws[1])
    assert [c.value for c in cells] == header
    assert all(c.comment is not None and len(c.comment.text) > 20 for c in cells)
    assert "Required" in cells[0].comment.text
    readme = (tmp_path / "README.txt").read_text(encoding="utf-8")
    for column in header:
        assert re.search(rf"^{column}\s+\S", readme, re.M), f"README.txt has no note for {column}"
    assert "FICTIONAL EXAMPLE" in readme and [c.value for c in ws[2]][0] == "EXAMPLE-01"


def test_init_never_overwrites_and_says_which_file(tmp_path: Path) -> None:
    (tmp_path / "programs.csv").write_text("id,name,state\nMINE-1,My own list,OH\n", encoding="utf-8")
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 2
    assert f"{tmp_path / 'programs.csv'}: already exists" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["programs.csv"]  # nothing else written either
    assert (tmp_path / "programs.csv").read_text(encoding="utf-8").startswith("id,name,state\nMINE-1")


def test_applicant_guide_covers_init_and_every_profile_field_and_column() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    assert "signalwise init" in guide
    for field in _leaves(load_schema("profile")):
        key = field.rsplit(".", 1)[-1]
        assert f"`{field}`" in guide or f"`{key}`" in guide, f"docs/applicant-guide.md does not explain {field}"
    for column in load_schema("program")["properties"]:
        assert f"`{column}`" in guide, f"docs/applicant-guide.md does not explain the column {column}"
