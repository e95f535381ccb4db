"""Catastrophic regexes: they compile within the limits or fail with a named limit.

Backtracking blow-ups (``(a|aa)*b``) cost nothing here (the engine determinises instead of
backtracking); determinisation blow-ups (``(a|b)*a(a|b){n}`` needs 2^n states) and huge
counted repetitions stop at ``max_dfa_states`` / ``max_nfa_states``, reported with the
limit's value and the work reached.
"""

from __future__ import annotations

import pytest

import grammar_engine as ge
from grammar_engine import LimitExceededError, Limits
from tests.reliability.helpers import BYTES_VOCAB, PIECES, mask_of

SMALL = Limits(max_nfa_states=5_000, max_dfa_states=2_000)


def compile_regex(pattern: str, limits: Limits = SMALL) -> ge.CompiledGrammar:
    return ge.compile_regex(pattern, BYTES_VOCAB, limits=limits, cache=False)


@pytest.mark.parametrize(("pattern", "accepts", "rejects"), [
    ("(a|aa)*b", ["b", "ab", "aaaab"], ["a", "ba"]),
    ("(x+x+)+y", ["xxy", "xxxxxy"], ["xy", "y"]),
    ("(a*)*b", ["b", "aaab"], ["a"]),
    ("((a|b)*)*c", ["c", "ababc"], ["ab"]),
    ("(.*a){12}", ["a" * 12, "ba" * 12], ["a" * 11]),
    ("(\\w+\\s?)*$", ["ab cd", "x"], ["a  b"]),
], ids=["a-or-aa", "x+x+", "nested-star", "nested-alt-star", "dot-star-a-12", "word-space"])
def test_backtracking_bombs_compile_small(pattern: str, accepts: list[str],
                                          rejects: list[str]) -> None:
    g = compile_regex(pattern)
    stats = g.stats()
    # The engine's own counters: the automaton stays within the limit.
    assert stats["terminal_dfa_states"] <= SMALL.max_dfa_states
    for text in accepts:
        m = ge.Matcher(g)
        assert m.consume_string(text) and m.is_accepting(), (pattern, text)
    for text in rejects:
        m = ge.Matcher(g)
        assert not (m.consume_string(text) and m.is_accepting()), (pattern, text)


def test_long_input_on_bomb_is_linear_in_states() -> None:
    g = compile_regex("(a|aa)*b")
    m = ge.Matcher(g)
    assert m.consume_string("a" * 5_000)
    assert not m.is_accepting()
    assert mask_of(m) == sorted([ord("a"), ord("b"), PIECES.index(b"ab")])
    # The lexer only ever built the few states of the minimal DFA.
    assert g.stats()["lexer_states_built"] <= 8


@pytest.mark.parametrize("n", [12, 30])
def test_dfa_blowup_stops_at_max_dfa_states(n: int) -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_regex(f"(a|b)*a(a|b){{{n}}}")
    e = info.value
    assert e.limit == "max_dfa_states" and e.value == SMALL.max_dfa_states
    assert e.observed == SMALL.max_dfa_states + 1
    assert "REGEX" in e.where and "max_dfa_states=2000" in str(e)


def test_dfa_blowup_below_the_limit_compiles_exactly() -> None:
    g = compile_regex("(a|b)*a(a|b){5}")  # 2^6 states
    assert g.stats()["terminal_dfa_states"] <= 2 ** 7
    m = ge.Matcher(g)
    assert m.consume_string("bbbabbbbb") and m.is_accepting()
    m = ge.Matcher(g)
    assert m.consume_string("bbbbbbbbb") and not m.is_accepting()


@pytest.mark.parametrize("pattern", ["a{1,100000}", "(ab){50000}", "(a{1,1000}){1,1000}",
                                     "[a-z]{0,65535}"])
def test_counted_repetition_stops_at_max_nfa_states(pattern: str) -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_regex(pattern)
    e = info.value
    assert e.limit == "max_nfa_states" and e.value == SMALL.max_nfa_states
    assert e.observed == SMALL.max_nfa_states + 1 and "<regex>" in e.where


def test_counted_repetition_within_the_limit_is_exact() -> None:
    g = compile_regex("a{2,1000}")
    m = ge.Matcher(g)
    assert m.consume_string("a" * 1000) and m.is_accepting()
    assert mask_of(m) == [BYTES_VOCAB.eos_token_ids[0]]
    assert not ge.Matcher(g).consume_string("a" * 1001)


def test_deeply_nested_groups_hit_max_nesting_depth() -> None:
    limits = Limits(max_nesting_depth=50)
    ok = "(" * 50 + "a" + ")" * 50
    assert ge.Matcher(compile_regex(ok, limits)).consume_string("a")
    with pytest.raises(LimitExceededError) as info:
        compile_regex("(" * 51 + "a" + ")" * 51, limits)
    e = info.value
    assert e.limit == "max_nesting_depth" and e.value == 50 and e.observed == 51
    assert "groups nested" in e.where


def test_huge_nesting_never_reaches_python_recursion() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_regex("(" * 100_000 + "a" + ")" * 100_000)
    assert info.value.limit == "max_nesting_depth"


def test_parentheses_inside_classes_and_escapes_are_not_groups() -> None:
    pattern = "[(]" * 300 + "\\(" * 300
    g = compile_regex(pattern, Limits(max_nesting_depth=2))
    assert ge.Matcher(g).consume_string("(" * 600)


def test_pattern_size_limit() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_regex("a" * 101, Limits(max_grammar_chars=100))
    assert (info.value.limit, info.value.value, info.value.observed) == (
        "max_grammar_chars", 100, 101)


def test_huge_alternation_stops_at_max_nfa_states() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_regex("|".join(f"k{i}" for i in range(5_000)))
    assert info.value.limit == "max_nfa_states"
