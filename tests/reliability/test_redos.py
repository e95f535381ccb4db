"""Regular-expression denial of service: a schema's ``pattern`` checked against its own
constants (``enum`` values, property names) must not run Python's backtracking ``re``.

``compilers.json_schema.safe_regex`` answers ``re.search`` / ``re.fullmatch`` with the
engine's automata; these tests check that it agrees with ``re`` and that the compiler's
checks go through it (``re`` itself is made to fail during the hostile compiles)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grammar_engine as ge
from compilers.json_schema import safe_regex
from compilers.json_schema.safe_regex import safe_fullmatch, safe_search, search_to_fullmatch
from tests.fuzz.strategies import regex_text
from tests.reliability.helpers import BYTES_VOCAB

EVIL = "^(a+)+$"
EVIL_TEXT = "a" * 64 + "!"  # re.search(EVIL, EVIL_TEXT) would backtrack ~2^64 times


@pytest.fixture
def no_backtracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything calls re.search / re.fullmatch / re.match on EVIL."""
    real = {name: getattr(re, name) for name in ("search", "fullmatch", "match")}

    def guard(name: str) -> Any:
        def call(pattern: Any, *args: Any, **kw: Any) -> Any:
            if isinstance(pattern, str) and "(a+)+" in pattern:
                raise AssertionError(f"re.{name} called on {pattern!r}")
            return real[name](pattern, *args, **kw)
        return call

    for name in real:
        monkeypatch.setattr(re, name, guard(name))


@pytest.mark.usefixtures("no_backtracking")
def test_enum_filtered_by_evil_pattern() -> None:
    g = ge.compile_json_schema({"type": "string", "pattern": EVIL, "enum": [EVIL_TEXT, "aaa"]},
                               BYTES_VOCAB, cache=False)
    m = ge.Matcher(g)
    assert m.consume_string('"aaa"') and m.is_accepting()
    assert not ge.Matcher(g).consume_string(f'"{EVIL_TEXT}"')


@pytest.mark.usefixtures("no_backtracking")
def test_property_names_against_evil_pattern_properties() -> None:
    schema = {"type": "object", "properties": {EVIL_TEXT: {"type": "integer"},
                                               "aaaa": {"type": "integer"}},
              "patternProperties": {EVIL: {"type": "integer", "minimum": 5}}}
    g = ge.compile_json_schema(schema, BYTES_VOCAB, cache=False, whitespace="compact")
    assert ge.Matcher(g).consume_string(f'{{"{EVIL_TEXT}":1,"aaaa":5}}')
    assert not ge.Matcher(g).consume_string('{"aaaa":4}')  # aaaa also matches the pattern


def test_search_rewrite_examples() -> None:
    assert search_to_fullmatch("abc") == "(?s:.)*(?:abc)(?s:.)*"
    assert search_to_fullmatch("^a|b$") == "(?:a)(?s:.)*|(?s:.)*(?:b)\\n?"
    assert search_to_fullmatch("\\Aab\\Z") == "(?:ab)"
    assert search_to_fullmatch("(?i)ab") == "(?i)(?s:.)*(?:ab)(?s:.)*"
    assert safe_search("b$", "ab\n") and not safe_search("b\\Z", "ab\n")


def test_fallback_to_re_for_what_automata_cannot_express() -> None:
    assert safe_regex._dfa(search_to_fullmatch("(a)\\1")) is None
    assert safe_search("(a)\\1", "xaa") and not safe_search("(a)\\1", "xa")
    assert safe_fullmatch("a(?=b)b", "ab")


def test_surrogate_text_never_matches() -> None:
    assert not safe_search(".", "\ud800")


_ANCHORED = st.tuples(st.sampled_from(["", "^", "\\A"]), regex_text,
                      st.sampled_from(["", "$", "\\Z"])).map("".join)
_TEXT = st.text(alphabet="abcé0 .\nx", max_size=8)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.one_of(regex_text, _ANCHORED, st.lists(_ANCHORED, min_size=2, max_size=3)
                 .map("|".join)), _TEXT)
def test_safe_search_agrees_with_re(pattern: str, text: str) -> None:
    assert safe_search(pattern, text) == (re.search(pattern, text) is not None), \
        (pattern, text, search_to_fullmatch(pattern))


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(regex_text, _TEXT)
def test_safe_fullmatch_agrees_with_re(pattern: str, text: str) -> None:
    assert safe_fullmatch(pattern, text) == (re.fullmatch(pattern, text) is not None)
