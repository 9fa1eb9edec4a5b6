"""The allocators' view of the programs: fit, eligibility, score and blocked tiers, from the facts.

Both allocators (the guide's quota filler in allocate.py and the optimizer in optimize.py) start here,
so they can never disagree about who may receive what.
"""

from __future__ import annotations

from collections import defaultdict

from .allocate import Candidate
from .facts import ID_KEY, FactStore


def build_candidates(store: FactStore) -> list[Candidate]:
    fits = {f["program"]: f["fit"] for f in store.of_type("program_fit")}
    status = {f["program"]: f["status"] for f in store.of_type("program_status")}
    scores: dict[str, float] = defaultdict(float)
    for s in store.of_type("score"):
        scores[s["program"]] += float(s.get("points") or 0)
    blocks: dict[str, set[str]] = defaultdict(set)
    for b in store.of_type("level_block"):
        blocks[b["program"]].add(b["level"])
    return [Candidate(p[ID_KEY], fits.get(p[ID_KEY], "unknown"), status.get(p[ID_KEY], "eligible") == "eligible",
                      scores[p[ID_KEY]], frozenset(blocks[p[ID_KEY]]), p.get("institution"))
            for p in store.of_type("program")]
