"""A process-wide memo bounded by the memory its values hold, not by their count, and a
dictionary type for large long-lived caches.

``functools.lru_cache(maxsize=n)`` bounds entries; a DFA entry may hold 20 KB or 20 MB,
so a stream of hostile patterns could pin gigabytes. :func:`byte_bounded_cache` evicts
the least recently used values once their ``nbytes`` sum passes the budget. Thread-safe;
exceptions are not cached.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = ["BytesMemo", "CacheDict", "byte_bounded_cache"]


class _Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


V = TypeVar("V", bound=_Sized)
K = TypeVar("K")
T = TypeVar("T")


class CacheDict(dict[K, T]):
    """A ``dict`` for large caches that live long: the garbage collector leaves it in the
    oldest generation.

    A full collection untracks a plain ``dict`` whose keys and values are all untracked
    (tuples of ints, bytes), and the next insertion of a new tuple tracks it again, in
    the youngest generation: the next young collections then visit every entry, inside
    whatever mask computation triggers them. The collector never untracks a subclass.
    """

    __slots__ = ()


class BytesMemo:
    """A thread-safe least-recently-used map whose values' ``nbytes`` sum stays under
    ``max_bytes``: for memos whose key is not simply the function's arguments (the
    arguments carry a location for error messages that must not split the cache)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes of the values kept now."""
        return self._held

    def get(self, key: Any) -> Any:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: Any, value: Any) -> None:
        size = int(value.nbytes)
        with self._lock:
            if key in self._entries or size > self.max_bytes:
                return
            self._entries[key] = value
            self._held += size
            while self._held > self.max_bytes:
                self._held -= int(self._entries.popitem(last=False)[1].nbytes)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0


def byte_bounded_cache(max_bytes: int) -> Callable[[Callable[..., V]], Callable[..., V]]:
    """Memoise a function of hashable arguments whose results have ``nbytes``."""

    def wrap(fn: Callable[..., V]) -> Callable[..., V]:
        memo = BytesMemo(max_bytes)

        @functools.wraps(fn)
        def cached(*args: Any, **kwargs: Any) -> V:
            key = (*args, *sorted(kwargs.items())) if kwargs else args
            hit: V | None = memo.get(key)
            if hit is None:
                hit = fn(*args, **kwargs)
                memo.put(key, hit)
            return hit

        cached.cache_clear = memo.clear  # type: ignore[attr-defined]
        cached.cache_bytes = lambda: memo.held  # type: ignore[attr-defined]
        return cached

    return wrap
