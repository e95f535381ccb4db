"""Token bitmasks: allocate them and apply them to logits (NumPy or torch).

Layout: int32 words, shape ``(batch, ceil(V / 32))``; token ``j`` is allowed when bit
``j % 32`` of word ``j // 32`` is set. torch is imported only when a tensor is passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from native.kernels import apply_token_bitmask_kernel

__all__ = ["allocate_token_bitmask", "apply_token_bitmask_inplace", "bitmask_words"]


def bitmask_words(vocab_size: int) -> int:
    """Number of int32 words for ``vocab_size`` tokens."""
    return (int(vocab_size) + 31) // 32


def allocate_token_bitmask(batch_size: int, vocab_size: int) -> NDArray[np.int32]:
    """A ``(batch_size, ceil(vocab_size / 32))`` int32 array with every token allowed."""
    return np.full((batch_size, bitmask_words(vocab_size)), -1, dtype=np.int32)


def apply_token_bitmask_inplace(logits: Any, bitmask: Any) -> None:
    """Set ``logits[b, j] = -inf`` for every token ``j`` not allowed in row ``b``.

    Parameters
    ----------
    logits : float array or tensor, shape ``(batch, V)`` or ``(V,)``
        An array or a float32/float64 CPU tensor is masked by a compiled kernel; other
        tensors (other devices, 16-bit floats) by torch operations.
    bitmask : int32 array or tensor, shape ``(batch, W)`` or ``(W,)``, ``W >= ceil(V/32)``
        Tokens past ``32 * W`` are masked too.

    Raises
    ------
    ValueError
        Mismatched shapes, batch sizes or dtypes.
    """
    if hasattr(logits, "masked_fill_"):
        view = _cpu_view(logits)
        if view is None:
            _apply_torch(logits, bitmask)
            return
        lg = view
        bm = np.asarray(bitmask.cpu().numpy() if hasattr(bitmask, "cpu") else bitmask)
    else:
        lg = logits
        bm = np.asarray(bitmask)
        if not np.issubdtype(lg.dtype, np.floating):
            raise ValueError(f"logits must be floating point, got {lg.dtype}")
    lg = lg if lg.ndim == 2 else lg[None, :]
    bm = bm if bm.ndim == 2 else bm[None, :]
    _check(lg.shape, bm.shape, str(bm.dtype))
    apply_token_bitmask_kernel(lg, bm)


def _cpu_view(logits: Any) -> NDArray[np.floating] | None:
    """A float32 or float64 CPU tensor's memory as an array (the kernel masks it in
    place); None for other devices and dtypes."""
    if logits.device.type != "cpu" or str(logits.dtype) not in ("torch.float32",
                                                                "torch.float64"):
        return None
    out: NDArray[np.floating] = logits.detach().numpy()
    return out


def _check(lshape: tuple[int, ...], bshape: tuple[int, ...], bdtype: str) -> None:
    if "int32" not in bdtype:
        raise ValueError(f"bitmask dtype must be int32, got {bdtype}")
    if len(lshape) != 2 or len(bshape) != 2:
        raise ValueError(f"expected 2-d logits and bitmask, got {lshape} and {bshape}")
    if lshape[0] != bshape[0]:
        raise ValueError(f"batch sizes differ: logits {lshape[0]}, bitmask {bshape[0]}")


def _apply_torch(logits: Any, bitmask: Any) -> None:
    """Masking with torch operations (tensors off the CPU, other dtypes)."""
    import torch

    lg = logits if logits.dim() == 2 else logits.unsqueeze(0)
    bm = torch.as_tensor(bitmask, device=lg.device)
    bm = bm if bm.dim() == 2 else bm.unsqueeze(0)
    _check(tuple(lg.shape), tuple(bm.shape), str(bm.dtype))
    vocab = lg.shape[1]
    shifts = torch.arange(32, device=lg.device, dtype=torch.int32)
    # (batch, W, 32) -> (batch, 32 * W): bit j % 32 of word j // 32
    bits = ((bm.unsqueeze(-1) >> shifts) & 1).reshape(bm.shape[0], -1).bool()
    if bits.shape[1] < vocab:
        pad = torch.zeros(bits.shape[0], vocab - bits.shape[1], dtype=torch.bool,
                          device=lg.device)
        bits = torch.cat([bits, pad], dim=1)
    lg.masked_fill_(~bits[:, :vocab], float("-inf"))
