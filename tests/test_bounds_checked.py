"""The kernels index only inside their arrays: a slice of the suite, run again in a child
process with numba's bounds checking on.

numba compiles the kernels without bounds checks, so an index past the end of an array
reads or writes whatever memory lies there: a wrong mask, or a corrupted heap that
crashes the process later. With ``NUMBA_BOUNDSCHECK=1`` every such index raises
``IndexError`` instead. The child compiles its own copies of the kernels (its own cache
directory), which takes a minute or two.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.shared_data import REPO

# Kernel twins, LR tables, JSON Schema sampling (slices, shift classes), the oracle walks,
# limits (a lexer that gives up half-way), the fuzzers' fixed cases, the GLR mask walk.
_SLICE = ["tests/test_kernels.py", "tests/test_lr_tables.py", "tests/test_json_schema.py",
          "tests/test_masks_oracle.py", "tests/test_token_slices.py",
          "tests/test_unique_strings.py", "tests/reliability/test_limits.py",
          "tests/fuzz/test_fuzz.py", "tests/test_glr_mask.py"]


def test_kernels_stay_inside_their_arrays(tmp_path: os.PathLike[str]) -> None:
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path),
               PYTHONPATH=str(REPO))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *_SLICE],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=2400)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
