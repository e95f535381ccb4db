"""Code-point NFA -> UTF-8 byte-level DFA (determinised, minimised, trimmed).

Every surviving state of a :class:`ByteDFA` can still reach an accepting state, so "the DFA
has a transition" means "the bytes so far are a prefix of some match". This is what lets
the token index decide a token's verdict from the lexer state alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from compilers.errors import LimitExceededError
from compilers.regex import NFA, compile_regex_nfa

__all__ = ["DEAD", "ByteDFA", "build_byte_dfa", "build_terminal_dfa", "utf8_sequences"]

DEAD = -1


@dataclass(frozen=True, eq=False)
class ByteDFA:
    """A trimmed byte-level DFA; state 0 is the start, ``trans[s, b] == -1`` is dead."""

    trans: NDArray[np.int32]  # (n_states, 256)
    accept: NDArray[np.bool_]  # (n_states,)

    def __post_init__(self) -> None:
        if self.trans.ndim != 2 or self.trans.shape[1] != 256:
            raise ValueError(f"trans must have shape (n, 256), got {self.trans.shape}")
        if self.accept.shape != (self.trans.shape[0],):
            raise ValueError("accept must have one entry per state")

    @property
    def n_states(self) -> int:
        return int(self.trans.shape[0])

    @property
    def is_empty(self) -> bool:
        return self.n_states == 0

    def run(self, data: bytes, state: int = 0) -> int:
        """State after ``data`` from ``state`` (``DEAD`` once no match can continue)."""
        if self.n_states == 0:
            return DEAD
        for b in data:
            state = int(self.trans[state, b])
            if state < 0:
                return DEAD
        return state

    def matches(self, data: bytes) -> bool:
        s = self.run(data)
        return s >= 0 and bool(self.accept[s])

    def is_prefix(self, data: bytes) -> bool:
        return self.run(data) >= 0

    def matches_empty(self) -> bool:
        return self.n_states > 0 and bool(self.accept[0])


def _encode(cp: int) -> bytes:
    return chr(cp).encode("utf-8")


def utf8_sequences(lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """Split code points ``lo..hi`` (no surrogates) into byte-range sequences whose
    concatenations are exactly their UTF-8 encodings."""
    out: list[list[tuple[int, int]]] = []
    stack = [(lo, hi)]
    while stack:
        a, b = stack.pop()
        split = _split_once(a, b)
        if split is not None:
            stack.extend(reversed(split))
            continue
        ea, eb = _encode(a), _encode(b)
        out.append(list(zip(ea, eb, strict=True)))
    return out


def _split_once(a: int, b: int) -> list[tuple[int, int]] | None:
    for limit in (0x7F, 0x7FF, 0xFFFF):
        if a <= limit < b:
            return [(a, limit), (limit + 1, b)]
    if b <= 0x7F:
        return None
    n = len(_encode(a))
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if (a & ~m) != (b & ~m):
            if a & m != 0:
                return [(a, a | m), ((a | m) + 1, b)]
            if b & m != m:
                return [(a, (b & ~m) - 1), (b & ~m, b)]
    return None


def build_byte_dfa(nfa: NFA, *, lazy: bool = False, max_states: int = 20_000,
                   where: str = "") -> ByteDFA:
    """Lower ``nfa`` to UTF-8 bytes, determinise, minimise and trim it.

    With ``lazy`` the accepting states lose their outgoing transitions: the automaton then
    accepts exactly the shortest matches (no proper prefix of a match is a match).
    """
    # Byte-level NFA: intermediate states for multi-byte characters.
    n_char = len(nfa.eps)
    eps: list[list[int]] = [list(x) for x in nfa.eps]
    edges: list[list[tuple[int, int, int]]] = [[] for _ in range(n_char)]
    seq_cache: dict[tuple[int, int], list[list[tuple[int, int]]]] = {}
    for s in range(n_char):
        for ranges, t in nfa.edges[s]:
            for lo, hi in ranges:
                seqs = seq_cache.get((lo, hi))
                if seqs is None:
                    seqs = seq_cache[(lo, hi)] = utf8_sequences(lo, hi)
                for seq in seqs:
                    cur = s
                    for k, (blo, bhi) in enumerate(seq):
                        if k == len(seq) - 1:
                            nxt = t
                        else:
                            nxt = len(eps)
                            eps.append([])
                            edges.append([])
                        edges[cur].append((blo, bhi, nxt))
                        cur = nxt

    closure_cache: dict[int, frozenset[int]] = {}

    def closure(states: frozenset[int]) -> frozenset[int]:
        out = set(states)
        work = list(states)
        while work:
            x = work.pop()
            for y in eps[x]:
                if y not in out:
                    out.add(y)
                    work.append(y)
        return frozenset(out)

    def single(x: int) -> frozenset[int]:
        c = closure_cache.get(x)
        if c is None:
            c = closure_cache[x] = closure(frozenset([x]))
        return c

    start = single(nfa.start)
    index: dict[frozenset[int], int] = {start: 0}
    order = [start]
    rows: list[list[int]] = []
    accepts: list[bool] = []
    i = 0
    while i < len(order):
        cur_set = order[i]
        i += 1
        is_acc = nfa.accept in cur_set
        accepts.append(is_acc)
        row = [DEAD] * 256
        if not (lazy and is_acc):
            targets: list[set[int] | None] = [None] * 256
            for x in cur_set:
                for blo, bhi, t in edges[x]:
                    for byte in range(blo, bhi + 1):
                        tb = targets[byte]
                        if tb is None:
                            targets[byte] = {t}
                        else:
                            tb.add(t)
            memo: dict[frozenset[int], int] = {}
            for byte in range(256):
                tb = targets[byte]
                if tb is None:
                    continue
                key = frozenset(tb)
                sid = memo.get(key)
                if sid is None:
                    full = frozenset().union(*(single(t) for t in key))
                    sid = index.get(full)
                    if sid is None:
                        if len(order) >= max_states:
                            raise LimitExceededError("max_dfa_states", max_states,
                                                     len(order) + 1, where)
                        sid = index[full] = len(order)
                        order.append(full)
                    memo[key] = sid
                row[byte] = sid
        rows.append(row)
    trans = np.array(rows, dtype=np.int32).reshape(-1, 256)
    accept = np.array(accepts, dtype=np.bool_)
    return _trim(*_minimize(trans, accept))


def _minimize(trans: NDArray[np.int32], accept: NDArray[np.bool_]
              ) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
    """Moore partition refinement; keeps state 0 as the start."""
    n = trans.shape[0]
    cls = accept.astype(np.int64)
    n_cls = len(set(cls.tolist()))
    while True:
        tcls = np.where(trans >= 0, cls[np.maximum(trans, 0)], -1)
        sig = np.ascontiguousarray(np.concatenate([cls[:, None], tcls], axis=1))
        ids: dict[bytes, int] = {}
        new_cls = np.array([ids.setdefault(row.tobytes(), len(ids)) for row in sig],
                           dtype=np.int64)
        if len(ids) == n_cls:
            cls = new_cls
            break
        cls, n_cls = new_cls, len(ids)
    # Renumber so that the start's class is 0, in order of first appearance.
    order: dict[int, int] = {}
    for s in range(n):
        order.setdefault(int(cls[s]), len(order))
    remap = np.array([order[int(c)] for c in cls], dtype=np.int32)
    m = len(order)
    new_trans = np.full((m, 256), DEAD, dtype=np.int32)
    new_acc = np.zeros(m, dtype=np.bool_)
    for s in range(n):
        r = remap[s]
        row = trans[s]
        new_trans[r] = np.where(row >= 0, remap[np.maximum(row, 0)], DEAD)
        new_acc[r] = accept[s]
    return new_trans, new_acc


def _trim(trans: NDArray[np.int32], accept: NDArray[np.bool_]) -> ByteDFA:
    """Drop states that cannot reach an accepting state (co-reachability)."""
    n = trans.shape[0]
    live = accept.copy()
    changed = True
    while changed:
        reach = np.zeros(n, dtype=np.bool_)
        valid = trans >= 0
        src, _ = np.nonzero(valid)
        reach[src[live[trans[valid]]]] = True
        new_live = live | reach
        changed = bool((new_live != live).any())
        live = new_live
    if n == 0 or not live[0]:
        return ByteDFA(np.zeros((0, 256), dtype=np.int32), np.zeros(0, dtype=np.bool_))
    keep = np.nonzero(live)[0]
    remap = np.full(n, DEAD, dtype=np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    sub = trans[keep]
    new_trans = np.where(sub >= 0, remap[np.maximum(sub, 0)], DEAD).astype(np.int32)
    return ByteDFA(np.ascontiguousarray(new_trans), accept[keep].copy())


@lru_cache(maxsize=4096)
def build_terminal_dfa(pattern: str, lazy: bool, max_nfa_states: int = 100_000,
                       max_dfa_states: int = 20_000, where: str = "") -> ByteDFA:
    """Regex text -> trimmed byte DFA, cached by (pattern, laziness, limits)."""
    nfa = compile_regex_nfa(pattern, max_states=max_nfa_states, where=where)
    return build_byte_dfa(nfa, lazy=lazy, max_states=max_dfa_states, where=where)
