"""Terminal DFAs -> the contextual lexer automaton, grown lazily.

A lexer state is the tuple of every terminal's DFA state (``-1`` where that terminal is
out of the running), plus a flag telling a fresh lexeme (nothing read yet) apart. The start
state for a set of allowed terminals (those the parser can shift next, plus the ignored
ones) is created the first time a matcher needs it; the states reachable from it are then
explored at once, so the transition table the kernels read is complete for every state id
it contains.

Lexing rule (maximal munch, no backtracking): a byte extends the current lexeme while some
allowed terminal can still match; otherwise the lexeme ends as its *top* terminal (highest
priority, then literal before regex, then declaration order) and the byte starts the next
lexeme. A lazy top terminal ends the lexeme as soon as it matches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from compilers.automata import ByteDFA
from compilers.errors import LimitExceededError
from native.lexer_kernels import explore_lexer

__all__ = ["DEAD", "ContextualLexer"]

DEAD = -1


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
    """

    def __init__(self, dfas: Sequence[ByteDFA], ranks: Sequence[tuple[int, ...]],
                 lazy: Sequence[bool], ignored: Sequence[bool], max_states: int) -> None:
        self.dfas = list(dfas)
        self.n_terminals = len(dfas)
        order = sorted(range(self.n_terminals), key=lambda i: ranks[i])
        self.lazy = list(lazy)
        self.ignored = frozenset(i for i, x in enumerate(ignored) if x)
        self.max_states = max_states
        self._lock = threading.RLock()
        # Key: (fresh, bytes of the sorted live global ids) -> lexer state.
        self._index: dict[tuple[bool, bytes], int] = {}
        self._starts: dict[frozenset[int], int] = {}
        cap = 64
        self._trans = np.full((cap, 256), DEAD, dtype=np.int32)
        self._top = np.full(cap, -1, dtype=np.int32)
        self._fresh = np.zeros(cap, dtype=np.bool_)
        self._n = 0
        # Every terminal DFA in one table of global state ids (see native.lexer_kernels).
        sizes = [d.n_states for d in self.dfas]
        self._offset = np.zeros(self.n_terminals + 1, dtype=np.int64)
        self._offset[1:] = np.cumsum(sizes)
        total = int(self._offset[-1])
        self._t_all = np.full((total, 256), DEAD, dtype=np.int32)
        self._acc_all = np.zeros(total, dtype=np.bool_)
        self._term_of = np.zeros(total, dtype=np.int32)
        for i, d in enumerate(self.dfas):
            lo, hi = int(self._offset[i]), int(self._offset[i + 1])
            if hi > lo:
                self._t_all[lo:hi] = np.where(d.trans >= 0, d.trans + lo, DEAD)
                self._acc_all[lo:hi] = d.accept
                self._term_of[lo:hi] = i
        self._rank_pos = np.zeros(self.n_terminals, dtype=np.int32)
        for pos, i in enumerate(order):
            self._rank_pos[i] = pos
        self._lazy = np.array(self.lazy, dtype=np.bool_)
        # Non-fresh lexer state holding exactly one live global id (-1: none yet); the
        # exploration kernel stops at these instead of exploring them again.
        self._single = np.full(total, -1, dtype=np.int32)
        self._vecs: list[bytes] = []  # per lexer state: its sorted live global ids
        self._signatures: dict[int, tuple[bytes, tuple[int, ...]]] = {}

    # -- read side (lock-free: arrays only grow, old snapshots stay valid) ------------
    @property
    def arrays(self) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """``(trans, top)`` covering every state created so far."""
        n = self._n
        return self._trans[:n], self._top[:n]

    @property
    def n_states(self) -> int:
        return self._n

    @property
    def starts(self) -> dict[frozenset[int], int]:
        """Fresh-lexeme state of every allowed-terminal set met so far (do not modify)."""
        return self._starts

    def top(self, state: int) -> int:
        return int(self._top[state]) if state >= 0 else -1

    def is_fresh(self, state: int) -> bool:
        return state >= 0 and bool(self._fresh[state])

    def step(self, state: int, byte: int) -> int:
        return int(self._trans[state, byte]) if state >= 0 else DEAD

    def signature(self, state: int) -> tuple[bytes, tuple[int, ...]]:
        """``(key, terminals)``: ``key`` determines the behaviour of the automaton from
        ``state`` (the content hash, DFA state and laziness of each live terminal, in rank
        order), so states with equal keys - in any grammar - classify tokens alike;
        ``terminals`` are the live terminals in that order."""
        sig = self._signatures.get(state)
        if sig is None:
            ids = np.frombuffer(self._vecs[state], dtype=np.int32)
            terms = self._term_of[ids].tolist()
            order = sorted(range(len(terms)), key=lambda j: int(self._rank_pos[terms[j]]))
            parts = []
            for j in order:
                t = terms[j]
                local = int(ids[j]) - int(self._offset[t])
                parts.append(self.dfas[t].digest + local.to_bytes(4, "little")
                             + (b"L" if self.lazy[t] else b"-"))
            sig = (b"".join(parts), tuple(terms[j] for j in order))
            self._signatures[state] = sig
        return sig

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
            s = self._explore(np.array(ids, dtype=np.int32))
            self._starts[allowed] = s
            return s

    def _reserve(self, extra: int) -> None:
        n = self._n
        if n + extra > self.max_states:
            raise LimitExceededError("max_lexer_states", self.max_states, n + extra,
                                     "contextual lexer")
        cap = self._trans.shape[0]
        if n + extra <= cap:
            return
        while cap < n + extra:
            cap *= 2
        trans = np.full((cap, 256), DEAD, dtype=np.int32)
        trans[:n] = self._trans[:n]
        top = np.full(cap, -1, dtype=np.int32)
        top[:n] = self._top[:n]
        fresh = np.zeros(cap, dtype=np.bool_)
        fresh[:n] = self._fresh[:n]
        self._trans, self._top, self._fresh = trans, top, fresh

    def _explore(self, start: NDArray[np.int32]) -> int:
        """Create the fresh state ``start`` (sorted live global ids) and every state
        reachable from it that does not exist yet; states are shared by key."""
        if len(start) == 0:
            return DEAD
        root_key = (True, start.tobytes())
        existing = self._index.get(root_key)
        if existing is not None:
            return existing
        vecs, ltrans, ltop = explore_lexer(self._t_all, self._acc_all, self._term_of,
                                           self._rank_pos, self._lazy, self._single,
                                           start, self.max_states + 1)
        if len(vecs) == 0:
            raise LimitExceededError("max_lexer_states", self.max_states,
                                     self.max_states + 1, "contextual lexer")
        width = 4 * vecs.shape[1]
        counts = (vecs >= 0).sum(axis=1).tolist()
        raw = vecs.tobytes()
        index = self._index
        gmap = np.empty(len(vecs), dtype=np.int32)
        keys: list[tuple[bool, bytes]] = []
        new_local: list[int] = []
        n = self._n
        for i, c in enumerate(counts):
            key = (i == 0, raw[i * width : i * width + 4 * c])
            g = index.get(key)
            if g is None:
                g = n + len(new_local)
                new_local.append(i)
                keys.append(key)
            gmap[i] = g
        self._reserve(len(new_local))
        sel = np.array(new_local, dtype=np.int64)
        rows = ltrans[sel]
        # Local ids, -1 (no transition), or -2 - g for an existing singleton state g.
        self._trans[n : n + len(sel)] = np.where(rows >= 0, gmap[np.maximum(rows, 0)],
                                                 np.where(rows <= -2, -2 - rows, DEAD))
        self._top[n : n + len(sel)] = ltop[sel]
        self._fresh[n : n + len(sel)] = sel == 0
        for key, g in zip(keys, range(n, n + len(sel)), strict=True):
            index[key] = g
            self._vecs.append(key[1])
            if not key[0] and len(key[1]) == 4:
                self._single[int.from_bytes(key[1], "little", signed=True)] = g
        self._n = n + len(sel)
        return int(gmap[0])
