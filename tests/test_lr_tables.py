"""Our LALR(1) construction (`compilers/lalr.py`) against two independent ones: Lark's
analyser on real grammars, and canonical LR(1) merged by core (the definition of LALR(1))
on random grammars."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import grammar_engine as ge
from compilers import lr_tables
from compilers.errors import GrammarSyntaxError
from compilers.ir import END, Grammar, Rule, Terminal
from compilers.lalr import build_lalr, nullable_nonterminals
from compilers.lark_grammar import compile_lark
from compilers.lr_tables import ParseTable
from tests.grammars import ALL
from tests.reliability.helpers import BYTES_VOCAB


def _canonical(t: ParseTable) -> tuple[Any, ...]:
    """The tables with states renumbered breadth first from the start (Lark's state order
    is not deterministic)."""
    n_t = len(t.terminals)
    starts, acts, goto = t.cell_start.tolist(), t.cell_actions.tolist(), t.goto.tolist()

    def cell(st: int, term: int) -> list[int]:
        k = st * n_t + term
        return acts[starts[k] : starts[k + 1]]

    order, index = [t.start_state], {t.start_state: 0}
    i = 0
    while i < len(order):
        st = order[i]
        i += 1
        succ = [x for term in range(n_t) for x in cell(st, term) if x >= 0]
        for x in succ + [g for g in goto[st] if g >= 0]:
            if x not in index:
                index[x] = len(order)
                order.append(x)
    cells = {(index[st], term): sorted(index[x] if x >= 0 else x for x in cell(st, term))
             for st in order for term in range(n_t) if cell(st, term)}
    gotos = {(index[st], j): index[g] for st in order for j, g in enumerate(goto[st]) if g >= 0}
    return cells, gotos, t.rule_lhs.tolist(), t.rule_len.tolist(), t.terminals, t.nonterminals


def _lark_table(grammar: Grammar) -> ParseTable:
    """The same table from Lark's LALR analyser (the oracle)."""
    from lark.common import ParserConf
    from lark.grammar import NonTerminal
    from lark.grammar import Rule as LarkRule
    from lark.grammar import Terminal as LarkTerminal
    from lark.parsers.lalr_analysis import LALR_Analyzer

    nonterms = sorted({r.lhs for r in grammar.rules})
    rules = [LarkRule(NonTerminal(r.lhs), [NonTerminal(s) if s in nonterms else LarkTerminal(s)
                                           for s in r.rhs], order=i)
             for i, r in enumerate(grammar.rules)]
    analyzer = LALR_Analyzer(ParserConf(rules, {}, [grammar.start]))
    analyzer.compute_lr0_states()
    analyzer.compute_reads_relations()
    analyzer.compute_includes_lookback()
    analyzer.compute_lookaheads()
    all_terms = [*grammar.terminal_names, END]
    t_index = {n: i for i, n in enumerate(all_terms)}
    all_nts = [*nonterms, f"$root_{grammar.start}"]
    nt_index = {n: i for i, n in enumerate(all_nts)}
    rule_index = {id(r): i for i, r in enumerate(rules)}
    itemsets = sorted(analyzer.lr0_itemsets,
                      key=lambda s: s is not analyzer.lr0_start_states[grammar.start])
    s_index = {id(s): i for i, s in enumerate(itemsets)}
    n_terms = len(all_terms)
    cells: dict[int, list[int]] = {}
    goto = np.full((len(itemsets), len(all_nts)), -1, dtype=np.int32)
    for itemset in itemsets:
        s = s_index[id(itemset)]
        for symbol, nxt in itemset.transitions.items():
            if symbol.is_term:
                cells.setdefault(s * n_terms + t_index[symbol.name], []).append(s_index[id(nxt)])
            else:
                goto[s, nt_index[symbol.name]] = s_index[id(nxt)]
        if any(rp.is_satisfied and rp.rule.origin.name == all_nts[-1] for rp in itemset.closure):
            cells.setdefault(s * n_terms + t_index[END], []).append(s)
        for la, lrules in itemset.lookaheads.items():
            for rule in lrules:
                cells.setdefault(s * n_terms + t_index[la.name], []).append(
                    -1 - rule_index[id(rule)])
    counts = np.zeros(len(itemsets) * n_terms + 1, dtype=np.int32)
    flat: list[int] = []
    for k in sorted(cells):
        flat.extend(cells[k])
        counts[k + 1] = len(cells[k])
    return ParseTable(
        terminals=tuple(all_terms), nonterminals=tuple(all_nts),
        cell_start=np.cumsum(counts, dtype=np.int32),
        cell_actions=np.array(flat, dtype=np.int32), goto=goto,
        rule_lhs=np.array([nt_index[r.lhs] for r in grammar.rules], dtype=np.int32),
        rule_len=np.array([len(r.rhs) for r in grammar.rules], dtype=np.int32),
        start_state=0)


SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}},
                                      "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
     "required": ["a"], "additionalProperties": {"type": "number"}},
    {"type": "array", "items": {"type": "object", "properties": {"x": {"enum": [1, "y"]}}}},
    {"type": "object", "properties": {"tree": {"$ref": "#"}, "n": {"type": "integer"}},
     "additionalProperties": False},
]


@pytest.mark.parametrize("name", [*ALL, "schema0", "schema1", "schema2"])
def test_tables_match_lark(name: str) -> None:
    if name in ALL:
        grammar = compile_lark(ALL[name])
    else:  # the grammar as compiled (unproductive rules dropped)
        grammar = ge.compile_json_schema(SCHEMAS[int(name[-1])], BYTES_VOCAB, cache=False).grammar
    ours = lr_tables._build_parse_table(grammar, 20_000_000)
    assert _canonical(ours) == _canonical(_lark_table(grammar))
    assert ours.start_state == 0


# ---------------------------------------------------------------------------------------
# Random grammars against canonical LR(1) merged by core
# ---------------------------------------------------------------------------------------

def _lr1_lookaheads(n_t: int, lhs: list[int], rhs: list[tuple[int, ...]], start: int
                    ) -> dict[tuple[int, ...], dict[int, set[int]]]:
    """LR(0) kernel -> rule -> look-aheads, from the canonical LR(1) automaton (slow)."""
    end = n_t - 1
    rules = list(zip(lhs, rhs)) + [(-1000, (start,))]
    nullable = nullable_nonterminals([x for x, _ in rules], [b for _, b in rules])
    first: dict[int, set[int]] = {x: set() for x, _ in rules}
    changed = True
    while changed:
        changed = False
        for x, body in rules:
            for s in body:
                add = {s} if s >= 0 else first[s]
                if not add <= first[x]:
                    first[x] |= add
                    changed = True
                if s >= 0 or s not in nullable:
                    break

    def first_of(seq: tuple[int, ...], la: int) -> set[int]:
        out: set[int] = set()
        for s in seq:
            if s >= 0:
                return out | {s}
            out |= first[s]
            if s not in nullable:
                return out
        return out | {la}

    def closure(items: frozenset[tuple[int, int, int]]) -> frozenset[tuple[int, int, int]]:
        todo, seen = list(items), set(items)
        while todo:
            r, dot, la = todo.pop()
            body = rules[r][1]
            if dot < len(body) and body[dot] < 0:
                for r2, (x2, _) in enumerate(rules):
                    if x2 == body[dot]:
                        for la2 in first_of(body[dot + 1:], la):
                            item = (r2, 0, la2)
                            if item not in seen:
                                seen.add(item)
                                todo.append(item)
        return frozenset(seen)

    start_state = closure(frozenset({(len(rules) - 1, 0, end)}))
    states, todo = {start_state}, [start_state]
    while todo:
        state = todo.pop()
        syms = {rules[r][1][d] for r, d, _ in state if d < len(rules[r][1])}
        for sym in syms:
            nxt = closure(frozenset((r, d + 1, la) for r, d, la in state
                                    if d < len(rules[r][1]) and rules[r][1][d] == sym))
            if nxt not in states:
                states.add(nxt)
                todo.append(nxt)
    merged: dict[tuple[int, ...], dict[int, set[int]]] = {}
    for state in states:
        kernel = tuple(sorted({(r, d) for r, d, _ in state
                               if d > 0 or r == len(rules) - 1}))  # type: ignore[misc]
        row = merged.setdefault(kernel, {})  # type: ignore[arg-type]
        for r, d, la in state:
            if d == len(rules[r][1]) and r != len(rules) - 1:
                row.setdefault(r, set()).add(la)
    return merged


@st.composite
def _grammars(draw: st.DrawFn) -> tuple[int, list[int], list[tuple[int, ...]]]:
    n_t = draw(st.integers(1, 3))
    n_nt = draw(st.integers(1, 4))
    symbols = st.one_of(st.integers(0, n_t - 1), st.integers(-n_nt, -1))
    lhs = list(range(-1, -1 - n_nt, -1))  # one rule per nonterminal at least
    lhs += draw(st.lists(st.integers(-n_nt, -1), max_size=5))
    rhs = [tuple(draw(st.lists(symbols, max_size=3))) for _ in lhs]
    pairs = list(dict.fromkeys(zip(lhs, rhs)))  # no rule twice
    productive: set[int] = set()  # the compiler drops unproductive rules before this step
    while True:
        more = {x for x, body in pairs if all(s >= 0 or s in productive for s in body)}
        if more <= productive:
            break
        productive |= more
    assume(len(productive) == n_nt)
    return n_t + 1, [x for x, _ in pairs], [b for _, b in pairs]  # +1: $END


@settings(max_examples=300, deadline=None)
@given(_grammars())
def test_lookaheads_are_canonical_lr1_merged(g: tuple[int, list[int], list[tuple[int, ...]]]
                                             ) -> None:
    n_t, lhs, rhs = g
    result = build_lalr(n_t, lhs, rhs, -1)
    auto = result.automaton
    item_of: list[tuple[int, int]] = []  # item id -> (rule, dot), as build_lalr numbers them
    for r, body in enumerate([*rhs, (-1,)]):
        item_of.extend((r, d) for d in range(len(body) + 1))
    expected = _lr1_lookaheads(n_t, lhs, rhs, -1)
    assert len(expected) == len(auto.kernels)  # same LR(0) states
    for s, kernel in enumerate(auto.kernels):
        want = expected[tuple(sorted(item_of[i] for i in kernel))]
        got = {r: {t for t in range(n_t) if bits >> t & 1}
               for r, bits in result.lookaheads[s].items()}
        assert got == {r: las for r, las in want.items() if las}
        for sym, target in auto.transitions[s].items():  # shifts move the dot
            moved = {(r, d + 1) for r, d in (item_of[i] for i in kernel)
                     if d < len(([*rhs, (-1,)])[r]) and ([*rhs, (-1,)])[r][d] == sym}
            assert moved <= {item_of[i] for i in auto.kernels[target]}


def _python_tables(grammar: Grammar) -> ParseTable:
    return lr_tables._build_parse_table(grammar, 20_000_000, kernel=False)


def _assert_same_tables(got: ParseTable, want: ParseTable) -> None:
    for field in ("cell_start", "cell_actions", "goto", "rule_lhs", "rule_len"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field), field)
    assert (got.terminals, got.nonterminals) == (want.terminals, want.nonterminals)


@pytest.mark.parametrize("name", [*ALL, "schema0", "schema1", "schema2"])
def test_kernel_tables_equal_the_python_construction(name: str) -> None:
    """``native.lr_kernels.lalr_tables`` against its twin, ``compilers.lalr``: the same
    states in the same order, the same actions in each cell."""
    if name in ALL:
        grammar = compile_lark(ALL[name])
    else:
        grammar = ge.compile_json_schema(SCHEMAS[int(name[-1])], BYTES_VOCAB, cache=False).grammar
    _assert_same_tables(lr_tables._build_parse_table(grammar, 20_000_000),
                        _python_tables(grammar))


@settings(max_examples=300, deadline=None)
@given(_grammars())
def test_kernel_tables_equal_the_python_construction_on_random_grammars(
        g: tuple[int, list[int], list[tuple[int, ...]]]) -> None:
    n_t, lhs, rhs = g
    grammar = Grammar(
        tuple(Terminal(f"T{i}", f"t{i}") for i in range(n_t - 1)),
        tuple(Rule(f"n{-1 - x}", tuple(f"n{-1 - y}" if y < 0 else f"T{y}" for y in body))
              for x, body in zip(lhs, rhs, strict=True)), "n0")
    _assert_same_tables(lr_tables._build_parse_table(grammar, 20_000_000),
                        _python_tables(grammar))


def test_nullable() -> None:
    """a -> b b c with b and c nullable: a repeated symbol counts once per occurrence."""
    s, a, b, c = -1, -2, -3, -4
    lhs = [s, a, c, b, c]
    rhs = [(a,), (b, b, c), (), (), (0,)]
    assert nullable_nonterminals(lhs, rhs) == {s, a, b, c}
    assert nullable_nonterminals([s, a], [(a, 0), ()]) == {a}


def _grammar(rules: list[tuple[str, tuple[str, ...]]], start: str = "s") -> Grammar:
    return Grammar((Terminal("X", "x"),), tuple(Rule(x, body) for x, body in rules), start)


def test_bad_grammars_raise() -> None:
    with pytest.raises(GrammarSyntaxError, match="used but not defined"):
        lr_tables._build_parse_table(_grammar([("s", ("t",))]), 1000)
    with pytest.raises(GrammarSyntaxError, match="rules defined twice: s -> X"):
        lr_tables._build_parse_table(_grammar([("s", ("X",)), ("s", ("X",))]), 1000)
    with pytest.raises(GrammarSyntaxError, match="start symbol"):
        lr_tables._build_parse_table(_grammar([("s", ("X",))], start="u"), 1000)
