"""Shift classes (native.shift_kernels, compilers.shift_classes): every state joined to a
class is depth-equivalent to the class's smallest state, checked by brute force; long
length-bounded strings share one token table along their positions, and each shared table
equals the state's own build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compilers.automata import build_terminal_dfa
from compilers.shift_classes import shift_classes
from compilers.token_index import StateTokens
from compilers.vocab import Vocabulary
from grammar_engine import Matcher, compile_json_schema
from native import reference
from native.shift_kernels import merge_shift
from tests.test_token_slices import _same

PATTERNS = ['"[a-z]{3,40}"', "[ab]{0,30}c", "x[yz]{1,25}w?", '"([^"\\\\]|\\\\n){0,20}"',
            "[0-9]{2,25}(\\.[0-9]{1,20})?"]


def _starts(trans: np.ndarray) -> np.ndarray:
    changes = (trans[:, 1:] != trans[:, :-1]).any(axis=0)
    return np.concatenate(([0], np.flatnonzero(changes) + 1)).astype(np.int32)


def _merged(trans: np.ndarray, accept: np.ndarray, seed: int, byte: int, depth: int,
            max_states: int) -> tuple[np.ndarray, int]:
    root = np.arange(trans.shape[0], dtype=np.int32)
    joined = merge_shift(root, trans, accept, np.int32(seed), np.int32(trans[seed, byte]),
                         np.int32(depth), _starts(trans), max_states)
    return root, joined


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("depth", [1, 4, 12])
def test_joined_states_are_depth_equivalent(pattern: str, depth: int) -> None:
    dfa = build_terminal_dfa(pattern, lazy=False)
    trans = np.ascontiguousarray(dfa.trans, dtype=np.int32)
    accept = np.ascontiguousarray(dfa.accept, dtype=np.bool_)
    total = 0
    for seed in range(min(dfa.n_states, 6)):
        for byte in sorted(set(np.flatnonzero(trans[seed] >= 0).tolist()))[:3]:
            if trans[seed, byte] == seed:
                continue
            for max_states in (dfa.n_states, 30):
                root, joined = _merged(trans, accept, seed, byte, depth, max_states)
                assert np.all(root <= np.arange(len(root)))
                assert np.all(root[root] == root)  # every state points at its class's root
                for s in np.flatnonzero(root != np.arange(len(root))).tolist():
                    assert reference.depth_equivalent_ref(trans, accept, s, root[s], depth), \
                        (pattern, seed, byte, s)
                total += joined
    assert total > 0  # every pattern is a chain: some shift joins states


def test_counted_chain_joins_its_middle() -> None:
    """A chain of 120 positions at depth 20: the positions at least 20 bytes from both of
    its ends fall into one class; the others stay apart."""
    dfa = build_terminal_dfa('"[a-z]{3,120}"', lazy=False)
    trans = np.ascontiguousarray(dfa.trans, dtype=np.int32)
    accept = np.ascontiguousarray(dfa.accept, dtype=np.bool_)
    positions = [int(trans[0, ord('"')])]
    for _ in range(120):
        positions.append(int(trans[positions[-1], ord("a")]))
    root, _ = _merged(trans, accept, positions[0], ord("a"), 20, dfa.n_states)
    roots = [int(root[p]) for p in positions]
    middle = roots[3:101]  # 3 characters before the quote may close; 20 before the end
    assert len(set(middle)) == 1
    assert len(set(roots)) == len(roots) - len(middle) + 1


def test_state_shifted_to_two_states_is_a_break() -> None:
    """Two bytes that the seed's successor sends apart but the seed sends to one state:
    that state would be shifted to two states, a break one byte from the seed, so nothing
    is joined at depth 3."""
    n = 6
    trans = np.full((n, 256), -1, np.int32)
    trans[0, 97] = 1  # seed 0 -> image 1 on "a"
    trans[0, 98] = 2
    trans[0, 99] = 2  # 0 sends "b" and "c" to one state...
    trans[1, 98] = 3
    trans[1, 99] = 4  # ...its image sends them apart
    trans[1, 97] = 5
    accept = np.zeros(n, np.bool_)
    root, joined = _merged(trans, accept, 0, 97, 3, n)
    assert joined == 0 and np.array_equal(root, np.arange(n))


@pytest.mark.real_tokenizer
def test_long_strings_share_tables_along_their_positions(
        tokenizer_dir: Callable[[str], Path]) -> None:
    """Strings of at most 3,000 characters: too many states within the longest token's
    length for the canonical hash, so each typed position would have its own table; the
    shift classes give most positions one key, and every position's shared table equals
    its own build."""
    vocab = Vocabulary.from_tokenizer_json(tokenizer_dir("llama3"))
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "maxLength": 3000},
        "b": {"type": "string", "minLength": 150, "maxLength": 2000}}}
    c = compile_json_schema(schema, vocab, cache=False)
    depth = c.index._depth
    for text in ('{"a": "' + "xy é" * 60, '{"b": "' + "lorem ipsum " * 25):
        m = Matcher(c)
        visited = []
        for ch in text:
            assert m.consume_string(ch)
            m.fill_next_token_bitmask(m.next_token_bitmask())
            visited.append(m._state.q)
        in_string = [q for q in visited[8:] if q < c.lexer.base]
        assert len(in_string) > 200
        keys = {c.lexer.signature(q, depth)[0] for q in in_string}
        if text.startswith('{"a"'):  # before shift classes: one key per position
            assert len(keys) < 12, len(keys)
        else:  # 128 positions before the minimum length differ; most of the others share
            assert len(keys) < len(in_string) - 60, len(keys)
        for q in in_string[::7]:
            terms = c.lexer.signature(q, depth)[1]
            own = c.index._build(q, terms)
            own = StateTokens(own.inside, own.first_dead, c.index._relabel(own.groups, terms))
            assert _same(c.index.get(q), own), q
    dfa = c.lexer.dfas[int(c.lexer._term_of[in_string[0]])]
    classes = shift_classes(dfa, depth, create=False)
    assert classes is not None and len(np.unique(classes.root)) < dfa.n_states


def test_a_cycle_never_dies_whatever_the_depth() -> None:
    """The cheap chain check stops once the path has cycled: an unbounded depth (the
    lexer's default) is answered at once instead of walking 2**30 bytes."""
    from compilers.shift_classes import _dies_within_depth

    cycle = np.full((3, 256), -1, dtype=np.int32)
    cycle[0, ord("a")], cycle[1, ord("a")], cycle[2, ord("a")] = 1, 2, 1
    assert not _dies_within_depth(cycle, 0, ord("a"), 1 << 30)
    chain = np.full((3, 256), -1, dtype=np.int32)
    chain[0, ord("a")], chain[1, ord("a")] = 1, 2
    assert _dies_within_depth(chain, 0, ord("a"), 1 << 30)
    assert not _dies_within_depth(chain, 0, ord("a"), 1)  # dies at the third byte


def test_a_seed_near_the_end_does_not_stop_other_seeds() -> None:
    """A seed whose chain ends within the depth (near the string's end) joins nothing;
    a later seed far from the end still joins its positions (the classes are shared by
    every grammar of a process: one such seed once stopped every later search)."""
    from compilers.shift_classes import ShiftClasses

    dfa = build_terminal_dfa('"[a-z]{0,300}"', lazy=False)
    trans = np.asarray(dfa.trans)
    at = [int(trans[0, ord('"')])]  # at[k]: after the quote and k letters
    for _ in range(300):
        at.append(int(trans[at[-1], ord("a")]))
    classes = ShiftClasses(dfa.n_states, depth=8)
    assert classes.add_seed(dfa, at[297]) == at[297]  # three letters left: nothing to join
    classes.add_seed(dfa, at[10])
    assert classes.rep(at[100]) < at[100]  # joined along the chain, down to at[10]'s class
