"""Bad grammars and regexes: precise error types, locations and messages."""

from __future__ import annotations

import pytest

import grammar_engine as ge
from grammar_engine import (
    GrammarEngineError,
    GrammarSyntaxError,
    LimitExceededError,
    Limits,
    UnsupportedFeatureError,
)

VOCAB = ge.Vocabulary.from_bytes([bytes([i]) for i in range(256)] + [b""], eos_token_ids=[256],
                                 special_ids=[256])


def compile_lark(text: str, **kw: object) -> ge.CompiledGrammar:
    return ge.compile_grammar(text, VOCAB, cache=False, **kw)  # type: ignore[arg-type]


def test_syntax_error_has_line_column_and_caret() -> None:
    with pytest.raises(GrammarSyntaxError) as info:
        compile_lark('start: "a" b\nb: ("x" \n', source="g.lark")
    e = info.value
    assert e.line == 2 and e.column >= 1
    assert "g.lark:2:" in str(e) and "^" in e.excerpt
    assert isinstance(e, ValueError) and isinstance(e, GrammarEngineError)


def test_undefined_rule_is_located() -> None:
    with pytest.raises(GrammarSyntaxError) as info:
        compile_lark("start: a b\na: \"x\"\n")
    assert "'b'" in str(info.value) and info.value.line == 1


def test_bad_terminal_regex_is_located() -> None:
    with pytest.raises(GrammarSyntaxError) as info:
        compile_lark('start: X\nX: /[a-/\n')
    assert info.value.line == 2


def test_lookaround_terminal_is_unsupported_with_location() -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        compile_lark('start: X\nX: /a(?=b)/\n')
    assert "look-ahead" in str(info.value) and "X" in info.value.location


def test_empty_language_is_refused() -> None:
    with pytest.raises(GrammarSyntaxError, match="language of this grammar is empty"):
        compile_lark('start: a\na: "x" a\n')


def test_unproductive_alternatives_are_dropped() -> None:
    g = compile_lark('start: "a" | "b" c\nc: "x" c\n')
    m = ge.Matcher(g)
    assert not m.consume_string("b")  # "b" could never be completed
    assert m.consume_string("a") and m.is_accepting()
    assert any("unproductive" in n for n in g.notes)


def test_terminal_matching_nothing() -> None:
    with pytest.raises(GrammarSyntaxError, match="empty"):
        compile_lark("start: X\nX: /[^\\x00-\\U0010ffff]/\n")


def test_ignored_empty_terminal_is_refused() -> None:
    with pytest.raises(UnsupportedFeatureError, match="empty string"):
        compile_lark('start: "a"\nWS: /\\s*/\n%ignore WS\n')


def test_declared_terminal_is_unsupported() -> None:
    with pytest.raises(UnsupportedFeatureError, match="declare"):
        compile_lark("%declare INDENT\nstart: INDENT\n")


def test_grammar_size_limit() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_lark('start: "a"\n' + "// pad\n" * 100, limits=Limits(max_grammar_chars=50))
    assert info.value.limit == "max_grammar_chars"


def test_regex_dfa_limit() -> None:
    with pytest.raises(LimitExceededError) as info:
        ge.compile_regex(r"(a|b)*a(a|b){14}", VOCAB, limits=Limits(max_dfa_states=1000),
                         cache=False)
    assert info.value.limit == "max_dfa_states"


def test_stack_depth_limit() -> None:
    g = ge.compile_grammar('start: "(" start ")" | "x"', VOCAB, cache=False,
                           limits=Limits(max_stack_depth=50))
    m = ge.Matcher(g)
    with pytest.raises(LimitExceededError) as info:
        m.consume_string("(" * 100)
    assert info.value.limit == "max_stack_depth"


def test_limits_validate_their_values() -> None:
    with pytest.raises(ValueError, match="max_dfa_states"):
        Limits(max_dfa_states=0)


def test_regex_syntax_error_column() -> None:
    with pytest.raises(GrammarSyntaxError) as info:
        ge.compile_regex(r"ab(c", VOCAB, cache=False)
    assert info.value.column >= 3 and "^" in str(info.value)
