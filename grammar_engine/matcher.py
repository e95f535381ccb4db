"""The per-sequence :class:`Matcher`: consume tokens, fill next-token bitmasks, roll back.

Error contract: a token outside the language makes ``consume_token`` return ``False`` and
leaves the state unchanged; misuse (a token id out of range, a bitmask of the wrong dtype
or shape, rolling back more than was consumed) raises ``ValueError`` at once; a resource
limit raises :class:`LimitExceededError`; a mask that no token of the vocabulary can
satisfy while the output is incomplete raises :class:`VocabularyError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compilers.compiled import CompiledGrammar
from grammar_engine._diagnostics import unspellable_error
from grammar_engine.runtime import NOT_CACHED, GrammarRuntime, MatchState, runtime_for

__all__ = ["Matcher"]


def _as_numpy_bitmask(bitmask: Any) -> NDArray[np.int32]:
    if isinstance(bitmask, np.ndarray):
        arr = bitmask
    elif hasattr(bitmask, "numpy") and hasattr(bitmask, "device"):
        if str(bitmask.device) != "cpu":
            raise ValueError(f"bitmask must be on the CPU, got device {bitmask.device}")
        arr = bitmask.numpy()  # shares memory with the tensor
    else:
        raise ValueError(f"bitmask must be a NumPy array or a CPU tensor, got "
                         f"{type(bitmask).__name__}")
    if arr.dtype != np.int32:
        raise ValueError(f"bitmask dtype must be int32, got {arr.dtype}")
    return arr


class Matcher:
    """Tracks one output sequence against a compiled grammar.

    Parameters
    ----------
    compiled : CompiledGrammar
        From :func:`grammar_engine.compile_grammar`, :func:`compile_regex` or ``load``.
    max_rollback_tokens : int, optional
        How many tokens :meth:`rollback` can undo (default: the grammar's
        ``Limits.max_rollback``).

    Notes
    -----
    A token is allowed iff the output bytes so far followed by the token's bytes are a
    viable prefix of the language; an EOS token is allowed iff the output is complete.
    Special tokens other than EOS are never allowed. After EOS is consumed the matcher is
    terminated and only EOS is allowed.
    """

    def __init__(self, compiled: CompiledGrammar, *, max_rollback_tokens: int | None = None
                 ) -> None:
        if not isinstance(compiled, CompiledGrammar):
            raise TypeError(f"expected a CompiledGrammar, got {type(compiled).__name__}")
        self.compiled = compiled
        self._rt: GrammarRuntime = runtime_for(compiled)
        self._vocab = compiled.vocab
        self._eos = frozenset(self._vocab.eos_token_ids)
        self._size = self._vocab.size
        self._n_words = self._vocab.n_words
        self._text_flags = self._vocab.text_flags
        limit = compiled.options.limits.max_rollback
        self.max_rollback_tokens = limit if max_rollback_tokens is None else max_rollback_tokens
        # (the caller's bitmask, row index, the row's views, a tensor's data pointer or 0,
        # whether the row is wider than the vocabulary): see _row_of.
        self._checked_bitmask: tuple[Any, int, NDArray[np.uint32], NDArray[np.uint32],
                                     int, bool] | None = None
        self._state: MatchState = self._rt.initial
        self._history: list[MatchState] = []
        self._terminated = False

    # -- queries ---------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self._vocab.size

    def is_terminated(self) -> bool:
        """True once an EOS token has been consumed."""
        return self._terminated

    def is_accepting(self) -> bool:
        """True if the output so far is a complete word (EOS would be allowed)."""
        return self._terminated or self._rt.is_accepting(self._state)

    def _check_id(self, token_id: int) -> int:
        tid = int(token_id)
        if not 0 <= tid < self._size:
            raise ValueError(f"token id {tid} out of range for vocabulary size "
                             f"{self._vocab.size}")
        return tid

    def _next_state(self, tid: int) -> MatchState | None:
        if self._terminated or not self._text_flags[tid]:
            return None
        return self._rt.advance_token(self._state, tid)

    def accepts_token(self, token_id: int) -> bool:
        """Whether ``token_id`` is allowed now, without changing the state.

        Costs time proportional to the token's length, not the vocabulary's.
        """
        tid = self._check_id(token_id)
        if tid in self._eos:
            return self.is_accepting()
        return self._next_state(tid) is not None

    # -- moves -----------------------------------------------------------------------
    def _push(self, new_state: MatchState) -> None:
        self._history.append(self._state)
        if len(self._history) > self.max_rollback_tokens:
            del self._history[0]
        self._state = new_state

    def consume_token(self, token_id: int) -> bool:
        """Advance over ``token_id``; return False (state unchanged) if it is not allowed."""
        # The steps of _check_id, _next_state and _push, inlined: this runs once per token.
        tid = int(token_id)
        if not 0 <= tid < self._size:
            self._check_id(tid)  # raises
        if tid in self._eos:
            if not self.is_accepting() or self._terminated:
                return False
            self._push(self._state)
            self._terminated = True
            return True
        if self._terminated or not self._text_flags[tid]:
            return False
        rt = self._rt
        nxt = rt.advance_cache.get((self._state, tid), NOT_CACHED)
        if nxt is NOT_CACHED:
            nxt = rt.advance_miss(self._state, tid)
        if nxt is None:
            return False
        history = self._history
        history.append(self._state)
        if len(history) > self.max_rollback_tokens:
            del history[0]
        self._state = nxt  # type: ignore[assignment]
        return True

    def consume_tokens(self, token_ids: Iterable[int]) -> bool:
        """Consume all of ``token_ids`` or, if one is rejected, none of them."""
        for done, t in enumerate(token_ids):
            if not self.consume_token(t):
                self.rollback(done)
                return False
        return True

    def consume_string(self, text: str | bytes) -> bool:
        """Advance over raw text (not one token: it cannot be rolled back piecewise).

        Returns False (state unchanged) if the text leaves the language; text with a lone
        surrogate never belongs to it (it has no UTF-8 encoding).
        """
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        if self._terminated:
            return False
        nxt = self._rt.advance_bytes(self._state, data)
        if nxt is None:
            return False
        self._push(nxt)
        return True

    def rollback(self, num_tokens: int = 1) -> None:
        """Undo the last ``num_tokens`` consumed tokens (EOS included)."""
        if num_tokens < 0 or num_tokens > len(self._history):
            raise ValueError(f"cannot roll back {num_tokens} tokens: {len(self._history)} "
                             "can be undone")
        if num_tokens == 0:
            return
        self._state = self._history[-num_tokens]
        del self._history[-num_tokens:]
        self._terminated = False

    def reset(self) -> None:
        """Back to the start of the grammar."""
        self._state = self._rt.initial
        self._history.clear()
        self._terminated = False

    def copy(self) -> Matcher:
        """An independent matcher in the same state (cheap: states are shared)."""
        other = Matcher.__new__(Matcher)
        other.__dict__.update(self.__dict__)
        other._history = list(self._history)
        return other

    # -- masks -----------------------------------------------------------------------
    def fill_next_token_bitmask(self, bitmask: Any, index: int = 0) -> None:
        """Write the allowed-token bits into row ``index`` of ``bitmask``.

        Parameters
        ----------
        bitmask : int32 array or CPU tensor of shape ``(batch, W)``
            ``W >= ceil(vocab_size / 32)``; token ``j`` is allowed iff bit ``j % 32`` of
            word ``j // 32`` is set. Words past the vocabulary are cleared.
        index : int
            Row to fill.

        Raises
        ------
        ValueError
            Wrong dtype, shape, device, or index.
        VocabularyError
            No token of the vocabulary can continue the output and it is not complete
            (the tokenizer cannot spell what the grammar requires next).
        LimitExceededError
            Computing the mask went past ``Limits.mask_time_budget`` or another limit.
        """
        checked = self._checked_bitmask
        if checked is not None and checked[0] is bitmask and checked[1] == index and \
                (not checked[4] or bitmask.data_ptr() == checked[4]):
            row, head, padded = checked[2], checked[3], checked[5]
        else:
            row, head, padded = self._row_of(bitmask, index)
        if self._terminated:
            np.copyto(head, self._rt.eos_mask)
            if padded:
                row[len(head):] = 0
            return
        rt = self._rt
        words = rt.fill_cache.get(self._state)
        if words is None:  # not cached, or cached as unspellable
            words = rt.fill_miss(self._state)
        if words is None:
            raise unspellable_error(self._rt, self._state, len(self._history))
        np.copyto(head, words)
        if padded:
            row[len(head):] = 0

    def _row_of(self, bitmask: Any, index: int) -> tuple[NDArray[np.uint32],
                                                         NDArray[np.uint32], bool]:
        """Row ``index`` of ``bitmask`` as unsigned words, whole and its first ``n_words``,
        and whether the row has words past those (checked; remembered for the next fill,
        with a tensor's data pointer, which must not have moved)."""
        arr = self._check_bitmask(bitmask)
        if not 0 <= index < arr.shape[0]:
            raise ValueError(f"index {index} out of range for batch size {arr.shape[0]}")
        row = arr[index].view(np.uint32)
        head = row[: self._n_words]
        padded = len(row) > len(head)
        if arr is bitmask or hasattr(bitmask, "data_ptr"):
            ptr = 0 if arr is bitmask else int(bitmask.data_ptr())
            self._checked_bitmask = (bitmask, index, row, head, ptr, padded)
        else:  # no way to tell that its memory stays put: checked at every fill
            self._checked_bitmask = None
        return row, head, padded

    def _check_bitmask(self, bitmask: Any) -> NDArray[np.int32]:
        arr = _as_numpy_bitmask(bitmask)
        if arr.ndim == 1:
            arr = arr[None, :]
        n_words = self._vocab.n_words
        if arr.ndim != 2 or arr.shape[1] < n_words:
            raise ValueError(f"bitmask must have shape (batch, >= {n_words}), got "
                             f"{tuple(arr.shape)}")
        return arr

    def next_token_bitmask(self) -> NDArray[np.int32]:
        """A new ``(1, W)`` int32 bitmask for the next token."""
        out = np.zeros((1, self._vocab.n_words), dtype=np.int32)
        self.fill_next_token_bitmask(out)
        return out

    def allowed_token_ids(self) -> NDArray[np.int64]:
        """Ids of the allowed tokens (for tests and debugging; slower than a bitmask)."""
        bits = np.unpackbits(self.next_token_bitmask()[0].view(np.uint8), bitorder="little")
        return np.flatnonzero(bits[: self._vocab.size])

    def find_jump_forward_string(self) -> str:
        """The longest text every continuation must start with ('' if none is forced).

        Stops before an incomplete UTF-8 character and where EOS is also allowed.
        """
        if self._terminated:
            return ""
        limit = self.compiled.options.limits.max_jump_forward_bytes
        state = self._state
        out = bytearray()
        while len(out) < limit and not self._rt.is_accepting(state):
            forced: MatchState | None = None
            forced_byte = -1
            n_viable = 0
            for b in range(256):
                nxt = self._rt.advance_bytes(state, bytes([b]))
                if nxt is not None:
                    n_viable += 1
                    forced, forced_byte = nxt, b
                    if n_viable > 1:
                        break
            if n_viable != 1 or forced is None:
                break
            out.append(forced_byte)
            state = forced
        # Cut back to whole UTF-8 characters.
        while out:
            try:
                return out.decode("utf-8")
            except UnicodeDecodeError:
                out.pop()
        return ""

    def __repr__(self) -> str:
        return (f"Matcher(consumed={len(self._history)}, accepting={self.is_accepting()}, "
                f"terminated={self._terminated})")

