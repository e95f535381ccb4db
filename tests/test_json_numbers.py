"""Numeric constraints as automata, checked against ``jsonschema`` on many numbers."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import jsonschema
import pytest

from compilers.automata import build_terminal_dfa
from compilers.json_schema.numbers import integer_dfa, integer_range_regex, number_dfa


def int_texts(rng: random.Random) -> list[str]:
    vals = [0, 1, -1, 9, 10, 99, 100, 101, 255, 256, 1000, -1000, 12345, -99, 7, 1999, 2000]
    vals += [rng.randint(-3000, 3000) for _ in range(300)]
    texts = [str(v) for v in vals] + ["-0", "00", "01", "1.0", "1e3", "-", "+1"]
    return texts


@pytest.mark.parametrize(("lo", "hi"), [(0, 100), (-50, 50), (1, None), (None, 0), (-1000, -7),
                                        (37, 1234), (None, None), (5, 5), (10, 3)])
def test_integer_range_regex(lo: int | None, hi: int | None) -> None:
    d = build_terminal_dfa(integer_range_regex(lo, hi), False)
    rng = random.Random(f"{lo},{hi}")
    for t in int_texts(rng):
        try:
            v = json.loads(t)
            ok = (isinstance(v, int) and t.lstrip("-") == str(abs(v))) or t == "-0"
            ok = ok and (lo is None or v >= lo) and (hi is None or v <= hi)
        except ValueError:
            ok = False
        assert d.matches(t.encode()) == ok, (lo, hi, t)


SCHEMAS = [
    {"type": "integer", "minimum": 3, "maximum": 300},
    {"type": "integer", "exclusiveMinimum": -10, "exclusiveMaximum": 10},
    {"type": "integer", "multipleOf": 7},
    {"type": "integer", "multipleOf": 3, "minimum": -20, "maximum": 40},
    {"type": "integer", "minimum": 2.5, "maximum": 9.5},
    {"type": "number", "minimum": 0, "maximum": 100},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    {"type": "number", "minimum": -5, "exclusiveMaximum": 5},
    {"type": "number", "multipleOf": 0.01},
    {"type": "number", "multipleOf": 0.5 * 0.2, "minimum": -2, "maximum": 2},
    {"type": "number", "maximum": -1},
    {"type": "number", "minimum": 1.5},
    {"type": "number", "exclusiveMinimum": 1.5, "maximum": 99.95},
    {"type": "number", "minimum": -2.25, "exclusiveMaximum": 0.05},
    {"type": "number", "exclusiveMinimum": -0.5, "exclusiveMaximum": 0},
    {"type": "number", "minimum": 0.105, "maximum": 0.5, "multipleOf": 0.01},
    {"type": "number", "minimum": 1.25, "maximum": 1.75},
    {"type": "number", "exclusiveMaximum": -2.5},
    {"type": "number"},
]


def number_texts(rng: random.Random) -> list[str]:
    out = ["0", "-0", "1", "-1", "0.5", "1.0", "100", "100.0", "100.01", "99.99", "-5",
           "-5.0", "-4.99", "5", "4.999", "0.001", "0.01", "0.10", "0.105", "1e2", "-0.0",
           "2.00", "1.5", "-1.25", "0.0", "1E-2", "1.49", "1.50", "1.51", "1.5001", "99.95",
           "99.950", "99.951", "-2.25", "-2.250", "-2.2501", "-2.2499", "0.05", "0.049",
           "-0.5", "-0.49", "-0.50", "-0.51", "-0.0001", "0.11", "0.1", "1.25", "1.75",
           "1.751", "1.2499", "-2.5", "-2.51", "-2.49", "1.1", "2", "1"]
    for _ in range(400):
        whole = rng.randint(-120, 120)
        frac = rng.choice(["", "." + str(rng.randint(0, 999)).zfill(rng.randint(1, 3)),
                           ".0", ".00"])
        out.append(f"{whole}{frac}" if whole != 0 or rng.random() < 0.5 else f"-0{frac}")
    return out


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s))
def test_numeric_schema_matches_jsonschema(schema: dict[str, object]) -> None:
    build = integer_dfa if schema["type"] == "integer" else number_dfa
    d = build(schema, "#", 20_000)
    rng = random.Random(json.dumps(schema))
    texts = int_texts(rng) if schema["type"] == "integer" else number_texts(rng)
    for t in texts:
        try:
            value = json.loads(t, parse_float=Decimal)
        except ValueError:
            assert not d.matches(t.encode()), t
            continue
        # Exact decimal semantics (as the spec intends): schema and value as Decimals.
        exact_schema = json.loads(json.dumps(schema), parse_float=Decimal)
        valid = jsonschema.Draft202012Validator(exact_schema).is_valid(value)
        if d.matches(t.encode()):
            # Soundness: everything accepted validates.
            assert valid, (schema, t)
        elif valid:
            # Completeness up to the documented spellings: canonical forms only.
            canonical = ("e" not in t.lower() and not t.startswith("-0")
                         and (schema["type"] == "number" or "." not in t))
            if "multipleOf" in schema and schema["type"] == "number" and "." in t:
                canonical = canonical and len(t.split(".")[1].rstrip("0")) <= 2
            if "-0" in t and t.lstrip("-0.") == "":
                canonical = False  # "-0.0" is zero written as a negative: not produced
            assert not canonical, (schema, t)
