"""The vocabulary split into *slices* of plain-text tokens and the rest, so that the token
table of a lexer state inside a string-like lexeme does not walk every token.

Three nested slices, the widest first: the tokens that are well-formed UTF-8 text (a token
may end in the middle of a character) with no control character, ``"`` or ``\\`` (96-99%
of the four vocabularies); those of them at most ``SLICE_MAX_LEN`` bytes long (95-96%);
and those of the latter that are printable ASCII (57-72%). From a lexer state where every
string of a slice's language, up to its longest token, stays inside the lexeme
(``native.lexer_kernels.stays_alive``: true inside JSON strings, keys and most patterns),
the whole slice is allowed at once, with one precomputed bitmask, and only the rest of the
vocabulary is walked: llguidance's "slicer" idea, in our table builder.

Four more serve code grammars (:func:`word_slices`): words with or without a leading
space, and runs of identifier characters, each also in lower case only. Their check uses
the lexer's closed byte classes (``compilers.token_trie``), so their unbounded length
costs nothing. One more, text without ``'``, serves single-quoted strings
(:func:`quote_free_slice`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from compilers.token_trie import (
    IDENTIFIER,
    LOWER_IDENTIFIER,
    STRING_TEXT,
    TokenTrie,
    class_bit,
    token_trie,
)
from compilers.vocab import Vocabulary
from native.kernels import classify_tokens, read_only, set_bits

__all__ = ["NO_RESTARTS", "SLICE_MAX_LEN", "Layout", "TokenSlice", "quote_free_slice",
           "row_starts", "text_slices", "word_slices"]

SLICE_MAX_LEN = 16

# The vocabulary in sorted order (``token_index._sorted_layout``): each first byte's range
# of tokens, the tokens' bytes one after another, and each token's offset and length.
Layout = tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.int64], NDArray[np.int32]]


def _ascii_text_dfa() -> NDArray[np.int32]:
    """One state: printable ASCII other than ``"`` and ``\\``."""
    dfa = np.full((1, 256), -1, dtype=np.int32)
    dfa[0, 0x20:0x7F] = 0
    dfa[0, [0x22, 0x5C]] = -1
    return dfa


def _utf8_text_dfa() -> NDArray[np.int32]:
    """Prefixes of UTF-8 text (RFC 3629: no overlong forms, surrogates or code points past
    U+10FFFF) with no C0 control, ``"`` or ``\\``. State 0: between characters; 1-3:
    that many continuation bytes to go; 4-7: the restricted second byte after E0, ED, F0
    and F4."""
    dfa = _ascii_text_dfa()
    dfa = np.vstack([dfa, np.full((7, 256), -1, dtype=np.int32)])
    dfa[0, 0xC2:0xE0] = 1
    dfa[0, 0xE1:0xF0] = 2
    dfa[0, 0xED] = 5
    dfa[0, 0xE0] = 4
    dfa[0, 0xF1:0xF4] = 3
    dfa[0, 0xF0] = 6
    dfa[0, 0xF4] = 7
    dfa[1, 0x80:0xC0] = 0
    dfa[2, 0x80:0xC0] = 1
    dfa[3, 0x80:0xC0] = 2
    dfa[4, 0xA0:0xC0] = 1
    dfa[5, 0x80:0xA0] = 1
    dfa[6, 0x90:0xC0] = 2
    dfa[7, 0x80:0x90] = 2
    return dfa


def _word_dfa(chars: bytes) -> NDArray[np.int32]:
    """A word of ``chars``, with or without one leading space and not led by a digit:
    `` ?[A-Za-z_][A-Za-z0-9_]*`` for IDENTIFIER. State 0: start; 1: after the space; 2:
    in the word."""
    dfa = np.full((3, 256), -1, dtype=np.int32)
    starts = [b for b in chars if not 0x30 <= b <= 0x39]
    dfa[0, 0x20] = 1
    dfa[0, starts] = 2
    dfa[1, starts] = 2
    dfa[2, list(chars)] = 2
    return dfa


def _identifier_dfa(chars: bytes) -> NDArray[np.int32]:
    """Runs of ``chars`` only: ``[A-Za-z0-9_]+`` for IDENTIFIER."""
    dfa = np.full((1, 256), -1, dtype=np.int32)
    dfa[0, list(chars)] = 0
    return dfa


def row_starts(table: NDArray[np.int32]) -> NDArray[np.int32]:
    """The bytes (0 first) where some row of ``table`` (``(n, 256)``) changes value: every
    row is constant from one to the next."""
    changes = (table[:, 1:] != table[:, :-1]).any(axis=0)
    return np.concatenate(([0], np.flatnonzero(changes) + 1)).astype(np.int32)


@dataclass(frozen=True, eq=False)
class TokenSlice:
    """A slice as a bitmask, and the rest of the vocabulary laid out like the full one
    (sorted order; ``rest_pos`` gives each rest token's position in the full order)."""

    text_dfa: NDArray[np.int32]  # (n, 256) the slice's language (see stays_alive)
    # Per text state, the byte classes (token_trie.BYTE_CLASSES bits) of every string
    # from it, if any: a lexer state closed under one reads them all (see stays_alive).
    loop_bits: NDArray[np.uint16]
    row_starts: NDArray[np.int32]  # bytes where a row of text_dfa may change value
    max_len: int  # its longest token
    mask: NDArray[np.uint32]  # bits of the slice's tokens
    first_bytes: NDArray[np.intp]  # the bytes its tokens begin with
    rest_pos: NDArray[np.int64]
    rest_ids: NDArray[np.int32]
    rest_lcp: NDArray[np.int32]  # common prefix with the previous rest token
    rest_bounds: NDArray[np.int64]  # first-byte ranges over the rest
    rest_start: NDArray[np.int64]  # offsets into the full sorted byte array
    rest_len: NDArray[np.int32]
    rest_trie: TokenTrie
    # The slice's tokens (ids) and their characters (a character cut at the end counts).
    member_ids: NDArray[np.int64]
    member_chars: NDArray[np.int32]

    @cached_property
    def count_masks(self) -> NDArray[np.uint32]:
        """Row ``c``: the bits of the slice's tokens of at most ``c`` characters, up to the
        most any has (the widest slice's are made with the slices: a table inside a JSON
        string of bounded length takes the row of the characters left, see
        ``TokenIndex``)."""
        most = int(self.member_chars.max()) if len(self.member_chars) else 0
        rows = np.zeros((most + 1, len(self.mask)), dtype=np.uint32)
        bits = (np.uint32(1) << (self.member_ids & 31).astype(np.uint32))
        np.bitwise_or.at(rows, (self.member_chars, self.member_ids >> 5), bits)
        np.bitwise_or.accumulate(rows, axis=0, out=rows)
        return read_only(rows)

    def fitting(self, n_chars: int | None) -> NDArray[np.uint32]:
        """The bits of the slice's tokens of at most ``n_chars`` characters (None: all)."""
        rows = self.count_masks
        if n_chars is None or n_chars >= len(rows):
            return self.mask
        row: NDArray[np.uint32] = rows[max(n_chars, 0)]
        return row


_slices: dict[str, tuple[TokenSlice, ...]] = {}
_word_slices: dict[str, tuple[TokenSlice, ...]] = {}
_quote_free: dict[str, TokenSlice] = {}
_lock = threading.Lock()


def text_slices(vocab: Vocabulary, layout: Layout) -> tuple[TokenSlice, ...]:
    """The slices of ``vocab``, widest first (built once per vocabulary and process)."""
    with _lock:
        hit = _slices.get(vocab.fingerprint)
        if hit is None:
            utf8_text = _utf8_text_dfa()
            no_class = np.zeros(len(utf8_text), dtype=np.uint16)  # one entry per state
            ascii_text = np.array([class_bit(STRING_TEXT)], dtype=np.uint16)
            tiers = [(utf8_text, SLICE_MAX_LEN, no_class),
                     (_ascii_text_dfa(), SLICE_MAX_LEN, ascii_text)]
            longest = int(vocab.arrays.max_token_len)
            if longest > SLICE_MAX_LEN:
                tiers.insert(0, (utf8_text, longest, no_class))
            hit = _slices[vocab.fingerprint] = tuple(
                _slice(vocab, dfa, max_len, loops, layout, i)
                for i, (dfa, max_len, loops) in enumerate(tiers))
            hit[0].count_masks  # noqa: B018 - now (4 ms, 3 MB for 200k tokens), not in a mask
        return hit


def word_slices(vocab: Vocabulary, layout: Layout) -> tuple[TokenSlice, ...]:
    """Four slices for code, in the order they are tried: words with or without a leading
    space (60% of Llama 3's vocabulary), the same in lower case (37%), runs of identifier
    characters (27%), and lower-case runs (17%). Where the lexer state is closed under
    identifier characters after any first letter (a fresh state of an
    identifier-and-keyword grammar) or inside an identifier, they stay inside whatever
    their length; the lower-case ones serve grammars whose names are lower case, such as
    ``/[a-z_][a-z0-9_]*/`` (built once per vocabulary and process)."""
    with _lock:
        hit = _word_slices.get(vocab.fingerprint)
        if hit is None:
            longest = max(int(vocab.arrays.max_token_len), 1)
            word, lower = class_bit(IDENTIFIER), class_bit(LOWER_IDENTIFIER)
            tiers = [(_word_dfa(IDENTIFIER), [0, 0, word]),
                     (_word_dfa(LOWER_IDENTIFIER), [0, 0, lower]),
                     (_identifier_dfa(IDENTIFIER), [word]),
                     (_identifier_dfa(LOWER_IDENTIFIER), [lower])]
            hit = _word_slices[vocab.fingerprint] = tuple(
                _slice(vocab, dfa, longest, np.array(loops, dtype=np.uint16), layout, 10 + i)
                for i, (dfa, loops) in enumerate(tiers))
        return hit


def quote_free_slice(vocab: Vocabulary, layout: Layout) -> TokenSlice:
    """The widest text slice's tokens with no ``'`` (95-99% of the four vocabularies), any
    length: inside a single-quoted string (SQL's ``'[^']*'``), where the text slices,
    which hold ``'``, are not taken (built once per vocabulary and process)."""
    with _lock:
        hit = _quote_free.get(vocab.fingerprint)
        if hit is None:
            dfa = _utf8_text_dfa()
            dfa[0, 0x27] = -1
            hit = _quote_free[vocab.fingerprint] = _slice(
                vocab, dfa, max(int(vocab.arrays.max_token_len), 1),
                np.zeros(len(dfa), dtype=np.uint16), layout, 20)
        return hit


_char_start_arrays: dict[str, NDArray[np.int64]] = {}
# The kernels' ``restarts`` argument where no lexeme restarts (read-only, like the others).
NO_RESTARTS = read_only(np.zeros(0, dtype=np.bool_))


def _char_starts(fingerprint: str, sorted_data: NDArray[np.uint8]) -> NDArray[np.int64]:
    """Per byte offset of ``sorted_data``, how many UTF-8 characters start before it (once
    per vocabulary: every slice counts its tokens' characters from it)."""
    hit = _char_start_arrays.get(fingerprint)
    if hit is None:
        hit = _char_start_arrays[fingerprint] = np.concatenate(
            ([0], np.cumsum((sorted_data & 0xC0) != 0x80)))
    return hit


def _slice(vocab: Vocabulary, text_dfa: NDArray[np.int32], max_len: int,
           loop_bits: NDArray[np.uint16], layout: Layout, number: int) -> TokenSlice:
    if loop_bits.shape != (len(text_dfa),):
        raise ValueError("loop_bits needs one entry per state of text_dfa")
    first_byte_bounds, sorted_data, sorted_start, sorted_len = layout
    va = vocab.arrays
    # Read every token in text_dfa at once: a walk of the vocabulary's trie from state 0,
    # with no accepting state (a token is inside iff text_dfa reads all of it).
    trie = token_trie((vocab.fingerprint, 0), va.sorted_ids, va.lcp, sorted_len,
                      sorted_data, sorted_start, vocab.n_words)
    read, _, _, _, _, _ = classify_tokens(
        text_dfa, np.full(len(text_dfa), -1, dtype=np.int32), np.int32(0), va.sorted_ids,
        first_byte_bounds, vocab.n_words, va.max_token_len, NO_RESTARTS, np.int32(0),
        trie.tok_info, trie.nodes, np.zeros(len(text_dfa), dtype=np.uint16), trie.all_bits)
    sorted_ids = va.sorted_ids.astype(np.int64)
    member = (((read[sorted_ids >> 5] >> (sorted_ids & 31).astype(np.uint32)) & 1) != 0)
    member &= (sorted_len <= max_len) & (sorted_len > 0)
    ids = sorted_ids[member]
    mask = np.zeros(vocab.n_words, dtype=np.uint32)
    set_bits(mask, va.sorted_ids[member])
    # Characters per token: its bytes that are no UTF-8 continuation byte.
    starts_char = _char_starts(vocab.fingerprint, sorted_data)
    first = sorted_start[member]
    chars = (starts_char[first + sorted_len[member]] - starts_char[first]).astype(np.int32)
    rest_pos = np.flatnonzero(~member)
    # Common prefix of consecutive rest tokens: the minimum of lcp over the tokens
    # between them in the full order.
    rest_lcp = np.zeros(len(rest_pos), dtype=np.int32)
    if len(rest_pos) > 1:
        upto = va.lcp[: rest_pos[-1] + 1]
        rest_lcp[1:] = np.minimum.reduceat(upto, rest_pos[:-1] + 1)
    rest_start = sorted_start[rest_pos]
    firsts = sorted_data[rest_start] if len(rest_pos) else np.zeros(0, np.uint8)
    # The kernels read these in place of the full vocabulary's (read-only) arrays: the
    # same types give one compiled specialization.
    rest_ids = read_only(np.ascontiguousarray(va.sorted_ids[rest_pos]))
    rest_len = read_only(np.ascontiguousarray(sorted_len[rest_pos]))
    rest_start = read_only(np.ascontiguousarray(rest_start))
    rest_lcp = read_only(rest_lcp)
    return TokenSlice(
        text_dfa=text_dfa, loop_bits=read_only(loop_bits), row_starts=row_starts(text_dfa),
        max_len=max_len, mask=mask,
        first_bytes=read_only(np.unique(sorted_data[first]).astype(np.intp)),
        rest_pos=rest_pos, rest_ids=rest_ids, rest_lcp=rest_lcp,
        rest_bounds=read_only(np.searchsorted(firsts, np.arange(257)).astype(np.int64)),
        rest_start=rest_start, rest_len=rest_len,
        rest_trie=token_trie((vocab.fingerprint, 1 + number), rest_ids, rest_lcp, rest_len,
                             sorted_data, rest_start, vocab.n_words),
        member_ids=read_only(ids), member_chars=read_only(chars),
    )
