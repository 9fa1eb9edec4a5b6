"""`signalwise policy fmt`: canonical key order (from the schemas) and indentation, comments kept, idempotent."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from signalwise.engine.authoring.fmt import fmt_files, fmt_targets, format_text, key_order
from signalwise.engine.policy.catalogue import bundled_root

from .conftest import run_cli as run

REPO = Path(__file__).resolve().parent.parent
IM = bundled_root() / "cycles" / "eras-2026" / "internal-medicine.yaml"


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if line.lstrip().startswith("#")]


def _scrambled(text: str) -> str:
    """The IM policy with its top-level blocks reversed, `sources` indented by four, and comments added."""
    data = yaml.safe_load(text)
    blocks: list[str] = []
    for key in reversed(list(data)):
        body = yaml.safe_dump({key: data[key]}, sort_keys=False, default_flow_style=False, width=1000)
        if key == "sources":
            body = body.replace("\n  ", "\n    ")
        blocks.append(f"# about {key}\n{body}")
    return "".join(blocks)


def test_the_bundled_policies_pass_fmt_check() -> None:
    result = run("policy", "fmt", "--check")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("files already formatted")


def test_fmt_is_idempotent_on_every_bundled_file() -> None:
    targets, problems = fmt_targets([bundled_root()])
    assert not problems and len(targets) > 100
    for result in fmt_files(targets):
        assert not result.changed, result.display
        assert format_text(result.new, result.display, dict(targets)[result.path]) == result.new


def test_the_key_order_is_the_schemas_property_order() -> None:
    schema = json.loads((REPO / "schemas" / "policy.schema.json").read_text(encoding="utf-8"))
    assert key_order(schema, schema) == list(schema["properties"])
    rule = schema["$defs"]["rule"]
    out = format_text("id: x\nrules:\n  - because: b\n    id: r\n    title: t\n", "x.yaml", "policy")
    assert out.index("id: r") < out.index("title: t") < out.index("because: b")
    assert list(rule["properties"]).index("title") < list(rule["properties"]).index("because")


def test_fmt_reorders_reindents_and_keeps_every_comment() -> None:
    original = IM.read_text(encoding="utf-8")
    messy = _scrambled(original)
    out = format_text(messy, "im.yaml", "policy")
    assert yaml.safe_load(out) == yaml.safe_load(original)
    assert list(yaml.safe_load(out)) == [k for k in yaml.safe_load(original)]  # canonical order
    assert sorted(_comments(out)) == sorted(_comments(messy))
    assert "\n  guide:\n    title:" in out  # two-space mappings again
    assert format_text(out, "im.yaml", "policy") == out


@settings(max_examples=15, deadline=None)
@given(st.permutations(list(yaml.safe_load(IM.read_text(encoding="utf-8")))))
def test_any_order_of_the_top_level_keys_formats_to_the_same_text(order: list[str]) -> None:
    data = yaml.safe_load(IM.read_text(encoding="utf-8"))
    text = yaml.safe_dump({k: data[k] for k in order}, sort_keys=False, width=1000)
    once = format_text(text, "im.yaml", "policy")
    canonical = format_text(yaml.safe_dump(data, sort_keys=False, width=1000), "im.yaml", "policy")
    assert once == canonical
    assert format_text(once, "im.yaml", "policy") == once


def test_fmt_keeps_null_and_quotes() -> None:
    text = 'id: x\ntitle: "quoted: yes"\nparameters:\n  p: {value: null, source: s}\n'
    out = format_text(text, "x.yaml", "policy")
    assert "value: null" in out and '"quoted: yes"' in out


def test_check_lists_and_diffs_without_writing_then_fmt_rewrites(policies: Path) -> None:
    path = policies / "cycles" / "eras-2026" / "internal-medicine.yaml"
    messy = _scrambled(path.read_text(encoding="utf-8"))
    path.write_text(messy, encoding="utf-8")
    check = run("policy", "fmt", "--check", "--policies", str(policies))
    assert check.exit_code == 1
    assert "cycles/eras-2026/internal-medicine.yaml: would reformat" in check.output
    assert "@@" in check.output and "+specialty: internal-medicine" in check.output
    assert "1 of" in check.output and path.read_text(encoding="utf-8") == messy
    data = json.loads(run("policy", "fmt", "--check", "--policies", str(policies), "--format", "json").output)
    assert [c["file"].rsplit("/", 1)[-1] for c in data["changed"]] == ["internal-medicine.yaml"]
    write = run("policy", "fmt", "--policies", str(policies))
    assert write.exit_code == 0 and "reformatted" in write.output
    assert path.read_text(encoding="utf-8") != messy
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == yaml.safe_load(messy)
    again = run("policy", "fmt", "--check", "--policies", str(policies))
    assert again.exit_code == 0, again.output
    assert run("policy", "validate", str(policies)).exit_code == 0


def test_fmt_refuses_invalid_yaml_with_file_and_line(policies: Path) -> None:
    path = policies / "guidance" / "core.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[6] = "title: [unclosed\n"
    path.write_text("".join(lines), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    result = run("policy", "fmt", str(path))
    assert result.exit_code == 2
    assert "guidance/core.yaml:" in result.output and "Traceback" not in result.output
    line = int(result.output.split("guidance/core.yaml:")[1].split(":")[0])
    assert 7 <= line <= 9
    assert path.read_text(encoding="utf-8") == before


def test_fmt_leaves_reference_data_and_the_baseline_alone(policies: Path) -> None:
    targets, _ = fmt_targets([policies / "lint-baseline.yaml", policies / "reference" / "specialties.yaml"])
    assert targets == []


def test_the_fmt_hook_runs_in_a_scratch_repository(tmp_path: Path, policies: Path) -> None:
    """The hook as pre-commit runs it: its entry plus the staged policy files, from the repository's top."""
    if shutil.which("git") is None or shutil.which("signalwise") is None:
        pytest.skip("git or the signalwise script is not on PATH")
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "signalwise-policy-fmt")
    assert hook["pass_filenames"] is True
    repo = tmp_path / "repo"
    shutil.copytree(policies, repo / "policies")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    im = repo / "policies" / "cycles" / "eras-2026" / "internal-medicine.yaml"
    im.write_text(_scrambled(im.read_text(encoding="utf-8")), encoding="utf-8")
    import re

    staged = [str(p.relative_to(repo)) for p in sorted((repo / "policies").rglob("*.yaml"))
              if re.search(hook["files"], str(p.relative_to(repo)))]
    assert "policies/lint-baseline.yaml" in staged  # pre-commit passes it too; fmt must leave it alone
    env = {**os.environ, "SIGNALWISE_TODAY": "2026-12-01"}
    cmd = shlex.split(hook["entry"]) + list(hook.get("args") or [])
    first = subprocess.run(cmd + staged, cwd=repo, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "policies/cycles/eras-2026/internal-medicine.yaml: reformatted" in first.stdout
    assert "1 of" in first.stdout
    second = subprocess.run(cmd + staged, cwd=repo, capture_output=True, text=True, env=env)
    assert second.returncode == 0 and "already formatted" in second.stdout
    assert (repo / "policies" / "lint-baseline.yaml").read_bytes() == (policies / "lint-baseline.yaml").read_bytes()


def test_real_pre_commit_runs_every_hook_definition_in_a_scratch_repository(tmp_path: Path, policies: Path) -> None:
    """pre-commit itself runs .pre-commit-hooks.yaml's hooks (as `language: system`, the installed signalwise
    standing in for the environment pre-commit would build): all pass on good policies, fmt rewrites a
    reordered file and fails the commit, validate fails on a typo."""
    if shutil.which("pre-commit") is None or shutil.which("git") is None or shutil.which("signalwise") is None:
        pytest.skip("pre-commit, git or the signalwise script is not on PATH")
    repo = tmp_path / "repo"
    shutil.copytree(policies, repo / "policies")
    hooks = [{**h, "language": "system"} for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())]
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}),
                                                   encoding="utf-8")
    env = {**os.environ, "SIGNALWISE_TODAY": "2026-12-01", "PRE_COMMIT_HOME": str(tmp_path / "pc-home"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)

    def pre_commit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pre-commit", "run", *args], cwd=repo, capture_output=True, text=True, env=env)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "policies")
    clean = subprocess.run(["pre-commit", "run", "--all-files"], cwd=repo, capture_output=True, text=True,
                           env={**env, "SKIP": "signalwise-policy-test"})  # the case run: test_policy_gate.py
    assert clean.returncode == 0, clean.stdout
    assert clean.stdout.count("Passed") == len(hooks) - 1 and "signalwise policy test" in clean.stdout
    urology = repo / "policies" / "cycles" / "eras-2026" / "urology.yaml"
    before = urology.read_text(encoding="utf-8")
    lines = before.splitlines(keepends=True)
    kind = next(x for x in lines if x.startswith("kind:"))
    urology.write_text("".join([x for x in lines if x != kind] + [kind]), encoding="utf-8")
    git("add", "-A")
    fmt = pre_commit("signalwise-policy-fmt")
    assert fmt.returncode == 1 and "files were modified by this hook" in fmt.stdout
    assert urology.read_text(encoding="utf-8") == before
    what = repo / "policies" / "guidance" / "what-not-to-signal.yaml"
    what.write_text(what.read_text(encoding="utf-8").replace("where: {fit: closed}", "where: {fit: reech}"),
                    encoding="utf-8")
    git("add", "-A")
    bad = pre_commit("signalwise-policy-validate")
    assert bad.returncode == 1 and "did you mean 'reach'?" in bad.stdout
