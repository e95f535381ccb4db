"""Grammar rules -> LALR(1) parse tables that keep every conflict.

:mod:`compilers.lalr` computes the LR(0) automaton and the LALR(1) look-ahead sets; unlike
Lark's parser, which settles shift/reduce conflicts as shifts (changing the language), the
table here keeps all actions of a conflicting cell. A conflict-free table is LALR(1) and the
matcher runs one stack; otherwise it runs the general path, a GLR-style set of stacks, and
the language is exactly the grammar's.

Action encoding: ``a >= 0`` shifts to state ``a``; ``a < 0`` reduces rule ``-1 - a``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compilers.budget import check_deadline
from compilers.errors import GrammarSyntaxError, LimitExceededError
from compilers.ir import END, Grammar
from compilers.lalr import build_lalr
from native.lr_kernels import lalr_tables

__all__ = ["ParseTable", "build_parse_table"]


@dataclass(frozen=True, eq=False)
class ParseTable:
    """LR parse tables as integer arrays.

    Attributes
    ----------
    terminals : tuple[str, ...]
        Terminal index -> name; the grammar's terminals in order, then ``$END``.
    cell_start : int32[n_states * n_terminals + 1]
        Actions of ``(state, terminal)`` are ``cell_actions[cell_start[k]:cell_start[k+1]]``
        with ``k = state * n_terminals + terminal``.
    goto : int32[n_states, n_nonterminals]
        Target after reducing to a nonterminal (``-1`` = none).
    rule_lhs, rule_len : int32[n_rules]
        Nonterminal index and right-hand-side length of each rule.
    start_state : int
    """

    terminals: tuple[str, ...]
    nonterminals: tuple[str, ...]
    cell_start: NDArray[np.int32]
    cell_actions: NDArray[np.int32]
    goto: NDArray[np.int32]
    rule_lhs: NDArray[np.int32]
    rule_len: NDArray[np.int32]
    start_state: int

    @property
    def n_states(self) -> int:
        return int(self.goto.shape[0])

    @property
    def n_terminals(self) -> int:
        return len(self.terminals)

    @property
    def end_terminal(self) -> int:
        return len(self.terminals) - 1

    @cached_property
    def filled_cells(self) -> NDArray[np.intp]:
        """Indices ``k`` of the cells with at least one action, increasing."""
        return np.flatnonzero(np.diff(self.cell_start))

    @property
    def n_conflicts(self) -> int:
        return int((np.diff(self.cell_start) > 1).sum())

    @property
    def is_deterministic(self) -> bool:
        """True when the grammar is LALR(1): at most one action per cell."""
        return self.n_conflicts == 0

    def actions(self, state: int, terminal: int) -> NDArray[np.int32]:
        k = state * len(self.terminals) + terminal
        return self.cell_actions[self.cell_start[k] : self.cell_start[k + 1]]


_SHAPE_CACHE_BYTES = 64 << 20  # tables of big grammars take megabytes: bound the bytes
_shape_cache: OrderedDict[tuple[Any, ...], ParseTable] = OrderedDict()
_shape_bytes = [0]
_shape_lock = threading.Lock()


def _nbytes(t: ParseTable) -> int:
    return int(t.cell_start.nbytes + t.cell_actions.nbytes + t.goto.nbytes)


def _shape(grammar: Grammar) -> tuple[Any, ...]:
    """The grammar with its symbols replaced by their indices: grammars of the same shape
    (JSON schemas with the same structure and other names or value types) get the same
    tables up to the symbol names."""
    nonterms = sorted({r.lhs for r in grammar.rules})
    n_index = {n: -1 - i for i, n in enumerate(nonterms)}
    index = {**n_index, **{n: i for i, n in enumerate(grammar.terminal_names)}}
    get = index.get
    rules = tuple((n_index[r.lhs], tuple([get(x, x) for x in r.rhs])) for r in grammar.rules)
    return (len(grammar.terminal_names), n_index.get(grammar.start, grammar.start), rules)


def build_parse_table(grammar: Grammar, max_cells: int = 20_000_000) -> ParseTable:
    """Build LALR(1) tables for ``grammar`` (conflicts kept); cached per process by the
    grammar's shape (:func:`_shape`).

    Raises
    ------
    GrammarSyntaxError
        A nonterminal is used but has no rule.
    LimitExceededError
        States times terminals exceed ``max_cells`` (``Limits.max_parse_table_cells``), or
        the compile time budget runs out.
    """
    key = shape = _shape(grammar)
    with _shape_lock:
        hit = _shape_cache.get(key)
        if hit is not None:
            _shape_cache.move_to_end(key)
    if hit is not None:
        _check_cells(hit.goto.shape[0], len(grammar.terminal_names), max_cells, grammar)
    else:
        hit = _build_parse_table(grammar, max_cells, shape=shape)
        for arr in (hit.cell_start, hit.cell_actions, hit.goto, hit.rule_lhs, hit.rule_len):
            arr.flags.writeable = False
        with _shape_lock:
            if key not in _shape_cache:
                _shape_cache[key] = hit
                _shape_bytes[0] += _nbytes(hit)
            while _shape_bytes[0] > _SHAPE_CACHE_BYTES and len(_shape_cache) > 1:
                _shape_bytes[0] -= _nbytes(_shape_cache.popitem(last=False)[1])
    nonterms = sorted({r.lhs for r in grammar.rules})
    return replace(hit, terminals=(*grammar.terminal_names, END),
                   nonterminals=(*nonterms, f"$root_{grammar.start}"))


def _check_cells(n_states: int, n_terminals: int, max_cells: int, grammar: Grammar) -> None:
    n_cells = n_states * (n_terminals + 1)
    if n_cells > max_cells:
        raise LimitExceededError(
            "max_parse_table_cells", max_cells, n_cells,
            f"LR table of {n_states} states x {n_terminals + 1} terminals ({grammar.source})")


def _build_parse_table(grammar: Grammar, max_cells: int, kernel: bool = True,
                       shape: tuple[Any, ...] | None = None) -> ParseTable:
    """The tables from the kernel (``native.lr_kernels``), or from its Python twin when
    ``kernel`` is False or the kernel stops at its state cap. ``shape``: the grammar's
    :func:`_shape`, when the caller has it."""
    term_names = list(grammar.terminal_names)
    nonterms = sorted({r.lhs for r in grammar.rules})
    # Symbols as integers; undefined ones as names.
    _, start, shape_rules = shape if shape is not None else _shape(grammar)
    lhs = [x for x, _ in shape_rules]
    rhs = [body for _, body in shape_rules]
    lens = [len(b) for b in rhs]
    flat = [x for b in rhs for x in b]
    if not all(type(x) is int for x in flat):
        sym = next(x for x in flat if isinstance(x, str))
        raise GrammarSyntaxError(f"symbol {sym!r} is used but not defined",
                                 source=grammar.source)
    if isinstance(start, str):
        raise GrammarSyntaxError(f"the start symbol {grammar.start!r} has no rule",
                                 source=grammar.source)
    if len(set(shape_rules)) != len(shape_rules):
        seen: set[tuple[int, tuple[int, ...]]] = set()
        twice = []
        for r, key in zip(grammar.rules, shape_rules, strict=True):
            if key in seen:
                twice.append(r)
            seen.add(key)
        raise GrammarSyntaxError(
            "cannot build parse tables: rules defined twice: "
            + ", ".join(f"{r.lhs} -> {' '.join(r.rhs)}" for r in twice), source=grammar.source)

    all_terms = [*term_names, END]
    n_terms = len(all_terms)
    root = f"$root_{grammar.start}"
    all_nts = [*nonterms, root]
    # The root rule ``root -> start`` last, as the kernel takes it.
    lhs_all = np.array([-1 - x for x in lhs] + [len(nonterms)], dtype=np.int64)
    rule_lhs = lhs_all[:-1].astype(np.int32)
    rule_len = np.array(lens, dtype=np.int32)

    check_deadline("LR(0) states")
    ok = False
    if kernel:
        # The kernel stops at the state limit (then the Python path below applies the
        # limits and the time budget, and says which was exceeded).
        off = np.zeros(len(rhs) + 2, dtype=np.int64)
        np.cumsum([*lens, 1], out=off[1:])
        ok, cell_start, cell_actions, goto = lalr_tables(
            n_terms, len(all_nts), lhs_all, off, np.array([*flat, start], dtype=np.int64),
            start, min(max_cells // n_terms, _KERNEL_MAX_STATES))
    if ok:
        check_deadline("LR table")
    else:
        cell_start, cell_actions, goto = _python_tables(grammar, max_cells, lhs, rhs, start,
                                                        n_terms, len(all_nts))
    return ParseTable(
        terminals=tuple(all_terms), nonterminals=tuple(all_nts), cell_start=cell_start,
        cell_actions=cell_actions, goto=goto, rule_lhs=rule_lhs, rule_len=rule_len,
        start_state=0)


# Past this many LR(0) states the Python construction takes over: it checks the compile
# time budget as it goes, which a kernel cannot.
_KERNEL_MAX_STATES = 20_000


def _python_tables(grammar: Grammar, max_cells: int, lhs: list[int],
                   rhs: list[tuple[int, ...]], start: int, n_terms: int, n_nts: int
                   ) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """``(cell_start, cell_actions, goto)`` from :func:`compilers.lalr.build_lalr` (the
    twin of the kernel)."""
    end = n_terms - 1

    def check(phase: str, n_states: int) -> None:
        check_deadline(phase)
        _check_cells(n_states, n_terms - 1, max_cells, grammar)

    check_deadline("LR(0) states")
    result = build_lalr(n_terms, lhs, rhs, start, check)
    auto = result.automaton
    n_states = len(auto.kernels)
    _check_cells(n_states, n_terms - 1, max_cells, grammar)
    check_deadline("LR table")

    cells: dict[int, list[int]] = {}  # cell k = state * n_terms + terminal -> actions
    goto = np.full((n_states, n_nts), -1, dtype=np.int32)
    for s, row in enumerate(auto.transitions):
        for symbol, target in row.items():
            if symbol >= 0:
                cells.setdefault(s * n_terms + symbol, []).append(target)
            else:
                goto[s, -1 - symbol] = target
        if result.root_rule in auto.completed[s]:
            # The root rule is ``$root: start``; accepting = shifting $END here.
            cells.setdefault(s * n_terms + end, []).append(s)
        for rule in sorted(result.lookaheads[s]):
            bits = result.lookaheads[s][rule]
            while bits:
                low = bits & -bits
                cells.setdefault(s * n_terms + low.bit_length() - 1, []).append(-1 - rule)
                bits ^= low
    counts = np.zeros(n_states * n_terms + 1, dtype=np.int32)
    flat: list[int] = []
    for k in sorted(cells):
        acts = cells[k]
        flat.extend(acts)
        counts[k + 1] = len(acts)
    return np.cumsum(counts, dtype=np.int32), np.array(flat, dtype=np.int32), goto
