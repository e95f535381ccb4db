"""Error messages that need the run time: a vocabulary that cannot spell the output."""

from __future__ import annotations

from compilers.errors import VocabularyError
from grammar_engine.runtime import GrammarRuntime, MatchState

__all__ = ["unspellable_error"]


def _continuation(rt: GrammarRuntime, state: MatchState, max_len: int = 24) -> bytes:
    """A short byte string the grammar allows after ``state`` (first viable byte each
    step, stopping where the output could end)."""
    out = bytearray()
    while len(out) < max_len and not rt.is_accepting(state):
        for b in range(256):
            nxt = rt.advance_bytes(state, bytes([b]))
            if nxt is not None:
                out.append(b)
                state = nxt
                break
        else:
            break
    return bytes(out)


def unspellable_error(rt: GrammarRuntime, state: MatchState, consumed: int
                      ) -> VocabularyError:
    """The error for a live, incomplete ``state`` that no text token can extend."""
    viable = [b for b in range(256) if rt.advance_bytes(state, bytes([b])) is not None]
    shown = ", ".join(f"0x{b:02x}" for b in viable[:16])
    if len(viable) > 16:
        shown += f", ... ({len(viable)} bytes)"
    example = _continuation(rt, state)
    return VocabularyError(
        f"vocabulary {rt.vocab.name!r} cannot continue the output: after {consumed} "
        f"token(s) the grammar needs one of the bytes [{shown}] next (for example "
        f"{example!r}), and no token of the vocabulary fits there\n"
        "  likely cause: the tokenizer has no token (and no byte fallback) for a character "
        "or literal the grammar requires"
    )
