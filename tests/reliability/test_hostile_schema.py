"""Hostile JSON Schemas: deep nesting, self-reference, huge enums and consts, remote
references, schemas that are not JSON at all."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

import grammar_engine as ge
from grammar_engine import (
    GrammarSyntaxError,
    LimitExceededError,
    Limits,
    SchemaError,
    UnsupportedFeatureError,
)
from tests.reliability.helpers import BYTES_VOCAB


def compile_schema(schema: Any, limits: Limits | None = None, **kw: Any) -> ge.CompiledGrammar:
    return ge.compile_json_schema(schema, BYTES_VOCAB, limits=limits, cache=False,
                                  whitespace="compact", **kw)


def nested(depth: int, key: str = "items") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(depth):
        schema = {"type": "array", key: schema}
    return schema


def accepts(g: ge.CompiledGrammar, text: str) -> bool:
    m = ge.Matcher(g)
    return m.consume_string(text) and m.is_accepting()


def test_nesting_within_the_limit_compiles() -> None:
    g = compile_schema(nested(40))
    assert accepts(g, "[" * 40 + "1" + "]" * 40)
    assert not accepts(g, "[" * 39 + "1" + "]" * 39)


@pytest.mark.parametrize("depth", [101, 100_000])
def test_deep_schema_document_stops_at_max_nesting_depth(depth: int) -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_schema(nested(depth), Limits(max_nesting_depth=100))
    e = info.value
    assert e.limit == "max_nesting_depth" and e.value == 100 and e.observed == 101
    assert e.where.startswith("#/items/items")


def test_deep_json_text_is_refused_before_parsing() -> None:
    text = '{"items":' * 50_000 + "{}" + "}" * 50_000  # json.loads would recurse
    with pytest.raises(LimitExceededError) as info:
        compile_schema(text)
    e = info.value
    assert e.limit == "max_nesting_depth" and e.value == 200 and e.observed == 50_001
    assert "brackets" in e.where


def test_brackets_inside_strings_do_not_count() -> None:
    g = compile_schema(json.dumps({"const": "[" * 500}))
    assert accepts(g, json.dumps("[" * 500))


def test_nesting_through_ref_chain_stops_at_max_nesting_depth() -> None:
    # Shallow document, deep schema: each definition's items refer to the next one.
    defs = {f"d{i}": {"type": "array", "items": {"$ref": f"#/$defs/d{i + 1}"}}
            for i in range(60)}
    defs["d60"] = {"type": "null"}
    schema = {"$defs": defs, "$ref": "#/$defs/d0"}
    with pytest.raises(LimitExceededError) as info:
        compile_schema(schema, Limits(max_nesting_depth=30))
    assert info.value.limit == "max_nesting_depth" and info.value.value == 30
    g = compile_schema(schema)
    assert accepts(g, "[" * 60 + "null" + "]" * 60)


@pytest.mark.parametrize("schema", [
    {"$ref": "#"},
    {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
], ids=["self", "two-cycle"])
def test_reference_cycle_without_base_case_is_a_schema_error(schema: Any) -> None:
    with pytest.raises(SchemaError) as info:
        compile_schema(schema)
    assert "$ref chain" in str(info.value) and info.value.pointer.startswith("#")


def test_recursive_schema_with_base_case_and_runtime_stack_limit() -> None:
    tree = {"type": "object", "properties": {"kids": {"type": "array",
                                                      "items": {"$ref": "#"}}}}
    g = compile_schema(tree, Limits(max_stack_depth=200))
    doc = '{"kids":[' * 10 + "{}" + "]}" * 10
    assert accepts(g, doc)
    jsonschema.validate(json.loads(doc), tree)
    m = ge.Matcher(g)
    with pytest.raises(LimitExceededError) as info:
        m.consume_string('{"kids":[' * 200)
    assert info.value.limit == "max_stack_depth" and info.value.value == 200


def test_ref_expansion_limit() -> None:
    # Every $ref beside another keyword is expanded where it stands.
    defs = {"leaf": {"type": "string", "maxLength": 3}}
    props = {f"p{i}": {"$ref": "#/$defs/leaf", "minLength": 1} for i in range(40)}
    schema = {"$defs": defs, "type": "object", "properties": props}
    with pytest.raises(LimitExceededError) as info:
        compile_schema(schema, Limits(max_ref_expansions=10))
    e = info.value
    assert e.limit == "max_ref_expansions" and e.value == 10 and e.observed == 11
    assert e.where.endswith("/$ref")
    assert compile_schema(schema) is not None


def test_schema_node_limit() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"type": "null"} for i in range(100)}}
    with pytest.raises(LimitExceededError) as info:
        compile_schema(schema, Limits(max_schema_nodes=150))
    assert info.value.limit == "max_schema_nodes" and info.value.value == 150


def test_python_cycle_in_schema_object_is_refused() -> None:
    schema: dict[str, Any] = {"type": "array"}
    schema["items"] = schema
    with pytest.raises(LimitExceededError) as info:
        compile_schema(schema)
    assert info.value.limit in ("max_nesting_depth", "max_schema_nodes")


def test_enum_size_limit() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_schema({"enum": list(range(101))}, Limits(max_enum_size=100))
    e = info.value
    assert (e.limit, e.value, e.observed) == ("max_enum_size", 100, 101)
    assert e.where == "#/enum"


def test_default_enum_limit_refuses_before_building_anything() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_schema({"enum": [f"v{i}" for i in range(200_000)]})
    assert info.value.limit == "max_enum_size" and info.value.value == 10_000


def test_huge_string_const_stops_at_max_dfa_states() -> None:
    """String literals (const, enum, property names) are built as automata directly."""
    for schema in ({"const": "x" * 50_000}, {"properties": {"y" * 50_000: {}}}):
        with pytest.raises(LimitExceededError) as info:
            compile_schema(schema, Limits(max_dfa_states=20_000))
        assert info.value.limit == "max_dfa_states" and info.value.value == 20_000


def test_large_const_within_the_limits_is_exact() -> None:
    value = {"k": list(range(200)), "s": "é" * 100}
    g = compile_schema({"const": value})
    assert accepts(g, json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    assert not accepts(g, json.dumps({"k": list(range(199)), "s": "é" * 100},
                                     separators=(",", ":"), ensure_ascii=False))


@pytest.mark.parametrize("ref", ["https://example.com/s.json", "other.json#/x",
                                 "file:///etc/passwd"])
def test_remote_ref_is_refused(ref: str) -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        compile_schema({"type": "object", "properties": {"a": {"$ref": ref}}})
    e = info.value
    assert "remote $ref" in str(e) and ref in str(e)
    assert e.location == "#/properties/a/$ref"


def test_dangling_local_ref_is_a_schema_error() -> None:
    with pytest.raises(SchemaError) as info:
        compile_schema({"properties": {"a": {"$ref": "#/definitions/missing"}}})
    assert info.value.pointer == "#/properties/a/$ref" and "points to nothing" in str(info.value)


@pytest.mark.parametrize("schema", [
    {"const": {1, 2}}, {"enum": [object()]}, {"type": "string", "default": b"x"},
], ids=["set", "object", "bytes"])
def test_non_json_values_are_schema_errors(schema: Any) -> None:
    with pytest.raises(SchemaError, match="not a JSON document"):
        ge.compile_json_schema(schema, BYTES_VOCAB)  # the cached path canonicalises


@pytest.mark.parametrize("schema", [
    {"type": "string", "minLength": 5, "maxLength": 2},
    False,
    {"allOf": [{"type": "string"}, {"type": "integer"}]},
    {"type": "object", "required": ["a"], "additionalProperties": False},
], ids=["min-gt-max", "false", "disjoint-allof", "required-but-forbidden"])
def test_empty_language_schema_is_a_compile_error(schema: Any) -> None:
    with pytest.raises(GrammarSyntaxError, match="language of this grammar is empty"):
        compile_schema(schema)


def test_deep_pattern_groups_are_refused() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_schema({"type": "string", "pattern": "(" * 5_000 + ")" * 5_000})
    e = info.value
    assert e.limit == "max_nesting_depth" and e.observed == 5_000
    assert e.where.startswith("#/pattern")


@pytest.mark.parametrize(("schema", "pointer"), [
    ({"minLength": None}, "#/minLength"),
    ({"prefixItems": None}, "#/prefixItems"),
    ({"properties": {"a": {"items": [{"minLength": None}]}},
      "$schema": "http://json-schema.org/draft-07/schema#"}, "#/properties/a/items/0/minLength"),
], ids=["minLength-null", "prefixItems-null", "nested-draft7"])
def test_malformed_keyword_is_a_schema_error_with_pointer(schema: Any, pointer: str) -> None:
    """Found by benchmarks/fuzz.py: keywords of the wrong JSON type crashed the compiler
    with TypeError; they are now reported against the draft's metaschema."""
    with pytest.raises(SchemaError) as info:
        compile_schema(schema)
    assert info.value.pointer == pointer and "invalid schema" in str(info.value)


def test_documents_from_a_resolver_are_size_checked() -> None:
    deep = nested(300)
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.com/d.json"}}}
    with pytest.raises(LimitExceededError) as info:
        ge.compile_json_schema(schema, BYTES_VOCAB, cache=False,
                               resolver={"https://example.com/d.json": deep})
    e = info.value
    assert e.limit == "max_nesting_depth" and e.value == 200
    assert e.where.startswith("#/items/items")
    g = ge.compile_json_schema(schema, BYTES_VOCAB, cache=False, whitespace="compact",
                               resolver={"https://example.com/d.json": nested(3)})
    assert accepts(g, '{"a":[[[1]]]}')


RECURSION_THROUGH_ALLOF = {
    "$defs": {"Foo": {"type": "object", "properties": {
        "c": {"allOf": [{"$ref": "#/$defs/Foo"}, {"type": "object"}]}}}},
    "$ref": "#/$defs/Foo"}


def test_recursion_through_allof_compiles() -> None:
    g = compile_schema(RECURSION_THROUGH_ALLOF)
    assert accepts(g, '{"c":{"c":{}}}')
