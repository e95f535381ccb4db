"""The grammar-engine CLI: compile, inspect, validate, exit codes and error output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from grammar_engine.cli import main
from tests.grammars import JSON
from tests.shared_data import shared_path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def tok_dir() -> Path:
    return shared_path("tokenizers", "llama3")


@pytest.mark.real_tokenizer
def test_compile_inspect_validate(tmp_path: Path, tok_dir: Path) -> None:
    grammar = tmp_path / "json.lark"
    grammar.write_text(JSON)
    out_file = tmp_path / "json.geg"
    code, _, err = run("compile", str(grammar), "--tokenizer", str(tok_dir), "-o", str(out_file))
    assert code == 0, err
    assert "compiling... done" in err
    code, out, _ = run("inspect", str(out_file))
    assert code == 0
    assert "ESCAPED_STRING" in out and "lalr(1)" in out and "llama3" in out
    code, out, _ = run("inspect", str(out_file), "--json")
    assert json.loads(out)["kind"] == "lark"
    code, out, err = run("validate", str(out_file), "--tokenizer", str(tok_dir),
                         "--text", '{"a": [1, 2, {"b": null}]}')
    assert code == 0, err
    assert out.startswith("accepted")
    code, _, err = run("validate", str(out_file), "--tokenizer", str(tok_dir),
                       "--text", '{"a": [1, 2}')
    assert code == 1 and "rejected token" in err
    code, _, err = run("validate", str(out_file), "--tokenizer", str(tok_dir), "--text", '{"a"')
    assert code == 1 and "incomplete" in err


@pytest.mark.real_tokenizer
def test_compile_regex(tmp_path: Path, tok_dir: Path) -> None:
    out_file = tmp_path / "re.geg"
    code, _, err = run("compile", "--regex", r"\d{3}-\d{4}", "--tokenizer", str(tok_dir),
                       "-o", str(out_file), "-q")
    assert code == 0, err
    assert err == ""
    code, out, _ = run("inspect", str(out_file))
    assert "regex" in out


@pytest.mark.real_tokenizer
def test_compile_json_schema(tmp_path: Path, tok_dir: Path) -> None:
    schema = tmp_path / "person.json"
    schema.write_text(json.dumps({"type": "object", "properties": {
        "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name"], "additionalProperties": False}))
    out_file = tmp_path / "person.geg"
    code, _, err = run("compile", str(schema), "--tokenizer", str(tok_dir), "-o",
                       str(out_file), "-q")
    assert code == 0, err
    code, out, _ = run("validate", str(out_file), "--tokenizer", str(tok_dir),
                       "--text", '{"name": "Ada", "age": 36}')
    assert code == 0 and out.startswith("accepted")
    code, _, err = run("validate", str(out_file), "--tokenizer", str(tok_dir),
                       "--text", '{"name": "Ada", "age": -1}')
    assert code == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "integer", "minimum": "5"}))
    code, _, err = run("compile", str(bad), "--tokenizer", str(tok_dir), "-o",
                       str(tmp_path / "b.geg"), "-q")
    assert code == 1 and "SchemaError" in err and "#/minimum" in err


def test_bad_grammar_exit_1_with_location(tmp_path: Path) -> None:
    grammar = tmp_path / "bad.lark"
    grammar.write_text('start: "a" (b\nb: "x"\n')
    vocab_file = tmp_path / "tokenizer.json"
    vocab_file.write_text(json.dumps({
        "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
        "added_tokens": [{"id": 2, "content": "</s>", "special": True}],
        "decoder": {"type": "ByteLevel"},
    }))
    code, _, err = run("compile", str(grammar), "--tokenizer", str(vocab_file),
                       "--eos-token-id", "2", "-o", str(tmp_path / "x.geg"), "-q")
    assert code == 1
    assert "GrammarSyntaxError" in err and "bad.lark:" in err and "^" in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run()[0] == 2
    assert run("compile")[0] == 2
    assert run("frobnicate")[0] == 2
    code, _, err = run("compile", "--tokenizer", "x", "-o", "y")
    assert code == 2 and "grammar file or --regex" in err


def test_missing_file_exit_1(tmp_path: Path) -> None:
    code, _, err = run("inspect", str(tmp_path / "nope.geg"))
    assert code == 1 and "not a compiled grammar" in err
