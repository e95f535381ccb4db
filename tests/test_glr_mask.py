"""The GLR mask walk (``native.glr_mask``): against its reference twin, and the masks it
gives in the runtime against the table path's, under real and synthetic vocabularies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import grammar_engine as ge
from grammar_engine import Matcher, Vocabulary
from grammar_engine.runtime import runtime_for

GLR_GRAMMARS = ["ambiguous", "c_like"]


def _pieces_vocab(name: str) -> Vocabulary:
    """The grammar's sample pieces (``pieces_vocab``), runs of one byte (spaces: ignored
    lexemes; brackets and operators: each a lexeme the parser must take; digits: one
    lexeme), and one piece twice (two ids, the same bytes)."""
    from tests.grammars import SAMPLES, pieces_vocab

    runs = [c * n for c in (b" ", b")", b"(", b"+", b"*", b"1", b"=", b";")
            for n in (2, 3, 4, 9)]
    return pieces_vocab(name, [*runs, SAMPLES[name][0].encode()[:2]])


def _sample_states(name: str, compiled: ge.CompiledGrammar, vocab: Vocabulary) -> list:
    """The matcher states along each sample, byte by byte (each mask computed once)."""
    from tests.grammars import SAMPLES

    states = []
    bitmask = ge.allocate_token_bitmask(1, vocab.size)
    for text in SAMPLES[name]:
        m = Matcher(compiled)
        for ch in text:
            m.fill_next_token_bitmask(bitmask)
            states.append(m._state)
            assert m.consume_string(ch)
        states.append(m._state)
    return states


def _compile(name: str, vocab: Vocabulary) -> ge.CompiledGrammar:
    """``name`` compiled with no token tables or fresh states made ahead of time but the
    runtime's own early ones (the masks meet what is missing)."""
    from tests.grammars import ALL

    return ge.compile_grammar(ALL[name], vocab, cache=False, eager_tables=False)


@pytest.mark.parametrize("name", GLR_GRAMMARS)
def test_glr_mask_matches_reference(name: str) -> None:
    """At every state along the samples (every fresh lexer state made), the kernel's bits,
    completeness and undecided subtrees equal those of walking each token on its own."""
    from grammar_engine.runtime import _EVERY_BYTE
    from native.reference import glr_mask_ref

    vocab = _pieces_vocab(name)
    compiled = _compile(name, vocab)
    rt = runtime_for(compiled)
    assert rt.use_glr_kernel
    idx = rt.index
    checked = 0
    for state in _sample_states(name, compiled, vocab):
        q, stacks = state.q, state.stacks
        stack_arrays = rt._glr_stacks(stacks)
        q_fresh = rt.lex_start(stacks)
        got = np.zeros(vocab.n_words, dtype=np.uint32)
        rows = np.empty((1, 4), dtype=np.uint64)  # (room for one: called again for more)
        count, accepting, any_set = rt._run_glr_mask(q, q_fresh, stack_arrays, _EVERY_BYTE,
                                                     got, rows)
        assert count >= 0
        assert any_set == bool(got.any())
        if count > len(rows):
            rows = np.empty((count, 4), dtype=np.uint64)
            again = got.copy()
            assert rt._run_glr_mask(q, q_fresh, stack_arrays, _EVERY_BYTE, again,
                                    rows) == (count, accepting, any_set)
            np.testing.assert_array_equal(again, got)
        lo, hi, kind = (rows[:count, k].astype(np.int64) for k in range(3))
        keys, vals = rt._start_arrays()
        trans, top = rt.lexer.arrays
        tr = idx.trie
        want = np.zeros(vocab.n_words, dtype=np.uint32)
        want_accepting, verdict = glr_mask_ref(
            trans, top, None, rt.varrays.sorted_ids, tr.tok_info, tr.nodes, None, None, None,
            None, None, None, None, rt.k_cell_start, rt.k_cell_actions, int(rt.k_n_terms),
            rt.k_goto, rt.k_lhs, rt.k_len, rt.k_ignored, rt.parser.end, keys, vals, None,
            None, q, q_fresh, _EVERY_BYTE, *stack_arrays[:2], None, want)
        np.testing.assert_array_equal(got, want)
        assert accepting == want_accepting
        assert accepting == int(rt.is_accepting(state)) or accepting == -1
        pending = np.zeros(len(verdict), dtype=np.int8)
        for a, b, k in zip(lo.tolist(), hi.tolist(), kind.tolist(), strict=True):
            pending[a:b] = k
        np.testing.assert_array_equal(pending, np.where(verdict >= 2, verdict, 0))
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("name", GLR_GRAMMARS)
@pytest.mark.parametrize("visits", [0, 3, 40, 10**9])
def test_walk_masks_equal_the_table_path(name: str, visits: int) -> None:
    """The runtime's masks by the walk (giving up after ``visits`` children: the table
    path then serves that lexer state) equal the table path's, along the samples and
    random allowed tokens."""
    vocab = _pieces_vocab(name)
    walked, tabled = _compile(name, vocab), _compile(name, vocab)
    runtime_for(walked).walk_visits = visits
    runtime_for(tabled).walk_visits = 0
    _compare_along_samples(name, walked, tabled, vocab, np.random.default_rng(visits))
    gave_up = runtime_for(walked)._table_states
    if visits == 0:
        assert gave_up
    elif visits == 10**9:
        assert not gave_up


def _compare_along_samples(name: str, a: ge.CompiledGrammar, b: ge.CompiledGrammar,
                           vocab: Vocabulary, rng: np.random.Generator) -> int:
    from tests.grammars import SAMPLES

    compared = 0
    for text in SAMPLES[name]:
        data = text.encode()
        for trial in range(3):
            ma, mb = Matcher(a), Matcher(b)
            pos = 0
            while True:
                np.testing.assert_array_equal(ma.next_token_bitmask(), mb.next_token_bitmask())
                compared += 1
                allowed = [t for t in ma.allowed_token_ids().tolist()
                           if t not in vocab.eos_token_ids]
                if trial and allowed and rng.random() < 0.25:  # leave the sample
                    t = int(rng.choice(allowed))
                    assert ma.consume_token(t) and mb.consume_token(t)
                    np.testing.assert_array_equal(ma.next_token_bitmask(),
                                                  mb.next_token_bitmask())
                    break
                fits = [t for t in allowed if vocab.token_bytes[t]
                        and data.startswith(vocab.token_bytes[t], pos)]
                if not fits:
                    break
                t = max(fits, key=lambda t: len(vocab.token_bytes[t]))
                assert ma.consume_token(t) and mb.consume_token(t)
                pos += len(vocab.token_bytes[t])
    return compared


@pytest.mark.real_tokenizer
@pytest.mark.parametrize("name", GLR_GRAMMARS)
@pytest.mark.parametrize("tokenizer", ["llama3", "qwen3", "gptoss", "gemma3"])
def test_walk_masks_equal_the_table_path_real_vocabularies(
        name: str, tokenizer: str, tokenizer_dir: Callable[[str], Path]) -> None:
    """As above under the real tokenizers (their space runs, digits and byte tokens)."""
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir(tokenizer))
    walked, tabled = _compile(name, vocab), _compile(name, vocab)
    runtime_for(tabled).walk_visits = 0
    assert _compare_along_samples(name, walked, tabled, vocab,
                                  np.random.default_rng(1)) > 20
    if name == "ambiguous":  # few tokens fit anywhere: the walk never gives up
        assert not runtime_for(walked)._table_states


@pytest.mark.parametrize("name", GLR_GRAMMARS)
def test_walks_again_once_missing_fresh_states_are_made(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no fresh lexer states made ahead, walks meet missing ones: walking again once
    Python has made them, or finishing those tokens in Python (no second round), gives
    the Python path's masks; the second walks do happen."""
    import grammar_engine.runtime as runtime

    calls = [0]
    kernel = runtime.glr_mask

    def counting(*args: object) -> object:
        calls[0] += 1
        return kernel(*args)

    monkeypatch.setattr(runtime, "glr_mask", counting)
    monkeypatch.setattr(runtime, "_EARLY_CONFIGURATIONS", 0)
    vocab = _pieces_vocab(name)
    counts = []
    for rounds in (0, 4):
        monkeypatch.setattr(runtime, "_KERNEL_ROUNDS", rounds)
        walked, tabled = _compile(name, vocab), _compile(name, vocab)
        runtime_for(walked).walk_visits = 10**9
        runtime_for(tabled).use_glr_kernel = False  # (the Python path: no kernel calls)
        calls[0] = 0
        _compare_along_samples(name, walked, tabled, vocab, np.random.default_rng(2))
        masks = len(runtime_for(walked)._mask_cache)
        counts.append(calls[0] - masks)  # calls past one per mask: second walks
    assert counts[0] == 0 < counts[1]


@pytest.mark.parametrize("name", GLR_GRAMMARS)
def test_walk_with_room_for_one_row(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Walks whose undecided subtrees overflow the rows they were given are walked again
    with room for all of them, and the masks stay those of the Python path."""
    import grammar_engine.runtime as runtime

    counts: list[int] = []
    kernel = runtime.glr_mask

    def counting(*args: object) -> object:
        out = kernel(*args)
        counts.append(out[0])  # type: ignore[index]
        return out

    monkeypatch.setattr(runtime, "glr_mask", counting)
    monkeypatch.setattr(runtime, "_EARLY_CONFIGURATIONS", 0)
    monkeypatch.setattr(runtime, "_WALK_ROWS", 1)
    vocab = _pieces_vocab(name)
    walked, tabled = _compile(name, vocab), _compile(name, vocab)
    runtime_for(walked).walk_visits = 10**9
    runtime_for(tabled).use_glr_kernel = False
    _compare_along_samples(name, walked, tabled, vocab, np.random.default_rng(3))
    assert max(counts) > 1  # some walk overflowed


def test_runtime_makes_early_fresh_states_only_for_glr_grammars() -> None:
    """A GLR grammar's runtime has its first configurations' fresh lexer states made
    before the first mask; an LALR(1) grammar's makes them on first use, unless compiled
    with its tables ahead of time (the default), which makes them and their tables."""
    from tests.grammars import ALL

    vocab = _pieces_vocab("ambiguous")
    for name, early in (("ambiguous", True), ("arithmetic", False)):
        rt = runtime_for(_compile(name, vocab))
        assert (len(rt.lexer.starts) > 1) == early, name
        assert rt.index.n_built == 0
    rt = runtime_for(ge.compile_grammar(ALL["arithmetic"], vocab, cache=False))
    fresh = set(rt.lexer.starts.values())
    assert len(fresh) > 1
    assert all(q in rt.index._restart_tables or q in rt.index._tables for q in fresh)


def test_dead_start_in_a_grammar_with_conflicts() -> None:
    """A grammar with conflicts whose only word is empty: no lexer state is live at the
    start; the walk is not run on it, and the mask holds EOS alone."""
    vocab = _pieces_vocab("ambiguous")
    g = ge.compile_grammar('start: start?\nNUM: /[0-9]+/\nWORD: /[a-z]+/\n', vocab,
                           cache=False)
    assert runtime_for(g).use_glr_kernel
    m = Matcher(g)
    assert m.is_accepting()
    assert m.allowed_token_ids().tolist() == list(vocab.eos_token_ids)
