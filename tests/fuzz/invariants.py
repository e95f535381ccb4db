"""The invariants the fuzzers check, as plain functions (used by ``test_fuzz.py`` with a
few examples and by ``benchmarks/fuzz.py`` for long runs).

* compiling anything raises nothing but :class:`GrammarEngineError` subclasses;
* masks equal the independent oracle's (``tests/oracle.py``) along random walks;
* every document sampled from the masks is complete JSON that validates with
  ``jsonschema``; no reachable state has an empty mask (the vocabulary spells every byte).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import jsonschema

import grammar_engine as ge
from grammar_engine import GrammarEngineError, LimitExceededError, Limits
from tests.oracle import Oracle, reference_mask

# Every byte, plus pieces that cross lexeme boundaries in JSON and in small grammars.
_PIECES = [bytes([i]) for i in range(256)] + [
    b'",', b'":', b'{"', b'"}', b"],", b"true", b"null", b"12", b"\xc3\xa9", b"ab", b"a)",
    b"(a", b"\\u00", b'":"', b"[1", b"e+", b"0.", b"\xe2\x82",
]
FUZZ_VOCAB = ge.Vocabulary.from_bytes([*_PIECES, b""], eos_token_ids=[len(_PIECES)],
                                      special_ids=[len(_PIECES)], name="fuzz-bytes")
EOS = len(_PIECES)
# Small enough that hostile draws fail fast instead of slowly.
LIMITS = Limits(max_nfa_states=20_000, max_dfa_states=4_000, max_lexer_states=20_000,
                compile_time_budget=20.0, mask_time_budget=10.0)

STATS: Counter[str] = Counter()  # what the invariants saw (read by benchmarks/fuzz.py)


def compile_or_error(kind: str, spec: Any) -> ge.CompiledGrammar | None:
    """Compile; None on an engine error. Any other exception propagates (a finding)."""
    STATS[f"{kind}:cases"] += 1
    try:
        if kind == "regex":
            return ge.compile_regex(spec, FUZZ_VOCAB, limits=LIMITS, cache=False)
        if kind == "lark":
            return ge.compile_grammar(spec, FUZZ_VOCAB, limits=LIMITS, cache=False)
        return ge.compile_json_schema(spec, FUZZ_VOCAB, limits=LIMITS, cache=False)
    except GrammarEngineError as e:
        STATS[f"{kind}:error:{type(e).__name__}"] += 1
        return None


def _mask(m: ge.Matcher) -> set[int]:
    return set(m.allowed_token_ids().tolist())


def check_masks_against_oracle(g: ge.CompiledGrammar, grammar_text: str, seed: int,
                               steps: int = 12) -> None:
    """Walk ``steps`` random allowed tokens; every mask must equal the oracle's."""
    try:
        oracle = Oracle(grammar_text)
    except Exception:  # Lark cannot load it the same way: nothing to compare with
        STATS["oracle:unloadable"] += 1
        return
    rng = random.Random(seed)
    text_ids = [i for i in range(FUZZ_VOCAB.size) if FUZZ_VOCAB.is_text_token(i)]
    prefix = b""
    try:
        m = ge.Matcher(g)
    except LimitExceededError:  # e.g. a cyclic grammar: GLR stacks past the limit
        STATS["oracle:limit"] += 1
        return
    for _ in range(steps):
        try:
            got = _mask(m)
        except LimitExceededError:
            STATS["oracle:limit"] += 1
            return
        want = reference_mask(oracle, FUZZ_VOCAB.token_bytes, text_ids,
                              FUZZ_VOCAB.eos_token_ids, prefix)
        if got != want:
            raise AssertionError(
                f"mask differs from the oracle after {prefix!r}\n{grammar_text}\n"
                f"  engine only: {sorted(FUZZ_VOCAB.token_bytes[t] for t in got - want)[:8]}\n"
                f"  oracle only: {sorted(FUZZ_VOCAB.token_bytes[t] for t in want - got)[:8]}")
        STATS["oracle:masks"] += 1
        choices = sorted(got - {EOS})
        if not choices:
            return
        t = rng.choice(choices)
        try:
            assert m.consume_token(t)
        except LimitExceededError:
            STATS["oracle:limit"] += 1
            return
        prefix += FUZZ_VOCAB.token_bytes[t]


def sample_document(g: ge.CompiledGrammar, seed: int, max_tokens: int = 300) -> bytes | None:
    """Random allowed tokens until EOS (taken with growing probability once allowed);
    None if ``max_tokens`` pass first."""
    rng = random.Random(seed)
    m = ge.Matcher(g)
    out = b""
    for step in range(max_tokens):
        allowed = _mask(m)
        if not allowed:
            raise AssertionError(f"empty mask after {out!r}")
        if EOS in allowed and (len(allowed) == 1 or rng.random() < 0.2 + step / max_tokens):
            assert m.consume_token(EOS)
            return out
        t = rng.choice(sorted(allowed - {EOS}))
        assert m.consume_token(t)
        out += FUZZ_VOCAB.token_bytes[t]
    return None


def check_samples_validate(g: ge.CompiledGrammar, schema: Any, seed: int,
                           n_samples: int = 3) -> None:
    """Every sampled document is JSON and valid against ``schema``."""
    cls = jsonschema.validators.validator_for(schema if isinstance(schema, dict) else {},
                                              default=jsonschema.Draft202012Validator)
    validator = cls(schema)
    for k in range(n_samples):
        try:
            doc = sample_document(g, seed * 7919 + k)
        except LimitExceededError:
            STATS["schema:sample-limit"] += 1
            continue
        if doc is None:
            STATS["schema:sample-too-long"] += 1
            continue
        value = json.loads(doc.decode("utf-8"))
        errors = list(validator.iter_errors(value))
        if errors:
            raise AssertionError(f"sampled {doc!r} is invalid against {json.dumps(schema)}: "
                                 f"{errors[0].message}")
        STATS["schema:samples-valid"] += 1
