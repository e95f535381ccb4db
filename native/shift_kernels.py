"""Numba kernels finding states of one DFA that behave alike on short strings, by a shift.

This module imports nothing from the project. A DFA is ``trans: int32[n, 256]`` (``-1`` =
no transition) and ``accept: bool[n]``. Two states are *depth-equivalent* when every string
of fewer than ``depth`` bytes leads both to a state, or both nowhere, with the same
acceptance, and every string of ``depth`` bytes leads both somewhere or both nowhere: they
classify the tokens of a vocabulary whose longest token has ``depth`` bytes alike.

A counted repetition (a string of at most 5,000 characters) is a chain of thousands of
states, each one position further on; away from both ends of the chain, the states of
neighbouring positions are depth-equivalent. :func:`shift_pairs` finds them without
comparing each pair's surroundings: it maps every state to "the same state one step on"
(a *shift*, seeded by a state and its successor), marks the states where the shift breaks
(acceptance or a transition differs), and joins the pairs with no break within ``depth``
bytes into classes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["merge_shift"]


@njit(cache=True, nogil=True)
def merge_shift(root, trans, accept, seed, image, depth, starts,
                max_states):  # pragma: no cover - compiled
    """Join, in the classes ``root`` (each state's class is named by its smallest state,
    ``root[s] <= s``, updated in place), the depth-equivalent pairs ``(s, shift(s))`` of
    the shift seeded by ``seed -> image``; returns the number of pairs joined.

    The shift is extended breadth first: from a pair ``(s, x)``, the two states' targets on
    each byte where both have one form a new pair. A pair that disagrees locally (in
    acceptance, or a byte only one of them takes) is a *break*; so is a state that would
    be shifted to two different states, and a pair whose targets would make more than
    ``max_states`` states (the cost bound: the classes grow from a later seed). A pair is
    joined when no break is reachable from ``s`` in fewer than ``depth`` bytes through
    unbroken states: every state within that distance then agrees locally with its shift,
    and the shift of each of its successors is its shift's successor, so ``s`` and its
    shift are depth-equivalent.

    ``starts`` (ascending, from 0) are the bytes where a row may change value.
    """
    n = trans.shape[0]
    shift = np.full(n, -1, np.int32)
    broken = np.zeros(n, np.bool_)
    order = np.empty(min(n, max_states), np.int32)
    shift[seed] = image
    order[0] = seed
    m = 1
    i = 0
    while i < m:
        s = order[i]
        i += 1
        x = shift[s]
        if accept[s] != accept[x]:
            broken[s] = True
        new = 0
        for b in starts:
            t = trans[s, b]
            if (t < 0) != (trans[x, b] < 0):
                broken[s] = True
            elif t >= 0 and shift[t] < 0:
                new += 1
        if m + new > order.shape[0]:
            broken[s] = True
            continue
        for b in starts:
            t = trans[s, b]
            u = trans[x, b]
            if t < 0 or u < 0:
                continue
            if shift[t] < 0:
                shift[t] = u
                order[m] = t
                m += 1
            elif shift[t] != u:
                broken[t] = True  # shifted to two states: its shift proves nothing
    # Distance from each shifted state to a break, breadth first over reversed edges
    # (only unbroken states have their edges followed), up to ``depth``.
    n_pred = np.zeros(n + 1, np.int64)
    _reverse_edges(trans, starts, order, m, broken, n_pred[1:], np.empty(0, np.int32), False)
    for k in range(n):
        n_pred[k + 1] += n_pred[k]
    pred = np.empty(n_pred[n], np.int32)
    _reverse_edges(trans, starts, order, m, broken, n_pred[:n].copy(), pred, True)
    dist = np.full(n, depth, np.int32)  # ``depth``: no break nearer
    queue = np.empty(m, np.int32)
    tail = 0
    for k in range(m):
        s = order[k]
        if broken[s]:
            dist[s] = 0
            queue[tail] = s
            tail += 1
    head = 0
    while head < tail:
        t = queue[head]
        head += 1
        d = dist[t] + 1
        if d >= depth:
            continue
        for k in range(n_pred[t], n_pred[t + 1]):
            s = pred[k]
            if dist[s] > d:
                dist[s] = d
                queue[tail] = s
                tail += 1
    joined = 0
    for k in range(m):
        s = order[k]
        if dist[s] < depth or shift[s] == s:
            continue
        ra = _root(root, s)
        rb = _root(root, shift[s])
        if ra < rb:
            root[rb] = ra
        elif rb < ra:
            root[ra] = rb
        joined += 1
    for s in range(n):  # point every state at its class's smallest state
        root[s] = root[root[s]]
    return joined


@njit(cache=True, nogil=True)
def _reverse_edges(trans, starts, order, m, broken, slot, out, fill):  # pragma: no cover
    """For each edge ``s -> t`` of the unbroken states ``order[:m]`` (a run of bytes with
    one target counts once): ``slot[t] += 1``, after ``out[slot[t]] = s`` when ``fill``
    (first count each state's predecessors, then place them)."""
    for k in range(m):
        s = order[k]
        if broken[s]:
            continue
        prev = -1
        for b in starts:
            t = trans[s, b]
            if t >= 0 and t != prev:
                if fill:
                    out[slot[t]] = s
                slot[t] += 1
            prev = t


@njit(cache=True, nogil=True)
def _root(root, s):  # pragma: no cover - compiled
    while root[s] != s:
        root[s] = root[root[s]]
        s = root[s]
    return s
