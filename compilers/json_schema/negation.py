"""``not`` pushed down to keywords: a schema for the values that fail a schema.

Used by ``not``, ``if``/``else``, overlapping ``oneOf`` branches and ``maxContains``. A
flattened schema is a conjunction of keyword groups ``g1 ... gn``; its negation is the
disjoint union of the pieces ``g1 ... g(i-1), not gi``. Each ``not gi`` is a schema the
compiler knows, sometimes through internal keywords (``__string_excl``,
``__number_excl``, ``__values_excl``: values of one type minus an exact automaton) and the
lazy marker ``{"__negate": S}`` for sub-schemas, so that recursive schemas stay finite.

Soundness: every piece is contained in the true complement. Where the complement cannot
be written exactly (a ``format`` whose automaton is narrower than the format, ``uniqueItems``,
``additionalProperties``), :class:`UnsupportedFeatureError` names the keyword.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compilers.errors import UnsupportedFeatureError
from compilers.json_schema.keywords import (
    ANNOTATIONS,
    JSON_TYPES,
    KNOWN,
    NUMBER_KEYS,
    STRING_KEYS,
)

__all__ = ["INTERNAL_KEYS", "negate", "plain"]

INTERNAL_KEYS = {"__negate", "__patterns", "__formats", "__string_excl", "__number_excl",
                 "__values_excl", "__no_eval", "__evaluated"}
STRING_GROUP = STRING_KEYS | {"__patterns", "__formats", "__string_excl"}
NUMBER_GROUP = NUMBER_KEYS | {"__number_excl"}
ALL_TYPES = frozenset(JSON_TYPES) - {"integer"}

Flatten = Callable[[dict[str, Any], str], Any]


def negate(schema: Any, ptr: str, flatten: Flatten) -> Any:
    """A schema (a boolean, one piece, or ``anyOf`` of disjoint pieces) for the values
    that do not satisfy ``schema``."""
    if schema is True:
        return False
    if schema is False:
        return True
    if not isinstance(schema, dict):
        return False  # the compiler reports the malformed schema where it compiles it
    flat = flatten(schema, ptr)
    if not isinstance(flat, dict):
        return not flat
    pieces: list[Any] = []
    conj: list[dict[str, Any]] = []
    for group in _groups(flat, ptr):
        neg = _negate_group(group, ptr)
        if neg is not False:
            pieces.append({"allOf": [*conj, neg]} if conj else neg)
        conj.append(group)
    if not pieces:
        return False
    # A failed schema evaluates no property (see unevaluated.py).
    pieces = [{**p, "__no_eval": True} if isinstance(p, dict) else p for p in pieces]
    return pieces[0] if len(pieces) == 1 else {"anyOf": pieces}


def _groups(s: dict[str, Any], ptr: str) -> list[dict[str, Any]]:
    """The keyword groups of a flattened schema, each an assertion of its own."""
    keys = [k for k in s if k not in ANNOTATIONS]
    groups: list[dict[str, Any]] = []
    string = {k: s[k] for k in keys if k in STRING_GROUP}
    number = {k: s[k] for k in keys if k in NUMBER_GROUP}
    if "type" in s:
        groups.append({"type": s["type"]})
    for k in ("const", "enum", "__values_excl"):
        if k in s:
            groups.append({k: s[k]})
    if string:
        groups.append(string)
    if number:
        groups.append(number)
    if "required" in s:
        groups.extend({"required": [r]} for r in dict.fromkeys(s["required"]))
    props = s.get("properties", {})
    if isinstance(props, dict):
        groups.extend({"properties": {name: sub}} for name, sub in props.items())
    for k in ("minProperties", "maxProperties", "minItems", "maxItems"):
        if k in s:
            groups.append({k: s[k]})
    if "prefixItems" in s or isinstance(s.get("items"), list):
        prefix = s["prefixItems"] if "prefixItems" in s else s["items"]
        for i, sub in enumerate(prefix):
            groups.append({"__prefix": (i, sub)})
        tail = s.get("items", True) if "prefixItems" in s else s.get("additionalItems", True)
        if tail is not True:
            raise UnsupportedFeatureError("negating items after prefixItems",
                                          location=f"{ptr}/items")
    elif "items" in s:
        groups.append({"items": s["items"]})
    if "contains" in s:
        groups.append({k: s[k] for k in ("contains", "minContains", "maxContains") if k in s})
    for k in ("anyOf", "oneOf", "__negate"):
        if k in s:
            groups.append({k: s[k]})
    handled = {"type", "const", "enum", "__values_excl", "required", "properties",
               "minProperties", "maxProperties", "minItems", "maxItems", "prefixItems",
               "items", "additionalItems", "contains", "minContains", "maxContains",
               "anyOf", "oneOf", "__negate", "__no_eval", "__evaluated"} | STRING_GROUP | \
        NUMBER_GROUP
    for k in keys:
        if k in handled or (k not in KNOWN and not k.startswith("__")):
            continue  # handled above, or an unknown keyword (an annotation)
        if k in ("additionalProperties", "unevaluatedProperties", "unevaluatedItems") \
                and s[k] is True:
            continue
        if k == "uniqueItems" and s[k] is False:
            continue
        raise UnsupportedFeatureError(f"negating {k!r} (inside not, if, or overlapping oneOf)",
                                      location=f"{ptr}/{k}")
    return groups


def _negate_group(g: dict[str, Any], ptr: str) -> Any:
    (first, value), *_ = g.items()
    if first == "type":
        return _negate_type(value, ptr)
    if first in ("const", "enum"):
        values = [value] if first == "const" else value
        return {"__values_excl": list(values)}
    if first == "__values_excl":
        return {"enum": list(value)}
    if first in STRING_GROUP:
        if ("format" in g) or g.get("__formats"):
            raise UnsupportedFeatureError(
                "negating 'format' (its automaton may be narrower than the format)",
                location=f"{ptr}/format")
        return _negate_difference("string", g, "__string_excl")
    if first in NUMBER_GROUP:
        return _negate_difference("number", g, "__number_excl")
    if first == "required":
        return {"type": "object", "properties": {value[0]: False}}
    if first == "properties":
        (name, sub), = value.items()
        return {"type": "object", "required": [name], "properties": {name: _lazy_not(sub)}}
    if first in ("minProperties", "minItems"):
        kind = "object" if first == "minProperties" else "array"
        other = "maxProperties" if kind == "object" else "maxItems"
        return False if value <= 0 else {"type": kind, other: value - 1}
    if first in ("maxProperties", "maxItems"):
        kind = "object" if first == "maxProperties" else "array"
        other = "minProperties" if kind == "object" else "minItems"
        return {"type": kind, other: value + 1}
    if first == "__prefix":
        i, sub = value
        return {"type": "array", "minItems": i + 1,
                "prefixItems": [True] * i + [_lazy_not(sub)]}
    if first == "items":
        return {"type": "array", "contains": _lazy_not(value)}
    if first == "contains":
        if set(g) != {"contains"}:
            raise UnsupportedFeatureError("negating minContains/maxContains",
                                          location=f"{ptr}/contains")
        return {"type": "array", "items": _lazy_not(value)}
    if first == "anyOf":
        return {"allOf": [_lazy_not(b) for b in value]}
    if first == "__negate":
        return value
    raise UnsupportedFeatureError(f"negating {first!r}", location=f"{ptr}/{first}")


def _negate_difference(kind: str, g: dict[str, Any], excl_key: str) -> Any:
    """Values of ``kind`` outside ``P minus (E1 or E2 ...)``: outside P, or in P and some E."""
    positive = {k: v for k, v in g.items() if k != excl_key}
    pieces: list[Any] = [{"type": kind, excl_key: [positive]}] if positive else []
    pieces += [{"allOf": [{"type": kind}, positive, e]} for e in g.get(excl_key, [])]
    if not pieces:
        return False
    return pieces[0] if len(pieces) == 1 else {"anyOf": pieces}


def _negate_type(value: Any, ptr: str) -> Any:
    types = {value} if isinstance(value, str) else set(value)
    if "number" in types:
        types.add("integer")
    rest = sorted(ALL_TYPES - types)
    pieces: list[Any] = []
    if "integer" in types and "number" not in types:
        rest.remove("number")
        pieces.append({"type": "number", "__number_excl": [{"type": "integer"}]})
    if rest:
        pieces.insert(0, {"type": rest})
    if not pieces:
        return False
    return pieces[0] if len(pieces) == 1 else {"anyOf": pieces}


def _lazy_not(sub: Any) -> Any:
    if sub is True or sub is False:
        return not sub
    return {"__negate": sub}


SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions",
               "dependentSchemas"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
SCHEMA_VALUES = {"not", "if", "then", "else", "contains", "additionalProperties",
                 "propertyNames", "additionalItems", "unevaluatedProperties",
                 "unevaluatedItems", "items"}


def plain(schema: Any) -> Any:
    """``schema`` with the internal keywords written as standard ones, for ``jsonschema``
    checks (filtering ``enum`` values, property names)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    extra: list[Any] = []
    for k, v in schema.items():
        if k in ("__no_eval", "__evaluated"):
            continue
        if k == "__negate":
            extra.append({"not": plain(v)})
        elif k == "__patterns":
            extra.extend({"pattern": p} for p in v)
        elif k == "__formats":
            extra.extend({"format": f} for f in v)
        elif k == "__string_excl":
            extra.extend({"not": {"allOf": [{"type": "string"}, plain(g)]}} for g in v)
        elif k == "__number_excl":
            extra.extend({"not": {"allOf": [{"type": "number"}, plain(g)]}} for g in v)
        elif k == "__values_excl":
            extra.append({"not": {"enum": list(v)}})
        elif k in SCHEMA_MAPS and isinstance(v, dict):
            out[k] = {name: plain(sub) for name, sub in v.items()}
        elif (k in SCHEMA_LISTS or k == "items") and isinstance(v, list):
            out[k] = [plain(sub) for sub in v]
        elif k in SCHEMA_VALUES:
            out[k] = plain(v)
        else:
            out[k] = v
    if extra:
        out["allOf"] = [*out.get("allOf", []), *extra]
    return out
