"""Grammar rules -> LALR(1) parse tables that keep every conflict.

Lark's LALR analyser computes the LR(0) automaton and the LALR(1) look-ahead sets; unlike
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
from typing import Any

import numpy as np
from lark.common import ParserConf
from lark.exceptions import GrammarError
from lark.grammar import NonTerminal
from lark.grammar import Rule as LarkRule
from lark.grammar import Terminal as LarkTerminal
from lark.parsers import grammar_analysis
from lark.parsers.lalr_analysis import LALR_Analyzer
from numpy.typing import NDArray

from compilers.budget import check_deadline
from compilers.errors import GrammarSyntaxError, LimitExceededError
from compilers.ir import END, Grammar

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


def _nullable(rules: list[Any]) -> set[Any]:
    """Nonterminals that derive the empty string (a worklist over rules, linear)."""
    pending = {id(r): len(r.expansion) for r in rules}
    uses: dict[Any, list[Any]] = {}
    for r in rules:
        for sym in dict.fromkeys(r.expansion):  # each rule once per distinct symbol
            uses.setdefault(sym, []).append(r)
    work = [r.origin for r in rules if not r.expansion]
    nullable: set[Any] = set()
    while work:
        sym = work.pop()
        if sym in nullable:
            continue
        nullable.add(sym)
        for r in uses.get(sym, ()):
            pending[id(r)] -= sum(1 for x in r.expansion if x == sym)
            if pending[id(r)] == 0:
                work.append(r.origin)
    return nullable


_only_nullable = threading.local()
_lark_calculate_sets = grammar_analysis.calculate_sets


def _calculate_sets(rules: list[Any]) -> tuple[Any, Any, Any]:
    """Lark's FIRST/FOLLOW/NULLABLE; inside ``_Analyzer`` (this thread) only NULLABLE, the
    one LALR(1) needs: FOLLOW is the most expensive fixpoint of an analysis."""
    if getattr(_only_nullable, "on", False):
        return {}, {}, _nullable(rules)
    first, follow, nullable = _lark_calculate_sets(rules)
    return first, follow, nullable


grammar_analysis.calculate_sets = _calculate_sets  # same results for every other caller


class _Analyzer(LALR_Analyzer):
    """Lark's LALR(1) analyser, with the includes/lookback step indexed: Lark scans a
    state's whole closure for every nonterminal transition out of it, and the closure of
    every target state for every item, which is quadratic on big grammars (4 s of an 8 s
    compile for a 1,800-state Snowplow schema). Same relations, same order of rules."""

    def compute_includes_lookback(self) -> None:
        by_origin: dict[int, dict[Any, list[Any]]] = {}
        satisfied: dict[int, dict[Any, Any]] = {}
        reads, nullable = self.reads, self.NULLABLE
        for nt in self.nonterminal_transitions:
            state, nonterminal = nt
            items = by_origin.get(id(state))
            if items is None:
                items = by_origin[id(state)] = {}
                for rp in state.closure:
                    items.setdefault(rp.rule.origin, []).append(rp)
            includes = []
            lookback = self.lookback[nt]
            for rp in items.get(nonterminal, ()):
                expansion = rp.rule.expansion
                state2 = state
                for i in range(rp.index, len(expansion)):
                    s = expansion[i]
                    nt2 = (state2, s)
                    state2 = state2.transitions[s]
                    if nt2 not in reads:
                        continue
                    if all(x in nullable for x in expansion[i + 1 :]):
                        includes.append(nt2)
                if rp.index == 0:
                    done = satisfied.get(id(state2))
                    if done is None:
                        done = satisfied[id(state2)] = {}
                        for rp2 in state2.closure:
                            if rp2.is_satisfied:
                                done.setdefault(rp2.rule, rp2.rule)
                    if rp.rule in done:
                        lookback.add((state2, done[rp.rule]))
            for nt2 in includes:
                self.includes[nt2].add(nt)


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
    t_index = {n: i for i, n in enumerate(grammar.terminal_names)}
    nonterms = sorted({r.lhs for r in grammar.rules})
    n_index = {n: -1 - i for i, n in enumerate(nonterms)}
    rules = tuple((n_index[r.lhs], tuple(t_index.get(x, n_index.get(x, x)) for x in r.rhs))
                  for r in grammar.rules)
    return (len(t_index), n_index.get(grammar.start, grammar.start), rules)


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
    key = _shape(grammar)
    with _shape_lock:
        hit = _shape_cache.get(key)
        if hit is not None:
            _shape_cache.move_to_end(key)
    if hit is not None:
        _check_cells(hit.goto.shape[0], len(grammar.terminal_names), max_cells, grammar)
    else:
        hit = _build_parse_table(grammar, max_cells)
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


def _build_parse_table(grammar: Grammar, max_cells: int) -> ParseTable:
    term_names = list(grammar.terminal_names)
    term_set = set(term_names)
    nonterms = sorted({r.lhs for r in grammar.rules})
    nt_set = set(nonterms)
    lark_rules = []
    for i, r in enumerate(grammar.rules):
        expansion: list[LarkTerminal | NonTerminal] = []
        for sym in r.rhs:
            if sym in term_set:
                expansion.append(LarkTerminal(sym))
            elif sym in nt_set:
                expansion.append(NonTerminal(sym))
            else:
                raise GrammarSyntaxError(f"symbol {sym!r} is used but not defined",
                                         source=grammar.source)
        lark_rules.append(LarkRule(NonTerminal(r.lhs), expansion, order=i))
    try:
        _only_nullable.on = True
        analyzer = _Analyzer(ParserConf(lark_rules, {}, [grammar.start]))
    except GrammarError as e:
        raise GrammarSyntaxError(f"cannot build parse tables: {e}", source=grammar.source) \
            from None
    finally:
        _only_nullable.on = False
    check_deadline("LR(0) states")
    analyzer.compute_lr0_states()
    _check_cells(len(analyzer.lr0_itemsets), len(term_names), max_cells, grammar)
    check_deadline("LALR(1) look-aheads")
    analyzer.compute_reads_relations()
    analyzer.compute_includes_lookback()
    analyzer.compute_lookaheads()
    check_deadline("LR table")

    all_terms = [*term_names, END]
    t_index = {n: i for i, n in enumerate(all_terms)}
    root = f"$root_{grammar.start}"
    all_nts = [*nonterms, root]
    nt_index = {n: i for i, n in enumerate(all_nts)}
    rule_index = {id(r): i for i, r in enumerate(lark_rules)}

    itemsets = list(analyzer.lr0_itemsets)
    start_set = analyzer.lr0_start_states[grammar.start]
    # Number states with the start state first.
    itemsets.sort(key=lambda s: s is not start_set)
    s_index = {id(s): i for i, s in enumerate(itemsets)}
    n_states, n_terms = len(itemsets), len(all_terms)

    extra_rules: list[tuple[int, int]] = []  # (lhs, len) for rules Lark added ($root)
    cells: dict[int, list[int]] = {}  # cell k = state * n_terms + terminal -> actions
    goto = np.full((n_states, len(all_nts)), -1, dtype=np.int32)
    for itemset in itemsets:
        s = s_index[id(itemset)]
        for symbol, nxt in itemset.transitions.items():
            target = s_index[id(nxt)]
            if symbol.is_term:
                cells.setdefault(s * n_terms + t_index[symbol.name], []).append(target)
            else:
                goto[s, nt_index[symbol.name]] = target
        if any(rp.is_satisfied and rp.rule.origin.name == root for rp in itemset.closure):
            # Lark's LR(0) root rule is ``$root: start``; accepting = shifting $END here.
            cells.setdefault(s * n_terms + t_index[END], []).append(s)
        for la, rules in itemset.lookaheads.items():
            for rule in sorted(rules, key=lambda r: rule_index.get(id(r), 1 << 30)):
                ri = rule_index.get(id(rule))
                if ri is None:
                    ri = len(lark_rules) + len(extra_rules)
                    rule_index[id(rule)] = ri
                    extra_rules.append((nt_index[rule.origin.name], len(rule.expansion)))
                cells.setdefault(s * n_terms + t_index[la.name], []).append(-1 - ri)
    counts = np.zeros(n_states * n_terms + 1, dtype=np.int32)
    flat: list[int] = []
    for k in sorted(cells):
        acts = cells[k]
        flat.extend(acts)
        counts[k + 1] = len(acts)
    cell_start = np.cumsum(counts, dtype=np.int32)
    rule_lhs = np.array([nt_index[r.lhs] for r in grammar.rules] + [x for x, _ in extra_rules],
                        dtype=np.int32)
    rule_len = np.array([len(r.rhs) for r in grammar.rules] + [n for _, n in extra_rules],
                        dtype=np.int32)
    return ParseTable(
        terminals=tuple(all_terms), nonterminals=tuple(all_nts), cell_start=cell_start,
        cell_actions=np.array(flat, dtype=np.int32), goto=goto, rule_lhs=rule_lhs,
        rule_len=rule_len, start_state=0,
    )
