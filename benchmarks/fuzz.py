"""Long fuzz run: the invariants of ``tests/fuzz`` for a given number of minutes.

Run from the repository root::

    PYTHONPATH=. python benchmarks/fuzz.py --minutes 30 [--targets schema,matcher,compile]
        [--log fuzz.log]

``schema``: random JSON Schemas (plain and through ``$ref``) compile or raise an engine
error, and every document sampled from the masks validates with ``jsonschema``;
``matcher``: random regexes and Lark grammars, masks equal the oracle's along random walks;
``compile``: broken regexes, grammars and schemas raise only engine errors. Rounds of each
target alternate until the time is up; a failing example is printed (shrunk by Hypothesis)
and the run goes on. The summary counts cases, outcomes and failures; the exit code is 1 if
any invariant failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compilers.regex import has_lazy_quantifier
from tests.fuzz import strategies as S
from tests.fuzz.invariants import (
    STATS,
    check_masks_against_oracle,
    check_samples_validate,
    compile_or_error,
)

ROUND = settings(max_examples=200, deadline=None, database=None, derandomize=False,
                 suppress_health_check=list(HealthCheck))


@ROUND
@given(st.one_of(S.json_schema, S.schema_with_refs()), st.integers(0, 10**6))
def schema_samples(schema: Any, seed: int) -> None:
    g = compile_or_error("schema", schema)
    if g is not None:
        check_samples_validate(g, schema, seed)


@ROUND
@given(S.regex_text, st.integers(0, 10**6))
def regex_masks(pattern: str, seed: int) -> None:
    pattern = S.non_empty(pattern)
    g = compile_or_error("regex", pattern)
    if g is not None and not has_lazy_quantifier(pattern):
        check_masks_against_oracle(g, S.regex_grammar(pattern), seed)


@ROUND
@given(S.lark_grammar(), st.integers(0, 10**6))
def grammar_masks(text: str, seed: int) -> None:
    g = compile_or_error("lark", text)
    if g is not None:
        check_masks_against_oracle(g, text, seed)


@ROUND
@given(st.one_of(S.broken_regex.map(lambda x: ("regex", x)),
                 S.broken_lark_grammar().map(lambda x: ("lark", x)),
                 S.broken_schema.map(lambda x: ("schema", x))))
def broken_inputs(case: tuple[str, Any]) -> None:
    compile_or_error(*case)


TARGETS: dict[str, list[Callable[[], None]]] = {
    "schema": [schema_samples],
    "matcher": [regex_masks, grammar_masks],
    "compile": [broken_inputs],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--targets", default="schema,matcher,compile")
    args = ap.parse_args(argv)
    jobs = [f for name in args.targets.split(",") for f in TARGETS[name]]
    end = time.monotonic() + 60 * args.minutes
    failures: list[str] = []
    rounds = 0
    start = time.monotonic()
    while time.monotonic() < end:
        for job in jobs:
            rounds += 1
            try:
                job()
            except Exception as e:  # an invariant failed: report and go on
                failures.append(f"{job.__name__}: {type(e).__name__}: {e}")
                print(f"FAILURE in {job.__name__}:", file=sys.stderr)
                traceback.print_exc()
            elapsed = (time.monotonic() - start) / 60
            cases = sum(v for k, v in STATS.items() if k.endswith(":cases"))
            print(f"[{elapsed:6.1f} min] round {rounds} ({job.__name__}): {cases} cases, "
                  f"{len(failures)} failures", flush=True)
            if time.monotonic() >= end:
                break
    summary = {"minutes": round((time.monotonic() - start) / 60, 1), "rounds": rounds,
               "failures": failures, "stats": dict(sorted(STATS.items()))}
    print(json.dumps(summary, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
