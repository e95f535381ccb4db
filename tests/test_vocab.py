"""Tests of compilers.vocab: token id -> exact bytes, checked against Hugging Face tokenizers."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import random
import subprocess
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compilers.errors import VocabularyError
from compilers.vocab import Vocabulary, VocabularyArrays, bytes_to_unicode, clear_vocabulary_cache

NAMES = ("llama3", "qwen3", "gptoss", "gemma3")
REPO = Path(__file__).resolve().parent.parent
# Fingerprint of the synthetic vocabulary of test_fingerprint_golden.
GOLDEN_FINGERPRINT = "a43c353e9f5ed1a8d3087f4eb9aad29e3ac97bbf9e4188829b3ac7033e4397c4"


# --------------------------------------------------------------------------------------------
# helpers


def brute_force_arrays_check(vocab: Vocabulary) -> None:
    """Check ``vocab.arrays`` against a direct Python computation."""
    a = vocab.arrays
    tb = vocab.token_bytes
    assert a.token_start.shape == a.token_len.shape == (vocab.size,)
    assert a.token_data.dtype == np.uint8 and a.token_start.dtype == np.int64
    assert a.token_len.dtype == np.int32 and a.sorted_ids.dtype == np.int32
    assert a.lcp.dtype == np.int32 and a.lcp.shape == a.sorted_ids.shape
    data = a.token_data.tobytes()
    assert data == b"".join(tb)
    for i in range(vocab.size):
        start, n = int(a.token_start[i]), int(a.token_len[i])
        assert data[start : start + n] == tb[i]
    text_ids = [i for i in range(vocab.size) if vocab.is_text_token(i)]
    expected = sorted(text_ids, key=lambda i: (tb[i], i))
    assert a.sorted_ids.tolist() == expected
    lcp = [0]
    for prev, cur in itertools.pairwise(expected):
        x, y = tb[prev], tb[cur]
        k = 0
        while k < min(len(x), len(y)) and x[k] == y[k]:
            k += 1
        lcp.append(k)
    assert a.lcp.tolist() == lcp
    assert a.max_token_len == max((len(b) for b in tb), default=0)
    for arr in (a.token_data, a.token_start, a.token_len, a.sorted_ids, a.lcp):
        assert not arr.flags.writeable and arr.flags.c_contiguous


def random_texts(seed: int, n: int = 200) -> list[str]:
    """ASCII, JSON, indented multi-line code, and Unicode (emoji, CJK, accents, rare planes).

    U+2581 ("▁") is left out: SentencePiece tokenizers (gemma3) cannot tell it from a space
    (see test_gemma3_literal_space_mark_is_a_space).
    """
    rng = random.Random(seed)
    words = ["the", "quick", "Brown", "fox", "JSON", "schema", "null", "true", "42", "3.14",
             "don't", "it's", "we'll", "x_1", "camelCase", "snake_case", "URL", "http://a.b/c"]
    unicode_bits = ["café", "naïve", "Ærøskøbing", "São Paulo", "Zürich", "façade", "smørrebrød",
                    "日本語のテキスト", "漢字", "中文字符", "한국어", "Привет, мир", "مرحبا",
                    "नमस्ते", "ελληνικά", "😀", "👩‍💻", "🇫🇷", "🚀🚀", "🤖", "∑∫√", "←→", "“quotes”",
                    "—", "…", "\u00a0", "\u200b", "ℕ", "𝔘𝔫𝔦", "\U0001f9ea", "\U000e0041",
                    "\U0010fffd", "\ue000", "<think>", "<table><tr><td>x</td></tr></table>"]

    def ascii_text() -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()[]{}"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))

    def json_value(depth: int) -> Any:
        kind = rng.randrange(6 if depth < 3 else 4)
        if kind == 0:
            return rng.randint(-10**6, 10**6)
        if kind == 1:
            return rng.choice(words + unicode_bits)
        if kind == 2:
            return rng.choice([True, False, None, 1.5e-3])
        if kind == 3:
            return " ".join(rng.choice(words) for _ in range(rng.randint(0, 4)))
        if kind == 4:
            return [json_value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(words): json_value(depth + 1) for _ in range(rng.randint(0, 3))}

    def json_text() -> str:
        indent = rng.choice([None, 2, 4, "\t"])
        return json.dumps(json_value(0), indent=indent, ensure_ascii=rng.random() < 0.3)

    def code_text() -> str:
        lines = []
        for _ in range(rng.randint(1, 8)):
            pad = rng.choice(["", "  ", "    ", "\t", "\t\t", "        ", "   "])
            body = " ".join(rng.choice(words) for _ in range(rng.randint(0, 5)))
            lines.append(pad + body + rng.choice(["", ":", " {", ";", "  ", " "]))
        return rng.choice(["\n", "\r\n", "\n\n"]).join(lines) + rng.choice(["", "\n", "\n\n\n"])

    def unicode_text() -> str:
        parts = [rng.choice(unicode_bits + words) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.4:
            planes = [(0x00A0, 0x07FF), (0x0800, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFD)]
            lo, hi = rng.choice(planes)
            parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 4))))
        return rng.choice([" ", "", "\n", "  "]).join(parts)

    makers: list[Callable[[], str]] = [ascii_text, json_text, code_text, unicode_text]
    texts = [makers[k % len(makers)]() for k in range(n)]
    return [t.replace("\u2581", "_") for t in texts]


# --------------------------------------------------------------------------------------------
# real tokenizers


@pytest.fixture(scope="module")
def hf_tokenizer(tokenizer_dir: Callable[[str], Path]) -> Iterator[Callable[[str], Any]]:
    """``get(name)``: a cached ``transformers.PreTrainedTokenizerFast`` built from tokenizer.json
    alone (so it knows no EOS and applies no tokenizer_config.json settings)."""
    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            folder = tokenizer_dir(name)
            transformers = pytest.importorskip("transformers")
            cache[name] = transformers.PreTrainedTokenizerFast(
                tokenizer_file=str(folder / "tokenizer.json")
            )
        return cache[name]

    yield get
    cache.clear()


@pytest.fixture(scope="module", params=NAMES)
def real(
    request: pytest.FixtureRequest,
    tokenizer_dir: Callable[[str], Path],
    hf_tokenizer: Callable[[str], Any],
) -> tuple[str, Path, Vocabulary, Any]:
    """(name, folder, Vocabulary, transformers.PreTrainedTokenizerFast) per real tokenizer."""
    name: str = request.param
    folder = tokenizer_dir(name)
    return name, folder, Vocabulary.from_tokenizer_json(folder), hf_tokenizer(name)


@pytest.mark.real_tokenizer
def test_encode_roundtrip(real: tuple[str, Path, Vocabulary, Any]) -> None:
    """Concatenated token bytes of HF's encoding are exactly the text's UTF-8 bytes.

    None of the four tokenizers adds a prefix space (llama3/qwen3/gptoss have ByteLevel with
    add_prefix_space=false; gemma3's normalizer only replaces spaces, no Prepend), so no
    adjustment is needed. qwen3 normalizes its input to NFC, so its tokens spell NFC(text).
    """
    name, _, vocab, tok = real
    nfc = name == "qwen3"
    for text in random_texts(seed=NAMES.index(name)):
        ids = tok.encode(text, add_special_tokens=False)
        assert all(vocab.is_text_token(i) for i in ids), (text, ids)
        got = b"".join(vocab.token_bytes[i] for i in ids)
        expected = unicodedata.normalize("NFC", text) if nfc else text
        assert got == expected.encode("utf-8"), (text, ids)


@pytest.mark.real_tokenizer
def test_decode_every_token(real: tuple[str, Path, Vocabulary, Any]) -> None:
    """``tok.decode([id])`` equals our bytes decoded, for every non-special id.

    For ids whose bytes are valid UTF-8 the strings are equal exactly; for partial UTF-8
    sequences both sides substitute U+FFFD the same way (Rust's from_utf8_lossy / the
    ByteFallback decoder vs. Python's errors="replace"). No exceptions were needed.
    """
    _, _, vocab, tok = real
    n_valid = 0
    for i in range(vocab.size):
        if i in vocab.special_ids:
            continue
        b = vocab.token_bytes[i]
        assert b, f"non-special id {i} has no bytes"
        try:
            text = b.decode("utf-8")
            n_valid += 1
        except UnicodeDecodeError:
            text = b.decode("utf-8", errors="replace")
        assert tok.decode([i], clean_up_tokenization_spaces=False) == text, (i, b)
    assert n_valid > 0.98 * (vocab.size - len(vocab.special_ids))


@pytest.mark.real_tokenizer
def test_sizes_specials_and_eos(real: tuple[str, Path, Vocabulary, Any]) -> None:
    name, folder, vocab, tok = real
    assert vocab.size == len(vocab) == len(tok) == len(vocab.token_bytes)
    assert vocab.n_words == (vocab.size + 31) // 32
    assert vocab.name == name
    added = {t.content: i for i, t in tok.added_tokens_decoder.items()}
    specials = {i for i, t in tok.added_tokens_decoder.items() if t.special}
    assert vocab.special_ids == specials
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert vocab.eos_token_ids == (added[config["eos_token"]],)
    for i in specials:
        assert vocab.token_bytes[i] == b"" and not vocab.is_text_token(i)
        assert vocab.token_text(i) == tok.added_tokens_decoder[i].content
    # Non-special added tokens are text.
    for i, t in tok.added_tokens_decoder.items():
        if not t.special:
            assert vocab.is_text_token(i)
            assert vocab.token_bytes[i] == t.content.replace("\u2581", " ").encode("utf-8")


@pytest.mark.real_tokenizer
def test_known_tokens(tokenizer_dir: Callable[[str], Path]) -> None:
    llama = Vocabulary.from_tokenizer_json(tokenizer_dir("llama3"))
    assert llama.special_ids == frozenset(range(128000, 128256))
    assert llama.eos_token_ids == (128001,)
    assert llama.token_text(128001) == "<|end_of_text|>"
    assert llama.token_bytes[220] == b" " and llama.token_bytes[198] == b"\n"

    qwen = Vocabulary.from_tokenizer_json(tokenizer_dir("qwen3"))
    assert qwen.eos_token_ids == (151645,)  # <|im_end|>
    assert qwen.token_bytes[151667] == b"<think>" and qwen.is_text_token(151667)
    assert qwen.token_bytes[151657] == b"<tool_call>"

    gptoss = Vocabulary.from_tokenizer_json(tokenizer_dir("gptoss"))
    assert gptoss.eos_token_ids == (200002,)  # <|return|>
    assert gptoss.token_text(200002) == "<|return|>"

    gemma = Vocabulary.from_tokenizer_json(tokenizer_dir("gemma3"))
    assert gemma.eos_token_ids == (106,)  # <end_of_turn>
    assert gemma.special_ids == frozenset({0, 1, 2, 3, 105, 106, 255999, 256000, 262144})
    assert gemma.token_bytes[107] == b"\n" and gemma.token_bytes[138] == b"  "
    assert gemma.token_bytes[255968] == b"\t"
    # Byte-fallback pieces <0x00>..<0xFF> are ids 238..493: <0x41> is 303, <0xFF> 493.
    assert gemma.token_bytes[238:494] == tuple(bytes((b,)) for b in range(256))
    assert gemma.token_bytes[506] == b" the"  # "▁the"
    # Byte-fallback tokens duplicate some single-character tokens: <0x0A> and "\n".
    assert gemma.token_bytes[248] == gemma.token_bytes[107] == b"\n"


@pytest.mark.real_tokenizer
def test_gemma3_literal_space_mark_is_a_space(
    tokenizer_dir: Callable[[str], Path], hf_tokenizer: Callable[[str], Any]
) -> None:
    """SentencePiece quirk: a literal "▁" in the input decodes as a space, in HF too."""
    tok = hf_tokenizer("gemma3")
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("gemma3"))
    ids = tok.encode("a\u2581\u2581b", add_special_tokens=False)
    assert tok.decode(ids) == "a  b"
    assert b"".join(vocab.token_bytes[i] for i in ids) == b"a  b"


@pytest.mark.real_tokenizer
def test_qwen3_normalizes_to_nfc(
    tokenizer_dir: Callable[[str], Path], hf_tokenizer: Callable[[str], Any]
) -> None:
    tok = hf_tokenizer("qwen3")
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("qwen3"))
    ids = tok.encode("cafe\u0301", add_special_tokens=False)
    assert b"".join(vocab.token_bytes[i] for i in ids) == "caf\u00e9".encode()


@pytest.mark.real_tokenizer
def test_fingerprint_and_cache(tokenizer_dir: Callable[[str], Path]) -> None:
    folder = tokenizer_dir("llama3")
    a = Vocabulary.from_tokenizer_json(folder)
    assert Vocabulary.from_tokenizer_json(folder / "tokenizer.json") is a
    assert Vocabulary.from_tokenizer_json(str(folder)) is a
    clear_vocabulary_cache()
    b = Vocabulary.from_tokenizer_json(folder)
    assert b is not a and b == a and b.fingerprint == a.fingerprint and hash(a) == hash(b)
    assert len(a.fingerprint) == 64 and int(a.fingerprint, 16) >= 0
    padded = Vocabulary.from_tokenizer_json(folder, vocab_size=a.size + 64)
    assert padded.fingerprint != a.fingerprint and padded != a
    other_eos = Vocabulary.from_tokenizer_json(folder, eos_token_ids=[128001, 128009])
    assert other_eos.fingerprint != a.fingerprint
    assert other_eos.eos_token_ids == (128001, 128009)
    assert 128009 in other_eos.special_ids
    # Explicit ids equal to the config's give the same vocabulary.
    assert Vocabulary.from_tokenizer_json(folder, eos_token_ids=[128001]) == a


@pytest.mark.real_tokenizer
def test_fingerprint_stable_across_processes(tokenizer_dir: Callable[[str], Path]) -> None:
    folder = tokenizer_dir("qwen3")
    code = (
        "import sys; from compilers.vocab import Vocabulary; "
        "print(Vocabulary.from_tokenizer_json(sys.argv[1]).fingerprint)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder)], cwd=REPO, capture_output=True, text=True,
        check=True, env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert out.stdout.strip() == Vocabulary.from_tokenizer_json(folder).fingerprint


@pytest.mark.real_tokenizer
def test_concurrent_loads_share_one_object(tokenizer_dir: Callable[[str], Path]) -> None:
    folder = tokenizer_dir("qwen3")
    clear_vocabulary_cache()
    results: list[Vocabulary] = []
    lock = threading.Lock()

    def work() -> None:
        v = Vocabulary.from_tokenizer_json(folder, vocab_size=151936)
        with lock:
            results.append(v)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(v is results[0] for v in results)


@pytest.mark.real_tokenizer
def test_vocab_size_padding_and_too_small(tokenizer_dir: Callable[[str], Path]) -> None:
    folder = tokenizer_dir("qwen3")
    base = Vocabulary.from_tokenizer_json(folder)
    v = Vocabulary.from_tokenizer_json(folder, vocab_size=151936)  # Qwen3's logit width
    assert v.size == len(v.token_bytes) == 151936 and base.size == 151669
    assert v.token_bytes[: base.size] == base.token_bytes
    assert all(b == b"" for b in v.token_bytes[base.size :])
    assert not any(v.is_text_token(i) for i in range(base.size, v.size))
    assert not (v.special_ids & set(range(base.size, v.size)))
    assert v.n_words == (151936 + 31) // 32
    assert not v.arrays.token_len[base.size :].any()
    with pytest.raises(VocabularyError, match="vocab_size"):
        Vocabulary.from_tokenizer_json(folder, vocab_size=151668)


@pytest.mark.real_tokenizer
def test_arrays_llama3(tokenizer_dir: Callable[[str], Path]) -> None:
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("llama3"))
    arrays = vocab.arrays
    assert isinstance(arrays, VocabularyArrays) and vocab.arrays is arrays
    assert arrays.sorted_ids.shape == (128000,)
    brute_force_arrays_check(vocab)


@pytest.mark.real_tokenizer
def test_from_hf_tokenizer_same_fingerprint(real: tuple[str, Path, Vocabulary, Any]) -> None:
    name, _, vocab, tok = real
    with pytest.raises(VocabularyError, match="eos_token_ids"):
        Vocabulary.from_hf_tokenizer(tok)  # built from tokenizer.json alone: no EOS known
    hf = Vocabulary.from_hf_tokenizer(tok, eos_token_ids=vocab.eos_token_ids)
    assert hf.fingerprint == vocab.fingerprint
    if name == "llama3":  # the bare tokenizers.Tokenizer works too
        assert Vocabulary.load(tok.backend_tokenizer, eos_token_ids=vocab.eos_token_ids) == vocab


@pytest.mark.real_tokenizer
def test_from_hf_auto_tokenizer(tokenizer_dir: Callable[[str], Path]) -> None:
    transformers = pytest.importorskip("transformers")
    folder = tokenizer_dir("llama3")
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    vocab = Vocabulary.load(tok)  # EOS from tok.eos_token_id, size len(tok)
    assert vocab == Vocabulary.from_tokenizer_json(folder)
    with pytest.raises(VocabularyError, match="vocab_size"):
        Vocabulary.from_hf_tokenizer(tok, vocab_size=1000)


@pytest.mark.real_tokenizer
def test_load_dispatch(tokenizer_dir: Callable[[str], Path]) -> None:
    folder = tokenizer_dir("llama3")
    v = Vocabulary.load(folder)
    assert Vocabulary.load(str(folder)) is v
    assert Vocabulary.load(v) is v
    assert Vocabulary.load(folder, vocab_size=128512).size == 128512
    with pytest.raises(VocabularyError):
        Vocabulary.load(v, vocab_size=10)
    with pytest.raises(VocabularyError):
        Vocabulary.load(42)
    with pytest.raises(TypeError):
        Vocabulary.load(folder, eos=[1])


# --------------------------------------------------------------------------------------------
# synthetic vocabularies


def test_bytes_to_unicode_is_the_gpt2_table() -> None:
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert table[ord(" ")] == "\u0120" and table[ord("\n")] == "\u010a"
    assert table[ord("A")] == "A" and table[0] == "\u0100" and table[0xAD] == "\u0143"


def test_from_bytes() -> None:
    tokens: list[Any] = [b"<eos>", b"a", b"b", b"ab", b"", b"\xff\xfe", b"<sp>", bytearray(b"c")]
    v = Vocabulary.from_bytes(tokens, eos_token_ids=[0], special_ids=[6], vocab_size=40)
    assert v.size == len(v) == 40 and v.n_words == 2
    assert v.name == "<bytes>"
    assert v.eos_token_ids == (0,) and v.special_ids == frozenset({0, 6})
    assert v.token_bytes[0] == b"" and v.token_bytes[6] == b"" and v.token_bytes[7] == b"c"
    assert [v.is_text_token(i) for i in range(8)] == [False, True, True, True, False, True, False,
                                                      True]
    assert not v.is_text_token(39) and not v.is_text_token(40) and not v.is_text_token(-1)
    assert v.token_text(5) == "\\xff\\xfe" and v.token_text(3) == "ab"
    assert v.token_text(0) == "<special:0>"
    with pytest.raises(IndexError):
        v.token_text(40)
    with pytest.raises(AttributeError):
        v.size = 3
    same = Vocabulary.from_bytes(tokens, eos_token_ids=[0], special_ids=[6], vocab_size=40,
                                 name="other")
    assert same == v and same.fingerprint == v.fingerprint  # name is not part of it
    assert Vocabulary.from_bytes(tokens, eos_token_ids=[0], vocab_size=40) != v
    assert "size=40" in repr(v)
    assert pickle.loads(pickle.dumps(v)) == v


def test_from_bytes_errors() -> None:
    with pytest.raises(VocabularyError, match="vocab_size"):
        Vocabulary.from_bytes([b"a", b"b", b"c"], eos_token_ids=[0], vocab_size=2)
    with pytest.raises(VocabularyError, match="EOS"):
        Vocabulary.from_bytes([b"a", b"b"], eos_token_ids=[])
    with pytest.raises(VocabularyError, match="out of range"):
        Vocabulary.from_bytes([b"a", b"b"], eos_token_ids=[2])
    with pytest.raises(VocabularyError, match="out of range"):
        Vocabulary.from_bytes([b"a", b"b"], eos_token_ids=[0], special_ids=[-1])
    with pytest.raises(VocabularyError, match="expected bytes"):
        Vocabulary.from_bytes([b"a", "b"], eos_token_ids=[0])  # type: ignore[list-item]
    with pytest.raises(VocabularyError, match="int"):
        Vocabulary.from_bytes([b"a", b"b"], eos_token_ids=[True])


def test_fingerprint_golden() -> None:
    """The fingerprint format is part of the cache contract: changing it must be deliberate."""
    v = Vocabulary.from_bytes([b"", b"a", b"bc", b"\x00"], eos_token_ids=[0], special_ids=[3])
    code = (
        "from compilers.vocab import Vocabulary; print(Vocabulary.from_bytes("
        "[b'', b'a', b'bc', b'\\x00'], eos_token_ids=[0], special_ids=[3]).fingerprint)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == v.fingerprint
    assert v.fingerprint == GOLDEN_FINGERPRINT



def test_arrays_synthetic() -> None:
    tokens = [b"", b"ab", b"a", b"a\x00", b"a\x00\x00", b"\x00", b"\xff", b"\xff\x00", b"ab",
              b"abc", b"b", b"", b"ba", b"abd", b"\x80\x80", b"zz", b"a", b"ab\xff"]
    v = Vocabulary.from_bytes(tokens, eos_token_ids=[0], special_ids=[15], vocab_size=20)
    brute_force_arrays_check(v)
    a = v.arrays
    assert a.token_len[15] == 0 and 15 not in a.sorted_ids.tolist()
    # Ties between equal bytes are broken by id.
    order = a.sorted_ids.tolist()
    assert order.index(2) < order.index(16) and order.index(1) < order.index(8)


def test_arrays_random() -> None:
    rng = random.Random(7)
    alphabet = [0, 1, 97, 98, 255]
    tokens = [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 7))) for _ in range(3000)]
    v = Vocabulary.from_bytes(tokens, eos_token_ids=[5], special_ids=range(10, 20),
                              vocab_size=3010)
    brute_force_arrays_check(v)


def test_arrays_tiny() -> None:
    v = Vocabulary.from_bytes([b"x"], eos_token_ids=[0])
    a = v.arrays
    assert a.sorted_ids.size == 0 and a.lcp.size == 0 and a.max_token_len == 0
    brute_force_arrays_check(Vocabulary.from_bytes([b"", b"q"], eos_token_ids=[0]))


# --------------------------------------------------------------------------------------------
# synthetic tokenizer.json files


def write_tokenizer(folder: Path, data: dict[str, Any], eos: Any = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    if eos is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": eos}),
                                                      encoding="utf-8")
    return folder


def added(i: int, content: str, special: bool = True) -> dict[str, Any]:
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def byte_level_json(vocab: dict[str, int], added_tokens: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [["a", "b"], ["Ġ", "a"]]},
    }


def test_byte_level_file(tmp_path: Path) -> None:
    vocab = {"a": 0, "b": 1, "ab": 2, "Ġa": 3, "Ċ": 4, "Ã©": 5, "merges": 6, "ðŁĺ": 7, "Ģ": 8}
    data = byte_level_json(vocab, [added(10, "<eos>"), added(9, "<x>", special=False)])
    folder = write_tokenizer(tmp_path / "bl", data, eos={"content": "<eos>"})
    v = Vocabulary.from_tokenizer_json(folder)
    assert v.name == "bl" and v.size == 11 and v.eos_token_ids == (10,)
    assert v.token_bytes[:10] == (b"a", b"b", b"ab", b" a", b"\n", "é".encode(), b"merges",
                                  b"\xf0\x9f\x98", b"\x80", b"<x>")
    assert v.special_ids == frozenset({10})
    # Same content when "model" comes first (the full-parse path).
    reordered = {"model": data["model"], **{k: x for k, x in data.items() if k != "model"}}
    other = write_tokenizer(tmp_path / "bl2", reordered, eos="<eos>")
    assert Vocabulary.from_tokenizer_json(other / "tokenizer.json") == v


def test_byte_level_bad_character(tmp_path: Path) -> None:
    data = byte_level_json({"a": 0, "a b": 1}, [added(2, "<eos>")])
    folder = write_tokenizer(tmp_path / "bad", data, eos="<eos>")
    with pytest.raises(VocabularyError, match=r"token 1 'a b'.*U\+0020"):
        Vocabulary.from_tokenizer_json(folder)


def sentencepiece_json(decoder: dict[str, Any], byte_fallback: bool = True) -> dict[str, Any]:
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0xE2>": 4, "▁": 5, "▁hello": 6,
             "wor▁ld": 7, "é": 8, "<0xzz>": 9}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>"),
                         added(10, "▁▁", special=False), added(7, "<override>", special=False)],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": None, "post_processor": None, "decoder": decoder,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": byte_fallback, "ignore_merges": False,
                  "vocab": vocab, "merges": ["▁ hello"]},
    }


@pytest.mark.parametrize("decoder", [
    {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1,
                                                    "stop": 0}]},
    {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
])
def test_sentencepiece_file(tmp_path: Path, decoder: dict[str, Any]) -> None:
    folder = write_tokenizer(tmp_path / "sp", sentencepiece_json(decoder), eos="</s>")
    v = Vocabulary.from_tokenizer_json(folder, vocab_size=16)
    assert v.size == 16 and v.eos_token_ids == (2,) and v.special_ids == frozenset({0, 1, 2})
    assert v.token_bytes[3:11] == (b"\n", b"\xe2", b" ", b" hello", b"<override>",
                                   "é".encode(), b"<0xzz>", b"  ")
    assert v.token_text(2) == "</s>"


def test_sentencepiece_without_byte_fallback(tmp_path: Path) -> None:
    decoder = {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}
    folder = write_tokenizer(tmp_path / "sp", sentencepiece_json(decoder, byte_fallback=False))
    v = Vocabulary.from_tokenizer_json(folder, eos_token_ids=[2])
    assert v.token_bytes[3] == b"<0x0A>"


def test_unigram(tmp_path: Path) -> None:
    model = {"type": "Unigram", "unk_id": 0, "byte_fallback": True,
             "vocab": [["<unk>", 0.0], ["</s>", 0.0], ["▁a", -1.0], ["<0x41>", -2.0]]}
    data = {"added_tokens": [added(0, "<unk>"), added(1, "</s>")], "normalizer": None,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁"}, "decoder": None,
            "model": model}
    v = Vocabulary.from_tokenizer_json(write_tokenizer(tmp_path / "u", data, eos="</s>"))
    assert v.token_bytes == (b"", b"", b" a", b"A") and v.eos_token_ids == (1,)
    model["byte_fallback"] = False
    folder = write_tokenizer(tmp_path / "u2", data, eos="</s>")
    with pytest.raises(VocabularyError, match="byte_fallback"):
        Vocabulary.from_tokenizer_json(folder)


def test_unsupported_wordpiece(tmp_path: Path) -> None:
    data = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "[PAD]"), added(1, "[SEP]")],
        "normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": None, "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100,
                  "vocab": {"[PAD]": 0, "[SEP]": 1, "[UNK]": 2, "hello": 3, "##lo": 4}},
    }
    folder = write_tokenizer(tmp_path / "wp", data, eos="[SEP]")
    with pytest.raises(VocabularyError, match=r"'WordPiece' is not supported.*BPE"):
        Vocabulary.from_tokenizer_json(folder)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="cannot read"):
        Vocabulary.from_tokenizer_json(tmp_path / "missing")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(VocabularyError, match="not valid JSON"):
        Vocabulary.from_tokenizer_json(tmp_path / "broken", eos_token_ids=[0])
    data = byte_level_json({"a": 0, "b": 1}, [added(2, "<eos>")])
    no_config = write_tokenizer(tmp_path / "noconf", data)
    with pytest.raises(VocabularyError, match="eos_token_ids"):
        Vocabulary.from_tokenizer_json(no_config)
    assert Vocabulary.from_tokenizer_json(no_config, eos_token_ids=[2]).eos_token_ids == (2,)
    unknown_eos = write_tokenizer(tmp_path / "unk", data, eos="<|nope|>")
    with pytest.raises(VocabularyError, match="eos_token_ids"):
        Vocabulary.from_tokenizer_json(unknown_eos)
    # An eos_token that is an ordinary vocab entry becomes special.
    plain_eos = write_tokenizer(tmp_path / "plain", data, eos="b")
    v = Vocabulary.from_tokenizer_json(plain_eos)
    assert v.eos_token_ids == (1,) and 1 in v.special_ids and v.token_bytes[1] == b""
    dup = byte_level_json({"a": 0, "b": 0}, [added(2, "<eos>")])
    with pytest.raises(VocabularyError, match="used twice"):
        Vocabulary.from_tokenizer_json(write_tokenizer(tmp_path / "dup", dup, eos="<eos>"))
    suffix = byte_level_json({"a": 0}, [added(1, "<eos>")])
    suffix["model"]["end_of_word_suffix"] = "</w>"
    with pytest.raises(VocabularyError, match="end_of_word_suffix"):
        Vocabulary.from_tokenizer_json(write_tokenizer(tmp_path / "sfx", suffix, eos="<eos>"))
    nodecoder = byte_level_json({"a": 0}, [added(1, "<eos>")])
    nodecoder["decoder"] = None
    nodecoder["pre_tokenizer"] = None
    with pytest.raises(VocabularyError, match="cannot tell"):
        Vocabulary.from_tokenizer_json(write_tokenizer(tmp_path / "nd", nodecoder, eos="<eos>"))


def test_cache_sees_file_changes(tmp_path: Path) -> None:
    data = byte_level_json({"a": 0, "b": 1}, [added(2, "<eos>")])
    folder = write_tokenizer(tmp_path / "t", data, eos="<eos>")
    first = Vocabulary.from_tokenizer_json(folder)
    assert Vocabulary.from_tokenizer_json(folder) is first
    data["model"]["vocab"] = {"a": 0, "c": 1, "dd": 3}
    write_tokenizer(tmp_path / "t", data, eos="<eos>")
    second = Vocabulary.from_tokenizer_json(folder)
    assert second is not first and second.token_bytes == (b"a", b"c", b"", b"dd")


@pytest.mark.real_tokenizer
def test_prepared_vocabulary_disk_cache(tokenizer_dir: Callable[[str], Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A vocabulary read back from the disk cache is the one a fresh build gives; a
    damaged cache file is ignored."""
    import compilers.vocab as vocab_module

    monkeypatch.setenv("GRAMMAR_ENGINE_CACHE", str(tmp_path))
    folder = tokenizer_dir("gptoss")
    clear_vocabulary_cache()
    built = Vocabulary.from_tokenizer_json(folder)
    files = list((tmp_path / "vocab").glob("*.npz"))
    assert len(files) == 1
    clear_vocabulary_cache()
    calls: list[int] = []
    real_parse = vocab_module._parse_tokenizer_json
    monkeypatch.setattr(vocab_module, "_parse_tokenizer_json",
                        lambda *a: calls.append(1) or real_parse(*a))
    cached = Vocabulary.from_tokenizer_json(folder)
    assert not calls  # read from the disk cache, not parsed
    assert cached is not built and cached == built
    assert cached.token_bytes == built.token_bytes
    assert (cached.special_ids, cached.eos_token_ids, cached.name, cached.size) == (
        built.special_ids, built.eos_token_ids, built.name, built.size)
    for field in ("token_data", "token_start", "token_len", "sorted_ids", "lcp"):
        a, b = getattr(cached.arrays, field), getattr(built.arrays, field)
        assert a.dtype == b.dtype and np.array_equal(a, b) and not a.flags.writeable
    assert cached.arrays.max_token_len == built.arrays.max_token_len
    files[0].write_bytes(b"not an npz file")
    clear_vocabulary_cache()
    again = Vocabulary.from_tokenizer_json(folder)
    assert again == built and calls
    clear_vocabulary_cache()
