"""Time budgets and work counters for one compilation or one mask computation.

An entry point opens a budget with :func:`time_budget`; the long loops underneath (subset
construction, DFA products and minimisation, LR table building, JSON Schema compilation,
lexer growth, mask resolution) call :func:`check_deadline`, which raises
:class:`LimitExceededError` once the budget is spent. The active budget lives in a context
variable, so threads and nested calls never see each other's budgets, and code run without
a budget (a direct call to a builder) is not limited in time.

:func:`count_work` bounds counted work (``$ref`` expansions) the same way.
"""

from __future__ import annotations

import sys
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType

from compilers.errors import LimitExceededError

__all__ = ["Budget", "check_deadline", "count_work", "current_budget", "time_budget"]

# The clock every budget reads; tests replace it with a counter so no test depends on
# wall-clock time.
_clock = time.monotonic


@dataclass(slots=True)
class Budget:
    """One running budget: ``limit`` (a ``Limits`` field name) of ``seconds``."""

    limit: str
    seconds: float
    deadline: float
    started: float
    caps: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


_active: ContextVar[Budget | None] = ContextVar("grammar_engine_budget", default=None)


def current_budget() -> Budget | None:
    """The innermost budget of this thread or task (None outside any)."""
    return _active.get()


class time_budget:  # lower case: used like a function, ``with time_budget(...) as b``
    """Run the body under a budget of ``seconds``; ``caps`` bound :func:`count_work`.

    A budget opened inside another never outlives it: the earlier deadline wins. Python's
    ``RecursionError`` inside the body becomes a :class:`LimitExceededError` (the input
    nests deeper than the interpreter's stack allows). A class rather than a generator:
    every new mask opens one, and this costs a third as much.
    """

    __slots__ = ("_budget", "_token")
    _token: Token[Budget | None]

    def __init__(self, limit: str, seconds: float, *,
                 caps: dict[str, int] | None = None) -> None:
        now = _clock()
        outer = _active.get()
        deadline = now + seconds
        if outer is not None and outer.deadline < deadline:
            limit, seconds, deadline = outer.limit, outer.seconds, outer.deadline
        self._budget = Budget(limit, seconds, deadline, now, dict(caps) if caps else {})

    def __enter__(self) -> Budget:
        self._token = _active.set(self._budget)
        return self._budget

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _active.reset(self._token)
        if exc_type is not None and issubclass(exc_type, RecursionError):
            depth = sys.getrecursionlimit()
            raise LimitExceededError(
                "recursion depth", depth, f"{depth}+",
                "the input nests too deeply for Python's stack (reduce the nesting, "
                "or raise sys.setrecursionlimit)") from None


def check_deadline(where: str = "") -> None:
    """Raise :class:`LimitExceededError` if the active budget's time is spent."""
    budget = _active.get()
    if budget is None:
        return
    now = _clock()
    if now > budget.deadline:
        raise LimitExceededError(budget.limit, budget.seconds,
                                 f"{now - budget.started:.3g} s", where)


def count_work(name: str, where: str = "", n: int = 1) -> None:
    """Add ``n`` to counter ``name`` of the active budget; raise past its cap."""
    budget = _active.get()
    if budget is None:
        return
    count = budget.counts.get(name, 0) + n
    budget.counts[name] = count
    cap = budget.caps.get(name)
    if cap is not None and count > cap:
        raise LimitExceededError(name, cap, count, where)
