"""Shared fixtures: paths to the bundled examples and a helper to evaluate through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from signalwise.cli.main import cli
from signalwise.engine.policy.catalogue import bundled_root

# Reports depend on today's date (the default cycle, an ended profile cycle): fix it for reproducible tests.
os.environ.setdefault("SIGNALWISE_TODAY", "2026-12-01")
# The policy cache (engine/policy/cache.py) of the tests lives in a private folder: the suite never reads or
# writes the user's own cache, and child processes started by tests inherit the setting.
os.environ["SIGNALWISE_CACHE_DIR"] = tempfile.mkdtemp(prefix="signalwise-test-cache-")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = ("strong-im", "moderate-fm", "at-risk-im", "gold-silver-im")


def example_args(name: str) -> list[str]:
    return ["--profile", str(EXAMPLES / name / "profile.yaml"), "--programs", str(EXAMPLES / name / "programs.csv")]


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def policies(tmp_path: Path) -> Path:
    """A private copy of the bundled policies (with their test cases) to edit or break."""
    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first `old` with `new` in a file; return the line where `new` starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return text[:at].count("\n") + 1


def evaluate_json(name: str, *extra: str) -> dict[str, Any]:
    result = run_cli("evaluate", *example_args(name), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


@pytest.fixture(scope="session")
def reports() -> dict[str, dict[str, Any]]:
    return {name: evaluate_json(name) for name in EXAMPLE_NAMES}
