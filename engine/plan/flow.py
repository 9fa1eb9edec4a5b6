"""Minimum-cost flow with exact lexicographic costs, for the allocation model.

Each arc's cost is a tuple of integers compared lexicographically (first component most important).
Tuples are packed into one Python integer with a wide digit per component, so path costs add and
compare exactly and fast: `pack((a, b, c)) < pack((a2, b2, c2))` exactly when the tuples compare so,
as long as every component of any sum stays below 2**(DIGIT_BITS - 2) in magnitude.

Successive shortest paths (Bellman-Ford queue, as costs may be negative): starting from zero flow,
augment along the cheapest source-to-sink path while that path's cost is negative. Costs are convex
in the flow value, so this ends at the flow of minimum cost over every flow value, and at an integral
one (every capacity is an integer).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

DIGIT_BITS = 80
BOUND = 1 << (DIGIT_BITS - 2)


def pack(components: Sequence[int], width: int) -> int:
    """A cost tuple as one integer (component 0 most significant)."""
    out = 0
    for k, c in enumerate(components):
        if abs(c) >= BOUND:
            raise OverflowError(f"cost component {k} = {c} is too large to pack exactly")
        out += c << (DIGIT_BITS * (width - 1 - k))
    return out


class Network:
    """A directed graph with capacities and packed costs; arcs are stored with their reverse arcs."""

    def __init__(self) -> None:
        self.head: list[int] = []      # arc -> target node
        self.cap: list[int] = []       # arc -> residual capacity
        self.cost: list[int] = []      # arc -> packed cost
        self.out: list[list[int]] = []  # node -> arcs leaving it

    def node(self) -> int:
        self.out.append([])
        return len(self.out) - 1

    def arc(self, tail: int, head: int, cap: int, cost: int) -> int:
        """Add an arc (and its zero-capacity reverse); the arc's index."""
        a = len(self.head)
        self.head += [head, tail]
        self.cap += [cap, 0]
        self.cost += [cost, -cost]
        self.out[tail].append(a)
        self.out[head].append(a + 1)
        return a

    def flow(self, a: int) -> int:
        """Flow on arc `a` (the reverse arc's residual capacity)."""
        return self.cap[a ^ 1]

    def min_cost_flow(self, source: int, sink: int) -> int:
        """Augment cheapest paths while they cost less than nothing; the total packed cost."""
        total = 0
        n = len(self.out)
        while True:
            dist: list[int | None] = [None] * n
            via = [-1] * n
            queued = [False] * n
            dist[source] = 0
            queue = deque([source])
            queued[source] = True
            while queue:
                u = queue.popleft()
                queued[u] = False
                du = dist[u]
                assert du is not None
                for a in self.out[u]:
                    if self.cap[a] <= 0:
                        continue
                    v = self.head[a]
                    dv = du + self.cost[a]
                    old = dist[v]
                    if old is None or dv < old:
                        dist[v] = dv
                        via[v] = a
                        if not queued[v]:
                            queued[v] = True
                            queue.append(v)
            cost = dist[sink]
            if cost is None or cost >= 0:
                return total
            push = None
            v = sink
            while v != source:
                a = via[v]
                push = self.cap[a] if push is None else min(push, self.cap[a])
                v = self.head[a ^ 1]
            assert push is not None and push > 0
            v = sink
            while v != source:
                a = via[v]
                self.cap[a] -= push
                self.cap[a ^ 1] += push
                v = self.head[a ^ 1]
            total += push * cost
