"""Compile -> save -> load (in a new process) -> identical masks; mismatched vocabularies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import grammar_engine as ge
from compilers.compiled import read_header
from tests.grammars import ALL, SAMPLES

ROOT = Path(__file__).resolve().parents[1]
TOKENS = [bytes([i]) for i in range(256)] + [b'",', b'"}', b"ab", b"  ", b"\xc3\xa9", b"1."]
EOS = len(TOKENS)

CHILD = r"""
import json, sys
import numpy as np
import grammar_engine as ge
from grammar_engine import Vocabulary
toks = [bytes.fromhex(h) for h in json.loads(sys.argv[2])]
vocab = Vocabulary.from_bytes(toks + [b""], eos_token_ids=[len(toks)], special_ids=[len(toks)])
g = ge.CompiledGrammar.load(sys.argv[1], vocab)
m = ge.Matcher(g)
out = []
for t in json.loads(sys.argv[3]):
    out.append(m.next_token_bitmask()[0].tolist())
    assert m.consume_token(t)
out.append(m.next_token_bitmask()[0].tolist())
print(json.dumps(out))
"""


def _vocab() -> ge.Vocabulary:
    return ge.Vocabulary.from_bytes([*TOKENS, b""], eos_token_ids=[EOS], special_ids=[EOS])


@pytest.mark.parametrize("name", ["json", "ambiguous", "sql"])
def test_round_trip_in_new_process(tmp_path: Path, name: str) -> None:
    vocab = _vocab()
    g = ge.compile_grammar(ALL[name], vocab, cache=False)
    text = SAMPLES[name][0].encode()
    ids = [TOKENS.index(bytes([b])) for b in text]
    m = ge.Matcher(g)
    expected = []
    for t in ids:
        expected.append(m.next_token_bitmask()[0].tolist())
        assert m.consume_token(t)
    expected.append(m.next_token_bitmask()[0].tolist())
    path = tmp_path / f"{name}.geg"
    g.save(path)
    env_path = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), json.dumps([t.hex() for t in TOKENS]),
         json.dumps(ids)],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected


def test_load_refuses_other_vocabulary(tmp_path: Path) -> None:
    g = ge.compile_regex(r"[a-z]+", _vocab())
    path = tmp_path / "r.geg"
    g.save(path)
    other = ge.Vocabulary.from_bytes([*TOKENS, b"zz", b""], eos_token_ids=[EOS + 1],
                                     special_ids=[EOS + 1])
    with pytest.raises(ge.VocabularyError, match="recompile it for this tokenizer"):
        ge.CompiledGrammar.load(path, other)
    header = read_header(path)
    assert header["vocab_fingerprint"] == _vocab().fingerprint
    assert header["format_version"] == 2


def test_load_rejects_garbage_and_other_versions(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geg"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ge.GrammarEngineError, match="not a compiled grammar"):
        ge.CompiledGrammar.load(bad, _vocab())
    import zipfile

    g = ge.compile_regex(r"x", _vocab())
    path = tmp_path / "old.geg"
    g.save(path)
    with zipfile.ZipFile(path) as z:
        header = json.loads(z.read("header.json"))
        arrays = z.read("arrays.npz")
    header["format_version"] = 999
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps(header))
        z.writestr("arrays.npz", arrays)
    with pytest.raises(ge.GrammarEngineError, match="format version 999"):
        ge.CompiledGrammar.load(path, _vocab())


def test_round_trip_keeps_excluded_keys(tmp_path: Path) -> None:
    """A schema whose undeclared keys exclude the declared names (``Terminal.exclude``):
    the excluded automata are saved and loaded with the grammar."""
    vocab = _vocab()
    schema = {"type": "object", "properties": {"ab": {"type": "integer"}},
              "additionalProperties": {"type": "boolean"}}
    g = ge.compile_json_schema(schema, vocab, cache=False)
    assert any(g.excludes)
    path = tmp_path / "keys.geg"
    g.save(path)
    loaded = ge.CompiledGrammar.load(path, vocab)
    assert [len(x) for x in loaded.excludes] == [len(x) for x in g.excludes]
    for text, ok in (('{"ab": 1}', True), ('{"ab": true}', False), ('{"a": true}', True),
                     ('{"\\u0061b": false}', False)):
        for grammar in (g, loaded):
            m = ge.Matcher(grammar)
            assert (m.consume_string(text) and m.is_accepting()) == ok, text


def test_loaded_grammar_masks_equal_in_process() -> None:
    vocab = _vocab()
    g = ge.compile_grammar(ALL["c_like"], vocab, cache=False)
    m = ge.Matcher(g)
    assert m.consume_string("int x = 1;")
    np.testing.assert_array_equal(m.next_token_bitmask(), m.copy().next_token_bitmask())
