"""``unevaluatedProperties`` as ``additionalProperties`` of a fully merged object schema.

Once ``$ref``, ``allOf``, conditionals and one ``anyOf``/``oneOf`` branch are merged into one
schema, a property is *evaluated* when a part that held (not a negated one) declares it in
``properties`` or ``patternProperties``, or has ``additionalProperties``. Each merged
schema records this under ``__evaluated``; negated pieces carry ``__no_eval`` and add
nothing. ``unevaluatedProperties`` then applies to every other name. A document matching
several ``anyOf`` branches is judged branch by branch (narrower: in the specification the
annotations of every matching branch count).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LIFTED", "apply_unevaluated", "evaluated_of", "lift"]

LIFTED = "unevaluatedProperties"


def evaluated_of(parts: list[Any]) -> dict[str, Any]:
    """Names, patterns and "all" evaluated by the parts that hold."""
    names: dict[str, None] = {}
    patterns: dict[str, None] = {}
    every = False
    for part in parts:
        if not isinstance(part, dict) or part.get("__no_eval"):
            continue
        inner = part.get("__evaluated")
        if inner is not None:  # a merged part: what its own parts evaluated
            names.update(dict.fromkeys(inner["names"]))
            patterns.update(dict.fromkeys(inner["patterns"]))
            every = every or inner["all"]
            continue
        if isinstance(part.get("properties"), dict):
            names.update(dict.fromkeys(part["properties"]))
        if isinstance(part.get("patternProperties"), dict):
            patterns.update(dict.fromkeys(part["patternProperties"]))
        every = every or "additionalProperties" in part
    return {"names": list(names), "patterns": list(patterns), "all": every}


def lift(schema: dict[str, Any], rest: dict[str, Any], parts: list[Any]) -> dict[str, Any]:
    """``{"allOf": [rest, *parts]}`` with ``unevaluatedProperties`` kept beside the
    ``allOf``, so that it sees every part once they are merged."""
    if LIFTED in rest:
        rest = {k: v for k, v in rest.items() if k != LIFTED}
        return {"allOf": [rest, *parts], LIFTED: schema[LIFTED]}
    return {"allOf": [rest, *parts]}


def apply_unevaluated(merged: dict[str, Any]) -> dict[str, Any]:
    """``merged`` with its ``unevaluatedProperties`` turned into per-name schemas, once no
    ``anyOf``/``oneOf`` is left to add evaluated names."""
    if LIFTED not in merged or "anyOf" in merged or "oneOf" in merged:
        return merged
    out = dict(merged)
    extra = out.pop(LIFTED)
    ev = merged.get("__evaluated") or evaluated_of([merged])
    if ev["all"] or extra is True:
        return out
    names, patterns = set(ev["names"]), set(ev["patterns"])
    props = dict(out.get("properties", {}))
    for name, sub in props.items():
        if name not in names:
            props[name] = {"allOf": [sub, extra]}
    if props:
        out["properties"] = props
    pats = dict(out.get("patternProperties", {}))
    for p, sub in pats.items():
        if p not in patterns:
            pats[p] = {"allOf": [sub, extra]}
    if pats:
        out["patternProperties"] = pats
    current = out.get("additionalProperties", True)
    out["additionalProperties"] = extra if current is True else {"allOf": [current, extra]}
    return out
