"""Locate ``../shared`` (real tokenizers and data sets) for tests; skip cleanly without it.

``GRAMMAR_ENGINE_SHARED`` names the folder explicitly (``GRAMMAR_ENGINE_TOKENIZERS`` the
tokenizers folder alone); otherwise ``<repo>/../shared`` is used. A fresh clone has no
``../shared``: the tests that need it skip and say why.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOKENIZERS = ("llama3", "qwen3", "gptoss", "gemma3")


def shared_root() -> Path | None:
    env = os.environ.get("GRAMMAR_ENGINE_SHARED")
    root = Path(env) if env else REPO.parent / "shared"
    return root if root.is_dir() else None


def shared_path(*parts: str) -> Path:
    """Path inside ``../shared``; skips the calling test if it is absent."""
    root = shared_root()
    if root is None:
        pytest.skip("../shared is absent (set GRAMMAR_ENGINE_SHARED to its location)")
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


def tokenizer_path(name: str) -> Path:
    """Folder of a shared tokenizer; skips the calling test if it is absent."""
    env = os.environ.get("GRAMMAR_ENGINE_TOKENIZERS")
    folder = Path(env).expanduser() / name if env else None
    if folder is None:
        folder = shared_path("tokenizers", name)
    if not (folder / "tokenizer.json").is_file():
        pytest.skip(f"real tokenizer {name!r} not found at {folder} (set "
                    "GRAMMAR_ENGINE_SHARED or GRAMMAR_ENGINE_TOKENIZERS)")
    return folder


@functools.cache
def _load_vocab(name: str):  # type: ignore[no-untyped-def]
    from grammar_engine import Vocabulary

    return Vocabulary.from_tokenizer_json(tokenizer_path(name))


def real_vocab(name: str):  # type: ignore[no-untyped-def]
    """The engine's Vocabulary for a shared tokenizer (cached per process)."""
    tokenizer_path(name)
    return _load_vocab(name)


@functools.cache
def _hf(name: str):  # type: ignore[no-untyped-def]
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_path(name) / "tokenizer.json"))


def hf_tokenizer(name: str):  # type: ignore[no-untyped-def]
    tokenizer_path(name)
    return _hf(name)
