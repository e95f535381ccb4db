"""A slow, plain twin of ``compilers.automata.build_byte_dfa`` for the tests.

It lowers the code-point NFA to a byte NFA first (one chain of byte ranges per UTF-8
sequence of each class, from :func:`utf8_sequences`) and determinises over bytes. The engine
determinises over code points and spells multi-byte characters from shared templates; both
minimise, so equal languages give equal ``ByteDFA.signature``.
"""

from __future__ import annotations

import numpy as np

from compilers.automata import DEAD, ByteDFA, _minimize, _trim
from compilers.regex import NFA


def byte_nfa_dfa(nfa: NFA, lazy: bool = False) -> ByteDFA:
    eps: list[list[int]] = [list(x) for x in nfa.eps]
    edges: list[list[tuple[int, int, int]]] = [[] for _ in eps]
    for s in range(len(nfa.eps)):
        for ranges, t in nfa.edges[s]:
            for lo, hi in ranges:
                for seq in utf8_sequences(lo, hi):
                    cur = s
                    for k, (blo, bhi) in enumerate(seq):
                        nxt = t
                        if k < len(seq) - 1:
                            nxt = len(eps)
                            eps.append([])
                            edges.append([])
                        edges[cur].append((blo, bhi, nxt))
                        cur = nxt

    def closure(states: set[int]) -> frozenset[int]:
        out, work = set(states), list(states)
        while work:
            for y in eps[work.pop()]:
                if y not in out:
                    out.add(y)
                    work.append(y)
        return frozenset(out)

    start = closure({nfa.start})
    index, order, rows, accept = {start: 0}, [start], [], []
    while len(rows) < len(order):
        cur = order[len(rows)]
        row = np.full(256, DEAD, dtype=np.int32)
        is_acc = nfa.accept in cur
        accept.append(is_acc)
        if not (lazy and is_acc):
            for b in range(256):
                nxt = closure({t for x in cur for lo, hi, t in edges[x] if lo <= b <= hi})
                if nxt:
                    row[b] = index.setdefault(nxt, len(order))
                    if row[b] == len(order):
                        order.append(nxt)
        rows.append(row)
    return _trim(*_minimize(np.array(rows, dtype=np.int32), np.array(accept)))


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
