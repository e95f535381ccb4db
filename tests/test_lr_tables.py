"""Our indexed includes/lookback step builds the tables Lark's own analyser builds."""

from __future__ import annotations

from typing import Any

import pytest

from compilers import lr_tables
from compilers.json_schema import compile_json_schema_ir
from compilers.lark_grammar import compile_lark
from compilers.lr_tables import ParseTable
from tests.grammars import ALL


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


SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}},
                                      "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
     "required": ["a"], "additionalProperties": {"type": "number"}},
    {"type": "array", "items": {"type": "object", "properties": {"x": {"enum": [1, "y"]}}}},
]


@pytest.mark.parametrize("name", [*ALL, "schema0", "schema1"])
def test_indexed_analyser_matches_lark(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name in ALL:
        grammar = compile_lark(ALL[name])
    else:
        grammar = compile_json_schema_ir(SCHEMAS[int(name[-1])])
    ours = lr_tables._build_parse_table(grammar, 20_000_000)
    monkeypatch.setattr(lr_tables, "_Analyzer", lr_tables.LALR_Analyzer)
    lark = lr_tables._build_parse_table(grammar, 20_000_000)
    assert _canonical(ours) == _canonical(lark)


@pytest.mark.parametrize("name", [*ALL, "schema0", "schema1"])
def test_nullable_matches_lark(name: str) -> None:
    """The NULLABLE-only analysis equals the NULLABLE of Lark's full FIRST/FOLLOW one."""
    from lark.grammar import NonTerminal
    from lark.grammar import Rule as LarkRule
    from lark.grammar import Terminal as LarkTerminal

    grammar = compile_lark(ALL[name]) if name in ALL else \
        compile_json_schema_ir(SCHEMAS[int(name[-1])])
    lhs = {r.lhs for r in grammar.rules}
    rules = [LarkRule(NonTerminal(r.lhs), [NonTerminal(s) if s in lhs else LarkTerminal(s)
                                           for s in r.rhs], order=i)
             for i, r in enumerate(grammar.rules)]
    _, _, expected = lr_tables._lark_calculate_sets(rules)
    assert lr_tables._nullable(rules) == expected
    assert any(not r.expansion for r in rules) == bool(expected)


def test_nullable_with_a_repeated_symbol() -> None:
    """a -> b b c with b and c nullable: each rule counts a repeated symbol once."""
    from lark.grammar import NonTerminal
    from lark.grammar import Rule as LarkRule
    from lark.grammar import Terminal as LarkTerminal

    s, a, b, c = (NonTerminal(n) for n in "sabc")
    rules = [LarkRule(s, [a]), LarkRule(a, [b, b, c]), LarkRule(c, []), LarkRule(b, []),
             LarkRule(c, [LarkTerminal("X")])]
    assert lr_tables._nullable(rules) == lr_tables._lark_calculate_sets(rules)[2] == {s, a, b, c}
