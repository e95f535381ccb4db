"""``lenient=True``: the one relaxation that makes an unsupported keyword compile.

The compiler raises :class:`UnsupportedFeatureError` with the JSON pointer of the keyword;
:func:`relax` returns a copy of the schema with that keyword relaxed (``oneOf`` read as
``anyOf``; anything else dropped), and a line for the grammar's notes. The language only
grows, by exactly what the relaxed keyword excluded.
"""

from __future__ import annotations

import copy
from typing import Any

from compilers.errors import UnsupportedFeatureError

__all__ = ["MAX_RELAXATIONS", "relax"]

MAX_RELAXATIONS = 100  # relaxations tried before the last error is raised after all


def relax(schema: Any, error: UnsupportedFeatureError) -> tuple[Any, str]:
    """``schema`` with the keyword at ``error.location`` relaxed, and what was done."""
    parts = _pointer_parts(error.location)
    if not parts:
        raise error
    *path, keyword = parts
    relaxed = copy.deepcopy(schema)
    node: Any = relaxed
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise error
    if not isinstance(node, dict) or keyword not in node:
        raise error
    where = error.location
    if keyword == "oneOf":
        node["anyOf"] = node.pop("oneOf") if "anyOf" not in node else \
            [{"anyOf": node.pop("oneOf")}, *node["anyOf"]]
        return relaxed, f"{where}: oneOf read as anyOf ({error.feature})"
    del node[keyword]
    return relaxed, f"{where}: dropped ({error.feature})"


def _pointer_parts(location: str) -> list[str]:
    if not location.startswith("#"):
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in location[1:].split("/")[1:]]
