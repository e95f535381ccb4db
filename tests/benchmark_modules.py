"""Import a script of ``benchmarks/`` (not a package) in the tests, so that a ratchet runs
the benchmark's own protocol (one implementation)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.shared_data import REPO


def benchmark_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as module ``name`` (imported once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
