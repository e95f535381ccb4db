"""Numba kernel growing the contextual lexer automaton: a product of terminal DFAs.

This module imports nothing from the project. The terminal DFAs of a grammar are laid out
in one table ``t_all: int32[S, 256]`` of *global* state ids (terminal ``i`` owns the ids
``offset[i] : offset[i + 1]``; ``-1`` = no transition), so a combined lexer state is the
sorted vector of the global ids of its live terminals, with no separate terminal tag.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["explore_lexer"]


@njit(cache=True, nogil=True)
def _hash_vec(vec, k):  # pragma: no cover - compiled
    h = np.uint64(1469598103934665603)
    for j in range(k):
        h ^= np.uint64(vec[j] + 1)
        h *= np.uint64(1099511628211)
    return h


@njit(cache=True, nogil=True)
def _same(vecs, i, vec, k):  # pragma: no cover - compiled
    j = 0
    while j < k and vecs[i, j] == vec[j]:
        j += 1
    return j == k


@njit(cache=True, nogil=True)
def explore_lexer(t_all, acc_all, term_of, rank_pos, lazy, single, start_vec,
                  max_states):  # pragma: no cover - compiled
    """Every combined state reachable from the fresh state ``start_vec``.

    Reference, with states as tuples of live global ids (state 0 is the fresh start, kept
    apart from a non-fresh state with the same vector)::

        work = [start]; index = {}
        for s in work:
            top[s] = live terminal of best rank_pos among accepting ids, or -1
            if top[s] >= 0 and lazy[top[s]]: no transitions (a lazy lexeme ends here)
            for b in range(256):
                nxt = tuple(t_all[g, b] for g in s if t_all[g, b] >= 0)
                trans[s, b] = index.setdefault(nxt, new state) if nxt else -1

    ``start_vec``: int32 ``(k,)`` global ids in increasing order. ``single[g]`` is an
    existing (already explored) lexer state whose only live id is ``g``, or -1: a
    transition to that one-id vector is written ``-2 - single[g]`` and not explored again.
    Returns ``(vecs, trans, top)``: per state its ids (``-1`` padded at the end to width
    ``k``), its row of successors (local ids, -1, or ``-2 - existing``) and its top
    terminal; ``vecs`` is empty when more than ``max_states`` states would be needed.
    """
    k = start_vec.shape[0]
    cap = 64
    vecs = np.full((cap, k), -1, np.int32)
    trans = np.full((cap, 256), -1, np.int32)
    top = np.full(cap, -1, np.int32)
    n_slots = 256
    slots = np.full(n_slots, -1, np.int32)
    vecs[0, :] = start_vec
    n = 1
    nxt = np.empty(k, np.int32)
    i = 0
    while i < n:
        best = -1
        best_rank = 1 << 30
        for j in range(k):
            g = vecs[i, j]
            if g < 0:
                break
            if acc_all[g]:
                t = term_of[g]
                if rank_pos[t] < best_rank:
                    best_rank = rank_pos[t]
                    best = t
        top[i] = best
        if best >= 0 and lazy[best]:
            i += 1
            continue
        for b in range(256):
            m = 0
            for j in range(k):
                g = vecs[i, j]
                if g < 0:
                    break
                x = t_all[g, b]
                if x >= 0:
                    nxt[m] = x
                    m += 1
            if m == 0:
                continue
            if m == 1 and single[nxt[0]] >= 0:
                trans[i, b] = -2 - single[nxt[0]]
                continue
            for j in range(m, k):
                nxt[j] = -1
            mask = n_slots - 1
            h = np.int64(_hash_vec(nxt, k) & np.uint64(mask))
            found = -1
            while slots[h] >= 0:
                if _same(vecs, slots[h], nxt, k):
                    found = slots[h]
                    break
                h = (h + 1) & mask
            if found < 0:
                if n >= max_states:
                    return vecs[:0], trans[:0], top[:0]
                if n >= cap:
                    cap *= 2
                    v2 = np.full((cap, k), -1, np.int32)
                    v2[:n] = vecs[:n]
                    t2 = np.full((cap, 256), -1, np.int32)
                    t2[:n] = trans[:n]
                    p2 = np.full(cap, -1, np.int32)
                    p2[:n] = top[:n]
                    vecs, trans, top = v2, t2, p2
                vecs[n, :] = nxt
                slots[h] = n
                found = n
                n += 1
                if 2 * n > n_slots:  # rehash at half load
                    n_slots *= 4
                    mask = n_slots - 1
                    slots = np.full(n_slots, -1, np.int32)
                    for s in range(1, n):
                        hh = np.int64(_hash_vec(vecs[s], k) & np.uint64(mask))
                        while slots[hh] >= 0:
                            hh = (hh + 1) & mask
                        slots[hh] = s
            trans[i, b] = found
        i += 1
    return vecs[:n].copy(), trans[:n].copy(), top[:n].copy()
