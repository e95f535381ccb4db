"""Per-grammar run-time state: advancing over tokens and computing next-token masks.

A matcher state is ``(q, stacks)``: the contextual-lexer state of the lexeme in progress and
the parser stacks before it. Everything here is shared by the matchers of one compiled
grammar (thread-safe: caches are dictionaries written whole, the lexer and index lock
their own growth).

The mask for ``(q, stacks)`` is assembled from the token index (see
``compilers.token_index``): the cached ``inside`` bits of ``q``; the tokens whose first byte
ends the lexeme, taken from the next lexeme's mask; and the few boundary-crossing tokens,
grouped by the terminal the lexeme becomes, so that the parser runs once per group and a
kernel walks the rest of each token from the next lexer state.
"""

from __future__ import annotations

import contextlib
import decimal
import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from compilers.automata import ByteDFA
from compilers.budget import check_deadline, time_budget
from compilers.compiled import CompiledGrammar
from compilers.errors import LimitExceededError
from compilers.lexer import DEAD
from compilers.token_index import Groups, GroupWalk
from compilers.token_trie import BYTE_CLASSES
from compilers.vocab import Vocabulary
from grammar_engine.parser import LRParser, StackNode, Stacks
from native.glr_kernels import GLR_EXTRA_DEPTH, GLR_POOL, resolve_with_glr
from native.glr_mask import SEARCH_ABOVE, WALK_ABORTED, WALK_STATE, glr_mask
from native.kernels import (
    ACT_ERROR,
    KIND_BOUNDARY,
    KIND_INSIDE,
    merge_sorted,
    read_only,
    resolve_with_parser,
    set_allowed,
    set_bits,
    walk_bytes,
    walk_token,
)

__all__ = ["GrammarRuntime", "MatchState", "runtime_for"]

_CACHE_LIMIT = 4096
# Kernel runs over the tokens that met lexer states not created yet (see
# GrammarRuntime._resolve_in_kernel); what is left after them is finished in Python.
_KERNEL_ROUNDS = 4
# GLR stacks as the kernels take them: padded states, lengths, the depth the pools allow.
_StackArrays = tuple[NDArray[np.int32], NDArray[np.int32], np.int32]
_WALK_ROWS = 64  # room for the undecided subtrees of a glr_mask walk (more: called again)
# Tokens a walk may leave to Python one by one (a lexeme with several readings, stacks
# past the pools); past this the state's masks are the table path's (a whole vocabulary
# left so took seconds).
_WALK_PYTHON_TOKENS = 512
# compile_grammar's default ahead-of-time work (see GrammarRuntime.prepare): the fresh
# lexer states of this many parser configurations get their token tables, the first of
# them their masks, within this many seconds (a few milliseconds for the grammars of the
# tests).
PREPARED_CONFIGURATIONS = 64
PREPARED_MASK_CONFIGURATIONS = 16
PREPARE_SECONDS = 0.015
_EARLY_CONFIGURATIONS = 16  # parser configurations a GLR grammar's runtime explores
# glr_mask's first bytes to walk (256 bits in four words): every one, none.
_EVERY_BYTE = read_only(np.full(4, ~np.uint64(0), dtype=np.uint64))
_NO_BYTE = read_only(np.zeros(4, dtype=np.uint64))
NOT_CACHED = object()  # a cache lookup's default: None is a cached answer (rejected)


class MatchState(NamedTuple):
    """Lexer state of the lexeme in progress and the parser stacks before it; in grammars
    with arrays of distinct items, also the bytes of a lexeme in progress that may end as
    an item or item part (the parser checks it when it ends)."""

    q: int
    stacks: Stacks
    lexeme: bytes = b""


class GrammarRuntime:
    """Advance and mask operations for one compiled grammar."""

    # A table's boundary group of at most this many tokens goes straight to a resolve
    # kernel (see _compute_mask); larger ones are walked first, the walk cached.
    direct_group_limit = 2048
    # Children a GLR mask's trie walk visits before giving up for the table path.
    walk_visits = 1024

    def __init__(self, compiled: CompiledGrammar) -> None:
        self.compiled = compiled
        lim = compiled.options.limits
        terms = compiled.grammar.terminals
        unique_items = frozenset(i for i, t in enumerate(terms)
                                 if t.unique in ("item", "number"))
        self.unique_numbers = frozenset(i for i, t in enumerate(terms) if t.unique == "number")
        unique_keep = frozenset(i for i, t in enumerate(terms)
                                if t.unique == "separator" or t.ignored)
        item_parts = {i: t.unique for i, t in enumerate(terms) if t.unique.startswith("part-")}
        self.parser = LRParser(compiled.table, lim.max_parser_stacks, lim.max_stack_depth,
                               unique_items, unique_keep, item_parts, _json_item_key)
        self.tracks_values = bool(unique_items or item_parts)
        self.unique_items = unique_items
        self.item_parts = frozenset(item_parts)
        # Terminals whose lexemes the parser needs (values of items, texts of parts).
        self.valued = unique_items | self.item_parts
        # Lexer state -> may its lexeme still end as a valued terminal.
        self._may_be_unique: dict[int, bool] = {}
        self._ends_ignored: dict[int, bool] = {}
        self._ending_words: tuple[NDArray[np.uint32], NDArray[np.uint32]] | None = None
        # Item parts with a one-word language (true, null, "[]"), by terminal: their word.
        self._part_words: dict[int, bytes | None] = {}
        self._single_word_states: dict[int, tuple[int, ...] | None] = {}
        self._part_candidate_cache: dict[tuple[int, bool], NDArray[np.uint32]] = {}
        self._comma_words: NDArray[np.uint32] | None = None
        self.lexer = compiled.lexer
        self.index = compiled.index
        self.vocab = compiled.vocab
        self.varrays = compiled.vocab.arrays
        self.token_spans = compiled.vocab.token_spans
        self.ignored = self.lexer.ignored
        self.n_terminals = self.lexer.n_terminals
        self._start_cache: dict[Stacks, int] = {}
        # GLR feeds (several stacks or conflicting cells) cost a Python search: cached.
        self._feed_cache: dict[tuple[Stacks, int], Stacks | None] = {}
        # (state, token) -> next state (see advance_token; read by Matcher).
        self.advance_cache: dict[tuple[MatchState, int], MatchState | None] = {}
        self._mask_cache: dict[MatchState, NDArray[np.uint32]] = {}
        self._accept_cache: dict[MatchState, bool] = {}
        # (token list key, fresh lexer state) -> GroupWalk; independent of the parser stacks.
        self._walk_cache: dict[tuple[object, int], GroupWalk] = {}
        # Lexer states whose GLR masks the table path computes (a trie walk gave up).
        self._table_states: set[int] = set()
        self._glr_stack_cache: dict[Stacks, _StackArrays] = {}
        self._one_length: dict[int, NDArray[np.int32]] = {}  # (a single stack's lengths)
        self._max_stack_depth = compiled.options.limits.max_stack_depth
        self._n_words = compiled.vocab.n_words
        # glr_mask's leading arguments and what they were made for (see _walk_args).
        self._walk_args_made: tuple[tuple[int, int], tuple[Any, ...]] | None = None
        self._row_bits_made = np.zeros((0, 4), dtype=np.uint64)
        # A stack's states as the LR kernel reads them (it copies them, never writes).
        self._lr_stack_cache: dict[StackNode, NDArray[np.int32]] = {}
        # Per state, the words a fill copies (see fill_words; read by Matcher).
        self.fill_cache: dict[MatchState, NDArray[np.uint32] | None] = {}
        # The EOS tokens' bits, allowed where the output is complete.
        self.eos_mask = np.zeros(self.vocab.n_words, dtype=np.uint32)
        set_bits(self.eos_mask, np.array(self.vocab.eos_token_ids, dtype=np.int32))
        self.eos_mask.flags.writeable = False
        # (word, bit) of each EOS token: a walk sets them in its own mask (see _walk_mask).
        self._eos_bits = [(t >> 5, np.uint32(1 << (t & 31))) for t in self.vocab.eos_token_ids]
        self._mask_budget = lim.mask_time_budget
        self._lock = threading.Lock()
        self._prepared = False  # (see prepare)
        self._setup_parser_kernel(compiled)
        self.initial = MatchState(self.lex_start(self.parser.initial), self.parser.initial)
        if self.use_glr_kernel:
            # A GLR mask's walk that meets a fresh lexer state not made yet is walked
            # again once Python has made it: the first few configurations' are made now
            # (under a millisecond for the grammars of the tests). A limit met on the
            # way ends the exploration; a mask that meets it raises it.
            with contextlib.suppress(LimitExceededError):
                self._make_fresh_states(_EARLY_CONFIGURATIONS)

    def _setup_parser_kernel(self, compiled: CompiledGrammar) -> None:
        """LR tables for the kernels that follow boundary-crossing tokens through the
        parser (grammars with at most 64 terminals): dense actions for
        ``resolve_with_parser`` (LALR(1) tables), the table's action lists for
        ``resolve_with_glr`` (tables with conflicts, unless the parser checks lexemes'
        values). Otherwise those tokens are resolved in Python."""
        table = compiled.table
        small = table.n_terminals <= 64
        self.use_kernel = self.parser.deterministic and small
        self.use_glr_kernel = not self.parser.deterministic and small and \
            not self.tracks_values
        if not (self.use_kernel or self.use_glr_kernel):
            return
        if self.use_kernel:  # one action per cell
            act = np.full(table.n_states * table.n_terminals, ACT_ERROR, dtype=np.int32)
            full = table.filled_cells
            act[full] = table.cell_actions[table.cell_start[full]]
            self.k_act = act.reshape(table.n_states, table.n_terminals)
        else:  # every action of a cell
            self.k_cell_start = np.ascontiguousarray(table.cell_start, dtype=np.int32)
            self.k_cell_actions = np.ascontiguousarray(table.cell_actions, dtype=np.int32)
            self.k_n_terms = np.int32(table.n_terminals)
            self.k_max_len = np.int32(self.varrays.max_token_len)
        self.k_goto = np.ascontiguousarray(table.goto, dtype=np.int32)
        self.k_lhs = np.ascontiguousarray(table.rule_lhs, dtype=np.int32)
        self.k_len = np.ascontiguousarray(table.rule_len, dtype=np.int32)
        ignored = np.zeros(table.n_terminals, dtype=np.bool_)
        for t in self.ignored:
            ignored[t] = True
        self.k_ignored = ignored
        # (count, keys, vals), replaced whole so that threads never see keys of one
        # snapshot with values of another.
        self._start_snapshot: tuple[int, NDArray[np.uint64], NDArray[np.int32]] = (
            0, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32))
        if self.use_glr_kernel:
            lim = compiled.options.limits
            self._trie_children = self.index.trie.children(SEARCH_ABOVE)
            self._glr_pool_caps = (np.int32(min(GLR_POOL, lim.max_parser_stacks)),
                                   np.int32(min(GLR_POOL, 16 * lim.max_parser_stacks)))
            # Load (or, the first time after an install, compile: about 15 s) the GLR
            # kernel here rather than inside a mask, whose time budget it would spend.
            empty = read_only(np.zeros(0, dtype=np.int32))
            self._kernel_rounds(self._glr_run(0, self.parser.initial), _never, empty, empty,
                                empty, np.zeros(compiled.vocab.n_words, dtype=np.uint32))
            q0 = self.lex_start(self.parser.initial)
            self._run_glr_mask(q0, q0, self._glr_stacks(self.parser.initial), _NO_BYTE,
                               np.zeros(compiled.vocab.n_words, dtype=np.uint32),
                               np.empty((_WALK_ROWS, 4), dtype=np.uint64))

    def _start_arrays(self) -> tuple[NDArray[np.uint64], NDArray[np.int32]]:
        """The lexer's fresh states keyed by allowed-terminal bit sets, sorted by key. The
        lexer only ever adds fresh states, in order: the new ones are merged in."""
        count, keys, vals = self._start_snapshot
        if len(self.lexer.starts) != count:
            new = sorted(self.lexer.starts_since(count))
            keys, vals = merge_sorted(keys, vals,
                                      np.array([k for k, _ in new], dtype=np.uint64),
                                      np.array([q for _, q in new], dtype=np.int32))
            self._start_snapshot = (count + len(new), keys, vals)
        return keys, vals

    # -- parser + lexer glue -----------------------------------------------------------
    def lex_start(self, stacks: Stacks) -> int:
        """Fresh lexer state for what the parser can shift after ``stacks``."""
        q = self._start_cache.get(stacks)
        if q is None:
            q = self.lexer.start_state(self.parser.allowed(stacks))
            if len(self._start_cache) >= _CACHE_LIMIT:
                self._start_cache = {}
            self._start_cache[stacks] = q
        return q

    def end_lexeme(self, stacks: Stacks, terminal: int, lexeme: bytes | None = None
                   ) -> Stacks | None:
        """Stacks after a lexeme read as ``terminal`` (or as each terminal of a reading id,
        see :meth:`ContextualLexer.reading`), or None if the parser takes none. With the
        ``lexeme``'s bytes, a unique item is checked against its array's values."""
        if terminal in self.ignored:
            return stacks
        if terminal < self.n_terminals:  # without a lexeme (the common path) no check
            if lexeme is not None:
                return self._feed(stacks, terminal, lexeme)
            # Cached: a mask feeds one lexeme's terminal to the same stacks for each group
            # of tokens that end it, and a closing bracket's feed reduces a whole chain.
            key = (stacks, terminal)
            hit = self._feed_cache.get(key, NOT_CACHED)
            if hit is not NOT_CACHED:
                return hit  # type: ignore[return-value]
            after = self.parser.feed(stacks, terminal)
            if len(self._feed_cache) >= _CACHE_LIMIT:
                self._feed_cache = {}
            self._feed_cache[key] = after
            return after
        out: dict[object, None] = {}
        for t in self.lexer.reading(terminal):
            after = stacks if t in self.ignored else self._feed(stacks, t, lexeme)
            if after is not None:
                out.update(dict.fromkeys(after))
        return tuple(out) if out else None  # type: ignore[arg-type]

    def _feed(self, stacks: Stacks, terminal: int, lexeme: bytes | None) -> Stacks | None:
        """The parser's ``feed`` with what it checks a lexeme of ``terminal`` by: the
        decoded value of a unique string or number item (an undecodable one is refused),
        the bytes of an item part, nothing otherwise or without the lexeme."""
        if lexeme is None or terminal not in self.valued:
            return self.parser.feed(stacks, terminal)
        if terminal in self.item_parts:
            return self.parser.feed(stacks, terminal, lexeme)
        value = _json_number_value(lexeme) if terminal in self.unique_numbers \
            else _json_string_value(lexeme)
        return None if value is None else self.parser.feed(stacks, terminal, value)

    def is_accepting(self, state: MatchState) -> bool:
        hit = self._accept_cache.get(state)
        if hit is not None:
            return hit
        q, stacks = state.q, state.stacks
        if q == DEAD or self.lexer.is_fresh(q):
            ok = self.parser.accepts_end(stacks)
        else:
            t = self.lexer.top(q)
            lexeme = state.lexeme if self.tracks_values and self.may_be_unique(q) else None
            after = self.end_lexeme(stacks, t, lexeme) if t >= 0 else None
            ok = after is not None and self.parser.accepts_end(after)
        if len(self._accept_cache) >= _CACHE_LIMIT:
            self._accept_cache = {}
        self._accept_cache[state] = ok
        return ok

    # -- advancing ---------------------------------------------------------------------
    def advance_token(self, state: MatchState, token: int) -> MatchState | None:
        """State after the bytes of text token ``token``, or None if they leave the language
        (cached: decoding revisits states, and a state's next state per token is fixed)."""
        hit = self.advance_cache.get((state, token), NOT_CACHED)
        if hit is not NOT_CACHED:
            return hit  # type: ignore[return-value]
        return self.advance_miss(state, token)

    def advance_miss(self, state: MatchState, token: int) -> MatchState | None:
        """:meth:`advance_token` for a pair not in :attr:`advance_cache` (a matcher has
        just looked). A token inside the lexeme in progress, the common case in a string,
        costs one kernel call; one that stays in the same lexer state returns ``state``
        itself."""
        q = state.q
        if self.tracks_values or q == DEAD:
            starts, lens = self.token_spans
            after = self._advance(state, self.varrays.token_data, starts[token], lens[token])
        else:
            trans, top = self.lexer.arrays
            va = self.varrays
            kind, pos, q_end = walk_token(trans, top, q, va.token_data, va.token_start,
                                          va.token_len, token)
            if kind == KIND_INSIDE:
                after = state if q_end == q else MatchState(q_end, state.stacks)
            elif kind == KIND_BOUNDARY:
                starts, lens = self.token_spans
                after = self._advance_walk(q_end, pos, state.stacks, va.token_data,
                                           starts[token], lens[token])
            else:
                after = None
        if len(self.advance_cache) >= _CACHE_LIMIT:
            self.advance_cache = {}
        self.advance_cache[(state, token)] = after
        return after

    def advance_bytes(self, state: MatchState, data: bytes) -> MatchState | None:
        buf = np.frombuffer(data, dtype=np.uint8)
        return self._advance(state, buf, 0, len(data))

    def _advance(self, state: MatchState, buf: NDArray[np.uint8], start: int,
                 length: int) -> MatchState | None:
        if self.tracks_values:
            return self._advance_values(state, buf, start, length)
        q, stacks = state.q, state.stacks
        if q == DEAD:
            return None if length else state
        trans, top = self.lexer.arrays
        kind, pos, q_end = walk_bytes(trans, top, q, buf, start, 0, length)
        if kind == KIND_INSIDE:
            return MatchState(int(q_end), stacks)
        if kind != KIND_BOUNDARY:
            return None
        return self._advance_walk(int(q_end), pos, stacks, buf, start, length)

    def _advance_walk(self, q_end: int, pos: int, stacks: Stacks, buf: NDArray[np.uint8],
                      start: int, length: int) -> MatchState | None:
        """The rest of :meth:`_advance` from a lexeme that ends in lexer state ``q_end``
        at ``buf[start + pos]``: the parser takes it, the next lexeme starts there."""
        lexer = self.lexer
        while True:
            after = self.end_lexeme(stacks, int(lexer.top(q_end)))
            if after is None:
                return None
            stacks = after
            q = self.lex_start(stacks)
            if q == DEAD:
                return None if pos < length else MatchState(q, stacks)
            trans, top = lexer.arrays
            kind, pos, q_end = walk_bytes(trans, top, q, buf, start, pos, length)
            if kind == KIND_INSIDE:
                return MatchState(int(q_end), stacks)
            if kind != KIND_BOUNDARY:
                return None

    def _advance_values(self, state: MatchState, buf: NDArray[np.uint8], start: int,
                        length: int) -> MatchState | None:
        """:meth:`_advance` for grammars with unique items (a loop of its own, so that
        the common path stays lean): keeps the bytes of a lexeme that may end as an item
        or item part, hands them to the parser when it ends, and ends it at once when it
        cannot grow (a closing quote), so that a repeated value is refused on the token
        that completes it; a prefix that can only become used one-word items (``t`` after
        ``true``) is refused too."""
        q, stacks, lexeme = state
        lexer = self.lexer
        pos = 0
        while True:
            if q == DEAD:
                return None if pos < length else MatchState(q, stacks)
            trans, top = lexer.arrays
            begin = pos
            kind, pos, q_end = walk_bytes(trans, top, q, buf, start, pos, length)
            q_end = int(q_end)
            if kind == KIND_INSIDE:
                if not self.may_be_unique(q_end):
                    return MatchState(q_end, stacks)
                lexeme += bytes(buf[start + begin : start + pos])
                if (trans[q_end] >= 0).any():
                    if self.item_parts and not self._word_completable(q_end, stacks):
                        return None
                    return MatchState(q_end, stacks, lexeme)
                after = self.end_lexeme(stacks, int(top[q_end]), lexeme)
                if after is None:
                    return None
                return MatchState(self.lex_start(after), after)
            if kind != KIND_BOUNDARY:
                return None
            text = lexeme + bytes(buf[start + begin : start + pos]) \
                if self.may_be_unique(q_end) else None
            after = self.end_lexeme(stacks, int(top[q_end]), text)
            if after is None:
                return None
            stacks, lexeme = after, b""
            q = self.lex_start(stacks)

    def _word_completable(self, q: int, stacks: Stacks) -> bool:
        """False when the lexeme in ``q`` can only become one-word item parts (``true``,
        ``null``, ``[]``) and the parser refuses each of those words (a repeated item):
        such a prefix has no other future."""
        live = self._single_word_states.get(q, ())
        if live == ():
            terms = self.lexer.live_terminals(q)
            words = [self._part_word(t) if t in self.item_parts else None for t in terms]
            live = None if any(w is None for w in words) else tuple(sorted(terms))
            self._single_word_states[q] = live
        if live is None:
            return True
        return any(self._feed(stacks, t, self._part_word(t)) is not None for t in live)

    def _part_word(self, terminal: int) -> bytes | None:
        """The one word of an item part's language (None: it has more words)."""
        if terminal not in self._part_words:
            self._part_words[terminal] = None if self.compiled.excludes[terminal] else \
                _single_word(self.lexer.dfas[terminal])
        return self._part_words[terminal]

    def may_be_unique(self, q: int) -> bool:
        """Whether the lexeme in lexer state ``q`` may still end as a unique item or an
        item part (whose bytes the parser needs)."""
        hit = self._may_be_unique.get(q)
        if hit is None:
            hit = self._may_be_unique[q] = bool(
                self.lexer.live_terminals(q) & self.valued)
        return hit

    # -- ahead-of-time work ---------------------------------------------------------
    def prepare(self, max_configurations: int = PREPARED_CONFIGURATIONS,
                seconds: float = PREPARE_SECONDS) -> int:
        """Build now the token tables of the fresh lexer states (a lexeme's start after
        each allowed-terminal set) met in the first ``max_configurations`` parser
        configurations, breadth first, then of the states one byte into their lexemes,
        then the masks of the first :data:`PREPARED_MASK_CONFIGURATIONS` configurations
        at those states (a generation's first steps), for about ``seconds`` at most: what
        ``compile_grammar`` does by default, so that the first masks a matcher computes,
        which would otherwise build them, cost less. Once per runtime (later calls return
        0); a limit met on the way is left for the mask that meets it. Returns the number
        of tables built."""
        if self._prepared:
            return 0
        self._prepared = True
        n_before = self.index.n_built
        # (Under a budget of its own: the lexer's growth checks it, as in a mask.)
        with contextlib.suppress(LimitExceededError), time_budget("mask_time_budget", seconds):
            configurations = self._make_fresh_states(max_configurations)
            fresh = sorted(set(self.lexer.starts.values()) - {DEAD})
            for q in fresh:
                check_deadline("token tables ahead of time")
                self.index.get(q, restart_to=q)
            # Then the states one byte into a lexeme (a string's or a name's inside, not
            # whitespace, whose tables depend on the stacks): the next costliest visits.
            for q1 in sorted(set().union(*map(self._inner_states, fresh)) - set(fresh)):
                check_deadline("token tables ahead of time")
                self.index.get(q1)
            for stacks in configurations[:PREPARED_MASK_CONFIGURATIONS]:
                q0 = self.lex_start(stacks)
                if q0 != DEAD:
                    for q in (q0, *self._inner_states(q0)):
                        check_deadline("masks ahead of time")
                        self.fill_words(MatchState(q, stacks))
        return self.index.n_built - n_before

    def _inner_states(self, q: int) -> list[int]:
        """The lexer states one byte from fresh state ``q`` into a lexeme that is not
        ignored (whitespace)."""
        row = self.lexer.arrays[0][q]
        return [q1 for q1 in np.unique(row[row >= 0]).tolist()
                if q1 != q and not self._may_end_ignored(q1)]

    def precompute(self, max_configurations: int = 2000, stack_window: int = 8) -> int:
        """Build, now, the token tables that matchers would build on first visit.

        Explores parser configurations breadth first from the start (feeding every
        terminal the parser can shift), identifying configurations by their top
        ``stack_window`` LR states, until ``max_configurations`` have been seen; creates the
        lexer states of every allowed-terminal set met and builds every lexer state's
        table. Whatever it misses is still built lazily. Returns the number of tables.
        """
        self._make_fresh_states(max_configurations, stack_window)
        for q in self.lexer.reachable_states():
            self.index.get(q, restart_to=q if self.lexer.is_fresh(q) else -1)
        return self.index.n_built

    def _make_fresh_states(self, max_configurations: int, stack_window: int = 8
                           ) -> list[Stacks]:
        """Create the lexer's fresh state for each set of allowed terminals met while
        exploring parser configurations breadth first from the start (feeding every
        terminal the parser can shift), configurations identified by their top
        ``stack_window`` LR states, until ``max_configurations`` have been seen. Returns
        the stacks of each configuration, in the order met."""
        queue: deque[Stacks] = deque([self.parser.initial])
        seen: set[tuple[tuple[int, ...], ...]] = set()
        explored: list[Stacks] = []
        while queue and len(seen) < max_configurations:
            stacks = queue.popleft()
            key = tuple(sorted(tuple(n.states()[-stack_window:]) for n in stacks))
            if key in seen:
                continue
            seen.add(key)
            explored.append(stacks)
            self.lex_start(stacks)
            for t in sorted(self.parser.allowed(stacks)):
                after = self.end_lexeme(stacks, t)
                if after is not None and after is not stacks:
                    queue.append(after)
        return explored

    # -- masks -------------------------------------------------------------------------
    def mask_words(self, state: MatchState) -> NDArray[np.uint32]:
        """Bits of the text tokens allowed after ``state``. EOS is not included, except in
        a GLR walk's mask where the output is complete (so that :meth:`fill_words` need
        not copy it; a caller that wants text tokens only ANDs it with a token table).
        Cached; do not modify the returned array."""
        bits = self._mask_cache.get(state)
        if bits is None:
            # The walk first where it may serve (it opens the budget itself, only where
            # Python has work left: the kernel's own work is bounded by walk_visits).
            if self.use_glr_kernel and state.q not in self._table_states and \
                    len(state.stacks) <= GLR_POOL:
                bits = self._walk_mask(state)
            if bits is None:
                with time_budget("mask_time_budget", self._mask_budget):
                    bits = self._compute_mask(state.q, state.stacks)
                    if self.tracks_values:
                        self._drop_repeated_values(state, bits)
            bits.flags.writeable = False
            if len(self._mask_cache) >= _CACHE_LIMIT:
                self._mask_cache = {}
            self._mask_cache[state] = bits
        return bits

    def fill_words(self, state: MatchState) -> NDArray[np.uint32] | None:
        """What a matcher's fill copies for ``state``: :meth:`mask_words` with the EOS bits
        set where the output is complete; None where no token fits and it is not complete
        (the tokenizer cannot spell what comes next). Cached; do not modify."""
        hit = self.fill_cache.get(state, NOT_CACHED)
        if hit is not NOT_CACHED:
            return hit  # type: ignore[return-value]
        return self.fill_miss(state)

    def fill_miss(self, state: MatchState) -> NDArray[np.uint32] | None:
        """:meth:`fill_words` for a state not in :attr:`fill_cache` (a matcher has just
        looked)."""
        words = self.mask_words(state)
        hit = self.fill_cache.get(state, NOT_CACHED)  # (a walk also stores its fill)
        if hit is not NOT_CACHED:
            return hit  # type: ignore[return-value]
        out: NDArray[np.uint32] | None = words
        if self.is_accepting(state):
            out = words | self.eos_mask
            out.flags.writeable = False
        elif not np.count_nonzero(words):  # (faster than words.any())
            out = None
        if len(self.fill_cache) >= _CACHE_LIMIT:
            self.fill_cache = {}
        self.fill_cache[state] = out
        return out

    def _compute_mask(self, q: int, stacks: Stacks) -> NDArray[np.uint32]:
        if q == DEAD:
            return np.zeros(self.vocab.n_words, dtype=np.uint32)
        # Where q is the stacks' own fresh state, or a state inside an ignored lexeme
        # (whitespace), ignored lexemes restart in the stacks' fresh state inside the
        # table's walk (TokenIndex.get).
        restart_to = -1
        if self.ignored:
            q0 = self.lex_start(stacks)
            if q0 == q or self._may_end_ignored(q):
                restart_to = q0
        table = self.index.get(q, restart_to)
        bits = table.inside.copy()
        t = self.lexer.top(q)
        if t >= 0 and table.has_first_dead:
            after = self.end_lexeme(stacks, t)
            if after is not None:
                q2 = self.lex_start(after)
                if q2 != DEAD:
                    bits |= self.mask_words(MatchState(q2, after)) & table.first_dead
        # Each boundary group: a small one straight to a resolve kernel, all of them in one
        # call (the kernel feeds each group's terminal itself); a large one walked first (a
        # trie walk settles whole subtrees; the walk is cached across stacks), its
        # crossing tokens then resolved per terminal.
        direct: list[tuple[int, NDArray[np.int32], NDArray[np.int32]]] = []
        batch = self._batches(stacks)
        for gi, (term, toks, offs) in enumerate(table.groups):
            small = len(toks) <= self.direct_group_limit
            # A reading (id >= n_terminals) the kernels would leave to Python token by
            # token: such a group is walked.
            if small and batch and term < self.n_terminals:
                direct.append((term, toks, offs))
                continue
            after = self.end_lexeme(stacks, term)
            if after is None:
                continue
            q2 = self.lex_start(after)
            if q2 == DEAD:
                continue
            if small and self.use_kernel and len(after) == 1:
                self._resolve_in_kernel(q2, after, toks, offs, bits)
            else:
                self._resolve((q, gi, restart_to), q2, after, toks, offs, bits)
        if direct:
            self._resolve_groups(self.lex_start(stacks), stacks, tuple(direct), bits)
        return bits

    def _batches(self, stacks: Stacks) -> bool:
        """Whether one resolve kernel call takes every boundary group after ``stacks``
        (see :meth:`_resolve_groups`)."""
        # (The LR kernel shifts past the depth limit, which the Python parser raises at:
        # a stack near it feeds its groups' terminals in Python.)
        return (self.use_kernel and len(stacks) == 1 and
                stacks[0].depth + _LR_DEPTH_MARGIN <= self._max_stack_depth) or \
            (self.use_glr_kernel and len(stacks) <= GLR_POOL)

    def _resolve_groups(self, q: int, stacks: Stacks, groups: Groups,
                        bits: NDArray[np.uint32]) -> None:
        """Resolve boundary groups (each ending a lexeme as its terminal, none a reading)
        after ``stacks``, whose fresh lexer state is ``q``, in one kernel call (see
        :meth:`_batches`): the LR kernel's or the GLR kernel's, each shifting a token's
        group terminal itself and following every further boundary, as
        :meth:`_resolve_in_kernel` does for one group; see :meth:`_kernel_rounds`."""
        toks, offs, firsts = _concatenated(groups)
        run = self._lr_run(q, stacks) if self.use_kernel else self._glr_run(q, stacks)
        self._kernel_rounds(run, self._finish_after(stacks), toks, offs, firsts, bits)

    def _walk_mask(self, state: MatchState) -> NDArray[np.uint32] | None:
        """The mask of ``state`` (GLR stacks) by one ``glr_mask`` walk of the vocabulary's
        trie, or None where the walk gave up (too many tokens allowed: ``state.q`` is
        then served by the table path, whose tables are shared between stacks) or the
        state is dead. Subtrees it leaves for want of a fresh lexer state are walked
        again once the lexer has made it, a few rounds at most; the rest (a lexeme with
        several readings, stacks past the pools, the last round's) are decided token by
        token in Python, which raises the parser's limit errors. Only that Python work
        runs under the mask's time budget."""
        q, stacks = state.q, state.stacks
        if q == DEAD:
            return None
        q_fresh = self._start_cache.get(stacks)
        if q_fresh is None:
            with time_budget("mask_time_budget", self._mask_budget):
                q_fresh = self.lex_start(stacks)
        stack_arrays = self._glr_stacks(stacks)
        bits = np.zeros(self._n_words, dtype=np.uint32)
        rows = np.empty((_WALK_ROWS, 4), dtype=np.uint64)
        count, accepting, any_set = self._run_glr_mask(q, q_fresh, stack_arrays, _EVERY_BYTE,
                                                       bits, rows)
        if count == WALK_ABORTED:
            self._table_states.add(q)
            return None
        if count:
            with time_budget("mask_time_budget", self._mask_budget):
                if not self._finish_walk(state, q_fresh, stack_arrays, count, rows, bits):
                    self._table_states.add(q)
                    return None
        # What fill_words would work out, known here without reading the mask again
        # (each pass over a new 16 KB mask costs microseconds when the caches are cold):
        # where the output is complete, the EOS bits are set in the mask itself.
        if accepting >= 0:
            if len(self._accept_cache) >= _CACHE_LIMIT:
                self._accept_cache = {}
            self._accept_cache[state] = accepting == 1
            if accepting or any_set or count:
                for w, bit in self._eos_bits if accepting else ():
                    bits[w] |= bit
                fill: NDArray[np.uint32] | None = bits
                if not (accepting or any_set) and not np.count_nonzero(bits):
                    fill = None
            else:
                fill = None
            if len(self.fill_cache) >= _CACHE_LIMIT:
                self.fill_cache = {}
            self.fill_cache[state] = fill
        return bits

    def _finish_walk(self, state: MatchState, q_fresh: int,
                     stack_arrays: _StackArrays,
                     count: int, rows: NDArray[np.uint64], bits: NDArray[np.uint32]) -> bool:
        """Decide the ``count`` subtrees a walk left (``rows``, see ``glr_mask``); False
        where a walk again gave up."""
        idx = self.index
        va = self.varrays
        walk_first = _EVERY_BYTE
        for rounds in range(_KERNEL_ROUNDS + 1):
            if count > len(rows):  # rows it had no room for: the same walk again, with
                rows = np.empty((count, 4), dtype=np.uint64)  # room (it only sets bits)
                count = self._run_glr_mask(state.q, q_fresh, stack_arrays, walk_first,
                                           bits, rows)[0]
            lo, hi = rows[:count, 0].astype(np.int64), rows[:count, 1].astype(np.int64)
            kind, need = rows[:count, 2], rows[:count, 3]
            missing = kind == WALK_STATE
            again = rounds < _KERNEL_ROUNDS and bool(missing.any())
            if again:
                self._make_start_states(need[missing])
                first = np.zeros(256, dtype=np.bool_)
                data, starts = idx.sorted_data, idx.sorted_start
                for a, b in zip(lo[missing].tolist(), hi[missing].tolist(), strict=True):
                    first[int(data[starts[a]]) : int(data[starts[b - 1]]) + 1] = True
                # (read-only, as the constants: one kernel specialization)
                walk_first = read_only(np.packbits(first, bitorder="little").view(np.uint64))
                lo, hi = lo[~missing], hi[~missing]
            if int((hi - lo).sum()) > _WALK_PYTHON_TOKENS:
                return False  # the table path walks (and caches) such groups instead
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                check_deadline("mask computation")
                for p in range(a, b):
                    if self._advance(state, idx.sorted_data, int(idx.sorted_start[p]),
                                     int(idx.sorted_len[p])) is not None:
                        tid = int(va.sorted_ids[p])
                        bits[tid >> 5] |= np.uint32(1 << (tid & 31))
            if not again:
                return True
            count = self._run_glr_mask(state.q, q_fresh, stack_arrays, walk_first, bits,
                                       rows)[0]
            if count == WALK_ABORTED:
                return False
            if count == 0:
                return True
        return True  # (unreachable: the last round is never again)

    def _run_glr_mask(self, q: int, q_fresh: int,
                      stack_arrays: _StackArrays,
                      walk_first: NDArray[np.uint64], bits: NDArray[np.uint32],
                      rows: NDArray[np.uint64]) -> tuple[int, int, bool]:
        """One ``glr_mask`` call (see :meth:`_walk_mask`): its count, completeness and
        whether it set a bit."""
        padded, lengths, depth_cap = stack_arrays
        args = (*self._walk_args(), int(q), int(q_fresh), walk_first, padded, lengths,
                depth_cap, bits, rows)
        count, accepting, any_set = glr_mask(*args)
        return int(count), int(accepting), bool(any_set)

    def _row_bits(self) -> NDArray[np.uint64]:
        """Per lexer state, the bytes with a transition (``trans >= 0``) in four words.
        A state's row never changes: rows are added for new states only."""
        trans = self.lexer.arrays[0]
        made = self._row_bits_made
        if len(made) < len(trans):
            new = np.packbits(trans[len(made):] >= 0, axis=1, bitorder="little")
            made = np.concatenate([made, new.view(np.uint64)])
            self._row_bits_made = made
        return made

    def _walk_args(self) -> tuple[Any, ...]:
        """``glr_mask``'s leading arguments, made again only when the lexer has grown (or
        the walk's limit was changed)."""
        lexer = self.lexer
        key = (lexer.growth, self.walk_visits)
        args = self._walk_args_made
        if args is not None and args[0] == key:
            return args[1]
        idx = self.index
        tr = idx.trie
        keys, vals = self._start_arrays()
        made = (*lexer.arrays, self._row_bits(), self.varrays.sorted_ids, tr.tok_info,
                tr.nodes, *self._trie_children,
                lexer.closed_classes(BYTE_CLASSES),
                self.k_max_len, np.int64(self.walk_visits), self.k_cell_start,
                self.k_cell_actions, self.k_n_terms, self.k_goto, self.k_lhs, self.k_len,
                self.k_ignored, np.int32(self.parser.end), keys, vals, *self._glr_pool_caps)
        self._walk_args_made = (key, made)
        return made

    def _may_end_ignored(self, q: int) -> bool:
        """Whether the lexeme in lexer state ``q`` may end as an ignored terminal."""
        hit = self._ends_ignored.get(q)
        if hit is None:
            hit = self._ends_ignored[q] = bool(self.lexer.live_terminals(q) & self.ignored)
        return hit

    def _drop_repeated_values(self, state: MatchState, bits: NDArray[np.uint32]) -> None:
        """Clear the bits of tokens that complete a unique item with a value its array
        already holds. Only a token with a byte that can end an item lexeme (see
        :func:`_item_ending_bytes`: ``"`` for strings) can complete one, so only those are
        checked, each by the exact walk of :meth:`_advance_values` (the table work behind
        ``bits`` does not know the values); where no array holds a value yet, only tokens
        that can complete two items."""
        if self._ending_words is None:
            some = np.zeros(self.vocab.n_words, dtype=np.uint32)
            many = some.copy()
            for t in self.unique_items:
                byte_set = _item_ending_bytes(self.lexer.dfas[t])
                two = 2 if t in self.unique_numbers else 3  # strings open with a quote too
                some |= _words_of_tokens_with_bytes(self.vocab, byte_set, 1)
                many |= _words_of_tokens_with_bytes(self.vocab, byte_set, two)
            if self.item_parts:
                some |= _words_of_substrings(self.vocab, [
                    w for w in (self._part_word(t) for t in self.item_parts) if w])
            self._ending_words = (some, many)
        some, many = self._ending_words
        ending = some if any(node.seen for node in state.stacks) else many
        if self.item_parts:
            ending = ending | self._part_candidates(state.q, ending is some)
        va = self.varrays
        words = np.flatnonzero(bits & ending)
        for w in words.tolist():
            word = int(bits[w] & ending[w])
            while word:
                low = word & -word
                tid = (w << 5) + low.bit_length() - 1
                word ^= low
                if self._advance(state, va.token_data, int(va.token_start[tid]),
                                 int(va.token_len[tid])) is None:
                    bits[w] &= np.uint32(~low & 0xFFFFFFFF)

    def _part_candidates(self, q: int, some_values: bool) -> NDArray[np.uint32]:
        """Tokens from lexer state ``q`` that can complete an arbitrary item (see
        ``ItemProgress``): those crossing a lexeme boundary, and those ending inside a
        part lexeme by a byte that leads into a final state of a terminal live in ``q``
        (a closing quote or bracket, the ``e`` of ``true``). Where no array holds a value
        yet, two items must complete in the token: it crosses a boundary at a comma."""
        key = (q, some_values)
        hit = self._part_candidate_cache.get(key)
        if hit is not None:
            return hit
        crossing = ~self.index.get(q).inside
        if not some_values:
            if self._comma_words is None:
                self._comma_words = _words_of_tokens_with_bytes(self.vocab, b",", 1)
            out = crossing & self._comma_words
        else:
            live = self.lexer.live_terminals(q) & self.item_parts
            into_final = b"".join(_bytes_into_final(self.lexer.dfas[t]) for t in live)
            out = crossing | _words_of_tokens_ending_in(self.vocab, into_final)
        if len(self._part_candidate_cache) >= _CACHE_LIMIT:
            self._part_candidate_cache = {}
        self._part_candidate_cache[key] = out
        return out

    def _walk(self, key: object, q: int, toks: NDArray[np.int32],
              offs: NDArray[np.int32]) -> GroupWalk:
        cache_key = (key, q)
        hit = self._walk_cache.get(cache_key)
        if hit is not None:
            return hit
        if isinstance(key, tuple) and isinstance(key[0], int):  # a group of q0's table
            walk = self.index.walk_group(key[0], key[1], q, key[2])
        else:
            walk = self.index.walk(q, toks, offs)
        if len(self._walk_cache) >= _CACHE_LIMIT:
            self._walk_cache = {}
        self._walk_cache[cache_key] = walk
        return walk

    def _resolve(self, key: object, q: int, stacks: Stacks, toks: NDArray[np.int32],
                 offs: NDArray[np.int32], bits: NDArray[np.uint32]) -> None:
        """Set the bits of the tokens whose remaining bytes (from ``offs``) stay viable from
        the fresh lexer state ``q``; recurse on the ones that cross another boundary.
        ``key`` names the token list, so the walk is cached across parser stacks."""
        check_deadline("mask computation")
        walk = self._walk(key, q, toks, offs)
        if walk.inside_bits is not None:
            bits |= walk.inside_bits
        elif walk.inside_ids is not None and len(walk.inside_ids):
            set_bits(bits, walk.inside_ids)
        if walk.crossing and self._batches(stacks) and \
                all(term < self.n_terminals for term, _, _ in walk.crossing):
            self._resolve_groups(q, stacks, walk.crossing, bits)
            return
        for term, sub_toks, sub_offs in walk.crossing:
            after = self.end_lexeme(stacks, term)
            if after is None:
                continue
            q2 = self.lex_start(after)
            if q2 == DEAD:
                continue
            if self.use_kernel and len(after) == 1:
                self._resolve_in_kernel(q2, after, sub_toks, sub_offs, bits)
            else:
                self._resolve((key, q, term), q2, after, sub_toks, sub_offs, bits)

    def _resolve_in_kernel(self, q: int, stacks: Stacks, toks: NDArray[np.int32],
                           offs: NDArray[np.int32], bits: NDArray[np.uint32]) -> None:
        """Like :meth:`_resolve`, but every further boundary of each token is followed in
        one kernel call (LR simulation on a scratch stack); see :meth:`_kernel_rounds`."""
        idx = self.index
        state = MatchState(q, stacks)

        def finish(p: int, off: int, _: int) -> bool:
            start = int(idx.sorted_start[p]) + off
            return self._advance(state, idx.sorted_data, start,
                                 int(idx.sorted_len[p]) - off) is not None

        self._kernel_rounds(self._lr_run(q, stacks), finish, toks, offs, None, bits)

    def _lr_stack(self, node: StackNode) -> NDArray[np.int32]:
        """A stack's states as the LR kernel reads them (cached)."""
        stack = self._lr_stack_cache.get(node)
        if stack is None:
            stack = np.array(node.states(), dtype=np.int32)
            if len(self._lr_stack_cache) >= _CACHE_LIMIT:
                self._lr_stack_cache = {}
            self._lr_stack_cache[node] = stack
        return stack

    def _lr_run(self, q: int, stacks: Stacks) -> _KernelRun:
        """``resolve_with_parser`` bound to fresh state ``q`` and ``stacks`` (one LR
        stack); its tokens follow a lexeme of their ``firsts`` terminal, or none."""
        stack = self._lr_stack(stacks[0])
        idx = self.index

        def run(toks: NDArray[np.int32], offs: NDArray[np.int32],
                firsts: NDArray[np.int32] | None, need: NDArray[np.uint64]
                ) -> NDArray[np.int8]:
            keys, vals = self._start_arrays()
            trans, top = self.lexer.arrays
            verdict: NDArray[np.int8] = resolve_with_parser(
                trans, top, np.int32(q), toks, offs,
                _NO_TERMS if firsts is None else read_only(firsts), idx.sorted_data,
                idx.sorted_start, idx.sorted_len, stack, self.k_act, self.k_goto, self.k_lhs,
                self.k_len, self.k_ignored, np.int32(self.parser.end), keys, vals, need)
            return verdict
        return run

    def _finish_after(self, stacks: Stacks) -> Callable[[int, int, int], bool]:
        """Decide in Python a token remainder a batched resolve kernel left undecided:
        (sorted position, offset, terminal of the lexeme before it) -> allowed after
        ``stacks``."""
        idx = self.index

        def finish(p: int, off: int, first: int) -> bool:
            after = self.end_lexeme(stacks, first)
            if after is None:
                return False
            start = int(idx.sorted_start[p]) + off
            return self._advance(MatchState(self.lex_start(after), after), idx.sorted_data,
                                 start, int(idx.sorted_len[p]) - off) is not None
        return finish

    def _glr_run(self, q: int, stacks: Stacks) -> _KernelRun:
        """``resolve_with_glr`` bound to fresh state ``q`` and ``stacks``."""
        padded, lengths, depth_cap = self._glr_stacks(stacks)
        idx = self.index

        def run(toks: NDArray[np.int32], offs: NDArray[np.int32],
                firsts: NDArray[np.int32] | None, need: NDArray[np.uint64]
                ) -> NDArray[np.int8]:
            assert firsts is not None
            keys, vals = self._start_arrays()
            trans, top = self.lexer.arrays
            verdict: NDArray[np.int8] = resolve_with_glr(
                trans, top, np.int32(q), toks, offs, read_only(firsts), idx.sorted_data,
                idx.sorted_start, idx.sorted_len, self.k_max_len, padded, lengths,
                self.k_cell_start, self.k_cell_actions, self.k_n_terms, self.k_goto,
                self.k_lhs, self.k_len, self.k_ignored, np.int32(self.parser.end), keys, vals,
                need, *self._glr_pool_caps, depth_cap)
            return verdict
        return run

    def _kernel_rounds(self, run: _KernelRun, finish: Callable[[int, int, int], bool],
                       toks: NDArray[np.int32], offs: NDArray[np.int32],
                       firsts: NDArray[np.int32] | None, bits: NDArray[np.uint32]) -> None:
        """Resolve token remainders (sorted positions ``toks`` from byte ``offs``, after a
        lexeme read as ``firsts``, for the GLR kernel) with ``run``, and set the bits of
        those it allows. A token it leaves undecided for want of a fresh lexer state
        (verdict 3) names the set of allowed terminals that state is for: the lexer
        creates the states named, and the kernel runs again over those tokens, a few
        rounds at most. The other undecided tokens, and those left after the last round,
        are decided by ``finish`` in Python."""
        sorted_ids = self.varrays.sorted_ids
        for rounds in range(_KERNEL_ROUNDS + 1):
            toks = read_only(toks)  # read-only lists: one kernel specialization
            need = np.empty(len(toks), dtype=np.uint64)
            verdict = run(toks, read_only(offs), firsts, need)
            pending = set_allowed(bits, sorted_ids, toks, verdict)
            if not len(pending):
                return
            missing = verdict[pending] == 3
            again = pending[missing] if rounds < _KERNEL_ROUNDS else pending[:0]
            self._make_start_states(need[again])
            rest = pending[~missing] if len(again) else pending
            for i in rest.tolist():
                first = int(firsts[i]) if firsts is not None else -1
                if finish(int(toks[i]), int(offs[i]), first):
                    tid = int(sorted_ids[toks[i]])
                    bits[tid >> 5] |= np.uint32(1 << (tid & 31))
            if not len(again):
                return
            toks, offs = toks[again], offs[again]
            firsts = firsts[again] if firsts is not None else None

    def _make_start_states(self, keys: NDArray[np.uint64]) -> None:
        """Have the lexer make the fresh state of each allowed-terminal bit set in
        ``keys`` (named by a kernel that lacked them)."""
        for key in np.unique(keys).tolist():
            self.lexer.start_state(frozenset(t for t in range(64) if key >> t & 1))

    def _glr_stacks(self, stacks: Stacks) -> _StackArrays:
        """``stacks`` as rows for the GLR kernels (padded states, lengths) and the depth
        their pools allow, which ends where the parser's limit does (so that Python
        raises its error; ``_glr_pool_caps``: the pools' sizes)."""
        hit = self._glr_stack_cache.get(stacks)
        if hit is not None:
            return hit
        if len(stacks) == 1:
            padded = np.array(stacks[0].states(), dtype=np.int32)[None]
            lengths = self._one_length.get(padded.shape[1])
            if lengths is None:
                lengths = self._one_length[padded.shape[1]] = read_only(
                    np.array([padded.shape[1]], dtype=np.int32))
        else:
            rows = [node.states() for node in stacks]
            sizes = [len(r) for r in rows]
            width = max(sizes)
            lengths = read_only(np.array(sizes, dtype=np.int32))
            padded = np.array([r + [0] * (width - len(r)) for r in rows], dtype=np.int32)
        out = (padded, lengths,
               np.int32(min(padded.shape[1] + GLR_EXTRA_DEPTH, self._max_stack_depth)))
        if len(self._glr_stack_cache) >= _CACHE_LIMIT:
            self._glr_stack_cache = {}
        self._glr_stack_cache[stacks] = out
        return out


def _concatenated(groups: Groups) -> tuple[NDArray[np.int32], NDArray[np.int32],
                                          NDArray[np.int32]]:
    """The groups' tokens, offsets and terminals (one per token), end to end."""
    if len(groups) == 1:
        term, toks, offs = groups[0]
        return toks, offs, np.full(len(toks), term, dtype=np.int32)
    return (np.concatenate([g[1] for g in groups]), np.concatenate([g[2] for g in groups]),
            np.repeat(np.array([g[0] for g in groups], dtype=np.int32),
                      [len(g[1]) for g in groups]))


# Room below the stack depth limit for the LR kernel to shift a group's terminal itself.
_LR_DEPTH_MARGIN = 64
# The LR kernel's ``firsts`` where no lexeme comes before the tokens (read-only).
_NO_TERMS = read_only(np.zeros(0, dtype=np.int32))


def _never(p: int, off: int, first: int) -> bool:
    raise AssertionError("no token to finish")


# A resolve kernel bound to its parser state: (toks, offs, firsts, need) -> verdict per
# token (``need``: filled with the allowed-terminal sets of missing fresh states).
_KernelRun = Callable[[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32] | None,
                       NDArray[np.uint64]], NDArray[np.int8]]


def _json_item_key(text: bytes) -> str | None:
    """A key for the value of a complete JSON text, equal for values JSON Schema calls
    equal (numbers as exact decimals, object keys in any order, the last of repeated
    keys); None if it is not JSON."""
    try:
        value = json.loads(text, parse_float=_NumberKey.of, parse_int=_NumberKey.of)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return _canonical(value)


class _NumberKey(str):
    """A JSON number, spelled canonically (see :func:`_json_number_value`)."""

    @classmethod
    def of(cls, text: str) -> _NumberKey:
        key = _json_number_value(text.encode("ascii"))
        return cls(key if key is not None else text)


def _canonical(value: object) -> str:
    if isinstance(value, _NumberKey):
        return f"#{value}"
    if isinstance(value, dict):
        items = sorted((json.dumps(k), _canonical(v)) for k, v in value.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return json.dumps(value)


def _single_word(dfa: ByteDFA) -> bytes | None:
    """The one word ``dfa`` accepts, or None when it accepts none or several."""
    word = bytearray()
    state = 0
    for _ in range(dfa.n_states + 1):
        nxt = np.flatnonzero(dfa.trans[state] >= 0)
        if dfa.accept[state]:
            return bytes(word) if len(nxt) == 0 else None
        if len(nxt) != 1:
            return None
        word.append(int(nxt[0]))
        state = int(dfa.trans[state, nxt[0]])
    return None


def _bytes_into_final(dfa: ByteDFA) -> bytes:
    """The bytes that lead into a state with no way on (the lexeme ends at once)."""
    has_next: NDArray[np.bool_] = np.asarray((dfa.trans >= 0).any(axis=1))
    into_final = (dfa.trans >= 0) & ~has_next[np.maximum(dfa.trans, 0)]
    return bytes(np.flatnonzero(into_final.any(axis=0)).tolist())


def _words_of_tokens_ending_in(vocab: Vocabulary, byte_set: bytes) -> NDArray[np.uint32]:
    """Bits of the tokens whose last byte is in ``byte_set``."""
    va = vocab.arrays
    lens = va.token_len.astype(np.int64)
    last = va.token_data[np.maximum(va.token_start.astype(np.int64) + lens - 1, 0)]
    has = (lens > 0) & np.isin(last, np.frombuffer(byte_set, dtype=np.uint8))
    words = np.zeros(vocab.n_words, dtype=np.uint32)
    set_bits(words, np.flatnonzero(has).astype(np.int32))
    return words


def _words_of_substrings(vocab: Vocabulary, words_in: list[bytes]) -> NDArray[np.uint32]:
    """Bits of the tokens that are non-empty substrings of one of ``words_in``."""
    pieces = {w[i:j] for w in words_in for i in range(len(w)) for j in range(i + 1, len(w) + 1)}
    ids = [i for i, b in enumerate(vocab.token_bytes) if b in pieces]
    words = np.zeros(vocab.n_words, dtype=np.uint32)
    set_bits(words, np.array(ids, dtype=np.int32))
    return words


def _item_ending_bytes(dfa: ByteDFA) -> bytes:
    """The bytes that can complete a lexeme of ``dfa``: those leading into a state with no
    way on (the lexeme ends at once: a closing quote), and those a complete lexeme cannot
    take (the lexeme ends before them: a comma after a number)."""
    ends = set(_bytes_into_final(dfa))
    stops = dfa.accept & (dfa.trans >= 0).any(axis=1)
    ends.update(np.flatnonzero((dfa.trans[stops] < 0).any(axis=0)).tolist())
    return bytes(sorted(ends))


def _json_string_value(lexeme: bytes) -> str | None:
    """The decoded value of a complete JSON string lexeme (None if it is not one)."""
    try:
        value = json.loads(lexeme)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None


def _json_number_value(lexeme: bytes) -> str | None:
    """A key for the value of a complete JSON number lexeme, equal for equal numbers
    (``1``, ``1.0``, ``10e-1``); None if it is not one."""
    # Exact: enough digits for the lexeme, any exponent (no 10**e is ever computed).
    context = decimal.Context(prec=len(lexeme) + 2, Emax=decimal.MAX_EMAX,
                              Emin=decimal.MIN_EMIN, traps=[decimal.InvalidOperation])
    try:
        value = context.create_decimal(lexeme.decode("ascii"))
    except (decimal.InvalidOperation, UnicodeDecodeError):
        return None
    if not value.is_finite():
        return None
    return "0" if value.is_zero() else str(value.normalize(context))


def _words_of_tokens_with_bytes(vocab: Vocabulary, byte_set: bytes, times: int
                                ) -> NDArray[np.uint32]:
    """Bits of the tokens whose bytes hold bytes of ``byte_set`` at least ``times`` times."""
    va = vocab.arrays
    hit = np.isin(va.token_data, np.frombuffer(byte_set, dtype=np.uint8)).astype(np.int64)
    starts = va.token_start.astype(np.int64)
    lens = va.token_len.astype(np.int64)
    csum = np.concatenate(([0], np.cumsum(hit)))
    has = (csum[starts + lens] - csum[starts]) >= times
    words = np.zeros(vocab.n_words, dtype=np.uint32)
    ids = np.flatnonzero(has)
    set_bits(words, ids.astype(np.int32))
    return words


_runtime_lock = threading.Lock()


def runtime_for(compiled: CompiledGrammar) -> GrammarRuntime:
    """The shared :class:`GrammarRuntime` of ``compiled`` (created on first use)."""
    rt = compiled.runtime
    if rt is None:
        with _runtime_lock:
            rt = compiled.runtime
            if rt is None:
                rt = compiled.runtime = GrammarRuntime(compiled)
    return rt  # type: ignore[no-any-return]
