"""A process-wide, size-bounded cache of token tables shared across compiled grammars.

Keys name what a table depends on and nothing else (the vocabulary's fingerprint and a
lexer state's behaviour signature, see ``ContextualLexer.signature``), so a JSON schema
compiled after another reuses the tables of the terminals they have in common (strings,
numbers, punctuation, whitespace) instead of classifying the vocabulary again. Values are
immutable; the least recently used are dropped past ``max_bytes``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["SharedTables", "shared_tables"]


class SharedTables:
    """LRU mapping ``key -> (value, nbytes)`` bounded by the sum of ``nbytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, (_, size) = self._items.popitem(last=False)
                self._bytes -= size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


# 256 MiB: about 10,000 lexer-state tables of a 128k vocabulary (most are 16-32 KiB).
shared_tables = SharedTables(256 << 20)
