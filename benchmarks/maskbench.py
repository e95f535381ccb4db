"""MaskBench protocol for grammar-engine on ../shared/data/jsonschemabench.

For each schema with tests: compile + first mask (TTFM); for each test instance,
``json.dumps(data, ensure_ascii=False)`` encoded with the tokenizer (no special tokens),
fill the mask and consume each token (TBM = fill + consume per token). An instance is
accepted when every token is allowed and the matcher accepts at the end. A schema passes
when every valid instance is accepted and every invalid one is not.

Besides MaskBench's labels, every accepted instance is also checked with ``jsonschema``
(exact decimals): an accepted document that ``jsonschema`` rejects is counted as a
soundness violation whatever the label says.

    python benchmarks/maskbench.py [--subsets Github_easy,...] [--limit N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import sys
import time
import tracemalloc
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jsonschema  # noqa: E402

import grammar_engine as ge  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "jsonschemabench"


class Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise Timeout()


def load_rows(subsets: list[str] | None, limit: int | None) -> list[dict[str, Any]]:
    files = sorted(DATA.glob("*.jsonl")) + sorted((DATA / "maskbench_extra").glob("*.jsonl"))
    rows = []
    for f in files:
        if subsets and f.stem not in subsets:
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("tests"):
                rows.append(row)
    return rows[:limit] if limit else rows


def jsonschema_valid(schema: Any, text: str) -> bool | None:
    try:
        exact_schema = json.loads(json.dumps(schema), parse_float=Decimal)
        instance = json.loads(text, parse_float=Decimal)
        cls = jsonschema.validators.validator_for(exact_schema,
                                                  default=jsonschema.Draft202012Validator)
        return bool(cls(exact_schema, format_checker=cls.FORMAT_CHECKER).is_valid(instance))
    except Exception:
        return None  # the validator itself cannot decide (bad $ref, ...)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from transformers import PreTrainedTokenizerFast

    tok_dir = ROOT.parent / "shared" / "tokenizers" / args.tokenizer
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tok_dir / "tokenizer.json"))
    t0 = time.perf_counter()
    vocab = ge.Vocabulary.from_tokenizer_json(tok_dir)
    vocab_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = ge.compile_json_schema({"type": "integer"}, vocab, cache=False)
    ge.Matcher(warm).next_token_bitmask()
    jit_time = time.perf_counter() - t0

    rows = load_rows(args.subsets.split(",") if args.subsets else None, args.limit)
    signal.signal(signal.SIGALRM, _alarm)
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    tbm: list[float] = []
    ttfm: list[float] = []
    false_positives: list[dict[str, Any]] = []
    unsound: list[dict[str, Any]] = []
    per_schema: list[dict[str, Any]] = []
    bitmask = ge.allocate_token_bitmask(1, vocab.size)
    tracemalloc.start()
    for n, row in enumerate(rows):
        schema = row["schema"]
        rec: dict[str, Any] = {"id": row["id"]}
        counts["schemas"] += 1
        try:
            signal.setitimer(signal.ITIMER_REAL, args.compile_budget)
            t = time.perf_counter()
            g = ge.compile_json_schema(schema, vocab, cache=False)
            ge.Matcher(g).fill_next_token_bitmask(bitmask)
            ttfm.append(time.perf_counter() - t)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except Timeout:
            counts["timeouts"] += 1
            rec["status"] = "timeout"
            per_schema.append(rec)
            continue
        except ge.GrammarEngineError as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            counts["compile_errors"] += 1
            key = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
            errors[key] += 1
            rec["status"] = "compile_error"
            rec["error"] = key
            per_schema.append(rec)
            continue
        except Exception as e:  # a crash: an engine bug
            signal.setitimer(signal.ITIMER_REAL, 0)
            counts["crashes"] += 1
            rec["status"] = "crash"
            rec["error"] = f"{type(e).__name__}: {e}"
            per_schema.append(rec)
            continue
        ok_schema = True
        try:
            signal.setitimer(signal.ITIMER_REAL, args.instance_budget)
            for test in row["tests"]:
                text = json.dumps(test["data"], ensure_ascii=False)
                ids = tokenizer.encode(text, add_special_tokens=False)
                m = ge.Matcher(g)
                accepted = True
                for tid in ids:
                    t = time.perf_counter()
                    m.fill_next_token_bitmask(bitmask)
                    allowed = (bitmask[0, tid >> 5] >> (tid & 31)) & 1
                    ok = m.consume_token(tid)
                    tbm.append(time.perf_counter() - t)
                    if bool(allowed) != ok:
                        counts["mask_consume_disagreements"] += 1
                    if not ok:
                        accepted = False
                        break
                accepted = accepted and m.is_accepting()
                if test["valid"] and not accepted:
                    counts["false_negatives"] += 1
                    ok_schema = False
                elif not test["valid"] and accepted:
                    counts["false_positives"] += 1
                    ok_schema = False
                    false_positives.append({"id": row["id"], "text": text[:300]})
                if accepted and jsonschema_valid(schema, text) is False:
                    counts["accepted_but_jsonschema_invalid"] += 1
                    unsound.append({"id": row["id"], "text": text[:300]})
            signal.setitimer(signal.ITIMER_REAL, 0)
        except Timeout:
            counts["timeouts"] += 1
            ok_schema = False
            rec["status"] = "timeout"
        except Exception as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            counts["crashes"] += 1
            ok_schema = False
            rec["status"] = "crash"
            rec["error"] = f"{type(e).__name__}: {e}"
        if ok_schema:
            counts["passing"] += 1
        rec.setdefault("status", "pass" if ok_schema else "fail")
        per_schema.append(rec)
        if args.progress and (n + 1) % 100 == 0:
            print(f"  {n + 1}/{len(rows)} schemas, {counts['passing']} passing",
                  file=sys.stderr, flush=True)
    _, peak = tracemalloc.get_traced_memory()
    tbm_us = np.array(tbm) * 1e6
    ttfm_ms = np.array(ttfm) * 1e3

    def pct(a: np.ndarray, q: float) -> float:
        return float(np.percentile(a, q)) if len(a) else float("nan")

    return {
        "engine": "grammar-engine", "tokenizer": args.tokenizer,
        "vocab_prep_s": vocab_time, "jit_warmup_s": jit_time,
        "counts": dict(counts), "compile_errors": errors.most_common(),
        "tbm_us": {q: pct(tbm_us, q) for q in (25, 50, 75, 90, 99, 99.9)} |
        {"max": float(tbm_us.max()) if len(tbm_us) else float("nan"), "tokens": len(tbm_us)},
        "ttfm_ms": {q: pct(ttfm_ms, q) for q in (50, 90, 99)} |
        {"max": float(ttfm_ms.max()) if len(ttfm_ms) else float("nan")},
        "peak_python_heap_mb": peak / 2**20,
        "false_positive_examples": false_positives[:50],
        "unsound_examples": unsound[:50],
        "per_schema": per_schema,
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
    }


def print_report(r: dict[str, Any]) -> None:
    c = r["counts"]
    print(f"## MaskBench: {r['engine']} ({r['tokenizer']})\n")
    print("| schemas | passing | compile errors | false neg. | false pos. | "
          "accepted but jsonschema-invalid | timeouts | crashes |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {c.get('schemas', 0)} | {c.get('passing', 0)} | {c.get('compile_errors', 0)} | "
          f"{c.get('false_negatives', 0)} | {c.get('false_positives', 0)} | "
          f"{c.get('accepted_but_jsonschema_invalid', 0)} | {c.get('timeouts', 0)} | "
          f"{c.get('crashes', 0)} |\n")
    t = r["tbm_us"]
    print(f"TBM (us, {t['tokens']} tokens): " + ", ".join(
        f"p{k}={v:.1f}" for k, v in t.items() if k not in ("tokens",) and k != "max")
        + f", max={t['max']:.0f}")
    f = r["ttfm_ms"]
    print("TTFM (ms): " + ", ".join(f"p{k}={v:.1f}" for k, v in f.items() if k != "max")
          + f", max={f['max']:.0f}")
    print(f"vocabulary preparation {r['vocab_prep_s']:.2f} s, JIT warm-up "
          f"{r['jit_warmup_s']:.2f} s, peak Python heap {r['peak_python_heap_mb']:.0f} MB")
    print("\nMost common compile errors:")
    for msg, k in r["compile_errors"][:25]:
        print(f"  {k:5d}  {msg}")
    if r["false_positive_examples"]:
        print("\nFalse positives (label invalid, accepted):")
        for x in r["false_positive_examples"][:10]:
            print(f"  {x['id']}: {x['text'][:150]}")
    if r["unsound_examples"]:
        print("\nAccepted but jsonschema-invalid:")
        for x in r["unsound_examples"][:10]:
            print(f"  {x['id']}: {x['text'][:150]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subsets", help="comma-separated subset names (file stems)")
    p.add_argument("--limit", type=int, help="first N schemas with tests")
    p.add_argument("--tokenizer", default="llama3")
    p.add_argument("--compile-budget", type=float, default=30.0, help="seconds per compile")
    p.add_argument("--instance-budget", type=float, default=60.0,
                   help="seconds for all instances of one schema")
    p.add_argument("--json", help="write the raw results here")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: MaskBench needs ../shared/data/jsonschemabench")
    r = run(args)
    print_report(r)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
