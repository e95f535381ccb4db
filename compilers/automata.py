"""Code-point NFA -> UTF-8 byte-level DFA (determinised, minimised, trimmed).

Every surviving state of a :class:`ByteDFA` can still reach an accepting state, so "the DFA
has a transition" means "the bytes so far are a prefix of some match". This is what lets
the token index decide a token's verdict from the lexer state alone.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from compilers import charset as cs
from compilers.budget import check_deadline
from compilers.disk_cache import cache_path, write_atomically
from compilers.errors import LimitExceededError
from compilers.memo import BytesMemo, byte_bounded_cache
from compilers.regex import NFA, compile_regex_nfa
from native.dfa_kernels import (
    byte_class_of,
    byte_classes,
    canonical_runs,
    class_layout,
    coreachable,
    edge_byte_classes,
    joint_classes,
    json_literal_edges,
    json_literal_table,
    minimal_product,
    minimal_union,
    quoted_repeat_table,
    state_classes,
)

__all__ = [
    "DEAD",
    "ByteDFA",
    "RepeatLayout",
    "build_byte_dfa",
    "build_terminal_dfa",
    "class_starts",
    "example_string",
    "finite_future_states",
    "intersect_dfas",
    "json_literal_dfa",
    "json_literal_set_dfa",
    "literal_dfa",
    "load_cached_dfa",
    "quoted_repeat_dfa",
    "repeat_layout",
    "seed_digest",
    "store_cached_dfa",
    "subtract_dfas",
    "subtract_json_literals",
    "union_dfas",
]

DEAD = -1


def seed_digest(dfa: ByteDFA, kind: str, key: object) -> ByteDFA:
    """Seed ``dfa``'s digest with a hash of how it was built (``kind`` and ``key``, from
    which the construction is deterministic) instead of a hash of its table, which costs
    milliseconds for thousands of states. The same key builds the same automaton, so
    equal digests still mean equal automata; an automaton built two ways may have two."""
    if dfa.n_states:
        dfa.__dict__["digest"] = hashlib.blake2b(
            f"{kind}\x00{key!r}".encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return dfa


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
        Hashes the byte classes and one column per class (the table is 5-10x smaller).
        :func:`json_literal_dfa` seeds it with a hash of the literal instead."""
        h = hashlib.blake2b(digest_size=16)
        h.update(np.int64(self.n_states).tobytes())
        if self.n_states:
            classes = self.byte_class_of
            first = class_layout(classes)[1]  # one byte per class
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
                              np.ascontiguousarray(self.accept, dtype=np.bool_),
                              class_layout(self.byte_class_of)[0])
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


def build_byte_dfa(nfa: NFA, *, lazy: bool = False, max_states: int = 20_000,
                   where: str = "") -> ByteDFA:
    """Lower ``nfa`` to UTF-8 bytes, determinise, minimise and trim it.

    Subset construction runs over code points: each set of NFA states gets a row whose ASCII
    bytes lead straight to the next set, and whose multi-byte characters are spelt by
    continuation states from a :class:`_Utf8Template` (cached per process by the intervals'
    shape). A class as big as Unicode's ``\\w`` (about 700 ranges) so costs one template,
    not a subset construction over its every byte.

    With ``lazy`` the accepting states lose their outgoing transitions: the automaton then
    accepts exactly the shortest matches (no proper prefix of a match is a match).
    """
    eps = nfa.eps
    closure_cache: dict[int, frozenset[int]] = {}

    def single(x: int) -> frozenset[int]:
        c = closure_cache.get(x)
        if c is None:
            out = {x}
            work = [x]
            while work:
                for y in eps[work.pop()]:
                    if y not in out:
                        out.add(y)
                        work.append(y)
            c = closure_cache[x] = frozenset(out)
        return c

    start = single(nfa.start)
    index: dict[frozenset[int], int] = {start: 0}
    # DFA states: a set of NFA states (its row still to fill), or None (a continuation
    # state, written when created).
    order: list[frozenset[int] | None] = [start]
    table = _Rows()

    def new_states(n: int) -> int:
        if len(order) + n > max_states:
            raise LimitExceededError("max_dfa_states", max_states, len(order) + n, where)
        order.extend([None] * n)
        return len(order) - n

    def state_of(targets: frozenset[int]) -> int:
        full = frozenset().union(*(single(t) for t in targets))
        sid = index.get(full)
        if sid is None:
            sid = index[full] = new_states(1)
            order[sid] = full
        return sid

    utf8 = _Utf8Spelling(table, new_states, state_of)
    split: dict[int, tuple[list[tuple[int, int, int]], list[tuple[cs.CharSet, int]]]] = {}
    i = 0
    while i < len(order):
        cur_set = order[i]
        i += 1
        if cur_set is None:
            continue
        check_deadline(f"subset construction ({len(order)} DFA states) of {where or 'a regex'}")
        if nfa.accept in cur_set:
            table.accepting.add(i - 1)
            if lazy:
                continue
        ascii_edges: list[tuple[int, int, int]] = []
        wide_edges: list[tuple[cs.CharSet, int]] = []
        for x in cur_set:
            parts = split.get(x)
            if parts is None:
                parts = split[x] = _split_edges(nfa.edges[x])
            ascii_edges += parts[0]
            wide_edges += parts[1]
        if ascii_edges:
            row = table.row(i - 1)
            for lo, hi, sid in _intervals(ascii_edges, state_of):
                row[lo:hi + 1] = sid
        if wide_edges:
            utf8.spell(wide_edges, i - 1)
    trans, accept = table.arrays(len(order))
    return _trim(*_minimize(trans, accept))


def _split_edges(edges: list[tuple[cs.CharSet, int]]
                 ) -> tuple[list[tuple[int, int, int]], list[tuple[cs.CharSet, int]]]:
    """An NFA state's edges split at ASCII's end: (lo, hi, target) below 0x80, and the
    ranges past it per edge (non-empty only)."""
    ascii_part: list[tuple[int, int, int]] = []
    wide_part: list[tuple[cs.CharSet, int]] = []
    for ranges, t in edges:
        ascii_part += [(lo, min(hi, 0x7F), t) for lo, hi in ranges if lo < 0x80]
        wide = tuple((max(lo, 0x80), hi) for lo, hi in ranges if hi >= 0x80)
        if wide:
            wide_part.append((wide, t))
    return ascii_part, wide_part


def _intervals(edges: list[tuple[int, int, int]], state_of: Callable[[frozenset[int]], int]
               ) -> list[tuple[int, int, int]]:
    """Code-point edges (lo, hi, NFA target) -> sorted, disjoint intervals, each with the
    DFA state of the NFA targets that cover it (``state_of``)."""
    first = edges[0][2]
    if all(t == first for _, _, t in edges):  # one target (a class loop, say)
        sid = state_of(frozenset((first,)))
        return [(lo, hi, sid) for lo, hi in cs.normalize((lo, hi) for lo, hi, _ in edges)]
    # Elementary intervals: no edge starts or ends inside one, so one set of NFA targets
    # per interval (in code-point order, as a per-byte walk would number them).
    starts: dict[int, list[int]] = {}
    ends: dict[int, list[int]] = {}
    for lo, hi, t in edges:
        starts.setdefault(lo, []).append(t)
        ends.setdefault(hi + 1, []).append(t)
    cuts = sorted(starts.keys() | ends.keys())
    active: dict[int, int] = {}  # target -> edges covering the interval
    memo: dict[frozenset[int], int] = {}
    out: list[tuple[int, int, int]] = []
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
        got = memo.get(key)
        if got is None:
            got = memo[key] = state_of(key)
        out.append((a, b - 1, got))
    return out


class _Utf8Spelling:
    """Spells the edges past ASCII of the DFA under construction in UTF-8: lead bytes in
    the source row, continuation states instantiated from the cached
    :class:`_Utf8Template` once per distinct intervals and targets (the states that share
    a character class and its target, such as every state of a loop, share its states)."""

    def __init__(self, table: _Rows, new_states: Callable[[int], int],
                 state_of: Callable[[frozenset[int]], int]) -> None:
        self.table = table
        self.new_states = new_states
        self.state_of = state_of
        self.leads: dict[tuple[tuple[int, int], ...], NDArray[np.int32]] = {}

    def spell(self, wide_edges: list[tuple[cs.CharSet, int]], state: int) -> None:
        """Write ``state``'s edges ``wide_edges`` ((ranges past ASCII, NFA target))."""
        # The ranges objects live as long as this construction (its split cache), so
        # their ids name them.
        key = tuple(sorted((id(r), t) for r, t in wide_edges))
        leads = self.leads.get(key)
        if leads is None:
            ranges0 = wide_edges[0][0]
            if all(r is ranges0 for r, _ in wide_edges):  # one class, one or more targets
                sid = self.state_of(frozenset(t for _, t in wide_edges))
                intervals = [(lo, hi, sid) for lo, hi in ranges0]
            else:
                intervals = _intervals(
                    [(lo, hi, t) for rs, t in wide_edges for lo, hi in rs], self.state_of)
            leads = self.leads[key] = self._instantiate(intervals)
        self.table.row(state)[0xC0:0xF8] = leads

    def _instantiate(self, wide: list[tuple[int, int, int]]) -> NDArray[np.int32]:
        targets: dict[int, int] = {}
        shape = tuple((lo, hi, targets.setdefault(sid, len(targets))) for lo, hi, sid in wide)
        tpl = _utf8_template(shape)
        first = self.new_states(len(tpl.rows))
        target_ids = np.fromiter(targets, dtype=np.int32, count=len(targets))

        def decode(codes: NDArray[np.int32]) -> NDArray[np.int32]:
            out = np.where(codes >= 0, codes + first, DEAD).astype(np.int32)
            is_target = codes <= -2
            out[is_target] = target_ids[-2 - codes[is_target]]
            return out

        if len(tpl.rows):
            self.table.row(first + len(tpl.rows) - 1)  # grow the table first
            self.table.trans[first:first + len(tpl.rows), 0x80:0xC0] = decode(tpl.rows)
        return decode(tpl.leads)


class _Rows:
    """A growing (n, 256) transition table, rows dead until written."""

    def __init__(self) -> None:
        self.trans = np.full((64, 256), DEAD, dtype=np.int32)
        self.accepting: set[int] = set()

    def row(self, s: int) -> NDArray[np.int32]:
        while s >= len(self.trans):
            self.trans = np.concatenate([self.trans, np.full_like(self.trans, DEAD)])
        row: NDArray[np.int32] = self.trans[s]
        return row

    def arrays(self, n: int) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
        self.row(max(n - 1, 0))
        accept = np.zeros(n, dtype=np.bool_)
        accept[list(self.accepting)] = True
        return np.ascontiguousarray(self.trans[:n]), accept


@dataclass(frozen=True, eq=False)
class _Utf8Template:
    """The UTF-8 spelling of code-point intervals past ASCII, each to a numbered target.

    ``leads`` are the source state's bytes 0xC0-0xF7, ``rows`` the continuation bytes
    0x80-0xBF of the new states it needs. A code ``c >= 0`` is new state ``c``, ``-1`` is
    dead, ``c <= -2`` is target ``-2 - c``.
    """

    leads: NDArray[np.int32]  # (56,)
    rows: NDArray[np.int32]  # (n, 64)

    @property
    def nbytes(self) -> int:
        return int(self.leads.nbytes + self.rows.nbytes)


# UTF-8 by sequence length: (first lead byte, continuation bytes, the code points spelt).
_UTF8_LENGTHS = ((0xC0, 1, 0x80, 0x7FF), (0xE0, 2, 0x800, 0xFFFF), (0xF0, 3, 0x10000, 0x10FFFF))


@byte_bounded_cache(64 << 20)
def _utf8_template(shape: tuple[tuple[int, int, int], ...]) -> _Utf8Template:
    """The template for ``shape``: sorted, disjoint (lo, hi, target number) intervals.

    A block of 64**k code points that share their first bytes becomes one state reading k
    continuation bytes; equal blocks (the same children) are one state, so the states form
    a minimal DAG. A block one interval covers whole is a chain of k states to its target,
    also shared. Surrogates never occur in the intervals (see ``compilers.charset``), and
    overlong forms fall outside each length's code points, so no state spells either.
    """
    rows: list[list[int]] = []
    blocks: dict[bytes, int] = {}
    chains: dict[tuple[int, int], int] = {}

    def new_row(children: list[int]) -> int:
        rows.append(children)
        return len(rows) - 1

    def chain(k: int, code: int) -> int:
        """Any ``k`` continuation bytes, then ``code``."""
        if k == 0:
            return code
        got = chains.get((k, code))
        if got is None:
            got = chains[(k, code)] = new_row([chain(k - 1, code)] * 64)
        return got

    def children_of(pieces: list[tuple[int, int, int]], base: int, k: int,
                    n: int) -> list[int]:
        """Codes for ``n`` blocks of 64**k code points from ``base``, each reading its last
        ``k`` bytes; ``pieces`` (sorted, clipped to the blocks) give the targets."""
        sub = 64 ** k
        children = [DEAD] * n
        partial: dict[int, list[tuple[int, int, int]]] = {}
        for lo, hi, t in pieces:
            ca, cb = (lo - base) // sub, (hi - base) // sub
            if k == 0:
                children[ca:cb + 1] = [-2 - t] * (cb - ca + 1)
                continue
            cut_a = lo > base + ca * sub  # the piece starts inside block ca
            cut_b = hi < base + (cb + 1) * sub - 1  # ... or ends inside block cb
            if ca == cb and (cut_a or cut_b):
                partial.setdefault(ca, []).append((lo, hi, t))
                continue
            if cut_a:
                partial.setdefault(ca, []).append((lo, base + (ca + 1) * sub - 1, t))
                ca += 1
            if cut_b:
                partial.setdefault(cb, []).append((base + cb * sub, hi, t))
                cb -= 1
            if ca <= cb:
                children[ca:cb + 1] = [chain(k, -2 - t)] * (cb - ca + 1)
        for c, here in partial.items():
            inner = children_of(here, base + c * sub, k - 1, 64)
            # Hash bytes, not a tuple: hash(-1) == hash(-2), so tuples of dead (-1) and
            # target 0 (-2) would nearly all collide.
            key = array.array("q", [k, *inner]).tobytes()
            got = blocks.get(key)
            if got is None:
                got = blocks[key] = new_row(inner)
            children[c] = got
        return children

    leads = [DEAD] * 56
    for lead0, k, lo_len, hi_len in _UTF8_LENGTHS:
        pieces = [(max(lo, lo_len), min(hi, hi_len), t) for lo, hi, t in shape
                  if lo <= hi_len and hi >= lo_len]
        if pieces:
            n_leads = (hi_len >> (6 * k)) + 1
            leads[lead0 - 0xC0:lead0 - 0xC0 + n_leads] = children_of(pieces, 0, k, n_leads)
    return _Utf8Template(np.array(leads, dtype=np.int32),
                         np.array(rows, dtype=np.int32).reshape(len(rows), 64))


def _minimize(trans: NDArray[np.int32], accept: NDArray[np.bool_]
              ) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
    """Minimal DFA by merging equivalent states; keeps state 0 as the start.

    Runs on byte classes (bytes whose columns are identical); the partition refinement is
    one kernel call (``native.dfa_kernels.state_classes``, Hopcroft's algorithm).
    """
    n = trans.shape[0]
    if n == 0:
        return trans, accept
    check_deadline(f"DFA minimisation ({n} states)")
    trans = np.ascontiguousarray(trans, dtype=np.int32)
    reduced = np.ascontiguousarray(trans[:, byte_classes(trans)])  # (n, n_classes)
    remap = state_classes(reduced, np.ascontiguousarray(accept, dtype=np.bool_))
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
    """Regex text -> trimmed byte DFA, cached by (pattern, laziness, limits); its digest
    seeded from them (a grammar's terminals are keyed in its first masks)."""
    nfa = compile_regex_nfa(pattern, max_states=max_nfa_states, where=where)
    dfa = build_byte_dfa(nfa, lazy=lazy, max_states=max_dfa_states, where=where)
    return seed_digest(dfa, "terminal", (pattern, lazy, max_nfa_states, max_dfa_states))


_product_memo = BytesMemo(128 << 20)


def _product(a: ByteDFA, b: ByteDFA, op: str, max_states: int, where: str) -> ByteDFA:
    """The product automaton, memoised per process by the operands' contents (schemas
    repeat the same string and key automata)."""
    key = (op, a.digest, b.digest, max_states)
    out: ByteDFA | None = _product_memo.get(key)
    if out is None:
        out = seed_digest(_build_product(a, b, op, max_states, where), "product", key)
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
    return _with_byte_classes(trans, accept, class_of)


def _with_byte_classes(trans: NDArray[np.int32], accept: NDArray[np.bool_],
                       parts: NDArray[np.int32]) -> ByteDFA:
    """The DFA, its byte classes found from ``parts``, a byte partition they are known to
    coarsen (the one a kernel built the table from): one column per part is compared
    instead of 256."""
    dfa = ByteDFA(trans, accept)
    if dfa.n_states:
        firsts = class_layout(parts)[1]  # part k's first byte, increasing
        groups = byte_class_of(np.ascontiguousarray(trans[:, firsts]))
        dfa.__dict__["byte_class_of"] = groups[parts]  # seeds the cached property
    return dfa


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
    JSON-encoded character is; the layers are built directly by a kernel
    (``quoted_repeat_table``), which is much faster than determinising a repeated NFA.
    Memoised per process (a string of at most 255 characters has about 5,000 states).
    """
    key = (unit.digest, lo, hi)
    hit: ByteDFA | None = _repeat_memo.get(key)
    if hit is not None:
        return hit
    if unit.n_states == 0 or unit.accept[0]:
        raise ValueError("unit automaton must have a non-accepting start")
    if (unit.trans[unit.accept] >= 0).any():
        raise ValueError("unit automaton must be prefix-free")
    trans, accept = quoted_repeat_table(np.ascontiguousarray(unit.trans, dtype=np.int32),
                                        np.ascontiguousarray(unit.accept, dtype=np.bool_),
                                        lo, -1 if hi is None else hi, ord('"'))
    dfa = ByteDFA(trans, accept)
    if dfa.n_states:
        # Every layer's columns split as the first layer's do, and the quote is a class of
        # its own (row 0): the classes from row 0 and the first layer, not from a pass
        # over thousands of rows.
        k = int((~unit.accept).sum())
        dfa.__dict__["byte_class_of"] = byte_class_of(
            np.ascontiguousarray(trans[: min(len(trans), 1 + k)]))
        dfa.__dict__["repeat_layout"] = RepeatLayout(unit, k, lo + 1 if hi is None else hi + 1,
                                                     hi is not None)
    _repeat_memo.put(key, seed_digest(dfa, "quoted-repeat", key))
    return dfa


_repeat_memo = BytesMemo(64 << 20)


class RepeatLayout(NamedTuple):
    """How :func:`quoted_repeat_dfa` lays out its states: state 0 before the opening
    quote; layer ``i`` (``0 <= i < n_layers``) holds the unit's ``k`` non-accepting states
    after ``i`` strings, from state ``1 + i * k`` (the unit's start first); the last state
    is after the closing quote. The last layer of a bounded repeat holds only its first
    state; that of an unbounded one loops."""

    unit: ByteDFA
    k: int
    n_layers: int
    bounded: bool

    def strings_left(self, state: int) -> int | None:
        """At the start of a unit string (a character of a JSON string): how many more
        strings fit (None: no bound), else -1 (not at a start, or not inside a layer)."""
        i, sub = divmod(state - 1, self.k)
        if state < 1 or sub or i >= self.n_layers:
            return -1
        return self.n_layers - 1 - i if self.bounded else None


def repeat_layout(dfa: ByteDFA) -> RepeatLayout | None:
    """The layout of an automaton :func:`quoted_repeat_dfa` built (None for others)."""
    layout: RepeatLayout | None = dfa.__dict__.get("repeat_layout")
    return layout


def json_literal_dfa(text: str, quoted: bool = True, max_states: int = 20_000,
                     where: str = "") -> ByteDFA:
    """Every JSON encoding of the string ``text`` (raw characters where JSON allows them,
    short escapes, ``\\uXXXX`` in either case, surrogate pairs), built directly as a DFA.
    Past ``max_states`` states it raises ``LimitExceededError`` (``max_dfa_states``).

    A string holding a surrogate code point gets the empty automaton: like every character
    set here (see ``compilers.charset``), the engine never writes a lone surrogate.
    """
    # UTF-32 keeps lone surrogates out of the encoder's way: "surrogatepass" writes them.
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    trans, accept, class_of, ok = json_literal_table(cps.astype(np.int64), quoted, max_states)
    if not ok:
        raise LimitExceededError("max_dfa_states", max_states, max_states + 1,
                                 where or f"the JSON string literal {text[:40]!r}...")
    dfa = ByteDFA(trans, accept)
    if not len(accept):
        return dfa
    # Seeded cached properties: the classes from the edges; as cache key, the text (one
    # text, one automaton) instead of a hash of the table.
    dfa.__dict__["byte_class_of"] = class_of
    dfa.__dict__["digest"] = hashlib.blake2b(
        b"json-literal\x00" + bytes([quoted]) + text.encode("utf-8", "surrogatepass"),
        digest_size=16).digest()
    return dfa


def json_literal_set_dfa(texts: Sequence[str], max_states: int = 20_000,
                         where: str = "") -> ByteDFA:
    """Every JSON encoding (quoted, as :func:`json_literal_dfa`) of any of ``texts``: the
    minimal DFA of their union, from one kernel call over the literals' edges
    (``native.dfa_kernels.minimal_union``) rather than a tree of pairwise products."""
    return seed_digest(_literal_union(None, texts, max_states, where), "literal-set",
                       (tuple(texts), max_states))


def subtract_json_literals(base: ByteDFA, texts: Sequence[str], max_states: int = 20_000,
                           where: str = "") -> ByteDFA:
    """The strings of ``base`` that are no JSON encoding of any of ``texts``: the key
    automaton of an object's undeclared properties, in one kernel call (the same as
    ``subtract_dfas(base, json_literal_set_dfa(texts))``, memoised per process)."""
    if base.is_empty or not texts:
        return base
    key = (base.digest, tuple(texts), max_states)
    out: ByteDFA | None = _minus_literals_memo.get(key)
    if out is None:
        out = seed_digest(_literal_union(base, texts, max_states, where), "minus-literals",
                          key)
        _minus_literals_memo.put(key, out)
    return out


_minus_literals_memo = BytesMemo(64 << 20)


def _literal_union(base: ByteDFA | None, texts: Sequence[str], max_states: int,
                   where: str) -> ByteDFA:
    starts, finals, edge_start, edge_byte, edge_dst = _literal_edges(texts, True,
                                                                     max_states, where)
    kept = starts >= 0
    if base is None and not kept.any():
        return ByteDFA(np.zeros((0, 256), dtype=np.int32), np.zeros(0, dtype=np.bool_))
    accept = np.zeros(len(edge_start) - 1, dtype=np.bool_)
    accept[finals[kept]] = True
    check_deadline(f"{len(texts)} JSON string literals at {where or 'a terminal'}")
    class_of = edge_byte_classes(edge_start, edge_byte, edge_dst)
    if base is None:
        base_trans, base_accept = np.zeros((0, 256), dtype=np.int32), np.zeros(0, np.bool_)
    else:
        base_trans, base_accept = base.trans, base.accept
        class_of = joint_classes(np.stack([class_of, base.byte_class_of]))
    trans, acc, ok = minimal_union(starts[kept], edge_start, edge_byte, edge_dst, accept,
                                   np.ascontiguousarray(base_trans, dtype=np.int32),
                                   np.ascontiguousarray(base_accept, dtype=np.bool_),
                                   class_of, max_states)
    if not ok:
        raise LimitExceededError("max_dfa_states", max_states, max_states + 1,
                                 where or "a set of JSON string literals")
    return _with_byte_classes(trans, acc, class_of)


def _literal_edges(texts: Sequence[str], quoted: bool, max_states: int, where: str
                   ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                              NDArray[np.int32], NDArray[np.int32]]:
    """``native.dfa_kernels.json_literal_edges`` for Python strings; raises
    ``LimitExceededError`` for a literal past ``max_states`` states."""
    joined = "".join(texts)
    # UTF-32 keeps lone surrogates out of the encoder's way: "surrogatepass" writes them.
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    starts, finals, edge_start, edge_byte, edge_dst, failed = json_literal_edges(
        cps.astype(np.int64), offsets, quoted, max_states)
    if failed >= 0:
        text = texts[failed]
        raise LimitExceededError("max_dfa_states", max_states, max_states + 1,
                                 where or f"the JSON string literal {text[:40]!r}...")
    return starts, finals, edge_start, edge_byte, edge_dst


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
