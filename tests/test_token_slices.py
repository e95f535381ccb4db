"""The plain-text slice and the shared table cache change nothing: every lexer state's
table equals the one a full walk of the vocabulary gives."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import compilers.token_index as token_index
from compilers.token_index import StateTokens
from compilers.token_slices import NO_RESTARTS, TokenSlice
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
            '{"b": "', '{"b": "abcd', '{"b": "é€', '{"e": "' + "ab " * 12,
            '{"zz": 1', "SELECT a", "SELECT a,", "SELECT abc FROM t",
            "SELECT a FROM t WHERE b = 'x y", "int x", "int x = y"]


def _same(a: StateTokens, b: StateTokens) -> bool:
    return (np.array_equal(a.inside, b.inside) and np.array_equal(a.first_dead, b.first_dead)
            and len(a.groups) == len(b.groups)
            and all(x[0] == y[0] and np.array_equal(x[1], y[1]) and np.array_equal(x[2], y[2])
                    for x, y in zip(a.groups, b.groups, strict=True)))


def _slice_by_every_check(index: token_index.TokenIndex, q: int,
                          restarts: np.ndarray, target: np.int32) -> TokenSlice | None:
    """``slice_for``'s choice by the exact check of each slice, with no shortcut: the widest
    text slice whose narrower ones all hold, else the quote-free one, else the first word
    slice that holds."""
    text = [index._stays_alive(q, sl, restarts, target) for sl in index.slices]
    # Text slice i counts when it and every narrower one (after it) hold.
    fits = [sl for i, sl in enumerate(index.slices) if all(text[i:])]
    others = [index.quote_free_slice, *index.word_slices]
    fits += [sl for sl in others if index._stays_alive(q, sl, restarts, target)]
    return fits[0] if fits else None


@pytest.mark.real_tokenizer
@pytest.mark.parametrize("tok", ["llama3", "gemma3"])
def test_slice_tables_equal_full_walk(tok: str, tokenizer_dir: Callable[[str], Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir(tok))
    compiled = [compile_json_schema(s, vocab, cache=False) for s in SCHEMAS]
    compiled += [compile_grammar(ALL[g], vocab, cache=False)
                 for g in ("json", "sql", "c_like")]
    # States that took each slice (long UTF-8, short UTF-8, short ASCII; words, lower-case
    # words, identifier characters, lower-case ones; text without ') or none.
    index = compiled[0].index
    every = index.slices + index.word_slices + (index.quote_free_slice,)
    used = [0] * (len(every) + 1)
    counted = 0
    for c in compiled:
        for prefix in PREFIXES:  # create some lexer states
            m = Matcher(c)
            if m.consume_string(prefix):
                m.fill_next_token_bitmask(m.next_token_bitmask())
        for q in c.lexer.reachable_states():
            terms = c.lexer.signature(q, c.index._depth)[1]  # as the index keys it
            # Fresh states also with ignored lexemes restarting in them (see TokenIndex.get).
            restart = c.lexer.is_fresh(q) and bool(c.lexer.ignored)
            for restart_to in (-1, q) if restart else (-1,):
                with monkeypatch.context() as mp:
                    mp.setattr(token_index, "stays_alive", lambda *a: False)
                    mp.setattr(token_index, "repeat_layout", lambda dfa: None)
                    full = c.index._build(q, terms, restart_to)
                fast = c.index._build(q, terms, restart_to)
                assert _same(fast, full), (tok, q, restart_to)
                args = (NO_RESTARTS, np.int32(q)) if restart_to < 0 else \
                    (c.index._restarts, np.int32(q))
                taken = c.index.slice_for(q, *args)
                assert taken is _slice_by_every_check(c.index, q, *args), (tok, q, restart_to)
                used[-1 if taken is None else every.index(taken)] += 1
            counted += c.index._counted_slice(q)[0] is not None
    assert used[0] > 10 and all(used[1:-1]), used  # each slice was taken
    assert counted >= 10  # states of bounded strings took the count of characters left


@pytest.mark.real_tokenizer
def test_count_masks_hold_the_tokens_that_fit(tokenizer_dir: Callable[[str], Path]) -> None:
    """Row ``n`` of the widest text slice's count masks holds exactly its tokens of at most
    ``n`` characters, a character cut at the token's end counted."""
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("qwen3"))
    c = compile_json_schema({"type": "string", "maxLength": 3}, vocab, cache=False)
    sl = c.index.slices[0]
    ids = np.flatnonzero(np.unpackbits(sl.mask.view(np.uint8), bitorder="little"))
    chars = np.array([sum((b & 0xC0) != 0x80 for b in vocab.token_bytes[int(t)])
                      for t in ids])
    assert chars.max() > 20 and (chars == 1).sum() > 1000
    for n in (0, 1, 2, 5, 17, None):
        got = np.flatnonzero(np.unpackbits(sl.fitting(n).view(np.uint8), bitorder="little"))
        want = ids if n is None else ids[chars <= n]
        np.testing.assert_array_equal(got, want)


def test_only_units_of_every_character_count_characters() -> None:
    """The count of characters stands for a bounded string's states only when its unit
    reads every text character as one string: not for a narrower unit, nor for two
    characters at a time."""
    from compilers.automata import (
        build_byte_dfa,
        build_terminal_dfa,
        quoted_repeat_dfa,
        repeat_layout,
    )
    from compilers.regex import compile_regex_nfa
    from compilers.token_slices import _utf8_text_dfa

    class _Slice:  # what _reads_text_chars reads of a slice
        text_dfa = _utf8_text_dfa()

    def unit(pattern: str):  # type: ignore[no-untyped-def]
        return build_byte_dfa(compile_regex_nfa(pattern, json_string=True, quoted=False))

    any_char, letters = unit("(?s:.)"), unit("[a-z]")
    assert token_index._reads_text_chars(any_char, _Slice())  # type: ignore[arg-type]
    assert not token_index._reads_text_chars(letters, _Slice())  # type: ignore[arg-type]
    pairs = build_terminal_dfa("(?s:..)", False)
    assert not token_index._reads_text_chars(pairs, _Slice())  # type: ignore[arg-type]
    layout = repeat_layout(quoted_repeat_dfa(any_char, 1, 3))
    assert layout is not None and layout.bounded and layout.n_layers == 4
    starts = [layout.strings_left(s) for s in range(1 + 4 * layout.k)]
    assert [x for x in starts if x != -1] == [3, 2, 1, 0]
    assert repeat_layout(quoted_repeat_dfa(any_char, 2, None)).strings_left(  # type: ignore[union-attr]
        1 + 2 * layout.k) is None


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


def _reads_all(dfa: np.ndarray, data: bytes) -> bool:
    state = 0
    for b in data:
        state = int(dfa[state, b])
        if state < 0:
            return False
    return True


@pytest.mark.real_tokenizer
@pytest.mark.parametrize("tok", ["qwen3", "gemma3"])
def test_slice_members_are_the_tokens_their_language_reads(
        tok: str, tokenizer_dir: Callable[[str], Path]) -> None:
    """Every slice holds exactly the tokens of at most its longest length that its text
    automaton reads whole, byte by byte (the slices are made by one walk of the trie); the
    word slices are also checked against their regular expressions."""
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir(tok))
    index = compile_grammar('start: "a"', vocab, cache=False).index
    # Prefixes of words: a lone space is one.
    patterns = [rb" ?([A-Za-z_][A-Za-z0-9_]*)?", rb" ?([a-z_][a-z0-9_]*)?", rb"[A-Za-z0-9_]+",
                rb"[a-z0-9_]+"]
    text = vocab.token_bytes
    ids = vocab.arrays.sorted_ids.tolist()
    for n, sl in enumerate(index.slices + index.word_slices + (index.quote_free_slice,)):
        got = set(np.flatnonzero(np.unpackbits(sl.mask.view(np.uint8), bitorder="little"))
                  .tolist())
        want = {t for t in ids if len(text[t]) <= sl.max_len
                and _reads_all(sl.text_dfa, text[t])}
        assert got == want, (n, sorted(got ^ want)[:10])
        assert len(sl.rest_ids) + len(got) == len(ids)
        if len(index.slices) <= n < len(index.slices) + len(patterns):
            pattern = patterns[n - len(index.slices)]
            assert want == {t for t in ids if re.fullmatch(pattern, text[t])}, n
