"""Damaged or forged compiled-grammar files: refused with GrammarEngineError before any
kernel reads an out-of-range index (the kernels do not check bounds)."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grammar_engine as ge
from grammar_engine import GrammarEngineError
from tests.reliability.helpers import BYTES_VOCAB
from tests.reliability.test_limits import JSONISH


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    path = tmp_path_factory.mktemp("files") / "g.geg"
    ge.compile_grammar(JSONISH, BYTES_VOCAB, cache=False).save(path)
    with zipfile.ZipFile(path) as z:
        header = json.loads(z.read("header.json"))
        data = np.load(io.BytesIO(z.read("arrays.npz")))
        arrays = {k: data[k] for k in data.files}
    return header, arrays


def write(path: Path, header: dict[str, Any], arrays: dict[str, Any]) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps(header))
        z.writestr("arrays.npz", buf.getvalue())
    return path


def use(path: Path) -> None:
    """Load and run a matcher a few steps; only engine errors may come out."""
    g = ge.CompiledGrammar.load(path, BYTES_VOCAB)
    m = ge.Matcher(g)
    for _ in range(6):
        allowed = [t for t in m.allowed_token_ids().tolist() if t < 256]
        if not allowed:
            break
        m.consume_token(allowed[len(allowed) // 2])


@pytest.mark.parametrize(("name", "change"), [
    ("dfa0_trans", lambda a: np.full_like(a, 10**6)),
    ("dfa0_trans", lambda a: a[:, :255]),
    ("dfa0_accept", lambda a: a[:-1]),
    ("goto", lambda a: a + 10**6),
    ("cell_actions", lambda a: a - 10**6),
    ("cell_start", lambda a: a[::-1].copy()),
    ("rule_lhs", lambda a: a + 10**6),
    ("rule_len", lambda a: a.astype(np.float64)),
], ids=["trans-range", "trans-shape", "accept-shape", "goto", "actions", "offsets", "lhs",
        "float"])
def test_damaged_array_is_refused(tmp_path: Path, saved: Any, name: str, change: Any) -> None:
    header, arrays = saved
    path = write(tmp_path / "bad.geg", header, {**arrays, name: change(arrays[name])})
    with pytest.raises(GrammarEngineError, match="is damaged"):
        ge.CompiledGrammar.load(path, BYTES_VOCAB)


def test_damaged_header_is_refused(tmp_path: Path, saved: Any) -> None:
    header, arrays = saved
    for broken in ({**header, "n_dfas": 99}, {**header, "table": {}},
                   {k: v for k, v in header.items() if k != "vocab_fingerprint"},
                   {**header, "options": {"start": "start", "limits": {"max_x": 1}}}):
        with pytest.raises(GrammarEngineError, match="damaged"):
            ge.CompiledGrammar.load(write(tmp_path / "h.geg", broken, arrays), BYTES_VOCAB)


def test_not_a_zip_file(tmp_path: Path) -> None:
    path = tmp_path / "x.geg"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(GrammarEngineError, match="not a compiled grammar"):
        ge.CompiledGrammar.load(path, BYTES_VOCAB)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_random_damage_never_crashes(tmp_path_factory: pytest.TempPathFactory, saved: Any,
                                     data: st.DataObject) -> None:
    header, arrays = saved
    name = data.draw(st.sampled_from(sorted(arrays)))
    arr = arrays[name].copy()
    flat = arr.reshape(-1)
    if flat.size:
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, flat.size - 1))
            if arr.dtype == np.bool_:
                flat[i] = not flat[i]
            else:
                flat[i] = data.draw(st.integers(-3, 40))
    path = write(tmp_path_factory.mktemp("rand") / "r.geg", header, {**arrays, name: arr})
    with contextlib.suppress(GrammarEngineError):
        use(path)


def test_forged_reduction_cycle_stops_at_the_stack_limit(tmp_path: Path, saved: Any) -> None:
    """In range but forged: in every state, every terminal reduces an empty rule whose goto
    leads back to the same state. Matching must end with a limit, not loop forever."""
    header, arrays = saved
    goto = np.zeros_like(arrays["goto"])
    n_states, n_terms = goto.shape[0], len(header["table"]["terminals"])
    goto[:] = np.arange(n_states)[:, None]
    rule_len = np.zeros_like(arrays["rule_len"])
    cell_start = np.arange(n_states * n_terms + 1, dtype=np.int32)
    actions = np.full(n_states * n_terms, -1, dtype=np.int32)  # reduce rule 0
    forged = {**arrays, "goto": goto, "rule_len": rule_len, "cell_start": cell_start,
              "cell_actions": actions}
    path = write(tmp_path / "cycle.geg", header, forged)
    with pytest.raises(ge.LimitExceededError) as info:
        use(path)
    assert info.value.limit == "max_stack_depth"
