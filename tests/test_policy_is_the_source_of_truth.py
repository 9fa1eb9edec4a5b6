"""No guidance number lives in Python: editing a policy file changes the plan, and the compiled form is
a stable, reviewable snapshot (regenerate with
SIGNALWISE_UPDATE_GOLDEN=1 pytest tests/test_policy_is_the_source_of_truth.py).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from signalwise.engine.policy.catalogue import Catalogue, bundled_root
from signalwise.engine.policy.compiler import compile_stages, to_ir

from .conftest import example_args, run_cli

GOLDEN = Path(__file__).parent / "golden"


def copied_policies(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def plan(root: Path | None, name: str = "strong-im") -> dict[str, int]:
    extra = ["--policies", str(root)] if root else []
    result = run_cli("evaluate", *example_args(name), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    sig = json.loads(result.output)["signals"][0]
    return {fit: n for fit, n in sig["by_fit"].items() if n}


def test_changing_a_ratio_in_yaml_changes_the_plan(tmp_path: Path) -> None:
    root = copied_policies(tmp_path)
    path = root / "guidance" / "allocation.yaml"
    text = path.read_text()
    old = "quota: {reach: {min: 2, max: 2}, target: {min: 3, max: 4}, safety: {min: 1, max: 2}}"
    assert old in text
    path.write_text(text.replace(old, "quota: {reach: {min: 1, max: 1}, target: {min: 3, max: 3}, "
                                      "safety: {min: 3, max: 3}}", 1))
    assert plan(None) == {"reach": 2, "target": 4, "safety": 1}
    assert plan(root) == {"reach": 1, "target": 3, "safety": 3}


def test_changing_a_threshold_in_yaml_changes_the_tier(tmp_path: Path) -> None:
    root = copied_policies(tmp_path)
    path = root / "guidance" / "applicant-tier.yaml"
    text = path.read_text()
    path.write_text(text.replace("step2_near_band:\n    value: 5", "step2_near_band:\n    value: 10", 1))
    result = run_cli("evaluate", *example_args("strong-im"), "--format", "json", "--policies", str(root))
    assert json.loads(result.output)["applicant"]["tier"] == "moderate"


def test_compiled_ruleset_matches_the_reviewed_snapshot() -> None:
    ps = Catalogue(bundled_root()).policy_set("eras-2026", "internal-medicine", allow_missing_specialty=False,
                                              where=("x", None))
    snapshot = {"ir": to_ir(ps), "durable": {s.name: s.definition for s in compile_stages(ps)}}
    text = json.dumps(snapshot, indent=1, sort_keys=True) + "\n"
    golden = GOLDEN / "compiled-eras-2026-internal-medicine.json"
    if os.environ.get("SIGNALWISE_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.read_text() == text, "compiled form changed: review, then regenerate the snapshot"


# --- the glossary lives in policies, each entry with its source ---------------------------------------

def test_every_gloss_cites_the_guide_or_is_labelled_a_signalwise_definition() -> None:
    import yaml

    data = yaml.safe_load((bundled_root() / "guidance" / "messages.yaml").read_text(encoding="utf-8"))
    sources = data["sources"]
    assert len(data["glossary"]) >= 20
    for entry in data["glossary"]:
        src = entry["source"] if isinstance(entry["source"], dict) else {"ref": entry["source"]}
        if sources[src["ref"]]["reliability"] == "assumption":
            assert "signalwise definition" in sources[src["ref"]]["title"], entry["term"]
        else:
            assert src["ref"] == "guide" and src.get("at"), entry["term"]
            assert src["at"].startswith(GUIDE_HEADINGS), (entry["term"], src["at"])  # a heading of the guide


GUIDE_HEADINGS = ("opening paragraph", "Understanding Preference Signaling: What It Is and Why It Matters",
                  "Key Terms to Know",
                  "Step 1: Clarify Your Application Profile",
                  "Step 2: Understand Program Tiers for You (Not in General)",
                  "1. Map Your Application Geography & Constraints")


def test_a_gloss_without_a_source_or_passage_is_refused(tmp_path: Path) -> None:
    root = copied_policies(tmp_path)
    path = root / "guidance" / "messages.yaml"
    text = path.read_text(encoding="utf-8")
    cited = '    source: {ref: guide, at: "Step 2: Understand Program Tiers for You (Not in General), Safety programs"}'
    assert cited in text
    path.write_text(text.replace(cited, "    source: guide"), encoding="utf-8")
    result = run_cli("policy", "validate", str(root))
    assert result.exit_code == 2, result.output
    assert "messages.yaml" in result.output and "'safety' cites guide without saying where" in result.output
    path.write_text(text.replace(cited, ""), encoding="utf-8")
    result = run_cli("policy", "validate", str(root))
    assert result.exit_code == 2, result.output
    assert "glossary" in result.output and "source" in result.output


def test_the_reports_glossary_comes_from_the_policy(tmp_path: Path) -> None:
    root = copied_policies(tmp_path)
    path = root / "guidance" / "messages.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("a historically IMG-friendly program, often community-based",
                                 "a program that often takes IMGs"), encoding="utf-8")
    result = run_cli("evaluate", *example_args("strong-im"), "--format", "md", "--policies", str(root))
    assert result.exit_code == 0, result.output
    assert "- **safety**: a program that often takes IMGs" in result.output
    report = json.loads(run_cli("evaluate", *example_args("strong-im"), "--format", "json").output)
    safety = next(g for g in report["glossary"] if g["term"] == "safety")
    assert "Safety programs" in safety["source"]


def test_no_gloss_or_engine_sentence_is_written_in_python() -> None:
    import yaml

    data = yaml.safe_load((bundled_root() / "guidance" / "messages.yaml").read_text(encoding="utf-8"))
    code = "\n".join(p.read_text(encoding="utf-8") for d in ("engine", "cli")
                     for p in (Path(__file__).parent.parent / d).rglob("*.py"))
    for entry in data["glossary"]:
        assert entry["text"][:40] not in code, entry["term"]
    for key, text in data["messages"].items():  # the engine's own sentences, e.g. the rate caveats
        assert len(text) < 30 or text[:40] not in code, key


def test_an_allocation_decision_without_a_source_is_refused(tmp_path: Path) -> None:
    root = copied_policies(tmp_path)
    path = root / "guidance" / "messages.yaml"
    text = path.read_text(encoding="utf-8")
    line = "  allocation.covered: signalwise-choice\n"
    assert line in text
    path.write_text(text.replace(line, ""), encoding="utf-8")
    result = run_cli("policy", "validate", str(root))
    assert result.exit_code == 2, result.output
    assert "message_sources.allocation.covered: missing: every allocation decision names its source" in result.output
    path.write_text(text.replace(line, "  allocation.covered: nowhere\n"), encoding="utf-8")
    result = run_cli("policy", "validate", str(root))
    assert result.exit_code == 2 and "unknown source 'nowhere'" in result.output, result.output
