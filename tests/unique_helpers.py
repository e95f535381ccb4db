"""Helpers for the ``uniqueItems`` mask tests: compare every candidate token's mask bit
with an independent oracle along a path, and walk through the masks writing the same few
values again and again (so that repeated values come up often)."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

import grammar_engine as ge

Oracle = Callable[[bytes], tuple[bool, bool]]  # text -> (viable prefix, complete)


def assert_masks_match(g: ge.CompiledGrammar, path: list[int], oracle: Oracle,
                       candidates: np.ndarray) -> None:
    """Along ``path`` (token ids), the mask bit of every candidate token equals the
    oracle's verdict on the text so far plus that token, and EOS is allowed exactly on
    complete texts."""
    vocab = g.vocab
    m = ge.Matcher(g)
    text = b""
    for step, tid in enumerate([*path, None]):
        bits = m.next_token_bitmask()[0].view(np.uint32)
        for t in candidates.tolist():
            engine = bool((bits[t >> 5] >> (t & 31)) & 1)
            viable = oracle(text + vocab.token_bytes[t])[0]
            assert engine == viable, (
                f"step {step}, after {text!r}: token {vocab.token_bytes[t]!r} "
                f"{'allowed' if engine else 'refused'}, oracle says "
                f"{'viable' if viable else 'dead'}")
        eos = next(iter(vocab.eos_token_ids))
        assert bool((bits[eos >> 5] >> (eos & 31)) & 1) == oracle(text)[1], text
        if tid is None or not m.consume_token(tid):
            return
        text += vocab.token_bytes[tid]


def walk_with_repeats(g: ge.CompiledGrammar, rng: random.Random,
                      next_piece: Callable[[random.Random], bytes], steps: int = 40
                      ) -> list[int]:
    """Token ids of a random walk that writes the pieces ``next_piece`` plans (the longest
    token the vocabulary has and the matcher takes; a random allowed token when none)."""
    vocab = g.vocab
    by_bytes = {b: i for i, b in enumerate(vocab.token_bytes) if vocab.is_text_token(i)}
    m = ge.Matcher(g)
    out: list[int] = []
    plan = b""
    for _ in range(steps):
        if not plan:
            plan = next_piece(rng)
        for k in range(len(plan), 0, -1):
            tid = by_bytes.get(plan[:k])
            if tid is not None and m.accepts_token(tid):
                break
        else:
            allowed = [t for t in m.allowed_token_ids().tolist() if vocab.is_text_token(t)]
            if not allowed:
                break
            tid, k = rng.choice(allowed), len(plan)
        assert m.consume_token(tid)
        out.append(tid)
        plan = plan[k:]
    return out
