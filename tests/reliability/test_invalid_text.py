"""Invalid text anywhere: lone surrogates and invalid UTF-8 in patterns, literals, schemas
and outputs, and vocabularies that cannot spell what the grammar requires."""

from __future__ import annotations

import json
from typing import Any

import pytest

import grammar_engine as ge
from grammar_engine import GrammarSyntaxError, SchemaError, VocabularyError
from tests.reliability.helpers import BYTES_VOCAB, mask_of

EMPTY = "language of this grammar is empty"


def schema_grammar(schema: Any) -> ge.CompiledGrammar:
    return ge.compile_json_schema(schema, BYTES_VOCAB, cache=False, whitespace="compact")


def accepts(g: ge.CompiledGrammar, text: str | bytes) -> bool:
    m = ge.Matcher(g)
    return m.consume_string(text) and m.is_accepting()


@pytest.mark.parametrize("pattern", ["\ud800", "[\ud800-\udfff]+", "\\ud800", "\udc00x"],
                         ids=["raw", "class", "escape", "low-then-x"])
def test_regex_of_only_surrogates_is_empty(pattern: str) -> None:
    with pytest.raises(GrammarSyntaxError, match=EMPTY):
        ge.compile_regex(pattern, BYTES_VOCAB, cache=False)


def test_surrogates_drop_out_of_a_class() -> None:
    g = ge.compile_regex("[a\ud800-\udfffb]+", BYTES_VOCAB, cache=False)
    assert accepts(g, "abba")
    assert mask_of(ge.Matcher(g)) == sorted([ord("a"), ord("b"), 259])  # 259 = b"ab"


def test_lark_literal_with_surrogate_is_a_syntax_error() -> None:
    with pytest.raises(GrammarSyntaxError) as info:
        ge.compile_grammar('start: "a\ud800"\n', BYTES_VOCAB, cache=False)
    assert "surrogates not allowed" in str(info.value)


@pytest.mark.parametrize("schema", [
    {"const": "\ud800"},
    {"enum": ["a\udc00"]},
    {"type": "string", "pattern": "^\ud800$"},
    {"type": "object", "properties": {"\ud800": {}}, "required": ["\ud800"],
     "additionalProperties": False},
], ids=["const", "enum", "pattern", "required-key"])
def test_schema_that_needs_a_surrogate_is_empty(schema: Any) -> None:
    with pytest.raises(GrammarSyntaxError, match=EMPTY):
        schema_grammar(schema)


def test_enum_keeps_the_values_it_can_write() -> None:
    g = schema_grammar({"enum": ["\ud800", "ok"]})
    assert accepts(g, '"ok"')
    assert not accepts(g, b'"\xed\xa0\x80"')  # CESU-8 of the surrogate is not UTF-8


def test_optional_surrogate_key_is_never_written() -> None:
    g = schema_grammar({"type": "object", "properties": {"\ud800": {}, "a": {"type": "null"}},
                        "additionalProperties": False})
    assert accepts(g, '{"a":null}')
    assert not accepts(g, '{"\\ud800":null,"a":null}')


def test_schema_text_that_is_not_utf8() -> None:
    with pytest.raises(SchemaError, match="not UTF-8"):
        schema_grammar(b'{"const": "\xff"}')


def test_schema_file_that_is_not_utf8(tmp_path: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"const": "\xff\xfe"}')
    with pytest.raises(SchemaError, match="cannot read schema file"):
        schema_grammar(path)


@pytest.mark.parametrize("text", ['{"a": ', "{'a': 1}", "[1,]", "NaN x", ""])
def test_schema_text_that_is_not_json(text: str) -> None:
    with pytest.raises(SchemaError, match="not valid JSON") as info:
        schema_grammar(text)
    assert info.value.pointer == "#"


def test_output_with_surrogate_or_bad_bytes_is_rejected_not_raised() -> None:
    g = ge.compile_regex(".*", BYTES_VOCAB, cache=False)
    m = ge.Matcher(g)
    assert not m.consume_string("a\ud800")
    assert not m.consume_string(b"\xff")
    assert not m.consume_string(b"\xc3\x28")
    assert m.consume_string(b"\xc3") and not m.is_accepting()  # half a character: live
    assert m.consume_string(b"\xa9") and m.is_accepting()


def test_invalid_utf8_tokens_are_never_allowed() -> None:
    g = ge.compile_regex(".*", BYTES_VOCAB, cache=False)
    mask = set(mask_of(ge.Matcher(g)))
    for b in (0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF):
        assert b not in mask, hex(b)
    assert 0xC3 in mask and 0xE2 in mask  # lead bytes of valid characters stay


# -- vocabularies that cannot spell the grammar ------------------------------------------------

ASCII = ge.Vocabulary.from_bytes([bytes([i]) for i in range(128)] + [b""],
                                 eos_token_ids=[128], special_ids=[128], name="ascii-only")


def test_vocabulary_that_cannot_spell_a_literal() -> None:
    g = ge.compile_grammar('start: "caf" "é" "!"\n', ASCII, cache=False)
    m = ge.Matcher(g)
    assert m.consume_tokens([ord(c) for c in "caf"])
    with pytest.raises(VocabularyError) as info:
        m.next_token_bitmask()
    msg = str(info.value)
    assert "'ascii-only'" in msg and "after 3 token(s)" in msg
    assert "0xc3" in msg and repr("é!".encode()) in msg
    assert isinstance(info.value, ValueError)


def test_vocabulary_that_cannot_start_the_output() -> None:
    g = ge.compile_json_schema({"const": "ü"}, ASCII, cache=False)
    m = ge.Matcher(g)
    # '"' is spellable, then only the escape \u00fc is: ASCII can still write it.
    assert m.consume_string('"')
    assert ord("\\") in mask_of(m)
    g2 = ge.compile_regex("ü+", ASCII, cache=False)
    with pytest.raises(VocabularyError, match="0xc3"):
        ge.Matcher(g2).next_token_bitmask()


def test_complete_output_with_nothing_more_to_spell_is_fine() -> None:
    g = ge.compile_grammar('start: "ab" "é"?\n', ASCII, cache=False)
    m = ge.Matcher(g)
    assert m.consume_tokens([ord("a"), ord("b")])
    assert mask_of(m) == [128]  # only EOS: complete, and é cannot be written


def test_accepted_documents_stay_valid_json() -> None:
    g = schema_grammar({"type": "string", "maxLength": 3})
    for text in ['"\\ud83d\\ude00"', '"\\u00e9"', '"é"']:
        assert accepts(g, text) == (len(json.loads(text)) <= 3)


def test_cli_with_a_grammar_file_that_is_not_utf8(tmp_path: Any) -> None:
    """Found by the atheris harness (benchmarks/fuzz_atheris.py --target cli)."""
    import io

    from grammar_engine.cli import main
    from tests.reliability.helpers import write_byte_tokenizer

    tok = write_byte_tokenizer(tmp_path / "tok")
    spec = tmp_path / "g.lark"
    spec.write_bytes(b"\n*\n\xf3")
    err = io.StringIO()
    code = main(["compile", str(spec), "--tokenizer", str(tok), "-o", str(tmp_path / "o"),
                 "-q"], out=io.StringIO(), err=err)
    assert code == 1 and "not UTF-8 text" in err.getvalue()


def test_tokenizer_with_a_surrogate_added_token(tmp_path: Any) -> None:
    """Found while probing: UnicodeEncodeError escaped from the tokenizer loader."""
    from tests.reliability.helpers import write_byte_tokenizer

    folder = write_byte_tokenizer(tmp_path / "tok")
    data = json.loads((folder / "tokenizer.json").read_text())
    data["added_tokens"].append({"id": 257, "content": "\ud800x", "single_word": False,
                                 "lstrip": False, "rstrip": False, "normalized": False,
                                 "special": False})
    (folder / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(VocabularyError, match=r"added token 257 .* is not valid Unicode"):
        ge.Vocabulary.from_tokenizer_json(folder)
