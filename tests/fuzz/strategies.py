"""Hypothesis strategies for the fuzz tests: regexes, Lark grammars and JSON Schemas, both
well-formed (to check masks and outputs) and broken (to check that only engine errors come
out). Draws shrink toward short patterns, few rules and flat schemas."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

# -- regexes -----------------------------------------------------------------------------------

_ATOMS = st.sampled_from([
    "a", "b", "c", "é", "0", "\\.", "\\d", "\\w", "\\s", "[ab]", "[^a]", "[a-c]", "[é-ü]",
    ".", "x", "\\u00e9", "[0-9]", " ",
])
_QUANTS = st.sampled_from(["", "", "", "*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}"])


def _regex_node(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    seq = st.lists(children, min_size=1, max_size=3).map("".join)
    alt = st.lists(children, min_size=2, max_size=3).map(lambda xs: "(?:" + "|".join(xs) + ")")
    group = st.tuples(children, _QUANTS).map(lambda t: f"({t[0]}){t[1]}")
    return st.one_of(seq, alt, group)


regex_text = st.recursive(st.tuples(_ATOMS, _QUANTS).map("".join), _regex_node,
                          max_leaves=8)


def non_empty(pattern: str) -> str:
    """``pattern``, followed by ``!`` when it matches the empty string (Lark, which loads
    the oracle's grammar, refuses terminals that match nothing)."""
    return f"(?:{pattern})!" if re.fullmatch(pattern, "") else pattern

# Arbitrary text over the regex metacharacters: mostly invalid patterns.
broken_regex = st.text(alphabet="ab()[]{}*+?|\\^$.-,0123é\ud800", max_size=14)

# -- Lark grammars -----------------------------------------------------------------------------


@st.composite
def lark_grammar(draw: st.DrawFn) -> str:
    """``start`` plus up to three rules; alternatives of literals, regex terminals and rule
    references (recursion allowed), and sometimes an ignored whitespace terminal."""
    n_rules = draw(st.integers(1, 3))
    names = ["start"] + [f"r{i}" for i in range(1, n_rules)]
    literal = st.sampled_from(['"a"', '"b"', '"ab"', '"("', '")"', '","', '"é"', '"xy"'])
    terminal = st.sampled_from(["NUM", "WORD", "STR"])
    lines = []
    for name in names:
        alts = []
        for _ in range(draw(st.integers(1, 3))):
            items = draw(st.lists(st.one_of(literal, terminal, st.sampled_from(names)),
                                  min_size=1, max_size=3))
            suffix = draw(st.sampled_from(["", "", "?", "*", "+"]))
            alts.append(" ".join(items) + ("" if len(items) > 1 else suffix))
        lines.append(f"{name}: " + " | ".join(alts))
    lines += ["NUM: /[0-9]+/", "WORD: /[a-z]+/", 'STR: /"[^"]*"/']
    if draw(st.booleans()):
        lines += ["WS: / +/", "%ignore WS"]
    return "\n".join(lines) + "\n"


def regex_grammar(pattern: str) -> str:
    """The Lark grammar whose language is ``pattern`` matched as a whole."""
    return f"start: R\nR: /{pattern}/\n"


@st.composite
def broken_lark_grammar(draw: st.DrawFn) -> str:
    """A valid grammar with a slice cut out or a few characters replaced."""
    text = draw(lark_grammar())
    i = draw(st.integers(0, len(text)))
    j = draw(st.integers(i, min(len(text), i + 6)))
    junk = draw(st.text(alphabet=':|"/()[]?*+%\n ab_', max_size=4))
    return text[:i] + junk + text[j:]


# -- JSON Schemas ------------------------------------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "name", "x y", "é", "id"])
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-50, 50),
                    st.sampled_from(["", "a", "é", "x\"y", "\\", "\n"]))


def _leaf_schemas() -> st.SearchStrategy[dict[str, Any]]:
    string = st.fixed_dictionaries({"type": st.just("string")}, optional={
        "minLength": st.integers(0, 3), "maxLength": st.integers(0, 6),
        "pattern": st.sampled_from(["^a", "b$", "^[a-c]*$", "[0-9]", "^.$"]),
        "format": st.sampled_from(["date", "email", "uuid"])})
    integer = st.fixed_dictionaries({"type": st.just("integer")}, optional={
        "minimum": st.integers(-20, 20), "maximum": st.integers(-20, 40),
        "exclusiveMinimum": st.integers(-20, 20), "multipleOf": st.integers(1, 5)})
    number = st.fixed_dictionaries({"type": st.just("number")}, optional={
        "minimum": st.sampled_from([-1.5, 0, 2]), "maximum": st.sampled_from([0.5, 10, 100])})
    return st.one_of(
        string, integer, number,
        st.just({"type": "boolean"}), st.just({"type": "null"}), st.just({}),
        st.lists(_SCALAR, min_size=1, max_size=4).map(lambda v: {"enum": v}),
        _SCALAR.map(lambda v: {"const": v}),
        st.just({"type": ["string", "null"]}),
    )


def _compound(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    obj = st.dictionaries(_KEYS, children, max_size=3).map(
        lambda p: {"type": "object", "properties": p,
                   "required": sorted(p)[: len(p) // 2 + 1] if p else [],
                   "additionalProperties": False})
    open_obj = st.dictionaries(_KEYS, children, max_size=2).map(
        lambda p: {"type": "object", "properties": p})
    arr = st.fixed_dictionaries({"type": st.just("array"), "items": children}, optional={
        "minItems": st.integers(0, 2), "maxItems": st.integers(0, 3)})
    tup = st.lists(children, min_size=1, max_size=3).map(
        lambda xs: {"type": "array", "prefixItems": xs, "items": False})
    any_of = st.lists(children, min_size=1, max_size=3).map(lambda xs: {"anyOf": xs})
    all_of = st.lists(children, min_size=1, max_size=2).map(lambda xs: {"allOf": xs})
    return st.one_of(obj, open_obj, arr, tup, any_of, all_of)


json_schema = st.recursive(_leaf_schemas(), _compound, max_leaves=6)


@st.composite
def schema_with_refs(draw: st.DrawFn) -> dict[str, Any]:
    """A schema whose parts live in ``$defs`` and are used through ``$ref`` (maybe
    recursively, behind an optional property so that the recursion can stop)."""
    leaf = draw(json_schema)
    return {"$defs": {"leaf": leaf,
                      "node": {"type": "object",
                               "properties": {"v": {"$ref": "#/$defs/leaf"},
                                              "next": {"$ref": "#/$defs/node"}},
                               "required": ["v"], "additionalProperties": False}},
            "$ref": draw(st.sampled_from(["#/$defs/leaf", "#/$defs/node"]))}


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
              st.text(max_size=4)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=4), c,
                                                                  max_size=3)),
    max_leaves=8)

_KEYWORDS = st.sampled_from([
    "type", "enum", "const", "properties", "required", "items", "prefixItems", "anyOf",
    "oneOf", "allOf", "not", "$ref", "minimum", "maximum", "minLength", "maxLength",
    "pattern", "format", "additionalProperties", "minItems", "maxItems", "multipleOf",
    "$defs", "if", "then", "else", "uniqueItems", "propertyNames", "patternProperties",
    "dependentRequired", "minProperties", "contains",
])

# Backtracking bombs for ``re`` beside the constants the compiler checks against them.
_EVIL_PATTERNS = st.sampled_from(["^(a+)+$", "(x+x+)+y", "^(a|aa)*$", "(\\w+\\s?)*$",
                                  "^(a|b)*a(a|b){12}$"])
_EVIL_TEXT = st.sampled_from(["a" * 40 + "!", "x" * 40, "ab" * 20 + " !", "a" * 41])
redos_schema = st.one_of(
    st.builds(lambda p, v: {"type": "string", "pattern": p, "enum": v}, _EVIL_PATTERNS,
              st.lists(_EVIL_TEXT, min_size=1, max_size=3)),
    st.builds(lambda p, k: {"type": "object", "patternProperties": {p: {"type": "null"}},
                            "properties": {k: {}}}, _EVIL_PATTERNS, _EVIL_TEXT),
    st.builds(lambda p, v: {"not": {"pattern": p}, "const": v}, _EVIL_PATTERNS, _EVIL_TEXT),
)

# Keyword soup: real keywords with arbitrary JSON values (mostly invalid schemas).
broken_schema = st.one_of(
    redos_schema,
    st.recursive(st.dictionaries(_KEYWORDS, _JSON, max_size=3),
                 lambda c: st.dictionaries(_KEYWORDS, st.one_of(c, st.lists(c, max_size=2)),
                                           max_size=3), max_leaves=6),
    _JSON,
    st.text(max_size=30),
    st.builds(lambda s, i, junk: json.dumps(s)[:i] + junk, json_schema, st.integers(0, 40),
              st.text(max_size=3)),
)
