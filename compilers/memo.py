"""A process-wide memo bounded by the memory its values hold, not by their count.

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

__all__ = ["byte_bounded_cache"]


class _Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


V = TypeVar("V", bound=_Sized)


def byte_bounded_cache(max_bytes: int) -> Callable[[Callable[..., V]], Callable[..., V]]:
    """Memoise a function of hashable arguments whose results have ``nbytes``."""

    def wrap(fn: Callable[..., V]) -> Callable[..., V]:
        entries: OrderedDict[tuple[Any, ...], V] = OrderedDict()
        lock = threading.Lock()
        held = [0]

        @functools.wraps(fn)
        def cached(*args: Any, **kwargs: Any) -> V:
            key = (*args, *sorted(kwargs.items())) if kwargs else args
            with lock:
                hit = entries.get(key)
                if hit is not None:
                    entries.move_to_end(key)
                    return hit
            value = fn(*args, **kwargs)
            size = int(value.nbytes)
            with lock:
                if key not in entries and size <= max_bytes:
                    entries[key] = value
                    held[0] += size
                    while held[0] > max_bytes:
                        _, old = entries.popitem(last=False)
                        held[0] -= int(old.nbytes)
            return value

        def cache_clear() -> None:
            with lock:
                entries.clear()
                held[0] = 0

        def cache_bytes() -> int:
            return held[0]

        cached.cache_clear = cache_clear  # type: ignore[attr-defined]
        cached.cache_bytes = cache_bytes  # type: ignore[attr-defined]
        return cached

    return wrap
