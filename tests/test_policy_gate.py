"""Issue 17: nothing unchecked gets out. Each problem the issue found, as a test that fails without the fix."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .conftest import edit
from .conftest import run_cli as run

TODAY = "2026-12-01"


@pytest.fixture()
def copied(policies: Path) -> Path:
    """The yearly update as an author starts it: eras-2026 copied to a fresh eras-2027, nothing reviewed."""
    for cycle in ("eras-2027", "eras-2028"):
        shutil.rmtree(policies / "cycles" / cycle)
    result = run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2027", "--policies", str(policies),
                 "--today", TODAY)
    assert result.exit_code == 0, result.output
    return policies


# ---------------------------------------------------------------- the verify step is enforced

def test_an_unreviewed_copy_fails_lint_strict_and_reviewing_every_number_clears_it(copied: Path) -> None:
    folder = copied / "cycles" / "eras-2027"
    im = folder / "internal-medicine.yaml"
    assert "review:\n  from: eras-2026.internal-medicine@" in im.read_text(encoding="utf-8")
    lint = run("policy", "lint", str(copied), "--strict", "--today", TODAY)
    assert lint.exit_code == 1
    assert "signals.tiers.silver.count: = 12 copied from eras-2026.internal-medicine@" in lint.output
    # the bundled baseline cannot accept an unreviewed number
    edit(im, "{name: silver, count: 12}", "{name: silver, count: 10}")
    partial = run("policy", "review", str(im), "--confirm", "signals.tiers.gold.count")
    assert partial.exit_code == 1
    assert "signals.tiers.silver.count: reviewed (changed)" in partial.output
    assert "home_rule.value: still pending" in partial.output
    for path in sorted(folder.glob("*.yaml")):
        done = run("policy", "review", str(path), "--confirm", "all")
        assert done.exit_code == 0, done.output
        assert "reviewed: true" in path.read_text(encoding="utf-8")
    again = run("policy", "lint", str(copied), "--strict", "--today", TODAY)
    assert "copied from" not in again.output


def _record_season_on_count_source(path: Path, cycle: str) -> None:
    """What a reviewer does on finding that the cited page names the new season: add it to the source's cycles."""
    import yaml

    text = path.read_text(encoding="utf-8")
    source = yaml.safe_load(text)["signals"]["source"]
    ref = source["ref"] if isinstance(source, dict) else source
    start = text.index(f"\n  {ref}:\n") + 1
    end = next((i for i in range(start + 1, len(text)) if text[i - 1] == "\n" and not text.startswith("   ", i)),
               len(text))
    block = text[start:end]
    if "    cycles: [" in block:
        block = block.replace("    cycles: [", f"    cycles: [{cycle}, ", 1)
    else:
        head, _, rest = block.partition("\n")
        block = f"{head}\n    cycles: [{cycle}]\n{rest}"
    path.write_text(text[:start] + block + text[end:], encoding="utf-8")


def test_a_reviewed_copy_passes_lint_strict_once_its_sources_name_the_season(copied: Path) -> None:
    """The yearly checklist end to end: review every number, record the season on each count's source; the
    accepted one-secondary-source findings travel with the copy (same source, same reason), the season ones
    do not (a reviewer must see them)."""
    baseline = (copied / "lint-baseline.yaml").read_text(encoding="utf-8")
    assert "file: cycles/eras-2027/pediatrics.yaml" in baseline
    assert "Carried from cycles/eras-2026/pediatrics.yaml by new-cycle on" in baseline
    folder = copied / "cycles" / "eras-2027"
    for path in sorted(folder.glob("*.yaml")):
        assert run("policy", "review", str(path), "--confirm", "all").exit_code == 0
    reviewed = run("policy", "lint", str(copied), "--strict", "--today", TODAY)
    assert reviewed.exit_code == 1
    assert "rests on one secondary [C] source" not in reviewed.output  # accepted: carried with its reason
    flagged = sorted({line.split(":")[0] for line in reviewed.output.splitlines()
                      if "which is not recorded as naming eras-2027" in line})
    assert flagged, reviewed.output
    for name in flagged:
        _record_season_on_count_source(Path(name) if Path(name).is_absolute() else copied.parent / name, "eras-2027")
    clean = run("policy", "lint", str(copied), "--strict", "--today", TODAY)
    assert clean.exit_code == 0, clean.output
    assert "0 errors, 0 warnings" in clean.output


def test_review_refuses_a_number_that_is_not_pending(copied: Path) -> None:
    im = copied / "cycles" / "eras-2027" / "internal-medicine.yaml"
    result = run("policy", "review", str(im), "--confirm", "signals.tiers.gold.cont")
    assert result.exit_code == 2
    assert "did you mean 'signals.tiers.gold.count'?" in result.output


def test_every_report_on_an_unreviewed_number_starts_with_a_warning_until_reviewed(copied: Path,
                                                                                  tmp_path: Path) -> None:
    ex = Path(__file__).resolve().parent.parent / "examples" / "gold-silver-im"
    profile = tmp_path / "profile.yaml"
    profile.write_text((ex / "profile.yaml").read_text(encoding="utf-8").replace("eras-2026", "eras-2027"),
                       encoding="utf-8")
    args = ("evaluate", "--profile", str(profile), "--programs", str(ex / "programs.csv"), "--policies", str(copied))
    before = run(*args)
    assert before.exit_code == 0, before.output
    assert "reviewed: false" in before.output.splitlines()[0] or "reviewed: false" in before.output
    assert "warning" in before.output.splitlines()[0].lower()
    run("policy", "review", str(copied / "cycles" / "eras-2027" / "internal-medicine.yaml"), "--confirm", "all")
    after = run(*args)
    assert "reviewed: false" not in after.output


# ---------------------------------------------------------------- lint as a CI gate

def test_the_bundled_policies_pass_lint_strict_with_their_baseline() -> None:
    result = run("policy", "lint", "--strict", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert "accepted by the baseline" in result.output


def test_a_warning_the_baseline_does_not_accept_fails_strict_and_a_stale_entry_is_reported(policies: Path) -> None:
    baseline = policies / "lint-baseline.yaml"
    text = baseline.read_text(encoding="utf-8")
    first = text.index("  - file:")
    second = text.index("  - file:", first + 1)
    baseline.write_text(text[:first] + text[second:], encoding="utf-8")  # drop one accepted finding
    result = run("policy", "lint", str(policies), "--strict", "--today", TODAY)
    assert result.exit_code == 1
    assert "1 warning" in result.output
    baseline.write_text(text + "  - file: cycles/eras-2026/nowhere.yaml\n    message: gone\n    reason: was once\n",
                        encoding="utf-8")
    stale = run("policy", "lint", str(policies), "--strict", "--today", TODAY)
    assert stale.exit_code == 1
    assert "lint-baseline.yaml:" in stale.output and "which lint no longer finds" in stale.output


def test_a_baseline_entry_needs_a_reason(policies: Path) -> None:
    baseline = policies / "lint-baseline.yaml"
    baseline.write_text(baseline.read_text(encoding="utf-8")
                        + "  - file: cycles/eras-2026/x.yaml\n    message: something\n", encoding="utf-8")
    result = run("policy", "lint", str(policies), "--today", TODAY)
    assert result.exit_code == 1
    assert "needs reason" in result.output


# ---------------------------------------------------------------- cycles cross-checked

def test_an_overlapping_effective_window_fails_validate_at_the_later_file(policies: Path) -> None:
    path = policies / "cycles" / "eras-2027" / "internal-medicine.yaml"
    text = path.read_text(encoding="utf-8")
    assert "from: 2026-06-03" in text
    line = edit(path, "from: 2026-06-03", "from: 2026-05-01")
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2
    assert (f"cycles/eras-2027/internal-medicine.yaml:{line}: effective: eras-2027.internal-medicine opens on "
            "2026-05-01, before eras-2026.internal-medicine ends on 2026-05-31") in result.output


def test_a_wrong_match_year_fails_validate_and_lint_blames_the_right_file(policies: Path) -> None:
    path = policies / "cycles" / "eras-2028" / "internal-medicine.yaml"
    line = edit(path, "match_year: 2028", "match_year: 2026")
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2
    assert f"eras-2028/internal-medicine.yaml:{line}: match_year: 2026 disagrees with cycle 'eras-2028'" \
        in result.output
    assert "write `match_year: 2028`" in result.output
    lint = run("policy", "lint", str(policies), "--today", "2028-07-01")
    assert "eras-2027/internal-medicine.yaml" not in "\n".join(
        x for x in lint.output.splitlines() if "is the newest policy for internal-medicine" in x)


# ---------------------------------------------------------------- literals against the vocabulary

@pytest.mark.parametrize(("file", "old", "new", "said"), [
    ("what-not-to-signal.yaml", "where: {fit: closed}", "where: {fit: reech}", "did you mean 'reach'?"),
    ("program-fit.yaml", "setting: {in: [community, university-affiliated]}",
     "setting: {in: [comunity, university-affiliated]}", "did you mean 'community'?"),
])
def test_a_literal_outside_its_fields_vocabulary_fails_validate(policies: Path, file: str, old: str, new: str,
                                                                said: str) -> None:
    line = edit(policies / "guidance" / file, old, new)
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2
    hit = [x for x in result.output.splitlines() if f"guidance/{file}:{line}:" in x]
    assert hit and said in hit[0], result.output


def test_a_literal_of_the_wrong_type_or_range_fails_validate(policies: Path) -> None:
    path = policies / "guidance" / "program-fit.yaml"
    edit(path, "setting: {in: [community, university-affiliated]}",
         "setting: {in: [community, university-affiliated]}\n          interest: {gte: 7}")
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2
    assert "'program.interest' ranges over 1 to 5; '7' is outside it" in result.output


# ---------------------------------------------------------------- machine-readable output

@pytest.mark.parametrize("command", [("validate",), ("lint", "--today", TODAY, "--strict"), ("test", "-k", "strong")])
def test_validate_lint_and_test_write_junit_xml(command: tuple[str, ...]) -> None:
    result = run("policy", *command, "--format", "junit")
    root = ET.fromstring(result.output)
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert cases and int(root.get("tests") or 0) == len(cases)
    assert root.get("failures") == "0"


def test_junit_marks_each_failing_file(policies: Path) -> None:
    edit(policies / "guidance" / "what-not-to-signal.yaml", "where: {fit: closed}", "where: {fit: reech}")
    result = run("policy", "validate", str(policies), "--format", "junit")
    assert result.exit_code == 2
    root = ET.fromstring(result.output)
    failed = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == [next(c.get("name") for c in failed)]
    assert str(failed[0].get("name")).endswith("guidance/what-not-to-signal.yaml")


def test_test_k_prints_a_coverage_line() -> None:
    result = run("policy", "test", "-k", "strong")
    assert result.exit_code == 0, result.output
    assert "coverage:" in result.output and "(of the cases matching -k 'strong')" in result.output


# ---------------------------------------------------------------- pre-commit

def test_the_pre_commit_hooks_are_defined_for_validate_lint_and_fmt() -> None:
    import yaml

    hooks = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"]: h for h in hooks}
    assert {"signalwise-policy-validate", "signalwise-policy-lint", "signalwise-policy-fmt"} <= set(ids)
    for h in hooks:
        assert h["entry"].startswith("signalwise policy ")
        # checks of the whole root take no file names; fmt formats the files pre-commit passes
        assert h["language"] == "python" and h["pass_filenames"] is (h["id"] == "signalwise-policy-fmt")


def test_the_pre_commit_hooks_run_in_a_scratch_repository(tmp_path: Path, policies: Path) -> None:
    """Each hook's entry, run the way pre-commit runs it (from the repository's top), passes on good policies
    and fails on a broken one."""
    import shlex

    import yaml

    if shutil.which("git") is None or shutil.which("signalwise") is None:
        pytest.skip("git or the signalwise script is not on PATH")
    repo = tmp_path / "repo"
    shutil.copytree(policies, repo / "policies")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    hooks = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    env = {**__import__("os").environ, "SIGNALWISE_TODAY": TODAY}
    for h in hooks:
        if h["pass_filenames"]:
            continue  # tests/test_policy_fmt.py runs the fmt hook with file names
        cmd = shlex.split(h["entry"]) + list(h.get("args") or [])
        ok = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env)
        assert ok.returncode == 0, (h["id"], ok.stdout, ok.stderr)
    edit(repo / "policies" / "guidance" / "what-not-to-signal.yaml", "where: {fit: closed}", "where: {fit: reech}")
    validate = next(h for h in hooks if h["id"] == "signalwise-policy-validate")
    bad = subprocess.run(shlex.split(validate["entry"]) + list(validate.get("args") or []), cwd=repo,
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "did you mean 'reach'?" in bad.stdout + bad.stderr


# ---------------------------------------------------------------- editor support

def test_the_documented_schema_paths_resolve_after_schema_export(policies: Path) -> None:
    import json
    import re

    import jsonschema
    from signalwise.engine.load.yamlsafe import load_yaml_text

    doc = (Path(__file__).resolve().parent.parent / "docs" / "policy-authoring.md").read_text(encoding="utf-8")
    export = re.search(r"\$ signalwise schema export (\S+)", doc)
    assert export is not None
    out = run("schema", "export", str(policies.parent / export.group(1)))
    assert out.exit_code == 0, out.output
    rows = re.findall(r"^\| `policies/([^`]+)`[^|]*\| `# yaml-language-server: \$schema=([^`]+)` \|$", doc, re.M)
    assert len(rows) == 3
    examples = {"cycles/<cycle>/<specialty>.yaml": "cycles/eras-2026/internal-medicine.yaml",
                "guidance/*.yaml": "guidance/core.yaml", "tests/*.yaml": "tests/catalogue.yaml"}
    for pattern, rel in rows:
        target = policies / examples[pattern]
        schema_path = (target.parent / rel).resolve()
        assert schema_path.is_file(), (pattern, rel)
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        data, _ = load_yaml_text(target.read_text(encoding="utf-8"), str(target))  # dates stay text
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)


def test_every_program_field_and_the_review_block_have_descriptions() -> None:
    import json
    from importlib.resources import files

    program = json.loads(files("signalwise.schemas").joinpath("program.schema.json").read_text(encoding="utf-8"))
    assert [k for k, v in program["properties"].items() if not v.get("description")] == []
    assert "rotation" in program["properties"]["rotated"]["description"]
    policy = json.loads(files("signalwise.schemas").joinpath("policy.schema.json").read_text(encoding="utf-8"))
    assert policy["properties"]["review"]["description"]


def _undescribed(node: Any, where: str, root: dict[str, Any]) -> list[str]:
    """Every property under `node` (nested objects, items, alternatives, $defs) without a description."""
    out: list[str] = []
    if isinstance(node, dict):
        for name, spec in (node.get("properties") or {}).items():
            target = spec
            if isinstance(spec, dict) and set(spec) == {"$ref"} and spec["$ref"].startswith("#/"):
                target = root
                for step in spec["$ref"][2:].split("/"):
                    target = target.get(step, {})
            if not (isinstance(target, dict) and str(target.get("description") or "").strip()):
                out.append(f"{where}/properties/{name}")
        for key, value in node.items():
            if key in ("properties", "$defs", "patternProperties"):
                for name, sub in value.items():
                    out += _undescribed(sub, f"{where}/{key}/{name}", root)
            elif key in ("items", "additionalProperties", "then", "else") and isinstance(value, dict):
                out += _undescribed(value, f"{where}/{key}", root)
            elif key in ("oneOf", "anyOf", "allOf", "prefixItems"):
                for i, sub in enumerate(value):
                    out += _undescribed(sub, f"{where}/{key}/{i}", root)
    return out


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parent.parent / "schemas")
                                        .glob("*.schema.json")))
def test_every_field_of_every_schema_has_a_description(name: str) -> None:
    import json

    schema = json.loads((Path(__file__).resolve().parent.parent / "schemas" / name).read_text(encoding="utf-8"))
    assert _undescribed(schema, "#", schema) == []


def test_the_description_walk_finds_a_field_without_one() -> None:
    schema = {"properties": {"a": {"type": "object", "description": "x",
                                   "properties": {"b": {"type": "string"}}}},
              "$defs": {"d": {"properties": {"c": {"$ref": "#/$defs/e"}}}, "e": {"type": "string"}}}
    assert _undescribed(schema, "#", schema) == ["#/properties/a/properties/b", "#/$defs/d/properties/c"]


def test_linting_one_file_judges_only_that_files_baseline_entries(policies: Path) -> None:
    """A pre-commit run lints the files that changed: the other files' accepted findings are not stale."""
    result = run("policy", "lint", str(policies / "cycles" / "eras-2026" / "urology.yaml"), "--strict",
                 "--today", TODAY)
    assert "which lint no longer finds" not in result.output, result.output
    assert result.exit_code == 0, result.output
    baseline = policies / "lint-baseline.yaml"
    baseline.write_text(baseline.read_text(encoding="utf-8") + "  - file: cycles/eras-2026/urology.yaml\n"
                        "    message: something lint never says\n    reason: a stale entry\n", encoding="utf-8")
    stale = run("policy", "lint", str(policies / "cycles" / "eras-2026" / "urology.yaml"), "--today", TODAY)
    assert "accepts 'something lint never says' in cycles/eras-2026/urology.yaml, which lint no longer finds" \
        in stale.output
