"""The ``indent`` option: documents laid out exactly as ``json.dumps(doc, indent=...)``.

The pool of the JSON Schema logic tests is replayed with ``indent=2``: the engine accepts
exactly the valid documents in their indented spelling, and no other spelling of a document
with a non-empty container. Documents sampled from the masks are their own indented dump.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from transformers import PreTrainedTokenizerFast

import grammar_engine as ge
from tests.json_helpers import accepts_text, accepts_tokens, is_valid, sample_document
from tests.reliability.helpers import write_byte_tokenizer
from tests.test_cli import run
from tests.test_json_schema import compile_schema
from tests.test_json_schema_logic import EXACT, POOL

TREE = {"$defs": {"node": {"type": "object", "properties": {
    "name": {"type": "string"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
    "required": ["name"], "additionalProperties": False}}, "$ref": "#/$defs/node"}
NESTED = {"type": "object", "properties": {
    "id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
    "meta": {"type": "object", "additionalProperties": {"type": "number"}},
    "pair": {"prefixItems": [{"const": {"k": [1, {}]}}, {"type": "boolean"}],
             "items": False}},
    "required": ["id"]}


def _layout(text: str) -> str:
    """``text`` with every string, number and literal replaced by a placeholder: what is
    left is the layout (the spelling of strings and numbers is not ``indent``'s business)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    return re.sub(r"-?[0-9][0-9.eE+-]*|true|false|null", "0", text)


def _is_indented_dump(text: str, indent: Any) -> bool:
    value = json.loads(text, parse_float=lambda _: 0, parse_int=lambda _: 0,  # keys may
                       object_pairs_hook=lambda pairs: {str(i): v for i, (_, v)  # repeat
                                                        in enumerate(pairs)})
    return _layout(text) == _layout(json.dumps(value, indent=indent))


def _has_nonempty_container(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value) or any(_has_nonempty_container(v) for v in value.values())
    if isinstance(value, list):
        return bool(value) or any(_has_nonempty_container(v) for v in value)
    return False


@pytest.mark.parametrize(("schema", "options"), EXACT,
                         ids=[json.dumps(s)[:70] for s, _ in EXACT])
def test_exact_on_pool_indented(schema: Any, options: dict[str, Any]) -> None:
    g = compile_schema(schema, indent=2, **options)
    wrong = []
    for value in POOL:
        text = json.dumps(value, indent=2)
        accepted, valid = accepts_text(g, text), is_valid(schema, text)
        if accepted != valid:
            wrong.append(f"{text!r}: {'accepted' if accepted else 'rejected'}, "
                         f"{'valid' if valid else 'invalid'}")
        if _has_nonempty_container(value):
            for other in (json.dumps(value), json.dumps(value, indent=4),
                          json.dumps(value, indent=2).replace("\n", "\r\n")):
                if accepts_text(g, other):
                    wrong.append(f"{other!r} accepted with indent=2")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("indent", [2, 4, 0, "\t", " "])
@pytest.mark.parametrize("schema", [NESTED, TREE, True], ids=["nested", "tree", "any"])
def test_sampled_documents_are_their_own_indented_dump(schema: Any, indent: Any) -> None:
    g = compile_schema(schema, indent=indent)
    rng = random.Random(f"{indent!r}{json.dumps(schema)}")
    produced = 0
    for _ in range(15):
        text = sample_document(g, rng, max_tokens=300)
        if text is None:
            continue
        produced += 1
        assert is_valid(schema, text), text
        assert _is_indented_dump(text, indent), text
    assert produced >= 5


def test_known_documents_under_each_indent() -> None:
    doc = {"id": 3, "tags": ["a", "b"], "meta": {}, "pair": [{"k": [1, {}]}, True]}
    for indent in (2, 4, 0, "\t"):
        g = compile_schema(NESTED, indent=indent)
        assert accepts_text(g, json.dumps(doc, indent=indent))
        assert not accepts_text(g, json.dumps(doc, indent=3))
        assert not accepts_text(g, json.dumps(doc))
    tree = {"name": "r", "kids": [{"name": "a", "kids": []}, {"name": "b"}]}
    g = compile_schema(TREE, indent=2)
    assert accepts_text(g, json.dumps(tree, indent=2))
    assert not accepts_text(g, json.dumps(tree, indent=2).replace('\n      "name": "a"',
                                                                  '\n    "name": "a"'))


def test_nesting_below_max_indent_depth_is_refused_and_noted() -> None:
    def chain(depth: int) -> dict[str, Any]:
        node: dict[str, Any] = {"name": "leaf"}
        for _ in range(depth):
            node = {"name": "n", "kids": [node]}
        return node

    g = compile_schema(TREE, indent=2, max_indent_depth=6)
    # Each link adds two levels (the kids array and the object in it): the name of the
    # leaf of chain(k) is at level 2k + 1.
    assert accepts_text(g, json.dumps(chain(2), indent=2))
    assert not accepts_text(g, json.dumps(chain(3), indent=2))
    assert accepts_text(g, json.dumps({"name": "n", "kids": [{"name": "n", "kids": [
        {"name": "n", "kids": []}]}]}, indent=2))
    assert any("max_indent_depth=6" in note for note in g.grammar.notes), g.grammar.notes
    flat = compile_schema(TREE, indent=2)
    assert not any("max_indent_depth" in note for note in compile_schema(
        {"type": "array", "items": {"type": "integer"}}, indent=2).grammar.notes)
    assert accepts_text(flat, json.dumps(chain(7), indent=2))


@pytest.mark.parametrize(("options", "message"), [
    ({"indent": -1}, "non-negative"),
    ({"indent": "x"}, "spaces and tabs"),
    ({"indent": True}, "non-negative"),
    ({"indent": 2, "whitespace": "compact"}, "exclude each other"),
    ({"indent": 2, "max_indent_depth": -1}, "max_indent_depth"),
])
def test_bad_indent_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_schema({"type": "array"}, **options)


@pytest.mark.real_tokenizer
def test_indented_documents_under_a_real_tokenizer(
        tokenizer_dir: Callable[[str], Path]) -> None:
    path = tokenizer_dir("llama3")
    vocab = ge.Vocabulary.from_tokenizer_json(path / "tokenizer.json")
    hf = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json"))
    g = ge.compile_json_schema(NESTED, vocab, indent=2)
    doc = {"id": 12, "tags": ["x", "yy"], "meta": {"a": 1.5, "b": -2}}
    assert accepts_tokens(g, hf.encode(json.dumps(doc, indent=2), add_special_tokens=False))
    assert not accepts_tokens(g, hf.encode(json.dumps(doc), add_special_tokens=False))
    rng = random.Random(7)
    for _ in range(5):
        text = sample_document(g, rng, max_tokens=200)
        if text is not None:
            assert is_valid(NESTED, text) and _is_indented_dump(text, 2), text


def test_cli_compile_with_indent(tmp_path: Path) -> None:
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(NESTED))
    tokenizer = write_byte_tokenizer(tmp_path / "tok")
    out = tmp_path / "s.geg"
    code, _, err = run("compile", str(schema), "--tokenizer", str(tokenizer), "--indent", "2",
                       "-o", str(out), "-q")
    assert code == 0, err
    g = ge.CompiledGrammar.load(out, ge.Vocabulary.from_tokenizer_json(tokenizer))
    doc = {"id": 1, "tags": ["a"]}
    assert accepts_text(g, json.dumps(doc, indent=2))
    assert not accepts_text(g, json.dumps(doc))
    code, _, err = run("compile", str(schema), "--tokenizer", str(tokenizer), "--indent", "-1",
                       "-o", str(out), "-q")
    assert code == 2 and "non-negative" in err, err
    grammar = tmp_path / "g.lark"
    grammar.write_text('start: "a"\n')
    code, _, err = run("compile", str(grammar), "--tokenizer", str(tokenizer), "--indent", "2",
                       "-o", str(out), "-q")
    assert code == 2 and "indent apply to JSON Schemas only" in err, err
