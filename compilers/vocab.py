"""Tokenizer vocabularies as exact bytes.

Place in the pipeline::

    tokenizer -> Vocabulary: token id -> exact bytes, used by the token index and the matcher

A :class:`Vocabulary` maps every token id of one tokenizer to the exact bytes that token adds to
the output text, and records which ids are special (never text) and which are end-of-sequence.
Everything downstream (the token index, the matcher, the bitmask kernels) works on these bytes
only; it never looks at the tokenizer again.

Supported tokenizers (Hugging Face ``tokenizer.json``):

* **Byte-level BPE** (GPT-2 / tiktoken style: Llama 3, Qwen, gpt-oss, ...). Vocabulary strings
  are written in the GPT-2 byte-to-unicode alphabet; they are mapped back to raw bytes.
* **SentencePiece-style BPE** (Gemma, Llama 2, Mistral, ...): the decoder replaces ``"▁"`` by a
  space (``Replace`` or ``Metaspace``), pieces ``<0xNN>`` are single raw bytes when the model has
  ``byte_fallback``, every other piece is UTF-8 text.
* **Unigram with byte_fallback**, read like SentencePiece BPE.

Other models (WordPiece, WordLevel, Unigram without byte fallback, BPE with subword prefixes or
suffixes, BPE without a recognisable decoder) raise :class:`~compilers.errors.VocabularyError`.

Conventions:

* Added tokens marked ``"special": true`` are special: their bytes are ``b""`` and they are never
  text. Non-special added tokens are text: their content encoded as UTF-8 (with ``"▁"`` read as a
  space for SentencePiece-style vocabularies). An added token overrides a model-vocabulary entry
  with the same id.
* End-of-sequence ids are always members of ``special_ids`` as well, so they are never text tokens
  and their bytes are ``b""``, even if the tokenizer itself treats them as ordinary tokens. The
  matcher allows them separately, exactly when the output is complete.
* Ids the tokenizer does not define (holes, or padding up to ``vocab_size``) have bytes ``b""``
  and are neither text nor special: they are never allowed.
* Bytes are what the token *adds* to the text. Decoder steps that depend on the position of a
  token in the sequence are not applied: e.g. a ``Metaspace`` decoder with ``prepend_scheme``
  ``"first"``/``"always"`` (or a ``Strip`` decoder) removes the leading space of the *first*
  decoded token, while here a token ``"▁Hello"`` is always ``b" Hello"``. None of the four
  reference tokenizers (Llama 3, Qwen3, gpt-oss, Gemma 3) does that.
* Normalizers (e.g. Qwen's NFC) only affect how text is *encoded*; they do not change token
  bytes. A grammar for non-NFC text can still be spelled with byte tokens.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import struct
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compilers.errors import VocabularyError
from compilers.vocab_cache import load_prepared, prepared_key, store_prepared

__all__ = [
    "Vocabulary",
    "VocabularyArrays",
    "bytes_to_unicode",
    "clear_vocabulary_cache",
]

_SPACE_MARK = "\u2581"  # "▁", SentencePiece's visible space
_WS = re.compile(r"[ \t\n\r]*")
_MERGES_KEY_B = re.compile(rb'"merges"[ \t\n\r]*:[ \t\n\r]*\[')
_MERGES_KEY_S = re.compile(r'"merges"[ \t\n\r]*:[ \t\n\r]*\[')
_FINGERPRINT_TAG = b"grammar-engine/vocabulary/v1\x00"
_CACHE_MAX = 8


# --------------------------------------------------------------------------------------------
# GPT-2 byte <-> unicode alphabet


def bytes_to_unicode() -> dict[int, str]:
    """Return the GPT-2 byte-level alphabet: byte value -> printable character.

    Printable Latin-1 bytes (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) map to themselves; the 68
    other bytes map, in increasing order, to ``chr(256)``, ``chr(257)``, ... This is the table
    used by GPT-2 and every byte-level BPE tokenizer since (e.g. the space ``0x20`` is ``"Ġ"``).

    Returns
    -------
    dict[int, str]
        A bijection from ``range(256)`` to 256 single characters.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\u00a1"), ord("\u00ac") + 1),
        *range(ord("\u00ae"), ord("\u00ff") + 1),
    ]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table




# --------------------------------------------------------------------------------------------
# Flat arrays


@dataclass(frozen=True, eq=False)
class VocabularyArrays:
    """Flat arrays the numba kernels read.

    All arrays are C-contiguous and read-only.

    Attributes
    ----------
    token_data : NDArray[np.uint8]
        The bytes of all tokens concatenated, by token id.
    token_start : NDArray[np.int64]
        Shape ``(size,)``; offset of token ``i`` in ``token_data``.
    token_len : NDArray[np.int32]
        Shape ``(size,)``; byte length of token ``i``, 0 for special, EOS, unused and empty ids.
    sorted_ids : NDArray[np.int32]
        Ids of the text tokens (non-special, length > 0) sorted by their bytes
        (lexicographically, unsigned; ties - equal bytes under different ids - by id).
    lcp : NDArray[np.int32]
        Same shape as ``sorted_ids``; ``lcp[i]`` is the length of the longest common prefix of the
        bytes of ``sorted_ids[i - 1]`` and ``sorted_ids[i]``; ``lcp[0] == 0``.
    max_token_len : int
        Largest ``token_len`` (0 for a vocabulary without text tokens).
    """

    token_data: NDArray[np.uint8]
    token_start: NDArray[np.int64]
    token_len: NDArray[np.int32]
    sorted_ids: NDArray[np.int32]
    lcp: NDArray[np.int32]
    max_token_len: int


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _build_arrays(token_bytes: tuple[bytes, ...], lens: NDArray[np.int64]) -> VocabularyArrays:
    size = len(token_bytes)
    token_data = np.frombuffer(b"".join(token_bytes), dtype=np.uint8)
    token_start = np.zeros(size, dtype=np.int64)
    if size > 1:
        np.cumsum(lens[:-1], out=token_start[1:])
    token_len = lens.astype(np.int32)
    text_ids: list[int] = np.flatnonzero(lens > 0).tolist()
    # Python's sort compares bytes with memcmp; it is stable, so equal bytes keep id order.
    text_ids.sort(key=token_bytes.__getitem__)
    sorted_ids = np.array(text_ids, dtype=np.int32)
    lcp = np.zeros(sorted_ids.shape[0], dtype=np.int32)
    if sorted_ids.shape[0] > 1:
        prev, cur = sorted_ids[:-1], sorted_ids[1:]
        start_a, start_b = token_start[prev], token_start[cur]
        limit = np.minimum(lens[prev], lens[cur])
        pair_lcp = np.zeros(prev.shape[0], dtype=np.int32)
        active = np.flatnonzero(limit > 0)
        depth = 0
        # Extend all still-equal pairs by one byte per round; most pairs stop after a few bytes.
        while active.size:
            same = token_data[start_a[active] + depth] == token_data[start_b[active] + depth]
            active = active[same]
            depth += 1
            pair_lcp[active] = depth
            active = active[limit[active] > depth]
        lcp[1:] = pair_lcp
    return VocabularyArrays(
        token_data=_readonly(token_data),
        token_start=_readonly(token_start),
        token_len=_readonly(token_len),
        sorted_ids=_readonly(sorted_ids),
        lcp=_readonly(lcp),
        max_token_len=int(lens.max()) if size else 0,
    )


# --------------------------------------------------------------------------------------------
# Vocabulary

_ARRAYS_LOCK = threading.Lock()


class Vocabulary:
    """Token id -> exact bytes for one tokenizer, with EOS and special ids and a fingerprint.

    Build one with :meth:`from_tokenizer_json`, :meth:`from_hf_tokenizer`, :meth:`from_bytes` or
    :meth:`load` (``Vocabulary(...)`` itself takes the arguments of :meth:`from_bytes`).
    Instances are immutable and picklable; equality and hashing use :attr:`fingerprint`.

    Attributes
    ----------
    token_bytes : tuple[bytes, ...]
        Index = token id, length == ``size``; ``b""`` for special, EOS and unused ids.
    special_ids : frozenset[int]
        Special tokens, never allowed in output (EOS ids are members too; the matcher allows
        EOS separately, exactly when the output is complete).
    eos_token_ids : tuple[int, ...]
        End-of-sequence ids, in the order given, without duplicates; never empty.
    size : int
        Logit width (at least the number of ids the tokenizer defines).
    name : str
        Human-readable name, e.g. the tokenizer's folder name or ``"<bytes>"``.
    fingerprint : str
        Hex SHA-256 over (size, token bytes, special ids, EOS ids); stable across processes and
        runs, independent of ``name``.
    """

    token_bytes: tuple[bytes, ...]
    special_ids: frozenset[int]
    eos_token_ids: tuple[int, ...]
    size: int
    name: str
    fingerprint: str

    def __init__(
        self,
        token_bytes: Sequence[bytes],
        *,
        eos_token_ids: Sequence[int],
        special_ids: Iterable[int] = (),
        vocab_size: int | None = None,
        name: str = "<bytes>",
        special_names: Mapping[int, str] | None = None,
    ) -> None:
        n_defined = len(token_bytes)
        if vocab_size is None:
            size = n_defined
        else:
            size = _check_int(vocab_size, "vocab_size")
            if size < n_defined:
                raise VocabularyError(
                    f"vocab_size={size} is smaller than the {n_defined} token ids of "
                    f"tokenizer {name!r}; pass vocab_size >= {n_defined} (the model's logit width)"
                )
        if size <= 0:
            raise VocabularyError(f"vocabulary {name!r} is empty")
        eos: list[int] = []
        for raw in eos_token_ids:
            i = _check_id(raw, size, "EOS token id", name)
            if i not in eos:
                eos.append(i)
        if not eos:
            raise VocabularyError(f"vocabulary {name!r} needs at least one EOS token id")
        special = frozenset(_check_id(i, size, "special token id", name) for i in special_ids)
        special |= frozenset(eos)

        tb: list[bytes] = list(token_bytes)
        if set(map(type, tb)) - {bytes}:
            for i, b in enumerate(tb):
                if type(b) is not bytes:
                    if not isinstance(b, (bytes, bytearray, memoryview)):
                        raise VocabularyError(
                            f"token {i} of vocabulary {name!r} is {type(b).__name__}, "
                            "expected bytes"
                        )
                    tb[i] = bytes(b)
        for i in special:
            if i < n_defined:
                tb[i] = b""
        if size > n_defined:
            tb.extend([b""] * (size - n_defined))
        token_tuple = tuple(tb)
        lens = np.fromiter(map(len, token_tuple), dtype=np.int64, count=size)

        h = hashlib.sha256(_FINGERPRINT_TAG)
        h.update(struct.pack("<q", size))
        h.update(lens.astype("<u8").tobytes())
        h.update(b"".join(token_tuple))
        for ids in (sorted(special), eos):
            h.update(struct.pack("<q", len(ids)))
            h.update(np.asarray(ids, dtype="<i8").tobytes())

        names = {i: s for i, s in (special_names or {}).items() if i in special}
        sets = object.__setattr__
        sets(self, "token_bytes", token_tuple)
        sets(self, "special_ids", special)
        sets(self, "eos_token_ids", tuple(eos))
        sets(self, "size", size)
        sets(self, "name", name)
        sets(self, "fingerprint", h.hexdigest())
        sets(self, "_lens", lens)
        sets(self, "_special_names", names)
        sets(self, "_arrays", None)

    # -- immutability, equality ---------------------------------------------------------------

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"Vocabulary is immutable (cannot set {key!r})")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Vocabulary is immutable (cannot delete {key!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return (
            f"Vocabulary(name={self.name!r}, size={self.size}, "
            f"special={len(self.special_ids)}, eos={list(self.eos_token_ids)}, "
            f"fingerprint={self.fingerprint[:12]!r})"
        )

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    @property
    def n_words(self) -> int:
        """Number of 32-bit words of a token bitmask: ``ceil(size / 32)``."""
        return (self.size + 31) // 32

    @property
    def arrays(self) -> VocabularyArrays:
        """Flat arrays for the kernels (built on first use, then cached; thread-safe)."""
        arrays: VocabularyArrays | None = self.__dict__["_arrays"]
        if arrays is None:
            with _ARRAYS_LOCK:
                arrays = self.__dict__["_arrays"]
                if arrays is None:
                    arrays = _build_arrays(self.token_bytes, self.__dict__["_lens"])
                    object.__setattr__(self, "_arrays", arrays)
        return arrays

    @functools.cached_property
    def text_flags(self) -> bytes:
        """One byte per id: 1 if the token spells any bytes (not special, EOS, unused or
        empty), else 0; indexed from Python faster than ``arrays.token_len``."""
        return (self.arrays.token_len > 0).tobytes()

    @functools.cached_property
    def token_spans(self) -> tuple[array[int], array[int]]:
        """Per id, the start and length of its bytes in ``arrays.token_data``, as arrays
        of machine ints: indexed from Python faster than ``arrays.token_start``."""
        arrays = self.arrays
        return (array("q", arrays.token_start.astype(np.int64).tobytes()),
                array("q", arrays.token_len.astype(np.int64).tobytes()))

    def is_text_token(self, i: int) -> bool:
        """Return whether token ``i`` is a text token (not special/EOS, non-empty bytes).

        Parameters
        ----------
        i : int
            A token id; ids outside ``range(size)`` are not text tokens.

        Returns
        -------
        bool
        """
        return 0 <= i < self.size and i not in self.special_ids and bool(self.token_bytes[i])

    def token_text(self, i: int) -> str:
        """Return a readable form of token ``i`` for messages.

        Parameters
        ----------
        i : int
            A token id in ``range(size)``.

        Returns
        -------
        str
            The bytes decoded as UTF-8 with ``errors="backslashreplace"``; for special and EOS
            ids the tokenizer's name of the token when known, else ``"<special:ID>"``.

        Raises
        ------
        IndexError
            If ``i`` is not in ``range(size)``.
        """
        if not 0 <= i < self.size:
            raise IndexError(f"token id {i} out of range for vocabulary of size {self.size}")
        if i in self.special_ids:
            names: dict[int, str] = self.__dict__["_special_names"]
            return names.get(i, f"<special:{i}>")
        return self.token_bytes[i].decode("utf-8", errors="backslashreplace")

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_bytes(
        cls,
        token_bytes: Sequence[bytes],
        *,
        eos_token_ids: Sequence[int],
        special_ids: Iterable[int] = (),
        vocab_size: int | None = None,
        name: str = "<bytes>",
    ) -> Vocabulary:
        """Build a vocabulary from the bytes of every token id.

        Parameters
        ----------
        token_bytes : Sequence[bytes]
            ``token_bytes[i]`` is the text of token ``i``. Entries of special and EOS ids are
            ignored (replaced by ``b""``).
        eos_token_ids : Sequence[int]
            End-of-sequence ids (at least one); they become special ids too.
        special_ids : Iterable[int], optional
            Ids that are never text.
        vocab_size : int, optional
            Logit width; defaults to ``len(token_bytes)``. Larger values pad with unused ids.
        name : str, optional
            Name used in messages.

        Returns
        -------
        Vocabulary

        Raises
        ------
        VocabularyError
            If an entry is not bytes, an id is out of range, no EOS id is given or
            ``vocab_size < len(token_bytes)``.
        """
        return cls(
            token_bytes,
            eos_token_ids=eos_token_ids,
            special_ids=special_ids,
            vocab_size=vocab_size,
            name=name,
        )

    @classmethod
    def from_tokenizer_json(
        cls,
        path: str | os.PathLike[str],
        *,
        eos_token_ids: Sequence[int] | None = None,
        vocab_size: int | None = None,
    ) -> Vocabulary:
        """Read a Hugging Face ``tokenizer.json``.

        Results are cached in-process, keyed by the absolute path, modification time and size of
        the file(s) read, ``eos_token_ids`` and ``vocab_size``; repeated loads return the same
        object.

        Parameters
        ----------
        path : str or os.PathLike
            A folder holding ``tokenizer.json`` (and optionally ``tokenizer_config.json``), or the
            ``tokenizer.json`` file itself.
        eos_token_ids : Sequence[int], optional
            End-of-sequence ids. By default the ``eos_token`` of ``tokenizer_config.json`` (next
            to ``tokenizer.json``) is looked up in the added tokens and the vocabulary. Models
            often stop on more than one token (e.g. Gemma 3 on ``<eos>`` and ``<end_of_turn>``,
            Llama 3 instruct on ``<|eot_id|>``); pass them all here.
        vocab_size : int, optional
            The model's logit width when larger than the tokenizer (extra ids are never allowed).
            Defaults to the largest token id + 1.

        Returns
        -------
        Vocabulary

        Raises
        ------
        VocabularyError
            If the file is missing or malformed, the model type is not supported, a token cannot
            be mapped to bytes, the EOS token cannot be determined, or ``vocab_size`` is too
            small.
        """
        p = Path(path).expanduser().absolute()
        file = p / "tokenizer.json" if p.is_dir() else p
        try:
            st = file.stat()
        except OSError as e:
            raise VocabularyError(f"cannot read tokenizer file {str(file)!r}: {e}") from e
        config = file.with_name("tokenizer_config.json")
        config_key: tuple[int, int] | None = None
        if eos_token_ids is None:
            try:
                cst = config.stat()
                config_key = (cst.st_mtime_ns, cst.st_size)
            except OSError:
                config_key = None
        eos_key = (
            None
            if eos_token_ids is None
            else tuple(_check_int(i, "EOS token id") for i in eos_token_ids)
        )
        key: tuple[object, ...] = (
            str(file), st.st_mtime_ns, st.st_size, config_key, eos_key, vocab_size,
        )
        return _CACHE.get_or_build(
            key, lambda: cls._build_from_file(file, config, eos_key, vocab_size)
        )

    @classmethod
    def _build_from_file(
        cls,
        file: Path,
        config: Path,
        eos_token_ids: Sequence[int] | None,
        vocab_size: int | None,
    ) -> Vocabulary:
        try:
            raw = file.read_bytes()
        except OSError as e:
            raise VocabularyError(f"cannot read tokenizer file {str(file)!r}: {e}") from e
        name = file.parent.name if file.name == "tokenizer.json" else file.stem
        config_raw: bytes | None = None
        if eos_token_ids is None:
            try:
                config_raw = config.read_bytes()
            except OSError:
                config_raw = None
        key = prepared_key(raw, config_raw, (name, eos_token_ids, vocab_size))
        hit = load_prepared(key)
        if hit is not None:
            return cls._from_prepared(*hit)
        data = _parse_tokenizer_json(raw, str(file))
        eos_token: str | None = None
        if eos_token_ids is None:
            eos_token = _eos_from_config(config)
        vocab = _from_tokenizer_data(
            cls, data, name=name, eos_token_ids=eos_token_ids, eos_token=eos_token,
            eos_source=str(config), vocab_size=vocab_size,
        )
        vocab._store_prepared(key)
        return vocab

    def _store_prepared(self, key: str) -> None:
        """Save this vocabulary and its kernel arrays in the disk cache."""
        a = self.arrays
        meta = {
            "version": 1, "name": self.name, "size": self.size,
            "fingerprint": self.fingerprint, "eos": list(self.eos_token_ids),
            "special": sorted(self.special_ids),
            "special_names": {str(i): n for i, n in self.__dict__["_special_names"].items()},
            "max_token_len": a.max_token_len,
        }
        store_prepared(key, meta, {"token_data": np.asarray(a.token_data),
                                   "token_len": np.asarray(a.token_len),
                                   "sorted_ids": np.asarray(a.sorted_ids),
                                   "lcp": np.asarray(a.lcp)})

    @classmethod
    def _from_prepared(cls, meta: dict[str, Any], arrays: dict[str, NDArray[Any]]
                       ) -> Vocabulary:
        """Rebuild a vocabulary saved by :meth:`_store_prepared` (no re-parsing)."""
        token_len = arrays["token_len"].astype(np.int32)
        lens = token_len.astype(np.int64)
        token_start = np.zeros(len(lens), dtype=np.int64)
        if len(lens) > 1:
            np.cumsum(lens[:-1], out=token_start[1:])
        data = arrays["token_data"].tobytes()
        ends = (token_start + lens).tolist()
        token_tuple = tuple(data[a:b] for a, b in zip(token_start.tolist(), ends, strict=True))
        self = cls.__new__(cls)
        sets = object.__setattr__
        sets(self, "token_bytes", token_tuple)
        sets(self, "special_ids", frozenset(int(i) for i in meta["special"]))
        sets(self, "eos_token_ids", tuple(int(i) for i in meta["eos"]))
        sets(self, "size", int(meta["size"]))
        sets(self, "name", str(meta["name"]))
        sets(self, "fingerprint", str(meta["fingerprint"]))
        sets(self, "_lens", lens)
        sets(self, "_special_names", {int(i): n for i, n in meta["special_names"].items()})
        sets(self, "_arrays", VocabularyArrays(
            token_data=_readonly(arrays["token_data"].astype(np.uint8)),
            token_start=_readonly(token_start),
            token_len=_readonly(token_len),
            sorted_ids=_readonly(arrays["sorted_ids"].astype(np.int32)),
            lcp=_readonly(arrays["lcp"].astype(np.int32)),
            max_token_len=int(meta["max_token_len"]),
        ))
        return self

    @classmethod
    def from_hf_tokenizer(
        cls,
        tokenizer: Any,
        *,
        eos_token_ids: Sequence[int] | None = None,
        vocab_size: int | None = None,
    ) -> Vocabulary:
        """Read a ``transformers`` fast tokenizer (or a ``tokenizers.Tokenizer``).

        The tokenizer's serialized ``tokenizer.json`` (``backend_tokenizer.to_str()``) is read
        exactly like :meth:`from_tokenizer_json`, so tokens added at runtime are included.

        Parameters
        ----------
        tokenizer : PreTrainedTokenizerFast or tokenizers.Tokenizer
            The tokenizer.
        eos_token_ids : Sequence[int], optional
            Defaults to ``[tokenizer.eos_token_id]``.
        vocab_size : int, optional
            Defaults to ``len(tokenizer)`` (or the largest token id + 1 when that is larger).

        Returns
        -------
        Vocabulary

        Raises
        ------
        VocabularyError
            As :meth:`from_tokenizer_json`; also for slow (Python-only) tokenizers and when the
            tokenizer has no EOS token and none is given.
        """
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None and callable(getattr(tokenizer, "to_str", None)):
            backend = tokenizer
        if backend is None or not callable(getattr(backend, "to_str", None)):
            raise VocabularyError(
                f"{type(tokenizer).__name__} is not a fast tokenizer; load it with "
                "use_fast=True or pass the tokenizer.json path to Vocabulary.from_tokenizer_json"
            )
        name = str(getattr(tokenizer, "name_or_path", "") or "<hf-tokenizer>")
        if eos_token_ids is None:
            eos_id = getattr(tokenizer, "eos_token_id", None)
            if isinstance(eos_id, int):
                eos_token_ids = (eos_id,)
            else:
                raise VocabularyError(
                    f"tokenizer {name!r} has no eos_token_id; pass eos_token_ids=[...]"
                )
        data = _parse_tokenizer_json(str(backend.to_str()), name)
        size_hint: int | None = None
        if tokenizer is not backend:
            try:
                size_hint = len(tokenizer)
            except TypeError:
                size_hint = None
        return _from_tokenizer_data(
            cls, data, name=name, eos_token_ids=eos_token_ids, eos_token=None, eos_source=name,
            vocab_size=vocab_size, size_hint=size_hint,
        )

    @classmethod
    def load(cls, spec: Any, **kw: Any) -> Vocabulary:
        """Build a vocabulary from whatever describes it.

        Parameters
        ----------
        spec : Vocabulary, str, os.PathLike or tokenizer object
            A :class:`Vocabulary` (returned as is), a path for :meth:`from_tokenizer_json`, or a
            fast tokenizer for :meth:`from_hf_tokenizer`.
        **kw
            ``eos_token_ids`` and ``vocab_size``, passed on (must be omitted or ``None`` when
            ``spec`` is already a :class:`Vocabulary`).

        Returns
        -------
        Vocabulary

        Raises
        ------
        VocabularyError
            If ``spec`` is of no supported kind, or as the constructor used.
        """
        unknown = set(kw) - {"eos_token_ids", "vocab_size"}
        if unknown:
            raise TypeError(f"Vocabulary.load() got unexpected arguments {sorted(unknown)}")
        if isinstance(spec, Vocabulary):
            if any(v is not None for v in kw.values()):
                raise VocabularyError(
                    "eos_token_ids/vocab_size cannot be applied to an existing Vocabulary"
                )
            return spec
        if isinstance(spec, (str, os.PathLike)):
            return cls.from_tokenizer_json(spec, **kw)
        if hasattr(spec, "backend_tokenizer") or callable(getattr(spec, "to_str", None)):
            return cls.from_hf_tokenizer(spec, **kw)
        raise VocabularyError(
            f"cannot build a Vocabulary from {type(spec).__name__}; expected a Vocabulary, a "
            "path to tokenizer.json or its folder, or a fast Hugging Face tokenizer"
        )


# --------------------------------------------------------------------------------------------
# Reading tokenizer.json


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise VocabularyError(f"{what} must be an int, got {value!r}")
    return int(value)


def _check_id(value: object, size: int, what: str, name: str) -> int:
    i = _check_int(value, what)
    if not 0 <= i < size:
        raise VocabularyError(f"{what} {i} out of range for vocabulary {name!r} of size {size}")
    return i


_NEEDED_TOP_KEYS = frozenset({"added_tokens", "normalizer", "pre_tokenizer", "decoder"})


def _parse_tokenizer_json(raw: bytes | str, source: str) -> dict[str, Any]:
    """Parse tokenizer.json, skipping ``model.merges`` when the layout allows it.

    Merges are most of the file and are not needed. The ``tokenizers`` library writes ``model``
    last and ``merges`` after ``vocab``, so only the text up to the ``"merges": [`` key is decoded
    and walked key by key (an unescaped ``"merges"`` followed by ``:`` cannot occur inside a JSON
    string); the walk stops at ``merges`` once everything needed was read. Other layouts are
    parsed in full.
    """
    m = _MERGES_KEY_B.search(raw) if isinstance(raw, bytes) else _MERGES_KEY_S.search(raw)
    if m is not None:
        try:
            head = raw[: m.end()]
            fast = _parse_without_merges(head.decode("utf-8") if isinstance(head, bytes) else head)
        except (ValueError, IndexError):  # includes UnicodeDecodeError and JSONDecodeError
            fast = None
        if fast is not None:
            return fast
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except ValueError as e:
        raise VocabularyError(f"{source} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise VocabularyError(f"{source} is not a tokenizer.json object")
    return data


def _parse_without_merges(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    match_ws = _WS.match

    def ws(i: int) -> int:
        m = match_ws(text, i)
        return m.end() if m is not None else i

    def walk(i: int, is_model: bool) -> tuple[dict[str, Any], int, bool]:
        # i points at "{"; returns (object, index after it, complete?)
        obj: dict[str, Any] = {}
        i = ws(i + 1)
        if text[i] == "}":
            return obj, i + 1, True
        while True:
            if text[i] != '"':
                raise ValueError("expected a key")
            key, i = decoder.raw_decode(text, i)
            i = ws(i)
            if text[i] != ":":
                raise ValueError("expected ':'")
            i = ws(i + 1)
            if is_model and key == "merges" and "vocab" in obj and "type" in obj:
                return obj, i, False
            if not is_model and key == "model" and text[i] == "{":
                value, i, complete = walk(i, True)
                obj[key] = value
                if not complete:
                    return obj, i, False
            else:
                obj[key], i = decoder.raw_decode(text, i)
            i = ws(i)
            if text[i] == ",":
                i = ws(i + 1)
                continue
            if text[i] == "}":
                return obj, i + 1, True
            raise ValueError("expected ',' or '}'")

    start = ws(0)
    if text[start] != "{":
        return None
    data, end, complete = walk(start, False)
    if complete:
        return data if not text[ws(end) :] else None
    # Stopped inside "model": keys after it were not read, so everything needed must be here.
    return data if data.keys() >= _NEEDED_TOP_KEYS else None


def _eos_from_config(config: Path) -> str:
    hint = "pass eos_token_ids=[...] explicitly"
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise VocabularyError(f"no {config.name} next to the tokenizer to read the EOS token from; "
                              f"{hint}") from e
    except (OSError, ValueError) as e:
        raise VocabularyError(f"cannot read {str(config)!r}: {e}; {hint}") from e
    eos = cfg.get("eos_token") if isinstance(cfg, dict) else None
    if isinstance(eos, dict):
        eos = eos.get("content")
    if not isinstance(eos, str) or not eos:
        raise VocabularyError(f"{str(config)!r} does not name an eos_token; {hint}")
    return eos


def _decoder_steps(node: Any) -> list[dict[str, Any]]:
    """Flatten a decoder / pre-tokenizer description (``Sequence`` nodes) into its steps."""
    if not isinstance(node, dict):
        return []
    if node.get("type") == "Sequence":
        children = node.get("decoders", node.get("pretokenizers")) or []
        return [s for c in children if isinstance(c, dict) for s in _decoder_steps(c)]
    return [node]


def _from_tokenizer_data(
    cls: type[Vocabulary],
    data: Mapping[str, Any],
    *,
    name: str,
    eos_token_ids: Sequence[int] | None,
    eos_token: str | None,
    eos_source: str,
    vocab_size: int | None,
    size_hint: int | None = None,
) -> Vocabulary:
    model = data.get("model")
    if not isinstance(model, dict):
        raise VocabularyError(f"tokenizer {name!r} has no 'model' section")
    mtype = model.get("type")
    supported = (
        "supported: BPE (byte-level, or SentencePiece-style with '\u2581' and optional "
        "byte_fallback) and Unigram with byte_fallback"
    )
    byte_fallback = bool(model.get("byte_fallback"))
    pieces: list[str]
    ids: list[int]
    if mtype == "BPE" or (mtype is None and isinstance(model.get("vocab"), dict)):
        mtype = "BPE"
        for opt in ("continuing_subword_prefix", "end_of_word_suffix"):
            if model.get(opt):
                raise VocabularyError(
                    f"tokenizer {name!r}: BPE with {opt}={model[opt]!r} is not supported; "
                    f"{supported}"
                )
        vocab = model.get("vocab")
        if not isinstance(vocab, dict):
            raise VocabularyError(f"tokenizer {name!r}: model.vocab is not an object")
        pieces = list(vocab.keys())
        ids = list(vocab.values())
        if set(map(type, ids)) - {int}:
            bad = next(i for i in ids if type(i) is not int)
            raise VocabularyError(f"tokenizer {name!r}: bad token id {bad!r} in model.vocab")
    elif mtype == "Unigram":
        if not byte_fallback:
            raise VocabularyError(
                f"tokenizer {name!r}: Unigram model without byte_fallback is not supported "
                f"(some bytes could not be produced); {supported}"
            )
        uvocab = model.get("vocab")
        if not isinstance(uvocab, list):
            raise VocabularyError(f"tokenizer {name!r}: model.vocab is not a list")
        pieces = [e[0] if isinstance(e, list) and e else e for e in uvocab]
        for i, piece in enumerate(pieces):
            if not isinstance(piece, str):
                raise VocabularyError(f"tokenizer {name!r}: bad Unigram entry {i}: {piece!r}")
        ids = list(range(len(pieces)))
    else:
        raise VocabularyError(f"tokenizer {name!r}: model type {mtype!r} is not supported; "
                              f"{supported}")

    steps = _decoder_steps(data.get("decoder"))
    pre_steps = _decoder_steps(data.get("pre_tokenizer"))
    kinds = {s.get("type") for s in steps}
    space_mark: str | None = None
    for s in steps:
        if s.get("type") == "Metaspace":
            space_mark = str(s.get("replacement", _SPACE_MARK))
        elif (
            s.get("type") == "Replace"
            and s.get("content") == " "
            and isinstance(s.get("pattern"), dict)
            and isinstance(s["pattern"].get("String"), str)
            and s["pattern"]["String"]
        ):
            space_mark = s["pattern"]["String"]
    if "ByteLevel" in kinds or (not steps and any(s.get("type") == "ByteLevel" for s in pre_steps)):
        style = "byte-level"
    elif space_mark is not None or "ByteFallback" in kinds:
        style = "sentencepiece"
    elif any(s.get("type") == "Metaspace" for s in pre_steps):
        style = "sentencepiece"
        space_mark = next(
            str(s.get("replacement", _SPACE_MARK))
            for s in pre_steps
            if s.get("type") == "Metaspace"
        )
    else:
        raise VocabularyError(
            f"tokenizer {name!r}: cannot tell how tokens map to bytes (decoder "
            f"{sorted(str(k) for k in kinds)}); {supported}"
        )
    if style == "sentencepiece" and space_mark is None:
        space_mark = _SPACE_MARK
    if mtype == "Unigram" and style != "sentencepiece":
        raise VocabularyError(f"tokenizer {name!r}: Unigram must be SentencePiece-style; "
                              f"{supported}")

    # Added tokens (override model entries with the same id).
    added = data.get("added_tokens") or []
    if not isinstance(added, list):
        raise VocabularyError(f"tokenizer {name!r}: added_tokens is not a list")
    added_ids: list[int] = []
    added_text: list[str] = []
    special: set[int] = set()
    special_names: dict[int, str] = {}
    content_to_id: dict[str, int] = {}
    for entry in added:
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            raise VocabularyError(f"tokenizer {name!r}: malformed added token {entry!r}")
        aid = _check_int(entry.get("id"), "added token id")
        if aid < 0:
            raise VocabularyError(f"tokenizer {name!r}: negative added token id {aid}")
        content = entry["content"]
        content_to_id.setdefault(content, aid)
        if entry.get("special"):
            special.add(aid)
            special_names[aid] = content
        else:
            added_ids.append(aid)
            added_text.append(content)

    max_id = max(max(ids, default=-1), max(special, default=-1), max(added_ids, default=-1))
    n_ids = max_id + 1
    if n_ids <= 0:
        raise VocabularyError(f"tokenizer {name!r} defines no tokens")
    if vocab_size is None and size_hint is not None:
        vocab_size = max(size_hint, n_ids)
    if vocab_size is not None:
        vocab_size = _check_int(vocab_size, "vocab_size")
        if vocab_size < n_ids:
            raise VocabularyError(
                f"vocab_size={vocab_size} is smaller than the tokenizer {name!r}, which uses ids "
                f"up to {max_id}; pass vocab_size >= {n_ids} (the model's logit width)"
            )

    if style == "byte-level":
        encoded = _byte_level_decode(pieces, ids, name)
    else:
        encoded = _sentencepiece_decode(pieces, ids, space_mark or _SPACE_MARK, name)
    by_id = np.empty(n_ids, dtype=object)
    by_id.fill(b"")
    if ids:
        ids_arr = np.array(ids, dtype=np.int64)
        if ids_arr.min() < 0:
            raise VocabularyError(f"tokenizer {name!r}: negative token id {int(ids_arr.min())}")
        counts = np.bincount(ids_arr)
        if counts.max() > 1:
            dup = int(np.argmax(counts > 1))
            raise VocabularyError(f"tokenizer {name!r}: token id {dup} is used twice in the vocab")
        by_id[ids_arr] = encoded
    table: list[bytes] = by_id.tolist()
    if style == "sentencepiece" and byte_fallback:
        vocab_obj = model["vocab"]
        piece_to_id: Mapping[str, int] = (
            vocab_obj if isinstance(vocab_obj, dict) else dict(zip(pieces, ids, strict=True))
        )
        for value in range(256):
            for piece in (f"<0x{value:02X}>", f"<0x{value:02x}>"):
                pid = piece_to_id.get(piece)
                if pid is not None:
                    table[pid] = bytes((value,))
    for aid, content in zip(added_ids, added_text, strict=True):
        if style == "sentencepiece":
            content = content.replace(space_mark or _SPACE_MARK, " ")
        try:
            table[aid] = content.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            raise VocabularyError(f"tokenizer {name!r}: added token {aid} {content!r} is not "
                                  "valid Unicode") from None

    if eos_token_ids is None:
        if eos_token is None:
            raise VocabularyError(f"tokenizer {name!r}: EOS unknown; pass eos_token_ids=[...]")
        eos_id = content_to_id.get(eos_token)
        if eos_id is None:
            eos_id = dict(zip(pieces, ids, strict=True)).get(eos_token)
        if eos_id is None:
            raise VocabularyError(
                f"tokenizer {name!r}: eos_token {eos_token!r} from {eos_source} is not a token "
                "of the tokenizer; pass eos_token_ids=[...] explicitly"
            )
        eos_token_ids = (eos_id,)
    return cls(
        table, eos_token_ids=eos_token_ids, special_ids=special, vocab_size=vocab_size,
        name=name, special_names=special_names,
    )


def _byte_level_lut() -> NDArray[np.uint16]:
    """Code point -> byte for the GPT-2 alphabet; 256 marks "not in the alphabet"."""
    alphabet = bytes_to_unicode()
    lut = np.full(max(map(ord, alphabet.values())) + 2, 256, dtype=np.uint16)
    for byte, char in alphabet.items():
        lut[ord(char)] = byte
    return lut


_BYTE_LEVEL_LUT = _byte_level_lut()


def _piece_at(pieces: list[str], ids: list[int], char_pos: int) -> tuple[int, str]:
    """The (id, piece) holding character ``char_pos`` of ``"".join(pieces)``."""
    ends = np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)))
    k = int(np.searchsorted(ends, char_pos, side="right"))
    return ids[k], pieces[k]


def _byte_level_decode(pieces: list[str], ids: list[int], name: str) -> list[bytes]:
    """Map GPT-2 alphabet strings to bytes, all at once (one character is one byte)."""
    joined = "".join(pieces)
    try:
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError as e:  # lone surrogates
        tid, piece = _piece_at(pieces, ids, e.start)
        raise VocabularyError(
            f"tokenizer {name!r}: token {tid} {piece!r} is not valid Unicode"
        ) from None
    lut = _BYTE_LEVEL_LUT
    values = lut[np.minimum(codes, lut.shape[0] - 1)]
    bad = np.flatnonzero(values > 255)
    if bad.size:
        pos = int(bad[0])
        tid, piece = _piece_at(pieces, ids, pos)
        char = joined[pos]
        raise VocabularyError(
            f"tokenizer {name!r}: token {tid} {piece!r} has character {char!r} "
            f"(U+{ord(char):04X}) outside the byte-level alphabet"
        )
    data = values.astype(np.uint8).tobytes()
    ends = np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)))
    starts = np.empty_like(ends)
    if ends.size:
        starts[0] = 0
        starts[1:] = ends[:-1]
    return list(map(data.__getitem__, map(slice, starts.tolist(), ends.tolist())))


def _sentencepiece_decode(
    pieces: list[str], ids: list[int], space_mark: str, name: str
) -> list[bytes]:
    """``space_mark`` -> space, then UTF-8 (``<0xNN>`` byte pieces are fixed up by the caller)."""
    if len(space_mark) == 1:
        # All at once: one join, one encode, byte offsets from the code points.
        joined = "".join(pieces).replace(space_mark, " ")
        try:
            data = joined.encode("utf-8")
        except UnicodeEncodeError as e:  # lone surrogates
            tid, piece = _piece_at(pieces, ids, e.start)
            raise VocabularyError(
                f"tokenizer {name!r}: token {tid} {piece!r} is not valid Unicode"
            ) from None
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        width = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
        byte_at = np.zeros(codes.shape[0] + 1, dtype=np.int64)
        np.cumsum(width, out=byte_at[1:])
        char_end = np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)))
        ends = byte_at[char_end]
        starts = np.zeros_like(ends)
        starts[1:] = ends[:-1]
        return list(map(data.__getitem__, map(slice, starts.tolist(), ends.tolist())))
    out: list[bytes] = []
    for tid, piece in zip(ids, pieces, strict=True):
        try:
            out.append(piece.replace(space_mark, " ").encode("utf-8"))
        except UnicodeEncodeError:
            raise VocabularyError(
                f"tokenizer {name!r}: token {tid} {piece!r} is not valid Unicode"
            ) from None
    return out


# --------------------------------------------------------------------------------------------
# Cache


class _VocabularyCache:
    """Small thread-safe LRU of built vocabularies; one build per key at a time."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[object, ...], Vocabulary] = OrderedDict()
        self._building: dict[tuple[object, ...], threading.Lock] = {}

    def get_or_build(
        self, key: tuple[object, ...], build: Callable[[], Vocabulary]
    ) -> Vocabulary:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None:
                    return hit
            try:
                vocab = build()
            except BaseException:
                with self._lock:
                    self._building.pop(key, None)
                raise
            with self._lock:
                self._building.pop(key, None)
                self._entries[key] = vocab
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            return vocab

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CACHE = _VocabularyCache(_CACHE_MAX)


def clear_vocabulary_cache() -> None:
    """Forget the vocabularies cached by :meth:`Vocabulary.from_tokenizer_json`."""
    _CACHE.clear()
