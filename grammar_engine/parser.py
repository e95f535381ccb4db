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


_NO_VALUES: frozenset[str] = frozenset()


class StackNode:
    """One LR state on a persistent stack; equal nodes have equal state sequences (and
    equal ``seen`` sets).

    ``seen`` holds the values of the items written so far in the innermost open array of
    distinct strings (terminals marked ``unique="item"``), empty elsewhere."""

    __slots__ = ("_hash", "depth", "parent", "seen", "state")

    state: int
    parent: StackNode | None
    depth: int
    seen: frozenset[str]
    _hash: int

    def __init__(self, state: int, parent: StackNode | None,
                 seen: frozenset[str] = _NO_VALUES) -> None:
        self.state = state
        self.parent = parent
        self.seen = seen
        self.depth = parent.depth + 1 if parent is not None else 1
        h = hash((state, parent._hash if parent is not None else 0))
        self._hash = hash((h, seen)) if seen else h

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StackNode):
            return NotImplemented
        a: StackNode | None = self
        b: StackNode | None = other
        while a is not b:
            if (a is None or b is None or a._hash != b._hash or a.state != b.state
                    or a.depth != b.depth or a.seen != b.seen):
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

    def __init__(self, table: ParseTable, max_stacks: int, max_depth: int,
                 unique_items: frozenset[int] = frozenset(),
                 unique_keep: frozenset[int] = frozenset()) -> None:
        self.table = table
        # Terminals whose lexemes must differ within one array, and those the set of
        # values written so far survives (see StackNode.seen); other shifts clear it.
        self.unique_items = unique_items
        self.unique_keep = unique_keep
        self.tracks_values = bool(unique_items)
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
        self._intern: dict[tuple[object, ...], StackNode] = {}

    def _seen_after(self, seen: frozenset[str], terminal: int,
                    value: str | None) -> frozenset[str] | None:
        """``seen`` after shifting ``terminal`` with decoded value ``value`` (None: not
        known, no check), or None when the value was written before in this array."""
        if terminal in self.unique_items:
            if value is None:
                return seen
            if value in seen:
                return None
            return seen | {value}
        return seen if terminal in self.unique_keep else _NO_VALUES

    def feed(self, stacks: Stacks, terminal: int, value: str | None = None
             ) -> Stacks | None:
        """Stacks after shifting ``terminal`` (with its reductions), or None if no stack can.

        ``value`` is the decoded string of a lexeme of a ``unique="item"`` terminal; a
        stack whose array already holds it cannot shift it. Without it (token-table
        work that does not know the lexeme) no value is checked."""
        if self.deterministic and len(stacks) == 1:
            node = self._feed_one(stacks[0], terminal, value)
            return None if node is None else (node,)
        out: dict[StackNode, None] = {}
        work = list(stacks)
        seen = set(work)
        cells, goto, lhs, rlen = self.cells, self.goto, self.rule_lhs, self.rule_len
        while work:
            node = work.pop()
            for a in cells[node.state].get(terminal, ()):
                if a >= 0:
                    if self.tracks_values:
                        values = self._seen_after(node.seen, terminal, value)
                        if values is not None:
                            out.setdefault(self._push(a, node, values), None)
                    else:
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
                    new = self._push(g, base, node.seen)
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

    def _push(self, state: int, parent: StackNode,
              seen: frozenset[str] = _NO_VALUES) -> StackNode:
        key: tuple[object, ...] = (state, id(parent), seen) if seen else (state, id(parent))
        node = self._intern.get(key)
        if node is not None and node.parent is parent:
            return node
        if parent.depth >= self.max_depth:
            raise LimitExceededError("max_stack_depth", self.max_depth, parent.depth + 1,
                                     "parser stack (nesting too deep)")
        node = StackNode(state, parent, seen)
        if len(self._intern) >= _INTERN_LIMIT:
            self._intern = {}
        self._intern[key] = node
        return node

    def _feed_one(self, node: StackNode, terminal: int, value: str | None = None
                  ) -> StackNode | None:
        cells, goto, lhs, rlen = self.cells, self.goto, self.rule_lhs, self.rule_len
        while True:
            acts = cells[node.state].get(terminal)
            if not acts:
                return None
            a = acts[0]
            if a >= 0:
                if self.tracks_values:
                    seen = self._seen_after(node.seen, terminal, value)
                    return None if seen is None else self._push(a, node, seen)
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
            node = self._push(g, base, node.seen)

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
