"""Shared pieces of the reliability tests: a byte vocabulary and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

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
