"""Depth-equivalence classes of one terminal DFA's states, found by shifts.

Part of the token index's sharing (see ``ContextualLexer.signature``): a lexer state whose
surroundings within the longest token's length are too large to hash canonically (a string
of at most 5,000 characters: thousands of states within 128 bytes) would get a token table
of its own at every position. When such a state is one terminal's DFA state, the DFA is
searched once for a shift that maps each position to the next (``native.shift_kernels``);
the states it proves depth-equivalent form classes, and a state's key names its class's
smallest state, so every position far enough from both ends of the chain shares one table.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from compilers.automata import ByteDFA, class_starts
from native.shift_kernels import merge_shift

__all__ = ["ShiftClasses", "shift_classes"]

_SEED_STATES = 4096  # states a shift is extended over from one seed (~100 string positions)
_MAX_BACKOFF = 64  # calls to wait after a search that joined nothing, at most
_MAX_STATES = 1 << 22  # states kept over all DFAs (4 bytes each) before the cache starts over


class ShiftClasses:
    """Classes of depth-equivalent states of one DFA, grown by :meth:`add_seed`."""

    def __init__(self, n_states: int, depth: int) -> None:
        self.depth = depth
        self.root: NDArray[np.int32] = np.arange(n_states, dtype=np.int32)
        self._calls = 0
        self._next_try = 0  # after a seed that joined nothing: back off (see add_seed)
        self._lock = threading.Lock()

    def rep(self, s: int) -> int:
        """The smallest state known to be depth-equivalent to ``s``."""
        return int(self.root[s])

    def add_seed(self, dfa: ByteDFA, s: int) -> int:
        """Try the shift from ``s`` to the successor that most bytes lead to (one more
        position along a chain), extended over a few thousand states; returns the new
        :meth:`rep` of ``s``. When the chain ends within the depth from ``s``, or a search
        joins nothing (``s`` lies within the depth of the string's minimum length), the next
        search waits for as many calls as were made, at most ``_MAX_BACKOFF``: the classes
        are shared by every grammar of the process, so a seed that joins nothing must not
        hold off for long those that would."""
        with self._lock:
            self._calls += 1
            if self.rep(s) != s or self._calls < self._next_try:
                return self.rep(s)
            trans = np.ascontiguousarray(dfa.trans, dtype=np.int32)
            row = trans[s]
            targets, counts = np.unique(row[(row >= 0) & (row != s)], return_counts=True)
            if not len(targets):
                return s
            image = int(targets[np.argmax(counts)])
            if _dies_within_depth(trans, s, int(np.flatnonzero(row == image)[0]), self.depth):
                # The chain ends before the depth from here: nothing to join from this seed
                # (a position near the string's end, or inside a character), which says
                # nothing of the DFA's other positions.
                self._next_try = self._calls + min(self._calls, _MAX_BACKOFF)
                return s
            starts = class_starts(dfa.byte_class_of)
            root = self.root.copy()  # readers see the old classes or the new, whole
            joined = merge_shift(root, trans, np.ascontiguousarray(dfa.accept, dtype=np.bool_),
                                 np.int32(s), np.int32(image), np.int32(self.depth), starts,
                                 _SEED_STATES)
            if joined:
                self.root = root
            else:
                self._next_try = self._calls + min(self._calls, _MAX_BACKOFF)
            return self.rep(s)


def _dies_within_depth(trans: NDArray[np.int32], s: int, byte: int, depth: int) -> bool:
    """Whether repeating ``byte`` from ``s`` leaves the DFA within ``depth`` bytes (a cheap
    sign that no state on that path has a depth-equivalent shift). A path that has not
    died after as many bytes as the DFA has states is in a cycle: it never dies."""
    for _ in range(min(depth, trans.shape[0]) + 1):
        s = int(trans[s, byte])
        if s < 0:
            return True
    return False


_cache: dict[tuple[bytes, int], ShiftClasses] = {}
_cached_states = [0]
_cache_lock = threading.Lock()


def shift_classes(dfa: ByteDFA, depth: int, create: bool = True) -> ShiftClasses | None:
    """The process-wide classes of ``dfa`` (by content) at ``depth``; created when
    ``create``."""
    key = (dfa.digest, depth)
    hit = _cache.get(key)
    if hit is None and create:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is None:
                if _cached_states[0] + dfa.n_states > _MAX_STATES:
                    _cache.clear()
                    _cached_states[0] = 0
                hit = _cache[key] = ShiftClasses(dfa.n_states, depth)
                _cached_states[0] += dfa.n_states
    return hit
