"""Numba kernels on plain arrays: the token-index walk, token walks and bitmask operations.

This module imports nothing from the project. Conventions shared by every kernel:

* A lexer automaton is ``trans: int32[n_states, 256]`` (``-1`` = no transition) plus
  ``top: int32[n_states]``, the terminal a lexeme ending in that state would be
  (``-1`` = the state is not accepting).
* A vocabulary is ``token_data: uint8[...]`` (every token's bytes, concatenated),
  ``token_start: int64[V]`` and ``token_len: int32[V]``; ``sorted_ids`` lists the text tokens
  in lexicographic order of their bytes and ``lcp[i]`` is the length of the common prefix of
  tokens ``sorted_ids[i-1]`` and ``sorted_ids[i]``.
* The sorted order is also a trie (:func:`trie_nodes`): token ``sorted_ids[i]`` owns the
  nodes of its bytes ``lcp[i]..len-1`` (the prefixes no earlier token has), numbered
  ``node_base[i] + depth - lcp[i]``; each node has the end of its subtree (the first
  sorted position past the tokens that share its prefix) and the byte classes that every
  byte below it belongs to.
* Bitmasks are ``uint32`` (or ``int32``) words, token ``j`` at bit ``j % 32`` of word
  ``j // 32``. Every kernel has a plain NumPy twin in :mod:`native.reference`.
* The vocabulary's arrays and the token tables are read-only. numba compiles (or loads)
  one specialization per combination of argument types, read-only or not included, so
  callers pass a given argument always read-only or always writable (:func:`read_only`):
  each kernel then has exactly one specialization (``tests/test_warm_up.py`` checks it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "ACT_ERROR",
    "KIND_BOUNDARY",
    "KIND_DEAD",
    "KIND_INSIDE",
    "apply_token_bitmask_kernel",
    "classify_tokens",
    "read_only",
    "resolve_with_parser",
    "set_bits",
    "trie_nodes",
    "walk_bytes",
    "walk_tokens",
]

KIND_INSIDE = 0
KIND_DEAD = 1
KIND_BOUNDARY = 2
_KIND_SUBTREE_INSIDE = 3  # classify_tokens: a node's whole subtree stays inside


def read_only(a: np.ndarray) -> np.ndarray:
    """``a`` itself if read-only, else a read-only view of it."""
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


@njit(cache=True, nogil=True)
def _restarts(t, restarts):  # pragma: no cover - compiled
    """Whether a lexeme read as top value ``t`` ends back into the walk's start state
    (``restarts``: see :func:`classify_tokens`)."""
    return 0 <= t < restarts.shape[0] and restarts[t]


@njit(cache=True, nogil=True)
def trie_nodes(lcp, lens, sorted_data, sorted_start, byte_flags):  # pragma: no cover
    """The trie of tokens in sorted order (``lcp``, ``lens``, bytes at ``sorted_start``).

    Returns ``(node_base, node_end, node_flags)``: the nodes of position ``i`` are
    ``node_base[i] + depth - lcp[i]`` for ``depth`` in ``lcp[i]..lens[i]-1`` (the node of
    a token's first ``depth + 1`` bytes belongs to the first token that has them);
    ``node_end[node]`` is the first position whose token does not begin with the node's
    bytes; ``node_flags[node]`` is the AND of ``byte_flags`` over every byte past the
    node's depth in those tokens (all bits where there is none). One pass with a stack of
    open nodes, one per depth.
    """
    n = lcp.shape[0]
    node_base = np.zeros(n + 1, np.int32)
    for i in range(n):
        node_base[i + 1] = node_base[i] + lens[i] - lcp[i]
    node_end = np.empty(node_base[n], np.int32)
    node_flags = np.empty(node_base[n], np.uint8)
    height = 1
    for i in range(n):
        height = max(height, lens[i])
    open_node = np.empty(height, np.int32)
    open_owner = np.empty(height, np.int32)
    open_flags = np.empty(height, np.uint8)
    depth = 0  # open nodes: one per depth 0..depth-1
    for j in range(n + 1):
        keep = lcp[j] if j < n else 0
        while depth > keep:
            depth -= 1
            node = open_node[depth]
            node_end[node] = j
            node_flags[node] = open_flags[depth]
            if depth > 0:  # the parent also sees this node's own byte
                b = sorted_data[sorted_start[open_owner[depth]] + depth]
                open_flags[depth - 1] &= open_flags[depth] & byte_flags[b]
        if j < n:
            for d in range(lcp[j], lens[j]):
                open_node[d] = node_base[j] + d - lcp[j]
                open_owner[d] = j
                open_flags[d] = 255
            depth = lens[j]
    return node_base, node_end, node_flags


@njit(cache=True, nogil=True)
def classify_tokens(trans, top, q, sorted_ids, lcp, first_byte_bounds, sorted_data,
                    sorted_start, sorted_len, n_words, max_len, restarts, node_base,
                    node_end, node_flags, closed, all_bits):  # pragma: no cover - compiled
    """Classify every text token by walking its bytes from lexer state ``q``.

    Reference loop, for each token ``t`` with bytes ``b``::

        c = q
        for j in range(len(b)):
            if trans[c, b[j]] < 0:
                kind = BOUNDARY if top[c] >= 0 else DEAD; break
            c = trans[c, b[j]]
        else:
            kind = INSIDE

    Tokens are visited in sorted order as a trie (see :func:`trie_nodes`): the states of
    the common prefix with the previous token are reused, and where a walk settles a
    node, the node's whole subtree is settled without walking it:

    * a byte with no transition settles every token that shares it (dead, or the same
      boundary);
    * a state ``closed`` under a byte class (bit ``k`` of ``closed[state]``: every string
      of class-``k`` bytes stays inside the lexeme from there) keeps inside every token
      below a node whose further bytes are all of that class (``node_flags``): words
      from an identifier state, digits from a number state;
    * a first byte with no transition settles its whole range of tokens
      (``first_byte_bounds[b]:first_byte_bounds[b + 1]``); where most of them end the
      lexeme at once, ``first_dead`` is taken as the complement of the others within
      ``all_bits`` (the bits of ``sorted_ids``).

    ``sorted_data``/``sorted_start``/``sorted_len`` hold the tokens' bytes in sorted order,
    so the walk reads memory sequentially.

    Returns ``(inside, first_dead, b_pos, b_off, b_term)``: ``inside`` has the bits of the
    tokens that never leave the lexeme, ``first_dead`` of those whose first byte ends an
    accepting lexeme at ``q``; ``b_*`` list the tokens ending a lexeme at byte ``b_off >= 1``
    as terminal ``b_term``, by their position in sorted order (increasing), so that later
    walks read ``sorted_data`` sequentially.

    ``restarts`` (bool per top value, or empty) marks lexemes that end *into* ``q``: when
    ``q`` is the fresh state of the parser stacks it serves, a lexeme of an ignored
    terminal leaves the stacks as they were, so the next lexeme starts in ``q`` again. The
    walk then continues from ``q`` at the byte that ended it (no boundary recorded), so the
    tokens that begin with whitespace are settled here instead of as a boundary group.
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
    n_first_dead = 0
    if q_accepts:
        for first in range(256):
            if trans[q, first] < 0:
                n_first_dead += first_byte_bounds[first + 1] - first_byte_bounds[first]
    # Most tokens end the lexeme at their first byte: mark the others, complement after.
    complement = 2 * n_first_dead > n
    for first in range(256):
        lo = first_byte_bounds[first]
        hi = first_byte_bounds[first + 1]
        if lo == hi:
            continue
        walked = trans[q, first] >= 0
        if (walked and complement) or (not walked and q_accepts and not complement):
            for i in range(lo, hi):
                tid = sorted_ids[i]
                first_dead[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
        if not walked:
            continue
        i = lo
        while i < hi:
            length = sorted_len[i]
            start = sorted_start[i]
            nodes = node_base[i] - lcp[i]  # + depth: the node of bytes 0..depth
            depth = lcp[i] if i > lo else 0
            kind = KIND_INSIDE
            st = -1
            while depth < length:
                c = states[depth]
                byte = sorted_data[start + depth]
                nx = trans[c, byte]
                if nx < 0 and _restarts(top[c], restarts):
                    c = q  # an ignored lexeme ended: the next one starts in q
                    nx = trans[c, byte]
                if nx < 0:
                    if top[c] >= 0:
                        kind = KIND_BOUNDARY
                        st = c
                    else:
                        kind = KIND_DEAD
                    break
                if node_flags[nodes + depth] & closed[nx]:
                    kind = _KIND_SUBTREE_INSIDE
                    break
                states[depth + 1] = nx
                depth += 1
            if kind == KIND_INSIDE:
                tid = sorted_ids[i]
                inside[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
                i += 1
                continue
            end = node_end[nodes + depth]
            if kind == _KIND_SUBTREE_INSIDE:
                for p in range(i, end):
                    tid = sorted_ids[p]
                    inside[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
            elif kind == KIND_BOUNDARY:
                t = top[st]
                for p in range(i, end):
                    b_tok[nb] = p
                    b_off[nb] = depth
                    b_state[nb] = t
                    nb += 1
            i = end  # its common prefix with token i is at most depth bytes
    if complement:
        for w in range(n_words):
            first_dead[w] = all_bits[w] & ~first_dead[w]
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
def _shares_prefix(token_data, start_a, start_b, len_b, k):  # pragma: no cover - compiled
    """Whether the token at ``start_b`` (``len_b`` bytes) begins with the ``k`` bytes at
    ``start_a``."""
    if len_b < k:
        return False
    j = 0
    while j < k and token_data[start_b + j] == token_data[start_a + j]:
        j += 1
    return j == k


@njit(cache=True, nogil=True)
def walk_tokens(trans, top, q, toks, offs, token_data, token_start, token_len,
                restarts):  # pragma: no cover - compiled
    """Walk each token ``toks[i]`` from byte ``offs[i]`` starting in lexer state ``q``;
    report the ones that do not die.

    Returns ``(inside, cross, cross_at, cross_term)``, each in the order of ``toks``:
    the tokens that stay inside the lexeme, and those that end it (``BOUNDARY``), with
    the byte where the next lexeme starts and the terminal the lexeme ends as (``top`` of
    the state it ends in). Reference: walk every token as :func:`walk_bytes` does and
    split the ones whose kind is not ``DEAD``.

    ``toks`` must be in increasing order of their bytes, and each offset fixed by the
    bytes up to it (tokens that share their first ``offs[i] + 1`` bytes share the offset;
    the groups of the token index are so: a lexeme ends where its bytes say). A token
    that dies at byte ``j`` then settles the run of following tokens that share its first
    ``j + 1`` bytes: found by galloping search, not walked (boundary groups of tens of
    thousands of tokens mostly die on their first byte).

    ``restarts`` marks the top values whose lexemes end back into ``q``, as in
    :func:`classify_tokens` (``q`` must be the fresh state of the parser stacks).
    """
    n = toks.shape[0]
    inside = np.empty(n, np.int32)
    cross = np.empty(n, np.int32)
    cross_at = np.empty(n, np.int32)
    cross_term = np.empty(n, np.int32)
    n_in = 0
    n_cross = 0
    i = 0
    while i < n:
        tid = toks[i]
        start = token_start[tid]
        length = token_len[tid]
        c = q
        j = offs[i]
        k = KIND_INSIDE
        while j < length:
            byte = token_data[start + j]
            nx = trans[c, byte]
            if nx < 0 and _restarts(top[c], restarts):
                c = q  # an ignored lexeme ended: the next one starts in q
                nx = trans[c, byte]
            if nx < 0:
                k = KIND_BOUNDARY if top[c] >= 0 else KIND_DEAD
                break
            c = nx
            j += 1
        if k == KIND_INSIDE:
            inside[n_in] = tid
            n_in += 1
            i += 1
            continue
        if k == KIND_BOUNDARY:
            cross[n_cross] = tid
            cross_at[n_cross] = j
            cross_term[n_cross] = top[c]
            n_cross += 1
            i += 1
            continue
        # Gallop to the end of the run of tokens that begin with bytes 0..j of this one.
        lo = i  # the last index known to be in the run
        step = 1
        hi = n  # the first index known to be past it
        while lo + step < n:
            t = toks[lo + step]
            if not _shares_prefix(token_data, start, token_start[t], token_len[t], j + 1):
                hi = lo + step
                break
            lo += step
            step *= 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            t = toks[mid]
            if _shares_prefix(token_data, start, token_start[t], token_len[t], j + 1):
                lo = mid
            else:
                hi = mid
        i = hi
    return (inside[:n_in].copy(), cross[:n_cross].copy(), cross_at[:n_cross].copy(),
            cross_term[:n_cross].copy())


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


ACT_ERROR = -(2**31)  # no action in a dense LR action table


@njit(cache=True, nogil=True)
def _lr_feed(stack, sp, t, act, goto, rule_lhs, rule_len):  # pragma: no cover - compiled
    """Shift terminal ``t`` (with its reductions) onto ``stack[:sp]``; returns the new
    depth, -1 on a syntax error, -2 when the buffer is full."""
    while True:
        a = act[stack[sp - 1], t]
        if a == ACT_ERROR:
            return -1
        if a >= 0:
            if sp >= stack.shape[0]:
                return -2
            stack[sp] = a
            return sp + 1
        r = -1 - a
        sp -= rule_len[r]
        if sp < 1:
            return -1
        g = goto[stack[sp - 1], rule_lhs[r]]
        if g < 0:
            return -1
        if sp >= stack.shape[0]:
            return -2
        stack[sp] = g
        sp += 1


@njit(cache=True, nogil=True)
def _lr_can_shift(stack, sp, t, act, goto, rule_lhs, rule_len, extra):  # pragma: no cover
    """Whether ``t`` can be shifted on ``stack[:sp]`` (which is left unchanged; ``extra``
    holds the states that reductions push)."""
    base = sp
    ne = 0
    while True:
        top_state = extra[ne - 1] if ne > 0 else stack[base - 1]
        a = act[top_state, t]
        if a == ACT_ERROR:
            return False
        if a >= 0:
            return True
        r = -1 - a
        n = rule_len[r]
        k = min(n, ne)
        ne -= k
        base -= n - k
        if base < 1:
            return False
        under = extra[ne - 1] if ne > 0 else stack[base - 1]
        g = goto[under, rule_lhs[r]]
        if g < 0 or ne >= extra.shape[0]:
            return False
        extra[ne] = g
        ne += 1


@njit(cache=True, nogil=True)
def resolve_with_parser(trans, top, q_start, toks, offs, token_data, token_start, token_len,
                        stack, act, goto, rule_lhs, rule_len, ignored, end_term, start_keys,
                        start_vals):  # pragma: no cover - compiled
    """Verdict for each token remainder ``toks[i]`` from byte ``offs[i]``, starting in fresh
    lexer state ``q_start`` with LR stack ``stack`` (deterministic tables), following every
    lexeme boundary inside the token: 1 allowed, 0 rejected, 2 undecided here (a lexer
    state for a new set of allowed terminals is needed: the caller decides in Python).

    At a boundary the lexeme's terminal is shifted on a scratch copy of the stack, the
    terminals that can be shifted next are collected as a bit set, and the fresh lexer
    state for that set is looked up in ``start_keys`` (sorted) / ``start_vals``.
    Reference: ``GrammarRuntime._advance`` in ``grammar_engine/runtime.py``.
    """
    n = toks.shape[0]
    out = np.zeros(n, np.int8)
    depth0 = stack.shape[0]
    scratch = np.empty(depth0 + 512, np.int32)
    extra = np.empty(256, np.int32)
    n_terms = act.shape[1]
    for i in range(n):
        scratch[:depth0] = stack
        sp = depth0
        q = q_start
        tid = toks[i]
        start = token_start[tid]
        length = token_len[tid]
        j = offs[i]
        verdict = 1
        while j < length:
            nx = trans[q, token_data[start + j]]
            if nx >= 0:
                q = nx
                j += 1
                continue
            t = top[q]
            if t < 0:
                verdict = 0
                break
            if t >= n_terms:  # a lexeme with several readings: decided in Python
                verdict = 2
                break
            if not ignored[t]:
                sp = _lr_feed(scratch, sp, t, act, goto, rule_lhs, rule_len)
                if sp < 0:
                    verdict = 0 if sp == -1 else 2
                    break
            key = np.uint64(0)
            s_top = scratch[sp - 1]
            for u in range(n_terms):
                if u == end_term or act[s_top, u] == ACT_ERROR:
                    continue
                if _lr_can_shift(scratch, sp, u, act, goto, rule_lhs, rule_len, extra):
                    key |= np.uint64(1) << np.uint64(u)
            k = np.searchsorted(start_keys, key)
            if k >= start_keys.shape[0] or start_keys[k] != key:
                verdict = 2
                break
            q = start_vals[k]
            if q < 0:
                verdict = 0
                break
        out[i] = verdict
    return out
