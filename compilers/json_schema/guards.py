"""Size checks on a JSON Schema before it is compiled (schema size, nesting depth).

They walk the document iteratively, so a hostile schema is refused with a
:class:`LimitExceededError` before any recursive code (``json``, ``jsonschema``, the
compiler) sees it. The compiler itself bounds what only compiling reveals: schemas nested
through ``$ref``, ``enum`` sizes and ``$ref`` expansions.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import numpy as np

from compilers.errors import LimitExceededError, SchemaError
from compilers.options import Limits
from compilers.regex import group_depth

__all__ = ["check_json_text_depth", "check_schema_size", "metaschema_error"]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def check_schema_size(schema: Any, limits: Limits, source: str = "<schema>") -> None:
    """Raise if ``schema`` has more JSON values than ``max_schema_nodes`` or nests arrays
    and objects deeper than ``max_nesting_depth`` (the pointer of the deepest node is
    reported)."""
    max_nodes, max_depth = limits.max_schema_nodes, limits.max_nesting_depth
    # Each entry: (node, depth, its parent's entry, its key there); pointers are spelled
    # out only for an error.
    stack: list[tuple[Any, int, Any, Any]] = [(schema, 0, None, None)]
    nodes = 0
    while stack:
        entry = stack.pop()
        node, depth = entry[0], entry[1]
        if isinstance(node, dict):
            if depth >= max_depth:
                raise LimitExceededError("max_nesting_depth", max_depth, depth + 1,
                                         _short(_pointer(entry)))
            if "pattern" in node or "patternProperties" in node:
                _check_patterns(node, max_depth, _pointer(entry))
            stack.extend([(v, depth + 1, entry, k) for k, v in node.items()
                          if isinstance(v, (dict, list))])
            nodes += sum(1 for v in node.values() if not isinstance(v, (dict, list)))
        elif isinstance(node, list):
            if depth >= max_depth:
                raise LimitExceededError("max_nesting_depth", max_depth, depth + 1,
                                         _short(_pointer(entry)))
            stack.extend([(v, depth + 1, entry, i) for i, v in enumerate(node)
                          if isinstance(v, (dict, list))])
            nodes += sum(1 for v in node if not isinstance(v, (dict, list)))
        nodes += 1  # the node itself; its scalar members or items were counted above
        if nodes > max_nodes:
            raise LimitExceededError("max_schema_nodes", max_nodes, f"more than {max_nodes}",
                                     source)


def _pointer(entry: tuple[Any, int, Any, Any]) -> str:
    """The JSON pointer of a :func:`check_schema_size` stack entry."""
    keys = []
    while entry[2] is not None:
        keys.append(entry[3])
        entry = entry[2]
    return "#" + "".join(f"/{_escape(str(k))}" for k in reversed(keys))


def _check_patterns(node: dict[Any, Any], max_depth: int, ptr: str) -> None:
    """Regexes (``pattern``, ``patternProperties`` keys) nest groups at most ``max_depth``
    deep, so the regex parser's recursion stays bounded."""
    found: list[tuple[str, str]] = []
    if isinstance(node.get("pattern"), str):
        found.append((node["pattern"], f"{ptr}/pattern"))
    if isinstance(node.get("patternProperties"), dict):
        found += [(k, f"{ptr}/patternProperties") for k in node["patternProperties"]
                  if isinstance(k, str)]
    for pattern, where in found:
        depth = group_depth(pattern)
        if depth > max_depth:
            raise LimitExceededError("max_nesting_depth", max_depth, depth,
                                     f"{_short(where)} (groups nested in the regex)")


def check_json_text_depth(text: str, limits: Limits, source: str = "<schema>") -> None:
    """Raise if JSON ``text`` is longer than ``max_grammar_chars`` or its brackets nest
    deeper than ``max_nesting_depth`` (checked before ``json.loads``, which recurses)."""
    if len(text) > limits.max_grammar_chars:
        raise LimitExceededError("max_grammar_chars", limits.max_grammar_chars, len(text),
                                 source)
    if "[" not in text and "{" not in text:
        return
    skeleton = _STRING.sub("", text).encode("utf-8", "surrogatepass")
    arr = np.frombuffer(skeleton, dtype=np.uint8)
    step = (np.isin(arr, (ord("["), ord("{"))).astype(np.int32)
            - np.isin(arr, (ord("]"), ord("}"))).astype(np.int32))
    depth = int(np.cumsum(step).max()) if len(step) else 0
    if depth > limits.max_nesting_depth:
        raise LimitExceededError("max_nesting_depth", limits.max_nesting_depth, depth,
                                 f"{source} (brackets in the JSON text)")


def metaschema_error(schema: Any, source: str = "<schema>") -> SchemaError | None:
    """A :class:`SchemaError` (with the JSON pointer) if ``schema`` breaks its draft's
    metaschema, else None. Used after the compiler failed in an unexpected way, so that a
    malformed keyword (``{"minLength": null}``) is reported as such at no cost to valid
    schemas."""
    try:
        cls = jsonschema.validators.validator_for(
            schema if isinstance(schema, dict) else {}, default=jsonschema.Draft202012Validator)
        error = jsonschema.exceptions.best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    except Exception:  # the metaschema check itself cannot read this schema
        return SchemaError("the schema cannot be checked against its metaschema",
                           source=source)
    if error is None:
        return None
    pointer = "#" + "".join(f"/{_escape(str(p))}" for p in error.absolute_path)
    return SchemaError(f"invalid schema: {error.message}", pointer=_short(pointer),
                       source="" if source == "<schema>" else source)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _short(ptr: str, width: int = 120) -> str:
    return ptr if len(ptr) <= width else f"{ptr[:width // 2]}...{ptr[-width // 2:]}"
