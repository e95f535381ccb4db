"""Sets of Unicode code points as sorted, disjoint, inclusive ranges.

Used by the regex front end (character classes, case folding, ``\\d \\w \\s``) before the
automata are lowered to UTF-8 bytes. Surrogates (U+D800-U+DFFF) never belong to a set: they
cannot be encoded in UTF-8, so no output can contain them.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import Any

from compilers.disk_cache import cache_path, write_atomically

__all__ = [
    "ANY_CHAR",
    "CharSet",
    "case_closure",
    "category_set",
    "complement",
    "contains",
    "from_chars",
    "intersect",
    "normalize",
    "union",
]

MAX_CP = sys.maxunicode
SURROGATES = (0xD800, 0xDFFF)

CharSet = tuple[tuple[int, int], ...]


def normalize(ranges: Iterable[tuple[int, int]]) -> CharSet:
    """Sort, merge and drop surrogates."""
    items = sorted((lo, hi) for lo, hi in ranges if lo <= hi)
    merged: list[list[int]] = []
    for lo, hi in items:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    out: list[tuple[int, int]] = []
    s_lo, s_hi = SURROGATES
    for lo, hi in merged:
        if hi < s_lo or lo > s_hi:
            out.append((lo, hi))
            continue
        if lo < s_lo:
            out.append((lo, s_lo - 1))
        if hi > s_hi:
            out.append((s_hi + 1, hi))
    return tuple(out)


ANY_CHAR: CharSet = normalize([(0, MAX_CP)])


def from_chars(chars: Iterable[int]) -> CharSet:
    return normalize((c, c) for c in chars)


def union(*sets: CharSet) -> CharSet:
    return normalize(r for s in sets for r in s)


def complement(s: CharSet) -> CharSet:
    out: list[tuple[int, int]] = []
    prev = 0
    for lo, hi in s:
        if lo > prev:
            out.append((prev, lo - 1))
        prev = hi + 1
    if prev <= MAX_CP:
        out.append((prev, MAX_CP))
    return normalize(out)


def intersect(a: CharSet, b: CharSet) -> CharSet:
    return complement(union(complement(a), complement(b)))


_lock = threading.Lock()


@cache
def _all_chars() -> str:
    return "".join(chr(c) for c in range(MAX_CP + 1) if not 0xD800 <= c <= 0xDFFF)


def _ranges_of(pattern: str) -> CharSet:
    text = _all_chars()
    return normalize((ord(m.group()[0]), ord(m.group()[-1])) for m in re.finditer(pattern, text))


@cache
def category_set(category: str, ascii_only: bool) -> CharSet:
    """Code points matched by ``\\d``, ``\\w`` or ``\\s`` (``category`` is 'd', 'w' or 's')
    under Python's ``re`` rules for str patterns (Unicode unless ``ascii_only``)."""
    if category not in ("d", "w", "s"):
        raise ValueError(f"unknown category {category!r}; expected 'd', 'w' or 's'")
    key = f"category-{category}-{'ascii' if ascii_only else 'unicode'}"
    stored = _disk_cache_get(key)
    if stored is not None:
        return tuple((int(lo), int(hi)) for lo, hi in stored)
    with _lock:
        # Runs of consecutive matching code points, found in one pass over all code points.
        out = _ranges_of(f"(?:\\{category})+" if not ascii_only else f"(?a:\\{category})+")
    _disk_cache_put(key, [list(r) for r in out])
    return out


@cache
def general_categories() -> dict[str, CharSet]:
    """Code points of every Unicode general category (two-letter names, ``Cs`` excluded),
    from Python's ``unicodedata``."""
    stored = _disk_cache_get("general-categories")
    if stored is None:
        runs: dict[str, list[list[int]]] = {}
        prev, start = None, 0
        for c in range(MAX_CP + 2):
            cat = unicodedata.category(chr(c)) if c <= MAX_CP else None
            if cat != prev:
                if prev is not None and prev != "Cs":
                    runs.setdefault(prev, []).append([start, c - 1])
                prev, start = cat, c
        stored = runs
        _disk_cache_put("general-categories", stored)
    return {cat: tuple((int(lo), int(hi)) for lo, hi in r) for cat, r in stored.items()}


def _disk_cache_key(key: str) -> str:
    return (f"{key}-py{sys.version_info[0]}.{sys.version_info[1]}"
            f"-unicode{unicodedata.unidata_version}")


def _disk_cache_get(key: str) -> Any:
    f = cache_path("tables", _disk_cache_key(key), ".json")
    if f is None or not f.is_file():
        return None
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return None


def _disk_cache_put(key: str, value: Any) -> None:
    f = cache_path("tables", _disk_cache_key(key), ".json")
    if f is not None:
        text = json.dumps(value)
        write_atomically(f, lambda tmp: tmp.write_text(text))


@cache
def _case_classes() -> dict[int, tuple[int, ...]]:
    """Map every cased code point to the code points Python's ``re`` treats as its case
    variants under IGNORECASE (same lower-case form, plus re's extra equivalences)."""
    stored = _disk_cache_get("case-classes")
    if stored is not None:
        return {int(k): tuple(v) for k, v in stored.items()}
    out = _compute_case_classes()
    _disk_cache_put("case-classes", {str(k): list(v) for k, v in out.items()})
    return out


def _compute_case_classes() -> dict[int, tuple[int, ...]]:
    import _sre  # type: ignore[import-not-found]

    groups: dict[int, set[int]] = {}
    for c in range(MAX_CP + 1):
        if 0xD800 <= c <= 0xDFFF:
            continue
        low = _sre.unicode_tolower(c)
        if low != c:
            groups.setdefault(low, {low}).add(c)
    try:
        from re import _casefix  # type: ignore[attr-defined]

        extra: dict[int, tuple[int, ...]] = _casefix._EXTRA_CASES
    except (ImportError, AttributeError):  # pragma: no cover - depends on the Python version
        extra = {}
    out: dict[int, tuple[int, ...]] = {}
    for members in groups.values():
        for m in members:
            out[m] = tuple(sorted(members))
    for c, others in extra.items():
        base = set(out.get(c, (c,)))
        base.update(others)
        for o in list(base):
            base.update(out.get(o, ()))
        for o in base:
            out[o] = tuple(sorted(base | set(out.get(o, ()))))
    return out


def case_closure(s: CharSet) -> CharSet:
    """``s`` plus every case variant of its members (Python ``re`` IGNORECASE matching)."""
    classes = _case_classes()
    extra: list[tuple[int, int]] = []
    if sum(hi - lo + 1 for lo, hi in s) <= len(classes):  # few members: look each up
        for lo, hi in s:
            for c in range(lo, hi + 1):
                extra.extend((v, v) for v in classes.get(c, ()))
    else:
        for c, variants in classes.items():
            if _contains(s, c):
                extra.extend((v, v) for v in variants)
    return union(s, normalize(extra))


def contains(s: CharSet, c: int) -> bool:
    """Whether code point ``c`` is in ``s``."""
    return _contains(s, c)


def _contains(s: CharSet, c: int) -> bool:
    lo_i, hi_i = 0, len(s)
    while lo_i < hi_i:
        mid = (lo_i + hi_i) // 2
        lo, hi = s[mid]
        if c < lo:
            hi_i = mid
        elif c > hi:
            lo_i = mid + 1
        else:
            return True
    return False
