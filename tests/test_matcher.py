"""Matcher API behaviour on a small synthetic vocabulary (every state checkable by hand)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import grammar_engine as ge
from grammar_engine import Matcher, Vocabulary, compile_grammar
from tests.grammars import JSON, pieces_vocab

TOKENS = [bytes([i]) for i in range(256)] + [
    b'",', b'"}', b'": ', b'},{"', b"[{", b"1,", b"true]", b"\xc3\xa9", b"\xe2\x82", b"  ",
    b'"a"', b'{"', b"e+", b".5", b"null",
]
EOS = len(TOKENS)
SPECIAL = EOS + 1


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.from_bytes([*TOKENS, b"", b"<special>"], eos_token_ids=[EOS],
                                 special_ids=[EOS, SPECIAL], vocab_size=EOS + 40)


@pytest.fixture(scope="module")
def json_grammar(vocab: Vocabulary) -> ge.CompiledGrammar:
    return ge.compile_grammar(JSON, vocab)


def tid(vocab: Vocabulary, piece: bytes) -> int:
    return vocab.token_bytes.index(piece)


def test_consume_and_accept(vocab: Vocabulary, json_grammar: ge.CompiledGrammar) -> None:
    m = Matcher(json_grammar)
    assert not m.is_accepting()
    for piece in [b'{"', b"a", b'": ', b"1", b"}"]:
        assert m.consume_token(tid(vocab, piece)), piece
    assert m.is_accepting()
    assert not m.is_terminated()
    assert m.consume_token(EOS)
    assert m.is_terminated()
    assert not m.consume_token(tid(vocab, b" "))


def test_rejected_token_leaves_state_unchanged(vocab: Vocabulary,
                                               json_grammar: ge.CompiledGrammar) -> None:
    m = Matcher(json_grammar)
    assert m.consume_token(tid(vocab, b"["))
    before = m.allowed_token_ids().tolist()
    assert not m.consume_token(tid(vocab, b"}"))
    assert not m.consume_token(EOS)
    assert not m.consume_token(SPECIAL)
    assert m.allowed_token_ids().tolist() == before


def test_mask_bits_agree_with_accepts_token(vocab: Vocabulary,
                                            json_grammar: ge.CompiledGrammar) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = Matcher(json_grammar)
        for _ in range(30):
            allowed = set(m.allowed_token_ids().tolist())
            brute = {t for t in range(vocab.size) if m.accepts_token(t)}
            assert allowed == brute
            assert SPECIAL not in allowed
            assert all(t < EOS + 2 for t in allowed)  # padding ids never allowed
            choices = sorted(allowed - {EOS})
            if not choices:
                break
            assert m.consume_token(int(rng.choice(choices)))


def test_rollback_copy_reset(vocab: Vocabulary, json_grammar: ge.CompiledGrammar) -> None:
    m = Matcher(json_grammar)
    ids = [tid(vocab, p) for p in [b"[", b"1,", b" ", b"2", b"]"]]
    assert m.consume_tokens(ids)
    assert m.is_accepting()
    masks = []
    replay = Matcher(json_grammar)
    for t in ids:
        masks.append(replay.next_token_bitmask())
        replay.consume_token(t)
    m.rollback(2)
    np.testing.assert_array_equal(m.next_token_bitmask(), masks[3])
    c = m.copy()
    assert not c.consume_token(tid(vocab, b"]"))  # "[1, ]" is not JSON
    assert c.consume_tokens([tid(vocab, b"3"), tid(vocab, b"]")])
    assert c.is_accepting()
    assert not m.is_accepting()  # the copy moved, the original did not
    np.testing.assert_array_equal(m.next_token_bitmask(), masks[3])
    m.reset()
    np.testing.assert_array_equal(m.next_token_bitmask(), masks[0])
    with pytest.raises(ValueError, match="cannot roll back"):
        m.rollback(1)


def test_consume_tokens_is_atomic(vocab: Vocabulary, json_grammar: ge.CompiledGrammar) -> None:
    m = Matcher(json_grammar)
    start = m.next_token_bitmask()
    assert not m.consume_tokens([tid(vocab, b"["), tid(vocab, b"}")])
    np.testing.assert_array_equal(m.next_token_bitmask(), start)


def test_eos_rollback(vocab: Vocabulary, json_grammar: ge.CompiledGrammar) -> None:
    m = Matcher(json_grammar)
    assert m.consume_token(tid(vocab, b"1"))
    assert m.consume_token(EOS)
    m.rollback(1)
    assert not m.is_terminated()
    assert m.consume_token(tid(vocab, b"2"))


def test_jump_forward(vocab: Vocabulary) -> None:
    g = ge.compile_grammar('start: "hello " NAME "!"\nNAME: /[a-z]+/', vocab)
    m = Matcher(g)
    assert m.find_jump_forward_string() == "hello "
    assert m.consume_string("hello wor")
    assert m.find_jump_forward_string() == ""
    assert m.consume_string("ld")
    assert m.consume_string("!")
    assert m.find_jump_forward_string() == ""
    r = ge.compile_regex(r"abc(d|e)é", vocab)
    m2 = Matcher(r)
    assert m2.find_jump_forward_string() == "abc"
    assert m2.consume_string("abcd")
    assert m2.find_jump_forward_string() == "é"


def test_bitmask_validation(json_grammar: ge.CompiledGrammar) -> None:
    m = Matcher(json_grammar)
    with pytest.raises(ValueError, match="int32"):
        m.fill_next_token_bitmask(np.zeros((1, 100), np.int64))
    with pytest.raises(ValueError, match="shape"):
        m.fill_next_token_bitmask(np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match="index"):
        m.fill_next_token_bitmask(np.zeros((1, 100), np.int32), index=3)
    with pytest.raises(ValueError, match="out of range"):
        m.consume_token(10**6)
    wide = np.full((2, 100), -1, np.int32)
    m.fill_next_token_bitmask(wide, index=1)
    assert (wide[0] == -1).all()
    assert (wide[1, json_grammar.vocab.n_words :] == 0).all()


def test_fills_of_one_bitmask_row_by_row(json_grammar: ge.CompiledGrammar) -> None:
    """A matcher remembers the row it filled last (see Matcher._row_of): filling another
    row, another array, or after EOS writes each where it belongs, words past the
    vocabulary cleared."""
    n = json_grammar.vocab.n_words
    a, b = Matcher(json_grammar), Matcher(json_grammar)
    assert b.consume_string('{"k": ')
    batch = np.full((2, n + 3), -1, np.int32)
    for _ in range(2):
        a.fill_next_token_bitmask(batch, 0)
        b.fill_next_token_bitmask(batch, 1)
        np.testing.assert_array_equal(batch[0, :n], a.next_token_bitmask()[0])
        np.testing.assert_array_equal(batch[1, :n], b.next_token_bitmask()[0])
        assert not (batch[:, n:]).any()
        assert not np.array_equal(batch[0], batch[1])
    other = np.full((1, n), -1, np.int32)
    b.fill_next_token_bitmask(other)
    np.testing.assert_array_equal(other, b.next_token_bitmask())
    assert b.consume_string("1}") and b.consume_token(json_grammar.vocab.eos_token_ids[0])
    b.fill_next_token_bitmask(batch, 1)  # terminated: EOS only
    allowed = np.flatnonzero(np.unpackbits(batch[1].view(np.uint8), bitorder="little"))
    assert allowed.tolist() == sorted(json_grammar.vocab.eos_token_ids)
    np.testing.assert_array_equal(batch[0, :n], a.next_token_bitmask()[0])


def test_fills_of_a_tensor_follow_its_storage(json_grammar: ge.CompiledGrammar) -> None:
    """The row views a matcher remembers for a CPU tensor are used again only while the
    tensor's data stays where it was: given new storage, a fill writes into that."""
    torch = pytest.importorskip("torch")
    n = json_grammar.vocab.n_words
    m = Matcher(json_grammar)
    assert m.consume_string('{"k": ')
    want = m.next_token_bitmask()[0]
    t = torch.full((1, n), -1, dtype=torch.int32)
    m.fill_next_token_bitmask(t)
    np.testing.assert_array_equal(t.numpy()[0], want)
    t.fill_(-1)
    m.fill_next_token_bitmask(t)  # the remembered views
    np.testing.assert_array_equal(t.numpy()[0], want)
    before = t.data_ptr()
    t.set_(torch.full((64, n), -1, dtype=torch.int32))  # the same tensor, new storage
    assert t.data_ptr() != before
    m.fill_next_token_bitmask(t)  # row 0 again: not the old views
    np.testing.assert_array_equal(t.numpy()[0], want)
    assert (t.numpy()[1:] == -1).all()


def test_regex_language(vocab: Vocabulary) -> None:
    g = ge.compile_regex(r"[0-9]{2,3}-x*", vocab)
    for text, ok in [("12-", True), ("123-xx", True), ("1-", False), ("1234-", False)]:
        m = Matcher(g)
        assert (m.consume_string(text) and m.is_accepting()) == ok, text


def test_regex_matching_empty_string(vocab: Vocabulary) -> None:
    g = ge.compile_regex(r"a*", vocab)
    m = Matcher(g)
    assert m.is_accepting()
    assert m.consume_string("aaa")
    assert m.is_accepting()
    assert not Matcher(g).consume_string("b")


def test_ambiguous_grammar_general_path(vocab: Vocabulary) -> None:
    from tests.grammars import AMBIGUOUS

    g = ge.compile_grammar(AMBIGUOUS, vocab)
    assert not g.is_lalr
    for text, ok in [("1+2*3", True), ("(1+2)*3+4", True), ("1+", False), ("1+2)", False)]:
        m = Matcher(g)
        assert (m.consume_string(text) and m.is_accepting()) == ok, text


def test_torch_bitmask_and_apply(vocab: Vocabulary, json_grammar: ge.CompiledGrammar) -> None:
    torch = pytest.importorskip("torch")
    m = Matcher(json_grammar)
    bm = torch.zeros((1, vocab.n_words), dtype=torch.int32)
    m.fill_next_token_bitmask(bm)
    logits = torch.zeros((1, vocab.size))
    ge.apply_token_bitmask_inplace(logits, bm)
    allowed = torch.isfinite(logits[0]).nonzero().flatten().tolist()
    assert allowed == m.allowed_token_ids().tolist()
    np_logits = np.zeros((1, vocab.size), np.float32)
    ge.apply_token_bitmask_inplace(np_logits, bm.numpy())
    assert np.flatnonzero(np.isfinite(np_logits[0])).tolist() == allowed


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_apply_to_cpu_tensors_equals_torch_operations(dtype: str) -> None:
    """A float32/float64 CPU tensor is masked in place by the kernel (through a view of
    its memory, strided too), 16-bit floats by torch operations: each as the torch
    operations mask it, full, empty and mixed words, a row longer than the bitmask."""
    torch = pytest.importorskip("torch")
    from grammar_engine.bitmask import _apply_torch

    rng = np.random.default_rng(3)
    vocab_size = 1000
    words = rng.integers(-(2**31), 2**31, size=(3, 31), dtype=np.int64).astype(np.int32)
    words[:, 3:6], words[:, 6:9] = 0, -1  # 31 words: tokens past 992 masked as well
    bitmask = torch.from_numpy(words)
    dt = getattr(torch, dtype)
    logits = torch.randn(3, 4, vocab_size).to(dt)
    want = logits[:, 2, :].clone()
    _apply_torch(want, bitmask)
    ge.apply_token_bitmask_inplace(logits[:, 2, :], bitmask)  # a strided view
    assert torch.equal(logits[:, 2, :], want)
    assert torch.isinf(want[:, 992:]).all() and torch.isfinite(want[:, 6 * 32:9 * 32]).all()
    one = torch.randn(vocab_size).to(dt)
    want_one = one.clone()
    _apply_torch(want_one, bitmask[0])
    ge.apply_token_bitmask_inplace(one, bitmask[0])
    assert torch.equal(one, want_one)


def test_several_eos_tokens_in_one_word() -> None:
    toks = [b"a", b"b", b"", b"", b"c"]
    vocab = Vocabulary.from_bytes(toks, eos_token_ids=[2, 3], special_ids=[2, 3])
    g = ge.compile_regex(r"ab?", vocab)
    m = Matcher(g)
    assert m.allowed_token_ids().tolist() == [0]
    assert m.consume_token(0)
    assert m.allowed_token_ids().tolist() == [1, 2, 3]
    assert m.consume_token(3)
    assert m.is_terminated()


@pytest.mark.parametrize(("name", "kernel_name"), [
    ("json", "resolve_with_parser"), ("arithmetic", "resolve_with_parser"),
    ("sql", "resolve_with_parser"), ("c_like", "resolve_with_glr"), ("c_like", "glr_mask"),
    ("ambiguous", "resolve_with_glr"), ("ambiguous", "glr_mask")])
def test_parser_kernel_matches_python_path(name: str, kernel_name: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Boundary-crossing tokens resolved by the LR kernel (LALR(1) tables), or in tables
    with conflicts (c_like's dangling else, the ambiguous grammar) by the GLR kernel of
    the table path or the GLR mask walk, give the masks of the Python path."""
    from grammar_engine.runtime import runtime_for
    from tests.grammars import ALL, SAMPLES

    toks = [bytes([i]) for i in range(256)] + [
        b'"},{"', b'"],', b"}}", b"]]", b"))", b"();", b"){", b"+(", b"*(-", b"1+2", b"a,b",
        b'"a":', b", ", b" = ", b"1;", b");\n", b"} else {", b"(x)", b"x = f(", b"'a' ",
        b"1+2*", b")*(", b"+1)", b"1 + ", b" + 2", b"));", b"(1)+", b"  ", b"    ",
    ]
    vocab = Vocabulary.from_bytes([*toks, b""], eos_token_ids=[len(toks)],
                                  special_ids=[len(toks)])
    # (Nothing ahead of time: every mask is computed by the path under test.)
    with_kernel = ge.compile_grammar(ALL[name], vocab, cache=False, eager_tables=False)
    without = ge.compile_grammar(ALL[name], vocab, cache=False, eager_tables=False)
    fast = runtime_for(with_kernel)
    assert fast.use_kernel or fast.use_glr_kernel
    assert fast.use_glr_kernel == (name in ("c_like", "ambiguous"))
    runtime_for(without).use_kernel = runtime_for(without).use_glr_kernel = False
    if kernel_name == "resolve_with_glr":
        fast.walk_visits = 0  # the walk gives up at once: the table path
    import grammar_engine.runtime as runtime
    kernel, calls = getattr(runtime, kernel_name), [0]

    def counting(*args: object) -> object:
        calls[0] += 1
        return kernel(*args)

    monkeypatch.setattr(runtime, kernel_name, counting)
    rng = np.random.default_rng(0)
    for text in SAMPLES[name]:
        a, b = Matcher(with_kernel), Matcher(without)
        for step, byte in enumerate(text.encode()):
            np.testing.assert_array_equal(a.next_token_bitmask(), b.next_token_bitmask())
            # Follow the sample, sometimes via a random allowed multi-byte token.
            allowed = [t for t in a.allowed_token_ids().tolist() if t >= 256 and t < len(toks)]
            if allowed and step % 5 == 0 and rng.random() < 0.5:
                t = int(rng.choice(allowed))
                assert a.consume_token(t) and b.consume_token(t)
                break
            assert a.consume_token(byte) and b.consume_token(byte)
    assert calls[0] > 0  # the kernel did the work compared


@pytest.mark.real_tokenizer
# json (LALR(1)): the LR kernel; c_like (a conflict): the GLR kernel. In the other test
# grammars no boundary token meets a lexer state not created yet inside a kernel.
@pytest.mark.parametrize("grammar", ["json", "c_like"])
def test_kernel_rounds_over_missing_lexer_states_change_no_mask(
        grammar: str, tokenizer_dir: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a fresh grammar, boundary tokens meet lexer states not created yet: the kernel
    runs again once Python has created them. The masks equal those of finishing every
    such token in Python, and the second runs do happen."""
    import grammar_engine.runtime as runtime
    from tests.grammars import ALL, SAMPLES

    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("llama3"))
    def masks() -> list[np.ndarray]:
        compiled = compile_grammar(ALL[grammar], vocab, cache=False, eager_tables=False)
        out = []
        for text in SAMPLES[grammar]:
            m = Matcher(compiled)
            out.append(m.next_token_bitmask().copy())
            for ch in text:
                assert m.consume_string(ch)
                out.append(m.next_token_bitmask().copy())
        return out

    calls = [0]
    kernel_name = "resolve_with_glr" if grammar == "c_like" else "resolve_with_parser"
    kernel = getattr(runtime, kernel_name)
    # (c_like: the table path's GLR kernel; the walk's rounds: tests/test_glr_mask.py)
    monkeypatch.setattr(runtime.GrammarRuntime, "walk_visits", 0)

    def counting(*args: object) -> object:
        calls[0] += 1
        return kernel(*args)

    monkeypatch.setattr(runtime, kernel_name, counting)
    monkeypatch.setattr(runtime, "_KERNEL_ROUNDS", 0)
    want = masks()
    single_runs, calls[0] = calls[0], 0
    monkeypatch.setattr(runtime, "_KERNEL_ROUNDS", 4)
    got = masks()
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(a, b), f"mask {i} differs"
    assert calls[0] > single_runs > 0  # some tokens met missing states: the kernel ran again


@pytest.mark.parametrize("walk", [True, False])
@pytest.mark.parametrize("max_stacks", [2, 4, 6, 1_000])
def test_glr_kernel_meets_the_stack_limit_as_the_python_path_does(max_stacks: int,
                                                                  walk: bool) -> None:
    """Near ``max_parser_stacks`` the GLR kernels (the mask walk, or the table path's)
    leave tokens to the Python parser, so masks and the limit error come as without
    them, at the same step."""
    from compilers.errors import LimitExceededError
    from compilers.options import Limits
    from grammar_engine.runtime import runtime_for

    toks = [bytes([i]) for i in range(256)] + [b"+x*x+x", b"x+x*", b"*x+x", b"+x*", b"x*x+x*x"]
    vocab = Vocabulary.from_bytes([*toks, b""], eos_token_ids=[len(toks)],
                                  special_ids=[len(toks)])

    def run(use_kernel: bool) -> list[object]:
        g = ge.compile_grammar('start: e\ne: e "+" e | e "*" e | "x"\n', vocab,
                               limits=Limits(max_parser_stacks=max_stacks), cache=False,
                               eager_tables=False)
        runtime_for(g).use_glr_kernel = use_kernel
        if not walk:
            runtime_for(g).walk_visits = 0
        m, seen = Matcher(g), []
        try:
            for step in range(12):
                seen.append(m.next_token_bitmask().tobytes())
                assert m.consume_string("x+x*"[step % 4])
        except LimitExceededError as e:
            seen.append((e.limit, step))
        return seen

    with_kernel = run(True)
    assert with_kernel == run(False)
    assert (len(with_kernel) == 12) == (max_stacks == 1_000)


@pytest.mark.parametrize("order", ["space-first", "tab-first"])
def test_restarting_tables_are_keyed_by_what_the_grammar_ignores(order: str) -> None:
    """Two grammars whose lexer states match alike but ignore different terminals: the
    table that restarts ignored lexemes in the fresh state is not shared between them."""
    multi = [b"  b", b"\t\tb", b" b", b"\tb", b" \tb"]
    toks = [bytes([i]) for i in range(256)] + multi
    vocab = Vocabulary.from_bytes([*toks, b""], eos_token_ids=[len(toks)],
                                  special_ids=[len(toks)])
    grammars = {
        "space": ('start: "a" TAB? "b"\nTAB: "\\t"\n%ignore " "\n',
                  {b" b", b"\tb", b" \tb", b"  b"}),  # "\t\tb": two tabs, one allowed
        "tab": ('start: "a" SP? "b"\nSP: " "\n%ignore "\\t"\n',
                {b" b", b"\tb", b" \tb", b"\t\tb"}),  # "  b": two spaces, one allowed
    }
    names = ["space", "tab"] if order == "space-first" else ["tab", "space"]
    for name in names:
        text, want = grammars[name]
        m = Matcher(ge.compile_grammar(text, vocab, cache=False))
        assert m.consume_string("a")
        allowed = {toks[t] for t in m.allowed_token_ids().tolist() if t >= 256}
        assert allowed == want, name


@pytest.mark.parametrize("name", ["json", "arithmetic", "sql"])
def test_lr_kernel_batches_give_single_token_verdicts(name: str) -> None:
    """``resolve_with_parser`` shares walks between tokens with a common prefix and the
    fresh state after each path of terminals between tokens of one call: over every
    token (sorted, many sharing prefixes and crossing several boundaries) each verdict
    equals that of a call with the token alone, at every fresh state of the samples."""
    from grammar_engine.runtime import runtime_for
    from native.kernels import resolve_with_parser
    from tests.grammars import ALL, SAMPLES

    vocab = pieces_vocab(name)
    compiled = ge.compile_grammar(ALL[name], vocab, cache=False)
    rt = runtime_for(compiled)
    assert rt.use_kernel
    idx = rt.index
    n_sorted = len(idx.sorted_len)
    offs = np.zeros(n_sorted, dtype=np.int32)
    no_terms = np.zeros(0, dtype=np.int32)
    checked = 0
    for text in SAMPLES[name]:
        m = Matcher(compiled)
        for ch in text:
            m.fill_next_token_bitmask(ge.allocate_token_bitmask(1, vocab.size))
            stacks = m._state.stacks
            if len(stacks) == 1:
                q = rt.lex_start(stacks)
                stack = np.array(stacks[0].states(), dtype=np.int32)
                keys, vals = rt._start_arrays()
                # Every fresh state so far, keyed by its allowed terminals' bits, sorted.
                assert bool(np.all(keys[1:] > keys[:-1]))
                assert dict(zip(keys.tolist(), vals.tolist(), strict=True)) == {
                    sum(1 << t for t in allowed): q for allowed, q in rt.lexer.starts.items()}
                trans, top = rt.lexer.arrays

                def run(positions: np.ndarray, q: int = q, stack: np.ndarray = stack,
                        keys: np.ndarray = keys, vals: np.ndarray = vals,
                        trans: np.ndarray = trans, top: np.ndarray = top) -> np.ndarray:
                    return resolve_with_parser(
                        trans, top, np.int32(q), positions, offs[:len(positions)], no_terms,
                        idx.sorted_data, idx.sorted_start, idx.sorted_len, stack, rt.k_act,
                        rt.k_goto, rt.k_lhs, rt.k_len, rt.k_ignored,
                        np.int32(rt.parser.end), keys, vals,
                        np.empty(len(positions), dtype=np.uint64))

                every = np.arange(n_sorted, dtype=np.int32)
                batch = run(every)
                alone = np.array([run(every[i:i + 1])[0] for i in range(n_sorted)])
                np.testing.assert_array_equal(batch, alone)
                assert (batch == 1).any() and (batch == 0).any()
                checked += 1
            assert m.consume_string(ch)
    assert checked > 5


@pytest.mark.parametrize("name", ["json", "arithmetic", "sql"])
def test_lr_kernel_shifts_each_tokens_first_lexeme_as_python_does(name: str) -> None:
    """Given a terminal per token (``firsts``: the lexeme each token's bytes follow),
    ``resolve_with_parser`` shifts it itself on the stack before them: over every token
    after every terminal the parser allows, in one call, each verdict equals that of a
    call per terminal on the stack Python's parser leaves after it, at every state of
    the samples."""
    from grammar_engine.runtime import runtime_for
    from native.kernels import resolve_with_parser
    from tests.grammars import ALL, SAMPLES

    vocab = pieces_vocab(name)
    compiled = ge.compile_grammar(ALL[name], vocab, cache=False)
    rt = runtime_for(compiled)
    idx = rt.index
    every = np.arange(len(idx.sorted_len), dtype=np.int32)
    no_terms = np.zeros(0, dtype=np.int32)
    checked = 0

    def run(q: int, stack: np.ndarray, toks: np.ndarray, firsts: np.ndarray) -> np.ndarray:
        keys, vals = rt._start_arrays()
        trans, top = rt.lexer.arrays
        return resolve_with_parser(
            trans, top, np.int32(q), toks, np.zeros(len(toks), dtype=np.int32), firsts,
            idx.sorted_data, idx.sorted_start, idx.sorted_len, stack, rt.k_act, rt.k_goto,
            rt.k_lhs, rt.k_len, rt.k_ignored, np.int32(rt.parser.end), keys, vals,
            np.empty(len(toks), dtype=np.uint64))

    for text in SAMPLES[name]:
        m = Matcher(compiled)
        for ch in text:
            stacks = m._state.stacks
            terms = sorted(t for t in rt.parser.allowed(stacks) if t < rt.n_terminals)
            want = []
            for t in terms:  # (makes the fresh states both calls look up)
                after = rt.end_lexeme(stacks, t)
                assert after is not None and len(after) == 1
                want.append((rt.lex_start(after), np.array(after[0].states(), np.int32)))
            toks = np.tile(every, len(terms))
            firsts = np.repeat(np.array(terms, dtype=np.int32), len(every))
            got = run(rt.lex_start(stacks), np.array(stacks[0].states(), np.int32), toks,
                      firsts)
            for k, (q2, stack2) in enumerate(want):
                alone = run(q2, stack2, every, no_terms)
                np.testing.assert_array_equal(got[k * len(every):(k + 1) * len(every)],
                                              alone, err_msg=f"{ch!r} {terms[k]}")
                checked += int((alone == 1).sum())
            assert m.consume_string(ch)
    assert checked > 100


def test_lr_kernel_names_the_fresh_states_it_lacks() -> None:
    """Given no fresh lexer states at all, ``resolve_with_parser`` leaves each token that
    crosses a lexeme boundary the parser takes undecided (verdict 3), naming the set of
    terminals the parser allows after that lexeme: the set ``lex_start`` creates its
    fresh state for."""
    from grammar_engine.runtime import runtime_for
    from native.kernels import resolve_with_parser
    from tests.grammars import ALL, SAMPLES

    vocab = pieces_vocab("json")
    compiled = ge.compile_grammar(ALL["json"], vocab, cache=False)
    rt = runtime_for(compiled)
    idx = rt.index
    every = np.arange(len(idx.sorted_len), dtype=np.int32)
    no_keys, no_vals = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32)
    named = 0
    m = Matcher(compiled)
    for ch in SAMPLES["json"][0]:
        stacks = m._state.stacks
        q0 = rt.lex_start(stacks)
        trans, top = rt.lexer.arrays
        need = np.zeros(len(every), dtype=np.uint64)
        verdict = resolve_with_parser(
            trans, top, np.int32(q0), every, np.zeros(len(every), dtype=np.int32),
            np.zeros(0, dtype=np.int32), idx.sorted_data, idx.sorted_start, idx.sorted_len,
            np.array(stacks[0].states(), dtype=np.int32), rt.k_act, rt.k_goto, rt.k_lhs,
            rt.k_len, rt.k_ignored, np.int32(rt.parser.end), no_keys, no_vals, need)
        for p in np.flatnonzero(verdict == 3).tolist():
            data = bytes(idx.sorted_data[idx.sorted_start[p]:][:idx.sorted_len[p]])
            q = q0
            for byte in data:  # the first boundary whose lexeme is not ignored
                nxt = int(trans[q, byte])
                if nxt >= 0:
                    q = nxt
                    continue
                term = int(top[q])
                if term not in rt.ignored:
                    break
                q = int(trans[q0, byte])
            after = rt.end_lexeme(stacks, term)
            assert after is not None
            assert int(need[p]) == sum(1 << t for t in rt.parser.allowed(after)), data
            named += 1
        assert m.consume_string(ch)
    assert named > 20


@pytest.mark.parametrize("name", ["json", "arithmetic", "sql", "c_like", "ambiguous"])
def test_groups_sent_straight_to_the_kernels_give_the_walked_masks(name: str) -> None:
    """A table's boundary groups go straight to a resolve kernel (up to
    ``direct_group_limit`` tokens) or are walked first and their crossing tokens resolved
    per terminal: the masks are the same."""
    from grammar_engine.runtime import runtime_for
    from tests.grammars import ALL, SAMPLES

    vocab = pieces_vocab(name)
    direct = ge.compile_grammar(ALL[name], vocab, cache=False, eager_tables=False)
    walked = ge.compile_grammar(ALL[name], vocab, cache=False, eager_tables=False)
    runtime_for(walked).direct_group_limit = 0
    for text in SAMPLES[name]:
        a, b = Matcher(direct), Matcher(walked)
        for ch in text:
            np.testing.assert_array_equal(a.next_token_bitmask(), b.next_token_bitmask())
            assert a.consume_string(ch) and b.consume_string(ch)
        assert a.is_accepting() and b.is_accepting()


# Two string terminals match "bar" (a const and any string): the lexer reads such a lexeme
# as both (a reading id), which the kernels leave to Python.
READINGS_SCHEMA = {"prefixItems": [{"const": "foo"}],
                   "anyOf": [{"prefixItems": [True, {"const": "bar"}]},
                             {"prefixItems": [True, True, {"const": "baz"}]}],
                   "unevaluatedItems": False}


READINGS_DOCS = ['["foo", "bar"]', '["foo", "bar", "baz"]', '["foo", "x", "baz"]']


def _readings_pair() -> tuple[ge.CompiledGrammar, ge.CompiledGrammar]:
    """READINGS_SCHEMA compiled twice over a vocabulary of bytes and pieces of its
    documents."""
    pieces = {d.encode()[i:i + n] for d in READINGS_DOCS for n in range(2, 9)
              for i in range(len(d) - n + 1)}
    toks = [bytes([i]) for i in range(256)] + sorted(pieces)
    vocab = Vocabulary.from_bytes([*toks, b""], eos_token_ids=[len(toks)],
                                  special_ids=[len(toks)])
    return (ge.compile_json_schema(READINGS_SCHEMA, vocab, cache=False),
            ge.compile_json_schema(READINGS_SCHEMA, vocab, cache=False))


def _same_masks_along(docs: list[str], fast: ge.CompiledGrammar,
                      slow: ge.CompiledGrammar) -> None:
    for doc in docs:
        a, b = Matcher(fast), Matcher(slow)
        for ch in doc:
            np.testing.assert_array_equal(a.next_token_bitmask(), b.next_token_bitmask())
            assert a.consume_string(ch) and b.consume_string(ch)
        assert a.is_accepting() and b.is_accepting()


@pytest.mark.parametrize("limit", [0, 2048], ids=["walked", "straight"])
def test_kernels_leave_lexemes_with_several_readings_to_python(limit: int) -> None:
    """Masks with the resolve kernels equal those of the Python path where tokens end
    lexemes that several terminals read (ids from the parser's end terminal on)."""
    from grammar_engine.runtime import runtime_for

    fast, slow = _readings_pair()
    assert runtime_for(fast).use_kernel or runtime_for(fast).use_glr_kernel
    assert runtime_for(fast).lexer.n_terminals == runtime_for(fast).parser.end
    runtime_for(fast).direct_group_limit = limit
    runtime_for(slow).use_kernel = runtime_for(slow).use_glr_kernel = False
    _same_masks_along(READINGS_DOCS, fast, slow)


@pytest.mark.parametrize("limit", [0, 10**9], ids=["table", "python"])
def test_walk_leaving_many_tokens_to_python_gives_way_to_the_table(
        limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GLR walk that leaves more than ``_WALK_PYTHON_TOKENS`` tokens to Python (here
    lexemes with several readings) gives the state to the table path, whose groups are
    walked and cached (a whole vocabulary decided token by token took seconds under
    Gemma 3); the masks are the same either way."""
    import grammar_engine.runtime as runtime

    monkeypatch.setattr(runtime, "_WALK_PYTHON_TOKENS", limit)
    fast, slow = _readings_pair()
    assert runtime.runtime_for(fast).use_glr_kernel
    runtime.runtime_for(slow).use_kernel = runtime.runtime_for(slow).use_glr_kernel = False
    _same_masks_along(READINGS_DOCS, fast, slow)
    assert bool(runtime.runtime_for(fast)._table_states) == (limit == 0)


@pytest.mark.parametrize("name", ["json", "ambiguous"])
def test_parser_rows_hold_every_action_and_goto_of_the_table(name: str,
                                                             vocab: Vocabulary) -> None:
    """The Python parser's sparse rows (built from the table's non-empty entries) give
    the dense table's cells and gotos, -1 where the table has none."""
    from grammar_engine.runtime import runtime_for
    from tests.grammars import ALL

    compiled = ge.compile_grammar(ALL[name], vocab, cache=False)
    table, parser = compiled.table, runtime_for(compiled).parser
    n_t = table.n_terminals
    for s in range(table.n_states):
        for t in range(n_t):
            k = s * n_t + t
            want = tuple(table.cell_actions[table.cell_start[k]:table.cell_start[k + 1]])
            assert parser.cells[s].get(t, ()) == want
        for nt in range(table.goto.shape[1]):
            assert parser.goto[s].get(nt, -1) == table.goto[s, nt]
    assert any(len(a) > 1 for row in parser.cells.all_rows() for a in row.values()) == \
        (name == "ambiguous")
    # A state's default reduction: its row's every cell holds that one reduction.
    for s, row in enumerate(parser.cells.all_rows()):
        kinds = set(row.values())
        rule = -1 - next(iter(kinds))[0] if len(kinds) == 1 and len(next(iter(kinds))) == 1 \
            and next(iter(kinds))[0] < 0 else -1
        assert parser._default_rule(s) == rule == parser._defaults[s], s
    assert any(r >= 0 for r in parser._defaults) and any(r < 0 for r in parser._defaults)  # type: ignore[operator]
    with pytest.raises(KeyError):  # a state past the table has no row
        parser.cells[table.n_states]


def test_default_reductions_close_a_container_once(vocab: Vocabulary,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Shifting the brace that closes an object of thirty members makes the reductions
    that need no lookahead at once: the stack comes back to the array's level (not a
    chain of members 120 deep), and the same terminals follow as after the unreduced
    stack."""
    import json

    from grammar_engine.runtime import runtime_for

    props = {f"p{i}": {"type": "integer"} for i in range(30)}
    c = ge.compile_json_schema({"type": "array", "items": {"type": "object",
                                                           "properties": props}},
                               vocab, cache=False)
    rt, names = runtime_for(c), c.grammar.terminal_names
    parser = rt.parser
    m = Matcher(c)
    assert m.consume_string("[" + json.dumps({f"p{i}": i for i in range(30)})[:-1])
    stacks = parser.feed(m._state.stacks, rt.lexer.top(m._state.q))  # the last value
    assert stacks is not None and stacks[0].depth > 100
    rbrace = next(t for t, n in enumerate(names) if n.startswith("RBRACE"))
    eager = parser.feed(stacks, rbrace)
    with monkeypatch.context() as mp:
        mp.setattr(parser, "_defaults", [-1] * len(parser._defaults))
        lazy = parser.feed(stacks, rbrace)
    assert eager is not None and lazy is not None
    assert eager[0].depth < 10 < 100 < lazy[0].depth
    follow = [t for t in range(len(names) + 1) if parser.feed(lazy, t) is not None]
    assert follow and follow == [t for t in range(len(names) + 1)
                                 if parser.feed(eager, t) is not None]
    assert m.consume_string("}, {}]") and m.is_accepting()


def test_process_wide_memos_stay_in_the_oldest_generation(vocab: Vocabulary) -> None:
    """The lexer's memo of canonical keys keeps being tracked by the garbage collector
    after a full collection: a plain dict of untracked entries would be untracked, then
    tracked again by its next insertion into the youngest generation, where the next young
    collections would visit all its entries inside a mask computation."""
    import gc

    from compilers import lexer as lexer_module
    from grammar_engine.runtime import runtime_for

    compiled = ge.compile_grammar(JSON, vocab, cache=False)
    Matcher(compiled).next_token_bitmask()
    assert lexer_module._canonical_of
    assert runtime_for(compiled).lexer._signatures
    gc.collect()
    assert gc.is_tracked(lexer_module._canonical_of)
    assert gc.is_tracked(runtime_for(compiled).lexer._signatures)
    plain = dict(lexer_module._canonical_of)
    gc.collect()
    assert not gc.is_tracked(plain)  # what the memo's type prevents


@pytest.mark.parametrize("name", ["json", "sql", "ambiguous"])
def test_work_done_ahead_of_time_gives_the_masks_of_the_first_visits(name: str) -> None:
    """``compile_grammar`` builds tables and the first configurations' masks ahead of time
    (``GrammarRuntime.prepare``): a new matcher's first mask is then already there, and
    along the samples every mask equals that of a grammar compiled with nothing ahead of
    time."""
    from grammar_engine.runtime import runtime_for
    from tests.grammars import ALL, SAMPLES

    vocab = pieces_vocab(name)
    eager = ge.compile_grammar(ALL[name], vocab, cache=False)
    lazy = ge.compile_grammar(ALL[name], vocab, cache=False, eager_tables=False)
    rt = runtime_for(eager)
    assert rt.initial in rt.fill_cache and rt.index.n_built > 0
    assert runtime_for(lazy).index.n_built == 0 and not runtime_for(lazy).fill_cache
    assert rt.prepare() == 0  # once per runtime
    for text in SAMPLES[name]:
        a, b = Matcher(eager), Matcher(lazy)
        for ch in text:
            np.testing.assert_array_equal(a.next_token_bitmask(), b.next_token_bitmask())
            assert a.consume_string(ch) and b.consume_string(ch)
        assert a.is_accepting() and b.is_accepting()


def test_compiled_grammar_reports_the_bytes_it_holds() -> None:
    """``CompiledGrammar.nbytes`` (MaskBench's memory per compiled schema): its automata,
    parse table and lexer rows from the start, then also every token table a matcher
    builds; the lexer counts the rows of the states it made, not its spare capacity."""
    from compilers.compiled import _arrays_nbytes
    from tests.grammars import ALL, SAMPLES

    vocab = pieces_vocab("json")
    eager = ge.compile_grammar(ALL["json"], vocab, cache=False)  # tables ahead of time
    assert eager.index.nbytes > 0 and eager.nbytes > eager.index.nbytes
    compiled = ge.compile_grammar(ALL["json"], vocab, cache=False, eager_tables=False)
    automata = sum(d.nbytes for d in compiled.dfas)
    assert compiled.index.nbytes == 0
    before = compiled.nbytes
    assert before == automata + _arrays_nbytes(compiled.table) + compiled.lexer.nbytes
    assert compiled.lexer.nbytes < _arrays_nbytes(compiled.lexer)  # capacity not counted
    m = Matcher(compiled)
    bitmask = ge.allocate_token_bitmask(1, vocab.size)
    for ch in SAMPLES["json"][0]:
        m.fill_next_token_bitmask(bitmask)
        assert m.consume_string(ch)
    assert compiled.index.nbytes > 0
    assert compiled.nbytes == automata + _arrays_nbytes(compiled.table) + \
        compiled.lexer.nbytes + compiled.index.nbytes > before
    assert compiled.stats()["bytes"] == compiled.nbytes
