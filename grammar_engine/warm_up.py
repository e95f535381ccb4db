"""Load every numba kernel at start-up instead of inside the first masks.

numba compiles a kernel the first time it is called after the package is installed or
changed (seconds), and in later processes loads the machine code from its disk cache (a
few milliseconds a kernel). Either way the cost lands in whichever fill first needs the
kernel: a server's first requests. :func:`warm_up` calls every kernel once, with the
argument types the engine always uses (one specialization each, see ``native.kernels``),
by compiling and walking a small grammar, an ambiguous grammar, a regex and a JSON schema
over a tiny synthetic vocabulary of its own: it builds no table for the caller's
vocabulary, and the terminals it compiles are its own.
"""

from __future__ import annotations

import time

import numpy as np

from compilers.automata import build_terminal_dfa
from compilers.compiled import CompiledGrammar
from compilers.shift_classes import ShiftClasses
from compilers.vocab import Vocabulary
from grammar_engine.bitmask import allocate_token_bitmask, apply_token_bitmask_inplace
from grammar_engine.compile import compile_grammar, compile_json_schema, compile_regex
from grammar_engine.matcher import Matcher
from grammar_engine.runtime import runtime_for

__all__ = ["warm_up"]

_GRAMMAR = r"""
start: item ("," item)*
item: WORD | NUMBER | STRING | "[" [start] "]" | WORD "=" item
WORD: /[a-z_][a-z0-9_]*/
NUMBER: /-?[0-9]+(\.[0-9]+)?/
STRING: /"([^"\\]|\\.)*"/
%ignore / +/
"""
_GRAMMAR_TEXT = 'ab = [1, "x y\\"\u00e9", -2.5], c_1'
_AMBIGUOUS = 'start: e\ne: e "+" e | e "*" e | "n"\n'  # not LALR(1): the general parser
_AMBIGUOUS_TEXT = "n+n*n+n"
_REGEX = r"[a-z]{2,6}( [0-9]+)?"
_REGEX_TEXT = "abc 12"
_SCHEMA = {
    "type": "object", "required": ["s", "n"],
    "properties": {
        "s": {"type": "string", "maxLength": 3000},  # a long bounded string: shift classes
        "n": {"type": "number"}, "e": {"enum": ["x", 1, None]},
        "p": {"type": "string", "pattern": "^[a-z]+$"},
        "u": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
    },
    "patternProperties": {"^x": {"type": "integer"}},  # keys: automaton products
}
_SCHEMA_TEXT = ('{"s": "' + "lorem ipsum " * 20 + '", "n": -1.5e3, "e": null, "p": "abc", '
                '"u": [1, 2]}')
# Multi-byte tokens, so that tokens cross lexeme boundaries as real ones do.
_MERGES = [b"lorem", b" ipsum", b"ipsum ", b'": ', b'", "', b", ", b"ab", b"abc", b" [",
           b"1,", b"-2", b".5", b"e3", b'"x', b' "', "\u00e9".encode(), b"n+", b"+n",
           b"*n", b"n+n", b"+n*", b'{"', b'"}', b"]}", b" 12", b"c_"]


def warm_up() -> float:
    """Call every kernel once so that later masks do not compile or load them.

    Returns the seconds it took: about 1 s when numba loads the kernels from its cache,
    about 30 s on a 2-core machine the first time after the package is installed or
    changed, when numba compiles them. Safe to call more than once and from any thread;
    the later calls are quick.
    """
    t0 = time.perf_counter()
    tokens = [bytes([b]) for b in range(256)] + _MERGES
    vocab = Vocabulary.from_bytes([*tokens, b""], eos_token_ids=[len(tokens)],
                                  name="<warm-up>")
    bitmask = allocate_token_bitmask(1, vocab.size)
    logits = np.zeros((1, vocab.size), dtype=np.float32)

    def lazy(text: str) -> CompiledGrammar:  # (every table built by a mask, as it runs)
        return compile_grammar(text, vocab, cache=False, eager_tables=False)

    for compiled, text, walk_groups in (
        (lazy(_GRAMMAR), _GRAMMAR_TEXT, False),
        (lazy(_GRAMMAR), _GRAMMAR_TEXT, True),
        (lazy(_AMBIGUOUS), _AMBIGUOUS_TEXT, False),
        (lazy(_AMBIGUOUS), _AMBIGUOUS_TEXT, True),
        (compile_regex(_REGEX, vocab, cache=False), _REGEX_TEXT, False),
        (compile_json_schema(_SCHEMA, vocab, cache=False), _SCHEMA_TEXT, False),
    ):
        if walk_groups:  # the path of groups larger than this vocabulary's
            runtime_for(compiled).direct_group_limit = 0
        matcher = Matcher(compiled)
        for tid in _tokenize(text.encode("utf-8"), tokens):
            matcher.fill_next_token_bitmask(bitmask)
            matcher.accepts_token(tid)
            if not matcher.consume_token(tid):
                raise RuntimeError(f"warm-up text {text!r} rejected: an engine bug")
        matcher.fill_next_token_bitmask(bitmask)
        matcher.find_jump_forward_string()
        matcher.copy().rollback(2)
        apply_token_bitmask_inplace(logits, bitmask)
    # A lexer that outgrows its hash table (large schemas) rehashes it.
    lexer = runtime_for(compiled).lexer
    lexer.rehashed(lexer.base, 4)  # no state: loads the kernel only
    # Shift classes serve strings longer than this vocabulary's tokens reach: seed one.
    chain = build_terminal_dfa("[a-z]{0,200}", False)
    ShiftClasses(chain.n_states, 8).add_seed(chain, 50)
    return time.perf_counter() - t0


def _tokenize(data: bytes, tokens: list[bytes]) -> list[int]:
    """Greedy longest-match token ids of ``data`` (every byte is a token)."""
    by_bytes = {t: i for i, t in enumerate(tokens)}
    longest = max(map(len, tokens))
    ids, pos = [], 0
    while pos < len(data):
        for n in range(min(longest, len(data) - pos), 0, -1):
            tid = by_bytes.get(data[pos:pos + n])
            if tid is not None:
                ids.append(tid)
                pos += n
                break
    return ids
