"""``uniqueItems`` over strings: the parser refuses an item whose decoded value an earlier
item of the same array had (``Terminal.unique``, ``StackNode.seen``).

The masks are checked against an independent oracle written here (a byte-level scanner
of arrays of JSON strings, ``json.loads`` for the values), token by token, exhaustively on
a small byte vocabulary and on the decisive tokens of the four real tokenizers.
"""

from __future__ import annotations

import codecs
import json
import random
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import grammar_engine as ge
from tests.json_helpers import accepts_text, is_valid
from tests.shared_data import TOKENIZERS, hf_tokenizer, real_vocab
from tests.test_json_schema import BYTES_VOCAB, compile_schema
from tests.unique_helpers import assert_masks_match, walk_with_repeats

UNIQUE = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
CONTAINS_B = {"type": "array", "items": {"type": "string", "pattern": "b"},
              "uniqueItems": True}


# -- the oracle ------------------------------------------------------------------------
def _string_prefix_ok(body: bytes) -> bool:
    """``body`` (after an opening quote, no closing quote) can still become a JSON string."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return False
    i = 0
    while i < len(body):
        c = body[i]
        if c < 0x20:
            return False
        if c == 0x5C:
            if i + 1 == len(body):
                return True
            if body[i + 1] in b'"\\/bfnrt':
                i += 2
                continue
            if body[i + 1] != ord("u"):
                return False
            digits = body[i + 2 : i + 6]
            if not all(d in b"0123456789abcdefABCDEF" for d in digits):
                return False
            i += 6
            continue
        i += 1
    return True


def _string_end(text: bytes, start: int) -> int | None:
    """Index of the closing quote of the string opened at ``start`` (None: not closed)."""
    i = start + 1
    while i < len(text):
        if text[i] == 0x5C:
            i += 2
            continue
        if text[i] == 0x22:
            return i
        i += 1
    return None


def oracle(text: bytes, item_ok: Callable[[str], bool]) -> tuple[bool, bool]:
    """``(viable, complete)`` for compact arrays of distinct strings: a partial item can
    always grow into a new valid value (every item schema used here allows that)."""
    if not text:
        return True, False
    if text[0] != ord("["):
        return False, False
    seen: set[str] = set()
    i, state = 1, "first"  # first item or "]", "item", "after" an item, "done"
    while i < len(text):
        c = text[i]
        if state == "done":
            return False, False
        if state == "after":
            if c not in b",]":
                return False, False
            state = "item" if c == ord(",") else "done"
            i += 1
            continue
        if state == "first" and c == ord("]"):
            state, i = "done", i + 1
            continue
        if c != ord('"'):
            return False, False
        end = _string_end(text, i)
        if end is None:
            return _string_prefix_ok(text[i + 1 :]), False
        if not _string_prefix_ok(text[i + 1 : end]):
            return False, False
        try:
            value = json.loads(text[i : end + 1])
        except ValueError:
            return False, False
        if value in seen or not item_ok(value):
            return False, False
        seen.add(value)
        i, state = end + 1, "after"
    return True, state == "done"


# -- exact masks -----------------------------------------------------------------------
@pytest.mark.parametrize(("schema", "item_ok"), [
    (UNIQUE, lambda s: True),
    (CONTAINS_B, lambda s: re.search("b", s) is not None),
])
def test_masks_equal_the_oracle_on_a_byte_vocabulary(schema: Any,
                                                    item_ok: Callable[[str], bool]) -> None:
    g = compile_schema(schema, whitespace="compact")
    every = np.array([i for i in range(BYTES_VOCAB.size) if BYTES_VOCAB.is_text_token(i)])
    words = [b"a", b"b", b"ab", b"", b"\\u0062", b"\\u00e9", "é".encode(), b"ba"]
    for seed in range(6):
        rng = random.Random(seed)
        path = walk_with_repeats(g, rng, lambda r: r.choice(
            [b'"' + r.choice(words) + b'"', b",", b'","', b"]"]))
        assert_masks_match(g, path, lambda t: oracle(t, item_ok), every)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_masks_equal_the_oracle_under_real_tokenizers(tok_name: str) -> None:
    vocab = real_vocab(tok_name)
    hf = hf_tokenizer(tok_name)
    g = ge.compile_json_schema(UNIQUE, vocab, whitespace="compact", cache=False)
    quoted = [i for i, b in enumerate(vocab.token_bytes) if b'"' in b
              and vocab.is_text_token(i)]
    rng = random.Random(tok_name)
    others = rng.sample([i for i in range(vocab.size) if vocab.is_text_token(i)], 300)
    candidates = np.array(sorted(set(quoted) | set(others)))
    for doc in ['["name","id","name"]', '["a","b","c","b"]', '["x","\\u0078"]',
                '["caf\u00e9","caf\\u00e9"]', '["","",""]']:
        ids = hf.encode(doc, add_special_tokens=False)
        assert_masks_match(g, ids, lambda t: oracle(t, lambda s: True), candidates)


# -- behaviour -------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "valid"), [
    ('["a", "b"]', True),
    ('["a", "a"]', False),
    ('["x", "\\u0078"]', False),  # equal once decoded
    ('["\\u00e9", "\u00e9"]', False),
    ('["\\u00e9", "\\u00E9"]', False),
    ('["a", "b", "A"]', True),
    ('["", "a", ""]', False),
    ('[]', True),
])
def test_values_compare_decoded(text: str, valid: bool) -> None:
    g = compile_schema(UNIQUE)
    assert is_valid(UNIQUE, text) == valid
    assert accepts_text(g, text) == valid


def test_each_array_has_its_own_values() -> None:
    schema = {"type": "object", "properties": {"x": UNIQUE, "y": UNIQUE,
                                               "z": {"type": "array", "items": UNIQUE}}}
    g = compile_schema(schema)
    assert accepts_text(g, '{"x": ["a", "b"], "y": ["a", "b"], "z": [["a"], ["a", "b"]]}')
    assert not accepts_text(g, '{"x": ["a"], "y": ["b", "c", "b"]}')
    assert not accepts_text(g, '{"z": [["a"], ["b", "b"]]}')


def test_the_refused_token_leaves_the_state_and_rollback_restores_values() -> None:
    g = compile_schema(UNIQUE)
    m = ge.Matcher(g)
    assert m.consume_string('["a", "b", "a')
    before = m.allowed_token_ids().tolist()
    assert not m.consume_string('"')
    assert m.allowed_token_ids().tolist() == before
    assert m.consume_string('c"]') and m.is_accepting()
    m.rollback(1)  # back to '["a", "b", "a'
    assert m.allowed_token_ids().tolist() == before
    copy = m.copy()
    assert copy.consume_string('a"]') and not copy.consume_string('"')


def test_saved_grammar_keeps_the_check(tmp_path: Any) -> None:
    g = compile_schema(UNIQUE)
    path = tmp_path / "unique.ge"
    g.save(path)
    loaded = ge.CompiledGrammar.load(path, BYTES_VOCAB)
    assert accepts_text(loaded, '["a", "b"]')
    assert not accepts_text(loaded, '["a", "a"]')


def test_jump_forward_does_not_complete_a_used_value() -> None:
    schema = {"type": "array", "items": {"type": "string", "pattern": "^ab+$"},
              "uniqueItems": True}
    g = compile_schema(schema, whitespace="compact")
    m = ge.Matcher(g)
    assert m.consume_string('["ab","ab')
    assert m.find_jump_forward_string() == ""  # the closing quote is not forced: "ab" is used
    assert not m.consume_string('"')
    assert m.consume_string('b"]') and m.is_accepting()


def test_refused_when_a_prefix_could_run_out_of_values() -> None:
    schema = {"properties": {"a": {"items": {"type": "string", "pattern": "^[ab]{2}$"},
                                   "uniqueItems": True}}}
    with pytest.raises(ge.UnsupportedFeatureError, match="finitely many") as info:
        compile_schema(schema)
    assert info.value.location == "#/properties/a/uniqueItems"
