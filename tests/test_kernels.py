"""Every numba kernel against its plain NumPy twin in ``native.reference``."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from compilers.token_slices import row_starts
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


# Byte classes over _random_vocab's alphabet, for the trie's node flags: runs of ``a``/``b``,
# of those and space, of the whole alphabet.
_TEST_CLASSES = (b"ab", b" ab", bytes([0x20, 0x22, 0x61, 0x62, 0x7B, 0x7D, 0xC3, 0xA9]))


def _test_byte_flags() -> NDArray[np.uint16]:
    flags = np.zeros(256, dtype=np.uint16)
    for k, members in enumerate(_TEST_CLASSES):
        flags[list(members)] |= np.uint16(1 << k)
    return flags


def _closed_ref(trans: NDArray[np.int32], classes: tuple[bytes, ...]) -> NDArray[np.uint16]:
    """Bit k of state s: every state reachable from s by class-k bytes has all of them."""
    flags = np.zeros(len(trans), dtype=np.uint16)
    for k, members in enumerate(classes):
        for s in range(len(trans)):
            seen, todo, ok = {s}, [s], True
            while todo and ok:
                c = todo.pop()
                for b in members:
                    t = int(trans[c, b])
                    if t < 0:
                        ok = False
                        break
                    if t not in seen:
                        seen.add(t)
                        todo.append(t)
            if ok:
                flags[s] |= 1 << k
    return flags


def _lexer_with_closed_states(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random lexer whose states 4 and 5 loop on ``a``/``b`` (closed under class 0),
    reached from states 0-3 on ``a``."""
    trans, top = _random_lexer(rng, 7)
    trans[4, [0x61, 0x62]] = [4, 5]
    trans[5, [0x61, 0x62, 0x20]] = [4, 5, 5]
    trans[4, 0x20] = 6
    trans[:4, 0x61] = rng.integers(4, 6, size=4)
    return trans, top


def test_closed_classes_matches_reference() -> None:
    """Computed in two steps, as a lexer grows: first three states that lead only among
    themselves, then four that lead into them (whose search takes the first three's flags
    as given). The flags must equal a search from every state."""
    for seed in range(10):
        rng = np.random.default_rng(300 + seed)
        trans, _ = _lexer_with_closed_states(rng)
        trans[4:, :] = np.where(trans[4:, :] < 4, -1, trans[4:, :])  # 4-6 stay among themselves
        classes = _TEST_CLASSES
        # Every byte stands for itself here: the bytes of some class, with their classes.
        meets = _test_byte_flags()
        rep_bytes = np.flatnonzero(meets).astype(np.int32)
        rep_classes = meets[rep_bytes]
        # Rows 4-6 first (they lead nowhere else), then 0-3 on top of them: the order in
        # which a lexer's states appear is the order in which their rows are final.
        order = np.array([4, 5, 6, 0, 1, 2, 3])
        perm = np.argsort(order)  # old id -> new id
        renum = np.where(trans[order] >= 0, perm[np.maximum(trans[order], 0)], -1).astype(np.int32)
        flags = np.zeros(7, dtype=np.uint16)
        lexer_kernels.closed_classes(renum, rep_bytes, rep_classes, flags, 0, 3)
        lexer_kernels.closed_classes(renum, rep_bytes, rep_classes, flags, 3, 7)
        want = _closed_ref(renum, classes)
        np.testing.assert_array_equal(flags, want)
        assert want[0] & 1  # the old state 4 loops on a/b


def _classed_dfa(rng: np.random.Generator, n_states: int, offset: int
                 ) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """A random DFA with a few byte classes (numbered by first byte) among the test
    classes' bytes, its rows shifted to global ids from ``offset``."""
    raw = rng.integers(0, 4, size=256)
    raw[[0x61, 0x62]] = rng.integers(0, 4, size=2)
    _, first, class_of = np.unique(raw, return_index=True, return_inverse=True)
    class_of = np.argsort(np.argsort(first))[class_of].astype(np.int32)
    cols = rng.integers(-1, n_states, size=(n_states, class_of.max() + 1))
    cols[rng.random(cols.shape) < 0.3] = -1
    trans = cols[:, class_of]
    return np.where(trans >= 0, trans + offset, -1).astype(np.int32), class_of


def test_dfa_closed_classes_matches_reference() -> None:
    """The flags of one DFA stacked among others (its rows lead only among themselves),
    read at its own byte classes, equal a search from each of its states; class_reps
    equals its reference."""
    byte_flags = _test_byte_flags()
    n_closed = 0
    for seed in range(20):
        rng = np.random.default_rng(900 + seed)
        dfa, class_of = _classed_dfa(rng, 6, offset=5)
        trans = np.vstack([np.full((5, 256), -1, np.int32), dfa,
                           np.full((3, 256), 7, np.int32)])
        flags = np.full(len(trans), 0xFFFF, dtype=np.uint16)
        lexer_kernels.dfa_closed_classes(trans, class_of, byte_flags, flags, 5, 11)
        want = _closed_ref(trans, _TEST_CLASSES)
        np.testing.assert_array_equal(flags[5:11], want[5:11])
        assert (flags[:5] == 0xFFFF).all() and (flags[11:] == 0xFFFF).all()  # untouched
        n_closed += int((want[5:11] != 0).sum())
        rep_bytes, rep_classes = lexer_kernels.class_reps(class_of, byte_flags)
        meets = np.zeros(class_of.max() + 1, dtype=np.uint16)
        np.bitwise_or.at(meets, class_of, byte_flags)
        runs = np.flatnonzero(meets)
        firsts = np.array([np.flatnonzero(class_of == c)[0] for c in runs])
        np.testing.assert_array_equal(rep_bytes, firsts)
        np.testing.assert_array_equal(rep_classes, meets[runs])
    assert n_closed > 0  # some states were closed under some class


def test_trie_nodes_matches_reference() -> None:
    """The trie spells the tokens; each node's subtree end and the AND of the byte flags
    below it equal a scan of every token that has the node's bytes."""
    rng = np.random.default_rng(7)
    _, _, _, _, lcp, _, _, (s_data, s_starts, s_lens) = _random_vocab(rng, 400)
    byte_flags = _test_byte_flags()
    info, nodes = kernels.trie_nodes(lcp, s_lens, s_data, s_starts, byte_flags)
    toks = [bytes(s_data[s_starts[p] : s_starts[p] + s_lens[p]]) for p in range(len(s_lens))]
    assert reference.trie_tokens_ref(info, nodes) == toks
    assert len(nodes) == len(set(t[:d] for t in toks for d in range(1, len(t) + 1)))
    for i, tok in enumerate(toks):
        for d in range(int(lcp[i]), len(tok)):
            node = int(nodes[(int(info[i]) >> 32) + d])
            j = i + 1
            while j < len(toks) and toks[j][: d + 1] == tok[: d + 1]:
                j += 1
            assert node & 0xFFFFFFFF == j
            want = 0xFFFF
            for t in toks[i:j]:
                for b in t[d + 1 :]:
                    want &= int(byte_flags[b])
            assert (node >> 32) & 0xFFFF == want


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("restarting", [False, True], ids=["plain", "restarts"])
def test_classify_tokens_matches_reference(seed: int, restarting: bool) -> None:
    """With ``restarts``, lexemes of some top values end back into ``q`` (ignored
    terminals): a walk goes on from ``q`` at the byte that ended them. States 4 and 5
    are closed under runs of ``a``/``b``, so the kernel settles whole subtrees there;
    some states accept with most first bytes missing (``first_dead`` by complement)."""
    rng = np.random.default_rng(seed)
    trans, top = _lexer_with_closed_states(rng)
    top[6] = 0
    trans[6, :] = -1
    trans[6, 0x61] = 4
    _, _, lens, order, lcp, max_len, bounds, s = _random_vocab(rng, 300)
    n_words = (len(lens) + 31) // 32
    restarts = np.array([True, False, True], dtype=np.bool_) if restarting \
        else np.zeros(0, dtype=np.bool_)  # top value 3 lies past the array: no restart
    info, nodes = kernels.trie_nodes(lcp, s[2], s[0], s[1], _test_byte_flags())
    closed = _closed_ref(trans, _TEST_CLASSES)
    assert closed[4] & 1 and closed[5] & 1
    all_bits = np.zeros(n_words, dtype=np.uint32)
    kernels.set_bits(all_bits, order)
    for q, into in itertools.product(range(7), (0, 3)):
        # Ignored lexemes restart in q itself (a fresh state), or in another state (q
        # inside whitespace, restarting in the state after it).
        restart_to = np.int32((q + into) % 7)
        args = (order, bounds, n_words, max_len, restarts, restart_to, info, nodes, closed,
                all_bits)
        got = kernels.classify_tokens(trans, top, np.int32(q), *args)
        want = reference.classify_tokens_ref(trans, top, q, *args)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        g = sorted(zip(*(a.tolist() for a in got[2:]), strict=True))
        w = sorted(zip(*(a.tolist() for a in want[2:]), strict=True))
        assert g == w


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("restarting", [False, True], ids=["plain", "restarts"])
def test_walk_tokens_matches_reference(seed: int, restarting: bool) -> None:
    """Tokens in sorted order, each walked from its first ``{`` or ``"`` (an offset fixed
    by the bytes up to it, as in the token index's groups): runs of tokens that die alike
    are skipped, and the verdicts equal the reference's (with lexemes of some top values
    restarting in ``q``, or not). States 4 and 5 are closed under runs of ``a``/``b``:
    the tokens below a trie node reached there are inside at once. Given the bytes at the
    offsets (``firsts``), the kernel skips the tokens that die there and finds the same."""
    rng = np.random.default_rng(100 + seed)
    trans, top = _lexer_with_closed_states(rng)
    top[:3] = -1  # states where a missing byte kills the token
    _, _, _, _, lcp, _, _, (s_data, s_starts, s_lens) = _random_vocab(rng, 400)
    trie = kernels.trie_nodes(lcp, s_lens, s_data, s_starts, _test_byte_flags())
    closed = _closed_ref(trans, _TEST_CLASSES)
    toks, offs = [], []
    for p in range(len(s_lens)):
        tok = s_data[s_starts[p] : s_starts[p] + s_lens[p]].tolist()
        hits = [j for j, b in enumerate(tok) if b in (0x7B, 0x22)]
        if hits:
            toks.append(p)
            offs.append(hits[0])
    toks_a, offs_a = np.array(toks, np.int32), np.array(offs, np.int32)
    firsts = s_data[s_starts[toks_a] + offs_a]
    no_firsts = np.zeros(0, dtype=np.uint8)
    assert len(toks) > 100
    restarts = np.array([True, False, True], dtype=np.bool_) if restarting \
        else np.zeros(0, dtype=np.bool_)
    n_dead = 0
    n_skippable = 0
    for q, given in itertools.product(range(7), (no_firsts, firsts)):
        args = (toks_a, offs_a, given, s_data, s_starts, s_lens, restarts, *trie, closed)
        got = kernels.walk_tokens(trans, top, np.int32(q), *args)
        want = reference.walk_tokens_ref(trans, top, q, *args)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
        n_dead += len(toks) - len(got[0]) - len(got[1])
        if top[q] < 0:
            n_skippable += int((trans[q, firsts] < 0).sum())
    assert n_dead > 100  # many dead tokens, most in runs
    assert n_skippable > 100  # many of them skipped at their first byte


@pytest.mark.parametrize("seed", range(4))
def test_walk_bytes_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    trans, top = _random_lexer(rng, 5)
    data, starts, lens, _, _, _, _, _ = _random_vocab(rng, 200)
    toks = rng.integers(0, len(lens), size=100).astype(np.int32)
    offs = np.array([rng.integers(0, lens[t]) for t in toks], dtype=np.int32)
    for q in range(5):
        for t, o in zip(toks.tolist(), offs.tolist()):
            one = kernels.walk_bytes(trans, top, np.int32(q), data, starts[t], o, lens[t])
            ref = reference.walk_bytes_ref(trans, top, q, data, starts[t], o, lens[t])
            assert tuple(int(x) for x in one) == tuple(int(x) for x in ref)


@pytest.mark.parametrize("seed", range(4))
def test_walk_token_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    trans, top = _random_lexer(rng, 5)
    top[:2] = -1, 0  # states that do not and do end a lexeme
    data, starts, lens, _, _, _, _, _ = _random_vocab(rng, 200)
    kinds = set()
    for q in range(5):
        for t in range(len(lens)):
            one = kernels.walk_token(trans, top, q, data, starts, lens, t)
            ref = reference.walk_token_ref(trans, top, q, data, starts, lens, t)
            assert tuple(int(x) for x in one) == tuple(int(x) for x in ref)
            assert tuple(int(x) for x in one) == tuple(
                int(x) for x in reference.walk_bytes_ref(trans, top, q, data, starts[t], 0,
                                                         lens[t]))
            kinds.add(int(one[0]))
    assert kinds == {kernels.KIND_INSIDE, kernels.KIND_DEAD, kernels.KIND_BOUNDARY}


@pytest.mark.parametrize("seed", range(4))
def test_group_by_label_is_a_stable_grouping(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(3 + seed, 9 + 3 * seed, size=50 * seed + 1).astype(np.int32)
    order, distinct, bounds = kernels.group_by_label(labels)
    assert distinct.tolist() == sorted(set(labels.tolist()))
    for k, label in enumerate(distinct.tolist()):
        part = order[bounds[k] : bounds[k + 1]].tolist()
        assert part == [i for i, x in enumerate(labels.tolist()) if x == label]
    assert bounds[-1] == len(labels)


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
    # Verdicts of resolve kernels: 1 sets the token's bit, 2 and 3 are returned as pending.
    ids = rng.permutation(vocab).astype(np.int32)
    verdict = rng.integers(0, 4, size=len(toks)).astype(np.int8)
    for words, fn in ((w1, kernels.set_allowed), (w2, reference.set_allowed_ref)):
        words[:] = 0
        pending = fn(words, ids, toks, verdict)
        np.testing.assert_array_equal(pending, np.flatnonzero(verdict >= 2))
    np.testing.assert_array_equal(w1, w2)
    assert w1.any()

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


def _bfs_relabel(trans: np.ndarray, top: np.ndarray, root: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The automaton reachable from ``root``, states renumbered in breadth-first order."""
    order, index = [root], {root: 0}
    i = 0
    while i < len(order):
        for t in trans[order[i]].tolist():
            if t >= 0 and t not in index:
                index[t] = len(order)
                order.append(t)
        i += 1
    sub = trans[order]
    return (np.where(sub >= 0, np.vectorize(lambda t: index.get(t, -1))(sub), -1),
            top[order])


@pytest.mark.parametrize("seed", range(6))
def test_grow_lexer_matches_reference(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from compilers import lexer as lexer_module
    from compilers.automata import ByteDFA
    from compilers.lexer import ContextualLexer

    monkeypatch.setattr(lexer_module, "_RESERVED_STATES", 64)  # make the arrays grow
    monkeypatch.setattr(lexer_module, "_INITIAL_SLOTS", 64)

    rng = np.random.default_rng(seed)
    dfas = []
    for _ in range(5):
        n = int(rng.integers(3, 12))
        local = np.full((n, 256), -1, np.int32)
        local[:, 97:105] = rng.integers(0, n, size=(n, 8))
        local[rng.random((n, 256)) < 0.3] = -1
        dfas.append(ByteDFA(local, rng.random(n) < 0.5))
    lazy = (rng.random(5) < 0.3).tolist()
    # Two priority tiers: states that several terminals of one tier accept are tied.
    ranks = [(int(rng.integers(0, 2)), int(r)) for r in rng.permutation(5)]
    # Terminal 3 excludes the strings of other automata (veto rows); with an odd seed,
    # terminal 1 its own, so that it never ends a lexeme.
    excludes: list[tuple[ByteDFA, ...]] = [() for _ in range(5)]
    excludes[3] = tuple(ByteDFA(d.trans.copy(), rng.random(d.n_states) < 0.5)
                        for d in rng.choice(dfas, size=int(rng.integers(1, 3))))
    if seed % 2:
        excludes[1] = (ByteDFA(dfas[1].trans.copy(), dfas[1].accept.copy()),)
    lexer = ContextualLexer(dfas, ranks, lazy, [False] * 5, 100_000, excludes=excludes)
    n_tied = 0
    for allowed in ({0, 1}, {0, 1, 2, 3, 4}, {2}, {1, 3, 4}, {0, 1}):
        root = lexer.start_state(frozenset(allowed))
        start = np.array(sorted([int(lexer._offset[i]) for i in allowed] + [
            v for i in allowed for v in lexer._veto_starts.get(i, ())]), np.int32)
        want = reference.product_lexer_ref(lexer._trans[: lexer.base], lexer._acc_all,
                                           lexer._term_of,
                                           lexer._rank_pos, lexer._tier, lexer._lazy, start,
                                           lexer._veto_acc, lexer._veto_base)
        trans, top = lexer.arrays
        got = _bfs_relabel(trans, 2 * top + lexer._tied[: len(top)], root)
        # The fresh start may be re-entered as a non-fresh state: compare via BFS of both.
        want_r = _bfs_relabel(want[0], 2 * want[1] + want[2], 0)
        n_tied += int(want[2].sum())
        np.testing.assert_array_equal(got[0], want_r[0])
        np.testing.assert_array_equal(got[1], want_r[1])
        if seed % 2:
            assert 1 not in (got[1] // 2).tolist()  # excluded entirely
    cap = 64 + lexer.base
    assert lexer.n_states > cap  # the arrays grew at least once
    assert n_tied > 0 or seed % 2
    assert lexer._trans.shape[0] > cap and lexer._slots.shape[0] > 64


@pytest.mark.parametrize("seed", range(8))
def test_dfa_kernels_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    trans = rng.integers(-1, n, size=(n, 5)).astype(np.int32)
    trans[rng.random((n, 5)) < 0.5] = -1
    accept = rng.random(n) < 0.3
    np.testing.assert_array_equal(dfa_kernels.coreachable(trans, accept),
                                  reference.coreachable_ref(trans, accept))
    np.testing.assert_array_equal(dfa_kernels.state_classes(trans, accept),
                                  reference.moore_classes_ref(trans, accept))
    assert dfa_kernels.canonical_runs(trans, accept, np.arange(5, dtype=np.int32)).tolist() \
        == reference.canonical_runs_ref(trans, accept)
    np.testing.assert_array_equal(dfa_kernels.byte_classes(trans),
                                  np.sort(np.unique(trans.T, axis=0, return_index=True)[1]))
    _, first, inverse = np.unique(trans.T, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))  # classes numbered by first column
    np.testing.assert_array_equal(dfa_kernels.byte_class_of(trans), rank[inverse.ravel()])
    wide = np.repeat(trans, 52, axis=1)[:, :256]  # classes over all 256 bytes
    class_of = dfa_kernels.byte_class_of(np.ascontiguousarray(wide))
    starts, first = dfa_kernels.class_layout(class_of)
    np.testing.assert_array_equal(starts, np.flatnonzero(np.diff(class_of, prepend=-1)))
    np.testing.assert_array_equal(first, np.unique(class_of, return_index=True)[1])


def _random_dfa(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random DFA over the bytes 97..101 (zero states now and then)."""
    n = int(rng.integers(0, 12)) if rng.random() < 0.9 else 0
    trans = np.full((n, 256), -1, np.int32)
    if n:
        trans[:, 97:102] = rng.integers(-1, n, size=(n, 5))
        trans[:, 99] = np.where(rng.random(n) < 0.5, trans[:, 99], -1)
    return trans, rng.random(n) < 0.4


@pytest.mark.parametrize("seed", range(12))
def test_minimal_product_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(20):
        (ta, aa), (tb, ab) = _random_dfa(rng), _random_dfa(rng)
        parts = [dfa_kernels.byte_class_of(t) for t in (ta, tb) if t.shape[0]]
        class_of = dfa_kernels.joint_classes(np.stack(parts)) if parts else \
            np.zeros(256, np.int32)
        for op in (0, 1, 2):
            got_t, got_a, ok = dfa_kernels.minimal_product(ta, aa, tb, ab, class_of, op, 10_000)
            want_t, want_a = reference.minimal_product_ref(ta, aa, tb, ab, op)
            assert ok
            np.testing.assert_array_equal(got_t, want_t)
            np.testing.assert_array_equal(got_a, want_a)
    ta, aa = np.full((3, 256), -1, np.int32), np.ones(3, np.bool_)  # the state limit
    ta[0, 97], ta[1, 97], ta[2, 97] = 1, 2, 0
    tb, ab = ta.copy(), aa.copy()
    tb[2, 97] = -1
    assert not dfa_kernels.minimal_product(ta, aa, tb, ab, dfa_kernels.byte_class_of(ta),
                                           1, 2)[2]


def _acyclic(dfa: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The DFA with every edge that does not go to a higher state dropped (as the JSON
    literals' automata: a walk over them and a base splits into a closed and an acyclic
    part, which ``minimal_union`` minimises apart)."""
    t, a = dfa
    return np.where(t > np.arange(len(t))[:, None], t, -1).astype(np.int32), a


@pytest.mark.parametrize("seed", range(12))
def test_minimal_union_matches_folded_products(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for i in range(20):
        dfas = [d for d in (_random_dfa(rng) for _ in range(int(rng.integers(1, 5))))
                if d[0].shape[0]]
        if i % 2:
            dfas = [_acyclic(d) for d in dfas]
        base = np.cumsum([0] + [t.shape[0] for t, _ in dfas])
        src, byt, dst = [], [], []
        for (t, _), off in zip(dfas, base):
            s, b = np.nonzero(t >= 0)
            src += (s + off).tolist()
            byt += b.tolist()
            dst += (t[s, b] + off).tolist()
        edge_start = np.zeros(base[-1] + 1, np.int64)
        np.cumsum(np.bincount(np.asarray(src, np.int64), minlength=base[-1]),
                  out=edge_start[1:])
        accept = np.concatenate([a for _, a in dfas] or [np.zeros(0, np.bool_)])
        edge_byte, edge_dst = np.asarray(byt, np.int32), np.asarray(dst, np.int32)
        class_of = dfa_kernels.edge_byte_classes(edge_start, edge_byte, edge_dst)
        raw = np.concatenate([t for t, _ in dfas] or [np.zeros((0, 256), np.int32)])
        dense = np.where(raw >= 0, raw + np.repeat(base[:-1], np.diff(base))[:, None], -1)
        np.testing.assert_array_equal(class_of, dfa_kernels.byte_class_of(dense.astype(np.int32)))
        no_base = np.zeros((0, 256), np.int32), np.zeros(0, np.bool_)
        got_t, got_a, ok = dfa_kernels.minimal_union(
            base[:-1].astype(np.int64), edge_start, edge_byte, edge_dst, accept, *no_base,
            class_of, 10_000)
        assert ok
        want_t, want_a = no_base
        for t, a in dfas:
            want_t, want_a = reference.minimal_product_ref(want_t, want_a, t, a, 1)
        np.testing.assert_array_equal(got_t, want_t)
        np.testing.assert_array_equal(got_a, want_a)
        # A base DFA minus the union.
        bt, ba = _random_dfa(rng)
        if bt.shape[0]:
            joint = dfa_kernels.joint_classes(np.stack([class_of, dfa_kernels.byte_class_of(bt)]))
            got_t, got_a, ok = dfa_kernels.minimal_union(
                base[:-1].astype(np.int64), edge_start, edge_byte, edge_dst, accept, bt, ba,
                joint, 10_000)
            assert ok
            want_t, want_a = reference.minimal_product_ref(bt, ba, want_t, want_a, 2)
            np.testing.assert_array_equal(got_t, want_t)
            np.testing.assert_array_equal(got_a, want_a)
    edges = (np.array([0, 1, 2, 3], np.int64), np.array([97, 98, 99], np.int32))
    edge_start, edge_dst = np.array([0, 1, 2, 2, 3, 3, 3], np.int64), np.array([1, 2, 4], np.int32)
    assert not dfa_kernels.minimal_union(  # the state limit: 3 walk states needed
        np.array([0, 3], np.int64), edge_start, edges[1], edge_dst,
        np.array([0, 0, 1, 0, 1, 0], np.bool_), np.zeros((0, 256), np.int32),
        np.zeros(0, np.bool_), dfa_kernels.edge_byte_classes(edge_start, edges[1], edge_dst),
        2)[2]


def test_offset_rows_matches_reference() -> None:
    rng = np.random.default_rng(0)
    trans = rng.integers(-1, 9, size=(30, 256)).astype(np.int32)
    offsets = rng.integers(0, 1000, size=30).astype(np.int32)
    want = np.where(trans >= 0, trans + offsets[:, None], -1)
    lexer_kernels.offset_rows(trans, offsets)
    np.testing.assert_array_equal(trans, want)


def _interval_rows(rng: np.random.Generator, n_rows: int, n_cuts: int, n_targets: int,
                   p_dead: float) -> NDArray[np.int32]:
    """Rows constant on random byte intervals (as lexer rows are on byte classes)."""
    cuts = np.unique(np.concatenate(([0], rng.integers(1, 256, size=n_cuts), [256])))
    table = np.empty((n_rows, 256), np.int32)
    for lo, hi in itertools.pairwise(cuts.tolist()):
        col = rng.integers(0, n_targets, size=n_rows)
        col[rng.random(n_rows) < p_dead] = -1
        table[:, lo:hi] = col[:, None]
    return table


_NONE = np.zeros(0, dtype=np.bool_)


@pytest.mark.parametrize("seed", range(8))
def test_stays_alive_matches_reference(seed: int) -> None:
    """Random lexers and text automata, each constant on its own byte intervals: the kernel
    reads only the bytes where either changes, and agrees with the reference, which reads
    all 256. Also with lexemes of some top values restarting in ``q``, and with closed
    classes that end the search early."""
    rng = np.random.default_rng(seed)
    n = 12
    trans = _interval_rows(rng, n, 12, n, 0.08)
    top = rng.integers(-1, 3, size=n).astype(np.int32)
    one_state = np.full((1, 256), -1, np.int32)
    one_state[0, 97:100] = 0
    two_states = np.full((2, 256), -1, np.int32)  # "a" or "b" then "c"
    two_states[0, [97, 98]] = [0, 1]
    two_states[1, 99] = 0
    random_text = _interval_rows(rng, 3, 6, 3, 0.6)
    restarts = np.array([False, True, False], dtype=np.bool_)
    closed = rng.integers(0, 4, size=n).astype(np.uint16)
    n_closed_used = 0
    for text_dfa in (one_state, two_states, random_text):
        starts = np.union1d(row_starts(trans), row_starts(text_dfa)).astype(np.int32)
        loop_bits = rng.integers(0, 4, size=len(text_dfa)).astype(np.uint16)
        for q in range(n):
            for depth in (0, 1, 3, 8):
                for max_pairs in (1 << 30, 5):
                    for rs, cl in ((_NONE, np.zeros(n, np.uint16)), (restarts, closed)):
                        args = (text_dfa, depth, max_pairs)
                        to = np.int32((q + depth) % n)  # restarts in q or another state
                        got = lexer_kernels.stays_alive(trans, top, np.int32(q), *args,
                                                        starts, rs, to, cl, loop_bits)
                        assert got == reference.stays_alive_ref(
                            trans, top, q, *args, None, rs, to, cl, loop_bits)
                        n_closed_used += got and not reference.stays_alive_ref(
                            trans, top, q, *args, None, rs, to)
    assert n_closed_used > 0  # the closed classes settled some searches


def test_stays_alive_grows_its_table() -> None:
    """A search that visits more pairs than the first table holds (a counter of 600
    states: each byte steps one state on) gives the reference's answers; past its bound
    on pairs, the answer is False."""
    n = 600
    trans = np.full((n, 256), -1, np.int32)
    trans[: n - 1, 97] = np.arange(1, n)
    top = np.full(n, -1, np.int32)
    text_dfa = np.full((1, 256), -1, np.int32)
    text_dfa[0, 97] = 0
    all_bytes = np.arange(256, dtype=np.int32)
    none = (_NONE, np.int32(0), np.zeros(n, np.uint16), np.zeros(1, np.uint16))
    for depth in (10, 300, 598, 599, 600):
        assert lexer_kernels.stays_alive(trans, top, np.int32(0), text_dfa, depth, 1 << 30,
                                         all_bytes, *none) == \
            reference.stays_alive_ref(trans, top, 0, text_dfa, depth, 1 << 30) == \
            (depth <= 599)
    for max_pairs in (299, 300, 301):  # depth 300 meets 301 states
        assert lexer_kernels.stays_alive(trans, top, np.int32(0), text_dfa, 300, max_pairs,
                                         all_bytes, *none) == \
            reference.stays_alive_ref(trans, top, 0, text_dfa, 300, max_pairs) == \
            (max_pairs >= 301)


@pytest.mark.parametrize("seed", range(6))
def test_canonical_hash_is_invariant_under_renumbering(seed: int) -> None:
    """Isomorphic automata (states renumbered, terminals renamed) hash alike and label
    their terminals correspondingly; changing one transition changes the hash."""
    rng = np.random.default_rng(seed)
    n = 30
    trans = np.full((n, 256), -1, np.int32)
    trans[:, 97:103] = rng.integers(0, n, size=(n, 6))
    trans[rng.random((n, 256)) < 0.3] = -1
    top = rng.integers(-1, 4, size=n).astype(np.int32)
    perm = rng.permutation(n)  # old state -> new state
    rename = np.array([7, 5, 9, 8], np.int32)  # old terminal -> new terminal
    trans2 = np.full_like(trans, -1)
    trans2[perm] = np.where(trans >= 0, perm[np.maximum(trans, 0)], -1)
    top2 = np.full_like(top, -1)
    top2[perm] = np.where(top >= 0, rename[np.maximum(top, 0)], -1)
    for q in range(n):
        h1, h2, labels, m = _hash(trans, top, q)
        g1, g2, labels2, m2 = _hash(trans2, top2, perm[q])
        assert (h1, h2, m) == (g1, g2, m2)
        assert rename[labels].tolist() == labels2.tolist()
    assert _hash(trans, top, 0, max_states=1)[3] in (-1, 1)
    changed = trans.copy()
    changed[0, 200] = 0  # one more transition from the root
    assert _hash(changed, top, 0)[:2] != \
        _hash(trans, top, 0)[:2]


ALL_BYTES = np.arange(256, dtype=np.int32)


def _hash(trans: np.ndarray, top: np.ndarray, q: int, max_states: int = 1000,
          depth: int = 1 << 30) -> tuple[Any, ...]:
    return tuple(lexer_kernels.canonical_hash(trans, top, np.int32(q), max_states,
                                              ALL_BYTES, depth))


def _chain(n: int, accept_at: int) -> tuple[np.ndarray, np.ndarray]:
    """States 0..n-1 reading 'a' to the next; state ``accept_at`` accepts terminal 3."""
    trans = np.full((n, 256), -1, np.int32)
    trans[np.arange(n - 1), ord("a")] = np.arange(1, n)
    top = np.full(n, -1, np.int32)
    top[accept_at] = 3
    return trans, top


def test_canonical_hash_ignores_what_lies_past_the_depth() -> None:
    """Chains of 300 and 3,000 states agree on every string of up to 128 bytes: one key;
    a difference within the depth (an accepting state at 100) still tells them apart."""
    long_a, long_b = _chain(300, 299), _chain(3000, 2999)
    assert _hash(*long_a, 0, 5000, 128)[:2] == _hash(*long_b, 0, 5000, 128)[:2]
    assert _hash(*long_a, 0, 5000)[:2] != _hash(*long_b, 0, 5000)[:2]
    assert _hash(*_chain(300, 100), 0, 5000, 128)[:2] != _hash(*long_a, 0, 5000, 128)[:2]
    assert _hash(*long_a, 0, 200, 128)[3] == 129  # states past the depth are not visited


@pytest.mark.parametrize("seed", range(4))
def test_canonical_hash_reads_only_where_byte_classes_start(seed: int) -> None:
    """Rows built from byte classes are constant between class starts: hashing only the
    starts gives the hash of all 256 bytes."""
    rng = np.random.default_rng(seed)
    n, n_classes = 25, 9
    class_of = np.sort(rng.integers(0, n_classes, size=256)).astype(np.int32)
    class_of[rng.random(256) < 0.1] = 0  # classes need not be intervals
    rows = rng.integers(-1, n, size=(n, n_classes)).astype(np.int32)
    trans = rows[:, class_of]
    top = rng.integers(-1, 3, size=n).astype(np.int32)
    starts = np.flatnonzero(np.concatenate(([True], class_of[1:] != class_of[:-1])))
    for q in range(n):
        fast = lexer_kernels.canonical_hash(trans, top, np.int32(q), 1000,
                                            starts.astype(np.int32), 1 << 30)
        full = _hash(trans, top, q)
        assert fast[:2] == full[:2] and fast[3] == full[3]
        assert fast[2].tolist() == full[2].tolist()


@pytest.mark.parametrize("seed", range(6))
def test_json_literal_table_matches_its_edges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    alphabet = [*"ab\"\\/\n\x01~", "\u00e9", "\u4e2d", "\U0001f600", "\ud800"]
    for _ in range(30):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 6))))
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        cps = cps.astype(np.int64)
        for quoted in (True, False):
            trans, accept, class_of, ok = dfa_kernels.json_literal_table(cps, quoted, 10_000)
            starts, finals, e_start, e_byte, e_dst, failed = dfa_kernels.json_literal_edges(
                cps, np.array([0, len(cps)], np.int64), quoted, 10_000)
            assert ok and failed < 0
            if starts[0] < 0:  # a lone surrogate: no automaton
                assert "\ud800" in text and trans.shape == (0, 256) and not len(accept)
                continue
            n = len(e_start) - 1
            want = np.full((n, 256), -1, np.int32)
            want[np.repeat(np.arange(n), np.diff(e_start)), e_byte] = e_dst
            np.testing.assert_array_equal(trans, want)
            assert np.flatnonzero(accept).tolist() == [finals[0]]
            np.testing.assert_array_equal(class_of, dfa_kernels.byte_class_of(want))
    cps = np.frombuffer("abcdef".encode("utf-32-le"), np.uint32).astype(np.int64)
    assert not dfa_kernels.json_literal_table(cps, True, 10)[3]  # past the state limit


@pytest.mark.parametrize("seed", range(6))
def test_canonical_runs_reads_only_where_classes_start(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(10):
        n = int(rng.integers(1, 30))
        trans = _interval_rows(rng, n, int(rng.integers(0, 20)), n, 0.3)
        accept = rng.random(n) < 0.3
        starts = dfa_kernels.class_layout(dfa_kernels.byte_class_of(trans))[0]
        assert dfa_kernels.canonical_runs(trans, accept, starts).tolist() == \
            reference.canonical_runs_ref(trans, accept)


@pytest.mark.parametrize(("lo", "hi"), [(0, 0), (0, 3), (2, 2), (1, 4), (3, None),
                                         (0, None), (4, 2)])
def test_quoted_repeat_table_matches_reference(lo: int, hi: int | None) -> None:
    from compilers.automata import build_byte_dfa, quoted_repeat_dfa
    from compilers.regex import compile_regex_nfa

    unit = build_byte_dfa(compile_regex_nfa("(?s:.)", json_string=True, quoted=False))
    args = (unit.trans, unit.accept, lo, -1 if hi is None else hi, ord('"'))
    trans, accept = dfa_kernels.quoted_repeat_table(*args)
    want_t, want_a = reference.quoted_repeat_ref(*args)
    np.testing.assert_array_equal(trans, want_t)
    np.testing.assert_array_equal(accept, want_a)
    dfa = quoted_repeat_dfa(unit, lo, hi)
    np.testing.assert_array_equal(dfa.byte_class_of, dfa_kernels.byte_class_of(want_t)
                                  if len(want_t) else np.zeros(256, np.int32))


@pytest.mark.parametrize("sizes", [(0, 0), (0, 3), (5, 0), (1, 1), (40, 7), (300, 1)])
def test_merge_sorted_matches_numpy(sizes: tuple[int, int]) -> None:
    """The fresh-state keys the resolve kernels search: old and new sorted keys merged,
    values beside them (as ``np.insert`` at the sorted positions gives)."""
    n, m = sizes
    rng = np.random.default_rng(n * 31 + m)
    both = rng.choice(2**62, size=n + m, replace=False).astype(np.uint64) << np.uint64(1)
    keys, new_keys = np.sort(both[:n]), np.sort(both[n:])
    vals = rng.integers(-1, 1000, size=n).astype(np.int32)
    new_vals = rng.integers(-1, 1000, size=m).astype(np.int32)
    got_keys, got_vals = kernels.merge_sorted(keys, vals, new_keys, new_vals)
    at = np.searchsorted(keys, new_keys)
    np.testing.assert_array_equal(got_keys, np.insert(keys, at, new_keys))
    np.testing.assert_array_equal(got_vals, np.insert(vals, at, new_vals))
    assert got_keys.dtype == np.uint64 and got_vals.dtype == np.int32
