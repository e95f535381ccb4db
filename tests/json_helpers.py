"""Helpers for JSON Schema tests: feed documents through a compiled schema, sample
documents from its masks, and validate with ``jsonschema`` (exact decimals)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import jsonschema

import grammar_engine as ge


def accepts_text(g: ge.CompiledGrammar, text: str) -> bool:
    """Byte-level check: the whole text is a complete word."""
    m = ge.Matcher(g)
    return m.consume_string(text) and m.is_accepting()


def accepts_tokens(g: ge.CompiledGrammar, ids: list[int]) -> bool:
    m = ge.Matcher(g)
    return all(m.consume_token(i) for i in ids) and m.is_accepting()


def is_valid(schema: Any, document_text: str) -> bool:
    """jsonschema's verdict with exact decimals (numbers parsed as Decimal)."""
    exact_schema = json.loads(json.dumps(schema), parse_float=Decimal)
    instance = json.loads(document_text, parse_float=Decimal)
    cls = jsonschema.validators.validator_for(exact_schema,
                                              default=jsonschema.Draft202012Validator)
    return bool(cls(exact_schema, format_checker=cls.FORMAT_CHECKER).is_valid(instance))


def sample_document(g: ge.CompiledGrammar, rng: random.Random, max_tokens: int = 300,
                    stop_bias: float = 0.5) -> str | None:
    """A random walk through the masks until EOS; None if it ran out of tokens."""
    vocab = g.vocab
    eos = set(vocab.eos_token_ids)
    m = ge.Matcher(g)
    out = bytearray()
    for _ in range(max_tokens):
        allowed = m.allowed_token_ids().tolist()
        if not allowed:
            raise AssertionError(f"dead end after {bytes(out)!r}")
        can_stop = [t for t in allowed if t in eos]
        if can_stop and rng.random() < stop_bias:
            return out.decode("utf-8")
        choices = [t for t in allowed if t not in eos] or can_stop
        t = rng.choice(choices)
        if t in eos:
            return out.decode("utf-8")
        assert m.consume_token(t)
        out += vocab.token_bytes[t]
    return None
