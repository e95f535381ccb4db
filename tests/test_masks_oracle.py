"""The engine's masks against the independent slow oracle (``tests/oracle.py``), bit for bit.

Walks go through each grammar under a small synthetic vocabulary (every state checked over
the whole vocabulary) and under the four real tokenizers (the whole 128k-262k vocabulary at
every checked step). Hypothesis drives the walks' choices; the oracle knows nothing of the
engine's lexer tables, LR tables or token index.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grammar_engine as ge
from tests.grammars import ALL, SAMPLES
from tests.oracle import Oracle, complete_texts_agree_with_lark, reference_mask
from tests.shared_data import TOKENIZERS, hf_tokenizer, real_vocab

# Synthetic vocabulary: every single byte plus multi-byte pieces that cross lexeme
# boundaries in these grammars, and partial UTF-8 sequences.
EXTRA = [
    b'",', b'"}', b'": ', b'},{"', b"[{", b"1,", b"true]", b"\xc3\xa9", b"\xe2\x82", b"  ",
    b'"a"', b'{"', b"e+", b".5", b"null", b"SELECT", b" FROM", b"select *", b"x,", b"=1",
    b"int ", b"if (", b") {", b"};", b"//", b"\n}", b"1+", b"+2", b")*", b"(1", b"12",
    b" AND", b"<=", b"<>", b"'a'", b"ab", b" x", b"\xf0\x9f", b"\x80", b"\xff",
]
SYN_TOKENS = [bytes([i]) for i in range(256)] + EXTRA
SYN_EOS = len(SYN_TOKENS)

_oracles: dict[str, Oracle] = {}


def oracle_for(name: str) -> Oracle:
    if name not in _oracles:
        _oracles[name] = Oracle(ALL[name])
    return _oracles[name]


def synthetic_vocab() -> ge.Vocabulary:
    return ge.Vocabulary.from_bytes([*SYN_TOKENS, b""], eos_token_ids=[SYN_EOS],
                                    special_ids=[SYN_EOS])


def engine_mask(m: ge.Matcher) -> set[int]:
    return set(m.allowed_token_ids().tolist())


def compare(m: ge.Matcher, oracle: Oracle, vocab: ge.Vocabulary, prefix: bytes,
            where: str) -> set[int]:
    got = engine_mask(m)
    text_ids = [i for i in range(vocab.size) if vocab.is_text_token(i)]
    want = reference_mask(oracle, vocab.token_bytes, text_ids, vocab.eos_token_ids, prefix)
    if got != want:
        extra = sorted(got - want)[:10]
        missing = sorted(want - got)[:10]
        raise AssertionError(
            f"{where}: mask differs after {prefix!r}\n"
            f"  false positives (engine allows, oracle rejects): "
            f"{[vocab.token_bytes[t] for t in extra]}\n"
            f"  false negatives (oracle allows, engine rejects): "
            f"{[vocab.token_bytes[t] for t in missing]}"
        )
    return got


@pytest.mark.parametrize("name", sorted(ALL))
def test_oracle_agrees_with_lark_on_samples(name: str) -> None:
    parser = "earley" if name == "ambiguous" else "lalr"
    texts = list(SAMPLES[name])
    texts += [t[:-1] for t in texts] + [t + ")" for t in texts]
    assert complete_texts_agree_with_lark(ALL[name], texts, parser=parser) == []


@pytest.mark.parametrize("name", sorted(ALL))
def test_samples_accepted_byte_by_byte(name: str) -> None:
    vocab = synthetic_vocab()
    g = ge.compile_grammar(ALL[name], vocab)
    for text in SAMPLES[name]:
        m = ge.Matcher(g)
        for b in text.encode():
            assert m.consume_token(b), (text, b)
        assert m.is_accepting(), text


@pytest.mark.parametrize("name", sorted(ALL))
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(choices=st.lists(st.integers(0, 10**9), min_size=1, max_size=60))
def test_synthetic_vocab_walk_every_state(name: str, choices: list[int]) -> None:
    """Every state of the walk: the engine's mask equals the oracle's over the whole vocab."""
    vocab = synthetic_vocab()
    g = ge.compile_grammar(ALL[name], vocab)
    oracle = oracle_for(name)
    m = ge.Matcher(g)
    prefix = b""
    for c in choices:
        allowed = sorted(compare(m, oracle, vocab, prefix, f"{name}/synthetic") - {SYN_EOS})
        if not allowed:
            break
        t = allowed[c % len(allowed)]
        assert m.consume_token(t)
        prefix += vocab.token_bytes[t]


def _walk_real(name: str, tok_name: str, steps: int, rng: random.Random) -> None:
    vocab = real_vocab(tok_name)
    hf = hf_tokenizer(tok_name)
    g = ge.compile_grammar(ALL[name], vocab)
    oracle = oracle_for(name)
    text = rng.choice(SAMPLES[name])
    ids = hf.encode(text, add_special_tokens=False)
    # Follow the sample's tokens for a while, then wander off among allowed tokens,
    # preferring multi-byte tokens (they cross lexeme boundaries).
    follow = rng.randint(0, len(ids))
    m = ge.Matcher(g)
    prefix = b""
    for step in range(steps):
        allowed = compare(m, oracle, vocab, prefix, f"{name}/{tok_name} step {step}")
        allowed.difference_update(vocab.eos_token_ids)
        if step < follow and step < len(ids):
            t = ids[step]
            assert t in allowed, (text, step)
        elif allowed:
            pool = sorted(allowed)
            long = [x for x in pool if len(vocab.token_bytes[x]) > 1]
            t = rng.choice(long if long and rng.random() < 0.8 else pool)
        else:
            break
        assert m.consume_token(t)
        prefix += vocab.token_bytes[t]


@pytest.mark.real_tokenizer
@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("name", sorted(ALL))
@settings(max_examples=1, deadline=None, derandomize=True, database=None)
@given(rng=st.randoms(use_true_random=False))
def test_real_tokenizer_walk(name: str, tok_name: str, rng: random.Random) -> None:
    _walk_real(name, tok_name, steps=6, rng=rng)


@pytest.mark.slow
@pytest.mark.real_tokenizer
@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("name", sorted(ALL))
@settings(max_examples=5, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_real_tokenizer_long_walk(name: str, tok_name: str, rng: random.Random) -> None:
    _walk_real(name, tok_name, steps=40, rng=rng)
