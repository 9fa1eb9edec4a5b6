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

from bisect import bisect_left, insort
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
        self.head.extend((head, tail))
        self.cap.extend((cap, 0))
        self.cost.extend((cost, -cost))
        self.out[tail].append(a)
        self.out[head].append(a + 1)
        return a

    def flow(self, a: int) -> int:
        """Flow on arc `a` (the reverse arc's residual capacity)."""
        return self.cap[a ^ 1]

    def min_cost_flow(self, source: int, sink: int) -> int:
        """Augment cheapest paths while they cost less than nothing; the total packed cost.

        Each round is the same FIFO Bellman-Ford queue over the arcs in the order they were added, so the
        path it picks among equally cheap ones (and hence the plan) never depends on how fast it runs.
        The speed comes from what the queue reads: per node, its arcs with residual capacity as prebuilt
        (arc, head, cost) triples in their original order (an arc without capacity is one the queue skips
        anyway; a round changes capacities only on its path, so only the path's arcs join or leave), a
        sentinel for "not reached" that every real distance beats, and locals instead of attributes.
        """
        total = 0
        n = len(self.out)
        cap = self.cap
        head = self.head
        cost_of = self.cost
        adj = [[(a, head[a], cost_of[a]) for a in arcs if cap[a] > 0] for arcs in self.out]
        # "Not reached": above any distance the queue can set. A node's first distance extends its finder's
        # by one arc along a breadth-first tree of depth < n, and distances only fall after that, so every
        # distance is within n arcs' worth of the largest |cost| of zero.
        unreached = 1 << (max(max(cost_of, default=0), -min(cost_of, default=0)).bit_length() + n.bit_length() + 1)
        while True:
            dist = [unreached] * n
            via = [-1] * n
            queued = [False] * n
            dist[source] = 0
            queue = deque([source])
            push_back = queue.append
            pop = queue.popleft
            queued[source] = True
            while queue:
                u = pop()
                queued[u] = False
                du = dist[u]
                for a, v, c in adj[u]:
                    dv = du + c
                    if dv < dist[v]:
                        dist[v] = dv
                        via[v] = a
                        if not queued[v]:
                            queued[v] = True
                            push_back(v)
            cost = dist[sink]
            if cost == unreached or cost >= 0:
                return total
            path = []
            v = sink
            while v != source:
                a = via[v]
                path.append(a)
                v = head[a ^ 1]
            push = min(cap[a] for a in path)
            assert push > 0
            for a in path:
                # Keep each node's list in arc order: an arc leaves its tail's list when it fills and a
                # reverse arc joins when it first gets capacity (arc indices grow along `out[u]`).
                r = a ^ 1
                cap[a] -= push
                if not cap[a]:
                    lst = adj[head[r]]
                    del lst[bisect_left(lst, (a,))]
                if not cap[r]:
                    insort(adj[head[a]], (r, head[r], cost_of[r]))
                cap[r] += push
            total += push * cost
