"""Short fuzz runs for CI (a few seconds each); ``benchmarks/fuzz.py`` runs the same
properties for as long as asked."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compilers.regex import has_lazy_quantifier
from tests.fuzz import strategies as S
from tests.fuzz.invariants import (
    check_masks_against_oracle,
    check_samples_validate,
    compile_or_error,
)

CI = settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])


@CI
@given(S.regex_text, st.integers(0, 1000))
def test_regex_masks_match_the_oracle(pattern: str, seed: int) -> None:
    pattern = S.non_empty(pattern)
    g = compile_or_error("regex", pattern)
    if g is not None and not has_lazy_quantifier(pattern):
        check_masks_against_oracle(g, S.regex_grammar(pattern), seed)


@CI
@given(S.lark_grammar(), st.integers(0, 1000))
def test_grammar_masks_match_the_oracle(text: str, seed: int) -> None:
    g = compile_or_error("lark", text)
    if g is not None:
        check_masks_against_oracle(g, text, seed)


@CI
@given(st.one_of(S.broken_regex, S.regex_text))
def test_any_regex_gives_a_grammar_or_an_engine_error(pattern: str) -> None:
    compile_or_error("regex", pattern)


@CI
@given(S.broken_lark_grammar())
def test_any_grammar_gives_a_grammar_or_an_engine_error(text: str) -> None:
    compile_or_error("lark", text)


@CI
@given(st.one_of(S.json_schema, S.schema_with_refs()), st.integers(0, 1000))
def test_sampled_documents_validate(schema: Any, seed: int) -> None:
    g = compile_or_error("schema", schema)
    if g is not None:
        check_samples_validate(g, schema, seed)


@CI
@given(S.broken_schema)
def test_any_schema_gives_a_grammar_or_an_engine_error(schema: Any) -> None:
    compile_or_error("schema", schema)


# -- the atheris harness, on fixed inputs (no atheris needed) ------------------------------

HARNESS_INPUTS = [
    b'{"type": "object", "properties": {"a": {"type": "integer"}}}', b'{"$ref": "#"}',
    b"\xff\xfe", b"[" * 5000, b'{"enum": [1, "\\ud800"]}', b"", b"true", b"{",
]
CLI_INPUTS = [
    b'j{"type": "string", "maxLength": 3}', b"j{", b'lstart: "a" b', b'lstart: "a"+',
    b"r(a|b)*c", b"r(", b"r\xff", b"fPK\x03\x04garbage", b"f", b"x\x00\x01",
]


def _harness() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_atheris.py"
    spec = importlib.util.spec_from_file_location("fuzz_atheris", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_atheris_harness_on_fixed_inputs() -> None:
    harness = _harness()
    for data in HARNESS_INPUTS:
        harness.one_input_schema(data)
    for data in CLI_INPUTS:
        harness.one_input_cli(data)


def test_atheris_comparison_results_not_leaked() -> None:
    """atheris 2.3.0/3.0.0 keep a reference to every instrumented comparison's result (a
    numpy array per ``trans >= 0``: 4 GB after ~30,000 schemas); the harness drops it."""
    import sys

    import numpy as np

    atheris = pytest.importorskip("atheris")
    harness = _harness()
    original = atheris._trace_cmp
    try:
        harness._plug_trace_cmp_leak(atheris)
        opid = 2 << 4 if sys.version_info >= (3, 12) else 2  # Py_EQ, as instrumented code passes it
        result = atheris._trace_cmp(np.zeros(4), 0, opid, 0, False)
        assert result.tolist() == [True] * 4
        assert sys.getrefcount(result) == 2  # the name and getrefcount's argument
        assert atheris._trace_cmp(3, 3, opid, 0, False) is True
    finally:
        atheris._trace_cmp = original
