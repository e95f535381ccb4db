"""The vocabulary's sorted order as a trie, so that the token-table builder settles whole
subtrees at once (``native.kernels.classify_tokens``).

A token list in sorted order (the vocabulary's, or the rest of it past a text slice)
gets, per trie node, where its subtree ends and which of a few fixed byte classes all the
bytes below it belong to (:data:`BYTE_CLASSES`). The lexer marks the states from which
every string of a class stays inside the lexeme (``ContextualLexer.closed_classes``):
from an identifier state reached by `` w``, every token below that node whose further
bytes are letters, digits or ``_`` (`` word``, `` while``) is inside, with no walk.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from native.kernels import read_only, trie_children, trie_nodes

__all__ = ["BYTE_CLASSES", "IDENTIFIER", "LOWER_IDENTIFIER", "STRING_TEXT", "TokenTrie",
           "TrieChildren",
           "class_bit", "token_trie"]


def _span(lo: str, hi: str) -> bytes:
    return bytes(range(ord(lo), ord(hi) + 1))


_LOWER, _UPPER, _DIGITS = _span("a", "z"), _span("A", "Z"), _span("0", "9")
_PRINTABLE = _span(" ", "~")
IDENTIFIER = _LOWER + _UPPER + _DIGITS + b"_"
LOWER_IDENTIFIER = _LOWER + _DIGITS + b"_"
STRING_TEXT = bytes(b for b in _PRINTABLE if b not in b'"\\')  # printable, no " or \


def _printable_but(excluded: bytes) -> bytes:
    return bytes(b for b in _PRINTABLE if b not in excluded)


# At most sixteen (one bit each): the byte runs that words, numbers and text are made of.
BYTE_CLASSES: tuple[bytes, ...] = (
    _DIGITS,
    _LOWER,
    _LOWER + _UPPER,
    _LOWER + _DIGITS,
    _LOWER + _UPPER + _DIGITS,
    IDENTIFIER,
    IDENTIFIER + b"-",  # names with dashes (keys, slugs)
    _DIGITS + b"abcdefABCDEF",  # hexadecimal
    _LOWER + _UPPER + b" ",  # words and spaces
    _LOWER + _UPPER + _DIGITS + b" ",
    STRING_TEXT,  # JSON string contents
    _printable_but(b'"'),
    _printable_but(b"'"),  # SQL string contents
    _printable_but(b"'\\"),
    _PRINTABLE,  # comments
    LOWER_IDENTIFIER,
)
def class_bit(members: bytes) -> int:
    """The bit of a class of :data:`BYTE_CLASSES` in node and state flags."""
    return 1 << BYTE_CLASSES.index(members)

_BYTE_FLAGS = np.zeros(256, dtype=np.uint16)
for _k, _members in enumerate(BYTE_CLASSES):
    _BYTE_FLAGS[list(_members)] |= np.uint16(1 << _k)
_BYTE_FLAGS = read_only(_BYTE_FLAGS)


@dataclass(frozen=True, eq=False)
class TokenTrie:
    """A token list in sorted order as a trie (see ``native.kernels.trie_nodes``), and the
    bits of its tokens."""

    tok_info: NDArray[np.int64]
    nodes: NDArray[np.uint64]
    all_bits: NDArray[np.uint32]
    _children: dict[int, TrieChildren] = field(default_factory=dict, init=False, repr=False)

    @property
    def nbytes(self) -> int:
        lists = sum(a.nbytes for c in self._children.values() for a in c)
        return int(self.tok_info.nbytes + self.nodes.nbytes + self.all_bits.nbytes + lists)

    def children(self, above: int) -> TrieChildren:
        """The child lists of the nodes with more than ``above`` tokens below them (see
        ``native.kernels.trie_children``), made on first use."""
        hit = self._children.get(above)
        if hit is None:
            with _lock:
                hit = self._children.get(above)
                if hit is None:
                    made = trie_children(self.tok_info, self.nodes, above)
                    hit = self._children[above] = TrieChildren(*map(read_only, made))
        return hit


class TrieChildren(NamedTuple):
    """Child lists of a trie's large nodes: ``native.kernels.trie_children``'s result."""

    node_dir: NDArray[np.int32]
    dir_start: NDArray[np.int64]
    child_pos: NDArray[np.int64]
    child_bytes: NDArray[np.uint64]


_tries: dict[tuple[str, int], TokenTrie] = {}
_lock = threading.Lock()


def token_trie(key: tuple[str, int], ids: NDArray[np.int32], lcp: NDArray[np.int32],
               lens: NDArray[np.int32], sorted_data: NDArray[np.uint8],
               sorted_start: NDArray[np.int64], n_words: int) -> TokenTrie:
    """The trie of the tokens ``ids`` (sorted; their bytes at ``sorted_start``), built once
    per ``key`` (a vocabulary fingerprint and which list of it) and process."""
    with _lock:
        hit = _tries.get(key)
        if hit is None:
            if len(lens) and int(lens.max()) >= 1 << 16:
                raise ValueError("a token of 65,536 bytes or more: the token trie packs "
                                 "lengths in 16 bits")
            info, nodes = trie_nodes(lcp, lens, sorted_data, sorted_start, _BYTE_FLAGS)
            bits = np.zeros(n_words, dtype=np.uint32)
            wide = ids.astype(np.int64)
            np.bitwise_or.at(bits, wide >> 5, np.uint32(1) << (wide & 31).astype(np.uint32))
            hit = _tries[key] = TokenTrie(read_only(info), read_only(nodes), read_only(bits))
        return hit
