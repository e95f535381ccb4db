"""Helpers shared by the benchmark scripts (imported as ``common`` when a script runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["load_hf_tokenizer"]


def load_hf_tokenizer(folder: Path) -> Any:
    """``PreTrainedTokenizerFast`` from ``tokenizer.json``, EOS from ``tokenizer_config.json``.

    ``tokenizer.json`` alone does not name the EOS token; without it llguidance and xgrammar
    would guess. The config gives the same EOS grammar-engine's ``Vocabulary`` uses.
    """
    from transformers import PreTrainedTokenizerFast

    kwargs: dict[str, Any] = {}
    cfg = folder / "tokenizer_config.json"
    if cfg.is_file():
        eos = json.loads(cfg.read_text(encoding="utf-8")).get("eos_token")
        if isinstance(eos, dict):
            eos = eos.get("content")
        if isinstance(eos, str):
            kwargs["eos_token"] = eos
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **kwargs)
