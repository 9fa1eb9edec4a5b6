"""The allocator's view of the programs, read from the facts the rules derived.

Fit, status, score, blocked tiers and precedence groups all come from rule firings; this module only
collects them, so every strategy sees the same candidates and nobody re-decides what a rule decided.
Status `reserve` marks a program excluded for a soft reason: it may take a signal that no eligible
program can use (the guide: use every signal), never one an eligible program could take.
"""

from __future__ import annotations

from collections import defaultdict

from ..chain.facts import ID_KEY, FactStore
from .quotas import Candidate, Precedence

RESERVE = "reserve"


def build_candidates(store: FactStore, rating_field: str = "interest") -> list[Candidate]:
    fits = {f["program"]: f["fit"] for f in store.of_type("program_fit")}
    status = {f["program"]: f["status"] for f in store.of_type("program_status")}
    scores: dict[str, float] = defaultdict(float)
    for s in store.of_type("score"):
        scores[s["program"]] += float(s.get("points") or 0)
    blocks: dict[str, set[str]] = defaultdict(set)
    for b in store.of_type("level_block"):
        blocks[b["program"]].add(b["level"])
    groups: dict[str, list[Precedence]] = defaultdict(list)
    for m in store.of_type("precedence_member"):
        groups[m["program"]].append(Precedence(str(m["group"]), str(m["side"]), float(m.get("rank") or 0)))
    out = []
    for p in store.of_type("program"):
        pid = p[ID_KEY]
        st = status.get(pid, "eligible")
        rating = p.get(rating_field)
        out.append(Candidate(pid, fits.get(pid, "unknown"), st == "eligible", scores[pid],
                             frozenset(blocks[pid]), p.get("institution"), st == RESERVE,
                             None if rating is None else float(rating),
                             tuple(sorted(set(groups[pid]), key=lambda g: (g.group, g.side, g.rank)))))
    return out
