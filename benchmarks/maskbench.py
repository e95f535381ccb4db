"""MaskBench (``../shared/PROTOCOLS.md``): grammar-engine and its peers on real JSON schemas.

One command runs the protocol for grammar-engine ("ours"), llguidance, xgrammar and
outlines-core side by side, on ``../shared/data/jsonschemabench`` (and ``maskbench_extra``):

* **TTFM** (time to first mask): compile the schema, make a matcher, fill the first mask. An
  engine that refuses the schema has a *compile error*; one that runs past
  ``--compile-budget`` has a *timeout*.
* For each test instance, ``text = json.dumps(data, ensure_ascii=False)`` and
  ``ids = hf_tok.encode(text, add_special_tokens=False)`` (Llama 3 tokenizer, the same ids for
  every engine), a fresh matcher, and for each id: fill the mask, then consume the id. **TBM**
  (time between masks) is fill + consume of one token; the check of the mask bit between the
  two is not timed. The instance is *accepted* when every id is consumed and the matcher is
  accepting at the end (EOS allowed). A valid instance not accepted is a *false negative*, an
  invalid one accepted a *false positive*; a schema *passes* when it has neither (and no
  timeout or crash). All instances of a schema share ``--instance-budget``.
* Soundness, beyond MaskBench's labels: every accepted instance is also checked with
  ``jsonschema`` (exact decimals, format assertions on); an accepted document ``jsonschema``
  rejects is counted in *accepted but jsonschema-invalid*, whatever its label says.

Engines, configured as PROTOCOLS.md says (EOS: ``eos_token`` of ``tokenizer_config.json``):

* ours: ``compile_json_schema(schema, vocab, cache=False, limits=...)`` + ``Matcher``; a
  ``GrammarEngineError`` is a compile error, any other exception a crash (a bug of ours).
  The engine's own budgets sit inside the harness's: ``compile_time_budget`` is 60% of
  ``--compile-budget`` and ``mask_time_budget`` 30%, so a schema too slow to compile ends as
  the engine's ``LimitExceededError`` (a compile error), the way a server would configure it;
* llguidance: ``LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible":
  True})``, ``LLMatcher(llguidance.hf.from_tokenizer(hf_tok), grammar, log_level=0)`` (an
  exception or ``is_error()`` is a compile error), a ``deep_copy()`` of it per instance;
* xgrammar: ``GrammarCompiler(TokenizerInfo.from_huggingface(hf_tok, vocab_size=...,
  stop_token_ids=[eos]), max_threads=1, cache_enabled=False).compile_json_schema(
  json.dumps(schema), any_whitespace=True, strict_mode=False)`` + ``GrammarMatcher``
  (accepting = ``accept_token(eos)`` then ``is_terminated()``);
* outlines-core: ``Index(build_regex_from_schema(json.dumps(schema), r"[ ]?"),
  Vocabulary(eos, token_map))`` with ``token_map`` the byte strings of the non-special
  tokens, a ``Guide`` per instance (``write_mask_into`` / ``advance``; accepting =
  ``is_finished()``).

For a peer, any exception while compiling counts as a compile error (their errors are not
typed enough to tell a refusal from a bug); an exception while matching is a crash.

Isolation: each engine runs in its own subprocess (this script with ``--engine NAME --json
FILE``), single-threaded (``OMP_NUM_THREADS=1`` etc.). After its warm-up, every child freezes
its start-up heap (``gc.freeze()``), as a long-running server would: Python's full garbage
collections then skip the interpreter's, the tokenizer's and the engine's imported modules,
which would otherwise cost 100-300 ms each inside whatever token triggers one. The child
writes one JSON line per event (``ready``, and per schema ``start`` / ``compiled`` /
``checking`` / ``done``) and flushes. A
``SIGALRM`` timer in the child enforces the budgets while Python code runs; the parent watches
the events and kills a child that overruns a phase by more than ``WATCHDOG_GRACE_S`` (native
code cannot be interrupted by the timer), that grows past ``--memory-limit-gb``, or that dies
(segfault, abort). The schema in flight is recorded as a timeout (overrun) or a crash (death,
memory), and a new child resumes at the next schema. Peak memory is the peak RSS of the
engine's children (``wait4``), so it includes the Python interpreter, the tokenizer and
whatever each engine imports (torch for xgrammar). Memory per compiled schema is what the
engine reports a compiled schema holds once its instances are walked (ours and xgrammar;
llguidance and outlines-core report none).

    python benchmarks/maskbench.py --subsets Github_trivial,Glaiveai2K --progress \\
        [--engines ours,llguidance,xgrammar,outlines] [--limit N] [--json out.json]
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import importlib.metadata
import json
import os
import platform
import re
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jsonschema  # noqa: E402
from common import load_hf_tokenizer  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "jsonschemabench"
TOKENIZERS = ROOT.parent / "shared" / "tokenizers"
ENGINES = ("ours", "llguidance", "xgrammar", "outlines")
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
OUTLINES_WHITESPACE = r"[ ]?"  # admits the ", " and ": " separators of json.dumps
# Warm-up (not timed, every engine alike): compile a small schema and feed one document,
# so that JIT code (ours: numba kernels loaded from their disk cache) and lazy
# initialisation are not charged to the first real schema. Ours calls
# grammar_engine.warm_up() first, as a server would at start-up.
WARMUP_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["a", "b"],
    "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "number"}},
                   "c": {"enum": ["x", 1, None]}, "d": {"type": "string", "maxLength": 3000}},
}
# A long bounded string too, so that the kernels its token tables use are loaded here.
WARMUP_TEXT = '{"a": "x y\\n", "b": [1, -2.5e3], "c": null, "d": "' + "lorem ipsum " * 20 + '"}'
WATCHDOG_GRACE_S = 15.0  # the parent kills a child this long after a phase's budget
SETUP_BUDGET_S = 900.0  # tokenizer / vocabulary preparation and warm-up of one child
POLL_S = 0.05
MAX_EXAMPLES = 3  # false negatives / positives kept per schema, with their reason
PACKAGES = ("grammar-engine", "llguidance", "xgrammar", "outlines-core", "transformers",
            "tokenizers", "jsonschema", "numpy", "numba", "torch")


class Timeout(BaseException):
    """Raised by the SIGALRM handler; a BaseException so that no ``except Exception`` eats it."""


class CompileRejected(Exception):
    """The engine refused the schema: a compile error, as opposed to a crash."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise Timeout()


def _arm(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


def _first_line(text: str, limit: int = 200) -> str:
    """The first non-blank line of ``text``, cut at ``limit`` characters."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return (lines[0] if lines else "")[:limit]


# ============================================================================================
# Data
# ============================================================================================


def load_rows(subsets: list[str] | None, limit: int | None, every: int = 1,
              data: Path = DATA) -> list[dict[str, Any]]:
    """The schemas that have tests, in file order (``--subsets`` are file stems); with
    ``every``, each subset's every ``every``-th of them (its first, then ...)."""
    files = sorted(data.glob("*.jsonl")) + sorted((data / "maskbench_extra").glob("*.jsonl"))
    if subsets:
        missing = set(subsets) - {f.stem for f in files}
        if missing:
            sys.exit(f"unknown subsets: {', '.join(sorted(missing))}")
    rows = []
    for f in files:
        if subsets and f.stem not in subsets:
            continue
        with_tests = [row for row in map(json.loads, f.read_text(encoding="utf-8").splitlines())
                      if row.get("tests")]
        rows.extend(with_tests[::every])
    return rows[:limit] if limit else rows


# ============================================================================================
# The ratchet of tests/test_maskbench_slice.py: a slice of the schemas, ours' verdict on each
# (``--write-baseline``; the file records the command that wrote it)
# ============================================================================================

@dataclass
class Ratchet:
    """A run's records against a baseline of ``{schema id: status}``."""

    lost_passes: list[tuple[str, str, str]]  # (id, baseline status, status now)
    improvements: list[tuple[str, str, str]]
    not_in_baseline: list[str]
    # Never allowed, whatever the baseline says: schemas with false positives, with
    # accepted documents jsonschema rejects, with a token the mask and consume disagree
    # on, or that crashed or ran out of time.
    broken: list[str]


def compare_baseline(records: Sequence[dict[str, Any]], baseline: dict[str, str]) -> Ratchet:
    """How ``records`` (``run_schema``'s, one per schema) stand against ``baseline``."""
    out = Ratchet([], [], [], [])
    for rec in records:
        key, now = rec["id"], rec["status"]
        was = baseline.get(key)
        problems = [f"{n} {what}" for n, what in (
            (rec.get("fp", 0), "false positives"),
            (rec.get("unsound", 0), "accepted documents jsonschema rejects"),
            (rec.get("disagreements", 0), "tokens where mask and consume disagree"),
        ) if n]
        if now in ("crash", "timeout"):
            problems.append(f"{now}: {rec.get('error', '')}")
        if problems:
            out.broken.append(f"{key}: " + "; ".join(problems))
        if was is None:
            out.not_in_baseline.append(key)
        elif was == "pass" and now != "pass":
            out.lost_passes.append((key, was, now))
        elif was != "pass" and now == "pass":
            out.improvements.append((key, was, now))
    return out


def jsonschema_valid(schema: Any, text: str) -> bool | None:
    """``jsonschema``'s verdict on ``text`` (exact decimals), None when it cannot decide."""
    try:
        exact_schema = json.loads(json.dumps(schema), parse_float=Decimal)
        instance = json.loads(text, parse_float=Decimal)
        cls = jsonschema.validators.validator_for(exact_schema,
                                                  default=jsonschema.Draft202012Validator)
        return bool(cls(exact_schema, format_checker=cls.FORMAT_CHECKER).is_valid(instance))
    except Exception:
        return None  # the validator itself cannot decide (bad $ref, ...)


# ============================================================================================
# Engines (child side): one adapter per engine, each imported only in its own process
# ============================================================================================


@dataclass
class Engine:
    """What the benchmark needs from an engine; every callable is the engine's public API."""

    name: str
    vocab_size: int
    eos_id: int
    compile: Callable[[Any], Any]  # schema -> compiled; raises CompileRejected
    new_matcher: Callable[[Any], Any]  # compiled -> fresh matcher
    fill: Callable[[Any], Any]  # matcher -> None; fills the engine's own bitmask
    consume: Callable[[Any, int], bool]  # (matcher, id) -> consumed
    accepting: Callable[[Any], bool]  # matcher -> complete document (EOS allowed)
    bits: np.ndarray  # int32 view of the bitmask, shape (1, ceil(V / 32))
    info: dict[str, Any] = field(default_factory=dict)
    # compiled -> bytes it holds (after its instances), where the engine reports it
    memory: Callable[[Any], int | None] = lambda compiled: None


def _engine_ours(folder: Path, hf_tok: Any, compile_budget: float = 30.0) -> Engine:
    import grammar_engine as ge

    vocab = ge.Vocabulary.from_tokenizer_json(folder)
    bm = ge.allocate_token_bitmask(1, vocab.size)
    limits = ge.Limits(compile_time_budget=0.6 * compile_budget,
                       mask_time_budget=0.3 * compile_budget)

    def compile_schema(schema: Any) -> Any:
        try:
            return ge.compile_json_schema(schema, vocab, cache=False, limits=limits)
        except ge.GrammarEngineError as e:
            raise CompileRejected(f"{type(e).__name__}: {e}") from e

    return Engine(
        name="ours", vocab_size=vocab.size, eos_id=int(vocab.eos_token_ids[0]),
        compile=compile_schema, new_matcher=ge.Matcher,
        fill=lambda m: m.fill_next_token_bitmask(bm),
        consume=lambda m, t: bool(m.consume_token(t)),
        accepting=lambda m: bool(m.is_accepting()),
        bits=np.asarray(bm), info={"eos_ids": [int(e) for e in vocab.eos_token_ids]},
        memory=lambda compiled: int(compiled.nbytes),
    )


def _engine_llguidance(folder: Path, hf_tok: Any) -> Engine:
    import llguidance
    import llguidance.hf
    import llguidance.numpy as llnp

    lltok = llguidance.hf.from_tokenizer(hf_tok)
    bm = llnp.allocate_token_bitmask(1, lltok.vocab_size)

    def compile_schema(schema: Any) -> Any:
        try:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(
                schema, defaults={"whitespace_flexible": True})
        except Exception as e:
            raise CompileRejected(f"{type(e).__name__}: {e}") from e
        matcher = llguidance.LLMatcher(lltok, grammar, log_level=0)
        if matcher.is_error():
            raise CompileRejected(matcher.get_error())
        return matcher

    return Engine(
        name="llguidance", vocab_size=lltok.vocab_size, eos_id=int(hf_tok.eos_token_id),
        compile=compile_schema, new_matcher=lambda proto: proto.deep_copy(),
        fill=lambda m: llnp.fill_next_token_bitmask(m, bm, 0),
        consume=lambda m, t: bool(m.consume_token(t)),
        accepting=lambda m: bool(m.is_accepting()) and not m.is_error(),
        bits=bm, info={"eos_ids": list(lltok.eos_tokens)},
    )


def _engine_xgrammar(folder: Path, hf_tok: Any) -> Engine:
    import xgrammar as xgr

    eos = int(hf_tok.eos_token_id)
    info = xgr.TokenizerInfo.from_huggingface(hf_tok, vocab_size=len(hf_tok),
                                              stop_token_ids=[eos])
    compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    bm = xgr.allocate_token_bitmask(1, info.vocab_size)

    def compile_schema(schema: Any) -> Any:
        try:
            return compiler.compile_json_schema(json.dumps(schema), any_whitespace=True,
                                                strict_mode=False)
        except Exception as e:
            raise CompileRejected(f"{type(e).__name__}: {e}") from e

    return Engine(
        name="xgrammar", vocab_size=info.vocab_size, eos_id=eos,
        compile=compile_schema, new_matcher=xgr.GrammarMatcher,
        fill=lambda m: m.fill_next_token_bitmask(bm),
        consume=lambda m, t: bool(m.accept_token(t)),
        accepting=lambda m: bool(m.accept_token(eos)) and bool(m.is_terminated()),
        bits=bm.numpy(), info={"eos_ids": list(info.stop_token_ids)},
        memory=lambda compiled: int(compiled.memory_size_bytes),
    )


def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's ``bytes_to_unicode``: byte-level BPE token characters -> bytes."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
          *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _engine_outlines(folder: Path, hf_tok: Any) -> Engine:
    import outlines_core as oc
    from outlines_core.json_schema import build_regex_from_schema

    eos = int(hf_tok.eos_token_id)
    special = set(hf_tok.all_special_ids) | set(hf_tok.added_tokens_decoder)
    decoder = _byte_decoder()
    token_map: dict[bytes, list[int]] = {}
    for token, tid in hf_tok.get_vocab().items():
        if tid not in special:
            token_map.setdefault(bytes(decoder[c] for c in token), []).append(tid)
    vocabulary = oc.Vocabulary(eos, token_map)
    vocab_size = len(hf_tok)
    mask = np.zeros((1, (vocab_size + 31) // 32), dtype=np.int32)
    ptr, numel = mask.ctypes.data, mask.size

    def compile_schema(schema: Any) -> Any:
        try:
            return oc.Index(build_regex_from_schema(json.dumps(schema), OUTLINES_WHITESPACE),
                            vocabulary)
        except Exception as e:
            raise CompileRejected(f"{type(e).__name__}: {e}") from e

    def consume(guide: Any, tid: int) -> bool:
        try:
            guide.advance(tid, return_tokens=False)
        except ValueError:  # "No next state found ...": the token is rejected
            return False
        return True

    return Engine(
        name="outlines", vocab_size=vocab_size, eos_id=eos,
        compile=compile_schema, new_matcher=oc.Guide,
        fill=lambda g: g.write_mask_into(ptr, numel, 4),
        consume=consume, accepting=lambda g: bool(g.is_finished()),
        bits=mask, info={"eos_ids": [eos], "tokens_in_map": sum(map(len, token_map.values()))},
    )


MAKERS: dict[str, Callable[[Path, Any], Engine]] = {
    "ours": _engine_ours, "llguidance": _engine_llguidance,
    "xgrammar": _engine_xgrammar, "outlines": _engine_outlines,
}


# ============================================================================================
# Child: run the protocol for one engine, one JSON line per event
# ============================================================================================


def _allowed(bits: np.ndarray, tid: int) -> bool:
    """Whether token ``tid`` is set in row 0 of an int32 bitmask."""
    return bool((int(bits[0, tid >> 5]) >> (tid & 31)) & 1)


def run_schema(eng: Engine, hf_tok: Any, row: dict[str, Any], i: int, args: argparse.Namespace,
               emit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Run the protocol on one schema; the record of the ``done`` event (minus ``event``)."""
    schema = row["schema"]
    rec: dict[str, Any] = {"i": i, "id": row["id"], "fn": 0, "fp": 0, "unsound": 0,
                           "disagreements": 0, "tbm_ns": []}
    gc.collect()
    # --- 1. TTFM: compile + matcher + first mask --------------------------------------
    try:
        _arm(args.compile_budget)
        t0 = time.perf_counter_ns()
        compiled = eng.compile(schema)
        eng.fill(eng.new_matcher(compiled))
        ttfm_ns = time.perf_counter_ns() - t0
        _disarm()
    except Timeout:
        _disarm()
        return rec | {"status": "timeout", "phase": "compile",
                      "error": f"compile + first mask over {args.compile_budget:g} s"}
    except CompileRejected as e:
        _disarm()
        return rec | {"status": "compile_error", "error": _first_line(str(e))}
    except Exception as e:
        _disarm()
        return rec | {"status": "crash", "phase": "compile",
                      "error": f"{type(e).__name__}: {_first_line(str(e))}",
                      "traceback": traceback.format_exc()[-2000:]}
    rec["ttfm_s"] = ttfm_ns / 1e9

    # --- 2. every instance, token by token --------------------------------------------
    emit({"event": "compiled", "i": i})
    clock = time.perf_counter_ns
    fill, consume, bits, tbm = eng.fill, eng.consume, eng.bits, rec["tbm_ns"]
    accepted_texts: list[tuple[str, dict[str, Any]]] = []
    fn_examples: list[dict[str, Any]] = []
    fp_examples: list[dict[str, Any]] = []
    status = None
    try:
        _arm(args.instance_budget)
        for k, test in enumerate(row["tests"]):
            text = json.dumps(test["data"], ensure_ascii=False)
            ids = hf_tok.encode(text, add_special_tokens=False)
            m = eng.new_matcher(compiled)
            reason = None
            for pos, tid in enumerate(ids):
                t0 = clock()
                fill(m)
                t1 = clock()
                allowed = _allowed(bits, tid)
                t2 = clock()
                ok = consume(m, tid)
                t3 = clock()
                tbm.append(t1 - t0 + t3 - t2)
                if allowed != ok:
                    rec["disagreements"] += 1
                if not ok:
                    reason = (f"token {pos} {hf_tok.decode([tid])!r} rejected after "
                              f"{hf_tok.decode(ids[:pos])[-80:]!r}")
                    break
            else:
                if not eng.accepting(m):
                    reason = "every token consumed, but not accepting at the end"
            if reason is None:
                accepted_texts.append((text, test))
            if test["valid"] and reason is not None:
                rec["fn"] += 1
                if len(fn_examples) < MAX_EXAMPLES:
                    fn_examples.append({"test": k, "text": text[:300], "reason": reason})
            elif not test["valid"] and reason is None:
                rec["fp"] += 1
                if len(fp_examples) < MAX_EXAMPLES:
                    why = test.get("python_error") or test.get("description") or ""
                    fp_examples.append({"test": k, "text": text[:300],
                                        "reason": "accepted; invalid because: "
                                                  + _first_line(why)})
        _disarm()
    except Timeout:
        _disarm()
        status = "timeout"
        rec["phase"] = "instances"
        rec["error"] = f"instances over {args.instance_budget:g} s"
    except Exception as e:
        _disarm()
        status = "crash"
        rec["phase"] = "instances"
        rec["error"] = f"{type(e).__name__}: {_first_line(str(e))}"
        rec["traceback"] = traceback.format_exc()[-2000:]
    rec["fn_examples"], rec["fp_examples"] = fn_examples, fp_examples
    try:  # what the compiled schema holds now, its instances walked (not timed)
        rec["mem_bytes"] = eng.memory(compiled)
    except Exception as e:
        rec["mem_error"] = f"{type(e).__name__}: {_first_line(str(e))}"

    # --- 3. soundness: jsonschema on every accepted document (not an engine cost) ------
    emit({"event": "checking", "i": i})
    unsound: list[dict[str, Any]] = []
    try:
        _arm(args.instance_budget)
        for text, test in accepted_texts:
            if jsonschema_valid(schema, text) is False:
                rec["unsound"] += 1
                if len(unsound) < MAX_EXAMPLES:
                    unsound.append({"text": text[:300], "label_valid": test["valid"]})
        _disarm()
    except Timeout:
        _disarm()
        rec["jsonschema_timeout"] = True
    rec["unsound_examples"] = unsound
    if status is None:
        status = "fail" if rec["fn"] or rec["fp"] else "pass"
    rec["status"] = status
    return rec


def worker(args: argparse.Namespace) -> None:
    """Child mode: one engine, schemas ``args.start`` onwards, JSON lines to ``args.json``."""
    if any(os.environ.get(k) != v for k, v in THREAD_ENV.items()):  # run directly: pin threads
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **THREAD_ENV})
    faulthandler.enable()  # a segfault leaves a Python stack in stderr for the parent
    signal.signal(signal.SIGALRM, _alarm)
    rows = load_rows(args.subsets.split(",") if args.subsets else None, args.limit,
                     args.every)
    folder = TOKENIZERS / args.tokenizer
    with open(args.json, "a", encoding="utf-8") as out:

        def emit(obj: dict[str, Any]) -> None:
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
            out.flush()

        t0 = time.perf_counter()
        hf_tok = load_hf_tokenizer(folder)
        hf_load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if args.engine == "ours":
            eng = _engine_ours(folder, hf_tok, args.compile_budget)
        else:
            eng = MAKERS[args.engine](folder, hf_tok)
        prep_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if args.engine == "ours":  # what a server does at start-up: load every kernel
            import grammar_engine as ge
            ge.warm_up()
        warm = eng.new_matcher(eng.compile(WARMUP_SCHEMA))  # JIT, lazy init: not charged
        for tid in hf_tok.encode(WARMUP_TEXT, add_special_tokens=False):
            eng.fill(warm)
            eng.consume(warm, tid)
        eng.fill(warm)
        del warm
        gc.collect()
        gc.freeze()  # the start-up heap, out of every later collection (see the docstring)
        warmup_s = time.perf_counter() - t0
        emit({"event": "ready", "pid": os.getpid(), "hf_load_s": hf_load_s,
              "prep_s": prep_s, "warmup_s": warmup_s, "vocab_size": eng.vocab_size,
              "eos_id": eng.eos_id, **eng.info})
        for i in range(args.start, len(rows)):
            emit({"event": "start", "i": i})
            try:
                rec = run_schema(eng, hf_tok, rows[i], i, args, emit)
            except Timeout:  # the timer fired between two guarded regions
                rec = {"i": i, "id": rows[i]["id"], "status": "timeout", "phase": "unknown",
                       "error": "budget exceeded", "tbm_ns": []}
            rec["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            emit({"event": "done", **rec})


# ============================================================================================
# Parent: one child per engine, a watchdog, restarts after a crash or a hang
# ============================================================================================


@dataclass
class EngineRun:
    """Everything the parent learned about one engine."""

    engine: str
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    peak_rss_kb: int = 0
    launches: int = 0
    wall_s: float = 0.0
    fatal: str | None = None


def _child_rss_kb(pid: int) -> int:
    """Current RSS of process ``pid`` in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tail(path: Path, n: int = 12) -> str:
    """The last ``n`` lines of a child's stderr file."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _death_reason(status: int, err_path: Path) -> str:
    """Signal or exit code of a dead child, and the most telling line of its stderr."""
    if os.WIFSIGNALED(status):
        what = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        what = f"exited with code {os.WEXITSTATUS(status)}"
    tail = _tail(err_path, 40).splitlines()
    telling = [ln for ln in tail if re.search(r"Fatal Python error|Error|error:|terminate|"
                                              r"what\(\)|panicked|Aborted", ln)]
    return what + (f": {telling[0].strip()[:200]}" if telling else "")


def run_engine(engine: str, args: argparse.Namespace, rows: Sequence[dict[str, Any]],
               workdir: Path) -> EngineRun:
    """Run one engine over ``rows`` in as many children as crashes and hangs require."""
    run = EngineRun(engine)
    budgets = {"compile": args.compile_budget, "compiled": args.instance_budget,
               "checking": args.instance_budget}
    passthrough = ["--tokenizer", args.tokenizer, "--compile-budget", str(args.compile_budget),
                   "--instance-budget", str(args.instance_budget)]
    if args.subsets:
        passthrough += ["--subsets", args.subsets]
    if args.limit:
        passthrough += ["--limit", str(args.limit)]
    if args.every != 1:
        passthrough += ["--every", str(args.every)]
    t_engine = time.monotonic()
    start = 0
    while start < len(rows):
        run.launches += 1
        out_path = workdir / f"{engine}.{run.launches}.jsonl"
        err_path = workdir / f"{engine}.{run.launches}.stderr"
        out_path.touch()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--engine", engine,
               "--json", str(out_path), "--start", str(start), *passthrough]
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                    env={**os.environ, **THREAD_ENV}, cwd=str(ROOT))
        ready = False
        current: int | None = None  # schema in flight
        phase, phase_t0 = "setup", time.monotonic()
        last_done = start - 1
        killed: str | None = None  # why the parent killed the child
        buf = ""
        with open(out_path, encoding="utf-8") as reader:
            while True:
                exited = os.wait4(proc.pid, os.WNOHANG)
                buf += reader.read()
                *lines, buf = buf.split("\n")
                for line in lines:
                    ev = json.loads(line)
                    kind = ev.pop("event")
                    if kind == "ready":
                        ready = True
                        if not run.setup:
                            run.setup = ev
                    elif kind == "start":
                        current, phase = ev["i"], "compile"
                    elif kind in ("compiled", "checking"):
                        phase = kind
                    elif kind == "done":
                        run.records[ev["i"]] = ev
                        last_done, current, phase = ev["i"], None, "between"
                        _progress(args, engine, ev, len(rows))
                    phase_t0 = time.monotonic()
                if exited[0]:
                    status, usage = exited[1], exited[2]
                    break
                elapsed = time.monotonic() - phase_t0
                limit = SETUP_BUDGET_S if phase == "setup" else (
                    budgets.get(phase, 0.0) + WATCHDOG_GRACE_S)
                rss = _child_rss_kb(proc.pid)
                if killed is None and elapsed > limit:
                    killed = f"no answer {elapsed:.0f} s into phase '{phase}'; killed"
                    proc.kill()
                elif killed is None and rss > args.memory_limit_gb * 2**20:
                    killed = f"RSS {rss / 2**20:.1f} GB over --memory-limit-gb; killed"
                    proc.kill()
                time.sleep(POLL_S)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4 already
        run.peak_rss_kb = max(run.peak_rss_kb, usage.ru_maxrss)
        if not ready:
            run.fatal = (killed or _death_reason(status, err_path)) + "\n" + _tail(err_path)
            for i in range(start, len(rows)):
                run.records[i] = {"i": i, "id": rows[i]["id"], "status": "crash",
                                  "phase": "setup", "error": "engine setup failed",
                                  "tbm_ns": []}
            break
        if current is not None:
            hang = killed is not None and "RSS" not in killed
            rec = {"i": current, "id": rows[current]["id"], "phase": phase, "tbm_ns": [],
                   "status": "timeout" if hang else "crash",
                   "error": killed or _death_reason(status, err_path),
                   "stderr_tail": _tail(err_path)}
            run.records[current] = rec
            _progress(args, engine, rec, len(rows))
            start = current + 1
        elif last_done + 1 >= len(rows):
            break
        else:  # died between two schemas
            start = last_done + 1
    run.wall_s = time.monotonic() - t_engine
    return run


def _progress(args: argparse.Namespace, engine: str, rec: dict[str, Any], total: int) -> None:
    """With ``--progress``: every crash and timeout, and a line every 200 schemas."""
    if not args.progress:
        return
    i = rec["i"]
    if rec["status"] in ("crash", "timeout"):
        print(f"  [{engine}] {i + 1}/{total} {rec['id']}: {rec['status']} "
              f"({rec.get('phase')}): {_first_line(rec.get('error', ''), 150)}",
              file=sys.stderr, flush=True)
    elif (i + 1) % 200 == 0 or i + 1 == total:
        print(f"  [{engine}] {i + 1}/{total}", file=sys.stderr, flush=True)


# ============================================================================================
# Aggregation and report
# ============================================================================================

TBM_QUANTILES = (25, 50, 75, 90, 99, 99.9)
TTFM_QUANTILES = (50, 90, 99)


def summarize(run: EngineRun, ids: set[int] | None = None) -> dict[str, Any]:
    """Counts and percentiles over the schemas of ``run`` (restricted to ``ids`` if given)."""
    recs = [r for i, r in sorted(run.records.items()) if ids is None or i in ids]
    st = Counter(r["status"] for r in recs)
    tbm = np.fromiter((t for r in recs for t in r.get("tbm_ns", ())), dtype=np.float64) / 1e3
    ttfm = np.array([r["ttfm_s"] for r in recs if "ttfm_s" in r], dtype=np.float64) * 1e3
    mem = np.array([r["mem_bytes"] for r in recs if r.get("mem_bytes") is not None],
                   dtype=np.float64) / 1024

    def pcts(a: np.ndarray, qs: Sequence[float]) -> dict[str, float]:
        out = {f"p{q:g}": float(np.percentile(a, q)) if len(a) else float("nan") for q in qs}
        out["max"] = float(a.max()) if len(a) else float("nan")
        return out

    return {
        "schemas": len(recs), "passing": st["pass"], "compile_errors": st["compile_error"],
        "false_negatives": sum(r.get("fn", 0) for r in recs),
        "fn_schemas": sum(1 for r in recs if r.get("fn")),
        "false_positives": sum(r.get("fp", 0) for r in recs),
        "fp_schemas": sum(1 for r in recs if r.get("fp")),
        "accepted_but_jsonschema_invalid": sum(r.get("unsound", 0) for r in recs),
        "unsound_schemas": sum(1 for r in recs if r.get("unsound")),
        "timeouts": st["timeout"], "crashes": st["crash"],
        "mask_consume_disagreements": sum(r.get("disagreements", 0) for r in recs),
        "tokens": len(tbm), "compiled": len(ttfm),
        "tbm_us": pcts(tbm, TBM_QUANTILES), "ttfm_ms": pcts(ttfm, TTFM_QUANTILES),
        "memory_kb": pcts(mem, TTFM_QUANTILES) if len(mem) else None,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    """Hardware, OS, Python and package versions (without importing the engines)."""
    versions: dict[str, str] = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
            if pkg == "grammar-engine":
                init = (ROOT / "grammar_engine" / "__init__.py").read_text(encoding="utf-8")
                found = re.search(r'__version__ = "([^"]+)"', init)
                versions[pkg] = f"{found.group(1)} (source tree)" if found else "source tree"
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    formats = sorted(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)
    return {"cpu": _cpu_model(), "logical_cpus": os.cpu_count(), "jsonschema_formats": formats,
            "usable_cpus": len(os.sched_getaffinity(0)), "mem_gb": mem_gb,
            "os": platform.platform(), "python": sys.version.split()[0],
            "versions": versions, "loadavg_start": os.getloadavg()}


def _fmt(x: float, digits: int = 1) -> str:
    """A table cell: ``-`` for NaN, thousands separators from 1,000 on."""
    if x != x:  # NaN
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}f}"


def _fmt_ratio(r: float) -> str:
    """Two significant digits below 1 (``0.0061×``), two decimals up to 10, then one."""
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"


def print_report(runs: dict[str, EngineRun], env: dict[str, Any], command: str,
                 wall_s: float, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Print both tables and the per-engine details; return the summaries for ``--json``."""
    print("# MaskBench\n")
    print(f"Command: `{command}`  ")
    print(f"Machine: {env['cpu']}, {env['usable_cpus']}/{env['logical_cpus']} usable CPUs, "
          f"{env['mem_gb']} GB, {env['os']}, Python {env['python']}; load average "
          f"{'/'.join(f'{x:.1f}' for x in env['loadavg_start'])} at start, "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} at end  ")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + "  ")
    print("Formats the jsonschema soundness check asserts: "
          + ", ".join(env["jsonschema_formats"]) + " (others need optional packages)  ")
    print(f"Budgets: compile + first mask {env['budgets'][0]:g} s, instances "
          f"{env['budgets'][1]:g} s per schema (the parent kills a child "
          f"{WATCHDOG_GRACE_S:g} s past a budget); ours' own Limits: compile_time_budget "
          f"{0.6 * env['budgets'][0]:g} s, mask_time_budget {0.3 * env['budgets'][0]:g} s  ")
    subsets = Counter(r["id"].split("---")[0] for r in rows)
    print(f"Schemas: {len(rows)} with tests ("
          + ", ".join(f"{k} {v}" for k, v in subsets.items())
          + f"); wall time {wall_s / 60:.1f} min; threads pinned to 1; one process per engine\n")
    engines = list(runs)
    full = {e: summarize(runs[e]) for e in engines}

    print("## All schemas\n")
    print("false neg. / false pos. / accepted-but-invalid: instances (schemas). "
          "accepted-but-invalid = accepted and rejected by `jsonschema` (exact decimals), "
          "whatever the label.\n")
    print("| engine | schemas | passing | compile errors | false neg. | false pos. | "
          "accepted but jsonschema-invalid | timeouts | crashes | mask/consume disagree |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for e in engines:
        s = full[e]
        print(f"| {e} | {s['schemas']} | {s['passing']} | {s['compile_errors']} | "
              f"{s['false_negatives']} ({s['fn_schemas']}) | "
              f"{s['false_positives']} ({s['fp_schemas']}) | "
              f"{s['accepted_but_jsonschema_invalid']} ({s['unsound_schemas']}) | "
              f"{s['timeouts']} | {s['crashes']} | {s['mask_consume_disagreements']} |")
    print()
    print("| engine | tokens | TBM p25 | p50 | p75 | p90 | p99 | p99.9 | max (µs) | "
          "compiled | TTFM p50 | p90 | p99 | max (ms) | peak RSS (MB) | children | "
          "prep + warm-up (s) | wall (min) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
          "---:|---:|")
    for e in engines:
        s, r = full[e], runs[e]
        tb, tf = s["tbm_us"], s["ttfm_ms"]
        setup = r.setup.get("prep_s", float("nan")) + r.setup.get("warmup_s", float("nan"))
        print(f"| {e} | {s['tokens']:,} | "
              + " | ".join(_fmt(tb[k]) for k in ("p25", "p50", "p75", "p90", "p99", "p99.9",
                                                 "max"))
              + f" | {s['compiled']} | "
              + " | ".join(_fmt(tf[k]) for k in ("p50", "p90", "p99", "max"))
              + f" | {r.peak_rss_kb / 1024:,.0f} | {r.launches} | {_fmt(setup, 2)} | "
                f"{r.wall_s / 60:.1f} |")

    print("\nMemory per compiled schema (KiB), after its instances, where the engine "
          "reports it (ours: `CompiledGrammar.nbytes`, its automata, parse table, lexer "
          "rows and the token tables built, a table shared with other schemas counted in "
          "each; xgrammar: `memory_size_bytes`; llguidance and outlines-core: not "
          "reported):\n")
    print("| engine | schemas | p50 | p90 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for e in engines:
        mk = full[e]["memory_kb"]
        if mk is None:
            print(f"| {e} | - | - | - | - | - |")
        else:
            n_mem = sum(1 for rec in runs[e].records.values()
                        if rec.get("mem_bytes") is not None)
            print(f"| {e} | {n_mem} | "
                  + " | ".join(_fmt(mk[k]) for k in ("p50", "p90", "p99", "max")) + " |")

    common = set(range(len(rows)))
    for e in engines:
        common &= {i for i, rec in runs[e].records.items() if "ttfm_s" in rec}
    sub = {e: summarize(runs[e], common) for e in engines}
    print(f"\n## Schemas every engine compiled ({len(common)} of {len(rows)})\n")
    base = "ours" if "ours" in engines else engines[0]
    print(f"Each time is followed by its ratio to {base} (engine / {base}: "
          f"> 1 means {base} is faster).\n")
    print("| engine | passing | false neg. | false pos. | accepted but jsonschema-invalid | "
          "tokens | TBM p50 | p90 | p99 | p99.9 | max (µs) | TTFM p50 | p90 | p99 | max (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for e in engines:
        s, b = sub[e], sub[base]

        def cell(kind: str, key: str, s: dict[str, Any] = s, b: dict[str, Any] = b) -> str:
            v, ref = s[kind][key], b[kind][key]
            ratio = v / ref if ref and ref == ref and v == v else float("nan")
            return _fmt(v) + (f" ({_fmt_ratio(ratio)})" if ratio == ratio else "")

        print(f"| {e} | {s['passing']} | {s['false_negatives']} | {s['false_positives']} | "
              f"{s['accepted_but_jsonschema_invalid']} | {s['tokens']:,} | "
              + " | ".join(cell("tbm_us", k) for k in ("p50", "p90", "p99", "p99.9", "max"))
              + " | "
              + " | ".join(cell("ttfm_ms", k) for k in ("p50", "p90", "p99", "max")) + " |")

    for e in engines:
        _print_details(runs[e], full_list=e == "ours")
    return {"full": full, "common": sub, "common_ids": sorted(rows[i]["id"] for i in common)}


def _print_details(run: EngineRun, full_list: bool) -> None:
    """Compile errors, crashes, timeouts, and (for ours, all of) the failing schemas."""
    recs = [r for _, r in sorted(run.records.items())]
    print(f"\n## {run.engine}: details\n")
    if run.fatal:
        print(f"Engine setup failed:\n```\n{run.fatal}\n```")
    errors = Counter(r.get("error", "")[:110] for r in recs if r["status"] == "compile_error")
    if errors:
        print("Most common compile errors:")
        for msg, k in errors.most_common(12):
            print(f"  {k:5d}  {msg}")
    cap = None if full_list else 25
    for status in ("crash", "timeout"):
        bad = [r for r in recs if r["status"] == status]
        if bad:
            print(f"\n{status}es ({len(bad)}):" if status == "crash" else
                  f"\n{status}s ({len(bad)}):")
            for r in bad[:cap]:
                print(f"  {r['id']} [{r.get('phase')}]: {_first_line(r.get('error', ''), 160)}")
            if cap and len(bad) > cap:
                print(f"  ... {len(bad) - cap} more")
    for key, label in (("fn_examples", "false negatives"), ("fp_examples", "false positives")):
        bad = [r for r in recs if r.get(key)]
        if bad:
            print(f"\nSchemas with {label} ({len(bad)}):")
            for r in bad[:cap]:
                x = r[key][0]
                more = r["fn" if key == "fn_examples" else "fp"]
                print(f"  {r['id']} ({more}): {_first_line(x['reason'], 160)}\n"
                      f"      text: {x['text'][:150]}")
            if cap and len(bad) > cap:
                print(f"  ... {len(bad) - cap} more")
    bad = [r for r in recs if r.get("unsound_examples")]
    if bad:
        print(f"\nSchemas with accepted but jsonschema-invalid documents ({len(bad)}):")
        for r in bad[:cap]:
            x = r["unsound_examples"][0]
            print(f"  {r['id']} ({r['unsound']}; label {'valid' if x['label_valid'] else 'invalid'}"
                  f"): {x['text'][:150]}")
        if cap and len(bad) > cap:
            print(f"  ... {len(bad) - cap} more")


def parent(args: argparse.Namespace) -> None:
    """Run every engine of ``--engines`` in its own children and print the comparison."""
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        sys.exit(f"unknown engines: {', '.join(sorted(unknown))} (known: {', '.join(ENGINES)})")
    if args.write_baseline and "ours" not in engines:
        sys.exit("--write-baseline needs ours among --engines")
    rows = load_rows(args.subsets.split(",") if args.subsets else None, args.limit,
                     args.every)
    env = environment() | {"budgets": (args.compile_budget, args.instance_budget)}
    command = "python " + shlex.join(sys.argv)
    t0 = time.monotonic()
    runs: dict[str, EngineRun] = {}
    with tempfile.TemporaryDirectory(prefix="maskbench-") as tmp:
        for e in engines:
            if args.progress:
                print(f"[{e}] {len(rows)} schemas", file=sys.stderr, flush=True)
            runs[e] = run_engine(e, args, rows, Path(tmp))
    wall = time.monotonic() - t0
    summaries = print_report(runs, env, command, wall, rows)
    if args.json:
        out = {"command": command, "environment": env, "wall_s": wall,
               "budgets": {"compile_s": args.compile_budget, "instances_s": args.instance_budget},
               "summaries": summaries,
               "engines": {e: {"setup": r.setup, "peak_rss_kb": r.peak_rss_kb,
                               "launches": r.launches, "wall_s": r.wall_s, "fatal": r.fatal,
                               "schemas": [{k: v for k, v in rec.items() if k != "tbm_ns"}
                                           | {"tokens": len(rec.get("tbm_ns", ())),
                                              "tbm_sum_us": sum(rec.get("tbm_ns", ())) / 1e3}
                                           for _, rec in sorted(r.records.items())]}
                           for e, r in runs.items()}}
        Path(args.json).write_text(json.dumps(out, indent=1, ensure_ascii=False),
                                   encoding="utf-8")
    if args.write_baseline:
        statuses = {rec["id"]: rec["status"] for _, rec in sorted(runs["ours"].records.items())}
        baseline = {"command": command, "tokenizer": args.tokenizer,
                    "subsets": args.subsets.split(",") if args.subsets else None,
                    "every": args.every, "limit": args.limit, "statuses": statuses}
        Path(args.write_baseline).write_text(json.dumps(baseline, indent=1) + "\n",
                                             encoding="utf-8")
        print(f"wrote {len(statuses)} statuses to {args.write_baseline}", file=sys.stderr)


def main() -> None:
    """Parent mode by default; child mode with ``--engine`` (internal)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subsets", help="comma-separated subset names (file stems)")
    p.add_argument("--limit", type=int, help="first N schemas with tests")
    p.add_argument("--every", type=int, default=1,
                   help="every N-th schema with tests of each subset (a slice)")
    p.add_argument("--write-baseline", metavar="FILE",
                   help="write ours' status per schema here (the ratchet of "
                        "tests/test_maskbench_slice.py; needs --engines with ours)")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help=f"comma-separated, from {','.join(ENGINES)} (default: all)")
    p.add_argument("--tokenizer", default="llama3", help="folder in ../shared/tokenizers")
    p.add_argument("--compile-budget", type=float, default=30.0,
                   help="seconds for compile + first mask of one schema")
    p.add_argument("--instance-budget", type=float, default=60.0,
                   help="seconds for all instances of one schema")
    p.add_argument("--memory-limit-gb", type=float, default=8.0,
                   help="the parent kills a child whose RSS grows past this (a crash)")
    p.add_argument("--json", help="write the raw results here (child mode: the event stream)")
    p.add_argument("--progress", action="store_true", help="progress, crashes on stderr")
    p.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)  # child mode
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)  # child mode
    args = p.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: MaskBench needs ../shared/data/jsonschemabench")
    if args.engine:
        if not args.json:
            sys.exit("--engine (child mode) needs --json FILE")
        worker(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
