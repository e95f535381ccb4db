"""A small on-disk cache for tables that are slow to build and depend only on their key
(Unicode class tables, terminal automata), shared between processes.

Files live in ``GRAMMAR_ENGINE_CACHE`` or ``~/.cache/grammar-engine``; writes are atomic
(temporary file + rename) and every failure is silent: the cache only saves time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "cache_path", "write_atomically"]


def cache_dir() -> Path | None:
    root = os.environ.get("GRAMMAR_ENGINE_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "grammar-engine"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


def cache_path(kind: str, key: str, suffix: str) -> Path | None:
    """File for ``key`` in the ``kind`` folder (None when no cache folder is writable)."""
    root = cache_dir()
    if root is None:
        return None
    folder = root / kind
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return folder / f"{digest}{suffix}"


# Bytes one process may add to the cache: a stream of hostile grammars (each with new
# patterns) must not fill the disk. Past it, tables are simply rebuilt when needed.
MAX_WRITE_BYTES = 512 << 20
_written = [0]


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` then move ``tmp`` onto ``path``; ignore I/O errors. Does nothing
    once this process has written :data:`MAX_WRITE_BYTES`."""
    if _written[0] >= MAX_WRITE_BYTES:
        return
    # Unique per process and thread: two threads writing one key must not share a file.
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp{path.suffix}")
    try:
        write(tmp)
        _written[0] += tmp.stat().st_size
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
