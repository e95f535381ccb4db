"""Plain NumPy/Python twins of the ``native`` kernels, used by the tests as references.

Each function has the kernel's signature and result but the simplest possible loop.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "apply_token_bitmask_ref",
    "canonical_runs_ref",
    "classify_bytes_ref",
    "classify_tokens_ref",
    "coreachable_ref",
    "depth_equivalent_ref",
    "glr_mask_ref",
    "moore_classes_ref",
    "product_lexer_ref",
    "quoted_repeat_ref",
    "set_allowed_ref",
    "set_bits_ref",
    "stays_alive_ref",
    "trie_tokens_ref",
    "walk_bytes_ref",
    "walk_token_ref",
    "walk_tokens_ref",
]

KIND_INSIDE, KIND_DEAD, KIND_BOUNDARY = 0, 1, 2


def _bytes_of(tid: int, token_data: NDArray[np.uint8], token_start: NDArray[np.int64],
              token_len: NDArray[np.int32]) -> bytes:
    s = int(token_start[tid])
    return bytes(token_data[s : s + int(token_len[tid])])


def trie_tokens_ref(tok_info, nodes):
    """The token bytes a trie of :func:`native.kernels.trie_nodes` spells, in order: each
    token is the previous one's first ``lcp`` bytes and then its own nodes' bytes."""
    out: list[bytes] = []
    prev = b""
    for info in tok_info.tolist():
        at, lcp, length = info >> 32, (info >> 16) & 0xFFFF, info & 0xFFFF
        own = bytes(int(nodes[at + d]) >> 48 & 0xFF for d in range(lcp, length))
        prev = prev[:lcp] + own
        out.append(prev)
    return out


def classify_tokens_ref(trans, top, q, sorted_ids, first_byte_bounds, n_words, max_len,
                        restarts, restart_to, tok_info, nodes, closed, all_bits):
    """Every token walked on its own (the trie gives only the bytes; ``closed`` and the
    subtree ends, which only speed up the kernel, are ignored)."""
    return classify_bytes_ref(trans, top, q, sorted_ids, trie_tokens_ref(tok_info, nodes),
                              n_words, restarts, restart_to)


def classify_bytes_ref(trans, top, q, ids, tokens, n_words, restarts, restart_to=None):
    """:func:`classify_tokens_ref` on the tokens ``ids`` spelled ``tokens`` (positions in
    the result are indices into ``ids``)."""
    inside = np.zeros(n_words, np.uint32)
    first_dead = np.zeros(n_words, np.uint32)
    bt: list[int] = []
    bo: list[int] = []
    bs: list[int] = []
    bb: list[int] = []
    for i, (tid, data) in enumerate(zip(ids.tolist(), tokens, strict=True)):
        c = q
        kind, depth, st = KIND_INSIDE, len(data), -1
        for j, b in enumerate(data):
            nx = int(trans[c, b])
            if nx < 0 and j > 0 and 0 <= top[c] < len(restarts) and restarts[top[c]]:
                c = q if restart_to is None else restart_to  # an ignored lexeme ended
                nx = int(trans[c, b])
            if nx < 0:
                kind = KIND_BOUNDARY if top[c] >= 0 else KIND_DEAD
                depth, st = j, c
                break
            c = nx
        if kind == KIND_INSIDE:
            inside[tid >> 5] |= np.uint32(1 << (tid & 31))
        elif kind == KIND_BOUNDARY:
            if depth == 0:
                first_dead[tid >> 5] |= np.uint32(1 << (tid & 31))
            else:
                bt.append(i)
                bo.append(depth)
                bs.append(int(top[st]))
                bb.append(data[depth])
    return (inside, first_dead, np.array(bt, np.int32), np.array(bo, np.int32),
            np.array(bs, np.int32), np.array(bb, np.uint8))


def walk_bytes_ref(trans, top, q, data, start, offset, length):
    c, j = q, offset
    while j < length:
        nx = int(trans[c, data[start + j]])
        if nx < 0:
            return (KIND_BOUNDARY if top[c] >= 0 else KIND_DEAD), j, c
        c, j = nx, j + 1
    return KIND_INSIDE, j, c


def walk_token_ref(trans, top, q, token_data, token_start, token_len, token):
    return walk_bytes_ref(trans, top, q, token_data, token_start[token], 0, token_len[token])


def walk_tokens_ref(trans, top, q, toks, offs, firsts, token_data, token_start,
                    token_len, restarts, tok_info=None, nodes=None, closed=None):
    """Every token walked on its own (``firsts``, the trie and ``closed`` only speed up
    the kernel)."""
    n = len(toks)
    kind = np.zeros(n, np.int8)
    pos = np.zeros(n, np.int32)
    state = np.full(n, -1, np.int32)
    for i in range(n):
        data = _bytes_of(int(toks[i]), token_data, token_start, token_len)
        c, j, k = q, int(offs[i]), KIND_INSIDE
        while j < len(data):
            nx = int(trans[c, data[j]])
            if nx < 0 and 0 <= top[c] < len(restarts) and restarts[top[c]]:
                c = q  # an ignored lexeme ended: restart in q
                nx = int(trans[c, data[j]])
            if nx < 0:
                k = KIND_BOUNDARY if top[c] >= 0 else KIND_DEAD
                break
            c, j = nx, j + 1
        kind[i], pos[i], state[i] = k, j, c
    toks = np.asarray(toks, np.int32)
    ins = kind == KIND_INSIDE
    cross = kind == KIND_BOUNDARY
    return (toks[ins], toks[cross], pos[cross],
            np.asarray(top, np.int32)[state[cross]].astype(np.int32))


def set_allowed_ref(words, sorted_ids, toks, verdict):
    set_bits_ref(words, sorted_ids[toks[verdict == 1]])
    return np.flatnonzero(verdict >= 2)


def set_bits_ref(words: NDArray[np.uint32], toks: NDArray[np.int32]) -> None:
    for t in toks.tolist():
        words[t >> 5] |= np.uint32(1 << (t & 31))


def apply_token_bitmask_ref(logits: NDArray[np.floating], bitmask: NDArray[np.int32]) -> None:
    vocab = logits.shape[1]
    bits = np.unpackbits(bitmask.view(np.uint8), axis=1, bitorder="little")[:, :vocab]
    if bits.shape[1] < vocab:
        bits = np.pad(bits, ((0, 0), (0, vocab - bits.shape[1])))
    logits[bits == 0] = -np.inf


def product_lexer_ref(t_all, acc_all, term_of, rank_pos, tier, lazy, start_vec,
                      veto_acc=None, veto_base=None):
    """The states reachable from ``start_vec`` (state 0, fresh) as ``(trans, top, tied)``
    in breadth-first order: the automaton ``native.lexer_kernels.grow_lexer`` builds.
    Rows from ``veto_base`` on are vetoes: while one accepts (``veto_acc``), the lexeme is
    not its terminal's (``term_of``); one without a row of its terminal left is dropped."""
    if veto_base is None:
        veto_base = len(t_all)
    states: list[tuple[int, ...]] = [tuple(int(g) for g in start_vec)]
    index: dict[tuple[int, ...], int] = {}
    rows: list[list[int]] = []
    tops: list[int] = []
    tied: list[bool] = []
    i = 0
    while i < len(states):
        vec = states[i]
        vetoed = {int(term_of[g]) for g in vec if g >= veto_base and veto_acc[g]}
        acc = [int(term_of[g]) for g in vec
               if g < veto_base and acc_all[g] and int(term_of[g]) not in vetoed]
        top = min(acc, key=lambda t: rank_pos[t]) if acc else -1
        tops.append(top)
        tied.append(top >= 0 and sum(tier[t] == tier[top] for t in acc) > 1)
        row = [-1] * 256
        if not (top >= 0 and lazy[top]):
            for b in range(256):
                nxt = tuple(int(t_all[g, b]) for g in vec if t_all[g, b] >= 0)
                live = {int(term_of[g]) for g in nxt if g < veto_base}
                nxt = tuple(g for g in nxt if g < veto_base or int(term_of[g]) in live)
                if nxt:
                    if nxt not in index:
                        index[nxt] = len(states)
                        states.append(nxt)
                    row[b] = index[nxt]
        rows.append(row)
        i += 1
    return (np.array(rows, np.int32).reshape(-1, 256), np.array(tops, np.int32),
            np.array(tied, np.bool_))


def canonical_runs_ref(trans: NDArray[np.int32], accept: NDArray[np.bool_]) -> list[int]:
    """Twin of ``dfa_kernels.canonical_runs``."""
    if len(trans) == 0:
        return []
    index, order, out = {0: 0}, [0], []
    for s in order:
        out.append(int(accept[s]))
        row = []
        for t in trans[s].tolist():
            if t >= 0 and t not in index:
                index[t] = len(order)
                order.append(t)
            row.append(index[t] if t >= 0 else -1)
        for c, r in enumerate(row):
            if c == 0 or r != row[c - 1]:
                out += [c, r]
        out.append(-2)
    return out


def coreachable_ref(trans, accept):
    live = accept.copy()
    changed = True
    while changed:
        changed = False
        for s in range(trans.shape[0]):
            if not live[s] and any(t >= 0 and live[t] for t in trans[s].tolist()):
                live[s] = changed = True
    return live


def moore_classes_ref(trans, accept):
    n = trans.shape[0]
    cls = [int(a) for a in accept.tolist()]
    ids: dict[int, int] = {}
    cls = [ids.setdefault(c, len(ids)) for c in cls]
    n_cls = len(ids)
    while True:
        sigs = [(cls[s], *(cls[t] if t >= 0 else -1 for t in trans[s].tolist()))
                for s in range(n)]
        index: dict[tuple[int, ...], int] = {}
        cls = [index.setdefault(sig, len(index)) for sig in sigs]
        if len(index) == n_cls:
            return np.array(cls, np.int64)
        n_cls = len(index)


def depth_equivalent_ref(trans, accept, a, b, depth):
    """Whether states ``a`` and ``b`` agree (both dead or both alive, with the same
    acceptance before ``depth`` bytes) on every string of at most ``depth`` bytes: pairs of
    states visited breadth first, each at its smallest distance, reading all 256 bytes."""
    seen = {(int(a), int(b))}
    level = [(int(a), int(b))]
    for _ in range(depth):
        nxt = []
        for x, y in level:
            if bool(accept[x]) != bool(accept[y]):
                return False
            for byte in range(256):
                u, v = int(trans[x, byte]), int(trans[y, byte])
                if (u < 0) != (v < 0):
                    return False
                if u >= 0 and (u, v) not in seen:
                    seen.add((u, v))
                    nxt.append((u, v))
        level = nxt
    return True


def stays_alive_ref(trans, top, q, text_dfa, depth, max_pairs, starts=None, restarts=None,
                    restart_to=None, closed=None, loop_bits=None):
    """Reads all 256 bytes of each row (``starts`` is the kernel's shortcut)."""
    restarts = np.zeros(0, np.bool_) if restarts is None else restarts
    seen = {(int(q), 0)}
    level = set(seen)
    for d in range(depth):
        nxt = set()
        for s, u in level:
            if closed is not None and int(closed[s]) & int(loop_bits[u]):
                continue  # every string from u is of a class s is closed under
            for b in range(256):
                v = int(text_dfa[u, b])
                if v < 0:
                    continue
                t = int(trans[s, b])
                if t < 0 and d > 0 and 0 <= top[s] < len(restarts) and restarts[top[s]]:
                    t = int(trans[q if restart_to is None else restart_to, b])
                if t < 0:
                    return False
                if (t, v) not in seen:
                    if len(seen) >= max_pairs:
                        return False
                    seen.add((t, v))
                    nxt.add((t, v))
        level = nxt
    return True


def minimal_product_ref(ta, aa, tb, ab, op):
    """Product over every byte with explicit sinks, then trim and Moore (no byte classes)."""
    na, nb = ta.shape[0], tb.shape[0]

    def dead(x: int, y: int) -> bool:
        return (x < 0 or y < 0) if op == 0 else (x < 0 and y < 0) if op == 1 else x < 0

    start = (0 if na else -1, 0 if nb else -1)
    empty = (np.zeros((0, 256), np.int32), np.zeros(0, np.bool_))
    if dead(*start):
        return empty
    pairs, index, rows = [start], {start: 0}, []
    i = 0
    while i < len(pairs):
        x, y = pairs[i]
        row = []
        for b in range(256):
            nxt = (int(ta[x, b]) if x >= 0 else -1, int(tb[y, b]) if y >= 0 else -1)
            if dead(*nxt):
                row.append(-1)
                continue
            if nxt not in index:
                index[nxt] = len(pairs)
                pairs.append(nxt)
            row.append(index[nxt])
        rows.append(row)
        i += 1
    fa = [x >= 0 and bool(aa[x]) for x, _ in pairs]
    fb = [y >= 0 and bool(ab[y]) for _, y in pairs]
    accept = np.array([a and b if op == 0 else a or b if op == 1 else a and not b
                       for a, b in zip(fa, fb, strict=True)], np.bool_)
    trans = np.array(rows, np.int32)
    live = coreachable_ref(trans, accept)
    if not live[0]:
        return empty
    keep = np.flatnonzero(live)
    new_id = np.full(len(pairs), -1, np.int64)
    new_id[keep] = np.arange(len(keep))
    lt = np.where(trans[keep] >= 0, new_id[np.maximum(trans[keep], 0)], -1)
    cls = moore_classes_ref(lt, accept[keep])
    first = [int(np.flatnonzero(cls == k)[0]) for k in range(int(cls.max()) + 1)]
    out = np.array([[int(cls[t]) if t >= 0 else -1 for t in lt[s].tolist()] for s in first],
                   np.int32)
    return out, accept[keep][first]


def quoted_repeat_ref(unit_trans, unit_accept, lo, hi, quote):
    """Twin of ``dfa_kernels.quoted_repeat_table``: every layer in full, then the states
    that cannot reach acceptance dropped."""
    finals = unit_accept
    inner = np.flatnonzero(~finals)
    pos = np.full(len(finals), -1, dtype=np.int64)
    pos[inner] = np.arange(len(inner))
    n_layers = hi + 1 if hi >= 0 else lo + 1
    k = len(inner)
    n = 2 + n_layers * k
    trans = np.full((n, 256), -1, dtype=np.int32)
    accept = np.zeros(n, dtype=np.bool_)
    accept[n - 1] = True
    trans[0, quote] = 1
    rows = unit_trans[inner]
    to_inner = (rows >= 0) & ~finals[np.maximum(rows, 0)]
    to_final = (rows >= 0) & finals[np.maximum(rows, 0)]
    for i in range(n_layers):
        base = 1 + i * k
        t = np.full((k, 256), -1, dtype=np.int32)
        t[to_inner] = base + pos[rows[to_inner]]
        if hi < 0 or i < hi:
            t[to_final] = 1 + (min(i + 1, n_layers - 1) if hi < 0 else i + 1) * k
        trans[base : base + k] = t
        if i >= lo:
            trans[base, quote] = n - 1
    live = np.array(coreachable_ref(trans, accept), dtype=np.bool_)
    if not live[0]:
        return np.zeros((0, 256), np.int32), np.zeros(0, np.bool_)
    keep = np.flatnonzero(live)
    remap = np.full(n, -1, dtype=np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    sub = trans[keep]
    return (np.where(sub >= 0, remap[np.maximum(sub, 0)], -1).astype(np.int32),
            accept[keep])


def _glr_feed_ref(stacks, t, cell_start, cell_actions, n_terms, goto, rule_lhs, rule_len):
    """The stacks (tuples of LR states) after terminal ``t``: every reduction path, then
    every shift."""
    work, seen, out = list(stacks), set(stacks), set()
    while work:
        s = work.pop()
        cell = s[-1] * n_terms + t
        for a in cell_actions[cell_start[cell] : cell_start[cell + 1]].tolist():
            if a >= 0:
                out.add((*s, a))
                continue
            r = -1 - a
            base = len(s) - int(rule_len[r])
            if base < 1 or goto[s[base - 1], rule_lhs[r]] < 0:
                continue
            reduced = (*s[:base], int(goto[s[base - 1], rule_lhs[r]]))
            if reduced not in seen:
                seen.add(reduced)
                work.append(reduced)
    return out


def _first_marked(walk_first, b):
    """Whether byte ``b`` is set in the four 64-bit words ``walk_first``."""
    return bool(int(walk_first[b >> 6]) >> (b & 63) & 1)


def glr_mask_ref(trans, top, row_bits, sorted_ids, tok_info, nodes, node_dir, dir_start,
                 child_pos, child_bytes, closed, max_len, max_visits, cell_start,
                 cell_actions, n_terms, goto, rule_lhs, rule_len, ignored, end_term,
                 start_keys, start_vals, out_cap, work_cap, q, q_fresh, walk_first, stacks,
                 stack_len, depth_cap, bits):
    """Every token walked on its own with the stacks as a set of tuples (no memo, no
    pools: ``row_bits``, the child lists, ``closed``, ``max_visits`` and the caps are
    ignored; the trie only spells the tokens). Returns ``(accepting, verdict)``, a
    verdict per sorted position: 1 allowed (its bit set in ``bits``), 0 not, 2 several
    readings, 3 a fresh state missing; -1 for first bytes not walked."""
    tokens = trie_tokens_ref(tok_info, nodes)
    if q < 0 or q_fresh < 0:
        return -1, np.where([not d or _first_marked(walk_first, d[0]) for d in tokens], 0,
                            -1).astype(np.int8)
    fresh_of = dict(zip(start_keys.tolist(), start_vals.tolist(), strict=True))
    feed_args = (cell_start, cell_actions, n_terms, goto, rule_lhs, rule_len)
    start = {tuple(stacks[j, : stack_len[j]].tolist()) for j in range(stacks.shape[0])}

    def boundary(s, t):
        """(stacks after t, fresh state or -1 dead / -3 missing)."""
        after = _glr_feed_ref(s, t, *feed_args)
        if not after:
            return after, -1
        key = sum(1 << u for u in range(n_terms)
                  if u != end_term and _glr_feed_ref(after, u, *feed_args))
        q2 = fresh_of.get(key)
        return after, (-3 if q2 is None else (q2 if q2 >= 0 else -1))

    def walk(data):
        c, fresh, s = q, q_fresh, start
        for byte in data:
            while trans[c, byte] < 0:
                t = int(top[c])
                if t < 0 or c == fresh:
                    return 0
                if t >= end_term:
                    return 2
                if ignored[t]:
                    c = fresh
                    continue
                s, q2 = boundary(s, t)
                if q2 < 0:
                    return 0 if q2 == -1 else 3
                c = fresh = q2
            c = int(trans[c, byte])
        return 1

    t0 = int(top[q]) if q != q_fresh else -2
    if t0 == -1:
        accepting = 0
    elif t0 >= end_term:
        accepting = -1
    else:
        s = start if t0 < 0 or ignored[t0] else _glr_feed_ref(start, t0, *feed_args)
        accepting = int(bool(_glr_feed_ref(s, end_term, *feed_args)))
    verdict = np.full(len(tokens), -1, dtype=np.int8)
    for p, data in enumerate(tokens):
        if data and not _first_marked(walk_first, data[0]):
            continue
        verdict[p] = walk(data)
        if verdict[p] == 1:
            tid = int(sorted_ids[p])
            bits[tid >> 5] |= np.uint32(1 << (tid & 31))
    return accepting, verdict
