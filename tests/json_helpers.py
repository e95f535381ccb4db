"""Helpers for JSON Schema tests: feed documents through a compiled schema, sample
documents from its masks, and validate with ``jsonschema`` (exact decimals)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import jsonschema
import numpy as np

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


_STRUCTURAL = [b'"', b"}", b"]", b",", b":", b"0", b"1", b"true", b"false", b"null", b"{",
               b"[", b'",', b'"}', b'":']


def sample_document(g: ge.CompiledGrammar, rng: random.Random, max_tokens: int = 300,
                    stop_bias: float = 0.5, structural_bias: float = 0.6) -> str | None:
    """A random walk through the masks until EOS; None if it ran out of tokens.

    With probability ``structural_bias`` a step picks among the allowed tokens that close
    or open JSON structure (quotes, brackets, literals), so walks end in a few dozen tokens.
    """
    vocab = g.vocab
    eos = np.array(sorted(vocab.eos_token_ids))
    structural = np.array(sorted({i for i, b in enumerate(vocab.token_bytes)
                                  if b in _STRUCTURAL and vocab.is_text_token(i)}))
    m = ge.Matcher(g)
    out = bytearray()
    for _ in range(max_tokens):
        allowed = m.allowed_token_ids()
        if not len(allowed):
            raise AssertionError(f"dead end after {bytes(out)!r}")
        if np.isin(eos, allowed).any() and rng.random() < stop_bias:
            return out.decode("utf-8")
        text_ids = allowed[~np.isin(allowed, eos)]
        if not len(text_ids):
            return out.decode("utf-8")
        preferred = text_ids[np.isin(text_ids, structural)]
        pool = preferred if len(preferred) and rng.random() < structural_bias else text_ids
        t = int(pool[rng.randrange(len(pool))])
        assert m.consume_token(t)
        out += vocab.token_bytes[t]
    return None
