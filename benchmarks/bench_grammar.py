"""Benchmark grammar-engine against llguidance and xgrammar on the shared test grammars.

For every tokenizer and engine a fresh Python process (``subprocess``, JSON back on stdout,
threads pinned to 1) measures, once per process:

* **prep** -- vocabulary / tokenizer preparation: ``Vocabulary.from_tokenizer_json`` (ours),
  ``llguidance.hf.from_tokenizer`` (llguidance), ``xgr.TokenizerInfo.from_huggingface``
  (xgrammar). Loading the Hugging Face tokenizer itself is not included (raw JSON:
  ``hf_load_s``);
* **warm-up** -- the very first compile + first mask in the process, on a tiny unrelated
  grammar (``start: "a"``), so that JIT compilation (ours: numba) is not charged to the
  first real grammar; ours also calls ``grammar_engine.warm_up()`` here, as a server would
  at start-up (it loads every kernel over a synthetic vocabulary of its own, and builds
  nothing for the measured grammars or vocabulary); then the worker freezes its start-up
  heap (``gc.freeze()``), as a long-running server would, so that Python's full garbage
  collections skip the imported modules (as in ``benchmarks/maskbench.py``);

and then, for every grammar of ``tests.grammars.ALL``:

* **compile** -- ours: ``compile_grammar(text, vocab, cache=False)``, which builds some
  token tables and the first parser configurations' masks ahead of time
  (``GrammarRuntime.prepare``, 15 ms at most; engine ``ours-lazy``, not run by default,
  passes ``eager_tables=False``); llguidance:
  ``LLMatcher.grammar_from_lark(text)`` + ``LLMatcher(tokenizer, grammar)``; xgrammar:
  ``GrammarCompiler(info, max_threads=1, cache_enabled=False).compile_grammar(gbnf)``;
* **first mask** -- a new matcher plus its first ``fill_next_token_bitmask``;
* **per-token time** -- ``fill_next_token_bitmask`` + ``consume_token`` (``accept_token``)
  over the token stream of every sample text of ``tests.grammars.SAMPLES``
  (``hf_tok.encode(text, add_special_tokens=False)``), ``--repeat`` passes, a fresh matcher
  for each sample and pass. The first pass is reported on its own (grammar-engine builds its
  tables lazily, on first visit); the others are pooled as the steady state.

The first pass is also the correctness check: before each token is consumed the mask must
allow it (the check is outside the timed intervals), consuming it must succeed, and at the
end the matcher must accept and its mask must allow EOS. Every failure is counted and
printed. A sample whose token is rejected is left out of the timings (its stream is cut).

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_grammar.py                 # everything (~minutes)
    PYTHONPATH=. python benchmarks/bench_grammar.py --quick         # llama3, one pass
    PYTHONPATH=. python benchmarks/bench_grammar.py --tokenizers qwen3 --grammars json,sql \\
        --engines ours,xgrammar --repeat 5 --json /tmp/bench.json
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_hf_tokenizer  # noqa: E402

TOKENIZERS = ("llama3", "qwen3", "gptoss", "gemma3")
ENGINES = ("ours", "llguidance", "xgrammar")
OPTIONAL_ENGINES = ("ours-lazy",)  # ours with every token table left to the masks
PEERS = ("llguidance", "xgrammar")
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
WARMUP_LARK = 'start: "a"'
WARMUP_GBNF = 'root ::= "a"'
RESULT_MARK = "@@BENCH-RESULT@@ "
PACKAGES = ("grammar-engine", "llguidance", "xgrammar", "transformers", "tokenizers", "torch",
            "numpy", "numba", "lark")


# ============================================================================================
# Worker side: one engine, one tokenizer, one process
# ============================================================================================


@dataclass
class Engine:
    """What the worker needs from an engine (all callables are the engines' public API)."""

    name: str
    vocab_size: int
    eos_ids: list[int]
    compile: Callable[[str], Any]            # grammar text -> compiled handle
    new_matcher: Callable[[Any], Any]        # compiled handle -> fresh matcher
    fill: Callable[[Any, Any], Any]          # (matcher, bitmask) -> None
    consume: Callable[[Any, int], bool]      # (matcher, token id) -> accepted
    accepts_end: Callable[[Any], bool]       # matcher -> complete (may consume EOS)
    bitmask: Any                             # the engine's own bitmask, shape (1, W)
    bits: Any                                # an int32 NumPy view of ``bitmask``
    warnings: Callable[[Any], list[str]] = lambda compiled: []  # grammar warnings, if any


def _tokenizer_folder(tok_dir: Path, name: str) -> Path:
    folder = tok_dir / name
    if not (folder / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer.json in {folder}")
    return folder


def _engine_ours(folder: Path, timings: dict[str, float], eager_tables: bool = True
                 ) -> tuple[Engine, Any]:
    t0 = time.perf_counter()
    import grammar_engine as ge
    from grammar_engine import Matcher, Vocabulary
    timings["import_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    vocab = Vocabulary.from_tokenizer_json(folder)
    timings["prep_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hf_tok = load_hf_tokenizer(folder)
    timings["hf_load_s"] = time.perf_counter() - t0

    bm = ge.allocate_token_bitmask(1, vocab.size)

    def fill(m: Any, b: Any) -> None:
        m.fill_next_token_bitmask(b, 0)

    engine = Engine(
        name="ours" if eager_tables else "ours-lazy", vocab_size=vocab.size,
        eos_ids=list(vocab.eos_token_ids),
        compile=lambda text: ge.compile_grammar(text, vocab, cache=False,
                                                eager_tables=eager_tables),
        new_matcher=Matcher, fill=fill,
        consume=lambda m, t: bool(m.consume_token(t)),
        accepts_end=lambda m: bool(m.is_accepting()),
        bitmask=bm, bits=bm,
    )
    return engine, hf_tok


def _engine_llguidance(folder: Path, timings: dict[str, float]) -> tuple[Engine, Any]:
    t0 = time.perf_counter()
    import llguidance
    import llguidance.hf
    import llguidance.numpy as llnp
    timings["import_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    hf_tok = load_hf_tokenizer(folder)
    timings["hf_load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lltok = llguidance.hf.from_tokenizer(hf_tok)
    timings["prep_s"] = time.perf_counter() - t0

    def compile_lark(text: str) -> Any:
        grammar = llguidance.LLMatcher.grammar_from_lark(text)
        matcher = llguidance.LLMatcher(lltok, grammar, log_level=0)
        if matcher.is_error():
            raise RuntimeError(matcher.get_error())
        return matcher

    bm = llnp.allocate_token_bitmask(1, lltok.vocab_size)
    engine = Engine(
        name="llguidance", vocab_size=lltok.vocab_size, eos_ids=list(lltok.eos_tokens),
        compile=compile_lark,
        new_matcher=lambda proto: proto.deep_copy(),
        fill=lambda m, b: llnp.fill_next_token_bitmask(m, b, 0),
        consume=lambda m, t: bool(m.consume_token(t)),  # False = error state
        accepts_end=lambda m: bool(m.is_accepting()) and not m.is_error(),
        bitmask=bm, bits=bm,
        warnings=lambda proto: list(proto.get_grammar_warnings()),
    )
    return engine, hf_tok


def _engine_xgrammar(folder: Path, timings: dict[str, float]) -> tuple[Engine, Any]:
    t0 = time.perf_counter()
    import xgrammar as xgr
    timings["import_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    hf_tok = load_hf_tokenizer(folder)
    timings["hf_load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    info = xgr.TokenizerInfo.from_huggingface(hf_tok)
    timings["prep_s"] = time.perf_counter() - t0
    stop = list(info.stop_token_ids)

    def accepts_end(m: Any) -> bool:
        return bool(stop) and bool(m.accept_token(stop[0])) and bool(m.is_terminated())

    bm = xgr.allocate_token_bitmask(1, info.vocab_size)
    engine = Engine(
        name="xgrammar", vocab_size=info.vocab_size, eos_ids=stop,
        compile=lambda text: xgr.GrammarCompiler(
            info, max_threads=1, cache_enabled=False).compile_grammar(text),
        new_matcher=xgr.GrammarMatcher,
        fill=lambda m, b: m.fill_next_token_bitmask(b),
        consume=lambda m, t: bool(m.accept_token(t)),
        accepts_end=accepts_end,
        bitmask=bm, bits=bm.numpy(),
    )
    return engine, hf_tok


def _allowed(bits: Any, tid: int) -> bool:
    return bool((int(bits[0, tid >> 5]) >> (tid & 31)) & 1)


def _grammar_text(engine: str, name: str) -> str:
    """The grammar text an engine is given for grammar ``name``."""
    if engine == "xgrammar":
        from benchmarks.grammars_gbnf import GBNF
        return GBNF[name]
    if engine == "llguidance":
        from benchmarks.grammars_gbnf import LARK_LLGUIDANCE
        return LARK_LLGUIDANCE[name]
    from tests.grammars import ALL
    return ALL[name]


def _token_repr(hf_tok: Any, tid: int) -> str:
    try:
        return repr(hf_tok.convert_ids_to_tokens(tid)) + " = " + repr(hf_tok.decode([tid]))
    except Exception:  # pragma: no cover - display only
        return f"<id {tid}>"


def _bench_grammar(eng: Engine, hf_tok: Any, gname: str, texts: Sequence[str], repeat: int,
                   failures: list[dict[str, Any]]) -> dict[str, Any]:
    """Compile one grammar and time its masks; append correctness failures to ``failures``."""
    text = _grammar_text(eng.name, gname)
    out: dict[str, Any] = {"grammar": gname}

    def fail(kind: str, **info: Any) -> None:
        failures.append({"engine": eng.name, "grammar": gname, "kind": kind, **info})

    gc.collect()
    t0 = time.perf_counter()
    try:
        compiled = eng.compile(text)
    except Exception as exc:  # a grammar the engine refuses is a failure, not a crash
        out["compile_error"] = f"{type(exc).__name__}: {exc}"[:2000]
        fail("compile error", detail=out["compile_error"])
        return out
    out["compile_s"] = time.perf_counter() - t0
    out["warnings"] = eng.warnings(compiled)
    t0 = time.perf_counter()
    m = eng.new_matcher(compiled)
    eng.fill(m, eng.bitmask)
    out["first_mask_s"] = time.perf_counter() - t0
    del m

    streams = [hf_tok.encode(t, add_special_tokens=False) for t in texts]
    out["n_tokens"] = [len(s) for s in streams]
    broken: set[int] = set()
    passes: list[list[list[tuple[int, int]]]] = []  # pass -> sample -> (fill_ns, consume_ns)
    clock = time.perf_counter_ns
    fill, consume, bm = eng.fill, eng.consume, eng.bitmask
    for p in range(repeat):
        check = p == 0
        gc.collect()
        per_sample: list[list[tuple[int, int]]] = []
        for si, ids in enumerate(streams):
            times: list[tuple[int, int]] = []
            per_sample.append(times)
            if si in broken:
                continue
            m = eng.new_matcher(compiled)
            for ti, tid in enumerate(ids):
                t0 = clock()
                fill(m, bm)
                t1 = clock()
                if check and not _allowed(eng.bits, tid):
                    fail("token masked out", sample=si, text=texts[si], token_index=ti,
                         token_id=tid, token=_token_repr(hf_tok, tid),
                         prefix=hf_tok.decode(ids[:ti]))
                t2 = clock()
                ok = consume(m, tid)
                t3 = clock()
                if not ok:
                    fail("token rejected by consume" if check else "rejected in a later pass",
                         sample=si, text=texts[si], token_index=ti, token_id=tid,
                         token=_token_repr(hf_tok, tid), prefix=hf_tok.decode(ids[:ti]))
                    broken.add(si)
                    break
                times.append((t1 - t0, t3 - t2))
            else:
                if check:
                    fill(m, bm)
                    if not any(_allowed(eng.bits, e) for e in eng.eos_ids
                               if 0 <= e < eng.vocab_size):
                        fail("EOS masked out at the end", sample=si, text=texts[si],
                             eos_ids=eng.eos_ids)
                    if not eng.accepts_end(m):
                        fail("not accepting at the end", sample=si, text=texts[si])
        passes.append(per_sample)
    out["broken_samples"] = sorted(broken)
    out["passes"] = [[times for si, times in enumerate(ps) if si not in broken] for ps in passes]
    return out


def run_worker(engine: str, tokenizer: str, grammars: Sequence[str], repeat: int,
               tok_dir: Path) -> dict[str, Any]:
    """Everything measured in one process, as a JSON-able dict."""
    from tests.grammars import SAMPLES

    folder = _tokenizer_folder(tok_dir, tokenizer)
    timings: dict[str, float] = {}
    makers = {"ours": _engine_ours, "llguidance": _engine_llguidance,
              "xgrammar": _engine_xgrammar,
              "ours-lazy": lambda f, t: _engine_ours(f, t, eager_tables=False)}
    eng, hf_tok = makers[engine](folder, timings)
    result: dict[str, Any] = {"engine": engine, "tokenizer": tokenizer, **timings,
                              "vocab_size": eng.vocab_size, "eos_ids": eng.eos_ids}

    warm = WARMUP_GBNF if engine == "xgrammar" else WARMUP_LARK
    t0 = time.perf_counter()
    if engine.startswith("ours"):  # what a server does at start-up: load every kernel
        import grammar_engine as ge
        ge.warm_up()
    m = eng.new_matcher(eng.compile(warm))
    eng.fill(m, eng.bitmask)
    result["warmup_s"] = time.perf_counter() - t0
    del m
    gc.collect()
    gc.freeze()

    failures: list[dict[str, Any]] = []
    result["grammars"] = {g: _bench_grammar(eng, hf_tok, g, SAMPLES[g], repeat, failures)
                          for g in grammars}
    for f in failures:
        f["tokenizer"] = tokenizer
    result["failures"] = failures
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# ============================================================================================
# Parent side: spawn the workers, print the report
# ============================================================================================


def _default_tokenizer_dir() -> Path:
    env = os.environ.get("GRAMMAR_ENGINE_TOKENIZERS")
    if env:
        return Path(env).expanduser()
    shared = os.environ.get("GRAMMAR_ENGINE_SHARED")
    return (Path(shared).expanduser() if shared else REPO.parent / "shared") / "tokenizers"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def environment() -> dict[str, Any]:
    """Hardware, OS, Python and package versions (without importing the engines)."""
    versions: dict[str, str] = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
            if pkg == "grammar-engine":  # running from the source tree
                init = (REPO / "grammar_engine" / "__init__.py").read_text(encoding="utf-8")
                found = re.search(r'__version__ = "([^"]+)"', init)
                versions[pkg] = f"{found.group(1)} (source tree)" if found else "source tree"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return {
        "cpu": _cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
        "mem_gb": _mem_total_gb(), "os": platform.platform(), "python": sys.version.split()[0],
        "packages": versions, "thread_env": THREAD_ENV, "loadavg_start": _loadavg(),
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not available
        return None


def _spawn(engine: str, tokenizer: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, **THREAD_ENV)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, tokenizer,
           "--grammars", ",".join(args.grammar_list), "--repeat", str(args.repeat),
           "--tokenizer-dir", str(args.tokenizer_dir)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=args.timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"engine": engine, "tokenizer": tokenizer,
                "error": f"worker timed out after {args.timeout} s"}
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            res: dict[str, Any] = json.loads(line[len(RESULT_MARK):])
            res["wall_s"] = wall
            return res
    tail = (proc.stderr or proc.stdout)[-3000:]
    return {"engine": engine, "tokenizer": tokenizer,
            "error": f"worker exited with {proc.returncode}: {tail}"}


def _stats_us(values_ns: Sequence[int]) -> dict[str, float] | None:
    import numpy as np

    if not values_ns:
        return None
    a = np.asarray(values_ns, dtype=np.float64) / 1e3
    return {"n": int(a.size), "mean": float(a.mean()), "p50": float(np.percentile(a, 50)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def summarize(res: dict[str, Any]) -> None:
    """Add per-grammar ``first``/``steady`` statistics (µs, fill + consume) in place."""
    for g in res.get("grammars", {}).values():
        passes = g.get("passes") or []
        flat = [[f + c for sample in ps for f, c in sample] for ps in passes]
        g["first"] = _stats_us(flat[0]) if flat else None
        g["steady"] = _stats_us([v for ps in flat[1:] for v in ps])


def _fmt(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}" if x >= 10 else f"{x:.{digits + 1}f}"


def _fmt_stats(s: dict[str, float] | None) -> str:
    if not s:
        return "–"
    return " / ".join(_fmt(s[k]) for k in ("mean", "p50", "p99", "max"))


def _basis(g: dict[str, Any]) -> dict[str, float] | None:
    return g.get("steady") or g.get("first")


def build_table(results: list[dict[str, Any]], tokenizers: Sequence[str],
                grammars: Sequence[str], engines: Sequence[str]) -> tuple[str, list[str]]:
    """The markdown table, and a list of summary lines (geometric-mean speedups)."""
    by = {(r["tokenizer"], r["engine"]): r for r in results}
    head = ["tokenizer", "grammar", "engine", "prep ms", "warm-up ms", "compile ms",
            "1st mask ms", "fails", "tokens", "1st pass µs mean / p50 / p99 / max",
            "steady µs mean / p50 / p99 / max", "baseline: best peer p50 / p99 µs",
            "speedup p50 / p99"]
    rows = [head, ["---"] * 3 + ["---:"] * (len(head) - 3)]
    summary: list[str] = []
    fails = _failure_counts(results)
    for tok in tokenizers:
        for eng in engines:
            r = by.get((tok, eng), {})
            if "error" in r:
                rows.append([tok, "(setup)", eng, "error", "", "", "", "", "", r["error"][:80]
                             .replace("|", "/").replace("\n", " "), "", "", ""])
                continue
            rss = f"peak RSS {r.get('peak_rss_mb', 0):,.0f} MB"
            rows.append([tok, "(setup)", eng, _fmt(1e3 * r.get("prep_s", math.nan)),
                         _fmt(1e3 * r.get("warmup_s", math.nan)), "", "", "", "", rss, "",
                         "", ""])
        ratios50: list[float] = []
        ratios99: list[float] = []
        for gname in grammars:
            peer_best: dict[str, tuple[float, str]] = {}
            for q in ("p50", "p99"):
                cands = []
                for eng in PEERS:
                    g = by.get((tok, eng), {}).get("grammars", {}).get(gname, {})
                    b = _basis(g)
                    if eng in engines and b:
                        star = "*" if fails.get((tok, eng, gname)) else ""
                        cands.append((b[q], eng + star))
                if cands:
                    peer_best[q] = min(cands)
            for eng in engines:
                r = by.get((tok, eng), {})
                g = r.get("grammars", {}).get(gname)
                if g is None:
                    continue
                nfail = fails.get((tok, eng, gname), 0)
                if "compile_error" in g:
                    rows.append([tok, gname, eng, "", "", "compile error", "", str(nfail), "",
                                 g["compile_error"][:60].replace("|", "/").replace("\n", " "),
                                 "", "", ""])
                    continue
                timed = sum(n for i, n in enumerate(g["n_tokens"])
                            if i not in g["broken_samples"])
                base = speed = ""
                b = _basis(g)
                if eng == "ours" and b and peer_best:
                    p50, p99 = peer_best.get("p50"), peer_best.get("p99")
                    base = " / ".join(f"{_fmt(v[0])} ({v[1]})" if v else "–" for v in (p50, p99))
                    s50 = p50[0] / b["p50"] if p50 and b["p50"] > 0 else None
                    s99 = p99[0] / b["p99"] if p99 and b["p99"] > 0 else None
                    speed = " / ".join(f"{s:.2f}×" if s else "–" for s in (s50, s99))
                    if s50:
                        ratios50.append(s50)
                    if s99:
                        ratios99.append(s99)
                rows.append([tok, gname, eng, "", "", _fmt(1e3 * g["compile_s"]),
                             _fmt(1e3 * g["first_mask_s"]), str(nfail),
                             f"{timed}/{sum(g['n_tokens'])}", _fmt_stats(g.get("first")),
                             _fmt_stats(g.get("steady")), base, speed])
        if ratios50:
            gm50 = math.exp(sum(map(math.log, ratios50)) / len(ratios50))
            gm99 = math.exp(sum(map(math.log, ratios99)) / len(ratios99)) if ratios99 else 0.0
            summary.append(f"{tok}: ours vs best peer, geometric mean over {len(ratios50)} "
                           f"grammars: p50 {gm50:.2f}×, p99 {gm99:.2f}× (>1 = ours faster)")
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in rows]
    return "\n".join(lines), summary


def _failure_counts(results: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    counts: dict[tuple[str, str, str], int] = {}
    for r in results:
        for f in r.get("failures", []):
            key = (f["tokenizer"], f["engine"], f["grammar"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def _describe_failure(f: dict[str, Any]) -> str:
    where = f"[{f['engine']} / {f['tokenizer']} / {f['grammar']}]"
    if f["kind"] == "compile error":
        return f"{where} compile error: {f['detail'][:300]}"
    text = f"sample {f['sample']} {f['text'][:90]!r}"
    if "token_id" in f:
        return (f"{where} {f['kind']}: token #{f['token_index']} id {f['token_id']} "
                f"{f['token']} after {f['prefix'][-60:]!r} in {text}")
    return f"{where} {f['kind']}: {text}"


def report(results: list[dict[str, Any]], env: dict[str, Any], args: argparse.Namespace,
           command: str) -> str:
    """The whole markdown report."""
    from benchmarks.grammars_gbnf import LLGUIDANCE_NOTES, stale_translations

    out = ["# Grammar benchmark: grammar-engine vs llguidance vs xgrammar", "",
           f"Command: `{command}`", "",
           f"- CPU: {env['cpu']}, {env['logical_cpus']} logical CPUs "
           f"({env['usable_cpus']} usable), RAM {env['mem_gb'] or 0:.1f} GB; {env['os']}; "
           f"Python {env['python']}",
           "- Packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
           "- Each (engine, tokenizer) runs in a fresh process with "
           + ", ".join(f"{k}={v}" for k, v in THREAD_ENV.items()),
           f"- Grammars: {', '.join(args.grammar_list)}; tokenizers: "
           f"{', '.join(args.tokenizer_list)}; repeat {args.repeat} "
           "(pass 1 = first pass, also the correctness check; passes 2.. = steady state)", ""]
    table, summary = build_table(results, args.tokenizer_list, args.grammar_list,
                                 args.engine_list)
    out += [table, "",
            "Columns: *prep* = vocabulary/tokenizer preparation, once per process (ours "
            "`Vocabulary.from_tokenizer_json` reads tokenizer.json itself; the peers start from "
            "a loaded HF tokenizer). *warm-up* = first compile + mask in the process on "
            "`start: \"a\"` (JIT), kept out of *compile*. *1st mask* = new matcher + first "
            "fill. Per-token µs = fill_next_token_bitmask + consume_token. *baseline* = the "
            "best peer's " + ("steady-state" if args.repeat > 1 else "first-pass")
            + " p50 / p99 for that grammar and tokenizer (`*`: that peer had correctness "
            "failures there); *speedup* = baseline / ours (>1 means ours is faster). "
            "*tokens* = timed / total tokens (samples with a rejected token are not timed).",
            ""]
    if summary:
        out += ["Summary:", ""] + [f"- {s}" for s in summary] + [""]
    failures = [f for r in results for f in r.get("failures", [])]
    errors = [r for r in results if "error" in r]
    counts: dict[str, int] = {}
    for f in failures:
        counts[f["engine"]] = counts.get(f["engine"], 0) + 1
    out.append("## Correctness failures (checked before timing: every sample token allowed by "
               "the mask, accepted by consume, matcher accepting and EOS allowed at the end)")
    out.append("")
    out.append("- per engine: " + ", ".join(f"{e}: {counts.get(e, 0)}"
                                             for e in args.engine_list))
    out += [f"- {_describe_failure(f)}" for f in failures]
    out += [f"- [{r['engine']} / {r['tokenizer']}] worker failed: {r['error'][:500]}"
            for r in errors]
    out += ["", "## Notes", ""]
    out.append(f"- Times are wall-clock (`time.perf_counter_ns`). Load average (1/5/15 min) "
               f"{env.get('loadavg_start')} at the start, {env.get('loadavg_end')} at the end, "
               f"on {env['usable_cpus']} CPUs; total {env.get('total_s', 0):.0f} s. With other "
               "processes running, single preemptions (~4 ms) show up in p99 / max.")
    stale = stale_translations()
    if stale and "xgrammar" in args.engine_list:
        out.append(f"- WARNING: tests/grammars.py changed since the GBNF translations of "
                   f"{', '.join(stale)} were written (benchmarks/grammars_gbnf.py): xgrammar "
                   "may be checking a different language there.")
    if "xgrammar" in args.engine_list:
        out.append("- xgrammar gets the GBNF translations of benchmarks/grammars_gbnf.py (same "
                   "language as the Lark grammars under grammar-engine's lexer semantics).")
    for r in results:
        for gname, g in r.get("grammars", {}).items():
            for w in g.get("warnings") or []:
                out.append(f"- {r['engine']} / {r['tokenizer']} / {gname}: grammar warning: "
                           f"{w[:300]}")
    for name, note in LLGUIDANCE_NOTES.items():
        if name in args.grammar_list and "llguidance" in args.engine_list:
            out.append(f"- llguidance, {name}: {note}.")
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--worker ENGINE TOKENIZER`` is internal)."""
    from tests.grammars import ALL

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizers", default=",".join(TOKENIZERS),
                   help="comma-separated tokenizer folders (default: all four)")
    p.add_argument("--grammars", default=",".join(ALL),
                   help="comma-separated names from tests.grammars.ALL (default: all)")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help="comma-separated subset of ours,llguidance,xgrammar (default: "
                        "all three), or ours-lazy (no token tables ahead of time)")
    p.add_argument("--repeat", type=int, default=3,
                   help="passes over the samples, fresh matchers each; pass 1 is reported "
                        "as first-pass, the rest as steady state (default: 3)")
    p.add_argument("--quick", action="store_true", help="llama3 only, --repeat 1")
    p.add_argument("--json", metavar="PATH", help="also save the raw results as JSON")
    p.add_argument("--tokenizer-dir", type=Path, default=_default_tokenizer_dir(),
                   help="folder holding <name>/tokenizer.json (default: "
                        "$GRAMMAR_ENGINE_TOKENIZERS or ../shared/tokenizers)")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds allowed per worker process (default: 900)")
    p.add_argument("--worker", nargs=2, metavar=("ENGINE", "TOKENIZER"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.tokenizers, args.repeat = "llama3", 1
    args.tokenizer_list = [t for t in args.tokenizers.split(",") if t]
    args.grammar_list = [g for g in args.grammars.split(",") if g]
    args.engine_list = [e for e in args.engines.split(",") if e]
    unknown = ([g for g in args.grammar_list if g not in ALL]
               + [e for e in args.engine_list if e not in ENGINES + OPTIONAL_ENGINES])
    if unknown:
        p.error(f"unknown grammar or engine: {', '.join(unknown)}")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the workers one after the other and print the report."""
    args = parse_args(argv)
    if args.worker:
        engine, tokenizer = args.worker
        res = run_worker(engine, tokenizer, args.grammar_list, args.repeat, args.tokenizer_dir)
        sys.stdout.write(RESULT_MARK + json.dumps(res) + "\n")
        return 0
    command = "PYTHONPATH=. python benchmarks/bench_grammar.py" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv))
    env = environment()
    results: list[dict[str, Any]] = []
    jobs = [(e, t) for t in args.tokenizer_list for e in args.engine_list]
    t_all = time.perf_counter()
    for i, (engine, tokenizer) in enumerate(jobs, 1):
        print(f"[{i}/{len(jobs)}] {engine} × {tokenizer} ...", end="", file=sys.stderr,
              flush=True)
        res = _spawn(engine, tokenizer, args)
        summarize(res)
        results.append(res)
        state = "error" if "error" in res else f"{res.get('wall_s', 0):.1f} s"
        print(f" {state}", file=sys.stderr, flush=True)
    env["loadavg_end"] = _loadavg()
    env["total_s"] = time.perf_counter() - t_all
    print(f"total {env['total_s']:.1f} s", file=sys.stderr)
    print(report(results, env, args, command))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": command, "environment": env, "args": {
                "tokenizers": args.tokenizer_list, "grammars": args.grammar_list,
                "engines": args.engine_list, "repeat": args.repeat},
             "results": results}, indent=1), encoding="utf-8")
        print(f"raw results written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
