"""Every limit of ``Limits``: its default, its check, and what the error reports.

Time budgets run on a fake clock that advances one second per reading (see
``helpers.FakeClock``), so the tests count the engine's own checks, never wall-clock time.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

import grammar_engine as ge
from compilers import budget, lr_tables
from compilers.automata import build_terminal_dfa
from grammar_engine import LimitExceededError, Limits
from tests.reliability.helpers import BYTES_VOCAB, FakeClock, mask_of

JSONISH = r"""
start: value
?value: obj | arr | STR | NUM | "true" | "false" | "null"
obj: "{" [pair ("," pair)*] "}"
pair: STR ":" value
arr: "[" [value ("," value)*] "]"
STR: /"[a-z]*"/
NUM: /-?[0-9]+/
"""


def test_defaults_are_documented_and_positive() -> None:
    limits = Limits()
    doc = Limits.__doc__ or ""
    for f in dataclasses.fields(Limits):
        value = getattr(limits, f.name)
        assert value > 0, f.name
        assert f.name in doc, f"{f.name} is not documented in Limits"
    assert limits.compile_time_budget == 60.0 and limits.mask_time_budget == 10.0
    assert (limits.max_nesting_depth, limits.max_enum_size) == (200, 10_000)


@pytest.mark.parametrize(("field", "value"), [
    ("max_dfa_states", 0), ("max_dfa_states", -5), ("max_dfa_states", 1.5),
    ("max_enum_size", True), ("compile_time_budget", 0), ("compile_time_budget", math.nan),
    ("mask_time_budget", -1.0), ("mask_time_budget", "10"),
])
def test_limits_refuse_bad_values(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})


def test_budgets_accept_fractions_and_infinity() -> None:
    assert Limits(compile_time_budget=0.5, mask_time_budget=math.inf).mask_time_budget == math.inf


def test_limits_survive_save_and_load(tmp_path: Path) -> None:
    limits = Limits(max_nesting_depth=7, compile_time_budget=2.5, mask_time_budget=math.inf)
    g = ge.compile_regex("ab+", BYTES_VOCAB, limits=limits, cache=False)
    g.save(tmp_path / "g.ge")
    assert ge.CompiledGrammar.load(tmp_path / "g.ge", BYTES_VOCAB).options.limits == limits


# -- compile time budget ---------------------------------------------------------------------

def test_compile_budget_stops_subset_construction(fake_clock: FakeClock) -> None:
    build_terminal_dfa.cache_clear()
    with pytest.raises(LimitExceededError) as info:
        ge.compile_regex("(a|b)*a(a|b){9}", BYTES_VOCAB, cache=False,
                         limits=Limits(compile_time_budget=20))
    e = info.value
    assert e.limit == "compile_time_budget" and e.value == 20
    assert e.observed.endswith(" s") and float(e.observed[:-2]) > 20
    assert "subset construction" in e.where and "REGEX" in e.where
    assert fake_clock.reads <= 25  # it stopped at the first check past the deadline


def test_compile_budget_stops_schema_compilation(fake_clock: FakeClock) -> None:
    schema = {"type": "object",
              "properties": {f"p{i}": {"type": "array", "items": {"type": "integer"}}
                             for i in range(50)}}
    with pytest.raises(LimitExceededError) as info:
        ge.compile_json_schema(schema, BYTES_VOCAB, cache=False,
                               limits=Limits(compile_time_budget=10))
    assert info.value.limit == "compile_time_budget" and info.value.value == 10
    assert info.value.where  # the phase or JSON pointer where it ran out


@pytest.mark.parametrize("path", ["kernel", "python"])
def test_compile_budget_stops_lr_tables(path: str, fake_clock: FakeClock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    text = "start: " + " | ".join(f'"q{i}"' for i in range(5)) + "\n"
    with monkeypatch.context() as patch:  # warm the terminal automata on a stopped clock
        patch.setattr(budget, "_clock", lambda: 0.0)
        ge.compile_grammar(text, BYTES_VOCAB, cache=False)
    monkeypatch.setattr(lr_tables, "_shape_cache", type(lr_tables._shape_cache)())
    monkeypatch.setattr(lr_tables, "_shape_bytes", [0])  # the tables must be built again
    if path == "python":  # past the kernel's state cap the Python construction takes over
        monkeypatch.setattr(lr_tables, "_KERNEL_MAX_STATES", 1)
    # Clock readings: 1 at the start (deadline 7.5), 2-6 for the five terminals, 7 before
    # the kernel, 8 after its tables or as the Python construction starts: past the deadline.
    with pytest.raises(LimitExceededError) as info:
        ge.compile_grammar(text, BYTES_VOCAB, cache=False,
                           limits=Limits(compile_time_budget=6.5))
    assert info.value.limit == "compile_time_budget"
    assert info.value.where == ("LR table" if path == "kernel" else "LR(0) states")
    assert fake_clock.reads == 8


def test_compile_failure_is_not_cached(fake_clock: FakeClock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    limits = Limits(compile_time_budget=3)
    pattern = "(c|d)*c(c|d){6}"
    build_terminal_dfa.cache_clear()
    with pytest.raises(LimitExceededError):
        ge.compile_regex(pattern, BYTES_VOCAB, limits=limits)
    monkeypatch.setattr(budget, "_clock", lambda: 0.0)
    g = ge.compile_regex(pattern, BYTES_VOCAB, limits=limits)
    m = ge.Matcher(g)
    assert m.consume_string("dddcdddddd") and m.is_accepting()


def test_budgets_do_not_leak_between_calls(fake_clock: FakeClock) -> None:
    ge.compile_regex("x", BYTES_VOCAB, cache=False)
    assert budget.current_budget() is None


# -- mask time budget ------------------------------------------------------------------------

def test_mask_budget_stops_and_the_grammar_stays_consistent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    limits = Limits(mask_time_budget=0.5)  # the first check after the start is late
    # (No tables ahead of time: the mask builds the ones it needs.)
    g = ge.compile_grammar(JSONISH, BYTES_VOCAB, cache=False, limits=limits,
                           eager_tables=False)
    m = ge.Matcher(g)
    assert m.consume_string('{"a')  # inside a key: '":' crosses into the next lexemes
    clock = FakeClock()
    monkeypatch.setattr(budget, "_clock", clock)
    with pytest.raises(LimitExceededError) as info:
        m.next_token_bitmask()
    e = info.value
    assert e.limit == "mask_time_budget" and e.value == 0.5
    assert e.where == "mask computation" or e.where.startswith("contextual lexer")
    assert clock.reads == 2  # the start, then the first check
    # With time again, the same shared grammar gives the exact mask (nothing half-built
    # was kept), equal to a fresh compilation's.
    monkeypatch.setattr(budget, "_clock", lambda: 0.0)
    fresh = ge.Matcher(ge.compile_grammar(JSONISH, BYTES_VOCAB, cache=False))
    assert fresh.consume_string('{"a')
    assert mask_of(m) == mask_of(fresh)


# -- size limits ---------------------------------------------------------------------------

def test_lexer_state_limit_at_run_time_keeps_the_lexer_consistent() -> None:
    g = ge.compile_grammar(JSONISH, BYTES_VOCAB, cache=False,
                           limits=Limits(max_lexer_states=4))
    m = ge.Matcher(g)
    failures = 0
    for _ in range(2):  # the second try must fail the same way, not see half a lexer
        try:
            m.consume_string('{"ab":[12,"x"],"c":{"d":true}}')
            m.next_token_bitmask()
        except LimitExceededError as e:
            # The lexer grows in one kernel call, so it may pass the limit by a few states
            # before the check sees it; what it built then is dropped.
            assert e.limit == "max_lexer_states" and e.value == 4 and 4 < e.observed < 12
            failures += 1
    assert failures == 2
    assert g.lexer.n_explored <= 4


def test_table_sizes_stay_within_the_limits() -> None:
    limits = Limits(max_dfa_states=300, max_lexer_states=500)
    g = ge.compile_grammar(JSONISH, BYTES_VOCAB, cache=False, limits=limits)
    m = ge.Matcher(g)
    assert m.consume_string('{"ab":[12,"x"],"c":{"d":true}}') and m.is_accepting()
    stats = g.stats()
    assert max(d.n_states for d in g.dfas) <= limits.max_dfa_states
    assert stats["lexer_states_built"] <= limits.max_lexer_states


def test_rollback_window_limit() -> None:
    g = ge.compile_regex("a*", BYTES_VOCAB, cache=False, limits=Limits(max_rollback=3))
    m = ge.Matcher(g)
    assert m.consume_tokens([ord("a")] * 10)
    m.rollback(3)
    with pytest.raises(ValueError, match="cannot roll back 1"):
        m.rollback(1)


def test_jump_forward_limit() -> None:
    g = ge.compile_regex("x{100}", BYTES_VOCAB, cache=False,
                         limits=Limits(max_jump_forward_bytes=16))
    assert ge.Matcher(g).find_jump_forward_string() == "x" * 16


def test_token_table_memory_limit() -> None:
    g = ge.compile_regex("[a-z]{0,200}", BYTES_VOCAB, cache=False,
                         limits=Limits(max_token_table_bytes=1_000))
    m = ge.Matcher(g)
    with pytest.raises(LimitExceededError) as info:
        for _ in range(200):
            m.next_token_bitmask()
            assert m.consume_token(ord("q"))
    e = info.value
    assert e.limit == "max_token_table_bytes" and e.value == 1_000 and e.observed > 1_000
    assert g.index.nbytes <= 1_000  # the engine's own count of what it kept


# -- process-wide caches ---------------------------------------------------------------------

def test_byte_bounded_cache_evicts_by_memory() -> None:
    from compilers.memo import byte_bounded_cache

    class Blob:
        def __init__(self, n: int) -> None:
            self.nbytes = n

    calls: list[int] = []

    @byte_bounded_cache(100)
    def make(key: int, size: int) -> Blob:
        calls.append(key)
        return Blob(size)

    a = make(1, 60)
    assert make(1, 60) is a and calls == [1]
    make(2, 60)  # 120 > 100: the least recently used (1) goes
    assert make.cache_bytes() == 60  # type: ignore[attr-defined]
    make(1, 60)
    assert calls == [1, 2, 1]
    make(3, 1000)  # larger than the whole budget: returned, never kept
    assert make.cache_bytes() <= 100  # type: ignore[attr-defined]


def test_bytes_memo_evicts_by_memory() -> None:
    from compilers.memo import BytesMemo

    class Blob:
        def __init__(self, n: int) -> None:
            self.nbytes = n

    memo = BytesMemo(100)
    a = Blob(60)
    memo.put("a", a)
    assert memo.get("a") is a
    memo.put("b", Blob(60))  # 120 > 100: the least recently used ("a") goes
    assert memo.get("a") is None and memo.get("b") is not None
    memo.put("c", Blob(1000))  # larger than the whole budget: never kept
    assert memo.get("c") is None


def test_json_schema_memos_are_bounded_by_bytes() -> None:
    """Every process-wide memo of the JSON Schema compiler counts the bytes it holds."""
    from compilers import automata
    from compilers.json_schema import compiler as jc

    ge.compile_json_schema({"properties": {"k" * 300: {"enum": ["v" * 300]},
                                           "n": {"minimum": 3, "maximum": 977}},
                            "patternProperties": {"^k": {"type": "integer"}}},
                           BYTES_VOCAB, cache=False)
    assert 0 < jc._cached_literal_dfa.cache_bytes() <= 128 << 20  # type: ignore[attr-defined]
    # The pattern keys' automaton: the pattern's strings but the two names.
    assert 0 < automata._minus_literals_memo.held <= 64 << 20
    for bounded in (jc._number_memo, jc._regex_memo, automata._minus_literals_memo):
        assert 0 < bounded.max_bytes <= 256 << 20


def test_canonical_key_memo_is_bounded_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    import compilers.lexer as lexer_module

    monkeypatch.setattr(lexer_module, "_CANON_MEMO_BYTES", 2_000)
    monkeypatch.setattr(lexer_module, "_canonical_of", {})
    monkeypatch.setattr(lexer_module, "_canonical_bytes", [0])
    for n in range(3):
        g = ge.compile_json_schema({"properties": {f"k{i}_{n}": {} for i in range(12)}},
                                   BYTES_VOCAB, cache=False)
        ge.Matcher(g).consume_string('{"k1')
        for q in g.lexer.reachable_states():
            g.lexer.signature(q)
        assert lexer_module._canonical_bytes[0] <= 2_000


def test_terminal_automata_cache_is_bounded_by_bytes() -> None:
    ge.compile_regex("(p|q)*p(p|q){8}", BYTES_VOCAB, cache=False)
    assert 0 < build_terminal_dfa.cache_bytes() <= 256 << 20  # type: ignore[attr-defined]


def test_disk_cache_stops_writing_past_its_budget(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from compilers import disk_cache
    from compilers.automata import literal_dfa, load_cached_dfa, store_cached_dfa

    monkeypatch.setenv("GRAMMAR_ENGINE_CACHE", str(tmp_path))
    monkeypatch.setattr(disk_cache, "_written", [0])
    monkeypatch.setattr(disk_cache, "MAX_WRITE_BYTES", 1)
    store_cached_dfa("first", literal_dfa(b"abc"))  # written: the budget was not yet spent
    store_cached_dfa("second", literal_dfa(b"abd"))  # skipped
    assert load_cached_dfa("first") is not None and load_cached_dfa("second") is None
