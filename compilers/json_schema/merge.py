"""``allOf`` as one schema: the exact intersection of two flattened schemas, keyword by
keyword (properties and items merged position by position)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from compilers.errors import UnsupportedFeatureError
from compilers.json_schema.ecma_regex import ecma_search_to_fullmatch
from compilers.json_schema.keywords import (
    ANNOTATIONS,
    KNOWN,
    UNSUPPORTED_REFS,
    is_schema,
    json_equal,
)
from compilers.json_schema.safe_regex import safe_fullmatch

__all__ = ["merge_schemas"]

MAX_ANYOF_PRODUCT = 64  # branches of anyOf x anyOf spelt out when both sides have one


def _object_view(s: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    return (dict(s.get("properties", {})), dict(s.get("patternProperties", {})),
            s.get("additionalProperties", True))


def _schema_for_name(s: dict[str, Any], name: str, ptr: str) -> list[Any]:
    """The schemas one object schema applies to the value of key ``name``."""
    props, pats, additional = _object_view(s)
    out = [props[name]] if name in props else []
    for p, sub in pats.items():
        if safe_fullmatch(ecma_search_to_fullmatch(p, ptr), name):
            out.append(sub)
    if not out and additional is not True:
        out.append(additional)
    return out


def _one_sided(a: dict[str, Any], b: dict[str, Any], out: dict[str, Any],
               keys: tuple[str, ...]) -> bool:
    """If only one of ``a``, ``b`` has any of ``keys``, copy its values into ``out`` (nothing
    to merge) and return True."""
    if any(k in a for k in keys) and any(k in b for k in keys):
        return False
    for k in keys:
        if k in a or k in b:
            out[k] = a.get(k, b.get(k))
    return True


def _merge_objects(a: dict[str, Any], b: dict[str, Any], out: dict[str, Any],
                   ptr: str) -> None:
    """properties / patternProperties / additionalProperties of ``a`` and ``b`` together,
    exactly: each key gets every schema either side applies to it."""
    if _one_sided(a, b, out, ("properties", "patternProperties", "additionalProperties")):
        return
    pa, qa, ra = _object_view(a)
    pb, qb, rb = _object_view(b)
    props: dict[str, Any] = {}
    for name in list(dict.fromkeys([*pa, *pb])):
        schemas = _schema_for_name(a, name, ptr) + _schema_for_name(b, name, ptr)
        props[name] = schemas[0] if len(schemas) == 1 else {"allOf": schemas}
    pats = dict(qa)
    for p, sub in qb.items():
        pats[p] = {"allOf": [pats[p], sub]} if p in pats else sub
    if (qa and rb is not True) or (qb and ra is not True):
        raise UnsupportedFeatureError("allOf combining patternProperties with another "
                                      "branch's additionalProperties", location=ptr)
    out["properties"] = props
    if pats:
        out["patternProperties"] = pats
    if ra is not True or rb is not True:
        out["additionalProperties"] = ra if rb is True else rb if ra is True else \
            {"allOf": [ra, rb]}
    else:
        out.pop("additionalProperties", None)


def _array_view(s: dict[str, Any]) -> tuple[list[Any], Any]:
    if "prefixItems" in s:
        return list(s["prefixItems"]), s.get("items", True)
    if isinstance(s.get("items"), list):
        return list(s["items"]), s.get("additionalItems", True)
    return [], s.get("items", True)


def _merge_arrays(a: dict[str, Any], b: dict[str, Any], out: dict[str, Any]) -> None:
    """Item schemas of ``a`` and ``b`` together, position by position."""
    keys = ("items", "prefixItems", "additionalItems")
    if _one_sided(a, b, out, keys):
        return
    prefix_a, tail_a = _array_view(a)
    prefix_b, tail_b = _array_view(b)
    n = max(len(prefix_a), len(prefix_b))
    prefix = []
    for i in range(n):
        xa = prefix_a[i] if i < len(prefix_a) else tail_a
        xb = prefix_b[i] if i < len(prefix_b) else tail_b
        prefix.append({"allOf": [xa, xb]})
    for k in keys:
        out.pop(k, None)
    if prefix:
        out["prefixItems"] = prefix
    out["items"] = {"allOf": [tail_a, tail_b]}


def merge_schemas(a: Any, b: Any, ptr: str) -> Any:
    """The intersection of two flattened schemas, for the keywords where it is exact;
    raises UnsupportedFeatureError where a keyword cannot be merged exactly."""
    if a is False or b is False:
        return False
    if a is True:
        return b if b is not True else {}
    if b is True:
        return a
    out = dict(a)
    _merge_objects(a, b, out, ptr)
    _merge_arrays(a, b, out)
    merged_here = {"properties", "patternProperties", "additionalProperties", "items",
                   "prefixItems", "additionalItems"}
    for k, v in b.items():
        if k in ANNOTATIONS or k in merged_here or k in ("__no_eval", "__evaluated"):
            continue  # what a part evaluated is recorded by the caller
        if k not in KNOWN and not k.startswith("__") and k not in UNSUPPORTED_REFS:
            out.setdefault(k, v)  # an unknown keyword ("x-..."): an annotation, no assertion
            continue
        if k not in out:
            out[k] = v
            continue
        cur = out[k]
        if json_equal(cur, v):
            continue
        if k == "type":
            ta = {cur} if isinstance(cur, str) else set(cur)
            tb = {v} if isinstance(v, str) else set(v)
            both = ta & tb
            if ("number" in ta and "integer" in tb) or ("integer" in ta and "number" in tb):
                both.add("integer")
            if not both:
                return False
            out[k] = sorted(both)
        elif k == "required":
            out[k] = list(dict.fromkeys(list(cur) + list(v)))
        elif k in ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum") \
                and not isinstance(v, bool) and not isinstance(cur, bool):
            out[k] = max(cur, v)
        elif k in ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum") \
                and not isinstance(v, bool) and not isinstance(cur, bool):
            out[k] = min(cur, v)
        elif k in ("enum",):
            keep = {json.dumps(x, sort_keys=True) for x in v}
            out[k] = [x for x in cur if json.dumps(x, sort_keys=True) in keep]
        elif k == "const":
            return False
        elif k == "uniqueItems" and isinstance(cur, bool) and isinstance(v, bool):
            out[k] = cur or v
        elif k == "multipleOf" and _is_number(cur) and _is_number(v) and cur > 0 and v > 0:
            out[k] = _lcm(cur, v)
        elif k in ("propertyNames", "not") and is_schema(cur) and is_schema(v):
            out[k] = {"allOf": [cur, v]} if k != "not" else {"anyOf": [cur, v]}
        elif k in ("pattern", "format"):
            extra = f"__{k}s"
            out[extra] = [*out.get(extra, []), v]
        elif k in ("__patterns", "__formats", "__string_excl", "__number_excl",
                   "__values_excl"):
            out[k] = [*cur, *v]
        elif k == "anyOf" and len(cur) * len(v) <= MAX_ANYOF_PRODUCT:
            out[k] = [{"allOf": [x, y]} for x in cur for y in v]
        else:
            raise UnsupportedFeatureError(f"allOf combining two different {k!r}",
                                          location=f"{ptr}/{k}")
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _lcm(a: float, b: float) -> float:
    """Least common multiple of two positive decimals (a multiple of both is a multiple of
    this): lcm of the numerators over gcd of the denominators, exactly."""
    fa, fb = Fraction(str(a)), Fraction(str(b))
    n = math.lcm(fa.numerator, fb.numerator)
    d = math.gcd(fa.denominator, fb.denominator)
    return n // d if n % d == 0 else float(Decimal(n) / Decimal(d))
