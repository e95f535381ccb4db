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

With ``all_readings`` (grammars whose terminals carry no tie-breaking intent, such as the
JSON Schema compiler's), a lexeme that several terminals of the top priority match is
read as each of them: its *reading* is then an id ``>= n_terminals`` naming that set
(:meth:`ContextualLexer.reading`), and the parser continues with every reading.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from compilers.automata import ByteDFA
from compilers.budget import check_deadline
from compilers.errors import LimitExceededError

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
    all_readings : bool
        Keep every top-priority terminal a lexeme matches, not just the first.
    """

    def __init__(self, dfas: Sequence[ByteDFA], ranks: Sequence[tuple[int, ...]],
                 lazy: Sequence[bool], ignored: Sequence[bool], max_states: int,
                 all_readings: bool = False) -> None:
        self.dfas = list(dfas)
        self.n_terminals = len(dfas)
        self._ranks = list(ranks)
        self._order = sorted(range(self.n_terminals), key=lambda i: ranks[i])
        self.all_readings = all_readings
        self._readings: list[tuple[int, ...]] = []
        self._reading_ids: dict[tuple[int, ...], int] = {}
        self.lazy = list(lazy)
        self.ignored = frozenset(i for i, x in enumerate(ignored) if x)
        self.max_states = max_states
        self._lock = threading.RLock()
        self._index: dict[tuple[bool, tuple[int, ...]], int] = {}
        self._keys: list[tuple[bool, tuple[int, ...]]] = []
        self._starts: dict[frozenset[int], int] = {}
        cap = 64
        self._trans = np.full((cap, 256), DEAD, dtype=np.int32)
        self._top = np.full(cap, -1, dtype=np.int32)
        self._fresh = np.zeros(cap, dtype=np.bool_)
        self._n = 0
        # Per terminal: transition rows and accept flags padded with a dead state at -1.
        self._t_trans = []
        self._t_accept = []
        for d in self.dfas:
            tt = np.full((d.n_states + 1, 256), -1, dtype=np.int32)
            tt[: d.n_states] = d.trans
            ta = np.zeros(d.n_states + 1, dtype=np.bool_)
            ta[: d.n_states] = d.accept
            self._t_trans.append(tt)
            self._t_accept.append(ta)

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
            key = (True, tuple(0 if (i in live and self.dfas[i].n_states) else -1
                               for i in range(self.n_terminals)))
            s = self._explore(key)
            self._starts[allowed] = s
            return s

    def reading(self, top: int) -> tuple[int, ...]:
        """The terminals a lexeme whose top is ``top`` is read as."""
        if top < self.n_terminals:
            return (top,)
        return self._readings[top - self.n_terminals]

    def _top_of(self, vec: tuple[int, ...]) -> int:
        matched = [i for i in self._order if vec[i] >= 0 and self._t_accept[i][vec[i]]]
        if not matched:
            return -1
        if not self.all_readings:
            return matched[0]
        tier = self._ranks[matched[0]][0]
        same = tuple(sorted(i for i in matched if self._ranks[i][0] == tier))
        if len(same) == 1:
            return same[0]
        rid = self._reading_ids.get(same)
        if rid is None:
            rid = self._reading_ids[same] = self.n_terminals + len(self._readings)
            self._readings.append(same)
        return rid

    def _add(self, key: tuple[bool, tuple[int, ...]]) -> int:
        n = self._n
        if n >= self.max_states:
            raise LimitExceededError("max_lexer_states", self.max_states, n + 1,
                                     "contextual lexer")
        if n >= self._trans.shape[0]:
            cap = 2 * self._trans.shape[0]
            trans = np.full((cap, 256), DEAD, dtype=np.int32)
            trans[:n] = self._trans[:n]
            top = np.full(cap, -1, dtype=np.int32)
            top[:n] = self._top[:n]
            fresh = np.zeros(cap, dtype=np.bool_)
            fresh[:n] = self._fresh[:n]
            self._trans, self._top, self._fresh = trans, top, fresh
        self._keys.append(key)
        self._index[key] = n
        self._top[n] = self._top_of(key[1])
        self._fresh[n] = key[0]
        self._n = n + 1
        return n

    def _explore(self, key: tuple[bool, tuple[int, ...]]) -> int:
        existing = self._index.get(key)
        if existing is not None:
            return existing
        if all(x < 0 for x in key[1]):
            return DEAD
        n0 = self._n
        try:
            return self._explore_from(key)
        except BaseException:
            # Forget the half-explored states: their rows are incomplete, and no reader
            # can have reached them (the new start state was never returned).
            for k in self._keys[n0:]:
                del self._index[k]
            self._trans[n0 : self._n] = DEAD
            del self._keys[n0:]
            self._n = n0
            raise

    def _explore_from(self, key: tuple[bool, tuple[int, ...]]) -> int:
        root = self._add(key)
        work = [root]
        while work:
            check_deadline(f"contextual lexer ({self._n} states)")
            s = work.pop()
            vec = self._keys[s][1]
            top = int(self._top[s])
            if 0 <= top < self.n_terminals and self.lazy[top]:
                continue  # a lazy lexeme ends at its first match
            alive = [i for i, x in enumerate(vec) if x >= 0]
            rows = np.stack([self._t_trans[i][vec[i]] for i in alive])  # (k, 256)
            cols, inverse = np.unique(rows.T, axis=0, return_inverse=True)
            targets = np.full(len(cols), DEAD, dtype=np.int32)
            for c, col in enumerate(cols):
                if (col < 0).all():
                    continue
                full = [-1] * self.n_terminals
                for i, x in zip(alive, col.tolist(), strict=True):
                    full[i] = x
                nkey = (False, tuple(full))
                t = self._index.get(nkey)
                if t is None:
                    t = self._add(nkey)
                    work.append(t)
                targets[c] = t
            self._trans[s] = targets[inverse.reshape(-1)]
        return root
