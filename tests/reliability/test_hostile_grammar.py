"""Hostile Lark grammars: unreachable and unproductive rules, empty languages, huge and
deeply nested grammars, exponential ambiguity."""

from __future__ import annotations

from typing import Any

import pytest

import grammar_engine as ge
from grammar_engine import GrammarSyntaxError, LimitExceededError, Limits, UnsupportedFeatureError
from tests.reliability.helpers import BYTES_VOCAB, mask_of


def compile_lark(text: str, limits: Limits | None = None) -> ge.CompiledGrammar:
    return ge.compile_grammar(text, BYTES_VOCAB, limits=limits, cache=False)


def test_unreachable_rules_do_not_change_the_language() -> None:
    g = compile_lark('start: "a"\nunused: "b" unused | "c"\nALSO: /z+/\n')
    m = ge.Matcher(g)
    assert mask_of(m) == [ord("a")]
    assert m.consume_string("a") and m.is_accepting()


def test_unproductive_alternative_is_dropped_and_noted() -> None:
    g = compile_lark('start: "a" | loop\nloop: "(" loop ")"\n')
    m = ge.Matcher(g)
    assert mask_of(m) == [ord("a")]  # "(" could never be completed
    assert any("unproductive" in n for n in g.notes)


@pytest.mark.parametrize("text", [
    'start: a\na: "x" a\n',                      # recursion without a base case
    'start: a b\na: b "x"\nb: a "y"\n',          # mutual recursion without a base case
    "start: X\nX: /[^\\x00-\\U0010ffff]/\n",     # a terminal matching nothing
    'start: X\nX: /\\ud800/\n',                  # only a surrogate: no UTF-8 encoding
], ids=["self-loop", "mutual-loop", "empty-class", "surrogate-terminal"])
def test_empty_language_is_a_compile_error(text: str) -> None:
    with pytest.raises(GrammarSyntaxError) as info:
        compile_lark(text)
    assert "language of this grammar is empty" in str(info.value)
    assert "'start'" in str(info.value)


def test_grammar_text_size_limit() -> None:
    text = 'start: "a"\n' + "// padding\n" * 50
    with pytest.raises(LimitExceededError) as info:
        compile_lark(text, Limits(max_grammar_chars=100))
    e = info.value
    assert (e.limit, e.value, e.observed) == ("max_grammar_chars", 100, len(text))


def test_rule_count_limit() -> None:
    text = "start: " + " | ".join(f"r{i}" for i in range(60)) + "\n"
    text += "".join(f'r{i}: "k{i}"\n' for i in range(60))
    with pytest.raises(LimitExceededError) as info:
        compile_lark(text, Limits(max_rules=50))
    assert info.value.limit == "max_rules" and info.value.value == 50
    assert info.value.observed > 50


def test_parse_table_size_limit() -> None:
    text = "start: " + " | ".join(f'"k{i}"' for i in range(300)) + "\n"
    with pytest.raises(LimitExceededError) as info:
        compile_lark(text, Limits(max_parse_table_cells=10_000))
    e = info.value
    assert e.limit == "max_parse_table_cells" and e.value == 10_000
    assert e.observed > 10_000 and "301 terminals" in e.where


def test_parse_table_within_the_limit() -> None:
    text = "start: " + " | ".join(f'"k{i}"' for i in range(300)) + "\n"
    g = compile_lark(text, Limits(max_parse_table_cells=200_000))
    assert g.table.n_states * g.table.n_terminals <= 200_000
    m = ge.Matcher(g)
    assert m.consume_string("k299") and m.is_accepting()


def test_deeply_parenthesised_grammar_is_an_engine_error_or_compiles() -> None:
    depth = 3_000
    text = "start: " + "(" * depth + '"a"' + ")" * depth + "\n"
    try:
        g = compile_lark(text)
    except LimitExceededError as e:  # Lark's loader recurses once per level
        assert e.limit == "recursion depth" and "nests too deeply" in e.where
    else:
        assert ge.Matcher(g).consume_string("a")


@pytest.mark.parametrize("text", [
    'start: a\na: a a | "x"\n',
    'start: e\ne: e "+" e | e "*" e | "x"\n',
], ids=["a-a", "expr"])
def test_exponential_ambiguity_stops_at_max_parser_stacks(text: str) -> None:
    g = compile_lark(text, Limits(max_parser_stacks=3))
    assert not g.is_lalr
    m = ge.Matcher(g)
    piece = "x+x*" if "+" in text else "x"
    with pytest.raises(LimitExceededError) as info:
        for _ in range(40):
            assert m.consume_string(piece)
            m.next_token_bitmask()
    e = info.value
    assert e.limit == "max_parser_stacks" and e.value == 3 and e.observed > 3


def test_ambiguity_is_exact_within_the_stack_limit() -> None:
    g = compile_lark('start: a\na: a a | "x"\n')
    m = ge.Matcher(g)
    for _ in range(12):
        assert m.consume_string("x") and m.is_accepting()


def test_runtime_stack_depth_limit_keeps_the_state() -> None:
    g = compile_lark('start: "(" start ")" | "x"\n', Limits(max_stack_depth=64))
    m = ge.Matcher(g)
    assert m.consume_string("(" * 30)
    with pytest.raises(LimitExceededError) as info:
        m.consume_string("(" * 100)
    e = info.value
    assert e.limit == "max_stack_depth" and e.value == 64 and e.observed == 65
    # The failed call changed nothing: the matcher continues from 30 open parentheses.
    assert m.consume_string("x" + ")" * 30) and m.is_accepting()


# -- %import: grammar text must not read files ---------------------------------------------

@pytest.fixture
def lark_file_in_cwd(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "secret.lark").write_text('SECRET: "top secret"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.usefixtures("lark_file_in_cwd")
@pytest.mark.parametrize("text", ["%import .secret.SECRET\nstart: SECRET\n",
                                  "  %import .secret (SECRET)\nstart: SECRET\n"])
def test_relative_import_in_text_is_refused(text: str) -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        compile_lark(text)
    assert "relative %import" in str(info.value) and info.value.location.startswith("<grammar>:1:")


@pytest.mark.usefixtures("lark_file_in_cwd")
@pytest.mark.parametrize("module", ["secret", "nonexistent", "os.path"])
def test_unknown_import_is_one_syntax_error(module: str) -> None:
    """Found while probing: Lark raised AssertionError or FileNotFoundError (and which one
    told whether the file existed)."""
    with pytest.raises(GrammarSyntaxError) as info:
        compile_lark(f"%import {module}.X\nstart: X\n")
    assert "only Lark's bundled grammars" in str(info.value)


def test_relative_import_next_to_a_grammar_file(lark_file_in_cwd: Any) -> None:
    main = lark_file_in_cwd / "main.lark"
    main.write_text("%import .secret.SECRET\nstart: SECRET\n")
    g = ge.compile_grammar(main.read_text(), BYTES_VOCAB, source=str(main), cache=False)
    assert ge.Matcher(g).consume_string("top secret")


def test_bundled_imports_still_work() -> None:
    g = compile_lark("%import common.INT\n%import common.WS\n%ignore WS\nstart: INT+\n")
    assert ge.Matcher(g).consume_string("12 34")


def test_template_expanding_forever_stops_at_max_rules() -> None:
    """Found while probing: Lark's loader instantiated t{y{...{"a"}}} without end."""
    text = 'start: t{"a"}\nt{x}: "(" t{y{x}} ")" | x\ny{z}: z z\n'
    with pytest.raises(LimitExceededError) as info:
        compile_lark(text, Limits(max_rules=300))
    e = info.value
    assert (e.limit, e.value, e.observed) == ("max_rules", 300, 301)
    assert "template" in e.where


def test_recursive_template_with_fixed_arguments_compiles() -> None:
    g = compile_lark('start: t{"a"}\nt{x}: x | "(" t{x} ")"\n')
    assert ge.Matcher(g).consume_string("((a))")


def test_lark_failing_in_its_own_error_report_is_a_syntax_error() -> None:
    """Found by benchmarks/fuzz.py: on this text Lark's parser raised TypeError while
    wording its error message."""
    text = ('start: "a" start\nr1: "a" start\nNUM: /[0-9]+/\nWORD: /[a-z]+/'
            '(STR: /"[^"]*"/\n')
    with pytest.raises(GrammarSyntaxError, match="invalid Lark grammar"):
        compile_lark(text)


def test_set_union_warning_of_re_does_not_escape() -> None:
    """``re`` warns (FutureWarning) on ``[[``; under ``-W error`` that was an exception
    from inside the engine (pytest here runs with warnings as errors)."""
    g = compile_lark("start: X\nX: /[[a]+/\n")
    assert ge.Matcher(g).consume_string("[a[")
    assert ge.Matcher(ge.compile_regex("[[a]]", BYTES_VOCAB, cache=False)).consume_string("a]")
