"""Ratchet on slices of MaskBench (``../shared/PROTOCOLS.md``): the speed work must not
cost correctness, under any of the four tokenizers.

Runs the protocol of ``benchmarks/maskbench.py`` (imported from there: one implementation,
ours only, in this process) on the slice each ``tests/data/maskbench_slice_*.json`` names
(every 4th schema with tests of four subsets under Llama 3, every 8th under Gemma 3, every
16th under Qwen3 and gpt-oss: about 1,700 schemas, a minute), and fails on a schema that is
``pass`` in the baseline and no longer passes, and on any schema with a false positive, an
accepted document that ``jsonschema`` rejects, a token where the mask and ``consume_token``
disagree, a crash or a timeout. Improvements only print a note (``-s`` shows it); after
one, regenerate the file with the command it records. The full run over every schema is
the benchmark's (``BENCHMARKS.md``).
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
from pathlib import Path

import pytest

from tests.benchmark_modules import benchmark_module
from tests.shared_data import shared_path, tokenizer_path

pytestmark = pytest.mark.real_tokenizer

BASELINES = sorted((Path(__file__).parent / "data").glob("maskbench_slice_*.json"))


@pytest.mark.parametrize("path", BASELINES, ids=[p.stem.split("_")[-1] for p in BASELINES])
def test_maskbench_slice_ratchet(path: Path) -> None:
    mb = benchmark_module("maskbench")
    baseline = json.loads(path.read_text(encoding="utf-8"))
    rows = mb.load_rows(baseline["subsets"], baseline["limit"], baseline["every"],
                        data=shared_path("data", "jsonschemabench"))
    assert len(rows) == len(baseline["statuses"]), "the slice differs from the baseline's"
    folder = tokenizer_path(baseline["tokenizer"])
    hf_tok = mb.load_hf_tokenizer(folder)
    args = argparse.Namespace(compile_budget=30.0, instance_budget=60.0)
    engine = mb._engine_ours(folder, hf_tok, args.compile_budget)
    previous = signal.signal(signal.SIGALRM, mb._alarm)  # the protocol's budgets
    # As the benchmark's child does: run_schema collects garbage before each schema, which
    # would otherwise walk the whole test process's heap 800 times (a minute and a half).
    gc.collect()
    gc.freeze()
    try:
        records = [mb.run_schema(engine, hf_tok, row, i, args, lambda event: None)
                   for i, row in enumerate(rows)]
    finally:
        gc.unfreeze()
        signal.signal(signal.SIGALRM, previous)
    statuses = [r["status"] for r in records]
    print(f"\n{len(records)} schemas: {statuses.count('pass')} pass, "
          f"{statuses.count('compile_error')} compile errors, "
          f"{sum(r['fn'] for r in records)} false negatives, "
          f"{sum(len(r['tbm_ns']) for r in records)} tokens")

    ratchet = mb.compare_baseline(records, baseline["statuses"])
    if ratchet.improvements or ratchet.not_in_baseline:
        print(f"NOTE: {len(ratchet.improvements)} improvements and "
              f"{len(ratchet.not_in_baseline)} schemas missing from the baseline; regenerate "
              f"it with `{baseline['command']}`")
    problems = []
    if ratchet.broken:
        problems.append(f"{len(ratchet.broken)} schemas broken:\n  "
                        + "\n  ".join(ratchet.broken))
    if ratchet.lost_passes:
        problems.append(f"{len(ratchet.lost_passes)} lost passes:\n" + "\n".join(
            f"  {key}: {was} -> {now}" for key, was, now in ratchet.lost_passes))
    assert not problems, "\n".join(problems)
    assert statuses.count("pass") >= 150, "too few schemas pass for this test to mean much"


def test_compare_baseline_flags_each_kind_of_breakage() -> None:
    mb = benchmark_module("maskbench")

    def rec(key: str, status: str, **counts: int) -> dict[str, object]:
        return {"id": key, "status": status, "fp": 0, "unsound": 0, "disagreements": 0,
                **counts}

    baseline = {"a": "pass", "b": "fail", "c": "pass", "d": "compile_error", "e": "fail"}
    records = [rec("a", "fail", fn=1), rec("b", "pass"), rec("c", "pass"),
               rec("d", "fail", fp=2), rec("e", "fail", unsound=1, disagreements=3),
               rec("f", "crash"), rec("g", "timeout")]
    ratchet = mb.compare_baseline(records, baseline)
    assert ratchet.lost_passes == [("a", "pass", "fail")]
    assert ratchet.improvements == [("b", "fail", "pass")]
    assert ratchet.not_in_baseline == ["f", "g"]
    assert [b.split(":")[0] for b in ratchet.broken] == ["d", "e", "f", "g"]
    assert "2 false positives" in ratchet.broken[0]
    assert "1 accepted documents" in ratchet.broken[1] and "3 tokens" in ratchet.broken[1]
