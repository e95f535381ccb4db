"""Lexer state x vocabulary -> cached token classes (the token-level index).

For a lexer state ``q`` the vocabulary splits three ways, independent of the parser:

* tokens that stay inside the current lexeme (every byte extends it): allowed, one cached
  bitmask ``inside``;
* tokens that hit a dead end inside the lexeme: rejected;
* tokens that end the lexeme part-way (``boundary``): their verdict depends on the parser,
  so they are kept as lists grouped by the terminal the lexeme becomes, together with the
  byte where the rest of the token starts; the matcher checks them at run time.

Tokens whose *first* byte ends an accepting lexeme are kept as a bitmask ``first_dead``:
the matcher resolves all of them at once from the next lexeme's own table. Tables are
built the first time a matcher reaches ``q`` (one kernel call) and shared by all matchers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from compilers.errors import LimitExceededError
from compilers.lexer import ContextualLexer
from compilers.vocab import Vocabulary
from native.kernels import classify_tokens

__all__ = ["StateTokens", "TokenIndex"]


@dataclass(frozen=True, eq=False)
class StateTokens:
    """Token classes for one lexer state (see the module docstring)."""

    inside: NDArray[np.uint32]
    first_dead: NDArray[np.uint32]
    # One entry per terminal a lexeme can end as: (terminal, token ids, offsets).
    groups: tuple[tuple[int, NDArray[np.int32], NDArray[np.int32]], ...]

    @property
    def nbytes(self) -> int:
        return int(self.inside.nbytes + self.first_dead.nbytes
                   + sum(t.nbytes + o.nbytes for _, t, o in self.groups))


_layouts: dict[str, tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.int64],
                          NDArray[np.int32]]] = {}
_layout_lock = threading.Lock()


def _sorted_layout(vocab: Vocabulary) -> tuple[NDArray[np.int64], NDArray[np.uint8],
                                               NDArray[np.int64], NDArray[np.int32]]:
    """Token bytes re-laid in sorted order, plus each first byte's range (per vocabulary)."""
    with _layout_lock:
        hit = _layouts.get(vocab.fingerprint)
        if hit is not None:
            return hit
        va = vocab.arrays
        ids = va.sorted_ids
        lens = va.token_len[ids].astype(np.int32)
        starts = np.zeros(len(ids), dtype=np.int64)
        if len(ids):
            starts[1:] = np.cumsum(lens[:-1], dtype=np.int64)
        data = b"".join(vocab.token_bytes[i] for i in ids.tolist())
        sorted_data = np.frombuffer(data, dtype=np.uint8)
        firsts = sorted_data[starts] if len(ids) else np.zeros(0, dtype=np.uint8)
        bounds = np.searchsorted(firsts, np.arange(257)).astype(np.int64)
        _layouts[vocab.fingerprint] = (bounds, sorted_data, starts, lens)
        return _layouts[vocab.fingerprint]


class TokenIndex:
    """Lazily built :class:`StateTokens` for every lexer state a matcher reaches."""

    def __init__(self, lexer: ContextualLexer, vocab: Vocabulary,
                 max_bytes: int = 2 << 30) -> None:
        self.lexer = lexer
        self.vocab = vocab
        self.max_bytes = max_bytes
        self._bytes = 0
        self._tables: dict[int, StateTokens] = {}
        self._lock = threading.Lock()
        layout = _sorted_layout(vocab)
        self.first_byte_bounds, self.sorted_data, self.sorted_start, self.sorted_len = layout

    @property
    def n_built(self) -> int:
        return len(self._tables)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in list(self._tables.values()))

    def get(self, q: int) -> StateTokens:
        table = self._tables.get(q)
        if table is None:
            table = self._build(q)
            with self._lock:
                if q not in self._tables:
                    if self._bytes + table.nbytes > self.max_bytes:
                        raise LimitExceededError("max_token_table_bytes", self.max_bytes,
                                                 self._bytes + table.nbytes,
                                                 f"token table of lexer state {q}")
                    self._bytes += table.nbytes
                table = self._tables.setdefault(q, table)
        return table

    def _build(self, q: int) -> StateTokens:
        va = self.vocab.arrays
        trans, top = self.lexer.arrays
        inside, first_dead, b_tok, b_off, b_state = classify_tokens(
            trans, top, np.int32(q), va.sorted_ids, va.lcp, self.first_byte_bounds,
            self.sorted_data, self.sorted_start, self.sorted_len, self.vocab.n_words,
            va.max_token_len,
        )
        groups: list[tuple[int, NDArray[np.int32], NDArray[np.int32]]] = []
        if len(b_tok):
            terms = top[b_state]
            order = np.argsort(terms, kind="stable")
            terms, b_tok, b_off = terms[order], b_tok[order], b_off[order]
            cuts = np.flatnonzero(np.diff(terms)) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(terms)], strict=True):
                groups.append((int(terms[lo]), b_tok[lo:hi].copy(), b_off[lo:hi].copy()))
        return StateTokens(inside=inside, first_dead=first_dead, groups=tuple(groups))
