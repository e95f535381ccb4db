"""Run-time LR parser over persistent stacks (one stack for LALR(1), a set for GLR).

Stacks are immutable linked nodes shared between states, so copying a matcher or rolling
it back costs nothing. ``feed`` performs the reductions a terminal triggers and shifts it;
on a conflict-free table it follows one path, otherwise every path (the general path for
ambiguous or non-LALR(1) grammars), merging identical stacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from compilers.errors import LimitExceededError
from compilers.lr_tables import ParseTable

__all__ = ["ItemProgress", "LRParser", "StackNode", "Stacks", "Values"]


class ItemProgress(NamedTuple):
    """In an array of distinct arbitrary JSON values (item terminals marked
    ``unique="part-..."``): the values of the items written so far, and the text and
    bracket depth of the item being written (``text`` None: not known, table work)."""

    seen: frozenset[str]
    text: bytes | None
    depth: int


# What a stack node knows of the innermost open array of distinct items: the set of
# values written (strings, numbers), or an ItemProgress (arbitrary values).
Values = frozenset[str] | ItemProgress

_NO_VALUES: frozenset[str] = frozenset()
# Depth change of each item-part role; "value" and "close" may complete an item.
_PART_DEPTH = {"part-open": 1, "part-close": -1, "part-value": 0, "part-inner": 0}


class StackNode:
    """One LR state on a persistent stack; equal nodes have equal state sequences (and
    equal ``seen`` sets).

    ``seen`` holds the values of the items written so far in the innermost open array of
    distinct items (terminals marked ``unique``), empty elsewhere (see ``Values``)."""

    __slots__ = ("_hash", "depth", "parent", "seen", "state")

    state: int
    parent: StackNode | None
    depth: int
    seen: Values
    _hash: int

    def __init__(self, state: int, parent: StackNode | None,
                 seen: Values = _NO_VALUES) -> None:
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
_BRANCHES = object()  # _feed_one met a cell with several actions (a conflict)


class _Rows(dict[int, dict[int, Any]]):
    """Per state, its row of a parse table as a dictionary, made on first use from the
    table's non-empty entries (row-major, ``rows`` sorted; ``values(a, b)`` gives entries
    ``a:b``): a matcher visits a few of the states, and a dictionary of ints is never
    tracked by the garbage collector."""

    def __init__(self, rows: NDArray[np.intp], keys: list[int],
                 values: Callable[[int, int], list[Any]], n_rows: int) -> None:
        super().__init__()
        self._bounds = np.searchsorted(rows, np.arange(n_rows + 1)).tolist()
        self._keys = keys
        self._values = values
        self._n_rows = n_rows

    def __missing__(self, state: int) -> dict[int, Any]:
        if not 0 <= state < self._n_rows:
            raise KeyError(state)
        a, b = self._bounds[state], self._bounds[state + 1]
        row = dict(zip(self._keys[a:b], self._values(a, b), strict=True))
        self[state] = row
        return row

    def span(self, state: int) -> tuple[int, int]:
        """The range of ``state``'s entries among the non-empty ones."""
        return self._bounds[state], self._bounds[state + 1]

    def all_rows(self) -> list[dict[int, Any]]:
        return [self[s] for s in range(self._n_rows)]


class LRParser:
    """Parse-table interpreter shared by all matchers of a compiled grammar."""

    def __init__(self, table: ParseTable, max_stacks: int, max_depth: int,
                 unique_items: frozenset[int] = frozenset(),
                 unique_keep: frozenset[int] = frozenset(),
                 item_parts: dict[int, str] | None = None,
                 item_value: Callable[[bytes], str | None] | None = None) -> None:
        self.table = table
        # Terminals whose lexemes must differ within one array, and those the set of
        # values written so far survives (see StackNode.seen); other shifts clear it.
        self.unique_items = unique_items
        self.unique_keep = unique_keep
        # Terminals of arbitrary distinct items: role ("part-open"...) per terminal, and
        # the key of a complete item's text.
        self.item_parts = item_parts or {}
        self.item_value = item_value
        self.tracks_values = bool(unique_items or self.item_parts)
        self.max_stacks = max_stacks
        self.max_depth = max_depth
        # Sparse rows, built from the non-empty entries only: the dense tables of a large
        # schema hold millions of entries, and Python lists of them would be built at each
        # matcher's start and traversed by every garbage collection that meets them.
        n_states, n_t = table.n_states, table.n_terminals
        starts = table.cell_start
        full = table.filled_cells  # non-empty cells, row-major
        lo, hi = starts[full], starts[full + 1]
        # Python lists once (a slice of a list per row is much cheaper than of an array).
        # One action per non-empty cell: no conflicts, the grammar is LALR(1).
        self.deterministic = len(full) == len(table.cell_actions)
        if self.deterministic:
            first = table.cell_actions[lo].tolist()

            def actions(a: int, b: int) -> list[tuple[int, ...]]:
                return [(x,) for x in first[a:b]]
        else:
            acts, los, his = table.cell_actions.tolist(), lo.tolist(), hi.tolist()

            def actions(a: int, b: int) -> list[tuple[int, ...]]:
                return [tuple(acts[x:y]) for x, y in zip(los[a:b], his[a:b], strict=True)]

        self.cells: _Rows = _Rows(full // n_t, (full % n_t).tolist(), actions, n_states)
        # Per state, the rule of its default reduction (every action of its row is to
        # reduce by that rule), else -1, found on first use: see _settle.
        self._defaults: list[int | None] = [None] * n_states
        self._first_actions = first if self.deterministic else None
        # goto[state].get(nonterminal, -1).
        flat_goto = table.goto.ravel()
        entries = np.flatnonzero(flat_goto >= 0)
        n_nt = table.goto.shape[1]
        targets = flat_goto[entries].tolist()
        self.goto: _Rows = _Rows(entries // n_nt, (entries % n_nt).tolist(),
                                 lambda a, b: targets[a:b], n_states)
        self.rule_lhs = table.rule_lhs.tolist()
        self.rule_len = table.rule_len.tolist()
        self.end = table.end_terminal
        self.initial: Stacks = (StackNode(table.start_state, None),)
        # Hash-consing of stack nodes: equal stacks built from the same parent are the same
        # object, so comparisons and dictionary lookups stop at once. Best effort (bounded,
        # cleared when full); equality stays structural.
        self._intern: dict[tuple[object, ...], StackNode] = {}
        # Per state, for ``allowed``: the terminals its row shifts outright (after any
        # stack) and the others (reductions or conflicts: checked per stack).
        self._shift_split: dict[int, tuple[frozenset[int], tuple[int, ...]]] = {}
        # Per stack (top node) whose state's row reduces or conflicts: ``allowed``.
        self._allowed_cache: dict[StackNode, frozenset[int]] = {}

    def _seen_after(self, seen: Values, terminal: int,
                    value: str | bytes | None) -> Values | None:
        """``seen`` after shifting ``terminal`` with ``value`` (the decoded value of a
        unique string or number item, the lexeme of an item part; None: not known, no
        check), or None when it completes an item written before in this array."""
        role = self.item_parts.get(terminal)
        if role is not None:
            return self._part_after(seen, role, value)
        if isinstance(seen, ItemProgress):
            seen = seen.seen
        if terminal in self.unique_items:
            if not isinstance(value, str):
                return seen
            if value in seen:
                return None
            return seen | {value}
        return seen if terminal in self.unique_keep else _NO_VALUES

    def _part_after(self, seen: Values, role: str, lexeme: str | bytes | None
                    ) -> Values | None:
        progress = seen if isinstance(seen, ItemProgress) else ItemProgress(seen, b"", 0)
        text = progress.text + lexeme if isinstance(lexeme, bytes) and \
            progress.text is not None else None
        depth = progress.depth + _PART_DEPTH[role]
        if depth > 0 or role in ("part-open", "part-inner"):
            return ItemProgress(progress.seen, text, depth)
        if text is None:  # complete, value not known
            return progress.seen
        key = self.item_value(text) if self.item_value is not None else None
        if key is None or key in progress.seen:
            return None
        return progress.seen | {key}

    def feed(self, stacks: Stacks, terminal: int, value: str | bytes | None = None
             ) -> Stacks | None:
        """Stacks after shifting ``terminal`` (with its reductions), or None if no stack can.

        ``value`` is the decoded value of a lexeme of a unique string or number item, or
        the lexeme of an item part; a stack whose array already holds the item cannot
        shift it. Without it (token-table work that does not know the lexeme) no value is
        checked."""
        if len(stacks) == 1:
            node = self._feed_one(stacks[0], terminal, value)
            if node is not _BRANCHES:
                return None if node is None else (node,)  # type: ignore[return-value]
        out: dict[StackNode, None] = {}
        work = list(stacks)
        seen = set(work)
        cells = self.cells
        while work:
            node = work.pop()
            for a in cells[node.state].get(terminal, ()):
                if a >= 0:
                    if self.tracks_values:
                        values = self._seen_after(node.seen, terminal, value)
                        if values is not None:
                            out.setdefault(self._settle(self._push(a, node, values)), None)
                    else:
                        out.setdefault(self._settle(self._push(a, node)), None)
                else:
                    new = self._reduced(node, -1 - a)
                    if new is not None and new not in seen:
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
              seen: Values = _NO_VALUES) -> StackNode:
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

    def _settle(self, node: StackNode) -> StackNode:
        """``node`` after its *default* reductions: while the top state's every action is
        one and the same reduction, it is made now rather than at the next terminal. The
        next terminal would make it anyway, and a terminal it then shifts is one the
        reduction's lookaheads hold, so the language is the same; but the reductions
        that close a container of many members (a chain as long as its members) are made
        once, not again by every look at what may follow."""
        defaults = self._defaults
        for _ in range(self.max_depth):
            r = defaults[node.state]
            if r is None:
                r = self._default_rule(node.state)
            reduced = self._reduced(node, r) if r >= 0 else None
            if reduced is None:
                return node
            node = reduced
        return node

    def _default_rule(self, state: int) -> int:
        """The rule by which every action of ``state``'s row reduces, else -1."""
        first = self._first_actions
        if first is not None:  # one action per cell: read the row's slice of them
            a, b = self.cells.span(state)
            acts = first[a:b]
            rule = -1 - acts[0] if acts and acts[0] < 0 and acts.count(acts[0]) == len(acts) \
                else -1
        else:
            kinds = set(self.cells[state].values())
            only: tuple[int, ...] = next(iter(kinds)) if len(kinds) == 1 else ()
            rule = -1 - only[0] if len(only) == 1 and only[0] < 0 else -1
        self._defaults[state] = rule
        return rule

    def _reduced(self, node: StackNode, rule: int) -> StackNode | None:
        """``node`` after reducing by ``rule`` (None: the stack is too short for it, or
        the state below has no goto on its left-hand side)."""
        base: StackNode | None = node
        for _ in range(self.rule_len[rule]):
            if base is None:
                return None
            base = base.parent
        if base is None:
            return None
        g = self.goto[base.state].get(self.rule_lhs[rule], -1)
        return None if g < 0 else self._push(g, base, node.seen)

    def _feed_one(self, node: StackNode, terminal: int, value: str | bytes | None = None
                  ) -> StackNode | object | None:
        """``feed`` of one stack while every cell on the way has one action (always, in an
        LALR(1) table); ``_BRANCHES`` where one has more, for the general path."""
        cells = self.cells
        while True:
            acts = cells[node.state].get(terminal)
            if not acts:
                return None
            if len(acts) > 1:
                return _BRANCHES
            a = acts[0]
            if a >= 0:
                if self.tracks_values:
                    seen = self._seen_after(node.seen, terminal, value)
                    return None if seen is None else self._settle(self._push(a, node, seen))
                return self._settle(self._push(a, node))
            reduced = self._reduced(node, -1 - a)
            if reduced is None:
                return None
            node = reduced

    def can_shift(self, stacks: Stacks, terminal: int) -> bool:
        """True if some stack can shift ``terminal`` (no new nodes while one stack meets
        cells of one action)."""
        if len(stacks) != 1:
            return self.feed(stacks, terminal) is not None
        cells, goto, lhs, rlen = self.cells, self.goto, self.rule_lhs, self.rule_len
        base: StackNode | None = stacks[0]
        extra: list[int] = []
        while True:
            top = extra[-1] if extra else base.state  # type: ignore[union-attr]
            acts = cells[top].get(terminal)
            if not acts:
                return False
            if len(acts) > 1:  # a conflict: shifting is one of its paths, or follow all
                return max(acts) >= 0 or self.feed(stacks, terminal) is not None
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
            g = goto[top].get(lhs[r], -1)
            if g < 0:
                return False
            if len(extra) >= self.max_depth:  # only a damaged table reduces forever
                raise LimitExceededError("max_stack_depth", self.max_depth, len(extra) + 1,
                                         "parser stack (reductions without a shift)")
            extra.append(g)

    def allowed(self, stacks: Stacks) -> frozenset[int]:
        """Terminals (not ``$END``) that some stack can shift next: the union over the
        stacks (each is fed on its own), each stack's set cached by its top node."""
        if len(stacks) == 1:
            return self._allowed_one(stacks[0])
        out: frozenset[int] = frozenset()
        for node in stacks:
            out |= self._allowed_one(node)
        return out

    def _allowed_one(self, node: StackNode) -> frozenset[int]:
        shifts, others = self._split(node.state)
        if not others:
            return shifts
        hit = self._allowed_cache.get(node)
        if hit is None:
            hit = shifts | frozenset(t for t in others if self.can_shift((node,), t))
            if len(self._allowed_cache) >= _INTERN_LIMIT:
                self._allowed_cache = {}
            self._allowed_cache[node] = hit
        return hit

    def _split(self, state: int) -> tuple[frozenset[int], tuple[int, ...]]:
        hit = self._shift_split.get(state)
        if hit is None:
            row = self.cells[state]
            shifts = frozenset(t for t, acts in row.items()
                               if t != self.end and len(acts) == 1 and acts[0] >= 0)
            others = tuple(t for t in row if t != self.end and t not in shifts)
            hit = self._shift_split[state] = (shifts, others)
        return hit

    def accepts_end(self, stacks: Stacks) -> bool:
        return self.can_shift(stacks, self.end)
