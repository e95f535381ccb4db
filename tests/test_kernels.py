"""Every numba kernel against its plain NumPy twin in ``native.reference``."""

from __future__ import annotations

import numpy as np
import pytest

from native import dfa_kernels, kernels, lexer_kernels, reference


def _random_lexer(rng: np.random.Generator, n_states: int) -> tuple[np.ndarray, np.ndarray]:
    trans = rng.integers(-1, n_states, size=(n_states, 256)).astype(np.int32)
    trans[rng.random((n_states, 256)) < 0.6] = -1
    top = rng.integers(-1, 4, size=n_states).astype(np.int32)
    return trans, top


def _random_vocab(rng: np.random.Generator, size: int):  # type: ignore[no-untyped-def]
    alphabet = np.array([0x20, 0x22, 0x61, 0x62, 0x7B, 0x7D, 0xC3, 0xA9], dtype=np.uint8)
    toks = sorted({bytes(rng.choice(alphabet, size=rng.integers(1, 6)).tolist())
                   for _ in range(size)})
    ids = rng.permutation(len(toks))
    by_id: list[bytes] = [b""] * len(toks)
    for tok, i in zip(toks, ids):
        by_id[i] = tok
    data = np.frombuffer(b"".join(by_id), dtype=np.uint8)
    lens = np.array([len(t) for t in by_id], dtype=np.int32)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    order = sorted(range(len(by_id)), key=lambda i: by_id[i])
    lcp = [0]
    for a, b in zip(order, order[1:]):
        x, y = by_id[a], by_id[b]
        k = 0
        while k < min(len(x), len(y)) and x[k] == y[k]:
            k += 1
        lcp.append(k)
    order_arr = np.array(order, dtype=np.int32)
    firsts = data[starts[order_arr]]
    bounds = np.searchsorted(firsts, np.arange(257)).astype(np.int64)
    s_lens = lens[order_arr]
    s_starts = np.concatenate([[0], np.cumsum(s_lens)[:-1]]).astype(np.int64)
    s_data = np.frombuffer(b"".join(by_id[i] for i in order), dtype=np.uint8)
    return (data, starts, lens, order_arr, np.array(lcp, dtype=np.int32), int(lens.max()),
            bounds, (s_data, s_starts, s_lens))


@pytest.mark.parametrize("seed", range(8))
def test_classify_tokens_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    trans, top = _random_lexer(rng, 6)
    _, _, lens, order, lcp, max_len, bounds, s = _random_vocab(rng, 300)
    n_words = (len(lens) + 31) // 32
    for q in range(6):
        got = kernels.classify_tokens(trans, top, np.int32(q), order, lcp, bounds, *s,
                                      n_words, max_len)
        want = reference.classify_tokens_ref(trans, top, q, order, lcp, bounds, *s,
                                             n_words, max_len)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        g = sorted(zip(got[2].tolist(), got[3].tolist(), got[4].tolist()))
        w = sorted(zip(want[2].tolist(), want[3].tolist(), want[4].tolist()))
        assert g == w


@pytest.mark.parametrize("seed", range(4))
def test_walk_tokens_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    trans, top = _random_lexer(rng, 5)
    data, starts, lens, _, _, _, _, _ = _random_vocab(rng, 200)
    toks = rng.integers(0, len(lens), size=100).astype(np.int32)
    offs = np.array([rng.integers(0, lens[t]) for t in toks], dtype=np.int32)
    for q in range(5):
        got = kernels.walk_tokens(trans, top, np.int32(q), toks, offs, data, starts, lens)
        want = reference.walk_tokens_ref(trans, top, q, toks, offs, data, starts, lens)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
        for t, o in zip(toks.tolist(), offs.tolist()):
            one = kernels.walk_bytes(trans, top, np.int32(q), data, starts[t], o, lens[t])
            ref = reference.walk_bytes_ref(trans, top, q, data, starts[t], o, lens[t])
            assert tuple(int(x) for x in one) == tuple(int(x) for x in ref)


@pytest.mark.parametrize("vocab", [31, 32, 33, 32001, 32011])
def test_set_bits_and_apply_bitmask(vocab: int) -> None:
    rng = np.random.default_rng(vocab)
    n_words = (vocab + 31) // 32
    toks = rng.choice(vocab, size=min(vocab, 500), replace=False).astype(np.int32)
    w1 = np.zeros(n_words, np.uint32)
    w2 = np.zeros(n_words, np.uint32)
    kernels.set_bits(w1, toks)
    reference.set_bits_ref(w2, toks)
    np.testing.assert_array_equal(w1, w2)

    bitmask = rng.integers(-(2**31), 2**31, size=(3, n_words), dtype=np.int64).astype(np.int32)
    logits = rng.standard_normal((3, vocab)).astype(np.float32)
    a, b = logits.copy(), logits.copy()
    kernels.apply_token_bitmask_kernel(a, bitmask)
    reference.apply_token_bitmask_ref(b, bitmask)
    np.testing.assert_array_equal(a, b)
    # Logits wider than the bitmask: the extra tokens are masked.
    wide = rng.standard_normal((3, vocab + 40)).astype(np.float32)
    c, d = wide.copy(), wide.copy()
    kernels.apply_token_bitmask_kernel(c, bitmask)
    reference.apply_token_bitmask_ref(d, bitmask)
    np.testing.assert_array_equal(c, d)
    assert np.isneginf(c[:, -1]).all()


@pytest.mark.parametrize("seed", range(6))
def test_explore_lexer_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, size=4)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    total = int(offsets[-1])
    t_all = np.full((total, 256), -1, np.int32)
    term_of = np.zeros(total, np.int32)
    for t, n in enumerate(sizes.tolist()):
        lo = int(offsets[t])
        local = rng.integers(-1, n, size=(n, 256))
        local[rng.random((n, 256)) < 0.7] = -1
        t_all[lo : lo + n] = np.where(local >= 0, local + lo, -1)
        term_of[lo : lo + n] = t
    acc_all = rng.random(total) < 0.5
    rank_pos = rng.permutation(4).astype(np.int32)
    lazy = rng.random(4) < 0.3
    single = np.full(total, -1, np.int32)
    single[int(offsets[1])] = 7  # pretend one singleton state exists already
    start = offsets[:-1].astype(np.int32)
    got = lexer_kernels.explore_lexer(t_all, acc_all, term_of, rank_pos, lazy, single, start,
                                      10_000)
    want = reference.explore_lexer_ref(t_all, acc_all, term_of, rank_pos, lazy, single,
                                       start, 10_000)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert len(lexer_kernels.explore_lexer(t_all, acc_all, term_of, rank_pos, lazy, single,
                                           start, 1)[0]) in (0, 1)


@pytest.mark.parametrize("seed", range(8))
def test_dfa_kernels_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    trans = rng.integers(-1, n, size=(n, 5)).astype(np.int32)
    trans[rng.random((n, 5)) < 0.5] = -1
    accept = rng.random(n) < 0.3
    np.testing.assert_array_equal(dfa_kernels.coreachable(trans, accept),
                                  reference.coreachable_ref(trans, accept))
    np.testing.assert_array_equal(dfa_kernels.moore_classes(trans, accept),
                                  reference.moore_classes_ref(trans, accept))
    np.testing.assert_array_equal(dfa_kernels.byte_classes(trans),
                                  np.sort(np.unique(trans.T, axis=0, return_index=True)[1]))
