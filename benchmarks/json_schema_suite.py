"""JSON Schema Test Suite through the masks (``../shared/PROTOCOLS.md``), draft2020-12 and draft7.

For each test case (one schema, several tests) of ``data/json-schema-test-suite/tests/<draft>``
(``optional/`` and ``optional/format/`` included): compile the schema once (a compile error
makes all its tests "unsupported"); for each test, ``json.dumps(data)`` is encoded with the
Llama 3 tokenizer (no special tokens) and fed to a fresh matcher, filling the mask before each
token. The test is *accepted* when every token is consumed and the matcher accepts at the end.

Outcomes per test: ``pass`` (valid and accepted, or invalid and rejected), ``false_negative``
(valid, rejected), ``false_positive`` (invalid, accepted: the engine would let a model emit an
invalid document), ``unsupported`` (compile error, a GrammarEngineError while matching, or the
per-case time budget ran out: the note says "timeout"), ``crash`` (any other exception: an
engine bug). Remote ``$ref``s are refused by the engine, so ``refRemote.json`` is unsupported.

The ratchet ``tests/test_json_schema_suite.py`` imports this module: it is the one
implementation of the protocol.

    python benchmarks/json_schema_suite.py [--drafts draft2020-12,draft7] [--budget S]
        [--compare] [--write-baseline tests/data/json_schema_suite_baseline.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import grammar_engine as ge  # noqa: E402

DRAFTS = ("draft2020-12", "draft7")
OUTCOMES = ("pass", "false_negative", "false_positive", "unsupported", "crash")
DEFAULT_BUDGET_S = 60.0
BASELINE = ROOT / "tests" / "data" / "json_schema_suite_baseline.json"
BASELINE_COMMAND = ("python benchmarks/json_schema_suite.py "
                    "--write-baseline tests/data/json_schema_suite_baseline.json")
# PROTOCOLS.md, llguidance on draft2020-12 (an older copy of the suite: 2,194 tests).
LLGUIDANCE_2020_12 = {"tests": 2194, "pass": 1079, "false_negative": 52,
                      "false_positive": 41, "unsupported": 1022}


class Encoder(Protocol):
    """What the protocol needs of a tokenizer (``transformers`` fast tokenizers fit)."""

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


class CaseTimeout(BaseException):
    """The per-case budget ran out (a BaseException, so engine ``except Exception`` misses it)."""


@dataclass(frozen=True)
class Case:
    """One test case of the suite: a schema and its tests."""

    draft: str
    file: str  # relative to the draft folder, POSIX separators
    index: int
    description: str
    schema: Any
    tests: tuple[dict[str, Any], ...]

    def key(self, test_index: int) -> str:
        """Stable baseline key ``<draft>/<relative file>/<case index>/<test index>``."""
        return f"{self.draft}/{self.file}/{self.index}/{test_index}"


@dataclass
class InstanceResult:
    """The outcome of one test (one JSON instance) of a case."""

    case: Case
    index: int
    outcome: str
    note: str = ""  # unsupported reason or crash traceback
    mask_mismatch: bool = False  # the mask and consume_token disagreed on a token

    @property
    def key(self) -> str:
        return self.case.key(self.index)

    @property
    def test(self) -> dict[str, Any]:
        return self.case.tests[self.index]


@dataclass
class CaseResult:
    """The outcomes of all tests of one case, and its wall time."""

    case: Case
    results: list[InstanceResult] = field(default_factory=list)
    seconds: float = 0.0


def shared_dir() -> Path:
    """``GRAMMAR_ENGINE_SHARED`` or ``<repo>/../shared``."""
    env = os.environ.get("GRAMMAR_ENGINE_SHARED")
    return Path(env) if env else ROOT.parent / "shared"


def suite_dir() -> Path:
    """``<shared>/data/json-schema-test-suite/tests``."""
    return shared_dir() / "data" / "json-schema-test-suite" / "tests"


def tokenizer_dir(name: str = "llama3") -> Path:
    """Folder of a shared tokenizer (``GRAMMAR_ENGINE_TOKENIZERS`` or <shared>/tokenizers)."""
    env = os.environ.get("GRAMMAR_ENGINE_TOKENIZERS")
    if env:
        return Path(env).expanduser() / name
    return shared_dir() / "tokenizers" / name


def load_cases(draft_dir: Path, draft: str,
               select: Callable[[Case], bool] | None = None) -> list[Case]:
    """All cases of one draft folder (sorted files, recursive), optionally filtered."""
    cases = []
    for path in sorted(draft_dir.rglob("*.json")):
        rel = path.relative_to(draft_dir).as_posix()
        for i, raw in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            case = Case(draft, rel, i, raw["description"], raw["schema"], tuple(raw["tests"]))
            if select is None or select(case):
                cases.append(case)
    return cases


REMOTE_BASE = "http://localhost:1234/"  # where the suite's remotes/ folder is served


def suite_resolver(uri: str) -> Any:
    """The suite's remote documents (``remotes/``) for ``http://localhost:1234/...``, as
    the suite's README asks harnesses to serve them; any other URI is not found."""
    if not uri.startswith(REMOTE_BASE):
        raise KeyError(uri)
    root = shared_dir() / "data" / "json-schema-test-suite" / "remotes"
    path = (root / uri[len(REMOTE_BASE):]).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise KeyError(uri)
    return json.loads(path.read_text(encoding="utf-8"))


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (an unsupported reason)."""
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}".rstrip(": ")


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise CaseTimeout()


def _set_timer(seconds: float) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, seconds)


def run_instance(case: Case, index: int, grammar: Any, encoder: Encoder,
                 bitmask: Any) -> InstanceResult:
    """Feed one test's ``json.dumps(data)`` token by token (mask, then consume)."""
    test = case.tests[index]
    text = json.dumps(test["data"])
    ids = encoder.encode(text, add_special_tokens=False)
    matcher = ge.Matcher(grammar)
    accepted = True
    mismatch = False
    for tid in ids:
        matcher.fill_next_token_bitmask(bitmask)
        allowed = bool((int(bitmask[0, tid >> 5]) >> (tid & 31)) & 1)
        consumed = matcher.consume_token(tid)
        mismatch = mismatch or allowed != consumed
        if not consumed:
            accepted = False
            break
    accepted = accepted and matcher.is_accepting()
    if accepted == bool(test["valid"]):
        outcome = "pass"
    else:
        outcome = "false_positive" if accepted else "false_negative"
    return InstanceResult(case, index, outcome, mask_mismatch=mismatch)


def run_case(case: Case, vocab: Any, encoder: Encoder, bitmask: Any,
             budget_s: float = DEFAULT_BUDGET_S) -> CaseResult:
    """Compile the case's schema once and run all its tests within ``budget_s`` seconds."""
    res = CaseResult(case)
    start = time.perf_counter()
    phase = "compile"

    def rest(outcome: str, note: str) -> None:
        for i in range(len(res.results), len(case.tests)):
            res.results.append(InstanceResult(case, i, outcome, note))

    _set_timer(budget_s)
    try:
        try:
            grammar = ge.compile_json_schema(case.schema, vocab, cache=False,
                                             resolver=suite_resolver)
        except ge.GrammarEngineError as e:
            rest("unsupported", first_line(e))
            return res
        except Exception:
            rest("crash", f"compile: {traceback.format_exc()}")
            return res
        phase = "tests"
        for i in range(len(case.tests)):
            try:
                res.results.append(run_instance(case, i, grammar, encoder, bitmask))
            except ge.GrammarEngineError as e:
                res.results.append(InstanceResult(case, i, "unsupported",
                                                  f"while matching: {first_line(e)}"))
            except Exception:
                res.results.append(InstanceResult(case, i, "crash",
                                                  f"test {i}: {traceback.format_exc()}"))
    except CaseTimeout:
        rest("unsupported", f"timeout: case budget {budget_s:g}s exceeded during {phase}")
    finally:
        _set_timer(0)
        res.seconds = time.perf_counter() - start
    return res


def run_cases(cases: Iterable[Case], vocab: Any, encoder: Encoder,
              budget_s: float = DEFAULT_BUDGET_S, progress: bool = False) -> list[CaseResult]:
    """Run the protocol on ``cases`` (warms the JIT first so no case pays for it)."""
    warm = ge.compile_json_schema({"type": "integer"}, vocab, cache=False)
    bitmask = ge.allocate_token_bitmask(1, vocab.size)
    ge.Matcher(warm).fill_next_token_bitmask(bitmask)
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGALRM, _on_alarm) if main else None
    out: list[CaseResult] = []
    try:
        last_file = None
        for case in cases:
            if progress and case.file != last_file:
                print(f"  {case.draft}/{case.file}", file=sys.stderr, flush=True)
                last_file = case.file
            out.append(run_case(case, vocab, encoder, bitmask, budget_s))
    finally:
        if main:
            signal.signal(signal.SIGALRM, old)
    return out


def instances(results: Iterable[CaseResult]) -> list[InstanceResult]:
    """All per-test results, in suite order."""
    return [r for cr in results for r in cr.results]


def summarize(results: list[CaseResult]) -> dict[str, float]:
    """Counts: cases, tests, one per outcome, timeouts, mask mismatches, pass %, seconds."""
    flat = instances(results)
    counts = Counter(r.outcome for r in flat)
    summary: dict[str, float] = {"cases": len(results), "tests": len(flat)}
    summary |= {o: counts[o] for o in OUTCOMES}
    summary["timeouts"] = sum(1 for r in flat if r.note.startswith("timeout"))
    summary["mask_mismatch"] = sum(r.mask_mismatch for r in flat)
    summary["pass_pct"] = 100.0 * counts["pass"] / len(flat) if flat else 0.0
    summary["seconds"] = sum(cr.seconds for cr in results)
    return summary


def baseline_of(results: Iterable[CaseResult]) -> dict[str, str]:
    """The baseline mapping ``key -> outcome``, in suite order."""
    return {r.key: r.outcome for r in instances(results)}


@dataclass
class Ratchet:
    """Differences between a run and the baseline (only keys present in both)."""

    lost_passes: list[tuple[str, str, str]] = field(default_factory=list)  # key, was, now
    new_false_positives: list[tuple[str, str]] = field(default_factory=list)  # key, was
    improvements: list[tuple[str, str, str]] = field(default_factory=list)
    not_in_baseline: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.lost_passes or self.new_false_positives)


def compare(results: Iterable[CaseResult], baseline: Mapping[str, str]) -> Ratchet:
    """Lost passes, new false positives and improvements relative to ``baseline``."""
    ratchet = Ratchet()
    for r in instances(results):
        was = baseline.get(r.key)
        if was is None:
            ratchet.not_in_baseline.append(r.key)
            continue
        if was == "pass" and r.outcome != "pass":
            ratchet.lost_passes.append((r.key, was, r.outcome))
        if r.outcome == "false_positive" and was != "false_positive":
            ratchet.new_false_positives.append((r.key, was))
        if r.outcome != was and (r.outcome == "pass" or was == "false_positive"):
            ratchet.improvements.append((r.key, was, r.outcome))
    return ratchet


def short(value: Any, width: int = 100) -> str:
    """Compact JSON, truncated to ``width`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def format_summary(summaries: Mapping[str, Mapping[str, float]], compare_peer: bool) -> str:
    """Markdown table: one row per draft (+ llguidance's published figure)."""
    head = ("| run | cases | tests | pass | false_negative | false_positive | unsupported "
            "(timeouts) | crashes | mask≠consume | pass % | time s |")
    lines = [head, "|" + "---|" * 11]
    for draft, s in summaries.items():
        lines.append(
            f"| ours {draft} | {s['cases']:.0f} | {s['tests']:.0f} | {s['pass']:.0f} "
            f"| {s['false_negative']:.0f} | {s['false_positive']:.0f} "
            f"| {s['unsupported']:.0f} ({s['timeouts']:.0f}) | {s['crash']:.0f} "
            f"| {s['mask_mismatch']:.0f} | {s['pass_pct']:.1f} | {s['seconds']:.0f} |")
    if compare_peer:
        p = LLGUIDANCE_2020_12
        lines.append(
            f"| llguidance draft2020-12 (PROTOCOLS.md) | - | {p['tests']} | {p['pass']} "
            f"| {p['false_negative']} | {p['false_positive']} | {p['unsupported']} | - | - "
            f"| {100 * p['pass'] / p['tests']:.1f} | - |")
    return "\n".join(lines)


def format_outcomes(results: Iterable[CaseResult], outcome: str) -> str:
    """One block per test with ``outcome``: key, case, test, data and the case's schema."""
    lines = []
    for r in instances(results):
        if r.outcome == outcome:
            lines.append(f"- {r.key}  [{r.case.description}] {r.test['description']}\n"
                         f"    data:   {short(r.test['data'], 160)}\n"
                         f"    schema: {short(r.case.schema, 160)}")
    return "\n".join(lines) if lines else "(none)"


def unsupported_reasons(results: Iterable[CaseResult]) -> Counter[str]:
    """Unsupported reasons (first lines) counted per test."""
    return Counter(r.note for r in instances(results) if r.outcome == "unsupported")


def format_reasons(results: list[CaseResult], top: int) -> str:
    """The ``top`` unsupported reasons with test and case counts."""
    per_case: Counter[str] = Counter()
    for cr in results:
        for note in {r.note for r in cr.results if r.outcome == "unsupported"}:
            per_case[note] += 1
    lines = ["| tests | cases | reason |", "|---:|---:|---|"]
    for note, n in unsupported_reasons(results).most_common(top):
        cell = note.replace("|", "\\|")
        lines.append(f"| {n} | {per_case[note]} | {cell} |")
    return "\n".join(lines)


def format_crashes(results: Iterable[CaseResult]) -> str:
    """Every crash with its traceback (one per case when the compile crashed)."""
    seen: set[tuple[str, int, str]] = set()
    blocks = []
    for r in instances(results):
        if r.outcome != "crash":
            continue
        sig = (r.case.file, r.case.index, r.note if r.note.startswith("compile") else r.key)
        if sig in seen:
            continue
        seen.add(sig)
        blocks.append(f"### {r.key} [{r.case.description}] {r.test['description']}\n"
                      f"schema: {short(r.case.schema, 300)}\n{r.note}")
    return "\n".join(blocks)


def load_encoder(name: str = "llama3") -> Encoder:
    """A ``transformers`` fast tokenizer for a shared tokenizer folder."""
    from transformers import PreTrainedTokenizerFast

    tok: Encoder = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_file=str(tokenizer_dir(name) / "tokenizer.json"))
    return tok


def main(argv: list[str] | None = None) -> int:
    """Run both drafts, print the report; exit 1 when anything crashed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drafts", default=",".join(DRAFTS))
    ap.add_argument("--tokenizer", default="llama3")
    ap.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                    help="seconds per case (compile + all its tests)")
    ap.add_argument("--top", type=int, default=15, help="unsupported reasons to list")
    ap.add_argument("--compare", action="store_true",
                    help="show llguidance's draft2020-12 figure from PROTOCOLS.md")
    ap.add_argument("--write-baseline", type=Path, metavar="PATH")
    ap.add_argument("--check-baseline", type=Path, metavar="PATH",
                    help="report lost passes / new false positives against PATH")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)

    encoder = load_encoder(args.tokenizer)
    vocab = ge.Vocabulary.from_tokenizer_json(tokenizer_dir(args.tokenizer))
    all_results: dict[str, list[CaseResult]] = {}
    wall = time.perf_counter()
    for draft in args.drafts.split(","):
        cases = load_cases(suite_dir() / draft, draft)
        all_results[draft] = run_cases(cases, vocab, encoder, args.budget, args.progress)
    wall = time.perf_counter() - wall
    flat = [cr for rs in all_results.values() for cr in rs]

    print(f"## JSON Schema Test Suite through the masks ({args.tokenizer}, "
          f"budget {args.budget:g}s/case, wall {wall:.0f}s)\n")
    print(format_summary({d: summarize(rs) for d, rs in all_results.items()}, args.compare))
    if args.compare:
        print("\n(llguidance's figure is from an older copy of the suite: 2,194 draft2020-12 "
              "tests; this copy has more, so compare percentages.)")
    slowest = sorted(flat, key=lambda cr: -cr.seconds)[:5]
    print("\nslowest cases: " + ", ".join(
        f"{cr.case.draft}/{cr.case.file}/{cr.case.index} {cr.seconds:.1f}s" for cr in slowest))
    for outcome in ("false_positive", "false_negative"):
        for draft, rs in all_results.items():
            print(f"\n## {outcome.replace('_', ' ').capitalize()}s, {draft}\n")
            print(format_outcomes(rs, outcome))
    print(f"\n## Top {args.top} unsupported reasons (all drafts)\n")
    print(format_reasons(flat, args.top))
    crashes = format_crashes(flat)
    if crashes:
        print("\n## CRASHES (engine bugs)\n\n" + crashes)
        print(f"!!! {sum(r.outcome == 'crash' for r in instances(flat))} tests crashed",
              file=sys.stderr)
    if args.check_baseline:
        ratchet = compare(flat, json.loads(args.check_baseline.read_text(encoding="utf-8")))
        print(f"\n## Against {args.check_baseline}: {len(ratchet.lost_passes)} lost passes, "
              f"{len(ratchet.new_false_positives)} new false positives, "
              f"{len(ratchet.improvements)} improvements")
        for key, was, now in ratchet.lost_passes:
            print(f"- lost pass {key}: {was} -> {now}")
        for key, was in ratchet.new_false_positives:
            print(f"- new false positive {key} (was {was})")
    if args.write_baseline:
        args.write_baseline.parent.mkdir(parents=True, exist_ok=True)
        args.write_baseline.write_text(json.dumps(baseline_of(flat), indent=1) + "\n",
                                       encoding="utf-8")
        print(f"\nwrote {args.write_baseline} ({len(instances(flat))} tests)")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
