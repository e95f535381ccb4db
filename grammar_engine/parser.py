"""Run-time LR parser over persistent stacks (one stack for LALR(1), a set for GLR).

Stacks are immutable linked nodes shared between states, so copying a matcher or rolling
it back costs nothing. ``feed`` performs the reductions a terminal triggers and shifts it;
on a conflict-free table it follows one path, otherwise every path (the general path for
ambiguous or non-LALR(1) grammars), merging identical stacks.
"""

from __future__ import annotations

from compilers.errors import LimitExceededError
from compilers.lr_tables import ParseTable

__all__ = ["LRParser", "StackNode", "Stacks"]


class StackNode:
    """One LR state on a persistent stack; equal nodes have equal state sequences."""

    __slots__ = ("_hash", "depth", "parent", "state")

    state: int
    parent: StackNode | None
    depth: int
    _hash: int

    def __init__(self, state: int, parent: StackNode | None) -> None:
        self.state = state
        self.parent = parent
        self.depth = parent.depth + 1 if parent is not None else 1
        self._hash = hash((state, parent._hash if parent is not None else 0))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StackNode):
            return NotImplemented
        a: StackNode | None = self
        b: StackNode | None = other
        while a is not b:
            if (a is None or b is None or a._hash != b._hash or a.state != b.state
                    or a.depth != b.depth):
                return False
            a, b = a.parent, b.parent
        return True

    def states(self) -> list[int]:
        out = []
        node: StackNode | None = self
        while node is not None:
            out.append(node.state)
            node = node.parent
        return out[::-1]


Stacks = tuple[StackNode, ...]

_INTERN_LIMIT = 1 << 16


class LRParser:
    """Parse-table interpreter shared by all matchers of a compiled grammar."""

    def __init__(self, table: ParseTable, max_stacks: int, max_depth: int) -> None:
        self.table = table
        self.max_stacks = max_stacks
        self.max_depth = max_depth
        n_t = table.n_terminals
        starts = table.cell_start.tolist()
        acts = table.cell_actions.tolist()
        self.cells: list[dict[int, tuple[int, ...]]] = []
        for s in range(table.n_states):
            row: dict[int, tuple[int, ...]] = {}
            for t in range(n_t):
                k = s * n_t + t
                if starts[k] != starts[k + 1]:
                    row[t] = tuple(acts[starts[k] : starts[k + 1]])
            self.cells.append(row)
        self.goto = table.goto.tolist()
        self.rule_lhs = table.rule_lhs.tolist()
        self.rule_len = table.rule_len.tolist()
        self.end = table.end_terminal
        self.deterministic = table.is_deterministic
        self.initial: Stacks = (StackNode(table.start_state, None),)
        # Hash-consing of stack nodes: equal stacks built from the same parent are the same
        # object, so comparisons and dictionary lookups stop at once. Best effort (bounded,
        # cleared when full); equality stays structural.
        self._intern: dict[tuple[int, int], StackNode] = {}

    def feed(self, stacks: Stacks, terminal: int) -> Stacks | None:
        """Stacks after shifting ``terminal`` (with its reductions), or None if no stack can."""
        if self.deterministic and len(stacks) == 1:
            node = self._feed_one(stacks[0], terminal)
            return None if node is None else (node,)
        out: dict[StackNode, None] = {}
        work = list(stacks)
        seen = set(work)
        cells, goto, lhs, rlen = self.cells, self.goto, self.rule_lhs, self.rule_len
        while work:
            node = work.pop()
            for a in cells[node.state].get(terminal, ()):
                if a >= 0:
                    out.setdefault(self._push(a, node), None)
                else:
                    r = -1 - a
                    base: StackNode | None = node
                    for _ in range(rlen[r]):
                        base = base.parent  # type: ignore[union-attr]
                    if base is None:
                        continue
                    g = goto[base.state][lhs[r]]
                    if g < 0:
                        continue
                    new = self._push(g, base)
                    if new not in seen:
                        if len(seen) > self.max_stacks * 16:
                            raise LimitExceededError("max_parser_stacks", self.max_stacks,
                                                     len(seen), "GLR reductions")
                        seen.add(new)
                        work.append(new)
        if len(out) > self.max_stacks:
            raise LimitExceededError("max_parser_stacks", self.max_stacks, len(out),
                                     "GLR parser")
        return tuple(out) if out else None

    def _push(self, state: int, parent: StackNode) -> StackNode:
        key = (state, id(parent))
        node = self._intern.get(key)
        if node is not None and node.parent is parent:
            return node
        if parent.depth >= self.max_depth:
            raise LimitExceededError("max_stack_depth", self.max_depth, parent.depth + 1,
                                     "parser stack (nesting too deep)")
        node = StackNode(state, parent)
        if len(self._intern) >= _INTERN_LIMIT:
            self._intern = {}
        self._intern[key] = node
        return node

    def _feed_one(self, node: StackNode, terminal: int) -> StackNode | None:
        cells, goto, lhs, rlen = self.cells, self.goto, self.rule_lhs, self.rule_len
        while True:
            acts = cells[node.state].get(terminal)
            if not acts:
                return None
            a = acts[0]
            if a >= 0:
                return self._push(a, node)
            r = -1 - a
            base: StackNode | None = node
            for _ in range(rlen[r]):
                base = base.parent  # type: ignore[union-attr]
            if base is None:
                return None
            g = goto[base.state][lhs[r]]
            if g < 0:
                return None
            node = self._push(g, base)

    def can_shift(self, stacks: Stacks, terminal: int) -> bool:
        """True if some stack can shift ``terminal`` (no new nodes on the LALR path)."""
        if not (self.deterministic and len(stacks) == 1):
            return self.feed(stacks, terminal) is not None
        cells, goto, lhs, rlen = self.cells, self.goto, self.rule_lhs, self.rule_len
        base: StackNode | None = stacks[0]
        extra: list[int] = []
        while True:
            top = extra[-1] if extra else base.state  # type: ignore[union-attr]
            acts = cells[top].get(terminal)
            if not acts:
                return False
            a = acts[0]
            if a >= 0:
                return True
            r = -1 - a
            n = rlen[r]
            k = min(n, len(extra))
            if k:
                del extra[len(extra) - k :]
            for _ in range(n - k):
                base = base.parent  # type: ignore[union-attr]
                if base is None:
                    return False
            top = extra[-1] if extra else base.state  # type: ignore[union-attr]
            g = goto[top][lhs[r]]
            if g < 0:
                return False
            if len(extra) >= self.max_depth:  # only a damaged table reduces forever
                raise LimitExceededError("max_stack_depth", self.max_depth, len(extra) + 1,
                                         "parser stack (reductions without a shift)")
            extra.append(g)

    def allowed(self, stacks: Stacks) -> frozenset[int]:
        """Terminals (not ``$END``) that some stack can shift next."""
        cand: set[int] = set()
        for node in stacks:
            cand.update(self.cells[node.state])
        cand.discard(self.end)
        return frozenset(t for t in cand if self.can_shift(stacks, t))

    def accepts_end(self, stacks: Stacks) -> bool:
        return self.can_shift(stacks, self.end)
