"""Fuzz target for reading reports back: `signalwise explain` and `signalwise track --report`.

A report is a file the user may edit, so both commands must answer any mutation of a real report with
exit 0 or 2, never an internal error (exit 1), a traceback or a hang. Each input is a small real report
(five programs of examples/gold-silver-im, gold and silver tiers) with one to three mutations, either
on the parsed JSON (a value of another type, a huge or empty value, a removed or duplicated item, an
added key) or on the text (NaN, a key given twice, deep nesting, a 5,000-digit number, a cut, bad
bytes). The mutations are driven by a `draw(n)` function, so Hypothesis (tests/test_report_fuzz.py) and
this command line share them:

    python -m tests.fuzz.fuzz_reports --iterations 5000 --command explain --seed 1
    python -m tests.fuzz.fuzz_reports --iterations 5000 --command track --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..reliability_support import Outcome, invoke_cli

ROOT = Path(__file__).resolve().parents[2]
GSI = ROOT / "examples" / "gold-silver-im"
Draw = Callable[[int], int]  # draw(n) -> an integer in [0, n)

VALUES: list[Any] = [5, -1, 0, 1.5, 10**30, 1e308, -1e308, "", "x" * 5000, "\x1b[31mred\x1b[0m", "=cmd|' /C calc'!A0",
                     None, True, False, [], {}, [5], {"a": 1}, {"min": "x", "max": None}, "../../etc/passwd",
                     "{status:>999999999}", "GSI-01", "gold", "reach", "excluded", [None], [[[]]], {"": {}},
                     "é" * 300, "\u202e", "\x00"]
TEXT_HACKS = ("nan", "infinity", "duplicate-key", "deep", "long-number", "truncate", "bad-bytes", "empty",
              "not-an-object", "bom")


def base_report(folder: Path) -> tuple[Path, Path, Path]:
    """A small real plan (five programs, gold and silver), its shortlist and an interview log."""
    lines = (GSI / "programs.csv").read_text(encoding="utf-8").splitlines()
    programs = folder / "programs.csv"
    programs.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    ids = [line.split(",")[0] for line in lines[1:6]]
    log = folder / "log.csv"
    log.write_text("program,date,event,tier,note\n" + "".join(
        f"{pid},2025-09-03,applied,,\n{pid},2025-09-05,signaled,gold,\n" if i == 0 else
        f"{pid},2025-09-03,applied,,\n{pid},2025-10-0{i},invited,,\n" for i, pid in enumerate(ids)),
        encoding="utf-8")
    result = invoke_cli("evaluate", "--profile", str(GSI / "profile.yaml"), "--programs", str(programs),
                        "--format", "json")
    assert result.exit_code == 0, result.output
    report = folder / "report.json"
    report.write_text(result.stdout, encoding="utf-8")
    return report, programs, log


# ---------------------------------------------------------------- mutations

def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_nodes(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_nodes(v, path + (i,)))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def mutate_tree(report: dict[str, Any], draw: Draw) -> Any:
    """One structural mutation at a node chosen by `draw`."""
    nodes = _nodes(report)
    path = nodes[draw(len(nodes))]
    op = draw(6)
    if not path:
        return VALUES[draw(len(VALUES))] if op == 0 else report
    parent = _get(report, path[:-1])
    key = path[-1]
    if op <= 1:  # another value, of any type
        parent[key] = json.loads(json.dumps(VALUES[draw(len(VALUES))]))
    elif op == 2:  # remove it
        del parent[key]
    elif op == 3 and isinstance(parent, list):  # duplicate an item
        parent.insert(key, json.loads(json.dumps(parent[key])))
    elif op == 3 and isinstance(parent, dict):  # add an unknown key beside it
        parent[f"extra{draw(3)}"] = VALUES[draw(len(VALUES))]
    elif op == 4:  # a value from elsewhere in the report (the right type in the wrong place, and so on)
        other = nodes[draw(len(nodes))]
        if other and other[:len(path)] != path:
            parent[key] = json.loads(json.dumps(_get(report, other)))
    else:  # wrap it
        parent[key] = [parent[key]] if draw(2) else {"value": parent[key]}
    return report


def mutate_text(text: str, draw: Draw) -> str | bytes:
    """One textual mutation that no JSON value can express."""
    hack = TEXT_HACKS[draw(len(TEXT_HACKS))]
    at = draw(len(text))
    # a position just after a ':' keeps most hacks inside a value
    colon = text.find(": ", at)
    pos = colon + 2 if colon >= 0 else at
    if hack == "nan":
        return text[:pos] + "NaN, \"nan_was_here\": " + text[pos:]
    if hack == "infinity":
        return text[:pos] + "-Infinity, \"inf_was_here\": " + text[pos:]
    if hack == "duplicate-key":
        return text.replace('"decision": ', '"decision": "gold", "decision": ', 1)
    if hack == "deep":
        depth = 40 + draw(5000)
        return text[:pos] + "[" * depth + "1" + "]" * depth + ", \"deep\": " + text[pos:]
    if hack == "long-number":
        return text[:pos] + "9" * (20 + draw(5000)) + ", \"long\": " + text[pos:]
    if hack == "truncate":
        return text[:at]
    if hack == "bad-bytes":
        data = text.encode("utf-8")
        return data[:at] + bytes([0xFF, 0x00, 0xC3]) + data[at:]
    if hack == "empty":
        return ""
    if hack == "not-an-object":
        return "[" + text + "]"
    return "\ufeff" + text


def mutant(base: str, draw: Draw) -> str | bytes:
    report = json.loads(base)
    if draw(5) == 0:
        return mutate_text(base, draw)
    for _ in range(1 + draw(3)):
        report = mutate_tree(report, draw) if isinstance(report, dict) else report
    return json.dumps(report, indent=1)


# ---------------------------------------------------------------- running

def commands(command: str, report: Path, programs: Path, log: Path, base: dict[str, Any],
             draw: Draw) -> list[str]:
    if command == "track":
        return ["track", "--log", str(log), "--programs", str(programs), "--report", str(report),
                "--as-of", "2025-11-01", *(["--format", ("text", "md", "json", "html")[draw(4)]])]
    ids = [p["id"] for p in base["programs"]]
    tiers = [s["tier"] for s in base["signals"]]
    rules = sorted(base["rules"])
    kind = draw(3)
    if kind == 0:
        return ["explain", str(report), "--program", ids[draw(len(ids))]]
    if kind == 1:
        return ["explain", str(report), "--program", ids[draw(len(ids))], "--why-not", tiers[draw(len(tiers))]]
    return ["explain", str(report), "--rule", rules[draw(len(rules))]]


def run_one(command: str, folder: Path, files: tuple[Path, Path, Path], base: str, draw: Draw) -> Outcome:
    report, programs, log = files
    data = mutant(base, draw)
    target = folder / "mutant.json"
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(data, encoding="utf-8")
    return invoke_cli(*commands(command, target, programs, log, json.loads(base), draw))


def acceptable(outcome: Outcome) -> bool:
    return outcome.exit_code in (0, 2) and "Traceback" not in outcome.output and "internal error" not in outcome.output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--command", choices=("explain", "track"), default="explain")
    parser.add_argument("--save-crashes", type=Path)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    stats: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = base_report(folder)
        base = files[0].read_text(encoding="utf-8")
        for i in range(args.iterations):
            outcome = run_one(args.command, folder, files, base, lambda n: rng.randrange(n) if n > 0 else 0)
            stats[f"exit {outcome.exit_code}"] += 1
            if not acceptable(outcome):
                stats["crashes"] += 1
                print(f"iteration {i}: exit {outcome.exit_code}: {outcome.output[-300:]}", file=sys.stderr)
                if args.save_crashes:
                    args.save_crashes.mkdir(parents=True, exist_ok=True)
                    (args.save_crashes / f"{args.command}-{i}.json").write_bytes((folder / "mutant.json").read_bytes())
    print(f"{args.iterations} mutated reports through `{args.command}` in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
    return 1 if stats["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
