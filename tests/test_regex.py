"""Regex front end and byte DFAs against Python's own ``re`` on random strings."""

from __future__ import annotations

import random
import re

import pytest

from compilers.automata import build_byte_dfa, build_terminal_dfa
from compilers.errors import GrammarSyntaxError, LimitExceededError, UnsupportedFeatureError
from compilers.regex import compile_regex_nfa, has_lazy_quantifier
from tests.dfa_reference import byte_nfa_dfa, utf8_sequences

PATTERNS = [
    r"[a-z]+",
    r"\d+(\.\d+)?",
    r'"(?:[^"\\\n]|\\[^\n])*"',
    r"(?i)select",
    r"(?i:[a-c]x)",
    r"é|è|ü+",
    r"[^a]",
    r"\w+",
    r"\s*\S",
    r"a{2,4}b",
    r"a{3}",
    r"(ab|a)*c",
    r"^x$",
    r"\Ax\Z",
    r".",
    r"(?s:.)",
    r"[\u4e00-\u9fff]+",
    r"[😀-😂]x?",
    r"(?a:\w+)",
    r"a*",
    r"(a|)b",
    r"[-+]?(0|[1-9][0-9]*)",
]

ALPHABET = list("abcx12.éèü中\"\\\nSsElK_ -+0") + ["😀", "😁", "ſ", "K", "٣", "\u00a0"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_dfa_matches_python_re(pattern: str) -> None:
    dfa = build_terminal_dfa(pattern, False)
    rng = random.Random(pattern)
    for _ in range(2000):
        s = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))
        expected = re.fullmatch(pattern, s) is not None
        assert dfa.matches(s.encode()) == expected, (pattern, s)
        if expected:
            for k in range(len(s.encode()) + 1):
                assert dfa.is_prefix(s.encode()[:k]), (pattern, s, k)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_live_state_can_reach_acceptance(pattern: str) -> None:
    dfa = build_terminal_dfa(pattern, False)
    # Trimmed: from every state some accepting state is reachable.
    n = dfa.n_states
    live = set(int(s) for s in range(n) if dfa.accept[s])
    changed = True
    while changed:
        changed = False
        for s in range(n):
            if s not in live and any(int(t) in live for t in dfa.trans[s] if t >= 0):
                live.add(s)
                changed = True
    assert live == set(range(n))


def test_invalid_bytes_never_match() -> None:
    dfa = build_terminal_dfa(r"(?s:.)*", False)
    assert dfa.matches("aé中😀".encode())
    assert not dfa.is_prefix(b"\xff")
    assert not dfa.is_prefix(b"\xc0\x80")  # overlong encoding
    assert not dfa.is_prefix("\ud800".encode("utf-8", "surrogatepass"))
    assert dfa.is_prefix(b"\xe4\xb8")  # first two bytes of a CJK character


def test_utf8_sequences_cover_exactly() -> None:
    rng = random.Random(0)
    for _ in range(200):
        lo = rng.choice([0, 0x7F, 0x80, 0x7FF, 0x800, 0xE000, 0xFFFF, 0x10000]) + rng.randint(0, 50)
        hi = min(lo + rng.randint(0, 70000), 0x10FFFF)
        if lo <= 0xDFFF and hi >= 0xD800:
            continue
        seqs = utf8_sequences(lo, hi)
        for cp in {lo, hi, (lo + hi) // 2, rng.randint(lo, hi)}:
            enc = chr(cp).encode()
            assert sum(
                len(s) == len(enc) and all(a <= b <= c for (a, c), b in zip(s, enc))
                for s in seqs
            ) == 1


def test_lazy_detection_and_shortest_match() -> None:
    assert has_lazy_quantifier(r"a.*?b")
    assert not has_lazy_quantifier(r"a.*b")
    lazy = build_terminal_dfa(r"#.*?\n", True)
    assert lazy.matches(b"# x\n")
    assert not lazy.is_prefix(b"# x\nmore\n")


@pytest.mark.parametrize(
    ("pattern", "error", "fragment"),
    [
        (r"a(?=b)", UnsupportedFeatureError, "look-ahead"),
        (r"(?<!a)b", UnsupportedFeatureError, "look-ahead and look-behind"),
        (r"(a)\1", UnsupportedFeatureError, "back-references"),
        (r"\bword", UnsupportedFeatureError, "word boundary"),
        (r"a^b", UnsupportedFeatureError, "anchor"),
        (r"a++", UnsupportedFeatureError, "possessive"),
        (r"[a-", GrammarSyntaxError, "invalid regular expression"),
        (r"(ab", GrammarSyntaxError, "column"),
    ],
)
def test_regex_errors(pattern: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        compile_regex_nfa(pattern)
    text = str(info.value)
    if fragment == "column":
        assert isinstance(info.value, GrammarSyntaxError)
        assert info.value.column >= 1 and "^" in text
    else:
        assert fragment in text


def test_counted_repetition_limit() -> None:
    with pytest.raises(LimitExceededError) as info:
        compile_regex_nfa(r"a{1,100000}", max_states=10_000)
    assert info.value.limit == "max_nfa_states"
    assert info.value.value == 10_000


@pytest.mark.parametrize("pattern", [r"(?i:[a-z])", r"(?i:k)", r"(?i:[^s])", r"\d", r"\w",
                                     r"\s", r"(?i:\u0130)", r"(?a:\w)"])
def test_single_characters_exhaustively(pattern: str) -> None:
    """Every code point: the DFA agrees with ``re`` (case folding and Unicode classes)."""
    dfa = build_terminal_dfa(pattern, False)
    compiled = re.compile(pattern)
    bad = [
        c for c in range(0x110000)
        if not 0xD800 <= c <= 0xDFFF
        and dfa.matches(chr(c).encode()) != (compiled.fullmatch(chr(c)) is not None)
    ]
    assert bad == [], [hex(c) for c in bad[:10]]


@pytest.mark.parametrize(("a", "b"), [(r"[a-z]+", r"a.*"), (r"\d{2,5}", r"[0-5]+"),
                                      (r"(ab)*", r"a*b*"), (r"é+|x", r"[^x]*")])
def test_dfa_products_match_python_re(a: str, b: str) -> None:
    from compilers.automata import example_string, intersect_dfas, subtract_dfas, union_dfas

    da, db = build_terminal_dfa(a, False), build_terminal_dfa(b, False)
    both, either, minus = intersect_dfas(da, db), union_dfas(da, db), subtract_dfas(da, db)
    rng = random.Random(a + b)
    for _ in range(1500):
        s = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))
        ma, mb = re.fullmatch(a, s) is not None, re.fullmatch(b, s) is not None
        data = s.encode()
        assert both.matches(data) == (ma and mb), (a, b, s)
        assert either.matches(data) == (ma or mb), (a, b, s)
        assert minus.matches(data) == (ma and not mb), (a, b, s)
    for d in (both, either, minus):
        w = example_string(d)
        assert w is None or d.matches(w)


UNICODE_PATTERNS = [
    r"[a-zA-Z_]\w*",
    r"\w+|\d",
    r"[^\W\d]\w*",
    r"\S+\s",
    r"(?i)straße|ǅx",
    r"[\u0080-\u07ff]|[\u0800-\uffff]{2}|[\U00010000-\U0010ffff]",
    r"[\u00e0-\u00ff\u0430-\u044f]+[^\u00e0-\u00ff]",
    r"[\u07ff\u0800\uffff\U00010000\U0010ffff]x",
    r"a.*?b",
    r"(é|[é-ë])+ü?",
]


@pytest.mark.parametrize("lazy", [False, True])
def test_code_point_construction_matches_byte_nfa_reference(lazy: bool) -> None:
    """The engine's construction (subset construction over code points, UTF-8 templates)
    accepts exactly the language of the byte-level reference, on fixed patterns and on
    random sets of ranges that straddle every UTF-8 length boundary."""
    rng = random.Random(7)
    edges = [0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFF, 0x10000,
             0x3FFFF, 0x40000, 0x10FFFF]
    patterns = list(UNICODE_PATTERNS)
    for _ in range(12):
        parts = []
        for _ in range(rng.randint(1, 4)):
            lo = min(0x10FFFF, max(0x20, rng.choice(edges) + rng.randint(-70, 70)))
            hi = min(0x10FFFF, lo + rng.choice([0, 5, 64, 4096, 70000]))
            if lo <= 0xDFFF and hi >= 0xD800:
                continue
            parts.append(f"\\U{lo:08x}-\\U{hi:08x}")
        if parts:
            cls = "[" + "".join(parts) + "]"
            patterns.append(rng.choice([cls + "+", "[^a" + "".join(parts) + "]" + cls,
                                        "(" + cls + "|ab)*x"]))
    for pattern in patterns:
        nfa = compile_regex_nfa(pattern)
        got = build_byte_dfa(nfa, lazy=lazy)
        want = byte_nfa_dfa(nfa, lazy=lazy)
        assert got.signature == want.signature, pattern


def test_built_automata_digests_name_their_construction(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """Products and terminals carry a digest of how they were built (operation and
    operands, pattern and limits), not a hash of their table: the same construction gives
    the same digest and the same table, different ones give different digests."""
    import numpy as np

    from compilers import automata
    from compilers.memo import BytesMemo

    da, db = build_terminal_dfa(r"[a-z]+", False), build_terminal_dfa(r"a.*", False)
    built = [automata.intersect_dfas(da, db), automata.union_dfas(da, db),
             automata.subtract_dfas(da, db), automata.subtract_dfas(db, da)]
    assert len({d.digest for d in built}) == len(built)
    monkeypatch.setattr(automata, "_product_memo", BytesMemo(1 << 20))  # build it again
    again = automata.intersect_dfas(da, db)
    assert again is not built[0] and again.digest == built[0].digest
    np.testing.assert_array_equal(again.trans, built[0].trans)
    np.testing.assert_array_equal(again.accept, built[0].accept)
    assert again.digest != automata.ByteDFA(again.trans, again.accept).digest  # seeded
    # Terminals too, by pattern, laziness and limits.
    assert da.digest != automata.ByteDFA(da.trans, da.accept).digest
    other = build_terminal_dfa.__wrapped__(r"[a-z]+", False)  # built again, not cached
    assert other is not da and other.digest == da.digest
    assert build_terminal_dfa(r"[a-z]+", True).digest != da.digest


# Repetitions beside "any string" are cut to their least count (see absorb_repeats): the
# language must not change. Searches as JSON Schema writes them, and the cases around them.
ABSORBED = [
    r"(?s:.)*(?:[A-Za-z0-9-_.:]{1,255})(?s:.)*",
    r"(?s:.)*(?:a{2,4}b*)(?s:.)*",
    r"(?s:.)*(?:x|a+b{1,3}|(?i:s{1,2}))(?s:.)*",
    r"(?s:.)*a*(?s:.)*b?",
    r"(?s)^(?:.*)ab{2,}.*c",
    r"(?s:.)*?(ab){1,3}",
    r"(?:(?s:.)*|b+)c{0,3}",
    r"a{1,3}(?s:.)*(?s:.)*",
    r".*a+",  # no DOTALL: "." is not any string, nothing is cut
    r"(?:a{1,2}(?s:.)*)+b",  # inside a repetition: nothing is cut
]


@pytest.mark.parametrize("pattern", ABSORBED)
def test_repetitions_beside_any_string_keep_the_language(pattern: str) -> None:
    dfa = build_terminal_dfa(pattern, False)
    rng = random.Random(pattern)
    letters = list("abcsSx:\n") + ["é"]
    for _ in range(3000):
        s = "".join(rng.choice(letters) for _ in range(rng.randint(0, 9)))
        assert dfa.matches(s.encode()) == (re.fullmatch(pattern, s) is not None), (pattern, s)


def test_a_counted_search_has_no_count_left() -> None:
    """A JSON Schema pattern searched for, ``[A-Za-z0-9-_.:]{1,255}``, is a search for one
    such character: a dozen NFA states, not one or two per count (520 before)."""
    from compilers.json_schema.ecma_regex import ecma_search_to_fullmatch

    def states(pattern: str) -> int:
        return len(compile_regex_nfa(ecma_search_to_fullmatch(pattern)).eps)

    assert states("[A-Za-z0-9-_.:]{1,255}") < 20
    assert states("^x[0-9]{2,300}") < 20  # unanchored at the end: cut to {2}
    assert states("^[0-9]{2,30}$") > 60  # anchored at both ends: the count stays
    dfa = build_terminal_dfa(ecma_search_to_fullmatch("^x[0-9]{2,300}"), False)
    assert dfa.matches(b"x12") and dfa.matches(b"x123a") and not dfa.matches(b"x1a")
