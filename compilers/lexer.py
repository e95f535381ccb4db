"""Terminal DFAs -> the contextual lexer automaton, grown lazily.

A lexer state is the tuple of every terminal's DFA state (``-1`` where that terminal is
out of the running), plus a flag telling a fresh lexeme (nothing read yet) apart. The start
state for a set of allowed terminals (those the parser can shift next, plus the ignored
ones) is created the first time a matcher needs it; the states reachable from it are then
explored at once, so the transition table the kernels read is complete for every state id
it contains. The first state ids are the terminal DFAs' own states: a lexeme that only one
(eager) terminal can still match is in that DFA state, whose row is already in the table,
so only fresh states and states with several live terminals are explored.

Lexing rule (maximal munch, no backtracking): a byte extends the current lexeme while some
allowed terminal can still match; otherwise the lexeme ends as its *top* terminal (highest
priority, then literal before regex, then declaration order) and the byte starts the next
lexeme. A lazy top terminal ends the lexeme as soon as it matches.

With ``all_readings`` (grammars whose terminals carry no tie-breaking intent, such as the
JSON Schema compiler's), a lexeme that several terminals of the top priority match is
read as each of them: its *reading* is then an id ``>= n_terminals`` naming that set
(:meth:`ContextualLexer.reading`), and the parser continues with every reading.
"""

from __future__ import annotations

import functools
import threading
from array import array
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from compilers.automata import ByteDFA
from compilers.budget import check_deadline
from compilers.errors import LimitExceededError
from compilers.memo import CacheDict
from compilers.shift_classes import ShiftClasses, shift_classes
from native.dfa_kernels import class_layout, joint_classes
from native.lexer_kernels import (
    GROW_DONE,
    canonical_hash,
    class_reps,
    closed_classes,
    dfa_closed_classes,
    grow_lexer,
    offset_rows,
    rehash_lexer,
)

__all__ = ["DEAD", "ContextualLexer"]


@functools.lru_cache(maxsize=4)
def _byte_flags(classes: tuple[bytes, ...]) -> NDArray[np.uint16]:
    """Per byte, the classes (bits) it belongs to."""
    flags = np.zeros(256, dtype=np.uint16)
    for k, members in enumerate(classes):
        flags[np.frombuffer(members, dtype=np.uint8)] |= np.uint16(1 << k)
    return flags


DEAD = -1
_NO_FLAGS = (np.zeros(0, dtype=np.uint16), 0)  # closed_classes before its first call
_RESERVED_STATES = 1 << 15  # lexer states reserved up front (virtual memory, 32 MiB of rows)
_INITIAL_SLOTS = 4096  # hash table of the explored states, doubled as they grow
_CANON_STATES = 1024  # largest automaton keyed by its canonical hash
# States with this many live automata (an object's key: every declared name, the undeclared
# key and its vetoes) are keyed by content alone: their canonical hash (about 80 us) almost
# never matches another content's (MaskBench, gpt-oss: 34 of 4,500 first tables).
_CANON_MAX_UNITS = 4
_CANON_MEMO_BYTES = 32 << 20  # content keys grow with the live terminals: bound the bytes
# Content signature of a lexer state -> (canonical key, positions of its labels among the
# live terminals in rank order); shared by every grammar of the process.
_canonical_of: CacheDict[tuple[bytes, int], tuple[bytes, tuple[int | tuple[int, ...], ...]]] = \
    CacheDict()
_canonical_bytes = [0]


class ContextualLexer:
    """The combined lexer automaton over a grammar's terminals (thread-safe, grows lazily).

    Parameters
    ----------
    dfas : list of ByteDFA
        One DFA per terminal, in the grammar's terminal order.
    ranks : list of tuple
        Sort key per terminal; the smallest matching key is the lexeme's terminal.
    lazy : list of bool
        Per terminal: the lexeme ends at its shortest match.
    ignored : list of bool
        Per terminal: skipped by the parser.
    max_states : int
        Limit on the number of lexer states.
    all_readings : bool
        Keep every top-priority terminal a lexeme matches, not just the first.
    excludes : list of tuple of ByteDFA, optional
        Per terminal: automata whose strings it does not match (``Terminal.exclude``). They
        are followed alongside the terminal's own DFA, as rows of their own (*veto* rows):
        a lexeme a veto row accepts is not its terminal's.
    """

    def __init__(self, dfas: Sequence[ByteDFA], ranks: Sequence[tuple[int, ...]],
                 lazy: Sequence[bool], ignored: Sequence[bool], max_states: int,
                 all_readings: bool = False,
                 excludes: Sequence[Sequence[ByteDFA]] | None = None) -> None:
        self.dfas = list(dfas)
        self.n_terminals = len(dfas)
        # Units: the terminals' DFAs, then the excluded automata (each with its terminal).
        vetoes = [(t, x) for t, ex in enumerate(excludes or ()) for x in ex if x.n_states]
        self._unit_dfas = self.dfas + [x for _, x in vetoes]
        unit_term = np.array([*range(self.n_terminals), *(t for t, _ in vetoes)],
                             dtype=np.int32)
        order = sorted(range(self.n_terminals), key=lambda i: ranks[i])
        self._tier = np.array([r[0] for r in ranks], dtype=np.int32)  # priority tiers
        self.all_readings = all_readings
        self._readings: list[tuple[int, ...]] = []
        self._reading_ids: dict[tuple[int, ...], int] = {}
        self.lazy = list(lazy)
        self.ignored = frozenset(i for i, x in enumerate(ignored) if x)
        self.max_states = max_states
        self._lock = threading.RLock()
        self._starts: dict[frozenset[int], int] = {}
        # The same, in the order made, keyed by bit set (bit t: terminal t allowed).
        self._start_bits: list[tuple[int, int]] = []
        # Every terminal DFA in one table of global state ids (see native.lexer_kernels),
        # the first rows of the lexer's own table: the state of a lexeme that only one
        # (eager) terminal can still match is that terminal's DFA state, a row already
        # there, so long single-terminal stretches (a string of bounded length has
        # thousands of states) cost no exploring.
        n_units = len(self._unit_dfas)
        sizes = np.fromiter((len(d.accept) for d in self._unit_dfas), dtype=np.int64,
                            count=n_units)
        self._unit_offset = np.zeros(n_units + 1, dtype=np.int64)
        np.cumsum(sizes, out=self._unit_offset[1:])
        self._offset = self._unit_offset[: self.n_terminals + 1]  # the terminals' DFAs
        self._veto_base = int(self._offset[-1])  # the first veto row
        total = self.base = int(self._unit_offset[-1])
        self._unit_of = np.repeat(np.arange(n_units, dtype=np.int32), sizes)
        self._term_of = unit_term[self._unit_of]
        # Per terminal, the start rows of its vetoes.
        self._veto_starts: dict[int, list[int]] = {}
        for u, (t, _) in enumerate(vetoes, start=self.n_terminals):
            self._veto_starts.setdefault(t, []).append(int(self._unit_offset[u]))
        self._rank_pos = np.zeros(self.n_terminals, dtype=np.int32)
        self._rank_pos[order] = np.arange(self.n_terminals, dtype=np.int32)
        self._lazy = np.array(self.lazy, dtype=np.bool_)
        # Room for many more states, reserved rather than filled: np.empty and np.zeros
        # pages are only mapped when written, so the arrays seldom grow (growing copies
        # every row).
        cap = 64
        while cap < min(4 * total, _RESERVED_STATES):
            cap *= 2
        cap += total
        self._trans = np.empty((cap, 256), dtype=np.int32)  # rows written when explored
        self._top = np.empty(cap, dtype=np.int32)  # likewise
        self._tied = np.zeros(cap, dtype=np.bool_)  # likewise
        self._fresh = np.zeros(cap, dtype=np.bool_)
        self._vec_start = np.zeros(cap + 1, dtype=np.int64)
        self._vec_pool = np.zeros(4 * cap, dtype=np.int32)
        self._slots = np.full(_INITIAL_SLOTS, -1, dtype=np.int32)  # explored states; grows
        if total:
            t_all = self._trans[:total]
            np.concatenate([d.trans for d in self._unit_dfas], out=t_all)
            offset_rows(t_all, np.repeat(self._unit_offset[:-1].astype(np.int32), sizes))
            accept = np.concatenate([d.accept for d in self._unit_dfas]
                                    ).astype(np.bool_, copy=False)
        else:
            accept = np.zeros(0, dtype=np.bool_)
        # Accepting rows: a terminal's own (``_acc_all``), and vetoes' (``_veto_acc``).
        self._acc_all = accept.copy()
        self._acc_all[self._veto_base:] = False
        self._veto_acc = accept
        self._veto_acc[: self._veto_base] = False
        # A DFA state stands for itself unless its terminal is lazy (a lazy match ends the
        # lexeme at once, so that lexer state has no transitions: it is explored instead);
        # a veto row never does.
        self._identity = ~self._lazy[self._term_of]
        self._identity[self._veto_base:] = False
        self._top[:total] = np.where(self._acc_all & self._identity, self._term_of, -1)
        self._vec_start[: total + 1] = np.arange(total + 1)
        self._vec_pool[:total] = np.arange(total)
        self._n = total
        self._arrays_snap: tuple[int, tuple[NDArray[np.int32], NDArray[np.int32]]] = (
            -1, (self._trans[:0], self._top[:0]))  # see arrays
        # Byte classes of the product: the common refinement of each DFA's (cached per DFA).
        parts = [d.byte_class_of for d in self._unit_dfas if d.n_states]
        class_of = (joint_classes(np.stack(parts)) if parts
                    else np.zeros(256, dtype=np.int32))
        self._class_of = class_of
        # Bytes where the class changes (rows are constant between them); each class's
        # first byte.
        layout: tuple[NDArray[np.int32], NDArray[np.int32]] = class_layout(class_of)
        self._class_starts, self._class_rep = layout
        self._signatures: CacheDict[tuple[int, int], tuple[bytes, tuple[int, ...]]] = \
            CacheDict()
        self._term_keys: list[bytes | None] | None = None  # built with the first signature
        # closed_classes: per byte-class tuple, the flags of the first states and how many,
        # and the bytes to check (one per run of equal columns in each class).
        self._closed: dict[tuple[bytes, ...], tuple[NDArray[np.uint16], int]] = {}
        self._closed_bytes: dict[tuple[bytes, ...], tuple[NDArray[np.int32],
                                                          NDArray[np.uint16]]] = {}
        self._term_of_ints = array("i")
        self._unit_of_ints = array("i")
        self._offset_ints = array("q")
        self._rank_ints = array("i")

    # -- read side (lock-free: arrays only grow, old snapshots stay valid) ------------
    @property
    def arrays(self) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """``(trans, top)`` covering every state created so far."""
        n = self._n
        snap = self._arrays_snap  # (n, (trans, top)) as last made: one read, no tearing
        if snap[0] == n:
            return snap[1]
        pair = (self._trans[:n], self._top[:n])
        self._arrays_snap = (n, pair)
        return pair

    @property
    def class_starts(self) -> NDArray[np.int32]:
        """The bytes where a row may change value: every row is constant from one to the
        next (the terminals' joint byte classes, as intervals)."""
        return self._class_starts

    @property
    def n_states(self) -> int:
        """Number of state ids: the terminal DFAs' states, then the explored ones."""
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes of the lexer's arrays, the per-state ones up to the states made so far
        (their spare capacity is allocated but not written)."""
        n = self._n
        per_state = {"_trans": self._trans, "_top": self._top, "_tied": self._tied,
                     "_fresh": self._fresh, "_vec_start": self._vec_start[: n + 1],
                     "_vec_pool": self._vec_pool[: int(self._vec_start[n])]}
        used = sum(int(a[:n].nbytes if name != "_vec_pool" else a.nbytes)
                   for name, a in per_state.items())
        return used + sum(int(v.nbytes) for name, v in vars(self).items()
                          if isinstance(v, np.ndarray) and name not in per_state)

    @property
    def n_explored(self) -> int:
        """States made by exploring (fresh lexemes and several live terminals)."""
        return self._n - self.base

    def reachable_states(self) -> list[int]:
        """Every state reachable from the fresh states created so far, in ascending order
        (the state ids also number DFA states that no lexeme has reached)."""
        trans, _ = self.arrays
        seen = np.zeros(len(trans), dtype=np.bool_)
        todo = [q for q in self._starts.values() if q >= 0]
        seen[todo] = True
        while todo:
            nxt = np.unique(trans[todo])
            nxt = nxt[nxt >= 0]
            nxt = nxt[~seen[nxt]]
            seen[nxt] = True
            todo = nxt.tolist()
        return np.flatnonzero(seen).tolist()

    @property
    def growth(self) -> int:
        """A number that grows whenever a state or a fresh state is added (so that
        arrays made from the lexer can tell they are out of date)."""
        return self._n + len(self._starts)

    @property
    def starts(self) -> dict[frozenset[int], int]:
        """Fresh-lexeme state of every allowed-terminal set met so far (do not modify)."""
        return self._starts

    def starts_since(self, count: int) -> list[tuple[int, int]]:
        """``(allowed-terminal bit set, fresh state)`` of the sets met after the first
        ``count``, in the order met."""
        return self._start_bits[count:]

    def top(self, state: int) -> int:
        return int(self._top[state]) if state >= 0 else -1

    def live_terminals(self, state: int) -> frozenset[int]:
        """The terminals a lexeme in ``state`` may still end as (terminal DFAs are
        trimmed: each of their states leads to acceptance)."""
        if state < 0:
            return frozenset()
        lo, hi = int(self._vec_start[state]), int(self._vec_start[state + 1])
        ids = self._vec_pool[lo:hi]
        return frozenset(self._term_of[ids[ids < self._veto_base]].tolist())

    def is_fresh(self, state: int) -> bool:
        return state >= 0 and bool(self._fresh[state])

    def step(self, state: int, byte: int) -> int:
        return int(self._trans[state, byte]) if state >= 0 else DEAD

    def closed_classes(self, classes: tuple[bytes, ...]) -> NDArray[np.uint16]:
        """Per state (every state so far), bit ``k`` set when every string of bytes of
        ``classes[k]`` (at most sixteen classes) stays inside the lexeme from that state.
        Computed for new states only: a state's rows, and so its flags, never change."""
        flags, done = self._closed.get(classes, _NO_FLAGS)
        n = self._n
        if done >= n:
            return flags[:n]
        with self._lock:
            flags, done = self._closed.get(classes, (flags, 0))
            n = self._n
            if done < n:
                if len(flags) < n:
                    grown = np.zeros(max(2 * len(flags), n, 64), dtype=np.uint16)
                    grown[:done] = flags[:done]
                    flags = grown
                if done == 0 and self.base:
                    self._dfa_flags(classes, flags)
                    done = self.base
                if done < n:
                    if classes not in self._closed_bytes:
                        self._closed_bytes[classes] = self._class_reps(classes)
                    closed_classes(self._trans, *self._closed_bytes[classes], flags, done, n)
                self._closed[classes] = (flags, n)
            return flags[:n]

    def _dfa_flags(self, classes: tuple[bytes, ...], flags: NDArray[np.uint16]) -> None:
        """Write the flags of the terminal DFAs' own rows (the first ``base`` states). Their
        rows lead only among themselves: each DFA's flags are memoised on the DFA (shared
        by every grammar that has it), computed at its byte classes when first met."""
        memos = [d.__dict__.setdefault("_closed_flags", {}) for d in self._unit_dfas]
        missing = [u for u, memo in enumerate(memos) if classes not in memo]
        if missing:
            offsets, byte_flags = self._unit_offset.tolist(), _byte_flags(classes)
            for u in missing:
                lo, hi = offsets[u], offsets[u + 1]
                dfa_closed_classes(self._trans, self._unit_dfas[u].byte_class_of, byte_flags,
                                   flags, lo, hi)
                memos[u][classes] = flags[lo:hi].copy()
        np.concatenate([memo[classes] for memo in memos], out=flags[: self.base])

    def _class_reps(self, classes: tuple[bytes, ...]
                    ) -> tuple[NDArray[np.int32], NDArray[np.uint16]]:
        """One byte per run of equal columns that meets some class, and the classes (bits)
        its run meets."""
        reps: tuple[NDArray[np.int32], NDArray[np.uint16]] = class_reps(
            self._class_of, _byte_flags(classes))
        return reps

    def signature(self, state: int, max_depth: int = 1 << 30
                  ) -> tuple[bytes, tuple[int, ...]]:
        """``(key, terminals)``: states with equal keys - in any grammar - behave alike up
        to the terminals' names on strings of at most ``max_depth`` bytes (the longest
        token), so they classify tokens alike; ``terminals`` names the terminals in the
        order the key numbers them.

        The key is a hash of the automaton reachable from ``state`` within ``max_depth``
        bytes, in canonical (breadth-first) numbering: an "additional property" key that
        has left every listed name behind and a plain string share it, and so do strings
        with 300 and 3,000 characters left. With ``_CANON_MAX_UNITS`` live automata or more,
        or past ``_CANON_STATES`` states, it is the live automata's content hashes and DFA
        states, in rank order. Past ``_CANON_STATES``, a terminal's own DFA state is named
        by its shift class (:mod:`compilers.shift_classes`), so that the positions of a
        string of at most 5,000 characters share one key.
        """
        sig = self._signatures.get((state, max_depth))
        if sig is None:
            # A terminal's own DFA state is keyed by its shift class when it has one (see
            # compilers.shift_classes): the positions along a counted string share a key.
            classes = self._shift_classes(state, max_depth, create=False)
            key_state = state if classes is None else self._shift_rep(state, classes)
            # The content signature is cheap and names the same automaton in every
            # grammar with the same terminal DFAs: it finds the canonical key computed
            # before, in this process, for any grammar.
            content, terms = self._content_signature(key_state)
            hit = _canonical_of.get((content, max_depth))
            if hit is None and self._n_units(key_state) >= _CANON_MAX_UNITS:
                hit = (content, tuple(range(len(terms))))
            elif hit is None:
                trans, top = self.arrays
                h1, h2, labels, m = canonical_hash(trans, top, np.int32(key_state),
                                                   _CANON_STATES, self._class_starts,
                                                   max_depth)
                if m >= 0:
                    key = b"C" + int(h1).to_bytes(8, "little") + int(h2).to_bytes(
                        8, "little") + max_depth.to_bytes(4, "little")
                    hit = (key, tuple(self.label_ref(t, terms) for t in labels.tolist()))
                else:
                    classes = self._shift_classes(state, max_depth, create=True)
                    if classes is not None:
                        term = int(self._term_of[state])
                        offset = int(self._offset[term])
                        classes.add_seed(self.dfas[term], key_state - offset)
                        key_state = self._shift_rep(key_state, classes)
                        content, terms = self._content_signature(key_state)
                    hit = _canonical_of.get((content, max_depth)) or \
                        (content, tuple(range(len(terms))))
                self._remember_canonical(content, max_depth, hit)
            sig = (hit[0], tuple(self.label_of(ref, terms) for ref in hit[1]))
            self._signatures[(state, max_depth)] = sig
        return sig

    def _n_units(self, state: int) -> int:
        """Number of live automata (terminal and veto rows) in ``state``."""
        return int(self._vec_start[state + 1] - self._vec_start[state])

    def own_dfa_state(self, state: int) -> tuple[ByteDFA, int] | None:
        """``(dfa, local state)`` when ``state`` is a state of one terminal's own DFA (the
        lexeme can only be that terminal's from here on), else None."""
        if not 0 <= state < self.base or not self._identity[state]:
            return None
        term = int(self._term_of[state])
        return self.dfas[term], state - int(self._offset[term])

    def _shift_classes(self, state: int, depth: int, create: bool) -> ShiftClasses | None:
        """The shift classes of the DFA ``state`` belongs to, if it is a terminal's own
        DFA state (None otherwise, or when not created yet and ``create`` is false)."""
        own = self.own_dfa_state(state)
        return None if own is None else shift_classes(own[0], depth, create)

    def _shift_rep(self, state: int, classes: ShiftClasses) -> int:
        offset = int(self._offset[self._term_of[state]])
        return offset + classes.rep(state - offset)

    @staticmethod
    def _remember_canonical(content: bytes, depth: int,
                            hit: tuple[bytes, tuple[int | tuple[int, ...], ...]]) -> None:
        size = 2 * len(content) + 8 * len(hit[1]) + 200
        if _canonical_bytes[0] + size > _CANON_MEMO_BYTES:
            _canonical_of.clear()
            _canonical_bytes[0] = 0
        _canonical_of[(content, depth)] = hit
        _canonical_bytes[0] += size

    def label_ref(self, top: int, terms: tuple[int, ...]) -> int | tuple[int, ...]:
        """A top value as positions in ``terms`` (a reading: the positions of its terminals),
        valid in every grammar whose state has the same content."""
        if top < self.n_terminals:
            return terms.index(top)
        return tuple(terms.index(t) for t in self.reading(top))

    def label_of(self, ref: int | tuple[int, ...], terms: tuple[int, ...]) -> int:
        if isinstance(ref, int):
            return terms[ref]
        same = tuple(sorted(terms[i] for i in ref))
        with self._lock:
            rid = self._reading_ids.get(same)
            if rid is None:
                rid = self._reading_ids[same] = self.n_terminals + len(self._readings)
                self._readings.append(same)
        return rid

    def _content_signature(self, state: int) -> tuple[bytes, tuple[int, ...]]:
        """The live units' DFA content hashes (a veto's marked as such), laziness and DFA
        states, in rank order (and the live terminals)."""
        if self._term_keys is None:
            # Per unit, made when first live (hashing).
            self._term_keys = [None] * len(self._unit_dfas)
            # Arrays of machine ints: indexed like lists, invisible to the gc.
            self._term_of_ints = array("i", self._term_of.astype(np.int32).tobytes())
            self._unit_of_ints = array("i", self._unit_of.astype(np.int32).tobytes())
            self._offset_ints = array("q", self._unit_offset.astype(np.int64).tobytes())
            self._rank_ints = array("i", self._rank_pos.astype(np.int32).tobytes())
        keys, term_of, unit_of, offs, rank = (self._term_keys, self._term_of_ints,
                                              self._unit_of_ints, self._offset_ints,
                                              self._rank_ints)
        lo, hi = int(self._vec_start[state]), int(self._vec_start[state + 1])
        # (rank, unit, local state, terminal): a terminal's own unit is numbered like it,
        # its vetoes after every terminal.
        items = sorted((rank[term_of[g]], u, g - offs[u], term_of[g])
                       for g in self._vec_pool[lo:hi].tolist() for u in (unit_of[g],))
        n_terms = self.n_terminals
        for _, u, _, t in items:
            if keys[u] is None:
                keys[u] = self._unit_dfas[u].digest + (
                    b"V" if u >= n_terms else b"L" if self.lazy[t] else b"-")
        # Lexers that keep every reading have other top terminals: never the same key.
        key = (b"R" if self.all_readings else b"D") + b"".join(
            keys[u] + local.to_bytes(4, "little") for _, u, local, _ in items)
        return key, tuple(t for _, u, _, t in items if u < n_terms)

    # -- growth ------------------------------------------------------------------------
    def start_state(self, allowed: frozenset[int]) -> int:
        """Fresh-lexeme state for the terminals in ``allowed`` plus the ignored ones."""
        s = self._starts.get(allowed)
        if s is not None:
            return s
        with self._lock:
            s = self._starts.get(allowed)
            if s is not None:
                return s
            live = allowed | self.ignored
            ids = [int(self._offset[i]) for i in sorted(live)
                   if 0 <= i < self.n_terminals and self.dfas[i].n_states]
            if self._veto_starts:
                ids += [v for i in sorted(live) for v in self._veto_starts.get(i, ())
                        if self.dfas[i].n_states]
            s = self._explore(np.array(sorted(ids), dtype=np.int32))
            self._start_bits.append((sum(1 << t for t in allowed), s))
            self._starts[allowed] = s
            return s

    def reading(self, top: int) -> tuple[int, ...]:
        """The terminals a lexeme whose top is ``top`` is read as."""
        if top < self.n_terminals:
            return (top,)
        return self._readings[top - self.n_terminals]

    def _mark_readings(self, lo: int, hi: int) -> None:
        """With ``all_readings``: states ``lo..hi-1`` that several top-tier terminals accept
        (``tied``) get a reading id (``>= n_terminals``) as their top."""
        tied = self._tied[lo:hi]
        if not np.count_nonzero(tied):
            return
        for s in (np.flatnonzero(tied) + lo).tolist():
            top = int(self._top[s])
            ids = self._vec_pool[self._vec_start[s] : self._vec_start[s + 1]]
            vetoed = set(self._term_of[ids[self._veto_acc[ids]]].tolist())
            terms = self._term_of[ids[self._acc_all[ids]]].tolist()
            same = sorted({t for t in terms
                           if self._tier[t] == self._tier[top] and t not in vetoed})
            self._top[s] = self.label_of(tuple(range(len(same))), tuple(same))

    def _grow(self, n: int) -> None:
        """Make room after ``grow_lexer`` ran out (``n`` states so far): double whichever
        of the state arrays, the vector pool and the hash table is full."""
        if n + 1 >= self._trans.shape[0]:
            cap = 2 * self._trans.shape[0]
            # Rows past ``n`` are written in full when their state is explored, so they
            # need no filling (filling tens of megabytes was the slowest step of a visit).
            trans = np.empty((cap, 256), dtype=np.int32)
            trans[:n] = self._trans[:n]
            top = np.empty(cap, dtype=np.int32)
            top[:n] = self._top[:n]
            tied = np.empty(cap, dtype=np.bool_)
            tied[:n] = self._tied[:n]
            fresh = np.zeros(cap, dtype=np.bool_)
            fresh[:n] = self._fresh[:n]
            vec_start = np.zeros(cap + 1, dtype=np.int64)
            vec_start[: n + 1] = self._vec_start[: n + 1]
            self._trans, self._top, self._tied, self._fresh = trans, top, tied, fresh
            self._vec_start = vec_start
        used = int(self._vec_start[n])
        if used + len(self._unit_dfas) + 1 > self._vec_pool.shape[0]:  # may not fit
            pool = np.zeros(2 * self._vec_pool.shape[0], dtype=np.int32)
            pool[:used] = self._vec_pool[:used]
            self._vec_pool = pool
        explored = n - self.base
        if 2 * (explored + 2) > self._slots.shape[0]:
            size = self._slots.shape[0]
            while 2 * (explored + 2) > size // 2:  # keep the load at most a quarter
                size *= 2
            self._slots = self.rehashed(n, size)

    def rehashed(self, n: int, size: int) -> NDArray[np.int32]:
        """A hash table of ``size`` slots holding the explored states before ``n``."""
        slots = np.full(size, -1, dtype=np.int32)
        rehash_lexer(self.base, n, self._fresh, self._vec_start, self._vec_pool, slots)
        return slots

    def _explore(self, start: NDArray[np.int32]) -> int:
        """The fresh state ``start`` (sorted live global ids), with every state reachable
        from it that does not exist yet (one kernel call, more when the arrays grow)."""
        if len(start) == 0:
            return DEAD
        n, root, cursor = self._n, -1, self._n
        while True:
            check_deadline(f"contextual lexer ({n} states)")
            status, n, root, cursor = grow_lexer(
                self._acc_all, self._veto_acc, self._veto_base, self._term_of,
                self._rank_pos, self._tier, self._lazy,
                self._identity, self.base, self._class_of, self._class_rep, start,
                self._trans, self._top, self._tied, self._fresh, self._vec_start,
                self._vec_pool, self._slots, n, root, cursor)
            if n - self.base > self.max_states:
                # Drop what this call built: the hash table must not find those states.
                self._slots = self.rehashed(self._n, self._slots.shape[0])
                raise LimitExceededError("max_lexer_states", self.max_states, n - self.base,
                                         "contextual lexer")
            if status == GROW_DONE:
                break
            self._grow(n)
        if self.all_readings:
            self._mark_readings(self._n, n)
        # Publish only now: readers see ``_n`` states with complete rows.
        self._n = n
        return int(root)
