"""``uniqueItems`` over finite item languages: the values an item may take, found from the
item schema (const, enum, booleans, null, bounded integers, and their combinations) and
checked with ``jsonschema``; the array compiler then tracks the set written so far in its
states, so a value cannot come twice (exact, in the grammar, no run-time check).

Arrays of plain strings, plain numbers or arbitrary values with infinitely many values
are handled elsewhere: the compiler marks their item terminals ``unique`` and the parser
compares values at run time (``_Compiler.unique_scalar_term``, ``unique_any_array``).
Other infinite item languages (constrained objects and arrays, mixed types) raise
``UnsupportedFeatureError``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

__all__ = ["MAX_UNIQUE_STATES", "MAX_UNIQUE_VALUES", "finite_candidates", "value_key"]

MAX_UNIQUE_VALUES = 64  # distinct values an item may take, at most
MAX_UNIQUE_STATES = 1024  # (set written so far, contains count) states of one array


def value_key(v: Any) -> Any:
    """A hashable key under JSON Schema equality: 1 and 1.0 are equal, true and 1 are not,
    object key order does not matter."""
    if v is None or isinstance(v, bool):
        return ("lit", v)
    if isinstance(v, (int, float)):
        return ("num", Fraction(v))
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list):
        return ("arr", tuple(value_key(x) for x in v))
    if isinstance(v, dict):
        return ("obj", frozenset((k, value_key(x)) for k, x in v.items()))
    try:  # Decimal and other numbers
        return ("num", Fraction(v))
    except (TypeError, ValueError):
        return ("other", repr(v))


def finite_candidates(schema: Any, resolve: Callable[[str], Any],
                      depth: int = 0) -> list[Any] | None:
    """A finite list that contains every value valid against ``schema``, or None when no
    such list is known (the caller filters the list with a validator). ``resolve`` maps a
    ``$ref`` to its target."""
    if schema is False:
        return []
    if not isinstance(schema, dict) or depth > 32:
        return None
    if "const" in schema:
        return [schema["const"]]
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    t = schema.get("type")
    types = {t} if isinstance(t, str) else set(t) if isinstance(t, list) else None
    if types is not None and types <= {"boolean", "null"}:
        return [v for v in (True, False, None)
                if ("null" if v is None else "boolean") in types]
    if types == {"integer"}:
        ints = _bounded_integers(schema)
        if ints is not None:
            return ints
    parts: list[Any] = []
    if isinstance(schema.get("$ref"), str):
        parts.append(resolve(schema["$ref"]))
    if isinstance(schema.get("allOf"), list):
        parts += schema["allOf"]
    for part in parts:  # a finite part bounds the whole
        found = finite_candidates(part, resolve, depth + 1)
        if found is not None:
            return found
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            union: list[Any] = []
            for b in branches:
                found = finite_candidates(b, resolve, depth + 1)
                if found is None:
                    break
                union += found
            else:
                return union
    return None


def _bounded_integers(schema: dict[str, Any]) -> list[int] | None:
    lo = _bound(schema, "minimum", "exclusiveMinimum", up=True)
    hi = _bound(schema, "maximum", "exclusiveMaximum", up=False)
    if lo is None or hi is None or hi - lo >= MAX_UNIQUE_VALUES:
        return None
    return list(range(lo, hi + 1))


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, up: bool) -> int | None:
    """The tightest integer bound from the inclusive and (draft 6+ numeric) exclusive
    keywords; draft 4's boolean ``exclusiveMinimum`` is read as excluding the bound."""
    best: int | None = None
    for key in (inclusive, exclusive):
        v = schema.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        f = Fraction(v)
        strict = key == exclusive or schema.get(exclusive) is True
        n = (f.__floor__() + 1 if strict else f.__ceil__()) if up else \
            (f.__ceil__() - 1 if strict else f.__floor__())
        best = n if best is None else (max(best, n) if up else min(best, n))
    return best
