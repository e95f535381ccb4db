"""Real-world schemas (a fixed slice of ../shared/data/jsonschemabench) under the Llama 3
tokenizer: labelled invalid instances are never accepted, and documents sampled from the
engine's own masks always validate with ``jsonschema``."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import grammar_engine as ge
from tests.json_helpers import accepts_tokens, is_valid, sample_document
from tests.shared_data import hf_tokenizer, real_vocab, shared_path

SUBSETS = ("Github_easy", "Github_medium", "Glaiveai2K", "Kubernetes", "JsonSchemaStore",
           "Snowplow")
EVERY = 100  # every 100th schema with tests: about 50 schemas


def _slice() -> list[dict[str, Any]]:
    rows = []
    for name in SUBSETS:
        path = shared_path("data", "jsonschemabench", f"{name}.jsonl")
        with_tests = [json.loads(line) for line in path.read_text(encoding="utf-8")
                      .splitlines()]
        with_tests = [r for r in with_tests if r.get("tests")]
        rows.extend(with_tests[::EVERY])
    return rows


@pytest.mark.real_tokenizer
def test_real_schemas_no_false_positive_and_samples_validate() -> None:
    vocab = real_vocab("llama3")
    tok = hf_tokenizer("llama3")
    rng = random.Random(0)
    compiled = unsupported = sampled = 0
    false_positives: list[str] = []
    unsound_samples: list[str] = []
    for row in _slice():
        schema = row["schema"]
        try:
            g = ge.compile_json_schema(schema, vocab, cache=False)
        except ge.GrammarEngineError:
            unsupported += 1
            continue
        compiled += 1
        for test in row["tests"]:
            text = json.dumps(test["data"], ensure_ascii=False)
            ids = tok.encode(text, add_special_tokens=False)
            if not test["valid"] and accepts_tokens(g, ids) and not is_valid(schema, text):
                false_positives.append(f"{row['id']}: {text[:120]}")
        for _ in range(3):
            doc = sample_document(g, rng, max_tokens=200)
            if doc is None:
                continue
            sampled += 1
            if not is_valid(schema, doc):
                unsound_samples.append(f"{row['id']}: {doc[:120]}")
    print(f"\n{compiled} compiled, {unsupported} unsupported, {sampled} sampled documents")
    assert compiled >= 30, "too few schemas compiled for this test to mean much"
    assert sampled >= 60
    assert false_positives == []
    assert unsound_samples == []
