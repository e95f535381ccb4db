"""Numba kernel that builds LALR(1) parse tables: the LR(0) automaton, DeRemer and
Pennello's look-ahead sets, and the table layout, in one call.

The compiled twin of ``compilers.lalr.build_lalr`` plus the layout loop of
``compilers.lr_tables``: same states in the same order, same cells, same actions in each
cell (a shift, then the accepting action, then reductions by rule), so that the tests can
compare the arrays. Terminal sets are rows of 64-bit words.

Symbols as in ``compilers.lalr``: terminals ``0 .. n_terms - 1`` (the last is ``$END``),
nonterminal ``k`` is ``-1 - k``. Rules are ``lhs[r] -> syms[off[r]:off[r + 1]]``; the last
rule is the added ``$root -> start``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lalr_tables"]

_NONE = 1 << 30  # "no next symbol" (an item with the dot at the end)


@njit(cache=True, nogil=True)
def lalr_tables(n_terms, n_nt, lhs, off, syms, start, max_states):  # pragma: no cover
    """LALR(1) tables of the grammar; ``n_nt`` counts ``$root`` (the last nonterminal).

    Returns ``(ok, cell_start, cell_actions, goto)`` as ``ParseTable`` holds them
    (``cell_start`` has ``n_states * n_terms + 1`` entries, ``goto`` is ``(n_states,
    n_nt)``); ``ok`` is False, and the arrays empty, when the LR(0) automaton has more
    than ``max_states`` states.
    """
    n_rules = lhs.shape[0]
    # Items: ``item_base[r] + dot``.
    item_base = np.empty(n_rules + 1, np.int64)
    item_base[0] = 0
    for r in range(n_rules):
        item_base[r + 1] = item_base[r] + (off[r + 1] - off[r]) + 1
    n_items = item_base[n_rules]
    item_rule = np.empty(n_items, np.int64)
    item_next = np.empty(n_items, np.int64)
    for r in range(n_rules):
        length = off[r + 1] - off[r]
        for d in range(length + 1):
            item_rule[item_base[r] + d] = r
            item_next[item_base[r] + d] = syms[off[r] + d] if d < length else _NONE
    # Rules of each nonterminal (in rule order), and the nonterminals each one's closure
    # reaches directly (a leading nonterminal).
    rules_start = np.zeros(n_nt + 1, np.int64)
    for r in range(n_rules):
        rules_start[lhs[r] + 1] += 1
    for k in range(n_nt):
        rules_start[k + 1] += rules_start[k]
    rules_of = np.empty(n_rules, np.int64)
    fill = rules_start[:n_nt].copy()
    for r in range(n_rules):
        rules_of[fill[lhs[r]]] = r
        fill[lhs[r]] += 1

    # -- LR(0) states, breadth first -------------------------------------------------------
    cap = 64
    kern_start = np.zeros(cap + 1, np.int64)
    kern_items = np.empty(256, np.int64)
    kern_hash = np.empty(cap, np.uint64)
    root_item = item_base[n_rules - 1]
    kern_items[0] = root_item
    kern_start[1] = 1
    kern_hash[0] = _hash(kern_items, 0, 1)
    n_slots = 256
    slots = np.full(n_slots, -1, np.int64)
    slots[np.int64(kern_hash[0] & np.uint64(n_slots - 1))] = 0
    n_states = 1
    # Transitions and completed rules per state, appended state by state.
    tr_start = np.zeros(cap + 1, np.int64)
    tr_sym = np.empty(256, np.int64)
    tr_dst = np.empty(256, np.int64)
    n_tr = 0
    done_start = np.zeros(cap + 1, np.int64)
    done_rule = np.empty(256, np.int64)
    n_done = 0
    # Scratch per state.
    move_sym = np.empty(64, np.int64)
    move_item = np.empty(64, np.int64)
    group_of = np.full(n_terms + n_nt, -1, np.int64)  # symbol + n_nt -> group, per state
    group_sym = np.empty(n_terms + n_nt, np.int64)
    group_count = np.zeros(n_terms + n_nt, np.int64)
    seen_nt = np.full(n_nt, -1, np.int64)  # stamp: the state that expanded it
    expand = np.empty(n_nt, np.int64)
    todo = np.empty(n_nt, np.int64)
    done_buf = np.empty(n_rules, np.int64)
    done_seen = np.full(n_rules, -1, np.int64)
    bucket = np.empty(64, np.int64)
    s = 0
    while s < n_states:
        n_moves = 0
        n_exp = 0
        n_db = 0
        for j in range(kern_start[s], kern_start[s + 1]):
            item = kern_items[j]
            sym = item_next[item]
            if sym == _NONE:
                r = item_rule[item]
                if done_seen[r] != s:
                    done_seen[r] = s
                    done_buf[n_db] = r
                    n_db += 1
                continue
            if n_moves == move_sym.shape[0]:
                move_sym = _grow(move_sym, n_moves)
                move_item = _grow(move_item, n_moves)
            move_sym[n_moves] = sym
            move_item[n_moves] = item + 1
            n_moves += 1
            if sym < 0 and seen_nt[-1 - sym] != s:  # the closure: leading nonterminals
                seen_nt[-1 - sym] = s
                top = 0
                todo[top] = -1 - sym
                top += 1
                while top > 0:
                    top -= 1
                    k = todo[top]
                    expand[n_exp] = k
                    n_exp += 1
                    for q in range(rules_start[k], rules_start[k + 1]):
                        r = rules_of[q]
                        if off[r + 1] > off[r] and syms[off[r]] < 0:
                            k2 = -1 - syms[off[r]]
                            if seen_nt[k2] != s:
                                seen_nt[k2] = s
                                todo[top] = k2
                                top += 1
        expanded = np.sort(expand[:n_exp])
        for e in range(n_exp):
            k = expanded[e]
            for q in range(rules_start[k], rules_start[k + 1]):
                r = rules_of[q]
                if off[r + 1] > off[r]:
                    if n_moves == move_sym.shape[0]:
                        move_sym = _grow(move_sym, n_moves)
                        move_item = _grow(move_item, n_moves)
                    move_sym[n_moves] = syms[off[r]]
                    move_item[n_moves] = item_base[r] + 1
                    n_moves += 1
                elif done_seen[r] != s:
                    done_seen[r] = s
                    done_buf[n_db] = r
                    n_db += 1
        # Group the moves by symbol, groups in order of first appearance.
        n_groups = 0
        for j in range(n_moves):
            g = move_sym[j] + n_nt
            if group_of[g] < 0:
                group_of[g] = n_groups
                group_sym[n_groups] = move_sym[j]
                group_count[n_groups] = 0
                n_groups += 1
            group_count[group_of[g]] += 1
        if bucket.shape[0] < n_moves:
            bucket = np.empty(2 * n_moves, np.int64)
        group_pos = np.empty(n_groups + 1, np.int64)
        group_pos[0] = 0
        for g in range(n_groups):
            group_pos[g + 1] = group_pos[g] + group_count[g]
        for g in range(n_groups):
            group_count[g] = group_pos[g]
        for j in range(n_moves):
            g = group_of[move_sym[j] + n_nt]
            bucket[group_count[g]] = move_item[j]
            group_count[g] += 1
        for g in range(n_groups):
            group_of[group_sym[g] + n_nt] = -1
        # Each group's items, sorted and without repeats, are a kernel: find or add it.
        if n_tr + n_groups > tr_sym.shape[0]:
            tr_sym = _grow(tr_sym, n_tr, n_groups)
            tr_dst = _grow(tr_dst, n_tr, n_groups)
        for g in range(n_groups):
            items = np.sort(bucket[group_pos[g] : group_pos[g + 1]])
            m = 0
            for j in range(items.shape[0]):
                if j == 0 or items[j] != items[j - 1]:
                    items[m] = items[j]
                    m += 1
            h = _hash(items, 0, m)
            pos = np.int64(h & np.uint64(n_slots - 1))
            target = -1
            while slots[pos] >= 0:
                t = slots[pos]
                if kern_hash[t] == h and kern_start[t + 1] - kern_start[t] == m:
                    same = True
                    for j in range(m):
                        if kern_items[kern_start[t] + j] != items[j]:
                            same = False
                            break
                    if same:
                        target = t
                        break
                pos = (pos + 1) & (n_slots - 1)
            if target < 0:
                if n_states >= max_states:
                    return (False, np.zeros(1, np.int32), np.zeros(0, np.int32),
                            np.zeros((0, n_nt), np.int32))
                if n_states == cap:
                    cap *= 2
                    kern_start = _grow(kern_start, n_states + 1, cap + 1 - n_states)
                    kern_hash = _grow(kern_hash, n_states, cap - n_states)
                    tr_start = _grow(tr_start, s + 1, cap + 1 - s)
                    done_start = _grow(done_start, s + 1, cap + 1 - s)
                if kern_start[n_states] + m > kern_items.shape[0]:
                    kern_items = _grow(kern_items, kern_start[n_states], m)
                for j in range(m):
                    kern_items[kern_start[n_states] + j] = items[j]
                kern_start[n_states + 1] = kern_start[n_states] + m
                kern_hash[n_states] = h
                slots[pos] = n_states
                target = n_states
                n_states += 1
                if 2 * n_states > n_slots:
                    n_slots *= 4
                    slots = np.full(n_slots, -1, np.int64)
                    for t in range(n_states):
                        home = np.int64(kern_hash[t] & np.uint64(n_slots - 1))
                        while slots[home] >= 0:
                            home = (home + 1) & (n_slots - 1)
                        slots[home] = t
            tr_sym[n_tr] = group_sym[g]
            tr_dst[n_tr] = target
            n_tr += 1
        tr_start[s + 1] = n_tr
        if n_done + n_db > done_rule.shape[0]:
            done_rule = _grow(done_rule, n_done, n_db)
        sorted_done = np.sort(done_buf[:n_db])
        for j in range(n_db):
            done_rule[n_done + j] = sorted_done[j]
        n_done += n_db
        done_start[s + 1] = n_done
        s += 1

    # -- goto and nonterminal transitions --------------------------------------------------
    goto = np.full((n_states, n_nt), -1, np.int32)
    nt_index = np.full((n_states, n_nt), -1, np.int64)
    n_x = 0
    for p in range(n_states):
        for e in range(tr_start[p], tr_start[p + 1]):
            if tr_sym[e] < 0:
                goto[p, -1 - tr_sym[e]] = tr_dst[e]
                nt_index[p, -1 - tr_sym[e]] = n_x
                n_x += 1
    x_state = np.empty(n_x, np.int64)
    x_nt = np.empty(n_x, np.int64)
    for p in range(n_states):
        for e in range(tr_start[p], tr_start[p + 1]):
            if tr_sym[e] < 0:
                x = nt_index[p, -1 - tr_sym[e]]
                x_state[x] = p
                x_nt[x] = -1 - tr_sym[e]

    # -- look-aheads (DeRemer and Pennello) ------------------------------------------------
    nullable = _nullable(n_nt, lhs, off, syms)
    nullable_from = np.empty(n_rules, np.int64)
    for r in range(n_rules):
        k = off[r + 1] - off[r]
        while k > 0 and syms[off[r] + k - 1] < 0 and nullable[-1 - syms[off[r] + k - 1]]:
            k -= 1
        nullable_from[r] = k
    words = (n_terms + 63) // 64
    direct = np.zeros((n_x, words), np.uint64)
    reads_start = np.zeros(n_x + 1, np.int64)
    reads = np.empty(max(n_tr, 1), np.int64)
    n_reads = 0
    for x in range(n_x):
        r_state = goto[x_state[x], x_nt[x]]
        for e in range(tr_start[r_state], tr_start[r_state + 1]):
            sym = tr_sym[e]
            if sym >= 0:
                direct[x, sym >> 6] |= np.uint64(1) << np.uint64(sym & 63)
            elif nullable[-1 - sym]:
                if n_reads == reads.shape[0]:  # transitions may share a target state
                    reads = _grow(reads, n_reads)
                reads[n_reads] = nt_index[r_state, -1 - sym]
                n_reads += 1
        reads_start[x + 1] = n_reads
    end = n_terms - 1
    if nt_index[0, -1 - start] >= 0:
        direct[nt_index[0, -1 - start], end >> 6] |= np.uint64(1) << np.uint64(end & 63)
    # includes (x -> y: y's follow flows into x) and lookback ((q, rule) -> x), as pairs.
    inc_from = np.empty(64, np.int64)
    inc_to = np.empty(64, np.int64)
    n_inc = 0
    lb_state = np.empty(64, np.int64)
    lb_rule = np.empty(64, np.int64)
    lb_x = np.empty(64, np.int64)
    n_lb = 0
    for x in range(n_x):
        k = x_nt[x]
        for q0 in range(rules_start[k], rules_start[k + 1]):
            r = rules_of[q0]
            q = x_state[x]
            for i in range(off[r + 1] - off[r]):
                s2 = syms[off[r] + i]
                if s2 < 0 and i + 1 >= nullable_from[r]:
                    if n_inc == inc_from.shape[0]:
                        inc_from = _grow(inc_from, n_inc)
                        inc_to = _grow(inc_to, n_inc)
                    inc_from[n_inc] = nt_index[q, -1 - s2]
                    inc_to[n_inc] = x
                    n_inc += 1
                q = _step(q, s2, tr_start, tr_sym, tr_dst)
            if n_lb == lb_state.shape[0]:
                lb_state = _grow(lb_state, n_lb)
                lb_rule = _grow(lb_rule, n_lb)
                lb_x = _grow(lb_x, n_lb)
            lb_state[n_lb] = q
            lb_rule[n_lb] = r
            lb_x[n_lb] = x
            n_lb += 1
    inc_start = np.zeros(n_x + 1, np.int64)
    for i in range(n_inc):
        inc_start[inc_from[i] + 1] += 1
    for x in range(n_x):
        inc_start[x + 1] += inc_start[x]
    includes = np.empty(max(n_inc, 1), np.int64)
    fill = inc_start[:n_x].copy()
    for i in range(n_inc):
        includes[fill[inc_from[i]]] = inc_to[i]
        fill[inc_from[i]] += 1
    read_sets = _digraph(reads_start, reads, direct)
    follow = _digraph(inc_start, includes, read_sets)
    # LA(q, rule): one row per completed rule of a state (``done_rule`` order).
    la = np.zeros((max(n_done, 1), words), np.uint64)
    for i in range(n_lb):
        q = lb_state[i]
        for d in range(done_start[q], done_start[q + 1]):
            if done_rule[d] == lb_rule[i]:
                for w in range(words):
                    la[d, w] |= follow[lb_x[i], w]
                break

    # -- the table ---------------------------------------------------------------------------
    root_rule = n_rules - 1
    n_cells = n_states * n_terms
    counts = np.zeros(n_cells + 1, np.int32)
    for p in range(n_states):
        base = p * n_terms
        for e in range(tr_start[p], tr_start[p + 1]):
            if tr_sym[e] >= 0:
                counts[base + tr_sym[e] + 1] += 1
        for d in range(done_start[p], done_start[p + 1]):
            if done_rule[d] == root_rule:
                counts[base + end + 1] += 1
        for d in range(done_start[p], done_start[p + 1]):
            for w in range(words):
                bits = la[d, w]
                while bits:
                    low = bits & (~bits + np.uint64(1))
                    counts[base + 64 * w + _bit_index(low) + 1] += 1
                    bits ^= low
    for k in range(n_cells):
        counts[k + 1] += counts[k]
    cell_start = counts
    actions = np.empty(cell_start[n_cells], np.int32)
    at = cell_start[:n_cells].copy()
    for p in range(n_states):
        base = p * n_terms
        for e in range(tr_start[p], tr_start[p + 1]):
            if tr_sym[e] >= 0:
                actions[at[base + tr_sym[e]]] = tr_dst[e]
                at[base + tr_sym[e]] += 1
        for d in range(done_start[p], done_start[p + 1]):
            if done_rule[d] == root_rule:  # accepting: shifting $END onto itself
                actions[at[base + end]] = p
                at[base + end] += 1
        for d in range(done_start[p], done_start[p + 1]):
            for w in range(words):
                bits = la[d, w]
                while bits:
                    low = bits & (~bits + np.uint64(1))
                    t = 64 * w + _bit_index(low)
                    actions[at[base + t]] = -1 - done_rule[d]
                    at[base + t] += 1
                    bits ^= low
    return True, cell_start, actions, goto


@njit(cache=True, nogil=True)
def _nullable(n_nt, lhs, off, syms):  # pragma: no cover - compiled
    """Nonterminals deriving the empty string (a worklist over rules, linear)."""
    n_rules = lhs.shape[0]
    pending = np.empty(n_rules, np.int64)
    uses_start = np.zeros(n_nt + 1, np.int64)
    for r in range(n_rules):
        only_nts = True
        for i in range(off[r], off[r + 1]):
            if syms[i] >= 0:
                only_nts = False
        pending[r] = off[r + 1] - off[r] if only_nts else -1
        if pending[r] > 0:
            for i in range(off[r], off[r + 1]):
                uses_start[-1 - syms[i] + 1] += 1
    for k in range(n_nt):
        uses_start[k + 1] += uses_start[k]
    uses = np.empty(max(uses_start[n_nt], 1), np.int64)
    fill = uses_start[:n_nt].copy()
    for r in range(n_rules):
        if pending[r] > 0:
            for i in range(off[r], off[r + 1]):
                k = -1 - syms[i]
                uses[fill[k]] = r
                fill[k] += 1
    nullable = np.zeros(n_nt, np.bool_)
    work = np.empty(n_rules + 1, np.int64)
    top = 0
    for r in range(n_rules):
        if off[r + 1] == off[r]:
            work[top] = lhs[r]
            top += 1
    while top > 0:
        top -= 1
        k = work[top]
        if nullable[k]:
            continue
        nullable[k] = True
        for i in range(uses_start[k], uses_start[k + 1]):
            r = uses[i]
            pending[r] -= 1
            if pending[r] == 0:
                work[top] = lhs[r]
                top += 1
    return nullable


@njit(cache=True, nogil=True)
def _digraph(edge_start, edges, init):  # pragma: no cover - compiled
    """F(x) = init(x) | union of F(y) over edges x -> y; a strongly connected component
    shares one set (DeRemer and Pennello's DIGRAPH, iterative)."""
    n, words = init.shape
    f = init.copy()
    done = np.int64(1) << 62
    low = np.zeros(n, np.int64)
    stack = np.empty(n, np.int64)
    depth = 0
    frame_node = np.empty(n, np.int64)
    frame_edge = np.empty(n, np.int64)
    frame_depth = np.empty(n, np.int64)
    for root in range(n):
        if low[root] != 0:
            continue
        stack[depth] = root
        depth += 1
        low[root] = depth
        frame_node[0] = root
        frame_edge[0] = edge_start[root]
        frame_depth[0] = depth
        top = 1
        while top > 0:
            x = frame_node[top - 1]
            i = frame_edge[top - 1]
            if i < edge_start[x + 1]:
                frame_edge[top - 1] = i + 1
                y = edges[i]
                if low[y] == 0:
                    stack[depth] = y
                    depth += 1
                    low[y] = depth
                    frame_node[top] = y
                    frame_edge[top] = edge_start[y]
                    frame_depth[top] = depth
                    top += 1
                    continue
                if low[y] < low[x]:
                    low[x] = low[y]
                for w in range(words):
                    f[x, w] |= f[y, w]
                continue
            top -= 1
            if low[x] == frame_depth[top]:  # x is the root of its component
                while True:
                    depth -= 1
                    z = stack[depth]
                    low[z] = done
                    for w in range(words):
                        f[z, w] = f[x, w]
                    if z == x:
                        break
            if top > 0:
                parent = frame_node[top - 1]
                if low[x] < low[parent]:
                    low[parent] = low[x]
                for w in range(words):
                    f[parent, w] |= f[x, w]
    return f


@njit(cache=True, nogil=True, inline="always")
def _step(q, sym, tr_start, tr_sym, tr_dst):  # pragma: no cover - compiled
    """The LR(0) transition of state ``q`` on ``sym``."""
    for e in range(tr_start[q], tr_start[q + 1]):
        if tr_sym[e] == sym:
            return tr_dst[e]
    return -1


@njit(cache=True, nogil=True, inline="always")
def _hash(values, lo, hi):  # pragma: no cover - compiled
    """FNV-1a over ``values[lo:hi]``."""
    h = np.uint64(1469598103934665603)
    for j in range(lo, hi):
        h = (h ^ np.uint64(values[j] + 1)) * np.uint64(1099511628211)
    return h


@njit(cache=True, nogil=True, inline="always")
def _bit_index(low):  # pragma: no cover - compiled
    """Index of the one set bit of ``low``."""
    i = 0
    while low > np.uint64(1):
        low >>= np.uint64(1)
        i += 1
    return i


@njit(cache=True, nogil=True)
def _grow(a, n, extra=0):  # pragma: no cover - compiled
    """``a`` with its first ``n`` entries kept and room for at least ``extra`` more."""
    out = np.empty(max(2 * a.shape[0], n + extra + 1), a.dtype)
    out[:n] = a[:n]
    return out
