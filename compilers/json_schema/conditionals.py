"""Conditional keywords rewritten as ``allOf``/``anyOf`` of plain schemas.

``not`` becomes a lazily negated part; ``if``/``then``/``else`` the two disjoint cases
``(if and then) or (not if and else)``; ``dependentRequired``, ``dependentSchemas`` and
draft 4-7 ``dependencies`` the two disjoint cases "the property is present (and the
dependency holds)" or "the property is absent". The compiler then merges the parts like
any ``allOf``.
"""

from __future__ import annotations

from typing import Any

from compilers.errors import SchemaError
from compilers.json_schema.keywords import is_schema
from compilers.json_schema.unevaluated import lift

__all__ = ["desugar"]

CONDITIONAL_KEYS = ("not", "if", "then", "else", "dependentRequired", "dependentSchemas",
                    "dependencies")


def desugar(schema: dict[str, Any], ptr: str) -> dict[str, Any]:
    """``schema`` without conditional keywords, as ``{"allOf": [rest, *cases]}``."""
    if not any(k in schema for k in CONDITIONAL_KEYS):
        return schema
    rest = {k: v for k, v in schema.items() if k not in CONDITIONAL_KEYS}
    parts: list[Any] = []
    if "not" in schema:
        if not is_schema(schema["not"]):
            raise SchemaError("'not' must be a schema", pointer=f"{ptr}/not")
        parts.append({"__negate": schema["not"]})
    if "if" in schema:
        cond, then, other = schema["if"], schema.get("then", True), schema.get("else", True)
        for k, v in (("if", cond), ("then", then), ("else", other)):
            if not is_schema(v):
                raise SchemaError(f"'{k}' must be a schema", pointer=f"{ptr}/{k}")
        if then is not True or other is not True:
            parts.append({"anyOf": [{"allOf": [cond, then]},
                                    {"allOf": [{"__negate": cond}, other]}]})
    required = dict(_mapping(schema, "dependentRequired", ptr))
    schemas = dict(_mapping(schema, "dependentSchemas", ptr))
    for name, dep in _mapping(schema, "dependencies", ptr):
        (required if isinstance(dep, list) else schemas)[name] = dep
    for name, names in required.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SchemaError("a dependentRequired entry must be an array of strings",
                              pointer=f"{ptr}/dependentRequired/{name}")
        parts.append(_present_or_absent(name, {"required": [name, *names]}))
    for name, dep in schemas.items():
        if not is_schema(dep):
            raise SchemaError("a dependentSchemas entry must be a schema",
                              pointer=f"{ptr}/dependentSchemas/{name}")
        parts.append(_present_or_absent(name, {"required": [name], "allOf": [dep]}))
    return lift(schema, rest, parts) if parts else rest


def _mapping(schema: dict[str, Any], key: str, ptr: str) -> list[tuple[str, Any]]:
    value = schema.get(key, {})
    if not isinstance(value, dict):
        raise SchemaError(f"'{key}' must be an object", pointer=f"{ptr}/{key}")
    return list(value.items())


def _present_or_absent(name: str, present: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "object", **present},
                      {"properties": {name: False}}]}
