"""Linear-time regex matching for the values the JSON Schema compiler checks itself.

The compiler asks ``jsonschema`` whether constants (``enum``/``const`` values, property
names) satisfy the rest of a schema. ``jsonschema`` matches ``pattern`` with Python's
backtracking ``re``, which takes exponential time on patterns such as ``^(a+)+$`` against
``"aaaa...!"``, and no time budget can interrupt it. Here the same question is answered by
the engine's own automata: the pattern (Python syntax and meaning, as ``jsonschema`` reads
it) is rewritten for whole-string matching, determinised once (cached) and run over the
value's UTF-8 bytes. Patterns the automata cannot express (look-around, back-references)
fall back to ``re``.

Strings holding a lone surrogate never match: the engine cannot write them anyway.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from compilers.automata import ByteDFA, build_terminal_dfa
from compilers.errors import GrammarSyntaxError, UnsupportedFeatureError
from compilers.json_schema.ecma_regex import _ends_with_unescaped_dollar, _split_top_level

__all__ = ["linear_time_validator", "safe_fullmatch", "safe_search", "search_to_fullmatch"]

_GLOBAL_FLAGS = re.compile(r"\A\(\?([aisu]+)\)")


def search_to_fullmatch(pattern: str) -> str:
    """A Python pattern whose full matches are the strings in which ``re.search(pattern)``
    finds a match. ``^``/``\\A`` and ``$``/``\\Z`` count at the ends of top-level
    alternatives (``$`` also before a final newline, as in ``re``); a leading global-flags
    group applies to the whole."""
    flags = ""
    m = _GLOBAL_FLAGS.match(pattern)
    if m:
        flags, pattern = m.group(0), pattern[m.end():]
    alternatives = []
    for alt in _split_top_level(pattern):
        start = alt.startswith("^") or alt.startswith("\\A")
        body = alt[1:] if alt.startswith("^") else alt[2:] if start else alt
        end_string = body.endswith("\\Z") and not _ends_with_unescaped_dollar(body[:-1] + "$")
        end_line = not end_string and _ends_with_unescaped_dollar(body)
        if end_string:
            body = body[:-2]
        elif end_line:
            body = body[:-1]
        prefix = "" if start else "(?s:.)*"
        suffix = "\\n?" if end_line else "" if end_string else "(?s:.)*"
        alternatives.append(f"{prefix}(?:{body}){suffix}")
    return flags + "|".join(alternatives)


def _dfa(pattern: str) -> ByteDFA | None:
    """The DFA of ``pattern`` matched as a whole, or None if only ``re`` can match it."""
    try:
        return build_terminal_dfa(pattern, False)
    except (UnsupportedFeatureError, GrammarSyntaxError):
        return None


def _run(dfa: ByteDFA, text: str) -> bool:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    if dfa.is_empty:
        return False
    trans = dfa.trans
    state = 0
    for byte in data:
        state = int(trans[state, byte])
        if state < 0:
            return False
    return bool(dfa.accept[state])


def safe_fullmatch(pattern: str, text: str) -> bool:
    """``re.fullmatch(pattern, text) is not None``, in time linear in ``text``."""
    dfa = _dfa(pattern)
    if dfa is None:
        return re.fullmatch(pattern, text) is not None
    return _run(dfa, text)


def safe_search(pattern: str, text: str) -> bool:
    """``re.search(pattern, text) is not None``, in time linear in ``text``."""
    dfa = _dfa(search_to_fullmatch(pattern))
    if dfa is None:
        return re.search(pattern, text) is not None
    return _run(dfa, text)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any
             ) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not safe_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, pattern_properties: dict[str, Any], instance: Any,
                        schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if safe_search(pattern, key):
                yield from validator.descend(value, subschema, path=key,
                                             schema_path=pattern)


@functools.cache
def linear_time_validator(cls: Any) -> Any:
    """``cls`` (a jsonschema validator class) with ``pattern`` and ``patternProperties``
    matched in linear time; one class per draft (building one costs about a millisecond)."""
    return jsonschema.validators.extend(
        cls, {"pattern": _pattern, "patternProperties": _pattern_properties})
