"""A vocabulary split into a *slice* of plain-text tokens and the rest, so that the token
table of a lexer state inside a string-like lexeme does not walk every token.

The slice holds the tokens made only of printable ASCII other than ``"`` and ``\\``, at
most ``SLICE_MAX_LEN`` bytes long (73% of Llama 3's vocabulary, 57-62% of the others). From
a lexer state where every such string of up to ``SLICE_MAX_LEN`` bytes stays inside the
lexeme (``native.lexer_kernels.stays_alive``; true inside JSON strings, keys and most
patterns), all of them are allowed at once, with one precomputed bitmask, and only the
rest of the vocabulary is walked: llguidance's "slicer" idea, in our table builder.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from compilers.vocab import Vocabulary

__all__ = ["SLICE_MAX_LEN", "TokenSlice", "plain_text_slice"]

SLICE_MAX_LEN = 16
_PLAIN = np.zeros(256, dtype=np.bool_)
_PLAIN[0x20:0x7F] = True
_PLAIN[[0x22, 0x5C]] = False


@dataclass(frozen=True, eq=False)
class TokenSlice:
    """The slice as a bitmask, and the rest of the vocabulary laid out like the full one
    (sorted order; ``rest_pos`` gives each rest token's position in the full order)."""

    ok_bytes: NDArray[np.bool_]  # (256,) the slice's alphabet
    mask: NDArray[np.uint32]  # bits of the slice's tokens
    rest_pos: NDArray[np.int64]
    rest_ids: NDArray[np.int32]
    rest_lcp: NDArray[np.int32]  # common prefix with the previous rest token
    rest_bounds: NDArray[np.int64]  # first-byte ranges over the rest
    rest_start: NDArray[np.int64]  # offsets into the full sorted byte array
    rest_len: NDArray[np.int32]


_slices: dict[str, TokenSlice] = {}
_lock = threading.Lock()


def plain_text_slice(vocab: Vocabulary, sorted_data: NDArray[np.uint8],
                     sorted_start: NDArray[np.int64], sorted_len: NDArray[np.int32]
                     ) -> TokenSlice:
    """The plain-text slice of ``vocab`` (built once per vocabulary and process)."""
    with _lock:
        hit = _slices.get(vocab.fingerprint)
        if hit is not None:
            return hit
        va = vocab.arrays
        n = len(va.sorted_ids)
        # A token is plain when it has no byte outside the alphabet.
        bad = (~_PLAIN[sorted_data]).astype(np.int64)
        bad_count = np.add.reduceat(bad, sorted_start) if n else np.zeros(0, np.int64)
        plain = (bad_count == 0) & (sorted_len <= SLICE_MAX_LEN) & (sorted_len > 0)
        mask = np.zeros(vocab.n_words, dtype=np.uint32)
        ids = va.sorted_ids[plain].astype(np.int64)
        np.bitwise_or.at(mask, ids >> 5, (np.uint32(1) << (ids & 31).astype(np.uint32)))
        rest_pos = np.flatnonzero(~plain)
        # Common prefix of consecutive rest tokens: the minimum of lcp over the tokens
        # between them in the full order.
        rest_lcp = np.zeros(len(rest_pos), dtype=np.int32)
        if len(rest_pos) > 1:
            upto = va.lcp[: rest_pos[-1] + 1]
            rest_lcp[1:] = np.minimum.reduceat(upto, rest_pos[:-1] + 1)
        rest_start = sorted_start[rest_pos]
        firsts = sorted_data[rest_start] if len(rest_pos) else np.zeros(0, np.uint8)
        out = TokenSlice(
            ok_bytes=_PLAIN, mask=mask, rest_pos=rest_pos,
            rest_ids=np.ascontiguousarray(va.sorted_ids[rest_pos]), rest_lcp=rest_lcp,
            rest_bounds=np.searchsorted(firsts, np.arange(257)).astype(np.int64),
            rest_start=np.ascontiguousarray(rest_start),
            rest_len=np.ascontiguousarray(sorted_len[rest_pos]),
        )
        _slices[vocab.fingerprint] = out
        return out
