"""``uniqueItems`` over numbers: the parser compares each number item with the earlier
items of its array as exact decimals (``1``, ``1.0`` and ``10e-1`` are one value).

Masks are checked against an independent oracle written here (a scanner of compact arrays
of JSON numbers, ``decimal.Decimal`` for the values), token by token, exhaustively on a
small byte vocabulary and on the decisive tokens of the four real tokenizers.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

import grammar_engine as ge
from tests.json_helpers import accepts_text, is_valid
from tests.shared_data import TOKENIZERS, hf_tokenizer, real_vocab
from tests.test_json_schema import BYTES_VOCAB, compile_schema
from tests.unique_helpers import assert_masks_match, walk_with_repeats

NUMBERS = {"type": "array", "items": {"type": "number"}, "uniqueItems": True}
INTEGERS = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}

_DIGITS = "0123456789"
# JSON number automaton: state -> {byte class: next state}; accepting states grow or end.
_STEPS: dict[str, dict[str, str]] = {
    "start": {"-": "minus", "0": "zero", "1-9": "int"},
    "minus": {"0": "zero", "1-9": "int"},
    "zero": {".": "point", "e": "exp"},
    "int": {"0-9": "int", ".": "point", "e": "exp"},
    "point": {"0-9": "frac"},
    "frac": {"0-9": "frac", "e": "exp"},
    "exp": {"+-": "exp_sign", "0-9": "exp_int"},
    "exp_sign": {"0-9": "exp_int"},
    "exp_int": {"0-9": "exp_int"},
}
_ACCEPTING = {"zero", "int", "frac", "exp_int"}


def _number_state(item: bytes, integers: bool) -> str | None:
    """State of the number automaton after ``item`` (None: not a prefix of a number)."""
    state = "start"
    for c in item.decode("latin-1"):
        klass = ("1-9" if c in _DIGITS[1:] else "0") if c in _DIGITS else \
            "e" if c in "eE" else "+-" if c in "+-" and state == "exp" else c
        if klass in ("0", "1-9") and "0-9" in _STEPS[state]:
            klass = "0-9"
        nxt = _STEPS[state].get(klass)
        if nxt is None or (integers and nxt in ("point", "exp")):
            return None
        state = nxt
    return state


def _item_verdict(item: bytes, integers: bool) -> tuple[bool, Decimal | None]:
    """``(may be a prefix of an item, its value if it is an item that cannot grow)``."""
    state = _number_state(item, integers)
    if state is None:
        return False, None
    if integers and state == "zero":
        return True, Decimal(item.decode())
    return True, None


def _is_number(item: bytes, integers: bool) -> bool:
    return _number_state(item, integers) in _ACCEPTING


def oracle(text: bytes, integers: bool) -> tuple[bool, bool]:
    """``(viable, complete)`` for compact arrays of distinct numbers."""
    if not text:
        return True, False
    if text[0] != ord("["):
        return False, False
    if text == b"[]":
        return True, True
    body = text[1:]
    closed = body.endswith(b"]")
    if closed:
        body = body[:-1]
    if b"]" in body:
        return False, False
    items = body.split(b",")
    seen: set[Decimal] = set()
    for k, item in enumerate(items):
        last = k == len(items) - 1 and not closed
        if not last:
            if not _is_number(item, integers):
                return False, False
            value = Decimal(item.decode())
            if value in seen:
                return False, False
            seen.add(value)
            continue
        ok, ended = _item_verdict(item, integers)
        if not ok or (ended is not None and ended in seen):
            return False, False
    return True, closed


def test_oracle_sanity() -> None:
    assert oracle(b"[1,2]", False) == (True, True)
    assert oracle(b"[1,1.0", False) == (True, False)  # may become 1.05
    assert oracle(b"[1,1.0,", False)[0] is False
    assert oracle(b"[0,-0", True)[0] is False  # -0 cannot grow as an integer
    assert oracle(b"[0,-0", False)[0] is True  # -0.5
    assert oracle(b"[1,1e", False)[0] is True
    assert oracle(b"[1,01", False)[0] is False


@pytest.mark.parametrize(("schema", "integers"), [(NUMBERS, False), (INTEGERS, True)],
                         ids=["number", "integer"])
def test_masks_equal_the_oracle_on_a_byte_vocabulary(schema: Any, integers: bool) -> None:
    g = compile_schema(schema, whitespace="compact")
    every = np.array([i for i in range(BYTES_VOCAB.size) if BYTES_VOCAB.is_text_token(i)])
    words = [b"1", b"0", b"-0", b"10", b"1.0", b"1e1", b"10e-1", b"2", b"0.50", b"5E-1"]
    if integers:
        words = [b"1", b"0", b"-0", b"10", b"2", b"-1"]
    for seed in range(6):
        rng = random.Random(seed)
        path = walk_with_repeats(g, rng, lambda r: r.choice([r.choice(words), b",", b"]"]))
        assert_masks_match(g, path, lambda t: oracle(t, integers), every)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_masks_equal_the_oracle_under_real_tokenizers(tok_name: str) -> None:
    vocab = real_vocab(tok_name)
    hf = hf_tokenizer(tok_name)
    g = ge.compile_json_schema(NUMBERS, vocab, whitespace="compact", cache=False)
    numeric = [i for i, b in enumerate(vocab.token_bytes) if vocab.is_text_token(i)
               and b and set(b) <= set(b"0123456789.eE+-,]")]
    rng = random.Random(tok_name)
    others = rng.sample([i for i in range(vocab.size) if vocab.is_text_token(i)], 300)
    candidates = np.array(sorted(set(numeric) | set(others)))
    for doc in ["[1,2,1]", "[10,1e1]", "[1.5,15e-1,0.15]", "[0,-0,100,1000,100]",
                "[123,12,1234,123]"]:
        ids = hf.encode(doc, add_special_tokens=False)
        assert_masks_match(g, ids, lambda t: oracle(t, False), candidates)


@pytest.mark.parametrize(("text", "valid"), [
    ("[1, 2, 3]", True),
    ("[1, 1]", False),
    ("[1, 1.0]", False),
    ("[10, 1e1]", False),
    ("[0, -0]", False),
    ("[0.1, 0.10000000000000000000000000000001]", True),  # exact, no float rounding
    ("[1e400, 2e400]", True),
    ("[1e400, 10e399]", False),
    ("[[1], [1]]", True),  # per array
    ("[[1, 2], [2, 2]]", False),
])
def test_documents(text: str, valid: bool) -> None:
    schema = {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                         "uniqueItems": True}}
    if not text.startswith("[["):
        schema = NUMBERS
    g = compile_schema(schema)
    assert is_valid(schema, text) == valid
    assert accepts_text(g, text) == valid, text


def test_integer_items_with_a_bound_that_leaves_finite_prefixes_are_refused() -> None:
    # With minimum 0, "-" can only become "-0": a prefix with finitely many values.
    with pytest.raises(ge.UnsupportedFeatureError, match="finitely many continuations") as e:
        compile_schema({"items": {"type": "integer", "minimum": 0}, "uniqueItems": True})
    assert e.value.location == "#/uniqueItems"
    g = compile_schema({"items": {"type": "integer", "minimum": 1}, "uniqueItems": True})
    assert accepts_text(g, "[1, 2, 30]") and not accepts_text(g, "[3, 2, 3]")


def test_sampled_documents_validate() -> None:
    from tests.json_helpers import sample_document

    for schema in (NUMBERS, INTEGERS):
        g = compile_schema(schema)
        rng = random.Random(json.dumps(schema))
        for _ in range(20):
            doc = sample_document(g, rng, max_tokens=200)
            if doc is not None:
                assert is_valid(schema, doc), doc
