"""Write every output of every bundled example into one folder, to compare two Pythons byte for byte.

    python .ci/reports.py OUTDIR

For each examples/*/: `evaluate` in every format; `--strategy gain` where the shortlist has interview rates;
`compare` where there is a my-signals.yaml; `track` (at a fixed date) where there is an interview log.
Runs in-process through Click's test runner, from the repository root, so input paths in the reports are
the same relative paths in every checkout. No output carries a time measurement (the allocation model is
exact and its output deterministic), so every file is compared as written.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from click.testing import CliRunner
from signalwise.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("text", "md", "json", "html")


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    runner = CliRunner()

    def write(name: str, *args: str) -> None:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if result.exit_code != 0:
            raise SystemExit(f"{name}: exit {result.exit_code}\n{result.output}")
        (out / name).write_text(result.output, encoding="utf-8")

    with contextlib.chdir(ROOT):
        examples = sorted(p for p in Path("examples").iterdir() if p.is_dir())
        for ex in examples:
            inputs = ["--profile", f"{ex}/profile.yaml", "--programs", f"{ex}/programs.csv"]
            for fmt in FORMATS:
                write(f"{ex.name}.evaluate.{fmt}", "evaluate", *inputs, "--format", fmt)
            if "interview_rate_" in (ex / "programs.csv").read_text(encoding="utf-8").splitlines()[0]:
                write(f"{ex.name}.evaluate-gain.json", "evaluate", *inputs, "--strategy", "gain", "--format", "json")
            if (ex / "my-signals.yaml").exists():
                for fmt in ("text", "json"):
                    write(f"{ex.name}.compare.{fmt}", "compare", *inputs, "--plan", f"{ex}/my-signals.yaml",
                          "--format", fmt)
            if (ex / "interview-log.csv").exists():
                report = out / f"{ex.name}.evaluate.json"
                for fmt in FORMATS:
                    write(f"{ex.name}.track.{fmt}", "track", "--log", f"{ex}/interview-log.csv", "--programs",
                          f"{ex}/programs.csv", "--report", str(report), "--as-of", "2025-12-01", "--format", fmt)
    print(f"CI: {len(list(out.iterdir()))} outputs of {len(examples)} examples in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
