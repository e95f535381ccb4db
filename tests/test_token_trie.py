"""The trie skips of the token-table builder change nothing: on real lexers and real
vocabularies, closed byte classes equal a fixpoint computed another way, and every
token's verdict in a built table equals its own walk (``classify_tokens_ref``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compilers.token_trie import BYTE_CLASSES
from compilers.vocab import Vocabulary
from grammar_engine import Matcher, compile_grammar, compile_json_schema
from native.reference import classify_bytes_ref
from tests.grammars import ALL

SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
    "n": {"type": "integer"}, "note": {"type": "string", "maxLength": 20},
    "mail": {"type": "string", "format": "email"}}}
TEXTS = {"c_like": ["int x = 3; // done", "while (i < 10) { i = i + 1; } return i;"],
         "sql": ["SELECT a, b.c FROM t WHERE a >= 10 AND b <> 'x y'"],
         "schema": ['{"id": "ab_1", "n": 12, "note": "hello there", "mail": "a.b@ex.org"}']}


def _closed_by_iteration(trans: np.ndarray) -> np.ndarray:
    """Bit k of a state: it and all its class-k successors, again and again, have every
    class-k transition (the greatest fixpoint, by repeated elimination)."""
    flags = np.zeros(len(trans), dtype=np.uint16)
    for k, members in enumerate(BYTE_CLASSES):
        sub = trans[:, list(members)]
        ok = (sub >= 0).all(axis=1)
        while True:
            nxt = ok & np.where(sub >= 0, ok[np.maximum(sub, 0)], False).all(axis=1)
            if (nxt == ok).all():
                break
            ok = nxt
        flags[ok] |= np.uint16(1 << k)
    return flags


def _compiled(name: str, vocab: Vocabulary):  # type: ignore[no-untyped-def]
    if name == "schema":
        return compile_json_schema(SCHEMA, vocab, cache=False)
    return compile_grammar(ALL[name], vocab, cache=False)


@pytest.mark.real_tokenizer
@pytest.mark.parametrize("tok", ["llama3", "gemma3"])
@pytest.mark.parametrize("name", ["c_like", "sql", "schema"])
def test_tables_equal_each_tokens_own_walk(tok: str, name: str,
                                           tokenizer_dir: Callable[[str], Path]) -> None:
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir(tok))
    c = _compiled(name, vocab)
    lexer, index = c.lexer, c.index
    n_seen = 0
    for text in TEXTS[name]:  # the lexer grows while the matcher goes: flags in steps
        m = Matcher(c)
        for ch in text:
            m.fill_next_token_bitmask(m.next_token_bitmask())
            assert m.consume_string(ch), ch
            closed = lexer.closed_classes(BYTE_CLASSES)
            if len(closed) > n_seen:
                trans, _ = lexer.arrays
                np.testing.assert_array_equal(closed, _closed_by_iteration(trans))
                n_seen = len(closed)
    reached = lexer.reachable_states()
    assert (lexer.closed_classes(BYTE_CLASSES)[reached] != 0).any()
    # Reached states' tables (with and without restarts) against the reference walk of a
    # sample of tokens (the reference walks token by token, in Python).
    va = vocab.arrays
    rng = np.random.default_rng(0)
    inside_ignored = [q for q in reached
                      if lexer.live_terminals(q) & lexer.ignored and not lexer.is_fresh(q)]
    if len(reached) > 40:  # every whitespace state, and a sample of the others
        reached = sorted(set(inside_ignored[:10]) |
                         set(rng.choice(reached, size=40, replace=False).tolist()))
    sample = np.sort(rng.choice(len(va.sorted_ids), size=1500, replace=False))
    ids = va.sorted_ids[sample]
    spelled = [vocab.token_bytes[int(t)] for t in ids]
    in_sample = np.zeros(len(va.sorted_ids), dtype=np.bool_)
    in_sample[sample] = True
    trans, top = lexer.arrays
    fresh = sorted(q for q in lexer.starts.values() if q >= 0)
    into = 0
    for q in reached:
        # Plain; ignored lexemes restarting in q (fresh); restarting in a fresh state
        # after q, when q may end an ignored lexeme (whitespace).
        targets = [-1, q]
        if q in inside_ignored:
            targets += fresh[:3]
            into += 1
        for restart_to in targets:
            table = index.get(q, restart_to)
            want = classify_bytes_ref(
                trans, top, q, ids, spelled, vocab.n_words, index._restarts
                if restart_to >= 0 and lexer.ignored else np.zeros(0, dtype=np.bool_),
                restart_to)
            words = np.zeros(vocab.n_words, dtype=np.uint32)
            np.bitwise_or.at(words, ids >> 5, np.uint32(1) << (ids & 31).astype(np.uint32))
            where = f"state {q} into {restart_to}"
            np.testing.assert_array_equal(table.inside & words, want[0], err_msg=where)
            np.testing.assert_array_equal(table.first_dead & words, want[1], err_msg=where)
            got = sorted((int(p), int(o), int(t)) for t, toks, offs in table.groups
                         for p, o in zip(toks[in_sample[toks]], offs[in_sample[toks]],
                                         strict=True))
            assert got == sorted(zip(sample[want[2]].tolist(), want[3].tolist(),
                                     want[4].tolist())), where
    assert into or not lexer.ignored  # some whitespace state was checked


@pytest.mark.parametrize("above", [0, 2, 24])
def test_child_lists_equal_the_sorted_tokens(above: int) -> None:
    """``trie_children``: each node with more than ``above`` tokens below it (the root
    included) lists exactly its children, byte by byte, at the sorted position of their
    first token, and then its end; smaller nodes have no list."""
    from native.reference import trie_tokens_ref
    from tests.grammars import pieces_vocab

    vocab = pieces_vocab("sql", [b"", b"\xff\xfe", b"  ", b"   ", b"    x"])
    c = compile_grammar(ALL["sql"], vocab, cache=False)
    trie = c.index.trie
    node_dir, dir_start, child_pos, child_bytes = trie.children(above)
    tokens = trie_tokens_ref(trie.tok_info, trie.nodes)
    n_nodes = len(trie.nodes)
    listed = 0
    # Every node (prefix) and its subtree, from the tokens themselves.
    prefixes = {b""} | {t[:k] for t in tokens for k in range(1, len(t) + 1)}
    for prefix in prefixes:
        below = [p for p, t in enumerate(tokens) if t.startswith(prefix) and len(t) > len(prefix)]
        if prefix:
            first = min(p for p, t in enumerate(tokens) if t.startswith(prefix))
            node = (int(trie.tok_info[first]) >> 32) + len(prefix) - 1
        else:
            node = n_nodes
        j = int(node_dir[node])
        if len(below) <= above:
            assert j == -1, prefix
            continue
        listed += 1
        firsts: dict[int, int] = {}
        for p in below:
            firsts.setdefault(tokens[p][len(prefix)], p)
        entries = child_pos[dir_start[j] : dir_start[j + 1]].tolist()
        assert entries[:-1] == [firsts[b] for b in sorted(firsts)], prefix
        assert entries[-1] == below[-1] + 1, prefix
        marked = np.unpackbits(child_bytes[j].view(np.uint8), bitorder="little")
        assert np.flatnonzero(marked).tolist() == sorted(firsts), prefix
    assert listed == len(dir_start) - 1 and listed > 3


def test_run_bits_equal_the_sorted_tokens() -> None:
    """A trie node's run bit (bit 56) is set exactly when every byte below it, in every
    token that shares its prefix, is the node's own byte."""
    from native.reference import trie_tokens_ref
    from tests.grammars import pieces_vocab

    vocab = pieces_vocab("sql", [b"  ", b"   ", b" " * 9, b" \n", b"))", b")))", b"))x"])
    trie = compile_grammar(ALL["sql"], vocab, cache=False).index.trie
    tokens = trie_tokens_ref(trie.tok_info, trie.nodes)
    runs = 0
    for p, token in enumerate(tokens):
        info = int(trie.tok_info[p])
        for d in range((info >> 16) & 0xFFFF, info & 0xFFFF):  # the nodes p owns
            prefix = token[: d + 1]
            below = b"".join(t[d + 1 :] for t in tokens if t.startswith(prefix))
            want = set(below) <= {prefix[-1]}
            got = bool(int(trie.nodes[(info >> 32) + d]) >> 56 & 1)
            assert got == want, prefix
            runs += want and len(below) > 0
    assert runs > 3
