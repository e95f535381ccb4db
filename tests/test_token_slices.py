"""The plain-text slice and the shared table cache change nothing: every lexer state's
table equals the one a full walk of the vocabulary gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import compilers.token_index as token_index
from compilers.token_index import StateTokens
from compilers.vocab import Vocabulary
from grammar_engine import Matcher, compile_grammar, compile_json_schema
from tests.grammars import ALL

SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "string"},
                                      "b": {"type": "string", "maxLength": 5},
                                      "c": {"type": "string", "pattern": "^[a-z]+-[0-9]{2}$"}},
     "required": ["a"]},
    {"type": "object", "properties": {"d": {"type": "string", "pattern": "^[ -~]*$"},
                                      "e": {"type": "string", "maxLength": 40}}},
    {"type": "array", "items": {"enum": ["red", "green", 3, None]}},
    {"type": "object", "additionalProperties": {"type": "integer"},
     "properties": {"name": {"type": "string", "format": "email"}}},
]


PREFIXES = ['{"a": "x y', '{"d": "x y', '{"e": "x y', '{"c": "ab', '["re', '{"name": "me@ex',
            '{"zz": 1', "SELECT a", "SELECT abc FROM t", "int x", "int x = y"]


def _same(a: StateTokens, b: StateTokens) -> bool:
    return (np.array_equal(a.inside, b.inside) and np.array_equal(a.first_dead, b.first_dead)
            and len(a.groups) == len(b.groups)
            and all(x[0] == y[0] and np.array_equal(x[1], y[1]) and np.array_equal(x[2], y[2])
                    for x, y in zip(a.groups, b.groups, strict=True)))


@pytest.mark.real_tokenizer
@pytest.mark.parametrize("tok", ["llama3", "gemma3"])
def test_slice_tables_equal_full_walk(tok: str, tokenizer_dir: Callable[[str], Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir(tok))
    compiled = [compile_json_schema(s, vocab, cache=False) for s in SCHEMAS]
    compiled += [compile_grammar(ALL[g], vocab, cache=False)
                 for g in ("json", "sql", "c_like")]
    # States that took each slice (long UTF-8, short UTF-8, short ASCII; words,
    # identifier characters) or none.
    every = compiled[0].index.slices + compiled[0].index.word_slices
    used = [0] * (len(every) + 1)
    for c in compiled:
        for prefix in PREFIXES:  # create some lexer states
            m = Matcher(c)
            if m.consume_string(prefix):
                m.fill_next_token_bitmask(m.next_token_bitmask())
        for q in c.lexer.reachable_states():
            terms = c.lexer.signature(q, c.index._depth)[1]  # as the index keys it
            with monkeypatch.context() as mp:
                mp.setattr(token_index, "stays_alive", lambda *a: False)
                full = c.index._build(q, terms)
            fast = c.index._build(q, terms)
            assert _same(fast, full), (tok, q)
            taken = c.index.slice_for(q)
            used[-1 if taken is None else every.index(taken)] += 1
    assert used[0] > 10 and all(used[1:-1]), used  # each slice was taken


READINGS_SCHEMA = {  # two string terminals that match the same lexemes: reading ids
    "type": "object", "additionalProperties": {"anyOf": [
        {"type": "object", "properties": {"a": {"type": "string", "maxLength": 300}}},
        {"type": "object", "properties": {"a": {"type": "string", "minLength": 1},
                                          "b": {"type": "number"}}}]}}


@pytest.mark.real_tokenizer
def test_tables_keyed_by_content_label_readings(tokenizer_dir: Callable[[str], Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """States too big for the canonical hash are keyed by their content; tokens that end
    a lexeme read as several terminals are labelled by those terminals' positions, and the
    masks equal the ones under canonical keys."""
    import compilers.lexer as lexer_module

    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("llama3"))
    text = '{"k1": {"a": "xyz", "b": 1}, "k2": {"a": ""}}'
    expected = _masks_along(compile_json_schema(READINGS_SCHEMA, vocab, cache=False), text)
    monkeypatch.setattr(lexer_module, "_CANON_STATES", 1)  # every state keyed by content
    monkeypatch.setattr(lexer_module, "_canonical_of", {})
    got = _masks_along(compile_json_schema(READINGS_SCHEMA, vocab, cache=False), text)
    assert len(got) == len(expected) == len(text) + 1
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert np.array_equal(a, b), f"mask after {text[:i]!r} differs"


def _masks_along(compiled: object, text: str) -> list[np.ndarray]:
    m = Matcher(compiled)  # type: ignore[arg-type]
    out = [m.next_token_bitmask().copy()]
    for ch in text:
        assert m.consume_string(ch), ch
        out.append(m.next_token_bitmask().copy())
    return out


@pytest.mark.real_tokenizer
def test_tables_shared_by_depth_bounded_keys_equal_own_builds(
        tokenizer_dir: Callable[[str], Path]) -> None:
    """States that agree on every string up to the longest token share one table (long
    length-bounded strings): the shared table equals each state's own build."""
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("llama3"))
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "maxLength": 400}, "b": {"type": "string", "maxLength": 900},
        "c": {"type": "string", "minLength": 200, "maxLength": 300}}}
    c = compile_json_schema(schema, vocab, cache=False)
    for text in ('{"a": "' + "xy " * 120, '{"b": "' + "lorem ipsum " * 60,
                 '{"c": "' + "z" * 250):
        m = Matcher(c)
        for ch in text:
            assert m.consume_string(ch)
            m.fill_next_token_bitmask(m.next_token_bitmask())
    keys = set()
    reached = c.lexer.reachable_states()
    for q in reached:
        sig, terms = c.lexer.signature(q, c.index._depth)
        keys.add(sig)
        for restart_to in (-1, q):  # ignored whitespace restarting in q, or not
            own = c.index._build(q, terms, restart_to)
            own = StateTokens(own.inside, own.first_dead, c.index._relabel(own.groups, terms))
            assert _same(c.index._fetch(q, restart_to), own), (q, restart_to)
    assert len(keys) < len(reached) - 300  # long strings' states share keys
