"""Small helpers shared by the human-readable renderers."""

from __future__ import annotations

from typing import Any

DECISION_ORDER = {"gold": 0, "silver": 1, "signal": 2, "exempt": 8, "none": 9, "excluded": 10}
FIT_ORDER = {"reach": 0, "target": 1, "safety": 2, "closed": 3}


def decision_rank(report: dict[str, Any], decision: str) -> int:
    levels = [s["tier"] for s in report["signals"]]
    if decision in levels:
        return levels.index(decision)
    return DECISION_ORDER.get(decision, 20)


def sorted_programs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(report["programs"], key=lambda p: (decision_rank(report, p["decision"]),
                                                     FIT_ORDER.get(p["fit"], 9), -(p["score"] or 0), p["id"]))


def one_line_reason(program: dict[str, Any]) -> str:
    """The most decisive sentence: the allocation line for signals, else the first status/fit reason."""
    because = program["because"]
    if program["decision"] in ("excluded", "exempt"):
        for b in because:
            if b["rule"].startswith(("exclude.", "exempt.")):
                return str(b["text"])
    if because:
        fit_lines = [b for b in because if b["rule"].startswith("fit.") or b["rule"].endswith(".default")]
        if fit_lines and program["decision"] not in ("none",):
            return str(fit_lines[0]["text"])
        return str(because[-1]["text"])
    return ""
