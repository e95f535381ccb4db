"""Shared pieces of the reliability tests: a byte vocabulary and a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import grammar_engine as ge
from compilers import budget

# Every single byte, a few multi-byte pieces, then EOS.
PIECES = [bytes([i]) for i in range(256)] + [b'",', b'"}', b'":', b"ab", b"\xc3\xa9", b"[{"]
EOS = len(PIECES)
BYTES_VOCAB = ge.Vocabulary.from_bytes([*PIECES, b""], eos_token_ids=[EOS], special_ids=[EOS])


class FakeClock:
    """Each reading advances one second: budgets run out after a known number of checks,
    whatever the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += 1.0
        return self.now


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    clock = FakeClock()
    monkeypatch.setattr(budget, "_clock", clock)
    yield clock


def mask_of(m: ge.Matcher) -> list[int]:
    return m.allowed_token_ids().tolist()  # type: ignore[no-any-return]


def _byte_to_char() -> dict[int, str]:
    """The printable stand-in of each byte in byte-level BPE vocabularies."""
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def write_byte_tokenizer(folder: Path) -> Path:
    """A byte-level BPE ``tokenizer.json`` with one token per byte and ``<eos>``."""
    chars = _byte_to_char()
    vocab = {chars[b]: b for b in range(256)}
    data = {
        "version": "1.0", "truncation": None, "padding": None, "normalizer": None,
        "added_tokens": [{"id": 256, "content": "<eos>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False,
                          "special": True}],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                          "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text('{"eos_token": "<eos>"}', encoding="utf-8")
    return folder
