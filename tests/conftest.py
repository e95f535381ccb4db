"""Fixtures shared by the tests.

``tokenizer_dir(name)`` locates a real tokenizer folder (``llama3``, ``qwen3``, ``gptoss``,
``gemma3``) through :mod:`tests.shared_data` and skips the test, saying why, when it is
absent. Mark such tests ``real_tokenizer``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.shared_data import tokenizer_path


@pytest.fixture(scope="session")
def tokenizer_dir() -> Callable[[str], Path]:
    """Return ``locate(name) -> Path`` of a tokenizer folder; skips when it is absent."""
    return tokenizer_path
