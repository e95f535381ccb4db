"""Numba kernels for compile-time DFA work: co-reachability, Moore refinement, products.

This module imports nothing from the project. A DFA is ``trans: int32[n, C]`` (``-1`` = no
transition; ``C`` = 256 bytes or fewer byte classes) plus ``accept: bool[n]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

__all__ = ["byte_class_of", "byte_classes", "canonical_runs", "coreachable",
           "joint_classes", "minimal_product", "moore_classes"]


@njit(cache=True, nogil=True)
def canonical_runs(trans, accept):  # pragma: no cover - compiled
    """The automaton reachable from state 0 as a flat int32 code that is equal for two
    DFAs iff they are the same up to state numbering: states renumbered in breadth-first
    order (successors by column), each written as its accept flag, then ``(column, target)``
    where the target changes along the row, then ``-2``.

    Reference: ``canonical_runs_ref`` in ``native.reference``.
    """
    n, width = trans.shape
    index = np.full(n, -1, np.int64)
    order = np.empty(max(n, 1), np.int64)
    out = np.empty(16 + 4 * n, np.int32)
    k = 0
    if n == 0:
        return out[:0]
    index[0] = 0
    order[0] = 0
    m = 1
    i = 0
    while i < m:
        s = order[i]
        if k + 2 * width + 2 > out.shape[0]:
            grown = np.empty(2 * out.shape[0] + 2 * width + 2, np.int32)
            grown[:k] = out[:k]
            out = grown
        out[k] = 1 if accept[s] else 0
        k += 1
        prev = -3
        for c in range(width):
            t = trans[s, c]
            r = -1
            if t >= 0:
                r = index[t]
                if r < 0:
                    r = m
                    index[t] = m
                    order[m] = t
                    m += 1
            if r != prev:
                out[k] = c
                out[k + 1] = r
                k += 2
                prev = r
        out[k] = -2
        k += 1
        i += 1
    return out[:k]


@njit(cache=True, nogil=True)
def coreachable(trans, accept):  # pragma: no cover - compiled
    """States from which an accepting state can be reached (backward breadth-first search
    over the reversed edges, in CSR form).

    Reference: ``live = accept``; repeat ``live |= any(live[trans[s, c]])`` until stable.
    """
    n, width = trans.shape
    count = np.zeros(n + 1, np.int64)
    for s in range(n):
        for c in range(width):
            t = trans[s, c]
            if t >= 0:
                count[t + 1] += 1
    for s in range(n):
        count[s + 1] += count[s]
    src = np.empty(count[n], np.int32)
    fill = count[:n].copy()
    for s in range(n):
        for c in range(width):
            t = trans[s, c]
            if t >= 0:
                src[fill[t]] = s
                fill[t] += 1
    live = accept.copy()
    work = np.empty(n, np.int32)
    top = 0
    for s in range(n):
        if live[s]:
            work[top] = s
            top += 1
    while top > 0:
        top -= 1
        t = work[top]
        for k in range(count[t], count[t + 1]):
            s = src[k]
            if not live[s]:
                live[s] = True
                work[top] = s
                top += 1
    return live


@njit(cache=True, nogil=True)
def moore_classes(trans, accept):  # pragma: no cover - compiled
    """Equivalence classes of states (Moore partition refinement), numbered in order of
    first appearance, so that state 0 is in class 0.

    Reference: ``cls = accept``; repeat ``cls[s] = id of (cls[s], cls[trans[s, c]] or -1
    for each c)`` until the number of classes stops growing.
    """
    n, width = trans.shape
    cls = np.zeros(n, np.int64)
    if n == 0:
        return cls
    # Initial split: accepting or not, numbered by first appearance.
    first_acc = accept[0]
    n_cls = 1
    second = -1
    for s in range(n):
        if accept[s] != first_acc:
            if second < 0:
                second = 1
                n_cls = 2
            cls[s] = 1
    sig = np.empty((n, width + 1), np.int64)
    n_slots = 1
    while n_slots < 4 * n:
        n_slots *= 2
    mask = n_slots - 1
    slots = np.empty(n_slots, np.int64)
    new_cls = np.empty(n, np.int64)
    while True:
        for s in range(n):
            sig[s, 0] = cls[s]
            for c in range(width):
                t = trans[s, c]
                sig[s, c + 1] = cls[t] if t >= 0 else -1
        slots[:] = -1
        new_n = 0
        for s in range(n):
            h = np.uint64(1469598103934665603)
            for c in range(width + 1):
                h ^= np.uint64(sig[s, c] + 2)
                h *= np.uint64(1099511628211)
            pos = np.int64(h & np.uint64(mask))
            found = -1
            while slots[pos] >= 0:
                r = slots[pos]
                same = True
                for c in range(width + 1):
                    if sig[r, c] != sig[s, c]:
                        same = False
                        break
                if same:
                    found = new_cls[r]
                    break
                pos = (pos + 1) & mask
            if found < 0:
                found = new_n
                new_n += 1
                slots[pos] = s
            new_cls[s] = found
        cls[:] = new_cls
        if new_n == n_cls:
            break
        n_cls = new_n
    return cls


@njit(cache=True, nogil=True)
def byte_class_of(trans):  # pragma: no cover - compiled
    """Class of each column of ``trans``: columns are in one class when identical;
    classes are numbered by first column.

    Reference: ``np.unique(trans.T, axis=0, return_inverse=True)``, renumbered by first
    appearance.
    """
    n, width = trans.shape
    # Hash every column in one row-major pass, then compare columns only when hashes agree.
    h = np.zeros(width, np.uint64)
    p = np.uint64(1099511628211)
    for s in range(n):
        for c in range(width):
            h[c] = (h[c] ^ np.uint64(trans[s, c] + 2)) * p
    reps = np.empty(width, np.int64)
    out = np.empty(width, np.int32)
    n_reps = 0
    for c in range(width):
        cls = -1
        for r in range(n_reps):
            col = reps[r]
            if h[col] != h[c]:
                continue
            s = 0
            while s < n and trans[s, c] == trans[s, col]:
                s += 1
            if s == n:
                cls = r
                break
        if cls < 0:
            reps[n_reps] = c
            cls = n_reps
            n_reps += 1
        out[c] = cls
    return out


def byte_classes(trans: NDArray[np.int32]) -> NDArray[np.intp]:
    """The first column of each group of identical columns of ``trans``, increasing.

    Reference: ``np.unique(trans.T, axis=0, return_index=True)[1]``, sorted.
    """
    return np.unique(byte_class_of(trans), return_index=True)[1]


@njit(cache=True, nogil=True)
def joint_classes(classes):  # pragma: no cover - compiled
    """Common refinement of several byte partitions: ``classes[i, b]`` is the class of
    byte ``b`` in partition ``i``; bytes share a joint class when they share a class in
    every partition. Joint classes are numbered by first byte.

    Reference: ``byte_class_of(classes)`` (the partitions as rows of a table).
    """
    return byte_class_of(classes)


@njit(cache=True, nogil=True)
def minimal_product(ta, aa, tb, ab, class_of, op, max_states):  # pragma: no cover - compiled
    """Minimal trimmed DFA of the product of two DFAs, in one call.

    ``ta``/``tb``: int32 ``(n, 256)`` (``-1`` = no transition; zero rows = the empty
    language), ``aa``/``ab`` their accepting states, ``class_of``: a byte partition that
    refines both DFAs' byte classes. ``op``: 0 intersection, 1 union, 2 difference
    (``a`` minus ``b``). Returns ``(trans, accept, ok)``: the result numbered by first
    appearance in a breadth-first walk of the product (state 0 the start; no states for
    the empty language), ``ok`` False when more than ``max_states`` product states are
    reachable.

    Reference: complete both DFAs with a sink, explore the product, mark accepting
    states, drop states that cannot reach acceptance, then ``moore_classes``.
    """
    na = ta.shape[0]
    nb = tb.shape[0]
    n_cls = 0
    for b in range(256):
        if class_of[b] + 1 > n_cls:
            n_cls = class_of[b] + 1
    rep = np.empty(n_cls, np.int64)
    for b in range(255, -1, -1):
        rep[class_of[b]] = b
    empty = (np.zeros((0, 256), np.int32), np.zeros(0, np.bool_), True)
    x0 = 0 if na > 0 else -1
    y0 = 0 if nb > 0 else -1
    if _product_dead(x0, y0, op):
        return empty
    # Product states: pairs (x, y), -1 standing for a component's dead sink.
    n_slots = 1024
    while n_slots < 4 * min(max_states, (na + 1) * (nb + 1)):
        n_slots *= 2
    mask = n_slots - 1
    slot_key = np.full(n_slots, -1, np.int64)
    slot_val = np.empty(n_slots, np.int32)
    cap = 64
    px = np.empty(cap, np.int32)
    py = np.empty(cap, np.int32)
    tc = np.empty((cap, n_cls), np.int32)
    px[0] = x0
    py[0] = y0
    key0 = np.int64(x0 + 1) * (nb + 1) + (y0 + 1)
    pos = _slot(key0, mask)
    slot_key[pos] = key0
    slot_val[pos] = 0
    n = 1
    i = 0
    while i < n:
        x = px[i]
        y = py[i]
        for c in range(n_cls):
            b = rep[c]
            nx = ta[x, b] if x >= 0 else -1
            ny = tb[y, b] if y >= 0 else -1
            if _product_dead(nx, ny, op):
                tc[i, c] = -1
                continue
            key = np.int64(nx + 1) * (nb + 1) + (ny + 1)
            pos = _slot(key, mask)
            while slot_key[pos] >= 0 and slot_key[pos] != key:
                pos = (pos + 1) & mask
            if slot_key[pos] == key:
                tc[i, c] = slot_val[pos]
                continue
            if n >= max_states:
                return np.zeros((0, 256), np.int32), np.zeros(0, np.bool_), False
            if n == cap:
                cap *= 2
                px2 = np.empty(cap, np.int32)
                py2 = np.empty(cap, np.int32)
                tc2 = np.empty((cap, n_cls), np.int32)
                px2[:n] = px[:n]
                py2[:n] = py[:n]
                tc2[:n] = tc[:n]
                px, py, tc = px2, py2, tc2
            slot_key[pos] = key
            slot_val[pos] = n
            px[n] = nx
            py[n] = ny
            n += 1
            tc[i, c] = n - 1
        i += 1
    accept = np.empty(n, np.bool_)
    for s in range(n):
        fa = px[s] >= 0 and aa[px[s]]
        fb = py[s] >= 0 and ab[py[s]]
        if op == 0:
            accept[s] = fa and fb
        elif op == 1:
            accept[s] = fa or fb
        else:
            accept[s] = fa and not fb
    tc = tc[:n]
    live = coreachable(tc, accept)
    if not live[0]:
        return empty
    new_id = np.full(n, -1, np.int32)
    m = 0
    for s in range(n):
        if live[s]:
            new_id[s] = m
            m += 1
    lt = np.empty((m, n_cls), np.int32)
    la = np.empty(m, np.bool_)
    for s in range(n):
        k = new_id[s]
        if k < 0:
            continue
        la[k] = accept[s]
        for c in range(n_cls):
            t = tc[s, c]
            lt[k, c] = new_id[t] if t >= 0 else -1
    cls = moore_classes(lt, la)
    n_out = 0
    for s in range(m):
        if cls[s] + 1 > n_out:
            n_out = cls[s] + 1
    first = np.full(n_out, -1, np.int64)
    for s in range(m):
        if first[cls[s]] < 0:
            first[cls[s]] = s
    out = np.empty((n_out, 256), np.int32)
    out_acc = np.empty(n_out, np.bool_)
    for k in range(n_out):
        s = first[k]
        out_acc[k] = la[s]
        for b in range(256):
            t = lt[s, class_of[b]]
            out[k, b] = cls[t] if t >= 0 else -1
    return out, out_acc, True


@njit(cache=True, nogil=True, inline="always")
def _product_dead(x, y, op):  # pragma: no cover - compiled
    """True when the pair can never accept, whatever follows (the product's sink)."""
    if op == 0:
        return x < 0 or y < 0
    if op == 1:
        return x < 0 and y < 0
    return x < 0


@njit(cache=True, nogil=True, inline="always")
def _slot(key, mask):  # pragma: no cover - compiled
    """Home slot of a non-negative key in an open-addressing table (Fibonacci hashing)."""
    h = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    return np.int64((h >> np.uint64(29)) & np.uint64(mask))
