"""Numba kernels on plain arrays: the token-index walk, token walks and bitmask operations.

This module imports nothing from the project. Conventions shared by every kernel:

* A lexer automaton is ``trans: int32[n_states, 256]`` (``-1`` = no transition) plus
  ``top: int32[n_states]``, the terminal a lexeme ending in that state would be
  (``-1`` = the state is not accepting).
* A vocabulary is ``token_data: uint8[...]`` (every token's bytes, concatenated),
  ``token_start: int64[V]`` and ``token_len: int32[V]``; ``sorted_ids`` lists the text tokens
  in lexicographic order of their bytes and ``lcp[i]`` is the length of the common prefix of
  tokens ``sorted_ids[i-1]`` and ``sorted_ids[i]``.
* Bitmasks are ``uint32`` (or ``int32``) words, token ``j`` at bit ``j % 32`` of word
  ``j // 32``. Every kernel has a plain NumPy twin in :mod:`native.reference`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "KIND_BOUNDARY",
    "KIND_DEAD",
    "KIND_INSIDE",
    "apply_token_bitmask_kernel",
    "classify_tokens",
    "set_bits",
    "walk_bytes",
    "walk_tokens",
]

KIND_INSIDE = 0
KIND_DEAD = 1
KIND_BOUNDARY = 2


@njit(cache=True, nogil=True)
def classify_tokens(trans, top, q, sorted_ids, lcp, first_byte_bounds, sorted_data,
                    sorted_start, sorted_len, n_words, max_len):  # pragma: no cover - compiled
    """Classify every text token by walking its bytes from lexer state ``q``.

    Reference loop, for each token ``t`` with bytes ``b``::

        c = q
        for j in range(len(b)):
            if trans[c, b[j]] < 0:
                kind = BOUNDARY if top[c] >= 0 else DEAD; break
            c = trans[c, b[j]]
        else:
            kind = INSIDE

    Tokens are visited in sorted order and the states of the common prefix with the
    previous token are reused (a flattened trie walk); a token sharing the failing byte of
    the previous one gets its verdict without a walk, and a first byte with no transition
    settles its whole range of tokens (``first_byte_bounds[b]:first_byte_bounds[b + 1]`` in
    sorted order) at once. ``sorted_data``/``sorted_start``/``sorted_len`` hold the tokens'
    bytes in sorted order, so the walk reads memory sequentially.

    Returns ``(inside, first_dead, b_tok, b_off, b_state)``: ``inside`` has the bits of the
    tokens that never leave the lexeme, ``first_dead`` of those whose first byte ends an
    accepting lexeme at ``q``; ``b_*`` list the tokens ending a lexeme at byte ``b_off >= 1``
    in state ``b_state``.
    """
    n = sorted_ids.shape[0]
    inside = np.zeros(n_words, np.uint32)
    first_dead = np.zeros(n_words, np.uint32)
    b_tok = np.empty(n, np.int32)
    b_off = np.empty(n, np.int32)
    b_state = np.empty(n, np.int32)
    nb = 0
    states = np.empty(max_len + 1, np.int32)
    states[0] = q
    q_accepts = top[q] >= 0
    for first in range(256):
        lo = first_byte_bounds[first]
        hi = first_byte_bounds[first + 1]
        if lo == hi:
            continue
        if trans[q, first] < 0:
            if q_accepts:
                for i in range(lo, hi):
                    tid = sorted_ids[i]
                    first_dead[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
            continue
        prev_kind = KIND_INSIDE
        prev_depth = 0
        prev_state = -1
        for i in range(lo, hi):
            tid = sorted_ids[i]
            length = sorted_len[i]
            start = sorted_start[i]
            common = lcp[i] if i > lo else 0
            if i > lo and prev_kind != KIND_INSIDE and common > prev_depth:
                kind = prev_kind
                depth = prev_depth
                st = prev_state
            else:
                depth = common
                kind = KIND_INSIDE
                st = -1
                while depth < length:
                    c = states[depth]
                    nx = trans[c, sorted_data[start + depth]]
                    if nx < 0:
                        if top[c] >= 0:
                            kind = KIND_BOUNDARY
                            st = c
                        else:
                            kind = KIND_DEAD
                        break
                    states[depth + 1] = nx
                    depth += 1
            if kind == KIND_INSIDE:
                inside[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
            elif kind == KIND_BOUNDARY:
                b_tok[nb] = tid
                b_off[nb] = depth
                b_state[nb] = st
                nb += 1
            prev_kind = kind
            prev_depth = depth
            prev_state = st
    return inside, first_dead, b_tok[:nb].copy(), b_off[:nb].copy(), b_state[:nb].copy()


@njit(cache=True, nogil=True)
def walk_bytes(trans, top, q, data, start, offset, length):  # pragma: no cover - compiled
    """Walk ``data[start + offset : start + length]`` from lexer state ``q``.

    Returns ``(kind, pos, state)`` as :func:`walk_tokens` does for one token.
    """
    c = q
    j = offset
    while j < length:
        nx = trans[c, data[start + j]]
        if nx < 0:
            return (KIND_BOUNDARY if top[c] >= 0 else KIND_DEAD), j, c
        c = nx
        j += 1
    return KIND_INSIDE, j, c


@njit(cache=True, nogil=True)
def walk_tokens(trans, top, q, toks, offs, token_data, token_start,
                token_len):  # pragma: no cover - compiled
    """Walk each token ``toks[i]`` from byte ``offs[i]`` starting in lexer state ``q``.

    Returns ``(kind, pos, state)`` per token: ``INSIDE`` with the state after its last
    byte, ``DEAD``, or ``BOUNDARY`` at byte ``pos`` where the lexeme in accepting ``state``
    ends (the byte at ``pos`` starts the next lexeme).
    """
    n = toks.shape[0]
    kind = np.zeros(n, np.int8)
    pos = np.zeros(n, np.int32)
    state = np.full(n, -1, np.int32)
    for i in range(n):
        tid = toks[i]
        start = token_start[tid]
        length = token_len[tid]
        c = q
        j = offs[i]
        k = KIND_INSIDE
        while j < length:
            nx = trans[c, token_data[start + j]]
            if nx < 0:
                k = KIND_BOUNDARY if top[c] >= 0 else KIND_DEAD
                break
            c = nx
            j += 1
        kind[i] = k
        pos[i] = j
        state[i] = c
    return kind, pos, state


@njit(cache=True, nogil=True)
def set_bits(words, toks):  # pragma: no cover - compiled
    """``words[t >> 5] |= 1 << (t & 31)`` for every ``t`` in ``toks`` (uint32 words)."""
    for i in range(toks.shape[0]):
        t = toks[i]
        words[t >> 5] |= np.uint32(1) << np.uint32(t & 31)


@njit(cache=True, nogil=True)
def apply_token_bitmask_kernel(logits, bitmask):  # pragma: no cover - compiled
    """Set ``logits[b, j] = -inf`` where bit ``j`` of row ``b`` of ``bitmask`` is clear.

    ``logits``: float ``(batch, V)``; ``bitmask``: int32 ``(batch, W)`` with
    ``W >= ceil(V / 32)``; tokens ``j >= 32 * W`` are masked.
    """
    batch, vocab = logits.shape
    n_words = bitmask.shape[1]
    neg = -np.inf
    for b in range(batch):
        for j in range(vocab):
            w = j >> 5
            if w >= n_words or ((bitmask[b, w] >> (j & 31)) & 1) == 0:
                logits[b, j] = neg


@njit(cache=True, nogil=True)
def dfa_product(ta, tb, max_states):  # pragma: no cover - compiled
    """Reachable part of the product of two complete DFAs (dead sinks included).

    ``ta``: int32 ``(na, 256)``, ``tb``: int32 ``(nb, 256)``, every entry a valid state;
    both start in state 0. Returns ``(trans, pa, pb)``: the product's transitions and, per
    product state, its pair of component states; ``trans`` is None-free, and ``pa`` is
    empty when ``max_states`` would be exceeded.
    """
    na = ta.shape[0]
    nb = tb.shape[0]
    index = np.full(na * nb, -1, np.int64)
    pa = np.empty(max_states, np.int32)
    pb = np.empty(max_states, np.int32)
    trans = np.empty((max_states, 256), np.int32)
    index[0] = 0
    pa[0] = 0
    pb[0] = 0
    n = 1
    i = 0
    while i < n:
        a = pa[i]
        b = pb[i]
        for byte in range(256):
            x = ta[a, byte]
            y = tb[b, byte]
            k = x * nb + y
            s = index[k]
            if s < 0:
                if n >= max_states:
                    return trans[:0], pa[:0], pb[:0]
                s = n
                index[k] = s
                pa[n] = x
                pb[n] = y
                n += 1
            trans[i, byte] = s
        i += 1
    return trans[:n].copy(), pa[:n].copy(), pb[:n].copy()
