"""``uniqueItems`` over arbitrary JSON values: items are spelled with item-part terminals,
the parser collects each item's text and compares its value with the earlier items' when
the item completes (a closing bracket or quote, the end of a literal or number).

Masks are checked against an independent oracle written here (a scanner of compact JSON
arrays; ``jsonschema`` decides whether the items are distinct), token by token,
exhaustively on a small byte vocabulary and on the decisive tokens of the real tokenizers.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import jsonschema
import numpy as np
import pytest

import grammar_engine as ge
from tests.json_helpers import accepts_text, is_valid, sample_document
from tests.shared_data import TOKENIZERS, hf_tokenizer, real_vocab
from tests.test_json_schema import BYTES_VOCAB, compile_schema
from tests.test_unique_numbers import _number_state
from tests.test_unique_strings import _string_end, _string_prefix_ok
from tests.unique_helpers import assert_masks_match, walk_with_repeats

ANY_UNIQUE = {"type": "array", "uniqueItems": True}
_DISTINCT = jsonschema.Draft202012Validator({"uniqueItems": True})
_INCOMPLETE, _ERROR = -1, -2


# -- the oracle ------------------------------------------------------------------------
def _scan(s: bytes, i: int) -> int:
    """End of the compact JSON value starting at ``i``, or _INCOMPLETE (a proper prefix
    of one), or _ERROR."""
    if i >= len(s):
        return _INCOMPLETE
    c = s[i : i + 1]
    if c == b'"':
        end = _string_end(s, i)
        if end is None:
            return _INCOMPLETE if _string_prefix_ok(s[i + 1 :]) else _ERROR
        return end + 1 if _string_prefix_ok(s[i + 1 : end]) else _ERROR
    if c in (b"t", b"f", b"n"):
        word = {b"t": b"true", b"f": b"false", b"n": b"null"}[c]
        if s[i : i + len(word)] == word:
            return i + len(word)
        return _INCOMPLETE if word.startswith(s[i:]) else _ERROR
    if c == b"-" or c.isdigit():
        j = i
        while j < len(s) and s[j : j + 1] in b"0123456789.eE+-" and s[j : j + 1] != b"":
            j += 1
        state = _number_state(s[i:j], integers=False)
        if j == len(s):
            return _INCOMPLETE if state is not None else _ERROR
        return j if state in ("zero", "int", "frac", "exp_int") else _ERROR
    if c in (b"[", b"{"):
        close = b"]" if c == b"[" else b"}"
        j = i + 1
        if s[j : j + 1] == close:
            return j + 1
        while True:
            if c == b"{":
                if s[j : j + 1] not in (b'"', b""):
                    return _ERROR
                j = _scan(s, j)
                if j < 0:
                    return j
                if s[j : j + 1] != b":":
                    return _INCOMPLETE if j == len(s) else _ERROR
                j += 1
            j = _scan(s, j)
            if j < 0:
                return j
            if j == len(s):
                return _INCOMPLETE
            if s[j : j + 1] == close:
                return j + 1
            if s[j : j + 1] != b",":
                return _ERROR
            j += 1
    return _ERROR


def _distinct(items: list[bytes]) -> bool:
    return bool(_DISTINCT.is_valid([json.loads(t, parse_float=Decimal) for t in items]))


def oracle(text: bytes) -> tuple[bool, bool]:
    """``(viable, complete)`` for compact arrays of distinct JSON values."""
    if not text:
        return True, False
    if text[:1] != b"[":
        return False, False
    if text == b"[]":
        return True, True
    if text.startswith(b"[]"):
        return False, False
    items: list[bytes] = []
    i = 1
    while True:
        j = _scan(text, i)
        if j == _ERROR:
            return False, False
        if j == _INCOMPLETE:
            rest = text[i:]
            for word in (b"true", b"false", b"null"):
                if rest and word.startswith(rest):  # only this word can follow
                    return _distinct([*items, word]), False
            return True, False
        items.append(text[i:j])
        if not _distinct(items):
            return False, False
        if j == len(text):
            return True, False
        if text[j : j + 1] == b"]":
            return j + 1 == len(text), j + 1 == len(text)
        if text[j : j + 1] != b",":
            return False, False
        i = j + 1


PIECES = [b"true", b"false", b"null", b"1", b"1.0", b"10e-1", b"[]", b"{}", b"[1]", b"[1,2]",
          b'{"a":1}', b'{"a":1.0}', b'{"b":2,"a":1}', b'{"a":1,"b":2}', b'"a"', b'"\\u0061"',
          b"[[]]", b"[true]", b"0", b"-0"]


def test_oracle_sanity() -> None:
    assert oracle(b"[1,2]") == (True, True)
    assert oracle(b"[true,t")[0] is False
    assert oracle(b"[true,f")[0] is True
    assert oracle(b"[[1],[1")[0] is True  # may become [1,2]
    assert oracle(b"[[1],[1]")[0] is False
    assert oracle(b'[{"a":1,"b":2},{"b":2,"a":1}')[0] is False
    assert oracle(b"[1,1.0,")[0] is False
    assert oracle(b"[1,true]") == (True, True)


def test_masks_equal_the_oracle_on_a_byte_vocabulary() -> None:
    g = compile_schema(ANY_UNIQUE, whitespace="compact")
    every = np.array([i for i in range(BYTES_VOCAB.size) if BYTES_VOCAB.is_text_token(i)])
    for seed in range(8):
        rng = random.Random(seed)
        path = walk_with_repeats(g, rng, lambda r: r.choice([r.choice(PIECES), b",", b"]"]))
        assert_masks_match(g, path, oracle, every)
    # Byte by byte through repeats of each kind (every prefix is a state checked).
    single = {b: i for i, b in enumerate(BYTES_VOCAB.token_bytes) if len(b) == 1}
    for text in (b'["a","a"]', b"[true,true]", b"[[1],[1]]", b'[{"a":1},{"a":1}]',
                 b"[1,1.0]", b"[null,null]", b'[{},{}]', b'[[true],[true]]'):
        assert_masks_match(g, [single[text[i : i + 1]] for i in range(len(text))], oracle,
                           every)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_masks_equal_the_oracle_under_real_tokenizers(tok_name: str) -> None:
    vocab = real_vocab(tok_name)
    hf = hf_tokenizer(tok_name)
    g = ge.compile_json_schema(ANY_UNIQUE, vocab, whitespace="compact", cache=False)
    structural = [i for i, b in enumerate(vocab.token_bytes) if vocab.is_text_token(i)
                  and b and set(b) <= set(b'0123456789.eE+-,]}[{":truefalsn')]
    rng = random.Random(tok_name)
    others = rng.sample([i for i in range(vocab.size) if vocab.is_text_token(i)], 200)
    candidates = np.array(sorted(set(structural) | set(others)))
    for doc in ['[true,false,true]', '[[1],[2],[1]]', '[{"a":1},{"a":1.0}]',
                '[null,"null",null]', '["x",{"x":[1,{}]},{"x":[1,{}]}]']:
        ids = hf.encode(doc, add_special_tokens=False)
        assert_masks_match(g, ids, oracle, candidates)


@pytest.mark.parametrize(("text", "valid"), [
    ("[1, 2, [1, 2], [2, 1]]", True),
    ("[1, 1.0]", False),
    ("[[1], [1.0]]", False),
    ('[{"a": 1, "b": [true]}, {"b": [true], "a": 1}]', False),
    ('[{"a": 1, "a": 2}, {"a": 2}]', False),  # the last of repeated keys counts
    ("[1, true, 0, false, null, \"\", [], {}]", True),
    ('["a", "\\u0061"]', False),
    ("[[[]], [[]]]", False),
    ("[[[]], [[], []]]", True),
])
def test_documents(text: str, valid: bool) -> None:
    g = compile_schema(ANY_UNIQUE)
    assert is_valid(ANY_UNIQUE, text) == valid
    assert accepts_text(g, text) == valid, text


@pytest.mark.parametrize("schema", [
    {"type": "array", "uniqueItems": True},
    {"type": "array", "items": True, "uniqueItems": True, "maxItems": 3},
    {"type": "array", "items": {"description": "anything"}, "uniqueItems": True,
     "minItems": 2},
    {"type": "object", "properties": {"a": {"uniqueItems": True}}},
    {"type": "array", "prefixItems": [{"type": "boolean"}, {"enum": [1, "a"]}],
     "uniqueItems": True},
])
@pytest.mark.parametrize("options", [{}, {"indent": 2}], ids=["flexible", "indent"])
def test_sampled_documents_validate(schema: Any, options: dict[str, Any]) -> None:
    g = compile_schema(schema, **options)
    rng = random.Random(json.dumps(schema))
    produced = 0
    for _ in range(20):
        doc = sample_document(g, rng, max_tokens=300)
        if doc is not None:
            produced += 1
            assert is_valid(schema, doc), doc
    assert produced >= 5


def test_save_and_load_keep_item_parts(tmp_path: Any) -> None:
    g = compile_schema(ANY_UNIQUE)
    path = tmp_path / "u.geg"
    g.save(path)
    loaded = ge.CompiledGrammar.load(path, BYTES_VOCAB)
    assert accepts_text(loaded, "[[1], [2]]") and not accepts_text(loaded, "[[1], [1]]")
