"""JSON-string encoding of regexes: the DFA matches exactly the JSON string literals whose
decoded value matches the pattern (raw characters, short escapes, \\u escapes, surrogate
pairs), checked against ``json`` and ``re``."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from compilers.automata import ByteDFA, build_byte_dfa
from compilers.regex import compile_regex_nfa
from native.dfa_kernels import byte_class_of

PATTERNS = [r"[a-z]+", r".*", r"(?s:.)*", r"é{1,3}", r"[😀-🙏]x?", r"a\\b", r'"q"', r"\n\t",
            r"[^a]{2}", r"\w+", r"[\u0000-\u001f]", r"(?s:.){0,3}"]
ALPHA = ["a", "b", "é", "😀", "🙂", "\n", "\t", '"', "\\", "/", "x", "\u0001", "\u2028", "中",
         "\u007f", "\ud7ff", "\ue000", "\U0010ffff"]


def dfa(pattern: str) -> ByteDFA:
    return build_byte_dfa(compile_regex_nfa(pattern, json_string=True))


def encodings(s: str) -> list[str]:
    out = [json.dumps(s), json.dumps(s, ensure_ascii=False)]
    mixed = []
    for c in s:
        if ord(c) < 0x10000:
            mixed.append(f"\\u{ord(c):04X}")
        else:
            mixed.append(json.dumps(c)[1:-1])
    out.append('"' + "".join(mixed) + '"')
    return out


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_encoding_of_a_match_is_accepted(pattern: str) -> None:
    d = dfa(pattern)
    rng = random.Random(pattern)
    for _ in range(1500):
        s = "".join(rng.choice(ALPHA) for _ in range(rng.randint(0, 4)))
        expected = re.fullmatch(pattern, s) is not None
        for e in encodings(s):
            assert json.loads(e) == s
            assert d.matches(e.encode()) == expected, (pattern, s, e)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_accepted_literal_decodes_to_a_match(pattern: str) -> None:
    """Soundness: random walks through the DFA end in valid JSON strings that match."""
    d = dfa(pattern)
    rng = random.Random(pattern)
    accepted = 0
    for _ in range(400):
        s, out = 0, bytearray()
        for _ in range(40):
            if d.accept[s] and rng.random() < 0.3:
                break
            moves = [b for b in range(256) if d.trans[s, b] >= 0]
            if not moves:
                break
            b = rng.choice(moves)
            out.append(b)
            s = int(d.trans[s, b])
        if not d.accept[s]:
            continue
        accepted += 1
        value = json.loads(out.decode("utf-8"))
        assert isinstance(value, str)
        assert re.fullmatch(pattern, value), (pattern, bytes(out))
    assert accepted > 0


def test_lone_surrogate_escapes_are_rejected() -> None:
    d = dfa(r"(?s:.)*")
    assert not d.is_prefix(b'"\\ud800"')
    assert not d.is_prefix(b'"\\udc00')
    assert d.matches(b'"\\ud83d\\ude00"')


@pytest.mark.parametrize("text", ["name", "", "é中😀", 'a"b\\c/d\n\t\x01', "\u2028x"])
def test_literal_dfa_equals_regex_dfa(text: str) -> None:
    from compilers.automata import json_literal_dfa, subtract_dfas

    fast = json_literal_dfa(text)
    slow = dfa(re.escape(text))
    assert subtract_dfas(fast, slow).is_empty and subtract_dfas(slow, fast).is_empty
    for e in encodings(text):
        assert fast.matches(e.encode())


@pytest.mark.parametrize("seed", range(6))
def test_literal_set_dfa_is_the_minimal_union_of_the_literals(seed: int) -> None:
    from compilers.automata import (
        json_literal_dfa,
        json_literal_set_dfa,
        subtract_dfas,
        subtract_json_literals,
        union_dfas,
    )

    rng = random.Random(seed)
    names = sorted({"".join(rng.choice(ALPHA + ["\ud800"] * (seed == 5))
                            for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(1, 9))})
    got = json_literal_set_dfa(names)
    parts = [json_literal_dfa(n) for n in names]
    want = parts[0]
    for part in parts[1:]:
        want = union_dfas(want, part)
    assert subtract_dfas(got, want).is_empty and subtract_dfas(want, got).is_empty
    # Byte classes seeded by the builders equal the ones computed from the table.
    rest = subtract_json_literals(dfa(r"(?s:.)*"), names)
    assert rest.signature == subtract_dfas(dfa(r"(?s:.)*"), got).signature
    for d in (got, rest, *parts):
        if not d.is_empty:
            np.testing.assert_array_equal(d.byte_class_of, byte_class_of(d.trans))
    assert got.signature == union_dfas(want, want).signature  # minimal, as the product is
    for name in names:
        for e in encodings(name) if not any(0xD800 <= ord(c) < 0xE000 for c in name) else []:
            assert got.matches(e.encode())
    assert not got.matches(json.dumps("".join(names) + "!").encode())
