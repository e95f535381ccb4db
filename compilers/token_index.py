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


class TokenIndex:
    """Lazily built :class:`StateTokens` for every lexer state a matcher reaches."""

    def __init__(self, lexer: ContextualLexer, vocab: Vocabulary) -> None:
        self.lexer = lexer
        self.vocab = vocab
        self._tables: dict[int, StateTokens] = {}
        self._lock = threading.Lock()
        va = vocab.arrays
        firsts = va.token_data[va.token_start[va.sorted_ids]]
        # Sorted-order range of the tokens starting with each byte.
        self.first_byte_bounds = np.searchsorted(firsts, np.arange(257)).astype(np.int64)

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
                table = self._tables.setdefault(q, table)
        return table

    def _build(self, q: int) -> StateTokens:
        va = self.vocab.arrays
        trans, top = self.lexer.arrays
        inside, first_dead, b_tok, b_off, b_state = classify_tokens(
            trans, top, np.int32(q), va.sorted_ids, va.lcp, self.first_byte_bounds,
            va.token_data, va.token_start, va.token_len, self.vocab.n_words, va.max_token_len,
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
