"""Numba kernels for compile-time DFA clean-up: co-reachability and Moore refinement.

This module imports nothing from the project. A DFA is ``trans: int32[n, C]`` (``-1`` = no
transition; ``C`` = 256 bytes or fewer byte classes) plus ``accept: bool[n]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

__all__ = ["byte_class_of", "byte_classes", "canonical_runs", "coreachable",
           "joint_classes", "moore_classes"]


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
