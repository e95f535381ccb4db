"""Numba kernel for the whole mask of a set of GLR parser stacks, in one walk of the
vocabulary's trie.

Where few tokens are allowed (an expression grammar's operators and numbers), walking the
trie from the lexer state and pruning dead subtrees near the root costs less than
building the per-lexer-state token tables (``compilers.token_index``) and resolving their
boundary groups: a state's first mask needs no table at all. A node with many children
(the tokens that begin with a space) is crossed by the bytes that stay alive from its
state: its children are listed together (``native.kernels.trie_children``), so the walk
reads one short run of memory for them, neither every child nor a search through the
sorted tokens (a cache miss per step, which dominated a walk in a decoding loop that
leaves the caches cold). A subtree that is a run of one byte (spaces) is settled at once
where the lexer stays alive along the run. Where many tokens are allowed (identifiers
everywhere), the walk gives up after ``max_visits`` children and the caller takes the
table path, whose tables are shared between stacks.

The stacks after each sequence of terminals are made once per call (a trie of paths, as
in ``native.glr_kernels.resolve_with_glr``), so a subtree costs one feed per new boundary.
Reference: each token walked on its own from the state, ``GrammarRuntime._advance``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from native.glr_kernels import _MEMO_NODES, _glr_boundary, _glr_feed, _memo, _pools, _stacks_after

__all__ = ["SEARCH_ABOVE", "WALK_ABORTED", "WALK_PARSER", "WALK_STATE", "glr_mask"]

WALK_PARSER = 2  # a subtree left to the Python parser
WALK_STATE = 3  # a subtree waiting for a fresh lexer state not made yet
WALK_ABORTED = -1  # glr_mask's count when it gave up (more than max_visits children)

_LOW32 = np.uint64(0xFFFFFFFF)
_CLASS_BITS = np.uint64(0xFFFF)
SEARCH_ABOVE = 24  # a node with more tokens than this is crossed by its alive bytes
_RUN_STEPS = 32  # a run of one byte longer in states than this is walked
# A frame's boundary (the lexeme in progress ending before the next byte): not worked
# out yet, dead (no lexeme ends there), or left pending (kind in _alt_kind).
_ALT_UNKNOWN = -9
_ALT_DEAD = -1
_ALT_PENDING = -2


@njit(cache=True, nogil=True)
def _record(rows, n, lo, hi, kind, key):  # pragma: no cover - compiled
    """Row ``n`` of the undecided subtrees, if ``rows`` has room for it (the caller sees
    the count and calls again with more room)."""
    if n < rows.shape[0]:
        rows[n, 0], rows[n, 1] = np.uint64(lo), np.uint64(hi)
        rows[n, 2], rows[n, 3] = np.uint64(kind), key


@njit(cache=True, nogil=True)
def _bits_below(word, k):  # pragma: no cover - compiled
    """The number of bits set in ``word`` below bit ``k`` (0 to 64)."""
    if k < 64:
        word &= (np.uint64(1) << np.uint64(k)) - np.uint64(1)
    word = word - ((word >> np.uint64(1)) & np.uint64(0x5555555555555555))
    word = (word & np.uint64(0x3333333333333333)) + \
        ((word >> np.uint64(2)) & np.uint64(0x3333333333333333))
    word = (word + (word >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((word * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True)
def _run_step(trans, top, ignored, end_term, fresh, s, b):  # pragma: no cover - compiled
    """The lexer state after byte ``b`` from ``s``, an ignored lexeme ending there
    restarting in ``fresh``; -1 where that is dead or would feed the parser."""
    nx = trans[s, b]
    if nx >= 0:
        return nx
    t = top[s]
    if t < 0 or t >= end_term or not ignored[t] or s == fresh:
        return -1
    return trans[fresh, b]


@njit(cache=True, nogil=True)
def _run_stays(trans, top, ignored, end_term, fresh, s, b):  # pragma: no cover - compiled
    """Whether any number of bytes ``b`` from lexer state ``s`` keeps the lexer alive
    without feeding the parser (see :func:`_run_step`): the states met cycle, so the
    hare of Floyd's search, which meets the tortoise within the tail and a lap, has
    checked each of them."""
    slow = s
    fast = s
    for _ in range(_RUN_STEPS):
        slow = _run_step(trans, top, ignored, end_term, fresh, slow, b)
        fast = _run_step(trans, top, ignored, end_term, fresh, fast, b)
        if fast < 0:
            return False
        fast = _run_step(trans, top, ignored, end_term, fresh, fast, b)
        if fast < 0:
            return False
        if slow == fast:
            return True
    return False


@njit(cache=True, nogil=True)
def _byte_at(tok_info, nodes, p, d):  # pragma: no cover - compiled
    """Byte ``d`` of the token at sorted position ``p``, from its trie node (the walk
    reads that node next: one memory read fewer than from the token's own bytes)."""
    return np.int64((nodes[(tok_info[p] >> 32) + d] >> np.uint64(48)) & np.uint64(0xFF))


@njit(cache=True, nogil=True)
def glr_mask(trans, top, row_bits, sorted_ids, tok_info, nodes, node_dir, dir_start,
             child_pos, child_bytes, closed, max_len, max_visits, cell_start, cell_actions,
             n_terms, goto, rule_lhs, rule_len, ignored, end_term, start_keys, start_vals,
             out_cap, work_cap, q, q_fresh, walk_first, stacks, stack_len, depth_cap, bits,
             rows):  # pragma: no cover - compiled
    """Set in ``bits`` (never clearing one) the tokens allowed from lexer state ``q`` over
    the parser stacks ``stacks[j, :stack_len[j]]``, among those whose first byte is set
    in ``walk_first`` (four 64-bit words). ``row_bits[c]`` holds the bytes with a
    transition from lexer state ``c`` (``trans[c] >= 0``, four words).

    ``q_fresh`` is the fresh lexer state the lexeme in progress began in (an ignored
    lexeme restarts there). Tokens come in sorted order (``sorted_ids``) as the trie of
    ``native.kernels.trie_nodes`` (``tok_info``, ``nodes``), its large nodes' children
    listed by ``native.kernels.trie_children`` (``node_dir``, ``dir_start``,
    ``child_pos``, ``child_bytes``, made with ``above =`` :data:`SEARCH_ABOVE`);
    ``closed`` flags the lexer states from which every string of a byte class stays
    inside the lexeme. At a boundary the lexeme's terminal is fed to every stack (every
    action of a conflicting cell; equal stacks merged) and the terminals some stack can
    shift next are looked up as a fresh lexer state in
    ``start_keys`` (sorted) / ``start_vals``. The pools hold ``out_cap`` stacks after a
    shift, ``work_cap`` met while reducing, each at most ``depth_cap`` deep. (The
    arguments that change between calls come last, after those that change only as the
    lexer grows.)

    Returns ``(count, accepting, any_set)``. ``accepting``: 1 if the output is complete
    at ``q`` (the lexeme in progress, if any, ends and a stack can shift the end
    terminal), 0 if not, -1 if left to Python (several readings, pools too small, a dead
    state). ``any_set``: whether it set a bit. ``rows[i] = (lo, hi, kind, key)`` for
    the subtrees (positions ``lo:hi`` in sorted order) it left undecided, as many as
    ``rows`` holds: ``kind`` :data:`WALK_STATE` (no fresh lexer state yet for the
    terminal set ``key``: the caller makes it and walks those first bytes again) or
    :data:`WALK_PARSER` (a lexeme with several readings, or stacks past the pools:
    decided in Python). ``count`` is the number of rows (more than ``rows`` holds: the
    caller calls again with room for them), or :data:`WALK_ABORTED` when more than
    ``max_visits`` children were visited (``bits`` is then partial).

    Nothing but ints is returned: boxing an array costs a Python call for its dtype.
    """
    n_p = 0
    any_set = False
    if q < 0 or q_fresh < 0:  # dead: no token; completeness left to Python
        return 0, -1, False
    cur, cur_len, nxt, nxt_len, work, work_len, row = _pools(out_cap, work_cap, depth_cap)
    path = np.empty(max_len + 2, np.int32)
    memo_child, memo_q, memo_key = _memo(n_terms)
    n_nodes = 1  # node 0: the stacks given, no boundary yet
    cur_node = -1  # the memo node whose stacks ``cur`` holds (-1: none)
    n_cur = 0
    # One frame per depth: the tokens ``lo:hi`` sharing the first ``depth`` bytes (those
    # still to visit from ``next``), the walk's state before byte ``depth`` (lexer state,
    # fresh state of the lexeme in progress, memo node, length of the path), and, worked
    # out when first needed, where the lexeme ending there leads (``alt_*``).
    # (Rows of a few arrays: each allocation costs, and a walk is a few microseconds.)
    wide = np.empty((3, max_len + 1), np.int64)
    f_hi, f_next = wide[0], wide[1]
    f_trie = wide[2]  # the trie node (len(nodes): the root)
    narrow = np.empty((10, max_len + 1), np.int32)
    f_c, f_fresh, f_node, f_path = narrow[0], narrow[1], narrow[2], narrow[3]
    f_search = narrow[4]  # crossed by alive bytes (0 or 1)
    f_byte = narrow[5]  # (searching) the next byte to try
    alt_c = narrow[6]  # fresh state after the boundary, or _ALT_*
    alt_node = narrow[7]
    alt_t = narrow[8]  # the terminal fed (-1: an ignored lexeme)
    alt_kind = narrow[9]
    # Per depth, the boundary's missing terminal set, then (searching) the bytes that
    # stay alive and have a child.
    keys = np.empty((max_len + 1, 5), np.uint64)
    alt_key = keys[:, 0]
    alive = keys[:, 1:]
    # Whether the output is complete here: the lexeme in progress ends (if it has
    # begun) and some stack can then shift the end (-1: left to Python).
    accepting = -1
    t0 = top[q] if q != q_fresh else -2
    if t0 == -1:
        accepting = 0
    elif t0 < end_term:
        cur, cur_len, nxt, nxt_len, n_cur = _stacks_after(
            stacks, stack_len, path, 0, cur, cur_len, nxt, nxt_len, cell_start,
            cell_actions, n_terms, goto, rule_lhs, rule_len, work, work_len, row)
        if t0 >= 0 and not ignored[t0]:
            n_cur = _glr_feed(cur, cur_len, n_cur, t0, cell_start, cell_actions, n_terms,
                              goto, rule_lhs, rule_len, work, work_len, nxt, nxt_len, row,
                              False)
            cur, nxt = nxt, cur
            cur_len, nxt_len = nxt_len, cur_len
        if n_cur >= 0:
            accepting = _glr_feed(cur, cur_len, n_cur, end_term, cell_start, cell_actions,
                                  n_terms, goto, rule_lhs, rule_len, work, work_len, nxt,
                                  nxt_len, row, True)
    n = sorted_ids.shape[0]
    visits = 0
    sp = 0
    f_hi[0], f_next[0] = n, 0
    f_c[0], f_fresh[0], f_node[0], f_path[0] = q, q_fresh, 0, 0
    f_trie[0] = nodes.shape[0]
    alt_c[0] = _ALT_UNKNOWN
    f_search[0] = False
    f_byte[0] = 0
    while f_next[0] < n and tok_info[f_next[0]] & 0xFFFF == 0:  # an empty token
        tid = sorted_ids[f_next[0]]  # leaves the state as it is
        bits[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
        any_set = True
        f_next[0] += 1
    new_frame = True
    while sp >= 0:
        d = sp
        c = f_c[d]
        if new_frame:
            new_frame = False
            f_search[d] = node_dir[f_trie[d]] >= 0
        lo = f_next[d]
        hi = f_hi[d]
        if lo >= hi:
            sp -= 1
            continue
        # -- the boundary before byte d, worked out when first needed: at once for a
        # searched frame (its alive bytes depend on it), else for the first child whose
        # byte ends the lexeme
        need_alt = alt_c[d] == _ALT_UNKNOWN and (f_search[d] or
                                                  trans[c, _byte_at(tok_info, nodes,
                                                                    lo, d)] < 0)
        if need_alt:
            fresh = f_fresh[d]
            node = f_node[d]
            t = top[c]
            alt_t[d] = -1
            alt_node[d] = node
            alt_kind[d] = 0
            alt_key[d] = np.uint64(0)
            if t < 0 or c == fresh:  # (an empty lexeme never ends)
                alt_c[d] = _ALT_DEAD
            elif t >= end_term:  # several readings: decided in Python
                alt_c[d] = _ALT_PENDING
                alt_kind[d] = WALK_PARSER
            elif ignored[t]:  # the stacks, so the fresh state, stay as they were
                alt_c[d] = fresh
            else:
                child = memo_child[node, t] if node >= 0 else -1
                if child >= 0:
                    q2 = memo_q[child]
                    key = memo_key[child]
                else:
                    if node < 0 or cur_node != node:  # the stacks after ``path``
                        cur, cur_len, nxt, nxt_len, n_cur = _stacks_after(
                            stacks, stack_len, path, f_path[d], cur, cur_len, nxt,
                            nxt_len, cell_start, cell_actions, n_terms, goto, rule_lhs,
                            rule_len, work, work_len, row)
                    n_cur, q2, key = _glr_boundary(
                        cur, cur_len, n_cur, t, cell_start, cell_actions, n_terms, goto,
                        rule_lhs, rule_len, end_term, start_keys, start_vals, work,
                        work_len, nxt, nxt_len, row)
                    cur, nxt = nxt, cur
                    cur_len, nxt_len = nxt_len, cur_len
                    if node >= 0 and n_nodes < _MEMO_NODES:
                        child = n_nodes
                        memo_child[node, t] = child
                        memo_child[child, :] = -1
                        memo_q[child] = q2
                        memo_key[child] = key
                        n_nodes += 1
                    cur_node = child  # -1 past the memo: rebuilt next time
                alt_t[d] = t
                alt_node[d] = child
                alt_key[d] = key
                if q2 >= 0:
                    alt_c[d] = q2
                elif q2 == -1:
                    alt_c[d] = _ALT_DEAD
                else:
                    alt_c[d] = _ALT_PENDING
                    alt_kind[d] = WALK_STATE if q2 == -3 else WALK_PARSER
            if d == 0 and alt_c[0] == _ALT_PENDING and alt_kind[0] == WALK_STATE:
                # The lexeme in progress ends into a fresh state not made yet: nearly
                # every subtree would wait for it. One row for them all; walked again.
                _record(rows, 0, lo, hi, WALK_STATE, alt_key[0])
                return 1, accepting, any_set
            if f_search[d]:
                if alt_c[d] == _ALT_PENDING:
                    f_search[d] = False  # every child ending the lexeme is recorded
                else:
                    c2 = alt_c[d]
                    listed = node_dir[f_trie[d]]
                    for w in range(4):
                        word = row_bits[c, w] & child_bytes[listed, w]
                        if c2 >= 0:
                            word |= row_bits[c2, w] & child_bytes[listed, w]
                        alive[d, w] = word & walk_first[w] if d == 0 else word
                    f_byte[d] = 0
        if f_search[d]:
            # The next alive byte with a child; the child's place in the node's list is
            # the number of children of smaller bytes.
            b = f_byte[d]
            word = np.uint64(0)
            while b < 256:
                word = alive[d, b >> 6] >> np.uint64(b & 63)
                if word:
                    break
                b = ((b >> 6) + 1) << 6
            if b >= 256:
                f_next[d] = hi
                sp -= 1
                continue
            while not (word & np.uint64(1)):
                word >>= np.uint64(1)
                b += 1
            f_byte[d] = b + 1
            listed = node_dir[f_trie[d]]
            rank = _bits_below(child_bytes[listed, b >> 6], b & 63)
            for w in range(b >> 6):
                rank += _bits_below(child_bytes[listed, w], 64)
            clo = child_pos[dir_start[listed] + rank]
            visits += 1
        else:
            clo = lo
            visits += 1
        at = (tok_info[clo] >> 32) + d
        nd = nodes[at]
        if not f_search[d]:
            b = np.int64((nd >> np.uint64(48)) & np.uint64(0xFF))
        chi = np.int64(nd & _LOW32)
        f_next[d] = chi
        if visits > max_visits:
            return WALK_ABORTED, accepting, any_set
        if d == 0 and not (walk_first[b >> 6] >> np.uint64(b & 63)) & np.uint64(1):
            continue
        # -- the child's first state
        nx = trans[c, b]
        fresh1 = f_fresh[d]
        node1 = f_node[d]
        np1 = f_path[d]
        if nx < 0:
            if alt_c[d] == _ALT_UNKNOWN:
                continue  # (unreachable: worked out above for this child)
            if alt_c[d] == _ALT_DEAD:
                continue
            if alt_c[d] == _ALT_PENDING:
                _record(rows, n_p, clo, chi, alt_kind[d], alt_key[d])
                n_p += 1
                continue
            c2 = alt_c[d]
            nx = trans[c2, b]
            if nx < 0:
                continue
            fresh1 = c2
            node1 = alt_node[d]
            if alt_t[d] >= 0:
                path[np1] = alt_t[d]  # (a sibling's subtree may have written there)
                np1 += 1
        # -- settled at once: every further byte of its tokens keeps nx inside, or
        # they are runs of b that keep the lexer alive (spaces, each an ignored lexeme)
        if (nd >> np.uint64(32)) & np.uint64(closed[nx]) & _CLASS_BITS or (
                (nd >> np.uint64(56)) & np.uint64(1) and chi - clo > 1 and
                _run_stays(trans, top, ignored, end_term, fresh1, nx, b)):
            for p in range(clo, chi):
                tid = sorted_ids[p]
                bits[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
            any_set = True  # (the subtree holds tokens)
            continue
        # -- the child's own tokens (their bytes end here: one, or several ids with
        # the same bytes) are allowed; walk the rest
        start = clo
        while start < chi and (tok_info[start] & 0xFFFF) == d + 1:
            tid = sorted_ids[start]
            bits[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
            any_set = True
            start += 1
        if start >= chi:
            continue
        sp = d + 1
        f_hi[sp], f_next[sp] = chi, start
        f_c[sp], f_fresh[sp], f_node[sp], f_path[sp] = nx, fresh1, node1, np1
        f_trie[sp] = at
        alt_c[sp] = _ALT_UNKNOWN
        new_frame = True
    return n_p, accepting, any_set
