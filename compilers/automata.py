"""Code-point NFA -> UTF-8 byte-level DFA (determinised, minimised, trimmed).

Every surviving state of a :class:`ByteDFA` can still reach an accepting state, so "the DFA
has a transition" means "the bytes so far are a prefix of some match". This is what lets
the token index decide a token's verdict from the lexer state alone.
"""

from __future__ import annotations

import hashlib
import itertools
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from compilers.budget import check_deadline
from compilers.disk_cache import cache_path, write_atomically
from compilers.errors import LimitExceededError
from compilers.memo import BytesMemo, byte_bounded_cache
from compilers.regex import NFA, compile_regex_nfa
from native.dfa_kernels import (
    byte_class_of,
    byte_classes,
    canonical_runs,
    coreachable,
    joint_classes,
    minimal_product,
    moore_classes,
)

__all__ = [
    "DEAD",
    "ByteDFA",
    "build_byte_dfa",
    "build_terminal_dfa",
    "class_starts",
    "example_string",
    "finite_future_states",
    "intersect_dfas",
    "json_literal_dfa",
    "literal_dfa",
    "load_cached_dfa",
    "quoted_repeat_dfa",
    "store_cached_dfa",
    "subtract_dfas",
    "union_dfas",
    "utf8_sequences",
]

DEAD = -1


def class_starts(class_of: NDArray[np.int32]) -> NDArray[np.int32]:
    """The bytes (0 first) where ``class_of`` changes: rows are constant between them."""
    return np.flatnonzero(
        np.concatenate(([True], class_of[1:] != class_of[:-1]))).astype(np.int32)


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

    @cached_property
    def byte_class_of(self) -> NDArray[np.int32]:
        """Class of each byte (bytes with identical columns share one), by first byte."""
        if self.n_states == 0:
            return np.zeros(256, dtype=np.int32)
        out: NDArray[np.int32] = byte_class_of(np.ascontiguousarray(self.trans, dtype=np.int32))
        return out

    @cached_property
    def digest(self) -> bytes:
        """16-byte content hash: DFAs with equal digests behave the same (cache keys).
        Hashes the byte classes and one column per class (the table is 5-10x smaller)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(np.int64(self.n_states).tobytes())
        if self.n_states:
            classes = self.byte_class_of
            first = np.unique(classes, return_index=True)[1]  # one byte per class
            h.update(classes.astype(np.int32).tobytes())
            h.update(np.ascontiguousarray(self.trans[:, first], dtype=np.int32).tobytes())
        h.update(np.ascontiguousarray(self.accept, dtype=np.bool_).tobytes())
        return h.digest()

    @property
    def nbytes(self) -> int:
        return int(self.trans.nbytes + self.accept.nbytes)

    @property
    def is_empty(self) -> bool:
        return self.n_states == 0

    @cached_property
    def signature(self) -> bytes:
        """Digest of the language: equal for two minimal DFAs of the same language (states
        renumbered in breadth-first order from the start)."""
        if self.n_states == 0:
            return b"empty"
        code = canonical_runs(np.ascontiguousarray(self.trans, dtype=np.int32),
                              np.ascontiguousarray(self.accept, dtype=np.bool_))
        h = hashlib.blake2b(code.tobytes(), digest_size=16)
        return h.digest()

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
    trans = np.full((64, 256), DEAD, dtype=np.int32)  # rows of the states built so far
    accepts: list[bool] = []
    i = 0
    while i < len(order):
        check_deadline(f"subset construction ({len(order)} DFA states) of {where or 'a regex'}")
        cur_set = order[i]
        i += 1
        is_acc = nfa.accept in cur_set
        accepts.append(is_acc)
        if i > len(trans):
            trans = np.concatenate([trans, np.full_like(trans, DEAD)])
        row = trans[i - 1]
        out_edges = [] if lazy and is_acc else [e for x in cur_set for e in edges[x]]
        if out_edges:
            # Elementary byte intervals: no edge starts or ends inside one, so one set of
            # NFA targets per interval (in byte order, as a per-byte walk would number them).
            starts: dict[int, list[int]] = {}
            ends: dict[int, list[int]] = {}
            for lo, hi, t in out_edges:
                starts.setdefault(lo, []).append(t)
                ends.setdefault(hi + 1, []).append(t)
            cuts = sorted(starts.keys() | ends.keys())
            active: dict[int, int] = {}  # target -> edges covering the interval
            memo: dict[frozenset[int], int] = {}
            for a, b in itertools.pairwise(cuts):
                for t in ends.get(a, ()):
                    if active[t] == 1:
                        del active[t]
                    else:
                        active[t] -= 1
                for t in starts.get(a, ()):
                    active[t] = active.get(t, 0) + 1
                if not active:
                    continue
                key = frozenset(active)
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
                row[a:b] = sid
    accept = np.array(accepts, dtype=np.bool_)
    return _trim(*_minimize(np.ascontiguousarray(trans[: len(order)]), accept))


def _minimize(trans: NDArray[np.int32], accept: NDArray[np.bool_]
              ) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
    """Moore partition refinement; keeps state 0 as the start.

    Runs on byte classes (bytes whose columns are identical); the refinement rounds are one
    kernel call (``native.dfa_kernels.moore_classes``, classes hashed, not sorted).
    """
    n = trans.shape[0]
    if n == 0:
        return trans, accept
    check_deadline(f"DFA minimisation ({n} states)")
    trans = np.ascontiguousarray(trans, dtype=np.int32)
    reduced = np.ascontiguousarray(trans[:, byte_classes(trans)])  # (n, n_classes)
    remap = moore_classes(reduced, np.ascontiguousarray(accept, dtype=np.bool_))
    m = int(remap.max()) + 1
    rep = np.zeros(m, dtype=np.int64)
    rep[remap[::-1]] = np.arange(n)[::-1]  # one representative state per class
    sub = trans[rep]
    new_trans = np.where(sub >= 0, remap[np.maximum(sub, 0)], DEAD).astype(np.int32)
    return np.ascontiguousarray(new_trans), accept[rep].astype(np.bool_)


def _trim(trans: NDArray[np.int32], accept: NDArray[np.bool_]) -> ByteDFA:
    """Drop states that cannot reach an accepting state (co-reachability)."""
    n = trans.shape[0]
    if n == 0:
        return ByteDFA(np.zeros((0, 256), dtype=np.int32), np.zeros(0, dtype=np.bool_))
    live = coreachable(np.ascontiguousarray(trans, dtype=np.int32),
                       np.ascontiguousarray(accept, dtype=np.bool_))
    if not live[0]:
        return ByteDFA(np.zeros((0, 256), dtype=np.int32), np.zeros(0, dtype=np.bool_))
    if live.all():
        return ByteDFA(np.ascontiguousarray(trans, dtype=np.int32), accept.copy())
    keep = np.nonzero(live)[0]
    remap = np.full(n, DEAD, dtype=np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    sub = trans[keep]
    new_trans = np.where(sub >= 0, remap[np.maximum(sub, 0)], DEAD).astype(np.int32)
    return ByteDFA(np.ascontiguousarray(new_trans), accept[keep].copy())


@byte_bounded_cache(256 << 20)  # 256 MiB of automata at most, whatever the patterns
def build_terminal_dfa(pattern: str, lazy: bool, max_nfa_states: int = 100_000,
                       max_dfa_states: int = 20_000, where: str = "") -> ByteDFA:
    """Regex text -> trimmed byte DFA, cached by (pattern, laziness, limits)."""
    nfa = compile_regex_nfa(pattern, max_states=max_nfa_states, where=where)
    return build_byte_dfa(nfa, lazy=lazy, max_states=max_dfa_states, where=where)


_product_memo = BytesMemo(128 << 20)


def _product(a: ByteDFA, b: ByteDFA, op: str, max_states: int, where: str) -> ByteDFA:
    """The product automaton, memoised per process by the operands' contents (schemas
    repeat the same string and key automata)."""
    key = (op, a.digest, b.digest, max_states)
    out: ByteDFA | None = _product_memo.get(key)
    if out is None:
        out = _build_product(a, b, op, max_states, where)
        _product_memo.put(key, out)
    return out


_PRODUCT_OPS = {"and": 0, "or": 1, "minus": 2}


def _build_product(a: ByteDFA, b: ByteDFA, op: str, max_states: int, where: str) -> ByteDFA:
    if op not in _PRODUCT_OPS:
        raise ValueError(f"unknown product {op!r}; expected 'and', 'or' or 'minus'")
    check_deadline(f"DFA product ({op}) at {where or 'a terminal'}")
    class_of = joint_classes(np.stack([a.byte_class_of, b.byte_class_of]))
    trans, accept, ok = minimal_product(a.trans, a.accept, b.trans, b.accept, class_of,
                                        _PRODUCT_OPS[op], max_states)
    if not ok:
        raise LimitExceededError("max_dfa_states", max_states, max_states + 1, where)
    return ByteDFA(trans, accept)


def intersect_dfas(a: ByteDFA, b: ByteDFA, *, max_states: int = 20_000,
                   where: str = "") -> ByteDFA:
    """Byte strings matched by both ``a`` and ``b``."""
    return _product(a, b, "and", max_states, where)


def union_dfas(a: ByteDFA, b: ByteDFA, *, max_states: int = 20_000,
               where: str = "") -> ByteDFA:
    """Byte strings matched by ``a`` or ``b``."""
    return _product(a, b, "or", max_states, where)


def subtract_dfas(a: ByteDFA, b: ByteDFA, *, max_states: int = 20_000,
                  where: str = "") -> ByteDFA:
    """Byte strings matched by ``a`` and not by ``b``."""
    return _product(a, b, "minus", max_states, where)


def literal_dfa(data: bytes) -> ByteDFA:
    """The DFA matching exactly ``data``."""
    n = len(data) + 1
    trans = np.full((n, 256), DEAD, dtype=np.int32)
    for i, b in enumerate(data):
        trans[i, b] = i + 1
    accept = np.zeros(n, dtype=np.bool_)
    accept[-1] = True
    return ByteDFA(trans, accept)


def finite_future_states(d: ByteDFA) -> NDArray[np.bool_]:
    """Per state: True when only finitely many strings lead on from it (no cycle is
    reachable). On a trimmed DFA every state is live, so these are the states from which
    the rest of the word is one of a finite list."""
    finite: NDArray[np.bool_] = np.asarray(~(d.trans >= 0).any(axis=1))
    while True:
        succ_ok = np.where(d.trans >= 0, finite[np.maximum(d.trans, 0)], True).all(axis=1)
        grown: NDArray[np.bool_] = np.asarray(finite | succ_ok)
        if (grown == finite).all():
            return finite
        finite = grown


def example_string(d: ByteDFA, max_len: int = 64) -> bytes | None:
    """A shortest byte string the DFA accepts (None if its language is empty)."""
    if d.is_empty:
        return None
    prev: dict[int, tuple[int, int]] = {0: (-1, -1)}
    frontier = [0]
    while frontier:
        nxt: list[int] = []
        for s in frontier:
            if d.accept[s]:
                out = bytearray()
                while prev[s][0] >= 0:
                    p, b = prev[s]
                    out.append(b)
                    s = p
                return bytes(reversed(out))
            for b in range(256):
                t = int(d.trans[s, b])
                if t >= 0 and t not in prev:
                    prev[t] = (s, b)
                    nxt.append(t)
        frontier = nxt
    return None


@byte_bounded_cache(64 << 20)
def quoted_repeat_dfa(unit: ByteDFA, lo: int, hi: int | None) -> ByteDFA:
    """``"`` + between ``lo`` and ``hi`` (None: no limit) strings of ``unit`` + ``"``.

    ``unit`` must be prefix-free (its accepting states have no transitions), as one
    JSON-encoded character is; the layers are built directly, which is much faster than
    determinising a repeated NFA.
    """
    n_u = unit.n_states
    finals = unit.accept
    if (unit.trans[finals] >= 0).any():
        raise ValueError("unit automaton must be prefix-free")
    inner = np.flatnonzero(~finals)  # non-final unit states, start (0) first
    pos = np.full(n_u, -1, dtype=np.int64)
    pos[inner] = np.arange(len(inner))
    n_layers = hi + 1 if hi is not None else lo + 1  # layer i: i characters written
    k = len(inner)
    # States: 0 before the opening quote; 1 + i * k + pos[s] in layer i; the last is done.
    n_states = 2 + n_layers * k
    done = n_states - 1
    trans = np.full((n_states, 256), DEAD, dtype=np.int32)
    accept = np.zeros(n_states, dtype=np.bool_)
    accept[done] = True
    quote = ord('"')
    trans[0, quote] = 1
    rows = unit.trans[inner]  # (k, 256) next unit state
    to_inner = (rows >= 0) & ~finals[np.maximum(rows, 0)]
    to_final = (rows >= 0) & finals[np.maximum(rows, 0)]
    for i in range(n_layers):
        base = 1 + i * k
        t = np.full((k, 256), DEAD, dtype=np.int32)
        t[to_inner] = base + pos[rows[to_inner]]
        if hi is None or i < hi:
            nxt = min(i + 1, n_layers - 1) if hi is None else i + 1
            t[to_final] = 1 + nxt * k
        trans[base : base + k] = t
        if i >= lo:
            trans[base, quote] = done
    return _trim(trans, accept)  # layered: already small, no minimisation needed


_JSON_SHORT = {0x22: '"', 0x5C: "\\", 0x2F: "/", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r",
               0x09: "t"}


def json_literal_dfa(text: str, quoted: bool = True, max_states: int = 20_000,
                     where: str = "") -> ByteDFA:
    """Every JSON encoding of the string ``text`` (raw characters where JSON allows them,
    short escapes, ``\\uXXXX`` in either case, surrogate pairs), built directly as a DFA.
    Past ``max_states`` states it raises ``LimitExceededError`` (``max_dfa_states``).

    A string holding a surrogate code point gets the empty automaton: like every character
    set here (see ``compilers.charset``), the engine never writes a lone surrogate.
    """
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return ByteDFA(np.zeros((0, 256), dtype=np.int32), np.zeros(0, dtype=np.bool_))
    # Edges as three flat lists (source, byte, target), written into the table at the end.
    src: list[int] = []
    byt: list[int] = []
    dst: list[int] = []
    n = 1  # state 0 is the start

    def edge(s: int, b: int, t: int) -> None:
        src.append(s)
        byt.append(b)
        dst.append(t)

    cur = 0
    if quoted:
        edge(0, 0x22, 1)
        cur, n = 1, 2
    for ch in text:
        cp = ord(ch)
        end = n
        n += 1
        if cp >= 0x20 and ch not in '"\\':
            data = ch.encode("utf-8")
            s = cur
            for k, byte in enumerate(data):
                if k == len(data) - 1:
                    t = end
                else:
                    t, n = n, n + 1
                edge(s, byte, t)
                s = t
        backslash, s = n, n + 1
        n += 2
        edge(cur, 0x5C, backslash)
        if cp in _JSON_SHORT:
            edge(backslash, ord(_JSON_SHORT[cp]), end)
        edge(backslash, 0x75, s)  # u
        units = [cp] if cp < 0x10000 else [0xD800 + ((cp - 0x10000) >> 10),
                                            0xDC00 + ((cp - 0x10000) & 0x3FF)]
        for idx, unit in enumerate(units):
            if idx:
                edge(s, 0x5C, n)
                edge(n, 0x75, n + 1)
                s, n = n + 1, n + 2
            for k, d in enumerate(f"{unit:04x}"):
                if idx == len(units) - 1 and k == 3:
                    t = end
                else:
                    t, n = n, n + 1
                edge(s, ord(d), t)
                if d > "9":
                    edge(s, ord(d.upper()), t)
                s = t
        cur = end
        if n > max_states:
            raise LimitExceededError("max_dfa_states", max_states, n,
                                     where or f"the JSON string literal {text[:40]!r}...")
    if quoted:
        edge(cur, 0x22, n)
        cur, n = n, n + 1
    trans = np.full((n, 256), DEAD, dtype=np.int32)
    trans[src, byt] = dst
    accept = np.zeros(n, dtype=np.bool_)
    accept[cur] = True
    return ByteDFA(trans, accept)


_DFA_CACHE_VERSION = 1


def _dfa_cache_file(key: str) -> Path | None:
    return cache_path("dfa", f"dfa-v{_DFA_CACHE_VERSION}\x00{key}", ".npz")


def load_cached_dfa(key: str) -> ByteDFA | None:
    """A DFA stored by :func:`store_cached_dfa` under ``key`` in an earlier process."""
    f = _dfa_cache_file(key)
    if f is None or not f.is_file():
        return None
    try:
        with np.load(f, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            return ByteDFA(data["trans"].astype(np.int32), data["accept"].astype(np.bool_))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a damaged or foreign file: rebuild


def store_cached_dfa(key: str, dfa: ByteDFA) -> None:
    """Keep a DFA on disk (best effort) so later processes skip rebuilding it."""
    f = _dfa_cache_file(key)
    if f is not None:
        write_atomically(f, lambda tmp: np.savez(tmp, trans=dfa.trans, accept=dfa.accept,
                                                 key=np.array(key)))
