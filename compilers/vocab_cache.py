"""On-disk cache of prepared vocabularies, so that a process pays the preparation of a
128k-262k token vocabulary (parsing ``tokenizer.json``, byte decoding, sorting, common
prefixes) once per tokenizer file, not once per process.

Entries live in the ``vocab`` folder of the disk cache (``GRAMMAR_ENGINE_CACHE`` or
``~/.cache/grammar-engine``), keyed by a hash of the tokenizer file's *content*, of its
``tokenizer_config.json`` and of the load options; a file that cannot be read back is
ignored and rebuilt. Every failure is silent: the cache only saves time.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compilers.disk_cache import cache_path, write_atomically

__all__ = ["load_prepared", "prepared_key", "store_prepared"]

_VERSION = 1  # bump when the stored layout or the preparation changes


def prepared_key(raw: bytes, config: bytes | None, options: Any) -> str:
    """Cache key for a tokenizer file's content, its config's content and load options."""
    h = hashlib.sha256(f"vocab-v{_VERSION}".encode())
    h.update(hashlib.sha256(raw).digest())
    h.update(hashlib.sha256(config).digest() if config is not None else b"-")
    h.update(repr(options).encode())
    return h.hexdigest()


def _path(key: str) -> Path | None:
    return cache_path("vocab", key, ".npz")


def store_prepared(key: str, meta: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> None:
    """Write one prepared vocabulary (``meta`` must be JSON-serialisable)."""
    path = _path(key)
    if path is None:
        return

    def write(tmp: Path) -> None:
        payload = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays}
        with open(tmp, "wb") as f:
            np.savez(f, **payload)  # type: ignore[arg-type]

    write_atomically(path, write)


def load_prepared(key: str) -> tuple[dict[str, Any], dict[str, NDArray[Any]]] | None:
    """``(meta, arrays)`` stored under ``key``, or None."""
    path = _path(key)
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    if not isinstance(meta, dict) or meta.get("version") != _VERSION:
        return None
    return meta, arrays
