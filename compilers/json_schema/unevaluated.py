"""``unevaluatedProperties`` / ``unevaluatedItems`` as ``additionalProperties`` / ``items``
of a fully merged schema.

Once ``$ref``, ``allOf``, conditionals and one ``anyOf``/``oneOf`` branch are merged into one
schema, a property is *evaluated* when a part that held (not a negated one) declares it in
``properties`` or ``patternProperties``, or has ``additionalProperties``. Each merged
schema records this under ``__evaluated``; negated pieces carry ``__no_eval`` and add
nothing. ``unevaluatedProperties`` then applies to every other name. Items likewise: the
first ``prefixItems`` of the parts that held are evaluated, all of them once such a part
has ``items``/``additionalItems``. Narrower than the specification in two places: a
document matching several ``anyOf`` branches is judged branch by branch (the specification
unites the annotations of every matching branch), and items that ``contains`` matched are
not counted as evaluated.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LIFTED", "apply_unevaluated", "evaluated_of", "lift"]

LIFTED = ("unevaluatedProperties", "unevaluatedItems")


def evaluated_of(parts: list[Any]) -> dict[str, Any]:
    """Names, patterns and "all" evaluated by the parts that hold."""
    names: dict[str, None] = {}
    patterns: dict[str, None] = {}
    every = all_items = False
    prefix = 0
    for part in parts:
        if not isinstance(part, dict) or part.get("__no_eval"):
            continue
        inner = part.get("__evaluated")
        if inner is not None:  # a merged part: what its own parts evaluated
            names.update(dict.fromkeys(inner["names"]))
            patterns.update(dict.fromkeys(inner["patterns"]))
            every = every or inner["all"]
            all_items = all_items or inner["all_items"]
            prefix = max(prefix, inner["prefix"])
            continue
        if isinstance(part.get("properties"), dict):
            names.update(dict.fromkeys(part["properties"]))
        if isinstance(part.get("patternProperties"), dict):
            patterns.update(dict.fromkeys(part["patternProperties"]))
        every = every or "additionalProperties" in part
        listed = part.get("prefixItems", part.get("items"))
        if isinstance(listed, list):
            prefix = max(prefix, len(listed))
            all_items = all_items or ("items" if "prefixItems" in part else
                                      "additionalItems") in part
        else:
            all_items = all_items or "items" in part
    return {"names": list(names), "patterns": list(patterns), "all": every,
            "prefix": prefix, "all_items": all_items}


def lift(schema: dict[str, Any], rest: dict[str, Any], parts: list[Any]) -> dict[str, Any]:
    """``{"allOf": [rest, *parts]}`` with ``unevaluatedProperties`` kept beside the
    ``allOf``, so that it sees every part once they are merged."""
    kept = {k: schema[k] for k in LIFTED if k in rest}
    rest = {k: v for k, v in rest.items() if k not in kept}
    return {"allOf": [rest, *parts], **kept}


def apply_unevaluated(merged: dict[str, Any]) -> dict[str, Any]:
    """``merged`` with its ``unevaluated*`` keywords turned into per-name and per-position
    schemas, once no ``anyOf``/``oneOf`` is left to evaluate more."""
    if not any(k in merged for k in LIFTED) or "anyOf" in merged or "oneOf" in merged:
        return merged
    out = dict(merged)
    ev = merged.get("__evaluated") or evaluated_of([merged])
    if "unevaluatedProperties" in out:
        _properties(out, out.pop("unevaluatedProperties"), ev)
    if "unevaluatedItems" in out:
        _items(out, out.pop("unevaluatedItems"), ev)
    return out


def _properties(out: dict[str, Any], extra: Any, ev: dict[str, Any]) -> None:
    if ev["all"] or extra is True:
        return
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


def _items(out: dict[str, Any], extra: Any, ev: dict[str, Any]) -> None:
    if ev["all_items"] or extra is True:
        return
    if "prefixItems" in out:
        prefix, tail = list(out["prefixItems"]), out.get("items", True)
    elif isinstance(out.get("items"), list):
        prefix, tail = list(out["items"]), out.get("additionalItems", True)
    else:
        prefix, tail = [], out.get("items", True)
    done = ev["prefix"]
    out["prefixItems"] = [sub if i < done else {"allOf": [sub, extra]}
                          for i, sub in enumerate(prefix)]
    out["items"] = extra if tail is True else {"allOf": [tail, extra]}
    out.pop("additionalItems", None)
