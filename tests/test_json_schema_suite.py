"""Ratchet on the JSON Schema Test Suite through the masks (``../shared/PROTOCOLS.md``).

Runs the protocol of ``benchmarks/json_schema_suite.py`` (imported from there: one
implementation) on every case of draft2020-12 and draft7, ``optional/`` included, with the
Llama 3 tokenizer: the full run takes about a minute on 2 cores, so there is no subset.

Fails when a test that is ``pass`` in ``tests/data/json_schema_suite_baseline.json`` is no
longer ``pass`` (lost pass), when a test is ``false_positive`` that is not so in the baseline
(new false positive), on any crash (an exception that is not a GrammarEngineError) and on any
token where the mask and ``consume_token`` disagree. Improvements only print a note (``-s``
shows it); after one, regenerate the baseline from the repository root with

    python benchmarks/json_schema_suite.py \\
        --write-baseline tests/data/json_schema_suite_baseline.json
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmark_modules import benchmark_module
from tests.shared_data import hf_tokenizer, real_vocab, shared_path

pytestmark = pytest.mark.real_tokenizer

BASELINE = Path(__file__).parent / "data" / "json_schema_suite_baseline.json"

suite = benchmark_module("json_schema_suite")


@pytest.mark.parametrize("draft", suite.DRAFTS)
def test_json_schema_suite_ratchet(draft: str) -> None:
    draft_dir = shared_path("data", "json-schema-test-suite", "tests", draft)
    encoder = hf_tokenizer("llama3")
    vocab = real_vocab("llama3")
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))

    results = suite.run_cases(suite.load_cases(draft_dir, draft), vocab, encoder)
    summary = suite.summarize(results)
    ratchet = suite.compare(results, baseline)
    print(suite.format_summary({draft: summary}, compare_peer=False))

    problems = []
    crashes = suite.format_crashes(results)
    if crashes:
        problems.append(f"{summary['crash']:.0f} tests crashed:\n{crashes}")
    mismatches = [r.key for r in suite.instances(results) if r.mask_mismatch]
    if mismatches:
        problems.append(f"mask and consume_token disagree in {len(mismatches)} tests: "
                        + ", ".join(mismatches[:20]))
    if ratchet.lost_passes:
        problems.append(f"{len(ratchet.lost_passes)} lost passes:\n" + "\n".join(
            f"  {key}: {was} -> {now}" for key, was, now in ratchet.lost_passes))
    if ratchet.new_false_positives:
        problems.append(f"{len(ratchet.new_false_positives)} new false positives:\n" + "\n".join(
            f"  {key} (was {was})" for key, was in ratchet.new_false_positives))
    if ratchet.improvements or ratchet.not_in_baseline:
        print(f"NOTE: {len(ratchet.improvements)} improvements and "
              f"{len(ratchet.not_in_baseline)} tests missing from the baseline; regenerate it "
              f"with `{suite.BASELINE_COMMAND}`")
        for key, was, now in ratchet.improvements:
            print(f"  improved {key}: {was} -> {now}")
    assert not problems, "\n\n".join(problems)
