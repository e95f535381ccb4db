"""Numba kernel that follows boundary-crossing tokens through a GLR parse table.

The general-path counterpart of ``native.kernels.resolve_with_parser``: grammars whose LR
table has conflicts (ambiguous, or needing more lookahead than LALR(1)) keep a set of
parser stacks, and feeding a terminal follows every action of a cell, merging equal
stacks. The kernel does this on scratch copies, so that the tokens of a boundary group
are resolved in one call instead of one Python parse per lexeme boundary.

Stacks are rows of an ``int32[capacity, depth]`` pool with their lengths beside them.
Anything past the pools' capacity is left undecided (verdict 2) for the Python parser,
which applies the engine's limits and raises their errors.
Reference: ``GrammarRuntime._advance`` with ``LRParser.feed`` (``grammar_engine``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["GLR_EXTRA_DEPTH", "GLR_POOL", "resolve_with_glr"]

GLR_POOL = 64  # at most this many stacks alive, or met while reducing, per pool
GLR_EXTRA_DEPTH = 256  # room above the deepest starting stack
_MEMO_NODES = 512  # paths of terminals remembered per call


@njit(cache=True, nogil=True)
def _find(pool, lens, n, row, length):  # pragma: no cover - compiled
    """Index of a stack among ``pool[:n]`` equal to ``row[:length]``, or -1."""
    for i in range(n):
        if lens[i] != length:
            continue
        same = True
        for k in range(length - 1, -1, -1):  # stacks differ near the top, if anywhere
            if pool[i, k] != row[k]:
                same = False
                break
        if same:
            return i
    return -1


@njit(cache=True, nogil=True)
def _add(pool, lens, n, row, length):  # pragma: no cover - compiled
    """Add the stack ``row[:length]`` to ``pool[:n]`` unless it is there already; returns
    the new count, -1 when the pool is full."""
    if _find(pool, lens, n, row, length) >= 0:
        return n
    if n >= pool.shape[0]:
        return -1
    pool[n, :length] = row[:length]
    lens[n] = length
    return n + 1


@njit(cache=True, nogil=True)
def _glr_feed(cur, cur_len, n_cur, t, cell_start, cell_actions, n_terms, goto, rule_lhs,
              rule_len, work, work_len, out, out_len, row, stop_at_shift):  # pragma: no cover
    """Feed terminal ``t`` to the stacks ``cur[:n_cur]``: every reduction path, then the
    shifts. Writes the shifted stacks (deduplicated) to ``out``; returns their number, -1
    when a pool overflows. With ``stop_at_shift``, returns 1 at the first possible shift
    without writing it (a "can shift" test)."""
    n_work = 0
    for i in range(n_cur):
        n_work = _add(work, work_len, n_work, cur[i], cur_len[i])
        if n_work < 0:
            return -1
    n_out = 0
    depth = work.shape[1]
    i = 0
    while i < n_work:
        length = work_len[i]
        cell = work[i, length - 1] * n_terms + t
        for k in range(cell_start[cell], cell_start[cell + 1]):
            a = cell_actions[k]
            if a >= 0:  # shift
                if stop_at_shift:
                    return 1
                if length >= depth:
                    return -1
                row[:length] = work[i, :length]
                row[length] = a
                n_out = _add(out, out_len, n_out, row, length + 1)
                if n_out < 0:
                    return -1
                continue
            r = -1 - a  # reduce: pop the rule's right-hand side, push its goto
            base = length - rule_len[r]
            if base < 1:
                continue
            g = goto[work[i, base - 1], rule_lhs[r]]
            if g < 0:
                continue
            row[:base] = work[i, :base]
            row[base] = g
            n_work = _add(work, work_len, n_work, row, base + 1)
            if n_work < 0:
                return -1
        i += 1
    return n_out


@njit(cache=True, nogil=True)
def _pools(out_cap, work_cap, depth_cap):  # pragma: no cover - compiled
    """Scratch pools (row validity is tracked by the lengths, so no zeroing): ``cur`` and
    ``nxt`` for the stacks after a shift, ``work`` for those met while reducing, each with
    its lengths, and one row."""
    return (np.empty((out_cap, depth_cap), np.int32), np.empty(out_cap, np.int32),
            np.empty((out_cap, depth_cap), np.int32), np.empty(out_cap, np.int32),
            np.empty((work_cap, depth_cap), np.int32), np.empty(work_cap, np.int32),
            np.empty(depth_cap + 1, np.int32))


@njit(cache=True, nogil=True)
def _memo(n_terms):  # pragma: no cover - compiled
    """An empty trie of terminal paths: per node, its child per terminal (-1: none; rows
    filled as made), the fresh lexer state the path leads to and the missing set where
    that is -3. Node 0 is the empty path."""
    memo_child = np.empty((_MEMO_NODES, n_terms), np.int32)
    memo_child[0, :] = -1
    return memo_child, np.empty(_MEMO_NODES, np.int32), np.empty(_MEMO_NODES, np.uint64)


@njit(cache=True, nogil=True)
def _stacks_after(stacks, stack_len, path, n_path, cur, cur_len, nxt, nxt_len, cell_start,
                  cell_actions, n_terms, goto, rule_lhs, rule_len, work, work_len,
                  row):  # pragma: no cover - compiled
    """The stacks ``stacks[j, :stack_len[j]]`` with the terminals ``path[:n_path]`` fed:
    returns ``(cur, cur_len, nxt, nxt_len, n_cur)``, the result in ``cur``."""
    for k in range(stacks.shape[0]):
        cur[k, :stack_len[k]] = stacks[k, :stack_len[k]]
        cur_len[k] = stack_len[k]
    n_cur = stacks.shape[0]
    for k in range(n_path):
        n_cur = _glr_feed(cur, cur_len, n_cur, path[k], cell_start, cell_actions, n_terms,
                          goto, rule_lhs, rule_len, work, work_len, nxt, nxt_len, row, False)
        cur, nxt = nxt, cur
        cur_len, nxt_len = nxt_len, cur_len
    return cur, cur_len, nxt, nxt_len, n_cur


@njit(cache=True, nogil=True)
def _glr_boundary(cur, cur_len, n_cur, t, cell_start, cell_actions, n_terms, goto, rule_lhs,
                  rule_len, end_term, start_keys, start_vals, work, work_len, nxt, nxt_len,
                  row):  # pragma: no cover - compiled
    """Feed terminal ``t`` to ``cur[:n_cur]``, leaving the result in ``nxt``; returns its
    number of stacks, the fresh lexer state for what they can shift next (-1: the parser
    takes no ``t``, or that state is dead; -2: undecided here; -3: no lexer state exists
    yet for that set) and the set as a bit set."""
    key = np.uint64(0)
    n_nxt = _glr_feed(cur, cur_len, n_cur, t, cell_start, cell_actions, n_terms, goto,
                      rule_lhs, rule_len, work, work_len, nxt, nxt_len, row, False)
    if n_nxt <= 0:
        return 0, (-1 if n_nxt == 0 else -2), key
    for u in range(n_terms):
        if u == end_term:
            continue
        listed = False
        for s in range(n_nxt):
            cell = nxt[s, nxt_len[s] - 1] * n_terms + u
            if cell_start[cell + 1] > cell_start[cell]:
                listed = True
                break
        if not listed:
            continue
        # The "can shift" test writes nothing to its output pool (``cur`` is free now).
        shifts = _glr_feed(nxt, nxt_len, n_nxt, u, cell_start, cell_actions, n_terms, goto,
                           rule_lhs, rule_len, work, work_len, cur, cur_len, row, True)
        if shifts < 0:
            return n_nxt, -2, key
        if shifts > 0:
            key |= np.uint64(1) << np.uint64(u)
    k = np.searchsorted(start_keys, key)
    if k >= start_keys.shape[0] or start_keys[k] != key:
        return n_nxt, -3, key
    q = start_vals[k]
    return n_nxt, (q if q >= 0 else -1), key


@njit(cache=True, nogil=True)
def resolve_with_glr(trans, top, q_start, toks, offs, firsts, token_data, token_start,
                     token_len, max_len, stacks, stack_len, cell_start, cell_actions, n_terms,
                     goto, rule_lhs, rule_len, ignored, end_term, start_keys, start_vals,
                     need, out_cap, work_cap, depth_cap):  # pragma: no cover - compiled
    """Verdict for each token remainder ``toks[i]`` from byte ``offs[i]``, where a lexeme
    read as terminal ``firsts[i]`` has just ended, before it the parser stacks
    ``stacks[j, :stack_len[j]]`` (``q_start``: their fresh lexer state): 1 allowed,
    0 rejected, 3 undecided until the lexer has a fresh state for the set of allowed
    terminals ``need[i]`` (a bit set: the caller creates it and runs again), 2 undecided
    here for another reason (a lexeme with several readings, more stacks than the pools
    hold: the caller decides in Python).

    At each boundary the lexeme's terminal is fed to every stack (``cell_start`` /
    ``cell_actions``: the actions of cell ``state * n_terms + terminal``), the terminals
    that some stack can shift next are collected as a bit set, and the fresh lexer state
    for that set is looked up in ``start_keys`` (sorted) / ``start_vals``. The pools hold
    ``out_cap`` stacks after a shift, ``work_cap`` met while reducing, each at most
    ``depth_cap`` deep (the caller's limits, capped): past them a token is undecided.

    Two things are shared between tokens. The stacks after a sequence of terminals do not
    depend on the token, so the fresh state each sequence leads to is kept in a trie
    (``memo_child``): a token whose boundaries follow a known path feeds nothing, and the
    stacks are rebuilt from the path only where it leaves the trie. And a token that
    begins like the previous one (same first terminal, same first bytes: the tokens of a
    group come sorted) resumes where that one's walk passed the last shared byte.
    ``max_len`` bounds the tokens' lengths.
    """
    n = toks.shape[0]
    out_verdict = np.zeros(n, np.int8)
    if stacks.shape[0] > out_cap or stacks.shape[1] > depth_cap:  # the start does not fit
        out_verdict[:] = 2
        return out_verdict
    cur, cur_len, nxt, nxt_len, work, work_len, row = _pools(out_cap, work_cap, depth_cap)
    path = np.empty(max_len + 2, np.int32)
    memo_child, memo_q, memo_key = _memo(n_terms)
    n_nodes = 1  # node 0: no boundary yet
    n_cur = 0
    # State on arriving at each byte of the previous token's remainder.
    at_q = np.empty(max_len + 1, np.int32)
    at_fresh = np.empty(max_len + 1, np.int32)
    at_node = np.empty(max_len + 1, np.int32)
    at_path = np.empty(max_len + 1, np.int32)
    prev_start = 0
    prev_len = -1  # no previous token
    prev_first = -1
    prev_end = 0  # where its walk stopped (the byte it broke at, or its length)
    prev_verdict = 1
    prev_need = np.uint64(0)
    for i in range(n):
        tid = toks[i]
        start = token_start[tid] + offs[i]
        length = token_len[tid] - offs[i]
        shared = 0
        if firsts[i] == prev_first:
            limit = min(length, prev_len)
            while shared < limit and \
                    token_data[start + shared] == token_data[prev_start + shared]:
                shared += 1
        prev_start, prev_len, prev_first = start, length, firsts[i]
        if prev_verdict != 1 and shared > prev_end:  # it broke on a byte this one shares
            out_verdict[i] = prev_verdict
            need[i] = prev_need
            continue
        if shared > 0:
            j = shared
            q, q_fresh, node, n_path = at_q[j], at_fresh[j], at_node[j], at_path[j]
            t = -1
        else:
            j = 0
            q = q_fresh = q_start  # q_fresh: the fresh state the lexeme began in
            node = 0
            n_path = 0
            t = firsts[i]  # the boundary the remainder starts at
        stale = True  # ``cur`` does not hold the stacks after ``path`` yet
        verdict = 1
        key = np.uint64(0)
        while True:
            if t < 0:
                if j >= length:
                    break
                nx = trans[q, token_data[start + j]]
                if nx >= 0:
                    q = nx
                    j += 1
                    at_q[j], at_fresh[j], at_node[j], at_path[j] = q, q_fresh, node, n_path
                    continue
                t = top[q]
                if t < 0:
                    verdict = 0
                    break
            if t >= end_term:  # a lexeme with several readings (their ids start at the
                # end terminal, the table's last): decided in Python
                verdict = 2
                break
            if ignored[t]:  # the stacks, so the fresh state, stay as they were
                q = q_fresh
                t = -1
                continue
            child = memo_child[node, t] if node >= 0 else -1
            if child >= 0:
                q = memo_q[child]
                key = memo_key[child]
                node = child
                stale = True
            else:
                if stale:  # rebuild the stacks: the start, then the path so far
                    cur, cur_len, nxt, nxt_len, n_cur = _stacks_after(
                        stacks, stack_len, path, n_path, cur, cur_len, nxt, nxt_len,
                        cell_start, cell_actions, n_terms, goto, rule_lhs, rule_len, work,
                        work_len, row)
                    stale = False
                n_cur, q, key = _glr_boundary(
                    cur, cur_len, n_cur, t, cell_start, cell_actions, n_terms, goto,
                    rule_lhs, rule_len, end_term, start_keys, start_vals, work, work_len,
                    nxt, nxt_len, row)
                cur, nxt = nxt, cur
                cur_len, nxt_len = nxt_len, cur_len
                if node >= 0 and n_nodes < _MEMO_NODES:
                    memo_child[node, t] = n_nodes
                    memo_child[n_nodes, :] = -1
                    memo_q[n_nodes] = q
                    memo_key[n_nodes] = key
                    node = n_nodes
                    n_nodes += 1
                else:
                    node = -1
            if q < 0:
                verdict = 0 if q == -1 else (3 if q == -3 else 2)
                break
            path[n_path] = t
            n_path += 1
            q_fresh = q
            t = -1
        prev_end = j
        prev_verdict = verdict
        prev_need = key
        out_verdict[i] = verdict
        need[i] = key
    return out_verdict
