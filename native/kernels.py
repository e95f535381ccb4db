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
  nodes of its bytes ``lcp[i]..len-1`` (the prefixes no earlier token has); each node
  holds its byte, the end of its subtree (the first sorted position past the tokens that
  share its prefix) and the byte classes that every byte below it belongs to.
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
    "group_by_label",
    "merge_sorted",
    "read_only",
    "resolve_with_parser",
    "set_allowed",
    "set_bits",
    "trie_children",
    "trie_nodes",
    "walk_bytes",
    "walk_token",
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


# A trie node packed in one uint64 (one memory read per byte of a walk): the end of its
# subtree (bits 0-31), the byte classes below it (32-47), its own byte (48-55) and
# whether every byte below it is that same byte (bit 56: a run, such as spaces). A
# token's entry: the index of its node at depth 0 (bits 32-63, as if it owned the nodes
# of its common prefix too), its common prefix with the previous token (16-31) and its
# length (0-15).
_LOW32 = np.uint64(0xFFFFFFFF)
_CLASS_BITS = np.uint64(0xFFFF)


@njit(cache=True, nogil=True)
def trie_nodes(lcp, lens, sorted_data, sorted_start, byte_flags):  # pragma: no cover
    """The trie of tokens in sorted order (``lcp``, ``lens``, bytes at ``sorted_start``;
    every length below 65,536).

    Returns ``(tok_info, nodes)`` (packed as described above): the node of token ``i``'s
    first ``depth + 1`` bytes, for ``depth >= lcp[i]``, is ``nodes[(tok_info[i] >> 32) +
    depth]`` (it belongs to the first token that has those bytes); its end is the first
    position whose token does not begin with them; its classes are the AND of
    ``byte_flags`` (uint16) over every byte past its depth in those tokens (all bits
    where there is none); its run bit is set when those bytes all equal its own. One pass
    with a stack of open nodes, one per depth.
    """
    n = lcp.shape[0]
    n_nodes = 0
    height = 1
    for i in range(n):
        n_nodes += lens[i] - lcp[i]
        height = max(height, lens[i])
    tok_info = np.empty(n, np.int64)
    nodes = np.empty(n_nodes, np.uint64)
    open_node = np.empty(height, np.int64)
    open_owner = np.empty(height, np.int64)
    open_flags = np.empty(height, np.uint16)
    open_run = np.empty(height, np.bool_)
    base = 0
    depth = 0  # open nodes: one per depth 0..depth-1
    for j in range(n + 1):
        keep = lcp[j] if j < n else 0
        while depth > keep:
            depth -= 1
            node = open_node[depth]
            b = sorted_data[sorted_start[open_owner[depth]] + depth]
            nodes[node] = (np.uint64(j) | (np.uint64(open_flags[depth]) << np.uint64(32))
                           | (np.uint64(b) << np.uint64(48))
                           | (np.uint64(open_run[depth]) << np.uint64(56)))
            if depth > 0:  # the parent also sees this node's own byte
                open_flags[depth - 1] &= open_flags[depth] & byte_flags[b]
                parent_byte = sorted_data[sorted_start[open_owner[depth - 1]] + depth - 1]
                open_run[depth - 1] &= open_run[depth] and b == parent_byte
        if j < n:
            tok_info[j] = ((np.int64(base - lcp[j]) << 32) | (np.int64(lcp[j]) << 16)
                           | np.int64(lens[j]))
            for d in range(lcp[j], lens[j]):
                open_node[d] = base + d - lcp[j]
                open_owner[d] = j
                open_flags[d] = 0xFFFF
                open_run[d] = True
            base += lens[j] - lcp[j]
            depth = lens[j]
    return tok_info, nodes


@njit(cache=True, nogil=True)
def trie_children(tok_info, nodes, above):  # pragma: no cover - compiled
    """The children of each node of :func:`trie_nodes`'s trie with more than ``above``
    tokens below it, listed together, so that a walk crossing such a node by a few bytes
    goes straight to their children (no search through the subtree's tokens: a cache
    miss per step).

    Returns ``(node_dir, dir_start, child_pos, child_bytes)``. ``node_dir[k]`` (``k`` a
    node; ``len(nodes)`` the root) is the node's list, or -1 for a small node. List ``j``
    has a child for each byte set in ``child_bytes[j]`` (four 64-bit words); the child
    of the ``r``-th set byte (counting from 0, in byte order) starts at sorted position
    ``child_pos[dir_start[j] + r]``, and ``child_pos[dir_start[j + 1] - 1]`` is the end
    of the node's subtree. The tokens that end at the node come before its first child
    and are not counted.
    """
    n = tok_info.shape[0]
    n_nodes = nodes.shape[0]
    node_dir = np.full(n_nodes + 1, -1, np.int32)
    dir_start = np.empty(n_nodes + 2, np.int64)
    child_pos = np.empty(2 * n_nodes + 2, np.int64)
    child_bytes = np.zeros((1024, 4), np.uint64)  # (doubled when full)
    n_dirs = 0
    n_entries = 0
    for k in range(-1, n):
        if k < 0:  # the root
            base, d_lo, d_hi = n_nodes, 0, 1
        else:
            info = tok_info[k]
            base, d_lo, d_hi = info >> 32, (info >> 16) & 0xFFFF, info & 0xFFFF
        for d in range(d_lo, d_hi):
            # The node of depth d (its tokens share d + 1 bytes; the root: 0 bytes).
            if k < 0:
                node, first, end, length = n_nodes, 0, n, 0
            else:
                node, first, length = base + d, k, d + 1
                end = np.int64(nodes[node] & _LOW32)
            while first < end and (tok_info[first] & 0xFFFF) == length:
                first += 1  # (tokens that end at the node)
            if end - first <= above:
                continue
            node_dir[node] = n_dirs
            dir_start[n_dirs] = n_entries
            if n_dirs == child_bytes.shape[0]:
                grown = np.zeros((2 * n_dirs, 4), np.uint64)
                grown[:n_dirs] = child_bytes
                child_bytes = grown
            p = np.int64(first)
            while p < end:
                child = nodes[(tok_info[p] >> 32) + length]
                b = (child >> np.uint64(48)) & np.uint64(0xFF)
                child_bytes[n_dirs, b >> np.uint64(6)] |= np.uint64(1) << (b & np.uint64(63))
                child_pos[n_entries] = p
                n_entries += 1
                p = np.int64(child & _LOW32)
            child_pos[n_entries] = end
            n_entries += 1
            n_dirs += 1
    dir_start[n_dirs] = n_entries
    return (node_dir, dir_start[: n_dirs + 1].copy(), child_pos[:n_entries].copy(),
            child_bytes[:n_dirs].copy())


@njit(cache=True, nogil=True)
def classify_tokens(trans, top, q, sorted_ids, first_byte_bounds, n_words, max_len,
                    restarts, restart_to, tok_info, nodes, closed, all_bits):  # pragma: no cover
    """Classify every text token by walking its bytes from lexer state ``q``.

    Reference loop, for each token ``t`` with bytes ``b``::

        c = q
        for j in range(len(b)):
            if trans[c, b[j]] < 0:
                kind = BOUNDARY if top[c] >= 0 else DEAD; break
            c = trans[c, b[j]]
        else:
            kind = INSIDE

    The tokens ``sorted_ids`` are walked in sorted order as a trie (``tok_info`` and
    ``nodes`` from :func:`trie_nodes`): the states of the common prefix with the previous
    token are reused, and where a walk settles a node, the node's whole subtree is
    settled without walking it:

    * a byte with no transition settles every token that shares it (dead, or the same
      boundary);
    * a state ``closed`` under a byte class (bit ``k`` of ``closed[state]``: every string
      of class-``k`` bytes stays inside the lexeme from there) keeps inside every token
      below a node whose further bytes are all of that class: words from an identifier
      state, digits from a number state;
    * a first byte with no transition settles its whole range of tokens
      (``first_byte_bounds[b]:first_byte_bounds[b + 1]``); where most of them end the
      lexeme at once, ``first_dead`` is taken as the complement of the others within
      ``all_bits`` (the bits of ``sorted_ids``).

    Returns ``(inside, first_dead, b_pos, b_off, b_term, b_byte)``: ``inside`` has the
    bits of the tokens that never leave the lexeme, ``first_dead`` of those whose first
    byte ends an accepting lexeme at ``q``; ``b_*`` list the tokens ending a lexeme at byte
    ``b_off >= 1`` as terminal ``b_term``, by their position in sorted order (increasing),
    so that later walks read the sorted token bytes sequentially; ``b_byte`` is the byte
    at ``b_off``, where the next lexeme begins (a walk from a fresh state skips the tokens
    whose next lexeme cannot begin so without reading them: see :func:`walk_tokens`).

    ``restarts`` (bool per top value, or empty) marks lexemes that end *into*
    ``restart_to``, the fresh state of the parser stacks the table serves: a lexeme of an
    ignored terminal leaves the stacks as they were, so the next lexeme starts there. The
    walk then continues from ``restart_to`` at the byte that ended it (no boundary
    recorded), so the tokens that begin with whitespace are settled here instead of as a
    boundary group. ``restart_to`` is ``q`` itself for a fresh state; for a state inside
    whitespace, the state after it. A lexeme that a token ends at its first byte is in
    ``first_dead`` all the same (the matcher resolves those from the next state's table).
    """
    n = sorted_ids.shape[0]
    inside = np.zeros(n_words, np.uint32)
    first_dead = np.zeros(n_words, np.uint32)
    b_tok = np.empty(n, np.int32)
    b_off = np.empty(n, np.int32)
    b_state = np.empty(n, np.int32)
    b_byte = np.empty(n, np.uint8)
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
            info = tok_info[i]
            at = info >> 32  # + depth: the node of the token's bytes 0..depth
            length = info & 0xFFFF
            depth = (info >> 16) & 0xFFFF if i > lo else 0
            kind = KIND_INSIDE
            st = -1
            node = np.uint64(0)
            while depth < length:
                node = nodes[at + depth]
                c = states[depth]
                byte = (node >> np.uint64(48)) & np.uint64(0xFF)
                nx = trans[c, byte]
                if nx < 0 and _restarts(top[c], restarts):
                    c = restart_to  # an ignored lexeme ended: the next one starts there
                    nx = trans[c, byte]
                if nx < 0:
                    if top[c] >= 0:
                        kind = KIND_BOUNDARY
                        st = c
                    else:
                        kind = KIND_DEAD
                    break
                if (node >> np.uint64(32)) & np.uint64(closed[nx]) & _CLASS_BITS:
                    kind = _KIND_SUBTREE_INSIDE
                    break
                states[depth + 1] = nx
                depth += 1
            if kind == KIND_INSIDE:
                tid = sorted_ids[i]
                inside[tid >> 5] |= np.uint32(1) << np.uint32(tid & 31)
                i += 1
                continue
            end = np.int64(node & _LOW32)
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
                    b_byte[nb] = byte
                    nb += 1
            i = int(end)  # its common prefix with token i is at most depth bytes
    if complement:
        for w in range(n_words):
            first_dead[w] = all_bits[w] & ~first_dead[w]
    return (inside, first_dead, b_tok[:nb].copy(), b_off[:nb].copy(), b_state[:nb].copy(),
            b_byte[:nb].copy())


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
def walk_token(trans, top, q, token_data, token_start, token_len, token):  # pragma: no cover
    """:func:`walk_bytes` over the whole of token ``token`` (its span read here, so that a
    consumed token costs the matcher one call and no indexing from Python)."""
    return walk_bytes(trans, top, q, token_data, token_start[token], 0, token_len[token])


@njit(cache=True, nogil=True)
def _first_at_least(toks, i, end):  # pragma: no cover - compiled
    """The first index ``j >= i`` with ``toks[j] >= end`` (``toks`` increasing), by
    galloping: a dead subtree of a boundary group of tens of thousands of tokens (every
    word led by a space) is skipped in a few steps, a short run in one or two."""
    n = toks.shape[0]
    if i >= n or toks[i] >= end:
        return i
    lo = i  # toks[lo] < end
    step = 1
    hi = i + 1
    while hi < n and toks[hi] < end:
        lo = hi
        step *= 2
        hi = lo + step
    hi = min(hi, n)  # toks[hi] >= end, or hi == n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if toks[mid] < end:
            lo = mid
        else:
            hi = mid
    return hi


@njit(cache=True, nogil=True)
def walk_tokens(trans, top, q, toks, offs, firsts, sorted_data, sorted_start, sorted_len,
                restarts, tok_info, nodes, closed):  # pragma: no cover - compiled
    """Walk each token ``toks[i]`` (a position in sorted order) from byte ``offs[i]``
    starting in lexer state ``q``; report the ones that do not die.

    Returns ``(inside, cross, cross_at, cross_term)``, each in the order of ``toks``:
    the tokens that stay inside the lexeme, and those that end it (``BOUNDARY``), with
    the byte where the next lexeme starts and the terminal the lexeme ends as (``top`` of
    the state it ends in). Reference: walk every token as :func:`walk_bytes` does and
    split the ones whose kind is not ``DEAD``.

    ``toks`` must be increasing, and each offset fixed by the bytes up to it (tokens that
    share their first ``offs[i] + 1`` bytes share the offset; the groups of the token
    index are so: a lexeme ends where its bytes say). Then a token that shares its
    predecessor's first bytes reuses that walk's states, and a walk settled at a trie node
    the token owns (``tok_info``/``nodes``, see :func:`trie_nodes`) settles the listed
    tokens below that node alike: dead, the same boundary, or inside where the state is
    ``closed`` under every further byte's class (see :func:`classify_tokens`). Boundary
    groups of tens of thousands of space-led tokens mostly settle so.

    ``restarts`` marks the top values whose lexemes end back into ``q``, as in
    :func:`classify_tokens` (``q`` must be the fresh state of the parser stacks).

    ``firsts`` (empty, or byte ``offs[i]`` of each token: ``classify_tokens``'s
    ``b_byte``) lets the walk skip, reading nothing of them, the tokens that die at their
    first byte from ``q``: most of a boundary group where the next lexeme cannot begin
    as the rest of the token does (camel-case words after an identifier).
    """
    n = toks.shape[0]
    # The first bytes that kill a token at once (q accepts nothing: no lexeme ends there).
    skip_first = firsts.shape[0] > 0 and top[q] < 0
    inside = np.empty(n, np.int32)
    cross = np.empty(n, np.int32)
    cross_at = np.empty(n, np.int32)
    cross_term = np.empty(n, np.int32)
    states = np.empty(64, np.int32)  # grown for a longer token
    n_in = 0
    n_cross = 0
    prev = -2
    prev_off = -1
    valid = -1  # states[prev_off..valid] belong to the previous token's walk
    i = 0
    while i < n:
        if skip_first and trans[q, firsts[i]] < 0:
            i += 1
            continue
        p = toks[i]
        off = offs[i]
        info = tok_info[p]
        at = info >> 32
        owned = (info >> 16) & 0xFFFF  # the token owns its nodes from this depth on
        length = info & 0xFFFF
        start = sorted_start[p]
        if length >= states.shape[0]:
            grown = np.empty(2 * length, np.int32)
            grown[: states.shape[0]] = states
            states = grown
        depth = off
        if p == prev + 1 and off == prev_off:
            depth = max(off, min(owned, valid))
        states[off] = q
        c = states[depth]
        k = KIND_INSIDE
        node = np.uint64(0)
        while depth < length:
            byte = sorted_data[start + depth]
            nx = trans[c, byte]
            if nx < 0 and _restarts(top[c], restarts):
                c = q  # an ignored lexeme ended: the next one starts in q
                nx = trans[c, byte]
            if nx < 0:
                k = KIND_BOUNDARY if top[c] >= 0 else KIND_DEAD
                break
            if depth >= owned:
                node = nodes[at + depth]
                if (node >> np.uint64(32)) & np.uint64(closed[nx]) & _CLASS_BITS:
                    k = _KIND_SUBTREE_INSIDE
                    break
            c = nx
            depth += 1
            states[depth] = c
        prev_off = off
        valid = depth
        # The listed tokens settled alike: below the node where the walk ended, if the
        # token owns it, else the token alone.
        end = p + 1
        if k != KIND_INSIDE and depth >= owned:
            end = np.int64(nodes[at + depth] & _LOW32)
        if k == KIND_DEAD:
            i = _first_at_least(toks, i, end)
        elif k == KIND_BOUNDARY:
            t = top[c]
            while i < n and toks[i] < end:
                cross[n_cross] = toks[i]
                cross_at[n_cross] = depth
                cross_term[n_cross] = t
                n_cross += 1
                i += 1
        else:
            while i < n and toks[i] < end:
                inside[n_in] = toks[i]
                n_in += 1
                i += 1
        prev = int(end) - 1  # the next listed token reuses the walk only if it is ``end``
    return (inside[:n_in].copy(), cross[:n_cross].copy(), cross_at[:n_cross].copy(),
            cross_term[:n_cross].copy())


@njit(cache=True, nogil=True)
def set_bits(words, toks):  # pragma: no cover - compiled
    """``words[t >> 5] |= 1 << (t & 31)`` for every ``t`` in ``toks`` (uint32 words)."""
    for i in range(toks.shape[0]):
        t = toks[i]
        words[t >> 5] |= np.uint32(1) << np.uint32(t & 31)


@njit(cache=True, nogil=True)
def group_by_label(labels):  # pragma: no cover - compiled
    """Positions grouped by label, stably (a counting sort): ``(order, distinct, bounds)``
    with ``order[bounds[k]:bounds[k + 1]]`` the positions whose label is ``distinct[k]``
    (ascending)."""
    n = labels.shape[0]
    lo = labels[0]
    hi = labels[0]
    for i in range(n):
        lo = min(lo, labels[i])
        hi = max(hi, labels[i])
    count = np.zeros(hi - lo + 2, np.int64)
    for i in range(n):
        count[labels[i] - lo + 1] += 1
    n_distinct = 0
    for v in range(hi - lo + 1):
        if count[v + 1]:
            n_distinct += 1
        count[v + 1] += count[v]
    distinct = np.empty(n_distinct, np.int64)
    bounds = np.empty(n_distinct + 1, np.int64)
    k = 0
    for v in range(hi - lo + 1):
        if count[v + 1] > count[v]:
            distinct[k] = v + lo
            bounds[k] = count[v]
            k += 1
    bounds[n_distinct] = n
    order = np.empty(n, np.int64)
    for i in range(n):
        v = labels[i] - lo
        order[count[v]] = i
        count[v] += 1
    return order, distinct, bounds


@njit(cache=True, nogil=True)
def set_allowed(words, sorted_ids, toks, verdict):  # pragma: no cover - compiled
    """Set the bits of the tokens (sorted positions ``toks``) whose ``verdict`` is 1 and
    return the indices of those whose verdict is 2 or 3 (undecided, see
    ``resolve_with_parser``)."""
    pending = np.empty(toks.shape[0], np.int64)
    n = 0
    for i in range(toks.shape[0]):
        v = verdict[i]
        if v == 1:
            t = sorted_ids[toks[i]]
            words[t >> 5] |= np.uint32(1) << np.uint32(t & 31)
        elif v >= 2:
            pending[n] = i
            n += 1
    return pending[:n].copy()


@njit(cache=True, nogil=True)
def merge_sorted(keys, vals, new_keys, new_vals):  # pragma: no cover - compiled
    """New arrays holding ``keys`` (sorted) and ``new_keys`` (sorted, none of them in
    ``keys``) in order, with their ``vals`` and ``new_vals`` beside them."""
    n, m = keys.shape[0], new_keys.shape[0]
    out_keys = np.empty(n + m, keys.dtype)
    out_vals = np.empty(n + m, vals.dtype)
    i = j = 0
    for k in range(n + m):
        if j >= m or (i < n and keys[i] < new_keys[j]):
            out_keys[k], out_vals[k] = keys[i], vals[i]
            i += 1
        else:
            out_keys[k], out_vals[k] = new_keys[j], new_vals[j]
            j += 1
    return out_keys, out_vals


@njit(cache=True, nogil=True)
def apply_token_bitmask_kernel(logits, bitmask):  # pragma: no cover - compiled
    """Set ``logits[b, j] = -inf`` where bit ``j`` of row ``b`` of ``bitmask`` is clear.

    ``logits``: float ``(batch, V)``; ``bitmask``: int32 ``(batch, W)`` with
    ``W >= ceil(V / 32)``; tokens ``j >= 32 * W`` are masked. A word at a time: a full
    word leaves its 32 logits alone, an empty one masks all of them.
    """
    batch, vocab = logits.shape
    n_words = min(bitmask.shape[1], (vocab + 31) >> 5)
    masked = -np.inf
    for b in range(batch):
        row = logits[b]
        for w in range(n_words):
            word = bitmask[b, w]
            if word == -1:
                continue
            base = w << 5
            end = min(base + 32, vocab)
            if word == 0:
                row[base:end] = masked
                continue
            for j in range(base, end):
                if ((word >> (j - base)) & 1) == 0:
                    row[j] = masked
        row[n_words << 5:] = masked


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


_LR_MEMO_NODES = 512  # paths of terminals remembered per resolve_with_parser call


@njit(cache=True, nogil=True)
def resolve_with_parser(trans, top, q_start, toks, offs, firsts, token_data, token_start,
                        token_len, stack, act, goto, rule_lhs, rule_len, ignored, end_term,
                        start_keys, start_vals, need):  # pragma: no cover - compiled
    """Verdict for each token remainder ``toks[i]`` from byte ``offs[i]``, starting in fresh
    lexer state ``q_start`` with LR stack ``stack`` (deterministic tables), following every
    lexeme boundary inside the token: 1 allowed, 0 rejected, 3 undecided until the lexer
    has a fresh state for the set of allowed terminals ``need[i]`` (a bit set; the caller
    creates it and runs again), 2 undecided here for another reason (a lexeme with
    several readings, a full scratch stack: the caller decides in Python).

    At a boundary the lexeme's terminal is shifted on a scratch copy of the stack, the
    terminals that can be shifted next are collected as a bit set, and the fresh lexer
    state for that set is looked up in ``start_keys`` (sorted) / ``start_vals``.
    Reference: ``GrammarRuntime._advance`` in ``grammar_engine/runtime.py``.

    ``firsts`` (empty, or a terminal per token): each token's remainder follows a lexeme
    read as ``firsts[i]``, which the kernel shifts first (``q_start`` is then the fresh
    state of ``stack`` itself), so that every boundary group of a mask goes in one call.

    As in ``resolve_with_glr``, two things are shared between tokens: the fresh state
    after each sequence of terminals (a trie, ``memo_child``; the scratch stack is rebuilt
    from the path only where a token leaves the trie), and the walk of the bytes a token
    shares with the previous one (same remainder prefix: the tokens of a group come
    sorted).
    """
    n = toks.shape[0]
    out = np.zeros(n, np.int8)
    depth0 = stack.shape[0]
    scratch = np.empty(depth0 + 512, np.int32)
    extra = np.empty(256, np.int32)
    n_terms = act.shape[1]
    max_len = 1
    for i in range(n):
        max_len = max(max_len, token_len[toks[i]] - offs[i])
    path = np.empty(max_len + 2, np.int32)
    memo_child = np.empty((_LR_MEMO_NODES, n_terms), np.int32)  # rows filled as made
    memo_child[0, :] = -1
    memo_q = np.empty(_LR_MEMO_NODES, np.int32)
    memo_key = np.empty(_LR_MEMO_NODES, np.uint64)  # the missing set, where memo_q is -3
    n_nodes = 1  # node 0: no boundary yet
    # State on arriving at each byte of the previous token's remainder.
    at_q = np.empty(max_len + 1, np.int32)
    at_fresh = np.empty(max_len + 1, np.int32)
    at_node = np.empty(max_len + 1, np.int32)
    at_path = np.empty(max_len + 1, np.int32)
    prev_start = 0
    prev_len = -1  # no previous token
    prev_end = 0  # where its walk stopped (the byte it broke at, or its length)
    prev_verdict = 1
    prev_need = np.uint64(0)
    sp = depth0
    has_firsts = firsts.shape[0] > 0
    for i in range(n):
        tid = toks[i]
        start = token_start[tid] + offs[i]
        length = token_len[tid] - offs[i]
        shared = 0
        limit = min(length, prev_len)
        if has_firsts and i > 0 and firsts[i] != firsts[i - 1]:
            limit = 0  # another lexeme before it: nothing of its walk is shared
        while shared < limit and token_data[start + shared] == token_data[prev_start + shared]:
            shared += 1
        prev_start, prev_len = start, length
        if prev_verdict != 1 and shared > prev_end:  # it broke on a byte this one shares
            out[i] = prev_verdict
            need[i] = prev_need
            continue
        if shared > 0:
            j = shared
            q, q_fresh, node, n_path = at_q[j], at_fresh[j], at_node[j], at_path[j]
        else:
            j = 0
            q = q_fresh = q_start
            node = 0
            n_path = 0
        stale = True  # ``scratch`` does not hold the stack after ``path`` yet
        verdict = 1
        key = np.uint64(0)
        pending = firsts[i] if has_firsts and j == 0 else -1  # the lexeme before it
        while j < length or pending >= 0:
            if pending >= 0:
                t = pending
                pending = -1
            else:
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
                if t >= end_term:  # a lexeme with several readings (their ids start at
                    # the end terminal, the table's last): decided in Python
                    verdict = 2
                    break
            if ignored[t]:  # the stack, so the fresh state, stays as it was
                q = q_fresh
                continue
            child = memo_child[node, t] if node >= 0 else -1
            if child >= 0:
                q = memo_q[child]
                key = memo_key[child]
                node = child
                stale = True
            else:
                if stale:  # rebuild the stack: the start, then the path so far
                    scratch[:depth0] = stack
                    sp = depth0
                    for k in range(n_path):
                        sp = _lr_feed(scratch, sp, path[k], act, goto, rule_lhs, rule_len)
                    stale = False
                sp = _lr_feed(scratch, sp, t, act, goto, rule_lhs, rule_len)
                if sp < 0:  # the scratch stack is spoilt, but the token ends here
                    q = -1 if sp == -1 else -2
                else:
                    q, key = _lr_fresh_state(scratch, sp, act, goto, rule_lhs, rule_len,
                                             extra, end_term, start_keys, start_vals)
                if node >= 0 and n_nodes < _LR_MEMO_NODES:
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
        prev_end = j
        prev_verdict = verdict
        prev_need = key
        out[i] = verdict
        need[i] = key
    return out


@njit(cache=True, nogil=True)
def _lr_fresh_state(stack, sp, act, goto, rule_lhs, rule_len, extra, end_term, start_keys,
                    start_vals):  # pragma: no cover - compiled
    """The fresh lexer state for the terminals that can be shifted on ``stack[:sp]`` (-1:
    it is dead; -3: no lexer state exists yet for that set) and the set as a bit set."""
    key = np.uint64(0)
    s_top = stack[sp - 1]
    for u in range(act.shape[1]):
        if u == end_term or act[s_top, u] == ACT_ERROR:
            continue
        if _lr_can_shift(stack, sp, u, act, goto, rule_lhs, rule_len, extra):
            key |= np.uint64(1) << np.uint64(u)
    k = np.searchsorted(start_keys, key)
    if k >= start_keys.shape[0] or start_keys[k] != key:
        return -3, key
    q = start_vals[k]
    return (q if q >= 0 else -1), key
