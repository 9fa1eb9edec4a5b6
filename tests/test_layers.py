"""The stage layering is a checked contract: `lint-imports` passes on the tree and fails on each kind of breach.

The contracts live in pyproject.toml (`[tool.importlinter]`); docs/architecture.md ("Layers") explains them.
A breach is planted in a copy of the source tree, never in the tree itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"]


def _lint(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([*LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout
    for name in ("The engine's stages import only downwards", "Only the chaining runtime imports durable-rules",
                 "The engine does not know about the command line",
                 "Renderers lay out a finished report; they never run a stage"):
        assert f"{name} KEPT" in result.stdout


BREACHES = [  # (file under the copy, planted line, contract that must break, what the report names)
    ("engine/load/xlsx.py", "from signalwise.engine import pipeline  # noqa",
     "The engine's stages import only downwards", "signalwise.engine.load.xlsx -> signalwise.engine.pipeline"),
    ("engine/render/text.py", "from signalwise.engine import pipeline  # noqa",
     "Renderers lay out a finished report; they never run a stage",
     "signalwise.engine.render.text -> signalwise.engine.pipeline"),
    ("engine/season/tracking.py", "from signalwise.engine import batch  # noqa",
     "The engine's stages import only downwards", "signalwise.engine.season.tracking -> signalwise.engine.batch"),
    ("engine/plan/flow.py", "import durable_rules_engine  # noqa",
     "Only the chaining runtime imports durable-rules", "signalwise.engine.plan.flow -> durable_rules_engine"),
    ("engine/explain/report.py", "import click  # noqa",
     "The engine does not know about the command line", "signalwise.engine.explain.report -> click"),
]


@pytest.mark.parametrize("path,line,contract,named", BREACHES, ids=[b[0] for b in BREACHES])
def test_a_planted_breach_fails_lint_imports(tmp_path: Path, path: str, line: str, contract: str,
                                              named: str) -> None:
    copy = tmp_path / "signalwise"
    for folder in ("engine", "cli"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (copy / path).open("a", encoding="utf-8") as f:
        f.write("\n" + line + "\n")

    result = _lint(tmp_path, pythonpath=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout
    assert named in result.stdout


def test_no_engine_module_is_on_an_import_cycle() -> None:
    """Layers forbid cycles between stages; this also catches one inside a stage (lazy imports included)."""
    import grimp  # installed with import-linter

    graph = grimp.build_graph("signalwise.engine", cache_dir=None)
    cycles = sorted(
        (importer, imported)
        for importer in graph.modules if importer.startswith("signalwise.engine")
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("signalwise.engine") and graph.find_shortest_chain(importer=imported, imported=importer)
    )
    assert cycles == []
