"""Many threads compiling and matching at once give the single-threaded results.

Each thread walks its own matcher over grammars shared with the others (one runtime, one
lexer, one token index per grammar, all grown lazily and concurrently) and records every
mask; the records must equal those of a single-threaded run on separately compiled
grammars.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import grammar_engine as ge
import native.dfa_kernels
import native.glr_kernels
import native.kernels
from tests.reliability.helpers import BYTES_VOCAB, mask_of
from tests.reliability.test_limits import JSONISH

SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 8},
    "tags": {"type": "array", "items": {"enum": ["a", "b", "cé"]}, "maxItems": 3},
    "n": {"type": "integer", "minimum": -5, "maximum": 500}},
    "required": ["name"]}

SPECS: list[tuple[str, Any]] = [
    ("lark", JSONISH), ("regex", r"(ab|a[0-9]{1,3})+(\.[a-z]+)?"), ("schema", SCHEMA),
]
THREADS = 8


def compile_spec(kind: str, spec: Any, cache: bool = False) -> ge.CompiledGrammar:
    if kind == "lark":
        return ge.compile_grammar(spec, BYTES_VOCAB, cache=cache)
    if kind == "regex":
        return ge.compile_regex(spec, BYTES_VOCAB, cache=cache)
    return ge.compile_json_schema(spec, BYTES_VOCAB, cache=cache, whitespace="compact")


def walk(g: ge.CompiledGrammar, seed: int, steps: int = 25) -> list[tuple[int, ...]]:
    """Masks along a random walk that always picks an allowed token (seeded)."""
    rng = random.Random(seed)
    m = ge.Matcher(g)
    out: list[tuple[int, ...]] = []
    for _ in range(steps):
        mask = mask_of(m)
        out.append(tuple(mask))
        text = [t for t in mask if t not in BYTES_VOCAB.eos_token_ids]
        if not text:
            break
        assert m.consume_token(rng.choice(text))
    return out


def run_threads(n: int, job: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)

    def start(i: int) -> Any:
        barrier.wait()  # all threads begin together, to maximise overlap
        return job(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(start, range(n)))


@pytest.mark.parametrize(("kind", "spec"), SPECS, ids=[k for k, _ in SPECS])
def test_shared_grammar_masks_match_single_threaded(kind: str, spec: Any) -> None:
    expected = [walk(compile_spec(kind, spec), seed) for seed in range(THREADS)]
    shared = compile_spec(kind, spec)  # fresh: every table is built under contention
    got = run_threads(THREADS, lambda i: walk(shared, i))
    assert got == expected


def test_concurrent_compiles_of_one_key_share_one_result() -> None:
    ge.clear_compile_cache()
    schema = {**SCHEMA, "title": "concurrency-single-flight"}
    results = run_threads(THREADS, lambda _: compile_spec("schema", schema, cache=True))
    assert all(r is results[0] for r in results)


def test_concurrent_compiles_of_different_grammars() -> None:
    patterns = [f"(x|y){{{i}}}z[0-9]+" for i in range(1, THREADS + 1)]
    results = run_threads(THREADS, lambda i: ge.compile_regex(patterns[i], BYTES_VOCAB))
    for i, g in enumerate(results):
        m = ge.Matcher(g)
        assert m.consume_string("x" * (i + 1) + "z7") and m.is_accepting()


def test_concurrent_failures_are_engine_errors_and_not_cached() -> None:
    def job(i: int) -> str:
        try:
            ge.compile_regex("(a|b)*a(a|b){20}", BYTES_VOCAB,
                             limits=ge.Limits(max_dfa_states=500))
        except ge.LimitExceededError as e:
            return e.limit
        return "compiled"

    assert run_threads(THREADS, job) == ["max_dfa_states"] * THREADS


def test_matchers_copied_across_threads() -> None:
    g = compile_spec("lark", JSONISH)
    base = ge.Matcher(g)
    assert base.consume_string('{"k":[1,')
    want = mask_of(base.copy())

    def job(i: int) -> bool:
        m = base.copy()
        ok = m.consume_string(f"{i}]}}") and m.is_accepting()
        m.rollback(1)
        return ok and mask_of(m) == want

    assert all(run_threads(THREADS, job))


@pytest.mark.parametrize("name", ["classify_tokens", "walk_bytes", "walk_tokens", "set_bits",
                                  "apply_token_bitmask_kernel", "dfa_kernels.minimal_product",
                                  "resolve_with_parser", "glr_kernels.resolve_with_glr"])
def test_kernels_release_the_gil(name: str) -> None:
    module, _, name = name.rpartition(".")
    kernel = getattr({"dfa_kernels": native.dfa_kernels, "glr_kernels": native.glr_kernels,
                      "": native.kernels}[module], name)
    assert kernel.targetoptions.get("nogil") is True, f"{name} holds the GIL"
    assert kernel.targetoptions.get("nopython", True) is True
