"""Lexer state x vocabulary -> cached token classes (the token-level index).

For a lexer state ``q`` the vocabulary splits three ways, independent of the parser:

* tokens that stay inside the current lexeme (every byte extends it): allowed, one cached
  bitmask ``inside``;
* tokens that hit a dead end inside the lexeme: rejected;
* tokens that end the lexeme part-way (``boundary``): their verdict depends on the parser,
  so they are kept as lists grouped by the terminal the lexeme becomes, together with the
  byte where the rest of the token starts; the matcher checks them at run time. They are
  named by their position in the vocabulary's sorted order, so that the walks over them
  read the sorted token bytes sequentially.

Tokens whose *first* byte ends an accepting lexeme are kept as a bitmask ``first_dead``:
the matcher resolves all of them at once from the next lexeme's own table. Tables are
built the first time a matcher reaches ``q`` (one kernel call) and shared by all matchers;
they are also kept in a process-wide cache keyed by the state's behaviour signature, so
another grammar with the same terminals (every JSON schema has strings, numbers and
punctuation) reuses them. The same holds for the walk of a boundary group's remaining
bytes from the next lexeme's fresh state (:meth:`TokenIndex.walk_group`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from compilers.automata import ByteDFA, repeat_layout
from compilers.errors import LimitExceededError
from compilers.lexer import ContextualLexer
from compilers.shared_tables import shared_tables
from compilers.token_slices import (
    NO_RESTARTS,
    SLICE_MAX_LEN,
    TokenSlice,
    quote_free_slice,
    text_slices,
    word_slices,
)
from compilers.token_trie import BYTE_CLASSES, token_trie
from compilers.vocab import Vocabulary
from native.kernels import classify_tokens, group_by_label, set_bits, walk_tokens
from native.lexer_kernels import stays_alive

__all__ = ["GroupWalk", "StateTokens", "TokenIndex"]

# Bound on the search for the long-token slice (see slice_for): inside a string it meets a
# few dozen (lexer state, text state) pairs; a string of bounded length (a counter) meets
# many more before it fails at its bound, a search not worth its cost.
_LONG_SLICE_PAIRS = 128

# A group's label: a terminal or reading id once relabelled for one grammar; in the tables
# shared across grammars, relative to the state's signature terms (a position, or for a
# reading the signature does not list, the positions of its terminals).
Label = int | tuple[int, ...]
Groups = tuple[tuple[Any, NDArray[np.int32], NDArray[np.int32]], ...]


@dataclass(frozen=True, eq=False)
class StateTokens:
    """Token classes for one lexer state (see the module docstring)."""

    inside: NDArray[np.uint32]
    first_dead: NDArray[np.uint32]
    # One entry per terminal a lexeme can end as: (terminal, positions of the tokens in the
    # vocabulary's sorted order (increasing), byte offsets where their rest starts).
    groups: Groups
    # Per group, the byte each token's rest starts with (a walk of the group from a fresh
    # state skips the tokens whose rest dies at once without reading them); may be empty.
    group_firsts: tuple[NDArray[np.uint8], ...] = ()

    @property
    def has_first_dead(self) -> bool:
        """Whether some token's first byte ends the lexeme (without scanning the bits: an
        empty ``first_dead`` is the shared all-zero array)."""
        return _empty_words.get(len(self.first_dead)) is not self.first_dead

    def firsts(self, gi: int) -> NDArray[np.uint8]:
        """The bytes group ``gi``'s rests start with (empty where not kept)."""
        return self.group_firsts[gi] if self.group_firsts else _NO_FIRSTS

    @property
    def nbytes(self) -> int:
        return _own_nbytes(self.inside) + _own_nbytes(self.first_dead) + \
            _groups_nbytes(self.groups) + sum(f.nbytes for f in self.group_firsts)


class GroupWalk(NamedTuple):
    """The remaining bytes of a boundary group's tokens walked from a fresh lexer state:
    the tokens that stay inside the new lexeme (as ids, or as dense bits when many) and,
    per terminal, the tokens (by sorted position) that end it and where their rest starts."""

    inside_ids: NDArray[np.int32] | None
    inside_bits: NDArray[np.uint32] | None
    crossing: Groups

    @property
    def nbytes(self) -> int:
        arr = self.inside_ids if self.inside_ids is not None else self.inside_bits
        return int((arr.nbytes if arr is not None else 0) + _groups_nbytes(self.crossing))


def _own_nbytes(words: NDArray[np.uint32]) -> int:
    """Bytes of ``words``, 0 for the shared all-zero arrays."""
    return 0 if _empty_words.get(len(words)) is words else int(words.nbytes)


def _groups_nbytes(groups: Groups) -> int:
    return sum(t.nbytes + o.nbytes for _, t, o in groups)


_empty_words: dict[int, NDArray[np.uint32]] = {}


def _shared_if_empty(words: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """``words`` made read-only, or one shared all-zero array when no bit is set (most
    states have no ``first_dead`` tokens, and many no ``inside`` ones)."""
    if np.count_nonzero(words):  # (faster than words.any())
        return _readonly(words)
    zero = _empty_words.get(len(words))
    if zero is None:
        zero = _empty_words.setdefault(len(words), _readonly(np.zeros_like(words)))
    return zero


def _grouped(labels: NDArray[np.int32], *columns: NDArray[Any]
             ) -> list[tuple[Any, ...]]:
    """``(label, *columns)`` per distinct label, ascending, each column keeping its order
    (one kernel call; most lists have one label, taken as they are)."""
    if labels[0] == labels[-1] and not np.count_nonzero(labels != labels[0]):
        return [(int(labels[0]), *(_readonly(c) for c in columns))]
    order, distinct, bounds = group_by_label(labels)
    columns = tuple(c[order] for c in columns)
    return [(label, *(_readonly(c[lo:hi]) for c in columns))
            for label, lo, hi in zip(distinct.tolist(), bounds[:-1].tolist(),
                                     bounds[1:].tolist(), strict=True)]


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a.flags.writeable = False
    return a


_NO_FIRSTS = _readonly(np.zeros(0, dtype=np.uint8))


_layouts: dict[str, tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.int64],
                          NDArray[np.int32]]] = {}
_layout_lock = threading.Lock()


def _sorted_layout(vocab: Vocabulary) -> tuple[NDArray[np.int64], NDArray[np.uint8],
                                               NDArray[np.int64], NDArray[np.int32]]:
    """Token bytes re-laid in sorted order, plus each first byte's range (per vocabulary)."""
    with _layout_lock:
        hit = _layouts.get(vocab.fingerprint)
        if hit is not None:
            return hit
        va = vocab.arrays
        ids = va.sorted_ids
        lens = va.token_len[ids].astype(np.int32)
        starts = np.zeros(len(ids), dtype=np.int64)
        if len(ids):
            starts[1:] = np.cumsum(lens[:-1], dtype=np.int64)
        # Gather every token's bytes in sorted order: source offset of each output byte.
        shift = np.repeat(va.token_start[ids] - starts, lens)
        sorted_data = np.ascontiguousarray(va.token_data[np.arange(len(shift)) + shift])
        firsts = sorted_data[starts] if len(ids) else np.zeros(0, dtype=np.uint8)
        bounds = np.searchsorted(firsts, np.arange(257)).astype(np.int64)
        # Read-only, like the vocabulary's own arrays: a kernel called with the same
        # types everywhere has one compiled specialization, loaded once per process.
        _layouts[vocab.fingerprint] = (_readonly(bounds), _readonly(sorted_data),
                                       _readonly(starts), _readonly(lens))
        return _layouts[vocab.fingerprint]


def _reads_text_chars(unit: ByteDFA, sl: TokenSlice) -> bool:
    """Whether ``unit`` reads every character of the text slice ``sl`` as one whole string
    of its own (accepting at the character's last byte, not before): a search over pairs
    (unit state, text state) from both starts. Memoised on the unit."""
    memo = unit.__dict__.setdefault("_reads_text_chars", {})
    key = id(sl.text_dfa)
    hit: bool | None = memo.get(key)
    if hit is None:
        hit = True
        text, trans, accept = sl.text_dfa, unit.trans, unit.accept
        todo, seen = [(0, 0)], {(0, 0)}
        while todo and hit:
            s, u = todo.pop()
            read = np.flatnonzero(text[u] >= 0)
            nxt_s, nxt_u = trans[s, read], text[u, read]
            if (nxt_s < 0).any() or (accept[np.maximum(nxt_s, 0)] != (nxt_u == 0)).any():
                hit = False
                break
            inner = nxt_u != 0  # inside a character: go on
            for pair in set(zip(nxt_s[inner].tolist(), nxt_u[inner].tolist(), strict=True)):
                if pair not in seen:
                    seen.add(pair)
                    todo.append(pair)
        memo[key] = hit
    return hit


class TokenIndex:
    """Lazily built :class:`StateTokens` for every lexer state a matcher reaches."""

    def __init__(self, lexer: ContextualLexer, vocab: Vocabulary,
                 max_bytes: int = 2 << 30) -> None:
        self.lexer = lexer
        self.vocab = vocab
        self.max_bytes = max_bytes
        self._bytes = 0
        self._tables: dict[int, StateTokens] = {}
        self._restart_tables: dict[int, StateTokens] = {}
        # Tables of states inside an ignored lexeme, per the state after it (see ``get``).
        self._into_tables: dict[tuple[int, int], StateTokens] = {}
        # Top values whose lexemes restart in the state (see ``get``): ignored terminals.
        restarts = np.zeros(lexer.n_terminals, dtype=np.bool_)
        restarts[sorted(lexer.ignored)] = True
        self._restarts = _readonly(restarts)
        self._lock = threading.Lock()
        layout = _sorted_layout(vocab)
        self.first_byte_bounds, self.sorted_data, self.sorted_start, self.sorted_len = layout
        va = vocab.arrays
        self.trie = token_trie((vocab.fingerprint, 0), va.sorted_ids, va.lcp, self.sorted_len,
                               self.sorted_data, self.sorted_start, vocab.n_words)
        self.slices = text_slices(vocab, layout)
        self.word_slices = word_slices(vocab, layout)
        self.quote_free_slice = quote_free_slice(vocab, layout)
        # Per slice, the bytes where a lexer row or a text row may change (stays_alive
        # reads only those); made on first use.
        self._slice_starts: dict[int, NDArray[np.int32]] = {}
        # No token reads further from a state than this: states that agree up to here
        # share tables (see ContextualLexer.signature).
        self._depth = max(int(vocab.arrays.max_token_len), SLICE_MAX_LEN, 1)

    @property
    def n_built(self) -> int:
        return len(self._tables) + len(self._restart_tables) + len(self._into_tables)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for tables in (self._tables, self._restart_tables,
                                           self._into_tables)
                   for t in list(tables.values()))

    def get(self, q: int, restart_to: int = -1) -> StateTokens:
        """The table of lexer state ``q``, for parser stacks whose fresh lexer state is
        ``restart_to`` (-1: any stacks). With ``restart_to``, a lexeme of an ignored
        terminal is followed by a new lexeme from ``restart_to`` inside the walk rather
        than recorded as a boundary group (see ``classify_tokens``): ``q`` itself when it
        is fresh, the state after the whitespace when ``q`` is inside it. Without ignored
        terminals all tables of ``q`` are the same. Tables into another state than ``q``
        are the grammar's own (their labels are terminal ids, not shared)."""
        if restart_to < 0 or not self.lexer.ignored:
            return self._stored(self._tables, q, q, -1)
        if restart_to == q:
            return self._stored(self._restart_tables, q, q, q)
        return self._stored(self._into_tables, (q, restart_to), q, restart_to)

    def _stored(self, tables: dict[Any, StateTokens], key: object, q: int,
                restart_to: int) -> StateTokens:
        table = tables.get(key)
        if table is None:
            table = self._fetch(q, restart_to)
            with self._lock:
                if key not in tables:
                    if self._bytes + table.nbytes > self.max_bytes:
                        raise LimitExceededError("max_token_table_bytes", self.max_bytes,
                                                 self._bytes + table.nbytes,
                                                 f"token table of lexer state {q}")
                    self._bytes += table.nbytes
                table = tables.setdefault(key, table)
        return table

    def _fetch(self, q: int, restart_to: int = -1) -> StateTokens:
        """The table of ``q`` from the shared cache, or built now (and shared); a table
        restarting into another state is built for this grammar only."""
        if restart_to not in (-1, q):
            return self._build(q, None, restart_to)
        restart = restart_to == q
        sig, terms = self.lexer.signature(q, self._depth)
        key = self._table_key(sig, terms, restart)
        canon: StateTokens | None = shared_tables.get(key)
        if canon is None:
            canon = self._build(q, terms, restart_to)
            shared_tables.put(key, canon, canon.nbytes)
        return StateTokens(canon.inside, canon.first_dead, self._relabel(canon.groups, terms),
                           canon.group_firsts)

    def _table_key(self, sig: bytes, terms: tuple[int, ...], restart: bool) -> tuple[object, ...]:
        """Shared-cache key of a table: a restarting table also depends on which of the
        state's terminals the grammar ignores."""
        if not restart:
            return ("table", self.vocab.fingerprint, sig)
        ignored = self.lexer.ignored
        return ("table-restart", self.vocab.fingerprint, sig,
                tuple(t in ignored for t in terms))

    def _build(self, q: int, terms: tuple[int, ...] | None,
               restart_to: int = -1) -> StateTokens:
        """Classify the vocabulary from ``q`` (ignored lexemes restarting in
        ``restart_to``, if not -1); groups are labelled by position in ``terms`` (the
        state's live terminals in rank order), by terminal id when ``terms`` is None."""
        va = self.vocab.arrays
        trans, top = self.lexer.arrays
        restarts = self._restarts if restart_to >= 0 else NO_RESTARTS
        target = np.int32(restart_to if restart_to >= 0 else q)
        closed = self.lexer.closed_classes(BYTE_CLASSES)
        sl, fitting = self._counted_slice(q)
        if sl is None:
            sl = self.slice_for(q, restarts, target)
            fitting = sl.mask if sl is not None else None
        if sl is not None:
            # The slice's tokens stay inside (those that fit, in a string of bounded
            # length; the others die): walk only the rest of the vocabulary.
            tr = sl.rest_trie
            inside, first_dead, b_pos, b_off, b_term, b_byte = classify_tokens(
                trans, top, np.int32(q), sl.rest_ids, sl.rest_bounds, self.vocab.n_words,
                va.max_token_len, restarts, target, tr.tok_info, tr.nodes, closed,
                tr.all_bits)
            inside |= fitting
            b_pos = sl.rest_pos[b_pos].astype(np.int32)
        else:
            tr = self.trie
            inside, first_dead, b_pos, b_off, b_term, b_byte = classify_tokens(
                trans, top, np.int32(q), va.sorted_ids, self.first_byte_bounds,
                self.vocab.n_words, va.max_token_len, restarts, target, tr.tok_info,
                tr.nodes, closed, tr.all_bits)
        groups: list[tuple[Label, NDArray[np.int32], NDArray[np.int32], NDArray[np.uint8]]] = []
        if len(b_pos):
            groups = [(self._label(term, terms), toks, offs, firsts)
                      for term, toks, offs, firsts in _grouped(b_term, b_pos, b_off, b_byte)]
            # In label order, the same in every grammar that shares the table.
            groups.sort(key=lambda g: (isinstance(g[0], tuple), g[0]))
        return StateTokens(inside=_shared_if_empty(inside),
                           first_dead=_shared_if_empty(first_dead),
                           groups=tuple(g[:3] for g in groups),
                           group_firsts=tuple(g[3] for g in groups))

    def _counted_slice(self, q: int) -> tuple[TokenSlice | None, NDArray[np.uint32] | None]:
        """For a state of a JSON string of bounded length (``quoted_repeat_dfa`` of any
        character) at a character's start: the widest text slice and the bits of its
        tokens that fit in the characters left. They stay inside; the slice's longer ones
        die there, since no character of text ends the string. (None, None) elsewhere:
        ``slice_for``'s search would give up on such a string, whose count makes every
        position a state of its own."""
        own = self.lexer.own_dfa_state(q)
        layout = repeat_layout(own[0]) if own is not None else None
        if layout is None or not self.slices:
            return None, None
        left = layout.strings_left(own[1])  # type: ignore[index]
        sl = self.slices[0]
        if left == -1 or sl.max_len < self._depth or not _reads_text_chars(layout.unit, sl):
            return None, None
        return sl, sl.fitting(left)

    def slice_for(self, q: int, restarts: NDArray[np.bool_] = NO_RESTARTS,
                  restart_to: np.int32 | None = None) -> TokenSlice | None:
        """The widest slice whose tokens all stay inside the lexeme from ``q`` (ignored
        lexemes restarting in ``restart_to``, by default ``q``, per ``restarts``), if any:
        the widest text slice (they are nested: the narrowest is checked first), else the
        text slice without ``'`` (where ``'`` may end the lexeme), else the first word slice
        (see ``word_slices``)."""
        target = np.int32(q) if restart_to is None else restart_to
        trans, top = self.lexer.arrays
        if trans[q, 0x61] < 0:  # every slice holds "a": most states end here, unsearched
            return None
        # A slice whose tokens begin with a byte that ends the lexeme at q fails (unless
        # the lexeme at q is one that restarts: the byte may begin the next one).
        t = int(top[q])
        restarting = t >= 0 and len(restarts) > 0 and bool(restarts[t])

        def holds(sl: TokenSlice) -> bool:
            return (restarting or bool((trans[q, sl.first_bytes] >= 0).all())) and \
                self._stays_alive(q, sl, restarts, target)

        best = None
        if trans[q, 0x20] >= 0:  # every text slice holds " "
            # They are nested (widest first), and where one holds, the widest mostly
            # does: it is tried first, then the others from the narrowest up.
            if holds(self.slices[0]):
                return self.slices[0]
            for sl in reversed(self.slices[1:]):
                if not holds(sl):
                    break
                best = sl
            if best is None and holds(self.quote_free_slice):
                best = self.quote_free_slice
        if best is None:
            best = next((sl for sl in self.word_slices if holds(sl)), None)
        return best

    def _stays_alive(self, q: int, sl: TokenSlice, restarts: NDArray[np.bool_],
                     restart_to: np.int32) -> bool:
        trans, top = self.lexer.arrays
        closed = self.lexer.closed_classes(BYTE_CLASSES)
        pairs = _LONG_SLICE_PAIRS if sl.max_len > SLICE_MAX_LEN else 1 << 30
        starts = self._slice_starts.get(id(sl))
        if starts is None:
            marks = np.zeros(256, dtype=np.bool_)
            marks[self.lexer.class_starts] = True
            marks[sl.row_starts] = True
            starts = self._slice_starts[id(sl)] = np.flatnonzero(marks).astype(np.int32)
        return bool(stays_alive(trans, top, np.int32(q), sl.text_dfa, sl.max_len, pairs,
                                starts, restarts, restart_to, closed, sl.loop_bits))

    def _label(self, top: int, terms: tuple[int, ...] | None) -> Label:
        """Top value ``top`` relative to ``terms``: its position there, or (a reading the
        signature does not list) the positions of the terminals it reads as; ``top``
        itself when ``terms`` is None."""
        if terms is None:
            return top
        try:
            return terms.index(top)
        except ValueError:
            return self.lexer.label_ref(top, terms)

    def _relabel(self, groups: Groups, terms: tuple[int, ...]) -> Groups:
        """Replace each group's relative label by the top value it stands for."""
        return tuple((self.lexer.label_of(j, terms), t, o) for j, t, o in groups)

    def walk_group(self, q: int, gi: int, q2: int, restart_to: int = -1) -> GroupWalk:
        """Walk the rest of the tokens of group ``gi`` of ``q``'s table (the one for
        ``restart_to``, see ``get``) from the fresh lexer state ``q2`` (cached across
        grammars by both states' signatures, except for a table into another state)."""
        if restart_to not in (-1, q) and self.lexer.ignored:
            table = self.get(q, restart_to)
            _, toks, offs = table.groups[gi]
            return self.walk(q2, toks, offs, firsts=table.firsts(gi))
        restart = restart_to == q and bool(self.lexer.ignored)
        sig, terms = self.lexer.signature(q, self._depth)
        sig2, terms2 = self.lexer.signature(q2, self._depth)
        key = ("walk", self._table_key(sig, terms, restart), gi,
               self._table_key(sig2, terms2, True))
        canon: GroupWalk | None = shared_tables.get(key)
        if canon is None:
            table = self.get(q, restart_to)
            _, toks, offs = table.groups[gi]
            canon = self.walk(q2, toks, offs, terms2, table.firsts(gi))
            shared_tables.put(key, canon, canon.nbytes)
        return canon._replace(crossing=self._relabel(canon.crossing, terms2))

    def walk(self, q: int, toks: NDArray[np.int32], offs: NDArray[np.int32],
             terms: tuple[int, ...] | None = None,
             firsts: NDArray[np.uint8] = _NO_FIRSTS) -> GroupWalk:
        """Walk tokens (sorted positions) from byte ``offs`` in lexer state ``q``, the fresh
        state of the parser stacks the walk serves (so ignored lexemes restart in ``q``,
        see ``classify_tokens``); crossing groups are labelled by position in ``terms``
        (by terminal id when None). ``firsts``: the byte at each offset, or empty (see
        ``walk_tokens``)."""
        trans, top = self.lexer.arrays
        closed = self.lexer.closed_classes(BYTE_CLASSES)
        inside_pos, c_toks, c_at, c_terms = walk_tokens(
            trans, top, np.int32(q), toks, offs, firsts, self.sorted_data, self.sorted_start,
            self.sorted_len, self._restarts, self.trie.tok_info, self.trie.nodes, closed)
        # Left writable: set_bits reads these and the ids it gets elsewhere alike (one
        # kernel specialization).
        inside = self.vocab.arrays.sorted_ids[inside_pos]
        walk = GroupWalk(inside, None, ())
        if len(inside) > self.vocab.n_words:
            dense = np.zeros(self.vocab.n_words, dtype=np.uint32)
            set_bits(dense, inside)
            walk = GroupWalk(None, _readonly(dense), ())
        if len(c_toks):
            walk = walk._replace(crossing=tuple(
                (self._label(term, terms), toks, offs)
                for term, toks, offs in _grouped(c_terms, c_toks, c_at)))
        return walk
