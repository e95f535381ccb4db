"""JSON Schema logic keywords: not, if/then/else, overlapping oneOf, dependencies, contains,
min/maxProperties, uniqueItems, property order "any", lenient mode.

Each schema is checked against ``jsonschema`` on a pool of documents (canonical
``json.dumps`` spellings): the engine accepts exactly the valid ones. Documents sampled
from the engine's own masks must validate.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

import grammar_engine as ge
from tests.json_helpers import accepts_text, is_valid, sample_document
from tests.test_json_schema import compile_schema


def _objects() -> list[Any]:
    out: list[Any] = [{}]
    for r in (1, 2, 3):
        for names in itertools.permutations(["a", "b", "c", "x"], r):
            out.append(dict.fromkeys(names, 1))
            out.append({k: ("s" if k == names[0] else 1) for k in names})
    return out


POOL: list[Any] = [
    None, True, False, 0, 1, -1, 2, 3, 2.5, -0.5, 10, 100, "", "a", "US", "CA", "abc", "abcd",
    "2024-01-01", [], [1], [1, "a"], ["a", "b"], [1, 2, 3], [None], [1, 1], [1, 2, "a"],
    ["a", "a"], ["a", 1, 1], [1, "a", 1, 1], [2.5, "a"], {"country": "US"},
    {"country": "US", "postal": "20500"}, {"country": "CA", "postal": "K1M 1M4"},
    {"country": "CA", "postal": "20500"}, {"country": "US", "postal": "K1M 1M4"},
    {"aa": 1}, {"ab": 1}, {"ba": 1}, {"aa": "x"}, {"ab": "x"}, {"b": "x"}, {"ab": 1.5},
    {"a": 2}, {"a": 200}, [True, False], [True, True], [False], [2, 1, 3], [3, 2],
    [None, True], [{"a": 1}, {"a": 1}], ["b", "b"], ["a", "b", "a"], ["ab", "a", "b"],
    ["", ""], ["", "a", ""], ["ba", "bb", "ba"], ["a", "b", "c", "d"], [["a", "b"], ["a"]],
    [["a", "a"]], [["a"], ["a"]], [[], ["b", "b"]], *_objects(),
]

ANY = {"property_order": "any"}
EXACT: list[tuple[Any, dict[str, Any]]] = [
    ({"not": {"type": "integer"}}, {}),
    ({"not": {"const": "US"}}, {}),
    ({"not": {"enum": [1, "a", None, True]}}, {}),
    ({"type": "string", "not": {"pattern": "^a"}}, {}),
    ({"not": {"minimum": 2}}, {}),
    ({"not": {"type": "string", "minLength": 2}}, {}),
    ({"not": {"required": ["a"]}}, ANY),
    ({"not": {"properties": {"a": {"type": "integer"}}}}, ANY),
    ({"not": {"not": {"type": "string"}}}, {}),
    ({"not": {"anyOf": [{"type": "string"}, {"type": "array"}]}}, {}),
    ({"not": {"items": {"type": "integer"}}}, {}),
    ({"not": {"contains": {"type": "integer"}}}, {}),
    ({"type": "array", "items": {"not": {"type": "null"}}}, {}),
    ({"if": {"properties": {"country": {"const": "US"}}},
      "then": {"properties": {"postal": {"pattern": "^[0-9]{5}$"}}},
      "else": {"properties": {"postal": {"pattern": "^[A-Z][0-9][A-Z] [0-9][A-Z][0-9]$"}}}},
     {}),
    ({"if": {"type": "integer"}, "then": {"minimum": 2}}, {}),
    ({"if": {"minLength": 3}, "else": {"const": "a"}}, {}),
    ({"oneOf": [{"type": "integer"}, {"minimum": 2}]}, {}),
    ({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, ANY),
    ({"oneOf": [{"type": "string", "minLength": 2}, {"type": "string", "maxLength": 3}]}, {}),
    ({"oneOf": [{"type": "number"}, {"type": "integer"}, {"type": "string"}]}, {}),
    ({"dependentRequired": {"a": ["b"]}}, ANY),
    ({"$schema": "http://json-schema.org/draft-07/schema#",
      "dependencies": {"b": {"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}}},
     ANY),
    ({"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": {"c": ["a", "x"]}},
     ANY),
    ({"contains": {"type": "integer"}}, {}),
    ({"contains": {"const": "a"}, "minContains": 2}, {}),
    ({"contains": {"type": "integer"}, "maxContains": 1}, {}),
    ({"contains": {"type": "integer"}, "minContains": 2, "maxContains": 3,
      "items": {"type": ["integer", "string"]}}, {}),
    ({"type": "object", "maxProperties": 2}, ANY),
    ({"type": "object", "minProperties": 1, "maxProperties": 2,
      "properties": {"a": {"type": "integer"}}}, ANY),
    ({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
      "required": ["b"], "minProperties": 2}, ANY),
    ({"type": "object", "properties": {"a": {}, "b": {}, "c": {}}, "required": ["b", "c"],
      "additionalProperties": False}, ANY),
    ({"type": "object", "dependentRequired": {"a": ["b"]}, "maxProperties": 2}, ANY),
    ({"not": {"minProperties": 2}}, ANY),
    ({"type": "object", "properties": {"a": {}}, "unevaluatedProperties": False}, ANY),
    ({"allOf": [{"properties": {"a": {}}}], "properties": {"b": {}},
      "unevaluatedProperties": False}, ANY),
    ({"if": {"properties": {"a": {"const": 1}}, "required": ["a"]},
      "then": {"properties": {"b": {}}}, "else": {"properties": {"c": {}}},
      "unevaluatedProperties": False}, ANY),
    ({"not": {"properties": {"a": {"type": "string"}}, "required": ["a"]},
      "unevaluatedProperties": False}, ANY),
    ({"$defs": {"base": {"properties": {"a": {}}}}, "$ref": "#/$defs/base",
      "properties": {"x": {}}, "unevaluatedProperties": {"type": "string"}}, ANY),
    ({"allOf": [{"properties": {"a": {}}, "unevaluatedProperties": False}],
      "properties": {"b": {}}}, ANY),
    ({"properties": {"a": {}}, "additionalProperties": True, "unevaluatedProperties": False},
     ANY),
    ({"dependentSchemas": {"a": {"properties": {"b": {}}}}, "properties": {"a": {}},
      "unevaluatedProperties": False}, ANY),
    ({"patternProperties": {"^a": {"type": "integer"}, "b$": {"minimum": 2}},
      "additionalProperties": False}, ANY),
    ({"patternProperties": {"a": {"type": "integer"}, "b": {"type": "integer"},
                            "^a": {"maximum": 100}}}, ANY),
    ({"properties": {"a": {}}, "patternProperties": {"a": {"type": "integer"},
                                                     ".": {"minimum": 2}}}, ANY),
    ({"prefixItems": [{"type": "integer"}], "unevaluatedItems": False}, {}),
    ({"allOf": [{"prefixItems": [{"type": "integer"}]}], "unevaluatedItems": {"type": "string"}},
     {}),
    ({"items": {"type": "integer"}, "unevaluatedItems": False}, {}),
    ({"anyOf": [{"prefixItems": [True, True]}, {"prefixItems": [{"const": "a"}]}],
      "unevaluatedItems": False}, {}),
    ({"$schema": "https://json-schema.org/draft/2019-09/schema", "items": [{"type": "integer"}],
      "unevaluatedItems": False}, {}),
    ({"if": {"prefixItems": [{"const": 1}]}, "then": {"prefixItems": [True, True]},
      "unevaluatedItems": False}, {}),
]

# Unknown keywords are annotations: allOf may combine two different ones.
EXACT += [({"allOf": [{"type": "integer", "x-doc": "a"}, {"minimum": 2, "x-doc": {"b": 1}}]},
           {})]

# uniqueItems over finite item values: the set written so far is in the grammar's states.
EXACT += [
    ({"items": {"enum": [1, 2, "a", None]}, "uniqueItems": True}, {}),
    ({"items": {"type": ["boolean", "null"]}, "uniqueItems": True, "minItems": 1}, {}),
    ({"prefixItems": [{"enum": [1, 2]}, {"enum": [1, "a"]}], "items": False,
      "uniqueItems": True}, {}),
    ({"items": {"type": "integer", "minimum": 1, "maximum": 3}, "uniqueItems": True,
      "contains": {"const": 2}, "maxContains": 1}, {}),
    ({"items": {"type": "integer", "exclusiveMinimum": 0, "maximum": 3, "not": {"const": 2}},
      "uniqueItems": True}, {}),
    ({"items": {"anyOf": [{"const": 1}, {"const": 1.0}, {"type": "boolean"}]},
      "uniqueItems": True}, {}),
    ({"maxItems": 1, "uniqueItems": True}, {}),
    ({"allOf": [{"uniqueItems": True}, {"items": {"enum": ["a", "b", {"a": 1}]}}]}, {}),
    ({"items": {"$ref": "#/$defs/e"}, "uniqueItems": True, "$defs": {"e": {"enum": ["a", 1]}}},
     {}),
]

# uniqueItems over strings: the parser checks each item's value at run time.
EXACT += [
    ({"items": {"type": "string"}, "uniqueItems": True}, {}),
    ({"items": {"type": "string", "minLength": 1}, "uniqueItems": True, "minItems": 2,
      "maxItems": 3}, {}),
    ({"items": {"$ref": "#/$defs/s"}, "uniqueItems": True,
      "$defs": {"s": {"type": "string", "pattern": "b"}}}, {}),
    ({"anyOf": [{"items": {"type": "string"}, "uniqueItems": True},
                {"items": {"type": "string", "pattern": "^b"}}]}, {}),
    ({"items": {"items": {"type": "string"}, "uniqueItems": True}}, {}),
    # ... and over numbers, compared as exact decimals.
    ({"items": {"type": "number"}, "uniqueItems": True}, {}),
    ({"items": {"type": "integer"}, "uniqueItems": True, "minItems": 2}, {}),
    ({"items": {"type": "number", "exclusiveMinimum": 1}, "uniqueItems": True}, {}),
    ({"items": {"items": {"type": "number"}, "uniqueItems": True}}, {}),
    # ... and over arbitrary values, compared as JSON Schema compares them.
    ({"uniqueItems": True}, {}),
    ({"type": "array", "items": True, "uniqueItems": True, "maxItems": 3}, {}),
    ({"items": {"uniqueItems": True}}, {}),
    ({"prefixItems": [{"type": "boolean"}, {"type": "boolean"}], "uniqueItems": True}, {}),
    ({"prefixItems": [{"type": "boolean"}, {"enum": [1, "a", None]}], "uniqueItems": True,
      "minItems": 1}, {}),
]

# Sound but narrower: every accepted document is valid, some valid ones are refused.
NARROWER: list[tuple[Any, dict[str, Any], str]] = [
    # A document matching both branches: the spec unites their evaluated names.
    ({"anyOf": [{"properties": {"a": {}}, "required": ["a"]},
                {"properties": {"b": {}}, "required": ["b"]}],
      "unevaluatedProperties": False}, ANY, '{"a": 1, "b": 1}'),
    # Negated numeric ranges are written without exponents.
    ({"not": {"minimum": 2}}, {}, "1e0"),
]


@pytest.mark.parametrize(("schema", "options"), EXACT,
                         ids=[json.dumps(s)[:70] for s, _ in EXACT])
def test_exact_on_pool(schema: Any, options: dict[str, Any]) -> None:
    g = compile_schema(schema, **options)
    wrong = []
    for value in POOL:
        text = json.dumps(value)
        accepted, valid = accepts_text(g, text), is_valid(schema, text)
        if accepted != valid:
            wrong.append(f"{text}: {'accepted' if accepted else 'rejected'}, "
                         f"{'valid' if valid else 'invalid'}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("schema", "options", "refused"), NARROWER,
                         ids=[json.dumps(s)[:70] for s, _, _ in NARROWER])
def test_narrower_is_sound_on_pool(schema: Any, options: dict[str, Any], refused: str) -> None:
    g = compile_schema(schema, **options)
    assert is_valid(schema, refused) and not accepts_text(g, refused)
    accepted = [json.dumps(v) for v in POOL if accepts_text(g, json.dumps(v))]
    assert accepted, "nothing accepted"
    invalid = [t for t in accepted if not is_valid(schema, t)]
    assert not invalid, invalid


def test_unique_items_compare_values_as_json_schema_does() -> None:
    schema = {"items": {"enum": [1, 1.0, True, {"a": 1, "b": 2}, {"b": 2, "a": 1}]},
              "uniqueItems": True}
    g = compile_schema(schema)
    assert accepts_text(g, '[1, true, {"a": 1, "b": 2}]')
    for text in ("[1, 1]", "[true, true]", '[{"a": 1, "b": 2}, {"b": 2, "a": 1}]', "[1, 1.0]"):
        assert not accepts_text(g, text), text


@pytest.mark.parametrize(("items", "message"), [
    ({"type": ["number", "string"]}, "not a small finite set"),
    ({"type": "integer", "minimum": 0}, "finitely many continuations"),
    ({"type": "object"}, "not a small finite set"),
    ({"type": "integer", "minimum": 0, "maximum": 64}, "finitely many continuations"),
    ({"type": "string", "maxLength": 8}, "finitely many continuations"),
    ({"type": "string", "format": "date"}, "finitely many continuations"),
    ({"enum": list(range(65))}, "more than 64 values"),
    ({"enum": list(range(20))}, "more than 1024 sets"),
])
def test_unique_items_beyond_finite_values_are_refused(items: Any, message: str) -> None:
    with pytest.raises(ge.UnsupportedFeatureError, match=message) as info:
        compile_schema({"properties": {"a": {"items": items, "uniqueItems": True}}})
    assert info.value.location == "#/properties/a/uniqueItems"


def test_sampled_documents_validate() -> None:
    """Random walks through the masks end in valid documents (walks that must hit one
    particular key by chance often run out of steps: most schemas must still yield)."""
    yielding = 0
    for schema, options in EXACT:
        g = compile_schema(schema, **options)
        rng = random.Random(json.dumps(schema))
        produced = 0
        for _ in range(20):
            doc = sample_document(g, rng, max_tokens=400)
            if doc is None:
                continue
            produced += 1
            assert is_valid(schema, doc), f"{schema}: invalid document sampled: {doc!r}"
        yielding += produced > 0
    assert yielding >= 0.8 * len(EXACT), (yielding, len(EXACT))


def test_schema_order_is_narrower_than_any_order() -> None:
    schema = {"type": "object", "properties": {"a": {}, "b": {}}, "required": ["a", "b"]}
    ordered, any_order = compile_schema(schema), compile_schema(schema, **ANY)
    assert accepts_text(ordered, '{"a": 1, "b": 2}')
    assert not accepts_text(ordered, '{"b": 2, "a": 1}')
    assert accepts_text(any_order, '{"b": 2, "a": 1}')
    assert not accepts_text(any_order, '{"b": 2, "a": 1, "b": 3}')  # no repeated member


def test_any_order_falls_back_to_schema_order_for_large_objects() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {} for i in range(4)}}
    g = compile_schema(schema, property_order="any", max_any_order_properties=3)
    assert any("schema order" in note for note in g.notes)
    assert accepts_text(g, '{"p0": 1, "p3": 2}')
    assert not accepts_text(g, '{"p3": 1, "p0": 2}')


def test_min_properties_beyond_what_can_be_counted_is_refused() -> None:
    with pytest.raises(ge.UnsupportedFeatureError, match="minProperties") as info:
        compile_schema({"type": "object", "minProperties": 2})
    assert info.value.location == "#/minProperties"


def test_lenient_relaxes_with_a_warning_and_a_note() -> None:
    schema = {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "object"}, "uniqueItems": True},
        "kind": {"oneOf": [{"type": "array", "uniqueItems": True}, {"type": "array"}]}}}
    with pytest.raises(ge.UnsupportedFeatureError):
        compile_schema(schema)
    with pytest.warns(ge.LenientRelaxationWarning) as record:
        g = compile_schema(schema, lenient=True)
    messages = [str(w.message) for w in record]
    assert any("#/properties/tags/uniqueItems: dropped" in m for m in messages), messages
    assert any("oneOf read as anyOf" in m for m in messages), messages
    assert sum(note.startswith("lenient:") for note in g.notes) == len(messages)
    assert accepts_text(g, '{"tags": [{}, {}]}')  # relaxed: duplicates now pass


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="property_order"):
        compile_schema({}, property_order="alphabetical")


REMOTE = {
    "https://example.com/defs.json": {
        "$defs": {"id": {"type": "integer", "minimum": 1},
                  "tree": {"type": "object", "properties": {
                      "id": {"$ref": "#/$defs/id"},
                      "kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}},
                      "required": ["id"], "additionalProperties": False}}},
}


def test_remote_ref_needs_a_resolver() -> None:
    schema = {"$ref": "https://example.com/defs.json#/$defs/tree"}
    with pytest.raises(ge.UnsupportedFeatureError, match="resolver") as info:
        compile_schema(schema)
    assert info.value.location == "#/$ref"
    with pytest.raises(ge.SchemaError, match="could not retrieve") as bad:
        compile_schema({"properties": {"a": {"$ref": "https://example.com/missing.json"}}},
                       resolver=REMOTE)
    assert bad.value.pointer == "#/properties/a/$ref"


@pytest.mark.parametrize("resolver", [REMOTE, REMOTE.__getitem__], ids=["mapping", "function"])
def test_remote_ref_resolves_in_its_own_document(resolver: Any) -> None:
    # The remote document's own "#/$defs/..." references resolve in that document, and
    # relative references resolve against the root's $id.
    schema = {"$id": "https://example.com/root.json", "$ref": "defs.json#/$defs/tree"}
    g = compile_schema(schema, resolver=resolver)
    registry_schema = {"$ref": "https://example.com/defs.json#/$defs/tree"}
    for text, valid in [('{"id": 1}', True), ('{"id": 1, "kids": [{"id": 2}]}', True),
                        ('{"id": 0}', False), ('{"id": 1, "kids": [{}]}', False),
                        ('{"id": 1, "x": 2}', False)]:
        assert accepts_text(g, text) == valid, text
        assert accepts_text(compile_schema(registry_schema, resolver=resolver), text) == valid


EMBEDDED = {
    "$id": "https://example.com/root.json",
    "properties": {
        "a": {"$ref": "item.json"},  # an embedded resource, no resolver needed
        "b": {"$ref": "item.json#/$defs/small"},
        "c": {"$ref": "item.json#big"},  # its anchor, not the root's
        "d": {"$ref": "#big"}},
    "$defs": {  # item.json comes first: its anchor must not be taken for the root's
        "item": {"$id": "item.json", "$ref": "#/$defs/small",  # resolves in item.json
                 "$defs": {"small": {"type": "integer", "maximum": 9},
                           "big": {"$anchor": "big", "type": "string"}}},
        "big": {"$anchor": "big", "type": "integer", "minimum": 100},
        "small": {"type": "string"}},
    "additionalProperties": False,
}


@pytest.mark.parametrize(("text", "valid"), [
    ('{"a": 5}', True), ('{"a": "x"}', False), ('{"a": 50}', False),
    ('{"b": 9}', True), ('{"b": "x"}', False),
    ('{"c": "x"}', True), ('{"c": 200}', False),
    ('{"d": 200}', True), ('{"d": "x"}', False),
])
def test_embedded_resources_resolve_in_themselves(text: str, valid: bool) -> None:
    g = compile_schema(EMBEDDED)
    assert is_valid(EMBEDDED, text) == valid
    assert accepts_text(g, text) == valid, text


def test_ids_in_unknown_keywords_and_values_are_not_resources() -> None:
    schema = {"$defs": {"real": {"$id": "https://e.com/s.json", "type": "string"},
                        "fake": {"x-schemas": [{"$id": "https://e.com/s.json",
                                                "type": "null"}],
                                 "enum": [{"$id": "https://e.com/s.json"}, 1]}},
              "anyOf": [{"$ref": "#/$defs/fake"}, {"$ref": "https://e.com/s.json"}]}
    g = compile_schema(schema)
    for text in ('"s"', "1", "null", '{"$id": "https://e.com/s.json"}'):
        assert accepts_text(g, text) == is_valid(schema, text), text


@pytest.mark.parametrize(("pattern", "accepted", "refused"), [
    ("^\\p{Lu}\\p{Ll}+$", ['"Ab"', '"Éé"', '"Ωω"'], ['"ab"', '"A1"']),
    ("^[\\p{L}\\d]+$", ['"a1"', '"日本"'], ['"a-"', '""']),
    ("^\\P{L}+$", ['"12"', '"-"'], ['"a"', '"1a"']),
    ("^\\p{General_Category=Decimal_Number}$", ['"7"', '"٣"'], ['"x"']),
])
def test_unicode_property_escapes(pattern: str, accepted: list[str], refused: list[str]) -> None:
    g = compile_schema({"type": "string", "pattern": pattern})
    for text in accepted:
        assert accepts_text(g, text), text
    for text in refused:
        assert not accepts_text(g, text), text


def test_unicode_scripts_are_refused() -> None:
    with pytest.raises(ge.UnsupportedFeatureError, match="general categories"):
        compile_schema({"type": "string", "pattern": "\\p{Script=Greek}"})
