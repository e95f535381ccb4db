"""Coverage-guided fuzzing (atheris / libFuzzer) of the CLI and the JSON Schema compiler.

Run from the repository root::

    PYTHONPATH=. python benchmarks/fuzz_atheris.py --target schema -max_total_time=600
    PYTHONPATH=. python benchmarks/fuzz_atheris.py --target cli -atheris_runs=20000

Arguments after ``--target`` go to libFuzzer (``-max_total_time``, ``-atheris_runs``, a
corpus folder...). Any exception other than the engine's own errors, and any CLI exit code
other than 0, 1 or 2, is a crash: libFuzzer stops and writes the input to ``crash-*``.
Without atheris (``pip install atheris==2.3.0``) the script says so and exits 0.

``one_input_schema`` and ``one_input_cli`` are plain functions; ``tests/fuzz`` runs them on
fixed inputs without atheris.
"""

from __future__ import annotations

import io
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

# The engine is imported lazily (inside the functions), so that under atheris it is
# imported inside ``instrument_imports`` and only its own code is instrumented.


@cache
def _setup() -> tuple[Any, Path, Any, Any]:
    """(grammar_engine, tokenizer folder, vocabulary, limits), made once."""
    import grammar_engine as ge
    from tests.reliability.helpers import write_byte_tokenizer

    work = Path(tempfile.mkdtemp(prefix="ge-fuzz-"))
    tokenizer = write_byte_tokenizer(work / "tok")
    vocab = ge.Vocabulary.from_tokenizer_json(tokenizer)
    limits = ge.Limits(max_nfa_states=20_000, max_dfa_states=4_000, compile_time_budget=10.0)
    return ge, tokenizer, vocab, limits


def one_input_schema(data: bytes) -> None:
    """Compile ``data`` as a JSON Schema; when it compiles, walk a few allowed tokens."""
    ge, _, vocab, limits = _setup()
    try:
        g = ge.compile_json_schema(data, vocab, limits=limits, cache=False)
        m = ge.Matcher(g)
        for i in range(8):
            allowed = m.allowed_token_ids()
            text = [t for t in allowed.tolist() if t != 256]
            if not text:
                break
            m.consume_token(text[(len(data) + i) % len(text)])
    except ge.GrammarEngineError:
        pass


def one_input_cli(data: bytes) -> None:
    """Run ``grammar-engine`` on ``data``: compile it as a schema, a grammar or a regex,
    inspect the result, and inspect ``data`` itself as a compiled file."""
    from grammar_engine.cli import main as cli_main

    _, tokenizer, _, _ = _setup()
    work = tokenizer.parent
    mode = data[:1]
    body = data[1:]
    spec = work / ("spec.json" if mode == b"j" else "spec.lark")
    out_file = work / "out.geg"
    out_file.unlink(missing_ok=True)
    if mode == b"r":
        argv = ["compile", "--regex", body.decode("utf-8", "surrogateescape")]
    else:
        spec.write_bytes(body)
        argv = ["compile", str(spec)]
    argv += ["--tokenizer", str(tokenizer), "-o", str(out_file), "-q"]
    runs: list[list[str]] = [argv]
    if mode == b"f":  # the bytes as a (damaged) compiled file
        spec.write_bytes(body)
        runs = [["inspect", str(spec)], ["inspect", str(spec), "--json"]]
    for args in runs:
        code = cli_main(args, out=io.StringIO(), err=io.StringIO())
        if code not in (0, 1, 2):
            raise AssertionError(f"exit code {code} for {args}")
        if code == 0 and args[0] == "compile":
            code = cli_main(["inspect", str(out_file)], out=io.StringIO(), err=io.StringIO())
            if code != 0:
                raise AssertionError(f"inspecting a file the CLI wrote failed with {code}")


TARGETS: dict[str, Any] = {"schema": one_input_schema, "cli": one_input_cli}


class _FreshOnCompare:
    """Every comparison returns a new object (probes ``_trace_cmp`` for a leaked result)."""

    def _fresh(self, other: object) -> object:
        return object()

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _fresh  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]


_cmp_checked: list[Any] = []  # the ``_trace_cmp`` functions checked (and their wrappers)


def _plug_trace_cmp_leak(atheris: Any) -> None:
    """Work around atheris 2.3.0 and 3.0.0 leaking the result of every instrumented
    comparison: their native ``_trace_cmp`` returns a pybind11 ``handle`` made from the new
    reference ``PyObject_RichCompare`` gave it, which pybind11 increments again. Singletons
    (True, False) do not mind; numpy comparisons (``trans >= 0``) leak a whole array each,
    about 90 KB per schema here, 4 GB after ~30,000 runs. ``Fuzz`` swaps in another
    ``_trace_cmp`` once fuzzing starts, so this runs on every input (one identity test
    after the first). A ``_trace_cmp`` that does not leak is left alone."""
    import ctypes

    cmp = atheris._trace_cmp
    if any(cmp is c for c in _cmp_checked):
        return
    _cmp_checked.append(cmp)
    opid = 2 << 4 if sys.version_info >= (3, 12) else 2  # Py_EQ as the bytecode passes it
    try:
        probe = cmp(_FreshOnCompare(), 0, opid, 0, False)
    except Exception:
        return
    if sys.getrefcount(probe) <= 2:  # the local name and getrefcount's argument
        return
    decref = ctypes.pythonapi.Py_DecRef
    decref.argtypes = [ctypes.py_object]
    decref.restype = None
    decref(probe)

    def trace_cmp(left: Any, right: Any, op: int, idx: int, left_is_const: bool) -> Any:
        result = cmp(left, right, op, idx, left_is_const)
        try:
            decref(result)  # the extra reference: ``result`` still holds one
        except ctypes.ArgumentError:
            # At the recursion limit ctypes cannot convert the argument; let the engine
            # see the RecursionError it turns into LimitExceededError.
            raise RecursionError("maximum recursion depth exceeded (in _trace_cmp)") from None
        return result

    _cmp_checked.append(trace_cmp)
    atheris._trace_cmp = trace_cmp


def main() -> int:
    args = sys.argv[1:]
    if "--target" not in args:
        print("usage: fuzz_atheris.py --target schema|cli [libFuzzer options]")
        return 2
    i = args.index("--target")
    target = TARGETS[args[i + 1]]
    rest = args[:i] + args[i + 2:]
    try:
        import atheris
    except ImportError:
        print("atheris is not installed (pip install atheris==2.3.0): nothing to do")
        return 0
    # native/ is left out: numba compiles those functions from their own bytecode. The LR
    # parser is left out too: atheris 2.3.0 miscompiles its ``_feed_one`` loop on Python
    # 3.11 (a TypeError that only the instrumented bytecode raises).
    with atheris.instrument_imports(include=["grammar_engine", "compilers"],
                                    exclude=["grammar_engine.parser"]):
        _setup()
        import grammar_engine.cli  # noqa: F401
    _plug_trace_cmp_leak(atheris)

    def one_input(data: bytes) -> None:
        _plug_trace_cmp_leak(atheris)  # Fuzz replaces _trace_cmp when it starts
        target(data)

    atheris.Setup([sys.argv[0], *rest], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
