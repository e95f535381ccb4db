"""Numba kernels growing the contextual lexer automaton: a product of terminal DFAs.

This module imports nothing from the project. The terminal DFAs of a grammar are laid out
in one table ``t_all: int32[S, 256]`` of *global* state ids (terminal ``i`` owns a range of
ids; ``-1`` = no transition), so a combined lexer state is the sorted vector of the global
ids of its live terminals, with no separate terminal tag, plus a flag for a fresh lexeme.

The automaton lives in arrays the caller owns and grows: ``trans[cap, 256]``, ``top[cap]``,
``fresh[cap]``, the vectors in a pool (``vec_pool[vec_start[s]:vec_start[s + 1]]``) and an
open-addressing hash table ``slots`` (state ids, ``-1`` = empty) over ``(fresh, vector)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["GROW_DONE", "GROW_FULL", "canonical_hash", "class_reps", "closed_classes",
           "dfa_closed_classes", "grow_lexer", "offset_rows", "rehash_lexer", "stays_alive"]

GROW_DONE = 0
GROW_FULL = 1  # out of room in trans / vec_pool / slots: grow them and call again


@njit(cache=True, nogil=True)
def offset_rows(trans, row_offset):  # pragma: no cover - compiled
    """In place: each transition ``t >= 0`` in row ``r`` becomes ``t + row_offset[r]``
    (terminal DFAs stacked into one table of global state ids); ``-1`` stays.

    Reference: ``np.where(trans >= 0, trans + row_offset[:, None], -1)``.
    """
    n, width = trans.shape
    for r in range(n):
        off = row_offset[r]
        for c in range(width):
            v = trans[r, c]
            trans[r, c] = v + off if v >= 0 else v  # a select, so the loop vectorises


@njit(cache=True, nogil=True)
def _hash(vec, k, fresh):  # pragma: no cover - compiled
    h = np.uint64(1469598103934665603) if not fresh else np.uint64(7809847782465536322)
    for j in range(k):
        h ^= np.uint64(vec[j] + 1)
        h *= np.uint64(1099511628211)
    return h


@njit(cache=True, nogil=True)
def _find(vec, k, fresh, fresh_of, vec_start, vec_pool, slots):  # pragma: no cover
    """``(state or -1, slot)``: where ``(fresh, vec[:k])`` is or would go."""
    mask = slots.shape[0] - 1
    h = np.int64(_hash(vec, k, fresh) & np.uint64(mask))
    while True:
        s = slots[h]
        if s < 0:
            return -1, h
        if fresh_of[s] == fresh and vec_start[s + 1] - vec_start[s] == k:
            base = vec_start[s]
            j = 0
            while j < k and vec_pool[base + j] == vec[j]:
                j += 1
            if j == k:
                return s, h
        h = (h + 1) & mask


@njit(cache=True, nogil=True)
def rehash_lexer(base, n, fresh, vec_start, vec_pool, slots):  # pragma: no cover
    """Insert states ``base..n-1`` into the empty table ``slots``."""
    for s in range(base, n):
        k = vec_start[s + 1] - vec_start[s]
        vec = vec_pool[vec_start[s] : vec_start[s + 1]]
        h = _find(vec, k, fresh[s], fresh, vec_start, vec_pool, slots)[1]
        slots[h] = s


@njit(cache=True, nogil=True)
def _vetoed(vec_pool, lo, hi, t, veto_base, veto_acc, term_of):  # pragma: no cover
    """Whether an accepting veto row of terminal ``t`` is among ``vec_pool[lo:hi]`` (veto
    rows, numbered past every terminal's, come last)."""
    p = hi - 1
    while p >= lo and vec_pool[p] >= veto_base:
        g = vec_pool[p]
        if veto_acc[g] and term_of[g] == t:
            return True
        p -= 1
    return False


@njit(cache=True, nogil=True)
def grow_lexer(acc_all, veto_acc, veto_base, term_of, rank_pos, tier, lazy, identity, base,
               class_of, class_rep, start_vec, trans, top, tied, fresh, vec_start, vec_pool,
               slots, n, root, cursor):  # pragma: no cover - compiled
    """Add the fresh state ``start_vec`` and every state reachable from it.

    Reference, with states as tuples of live global ids::

        work = [start (fresh)]
        for s in work:                        # states met before are not explored again
            vetoed = terminals of the ids >= veto_base that veto_acc
            top[s] = live terminal of best rank_pos among accepting ids, not vetoed, or -1
            if top[s] >= 0 and lazy[top[s]]: no transitions (a lazy lexeme ends here)
            for b in range(256):
                nxt = tuple(t_all[g, b] for g in s if t_all[g, b] >= 0)
                drop the veto ids (>= veto_base) whose terminal has no id < veto_base left
                trans[s, b] = index.setdefault((False, nxt), new state) if nxt else -1

    Rows from ``veto_base`` on follow the automata a terminal excludes (``term_of`` names
    the terminal; ``acc_all`` is false there): while one accepts, the lexeme is not that
    terminal's.

    ``tied[s]`` tells whether another accepting terminal of ``s`` has the priority tier
    (``tier``) of ``top[s]``: a lexeme several terminals match alike.

    The non-fresh state of a single global id ``g`` with ``identity[g]`` is ``g`` itself:
    state ids below ``base`` are the terminal DFAs' states (``t_all`` is ``trans[:base]``),
    whose rows, tops and vectors the caller has laid out; they are neither
    explored nor hashed, and ``slots`` holds the explored states only.

    Bytes with equal columns in ``t_all`` share a class (``class_of``; ``class_rep[c]`` is
    one byte of class ``c``), so each state computes one successor per class. States
    ``cursor..n-1`` are the ones still to explore; ``root`` is the fresh state once known
    (-1 at the first call). Returns ``(status, n, root, cursor)``: with ``GROW_FULL`` the
    caller grows the arrays (and ``rehash_lexer``) and calls again with the returned
    values; work done so far is kept.
    """
    k0 = start_vec.shape[0]
    cap = trans.shape[0]
    n_slots = slots.shape[0]
    if root < 0:
        found, h = _find(start_vec, k0, True, fresh, vec_start, vec_pool, slots)
        if found >= 0:
            return GROW_DONE, n, found, n
        if n >= cap or vec_start[n] + k0 > vec_pool.shape[0] or \
                2 * (n - base + 1) > n_slots:
            return GROW_FULL, n, -1, cursor
        at = vec_start[n]
        vec_pool[at : at + k0] = start_vec
        vec_start[n + 1] = at + k0
        fresh[n] = True
        slots[h] = n
        root = n
        cursor = n
        n += 1
    n_classes = class_rep.shape[0]
    row = np.empty(n_classes, np.int32)
    nxt = np.empty(max(k0, 1), np.int32)
    while cursor < n:
        s = cursor
        lo = vec_start[s]
        hi = vec_start[s + 1]
        has_veto = vec_pool[hi - 1] >= veto_base
        best = -1
        best_rank = 1 << 30
        for p in range(lo, hi):
            g = vec_pool[p]
            if acc_all[g]:
                t = term_of[g]
                if rank_pos[t] < best_rank and not (
                        has_veto and _vetoed(vec_pool, lo, hi, t, veto_base, veto_acc,
                                             term_of)):
                    best_rank = rank_pos[t]
                    best = t
        top[s] = best
        n_tied = 0
        if best >= 0:
            for p in range(lo, hi):
                g = vec_pool[p]
                if acc_all[g] and tier[term_of[g]] == tier[best] and not (
                        has_veto and _vetoed(vec_pool, lo, hi, term_of[g], veto_base,
                                             veto_acc, term_of)):
                    n_tied += 1
        tied[s] = n_tied > 1
        if best >= 0 and lazy[best]:
            trans[s, :] = -1
            cursor += 1
            continue
        for c in range(n_classes):
            b = class_rep[c]
            m = 0
            for p in range(lo, hi):
                x = trans[vec_pool[p], b]
                if x >= 0:
                    nxt[m] = x
                    m += 1
            if m > 0 and nxt[m - 1] >= veto_base:  # keep the vetoes of live terminals
                n_live = 0
                while n_live < m and nxt[n_live] < veto_base:
                    n_live += 1
                w = n_live
                for j in range(n_live, m):
                    t = term_of[nxt[j]]
                    for i in range(n_live):
                        if term_of[nxt[i]] == t:
                            nxt[w] = nxt[j]
                            w += 1
                            break
                m = w if n_live > 0 else 0
            if m == 0:
                row[c] = -1
                continue
            if m == 1 and identity[nxt[0]]:
                row[c] = nxt[0]
                continue
            found, h = _find(nxt, m, False, fresh, vec_start, vec_pool, slots)
            if found < 0:
                if n >= cap or vec_start[n] + m > vec_pool.shape[0] or \
                        2 * (n - base + 1) > n_slots:
                    return GROW_FULL, n, root, cursor
                at = vec_start[n]
                vec_pool[at : at + m] = nxt[:m]
                vec_start[n + 1] = at + m
                fresh[n] = False
                slots[h] = n
                found = n
                n += 1
            row[c] = found
        for b in range(256):
            trans[s, b] = row[class_of[b]]
        cursor += 1
    return GROW_DONE, n, root, cursor


@njit(cache=True, nogil=True)
def _slot(keys, k):  # pragma: no cover - compiled
    """Where the non-negative key ``k`` is, or would go, in the linear-probing table
    ``keys`` (``-1`` = empty, size a power of two)."""
    mask = keys.shape[0] - 1
    h = (k * np.int64(0x9E3779B1)) & mask
    while keys[h] >= 0 and keys[h] != k:
        h = (h + 1) & mask
    return h


@njit(cache=True, nogil=True)
def _mix(h, v, p):  # pragma: no cover - compiled
    h = (h ^ v) * p
    return h ^ (h >> np.uint64(31))


@njit(cache=True, nogil=True)
def canonical_hash(trans, top, q, max_states, starts, max_depth):  # pragma: no cover
    """A 128-bit hash of the automaton reachable from state ``q`` within ``max_depth``
    bytes, states numbered in breadth-first order and terminals by first appearance, so
    that two states (of any two automata) with equal hashes behave alike, up to the
    terminals' names, on every string of at most ``max_depth`` bytes.

    States first met at distance ``max_depth`` are leaves: neither their row nor their
    terminal is hashed (a token of the vocabulary ends there, whatever follows). With
    ``max_depth`` the vocabulary's longest token, a string lexeme with 300 characters left
    and one with 3,000 left share one token table.

    ``starts`` (ascending, from 0) are the bytes where a row may change value: every row
    is constant from one start to the next (the lexer's byte classes as intervals), so only
    those bytes are read; the hash is the same as reading all 256.

    Returns ``(h1, h2, labels, m)``: ``labels[j]`` is the terminal numbered ``j``, ``m``
    the number of states reached (``-1``, and no hash, past ``max_states``).
    """
    # State -> breadth-first number, in a small hash table (not an array the size of
    # the lexer, which holds every terminal DFA's states).
    size = 64
    while size < 2 * max_states:
        size *= 2
    keys = np.full(size, -1, np.int64)
    nums = np.empty(size, np.int32)
    order = np.empty(max_states, np.int32)
    labels = np.full(max_states + 1, -1, np.int32)
    n_labels = 0
    h1 = np.uint64(1469598103934665603)
    h2 = np.uint64(7809847782465536322)
    p1 = np.uint64(1099511628211)
    p2 = np.uint64(6364136223846793005)
    depth = np.zeros(max_states, np.int32)
    h = _slot(keys, np.int64(q))
    keys[h] = q
    nums[h] = 0
    order[0] = q
    m = 1
    i = 0
    while i < m:
        s = order[i]
        if depth[i] >= max_depth:
            h1 = _mix(h1, np.uint64(0xFFFFFFFFE), p1)
            h2 = _mix(h2, np.uint64(0xFFFFFFFFE), p2)
            i += 1
            continue
        t = top[s]
        lab = -1
        if t >= 0:
            lab = 0
            while lab < n_labels and labels[lab] != t:
                lab += 1
            if lab == n_labels:
                labels[lab] = t
                n_labels += 1
        h1 = _mix(h1, np.uint64(lab + 7), p1)
        h2 = _mix(h2, np.uint64(lab + 11), p2)
        prev = -2
        prev_x = -2
        for b in starts:
            x = trans[s, b]
            if x == prev_x:  # a run of one target: no look-up, no new run
                continue
            prev_x = x
            c = -1
            if x >= 0:
                h = _slot(keys, np.int64(x))
                if keys[h] == x:
                    c = nums[h]
                else:
                    if m >= max_states:
                        return h1, h2, labels[:0], -1
                    c = m
                    keys[h] = x
                    nums[h] = c
                    order[m] = x
                    depth[m] = depth[i] + 1
                    m += 1
            if c != prev:  # hash the row as runs of equal targets
                v = np.uint64((b << 32) | (c + 1))
                h1 = _mix(h1, v, p1)
                h2 = _mix(h2, v, p2)
                prev = c
        h1 = _mix(h1, np.uint64(0xFFFFFFFFF), p1)
        h2 = _mix(h2, np.uint64(0xFFFFFFFFF), p2)
        i += 1
    return h1, h2, labels[:n_labels].copy(), m


@njit(cache=True, nogil=True)
def stays_alive(trans, top, q, text_dfa, depth, max_pairs, starts, restarts, restart_to,
                closed, loop_bits):  # pragma: no cover - compiled
    """Whether every string of at most ``depth`` bytes that the automaton ``text_dfa``
    reads (``int32[n_u, 256]``, start state 0, ``-1`` = the string leaves its language;
    every state accepting) can be read from state ``q`` without a missing transition.
    False too, to bound the cost, once the search meets more than ``max_pairs`` pairs.

    Reference: ``all(walk(q, s) is not DEAD for s in text_dfa's language if len(s) <=
    depth)``; here a breadth-first search visits each pair (lexer state, text state) once,
    at its smallest distance, and checks its transitions when that distance is below
    ``depth``. Visited pairs live in a small hash table, not in arrays the size of the
    lexer: most searches visit a few pairs of a lexer with thousands of states.

    ``starts`` (ascending, from 0) are the bytes where a row of ``trans`` or of
    ``text_dfa`` may change value: only those bytes are read (a few dozen, not 256).

    ``restarts`` marks top values whose lexemes end into ``restart_to``, as in
    ``classify_tokens`` (not at the first byte: the table keeps those apart). A pair
    needs no further search when the lexer state is closed under a byte class
    (``closed``, see ``closed_classes``) that every string from the text state is made
    of (``loop_bits[u]``): a word's letters from an identifier state.
    """
    n_u = text_dfa.shape[0]
    keys = np.full(256, -1, np.int64)
    queue = np.empty(128, np.int64)  # pairs in visiting order; the table stays half empty
    dists = np.empty(128, np.int32)
    first = np.int64(q) * n_u
    keys[_slot(keys, first)] = first
    queue[0] = first
    dists[0] = 0
    head = 0
    tail = 1
    while head < tail:
        key = queue[head]
        d = dists[head]
        head += 1
        if d >= depth:
            continue
        s = key // n_u
        u = key - s * n_u
        if closed[s] & loop_bits[u]:
            continue
        for b in starts:
            v = text_dfa[u, b]
            if v < 0:
                continue
            t = trans[s, b]
            if t < 0 and d > 0 and 0 <= top[s] < restarts.shape[0] and restarts[top[s]]:
                t = trans[restart_to, b]  # an ignored lexeme ended: the next one starts there
            if t < 0:
                return False
            nk = np.int64(t) * n_u + v
            h = _slot(keys, nk)
            if keys[h] == nk:
                continue
            if tail >= max_pairs:
                return False
            if tail == queue.shape[0]:  # double the table and the queue
                keys = np.full(4 * tail, -1, np.int64)
                for i in range(tail):
                    keys[_slot(keys, queue[i])] = queue[i]
                queue = np.concatenate((queue, np.empty(tail, np.int64)))
                dists = np.concatenate((dists, np.empty(tail, np.int32)))
                h = _slot(keys, nk)
            keys[h] = nk
            queue[tail] = nk
            dists[tail] = d + 1
            tail += 1
    return True


@njit(cache=True, nogil=True)
def closed_classes(trans, rep_bytes, rep_classes, flags, lo, hi):  # pragma: no cover
    """Set, for the states ``lo <= s < hi``, bit ``k`` of ``flags[s]`` (uint16) when every
    string of class-``k`` bytes stays inside the lexeme from ``s``: the greatest set of
    states whose every class-``k`` transition exists and leads back into the set. Byte
    ``rep_bytes[j]`` stands for its run of equal columns, whose bytes meet the classes
    ``rep_classes[j]``.

    States below ``lo`` already have their flags, and no state below ``lo`` leads to one
    at or above it (the lexer's rows are complete and final when its states appear). All
    classes at once, bit-parallel: every new state starts with the bits its missing
    transitions leave, and a state that loses bits makes its predecessors (along
    reversed edges) check theirs again.
    """
    m = hi - lo
    n_reps = rep_bytes.shape[0]
    every = np.uint16(0)  # the bits of the classes there are
    for j in range(n_reps):
        every |= rep_classes[j]
    # First the missing transitions alone: most states lose every bit at once and need
    # no edges.
    for s in range(lo, hi):
        f = every
        for j in range(n_reps):
            if trans[s, rep_bytes[j]] < 0:
                f &= ~rep_classes[j]
                if f == 0:
                    break
        flags[s] = f
    count = np.zeros(m + 1, np.int64)
    for s in range(lo, hi):
        if flags[s]:
            for j in range(n_reps):
                t = trans[s, rep_bytes[j]]
                if t >= lo:
                    count[t - lo + 1] += 1
    for i in range(m):
        count[i + 1] += count[i]
    sources = np.empty(count[m], np.int32)
    fill = count[:m].copy()
    for s in range(lo, hi):
        if flags[s]:
            for j in range(n_reps):
                t = trans[s, rep_bytes[j]]
                if t >= lo:
                    sources[fill[t - lo]] = s
                    fill[t - lo] += 1
    todo = np.empty(m, np.int32)
    queued = np.zeros(m, np.bool_)
    n_todo = 0
    for s in range(lo, hi):
        if flags[s]:
            todo[n_todo] = s
            queued[s - lo] = True
            n_todo += 1
    while n_todo > 0:
        n_todo -= 1
        s = todo[n_todo]
        queued[s - lo] = False
        f = flags[s]
        for j in range(n_reps):
            t = trans[s, rep_bytes[j]]
            if t < 0:
                f &= ~rep_classes[j]
            else:
                f &= ~rep_classes[j] | flags[t]
        if f != flags[s]:
            flags[s] = f
            for e in range(count[s - lo], count[s - lo + 1]):
                p = sources[e]
                if not queued[p - lo]:
                    queued[p - lo] = True
                    todo[n_todo] = p
                    n_todo += 1


@njit(cache=True, nogil=True)
def class_reps(class_of, byte_flags):  # pragma: no cover - compiled
    """For a byte partition ``class_of`` (class ids from 0), one byte per class that
    meets some class of ``byte_flags`` (per byte, its classes as bits) and the classes
    (bits) its class meets: ``(rep_bytes int32, rep_classes uint16)``, for
    ``closed_classes``.

    Reference: ``meets = zeros; bitwise_or.at(meets, class_of, byte_flags)``, then the
    first byte of each class with ``meets != 0``.
    """
    n_cls = 0
    for b in range(256):
        n_cls = max(n_cls, class_of[b] + 1)
    meets = np.zeros(n_cls, np.uint16)
    first = np.full(n_cls, -1, np.int32)
    for b in range(256):
        c = class_of[b]
        meets[c] |= byte_flags[b]
        if first[c] < 0:
            first[c] = b
    n_reps = 0
    for c in range(n_cls):
        if meets[c]:
            n_reps += 1
    rep_bytes = np.empty(n_reps, np.int32)
    rep_classes = np.empty(n_reps, np.uint16)
    j = 0
    for c in range(n_cls):
        if meets[c]:
            rep_bytes[j] = first[c]
            rep_classes[j] = meets[c]
            j += 1
    return rep_bytes, rep_classes


@njit(cache=True, nogil=True)
def dfa_closed_classes(trans, class_of, byte_flags, flags, lo, hi):  # pragma: no cover
    """``closed_classes`` for the rows ``lo..hi-1`` of one DFA stacked in ``trans`` (they
    lead only among themselves), read at one byte per class of ``class_of`` (the DFA's
    byte classes) that meets some class of ``byte_flags``: a DFA has a few byte classes,
    a lexer many more."""
    rep_bytes, rep_classes = class_reps(class_of, byte_flags)
    closed_classes(trans, rep_bytes, rep_classes, flags, lo, hi)
