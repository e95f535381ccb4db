"""Numba kernels for compile-time DFA work: co-reachability, state equivalence, products.

This module imports nothing from the project. A DFA is ``trans: int32[n, C]`` (``-1`` = no
transition; ``C`` = 256 bytes or fewer byte classes) plus ``accept: bool[n]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

__all__ = ["byte_class_of", "byte_classes", "canonical_runs", "class_layout", "coreachable",
           "edge_byte_classes", "joint_classes", "json_literal_edges", "json_literal_table",
           "minimal_product", "minimal_union", "quoted_repeat_table", "state_classes"]


@njit(cache=True, nogil=True)
def canonical_runs(trans, accept, starts):  # pragma: no cover - compiled
    """The automaton reachable from state 0 as a flat int32 code that is equal for two
    DFAs iff they are the same up to state numbering: states renumbered in breadth-first
    order (successors by column), each written as its accept flag, then ``(column, target)``
    where the target changes along the row, then ``-2``.

    ``starts``: columns (0 first, increasing) such that every row is constant from one to
    the next (``class_layout(byte_class_of(trans))[0]``); only they are read.

    Reference: ``canonical_runs_ref`` in ``native.reference``.
    """
    n = trans.shape[0]
    width = starts.shape[0]
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
        for j in range(width):
            c = starts[j]
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
def state_classes(trans, accept):  # pragma: no cover - compiled
    """Equivalence classes of states (the coarsest partition that separates accepting from
    other states, where equivalent states have transitions on the same columns into the
    same classes; ``-1`` is no transition), numbered in order of first appearance, so that
    state 0 is in class 0.

    Valmari and Lehtinen's refinement for partial DFAs: O(m log n) in the ``m`` transitions
    present, not the ``n * C`` cells of the table, and no Moore rounds (as many as the
    longest distinguishing word: the length of a property name in a key automaton).

    Reference: ``moore_classes_ref`` in ``native.reference``.
    """
    n, width = trans.shape
    cls = np.zeros(n, np.int64)
    if n == 0:
        return cls
    m = 0
    for s in range(n):
        for c in range(width):
            if trans[s, c] >= 0:
                m += 1
    tail = np.empty(m, np.int64)
    label = np.empty(m, np.int64)
    head = np.empty(m, np.int64)
    k = 0
    for s in range(n):
        for c in range(width):
            t = trans[s, c]
            if t >= 0:
                tail[k] = s
                label[k] = c
                head[k] = t
                k += 1
    # Blocks: a refinable partition of the states, first split by acceptance.
    b_elems = np.arange(n)
    b_loc = np.arange(n)
    b_set = np.zeros(n, np.int64)
    b_first = np.zeros(n, np.int64)
    b_past = np.zeros(n, np.int64)
    b_marked = np.zeros(n, np.int64)
    b_touched = np.empty(n, np.int64)
    b_past[0] = n
    n_blocks = 1
    n_touched = 0
    for s in range(n):
        if accept[s]:
            n_touched = _mark(s, b_elems, b_loc, b_set, b_first, b_marked, b_touched,
                              n_touched)
    n_blocks = _split(b_elems, b_set, b_first, b_past, b_marked, b_touched, n_touched,
                      n_blocks)
    # Cords: a refinable partition of the transitions, first by column.
    per_label = np.zeros(width + 1, np.int64)
    for e in range(m):
        per_label[label[e] + 1] += 1
    for c in range(width):
        per_label[c + 1] += per_label[c]
    c_elems = np.empty(m, np.int64)
    c_loc = np.empty(m, np.int64)
    c_set = np.empty(m, np.int64)
    c_first = np.zeros(max(m, 1), np.int64)
    c_past = np.zeros(max(m, 1), np.int64)
    c_marked = np.zeros(max(m, 1), np.int64)
    c_touched = np.empty(max(m, 1), np.int64)
    fill = per_label[:width].copy()
    for e in range(m):
        i = fill[label[e]]
        fill[label[e]] += 1
        c_elems[i] = e
        c_loc[e] = i
    n_cords = 0
    for c in range(width):
        if per_label[c + 1] > per_label[c]:
            c_first[n_cords] = per_label[c]
            c_past[n_cords] = per_label[c + 1]
            for i in range(per_label[c], per_label[c + 1]):
                c_set[c_elems[i]] = n_cords
            n_cords += 1
    # Transitions by head, to mark those entering a new block.
    in_start = np.zeros(n + 1, np.int64)
    for e in range(m):
        in_start[head[e] + 1] += 1
    for s in range(n):
        in_start[s + 1] += in_start[s]
    incoming = np.empty(m, np.int64)
    fill2 = in_start[:n].copy()
    for e in range(m):
        incoming[fill2[head[e]]] = e
        fill2[head[e]] += 1
    blk = 1
    cord = 0
    while cord < n_cords:
        n_touched = 0
        for i in range(c_first[cord], c_past[cord]):
            n_touched = _mark(tail[c_elems[i]], b_elems, b_loc, b_set, b_first, b_marked,
                              b_touched, n_touched)
        n_blocks = _split(b_elems, b_set, b_first, b_past, b_marked, b_touched, n_touched,
                          n_blocks)
        cord += 1
        while blk < n_blocks:
            n_touched = 0
            for i in range(b_first[blk], b_past[blk]):
                s = b_elems[i]
                for j in range(in_start[s], in_start[s + 1]):
                    n_touched = _mark(incoming[j], c_elems, c_loc, c_set, c_first, c_marked,
                                      c_touched, n_touched)
            n_cords = _split(c_elems, c_set, c_first, c_past, c_marked, c_touched, n_touched,
                             n_cords)
            blk += 1
    number = np.full(n_blocks, -1, np.int64)
    k = 0
    for s in range(n):
        b = b_set[s]
        if number[b] < 0:
            number[b] = k
            k += 1
        cls[s] = number[b]
    return cls


@njit(cache=True, nogil=True, inline="always")
def _mark(e, elems, loc, owner, first, marked, touched, n_touched):  # pragma: no cover
    """Refinable partition: move element ``e`` to the marked front of its set; returns
    the new count of sets with marks."""
    s = owner[e]
    i = loc[e]
    j = first[s] + marked[s]
    elems[i] = elems[j]
    loc[elems[i]] = i
    elems[j] = e
    loc[e] = j
    if marked[s] == 0:
        touched[n_touched] = s
        n_touched += 1
    marked[s] += 1
    return n_touched


@njit(cache=True, nogil=True, inline="always")
def _split(elems, owner, first, past, marked, touched, n_touched, n_sets):  # pragma: no cover
    """Refinable partition: split every partly marked set, the smaller part becoming a new
    set; returns the new number of sets."""
    while n_touched > 0:
        n_touched -= 1
        s = touched[n_touched]
        j = first[s] + marked[s]
        if j == past[s]:
            marked[s] = 0
            continue
        z = n_sets
        if marked[s] <= past[s] - j:
            first[z] = first[s]
            past[z] = j
            first[s] = j
        else:
            past[z] = past[s]
            first[z] = j
            past[s] = j
        for i in range(first[z], past[z]):
            owner[elems[i]] = z
        marked[s] = 0
        marked[z] = 0
        n_sets += 1
    return n_sets


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
def class_layout(class_of):  # pragma: no cover - compiled
    """``(starts, first)`` of a byte partition numbered by first byte: the bytes where the
    class changes (0 first), and the first byte of each class.

    Reference: ``np.flatnonzero(np.diff(class_of, prepend=-1))`` and
    ``np.unique(class_of, return_index=True)[1]``.
    """
    starts = np.empty(256, np.int32)
    first = np.empty(256, np.int32)
    n_starts = 0
    n_classes = 0
    for b in range(256):
        c = class_of[b]
        if b == 0 or c != class_of[b - 1]:
            starts[n_starts] = b
            n_starts += 1
        if c == n_classes:  # classes are numbered by first byte
            first[n_classes] = b
            n_classes += 1
    return starts[:n_starts].copy(), first[:n_classes].copy()


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
    states, drop states that cannot reach acceptance, then ``state_classes``.
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
    n_slots = 256  # grown as the walk finds states: at most half full
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
            if 2 * n > n_slots:
                n_slots *= 4
                mask = n_slots - 1
                slot_key = np.full(n_slots, -1, np.int64)
                slot_val = np.empty(n_slots, np.int32)
                for r in range(n):
                    key = np.int64(px[r] + 1) * (nb + 1) + (py[r] + 1)
                    pos = _slot(key, mask)
                    while slot_key[pos] >= 0:
                        pos = (pos + 1) & mask
                    slot_key[pos] = key
                    slot_val[pos] = r
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
    return _minimal_walk(tc[:n], accept, class_of, np.zeros(n, np.bool_))


@njit(cache=True, nogil=True)
def _minimal_walk(tc, accept, class_of, solo):  # pragma: no cover - compiled
    """Minimal trimmed ``(n, 256)`` DFA of a walk's table ``tc`` (rows in discovery order,
    one column per byte class of ``class_of``, state 0 the start): drop the states that
    cannot accept, merge equivalent ones (classes numbered by first appearance) and spread
    the classes back to bytes. ``solo`` marks states of a closed part whose equivalence
    is found apart (see ``_classes_over_closed``). Returns ``(trans, accept, True)``."""
    n_cls = tc.shape[1]
    live = coreachable(tc, accept)
    if not live[0]:
        return np.zeros((0, 256), np.int32), np.zeros(0, np.bool_), True
    n = tc.shape[0]
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
    lsolo = np.zeros(m, np.bool_)
    any_solo = False
    for s in range(n):
        if new_id[s] >= 0 and solo[s]:
            lsolo[new_id[s]] = True
            any_solo = True
    cls = _classes_over_closed(lt, la, lsolo) if any_solo else state_classes(lt, la)
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


@njit(cache=True, nogil=True)
def _classes_over_closed(trans, accept, closed):  # pragma: no cover - compiled
    """``state_classes`` for a table whose ``closed`` states lead only to closed states,
    and whose other states form no cycle (a literal walk over a base automaton: the base
    alone, and the states where some literal can still match). The closed part is refined
    on its own; the rest in one pass from the leaves up, each state classed by its
    acceptance and its successors' classes (Revuz), against the closed states' classes
    too. Falls back to ``state_classes`` when the structure is not so."""
    n, width = trans.shape
    # The closed part, numbered compactly.
    pos = np.full(n, -1, np.int64)
    n_c = 0
    for s in range(n):
        if closed[s]:
            pos[s] = n_c
            n_c += 1
    sub = np.empty((n_c, width), np.int32)
    sub_acc = np.empty(n_c, np.bool_)
    for s in range(n):
        if closed[s]:
            sub_acc[pos[s]] = accept[s]
            for c in range(width):
                t = trans[s, c]
                if t >= 0 and not closed[t]:
                    return state_classes(trans, accept)
                sub[pos[s], c] = pos[t] if t >= 0 else -1
    sub_cls = state_classes(sub, sub_acc)
    cls = np.full(n, -1, np.int64)
    n_cls = 0
    for s in range(n):
        if closed[s]:
            cls[s] = sub_cls[pos[s]]
            if cls[s] + 1 > n_cls:
                n_cls = cls[s] + 1
    # The open states from the leaves up (Kahn's order on their edges among themselves).
    pending = np.zeros(n, np.int64)
    pred_start = np.zeros(n + 1, np.int64)
    for s in range(n):
        if not closed[s]:
            for c in range(width):
                t = trans[s, c]
                if t >= 0 and not closed[t]:
                    pending[s] += 1
                    pred_start[t + 1] += 1
    for s in range(n):
        pred_start[s + 1] += pred_start[s]
    preds = np.empty(max(pred_start[n], 1), np.int64)
    fill = pred_start[:n].copy()
    for s in range(n):
        if not closed[s]:
            for c in range(width):
                t = trans[s, c]
                if t >= 0 and not closed[t]:
                    preds[fill[t]] = s
                    fill[t] += 1
    order = np.empty(n, np.int64)
    top = 0
    for s in range(n):
        if not closed[s] and pending[s] == 0:
            order[top] = s
            top += 1
    head = 0
    while head < top:
        t = order[head]
        head += 1
        for j in range(pred_start[t], pred_start[t + 1]):
            p = preds[j]
            pending[p] -= 1
            if pending[p] == 0:
                order[top] = p
                top += 1
    if top != n - n_c:  # a cycle among the open states
        return state_classes(trans, accept)
    # Signatures in a hash table of representatives: the closed classes first.
    n_slots = 64
    while n_slots < 4 * n:
        n_slots *= 2
    slots = np.full(n_slots, -1, np.int64)
    seeded = np.zeros(max(n_cls, 1), np.bool_)
    for s in range(n):
        if closed[s] and not seeded[cls[s]]:
            seeded[cls[s]] = True
            h = _signature_hash(trans, accept, cls, s)
            home = np.int64(h & np.uint64(n_slots - 1))
            while slots[home] >= 0:
                home = (home + 1) & (n_slots - 1)
            slots[home] = s
    for i in range(top):
        s = order[i]
        h = _signature_hash(trans, accept, cls, s)
        home = np.int64(h & np.uint64(n_slots - 1))
        found = -1
        while slots[home] >= 0:
            r = slots[home]
            same = accept[r] == accept[s]
            c = 0
            while same and c < width:
                a = trans[r, c]
                b = trans[s, c]
                same = (cls[a] if a >= 0 else -1) == (cls[b] if b >= 0 else -1)
                c += 1
            if same:
                found = cls[r]
                break
            home = (home + 1) & (n_slots - 1)
        if found >= 0:
            cls[s] = found
        else:
            cls[s] = n_cls
            n_cls += 1
            slots[home] = s
    # Numbered by first appearance.
    number = np.full(n_cls, -1, np.int64)
    k = 0
    for s in range(n):
        if number[cls[s]] < 0:
            number[cls[s]] = k
            k += 1
        cls[s] = number[cls[s]]
    return cls


@njit(cache=True, nogil=True, inline="always")
def _signature_hash(trans, accept, cls, s):  # pragma: no cover - compiled
    """FNV-1a over a state's acceptance and its successors' classes."""
    h = np.uint64(1469598103934665603) ^ np.uint64(accept[s])
    h *= np.uint64(1099511628211)
    for c in range(trans.shape[1]):
        t = trans[s, c]
        h = (h ^ np.uint64((cls[t] if t >= 0 else -1) + 2)) * np.uint64(1099511628211)
    return h


@njit(cache=True, nogil=True)
def minimal_union(starts, edge_start, edge_byte, edge_dst, accept, base_trans, base_accept,
                  class_of, max_states):  # pragma: no cover - compiled
    """Minimal trimmed DFA of the union of several DFAs given by their edges, or of a base
    DFA's language minus that union, in one call: one subset walk and one minimisation
    instead of a tree of pairwise products.

    The DFAs' states are numbered globally, each DFA's states a contiguous range;
    ``starts``: each DFA's start state, increasing. State ``s`` has the edges
    ``edge_start[s]:edge_start[s + 1]`` (``edge_byte`` to ``edge_dst``, one per byte),
    ``accept[s]`` says whether it accepts. ``base_trans``/``base_accept``: a DFA as a table
    (``(n, 256)``, start 0), or no rows for the plain union. ``class_of``: a byte partition
    that refines the edges' classes (``edge_byte_classes``) and the base's; the walk steps
    once per class. A state of the walk is a set of states, at most one per DFA, kept in
    increasing order, the base's state last (numbered past the others). Returns ``(trans,
    accept, ok)`` as ``minimal_product``.

    Reference: ``minimal_product`` with ``op`` 1 folded over the DFAs, then ``op`` 2 from
    the base.
    """
    k = starts.shape[0]
    minus = base_trans.shape[0] > 0
    past = edge_start.shape[0] - 1  # the base's state x is member ``past + x``
    width = k + 1 if minus else k
    n_cls = 0
    for b in range(256):
        if class_of[b] + 1 > n_cls:
            n_cls = class_of[b] + 1
    rep = np.empty(n_cls, np.int64)
    for b in range(255, -1, -1):
        rep[class_of[b]] = b
    if width == 0:
        return np.zeros((0, 256), np.int32), np.zeros(0, np.bool_), True
    # Subsets as runs of ``members``; an open-addressing table of their hashes.
    cap = 64
    mem_cap = 64 * width
    members = np.empty(mem_cap, np.int32)
    mstart = np.empty(cap + 1, np.int64)
    hashes = np.empty(cap, np.uint64)
    tc = np.empty((cap, n_cls), np.int32)
    n_slots = 256
    slots = np.full(n_slots, -1, np.int64)
    bucket = np.empty((n_cls, width), np.int32)  # successors per class, in member order
    count = np.zeros(n_cls, np.int64)
    # Walk states holding the base's state alone (no literal can still match, the usual
    # case once a key leaves every name): found by the base state, not by hashing.
    solo = np.full(max(base_trans.shape[0], 1), -1, np.int64)
    for i in range(k):
        members[i] = starts[i]
    if minus:
        members[k] = past
    mstart[0] = 0
    mstart[1] = width
    hashes[0] = _subset_hash(members, 0, width)
    slots[np.int64(hashes[0] & np.uint64(n_slots - 1))] = 0
    n = 1
    i = 0
    while i < n:
        base = -1
        for j in range(mstart[i], mstart[i + 1]):
            s = members[j]
            if s >= past:
                base = s - past
                continue
            for e in range(edge_start[s], edge_start[s + 1]):
                b = edge_byte[e]
                c = class_of[b]
                if rep[c] == b:
                    bucket[c, count[c]] = edge_dst[e]
                    count[c] += 1
        if base >= 0:  # the base last: its member number is past every other
            for c in range(n_cls):
                t = base_trans[base, rep[c]]
                if t >= 0:
                    bucket[c, count[c]] = past + t
                    count[c] += 1
                else:
                    count[c] = 0  # the base is dead: so is the difference
        for c in range(n_cls):
            m = count[c]
            if m == 0:
                tc[i, c] = -1
                continue
            count[c] = 0
            alone = -1
            if m == 1 and bucket[c, 0] >= past:
                alone = bucket[c, 0] - past
                if solo[alone] >= 0:
                    tc[i, c] = solo[alone]
                    continue
            h = _subset_hash(bucket[c], 0, m)
            pos = np.int64(h & np.uint64(n_slots - 1))
            found = -1
            while slots[pos] >= 0:
                r = slots[pos]
                if hashes[r] == h and mstart[r + 1] - mstart[r] == m:
                    same = True
                    for j in range(m):
                        if members[mstart[r] + j] != bucket[c, j]:
                            same = False
                            break
                    if same:
                        found = r
                        break
                pos = (pos + 1) & (n_slots - 1)
            if found >= 0:
                tc[i, c] = found
                if alone >= 0:
                    solo[alone] = found
                continue
            if n >= max_states:
                return np.zeros((0, 256), np.int32), np.zeros(0, np.bool_), False
            if alone >= 0:
                solo[alone] = n
            if n == cap:
                cap *= 2
                mstart2 = np.empty(cap + 1, np.int64)
                mstart2[: n + 1] = mstart[: n + 1]
                hashes2 = np.empty(cap, np.uint64)
                hashes2[:n] = hashes[:n]
                tc2 = np.empty((cap, n_cls), np.int32)
                tc2[:n] = tc[:n]
                mstart, hashes, tc = mstart2, hashes2, tc2
            if mstart[n] + m > mem_cap:
                mem_cap = 2 * mem_cap + m
                members2 = np.empty(mem_cap, np.int32)
                members2[: mstart[n]] = members[: mstart[n]]
                members = members2
            for j in range(m):
                members[mstart[n] + j] = bucket[c, j]
            mstart[n + 1] = mstart[n] + m
            hashes[n] = h
            slots[pos] = n
            tc[i, c] = n
            n += 1
            if 2 * n > n_slots:  # keep the table at most half full
                n_slots *= 4
                slots = np.full(n_slots, -1, np.int64)
                for r in range(n):
                    home = np.int64(hashes[r] & np.uint64(n_slots - 1))
                    while slots[home] >= 0:
                        home = (home + 1) & (n_slots - 1)
                    slots[home] = r
        i += 1
    acc = np.zeros(n, np.bool_)
    is_solo = np.zeros(n, np.bool_)
    for s in range(n):
        is_solo[s] = minus and mstart[s + 1] - mstart[s] == 1 and members[mstart[s]] >= past
        any_literal = False
        base_accepts = not minus
        for j in range(mstart[s], mstart[s + 1]):
            x = members[j]
            if x >= past:
                base_accepts = base_accept[x - past]
            elif accept[x]:
                any_literal = True
        acc[s] = (base_accepts and not any_literal) if minus else any_literal
    return _minimal_walk(tc[:n], acc, class_of, is_solo)


@njit(cache=True, nogil=True)
def edge_byte_classes(edge_start, edge_byte, edge_dst):  # pragma: no cover - compiled
    """Byte classes of a DFA given by its edges (CSR by source state): bytes are in one
    class when they have the same edges, source for source; numbered by first byte.

    Reference: ``byte_class_of`` of the DFA's table.
    """
    n_edges = edge_byte.shape[0]
    start = np.zeros(257, np.int64)
    for e in range(n_edges):
        start[edge_byte[e] + 1] += 1
    for b in range(256):
        start[b + 1] += start[b]
    src = np.empty(n_edges, np.int64)
    dst = np.empty(n_edges, np.int64)
    fill = start[:256].copy()
    for s in range(edge_start.shape[0] - 1):
        for e in range(edge_start[s], edge_start[s + 1]):
            b = edge_byte[e]
            src[fill[b]] = s
            dst[fill[b]] = edge_dst[e]
            fill[b] += 1
    h = np.empty(256, np.uint64)
    for b in range(256):
        x = np.uint64(1469598103934665603)
        for j in range(start[b], start[b + 1]):
            x = (x ^ np.uint64(src[j])) * np.uint64(1099511628211)
            x = (x ^ np.uint64(dst[j])) * np.uint64(1099511628211)
        h[b] = x
    out = np.empty(256, np.int32)
    reps = np.empty(256, np.int64)
    n_reps = 0
    for b in range(256):
        cls = -1
        for r in range(n_reps):
            a = reps[r]
            if h[a] != h[b] or start[a + 1] - start[a] != start[b + 1] - start[b]:
                continue
            same = True
            for j in range(start[b + 1] - start[b]):
                if src[start[a] + j] != src[start[b] + j] or dst[start[a] + j] != dst[start[b] + j]:
                    same = False
                    break
            if same:
                cls = r
                break
        if cls < 0:
            reps[n_reps] = b
            cls = n_reps
            n_reps += 1
        out[b] = cls
    return out


@njit(cache=True, nogil=True, inline="always")
def _subset_hash(values, lo, hi):  # pragma: no cover - compiled
    """FNV-1a over ``values[lo:hi]``."""
    h = np.uint64(1469598103934665603)
    for j in range(lo, hi):
        h = (h ^ np.uint64(values[j] + 1)) * np.uint64(1099511628211)
    return h


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


@njit(cache=True, nogil=True)
def json_literal_edges(cps, offsets, quoted, max_states):  # pragma: no cover - compiled
    """The edges of the automata of every JSON encoding of several strings, numbered
    globally, in the form ``minimal_union`` takes: raw characters where JSON allows them,
    short escapes, ``\\uXXXX`` with hex digits in either case, surrogate pairs; ``quoted``
    adds the quotes.

    ``cps``: the strings' code points one after another, string ``i`` at
    ``offsets[i]:offsets[i + 1]``. A string holding a surrogate code point gets no
    automaton (start ``-1``): the engine never writes a lone surrogate. Returns ``(starts,
    finals, edge_start, edge_byte, edge_dst, failed)``: ``failed`` is the index of the first
    string needing more than ``max_states`` states, else -1.

    Reference: ``json_literal_dfa`` over the regex of the escaped string.
    """
    k = offsets.shape[0] - 1
    n_chars = cps.shape[0]
    max_e = 26 * n_chars + 2 * k + 2  # at most 24 edges per character, 2 for quotes
    src = np.empty(max_e, np.int32)
    byt = np.empty(max_e, np.int32)
    dst = np.empty(max_e, np.int32)
    starts = np.full(k, -1, np.int64)
    finals = np.full(k, -1, np.int64)
    utf8 = np.empty(4, np.int32)
    units = np.empty(2, np.int64)
    n = 0
    ne = 0
    for i in range(k):
        lo = offsets[i]
        hi = offsets[i + 1]
        lone = False
        for j in range(lo, hi):
            if 0xD800 <= cps[j] <= 0xDFFF:
                lone = True
        if lone:
            continue
        base = n
        starts[i] = base
        n += 1
        cur = base
        if quoted:
            src[ne], byt[ne], dst[ne] = cur, 0x22, n
            ne += 1
            cur = n
            n += 1
        for j in range(lo, hi):
            cp = cps[j]
            end = n
            n += 1
            if cp >= 0x20 and cp != 0x22 and cp != 0x5C:
                if cp < 0x80:
                    utf8[0] = cp
                    n_bytes = 1
                elif cp < 0x800:
                    utf8[0] = 0xC0 | (cp >> 6)
                    utf8[1] = 0x80 | (cp & 0x3F)
                    n_bytes = 2
                elif cp < 0x10000:
                    utf8[0] = 0xE0 | (cp >> 12)
                    utf8[1] = 0x80 | ((cp >> 6) & 0x3F)
                    utf8[2] = 0x80 | (cp & 0x3F)
                    n_bytes = 3
                else:
                    utf8[0] = 0xF0 | (cp >> 18)
                    utf8[1] = 0x80 | ((cp >> 12) & 0x3F)
                    utf8[2] = 0x80 | ((cp >> 6) & 0x3F)
                    utf8[3] = 0x80 | (cp & 0x3F)
                    n_bytes = 4
                s = cur
                for b in range(n_bytes):
                    if b == n_bytes - 1:
                        t = end
                    else:
                        t = n
                        n += 1
                    src[ne], byt[ne], dst[ne] = s, utf8[b], t
                    ne += 1
                    s = t
            backslash = n
            s = n + 1
            n += 2
            src[ne], byt[ne], dst[ne] = cur, 0x5C, backslash
            ne += 1
            short = _json_short_escape(cp)
            if short >= 0:
                src[ne], byt[ne], dst[ne] = backslash, short, end
                ne += 1
            src[ne], byt[ne], dst[ne] = backslash, 0x75, s  # u
            ne += 1
            if cp < 0x10000:
                units[0] = cp
                n_units = 1
            else:
                units[0] = 0xD800 + ((cp - 0x10000) >> 10)
                units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF)
                n_units = 2
            for u in range(n_units):
                if u:
                    src[ne], byt[ne], dst[ne] = s, 0x5C, n
                    src[ne + 1], byt[ne + 1], dst[ne + 1] = n, 0x75, n + 1
                    ne += 2
                    s = n + 1
                    n += 2
                for d in range(4):
                    digit = (units[u] >> (12 - 4 * d)) & 0xF
                    if u == n_units - 1 and d == 3:
                        t = end
                    else:
                        t = n
                        n += 1
                    src[ne], byt[ne], dst[ne] = s, _HEX[digit], t
                    ne += 1
                    if digit >= 10:
                        src[ne], byt[ne], dst[ne] = s, _HEX[digit] - 32, t
                        ne += 1
                    s = t
            cur = end
            if n - base > max_states:
                return (starts, finals, np.zeros(1, np.int64), byt[:0], dst[:0], i)
        if quoted:
            src[ne], byt[ne], dst[ne] = cur, 0x22, n
            ne += 1
            cur = n
            n += 1
        finals[i] = cur
    # Edges in CSR form by source (a counting sort; each source's edges keep their order).
    edge_start = np.zeros(n + 1, np.int64)
    for e in range(ne):
        edge_start[src[e] + 1] += 1
    for s in range(n):
        edge_start[s + 1] += edge_start[s]
    fill = edge_start[:n].copy()
    out_byte = np.empty(ne, np.int32)
    out_dst = np.empty(ne, np.int32)
    for e in range(ne):
        p = fill[src[e]]
        fill[src[e]] += 1
        out_byte[p] = byt[e]
        out_dst[p] = dst[e]
    return starts, finals, edge_start, out_byte, out_dst, -1


_HEX = np.array([ord(c) for c in "0123456789abcdef"], np.int32)


@njit(cache=True, nogil=True, inline="always")
def _json_short_escape(cp):  # pragma: no cover - compiled
    """The letter of ``\\X`` that JSON allows for ``cp``, or -1."""
    if cp == 0x22 or cp == 0x5C or cp == 0x2F:
        return cp
    if cp == 0x08:
        return 0x62  # b
    if cp == 0x0C:
        return 0x66  # f
    if cp == 0x0A:
        return 0x6E  # n
    if cp == 0x0D:
        return 0x72  # r
    if cp == 0x09:
        return 0x74  # t
    return -1


@njit(cache=True, nogil=True)
def json_literal_table(cps, quoted, max_states):  # pragma: no cover - compiled
    """The DFA of every JSON encoding of one string (code points ``cps``) as a table, in
    one call: ``(trans, accept, class_of, ok)``; no states for a string holding a
    surrogate code point; ``ok`` False past ``max_states`` states.

    Reference: ``json_literal_edges`` of the one string, its edges written into a table
    and ``edge_byte_classes`` of them.
    """
    offsets = np.zeros(2, np.int64)
    offsets[1] = cps.shape[0]
    starts, finals, edge_start, edge_byte, edge_dst, failed = json_literal_edges(
        cps, offsets, quoted, max_states)
    if failed >= 0 or starts[0] < 0:
        return (np.zeros((0, 256), np.int32), np.zeros(0, np.bool_),
                np.zeros(256, np.int32), failed < 0)
    n = edge_start.shape[0] - 1
    trans = np.full((n, 256), -1, np.int32)
    for s in range(n):
        for e in range(edge_start[s], edge_start[s + 1]):
            trans[s, edge_byte[e]] = edge_dst[e]
    accept = np.zeros(n, np.bool_)
    accept[finals[0]] = True
    return trans, accept, edge_byte_classes(edge_start, edge_byte, edge_dst), True


@njit(cache=True, nogil=True)
def quoted_repeat_table(unit_trans, unit_accept, lo, hi, quote):  # pragma: no cover
    """``(trans, accept)``: ``quote``, then ``lo`` to ``hi`` (``-1``: no limit) strings of
    the prefix-free ``unit`` automaton (start 0, not accepting; every state leads to
    acceptance), then ``quote``, built layer by layer: layer ``i`` holds the unit's
    non-accepting states after ``i`` strings. The last layer of a bounded repeat holds
    only its first state (no further string fits), so every state leads to acceptance.
    No states when ``lo > hi``.

    Reference: ``compilers.automata.quoted_repeat_dfa`` before this kernel, trimmed.
    """
    n_u = unit_trans.shape[0]
    unbounded = hi < 0
    if not unbounded and lo > hi:
        return np.zeros((0, 256), np.int32), np.zeros(0, np.bool_)
    pos = np.full(n_u, -1, np.int64)
    k = 0
    for s in range(n_u):
        if not unit_accept[s]:
            pos[s] = k
            k += 1
    n_layers = lo + 1 if unbounded else hi + 1
    last = 1 + (n_layers - 1) * k  # the last layer's first state
    n_states = last + (k if unbounded else 1) + 1
    done = n_states - 1
    trans = np.full((n_states, 256), -1, np.int32)
    accept = np.zeros(n_states, np.bool_)
    accept[done] = True
    trans[0, quote] = 1
    for i in range(n_layers):
        base = 1 + i * k
        is_last = i == n_layers - 1
        nxt = -1  # the next layer's first state, after a whole string
        if not is_last:
            nxt = base + k
        elif unbounded:
            nxt = base
        for s in range(n_u):
            p = pos[s]
            if p < 0 or (is_last and not unbounded and p > 0):
                continue
            row = base + p
            for b in range(256):
                t = unit_trans[s, b]
                if t < 0:
                    continue
                if not unit_accept[t]:
                    if not (is_last and not unbounded):
                        trans[row, b] = base + pos[t]
                elif nxt >= 0:
                    trans[row, b] = nxt
        if i >= lo:
            trans[base, quote] = done
    return trans, accept
