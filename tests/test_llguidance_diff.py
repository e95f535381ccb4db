"""Differential check of grammar-engine's token masks against llguidance's.

For every grammar of :data:`tests.grammars.ALL` and every real tokenizer, the same token
sequences go through both engines: (1) the tokenization of each :data:`SAMPLES` text (both
must accept every token and end accepting), (2) a few seeded random walks that start inside a
sample and then pick tokens both engines allow (multi-byte ones preferred). At every step the
two masks are compared over the text tokens (special tokens excluded; EOS compared apart).

Every token on which the engines disagree is judged by the independent oracle
(:mod:`tests.oracle`, the language of ``docs/semantics.md``) and put into a category of known
llguidance departures (``docs/llguidance_differences.md`` explains each one). The test asserts:

(a) grammar-engine agrees with the oracle on every differing token and on EOS;
(b) no pair shows a kind of difference its grammar did not show when measured (a regression
    guard); ``ambiguous`` and ``arithmetic``, which differ only at the empty prefix
    (``leading-ignore``), must agree on every later step.

``python -m pytest tests/test_llguidance_diff.py -s`` prints the agreement table.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import random
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import grammar_engine as ge
from tests.grammars import ALL, SAMPLES
from tests.oracle import Oracle, OracleState
from tests.shared_data import TOKENIZERS, hf_tokenizer, real_vocab

llguidance = pytest.importorskip("llguidance")
llguidance_hf = pytest.importorskip("llguidance.hf")
llguidance_np = pytest.importorskip("llguidance.numpy")

# Categories of disagreement (see docs/llguidance_differences.md).
LEADING_IGNORE = "leading-ignore"      # ll refuses %ignore'd text before the first lexeme
TRAILING_IGNORE = "trailing-ignore"    # ll refuses %ignore'd text once no lexeme can follow
STRING_NEWLINE = "string-newline"      # ll's common.ESCAPED_STRING admits a raw newline
UNICODE_CLASS = "unicode-class"        # \w, \d: Rust regex classes, not Python re's
IGNORECASE = "ignorecase"              # "..."i: Rust simple case folding, not Python re's
LEXEME_AMBIGUITY = "lexeme-ambiguity"  # ll lets a lexeme be any terminal matching it
UNCLASSIFIED = "unclassified"          # none of the above: a new kind of difference
FORCED_TOKENS = "forced-tokens"        # ll allows only the canonical tokens of forced bytes
LL_MASK_VS_BYTES = "ll-mask-vs-bytes"  # ll's mask refuses bytes it accepts, nothing forced

#: Categories each grammar showed when measured (llguidance 1.9.1); a new one fails the test.
#: ``ambiguous`` and ``arithmetic`` differ only at the empty prefix. FORCED_TOKENS may show in
#: any grammar (it needs a walk that splits a forced literal), so it is always allowed.
EXPECTED: dict[str, frozenset[str]] = {
    "ambiguous": frozenset({LEADING_IGNORE}),
    "arithmetic": frozenset({LEADING_IGNORE}),
    "c_like": frozenset({LEADING_IGNORE, LEXEME_AMBIGUITY, UNICODE_CLASS}),
    "json": frozenset({LEADING_IGNORE, TRAILING_IGNORE, STRING_NEWLINE}),
    "sql": frozenset({LEADING_IGNORE, TRAILING_IGNORE, IGNORECASE, LEXEME_AMBIGUITY}),
}

#: Random walks per pair and steps per walk (the whole file runs in well under a minute).
WALKS = 5
WALK_STEPS = 10

_PRIORITY = re.compile(r"^(\s*[A-Z_][A-Z0-9_]*)\.(-?\d+)(\s*:)", re.MULTILINE)
_UNICODE_CLASS = re.compile(r"\\[wWdDsS]")


def llguidance_text(grammar: str) -> str:
    """The grammar as given to llguidance: terminal priorities removed (it refuses them)."""
    return _PRIORITY.sub(r"\1\3", grammar)


# --------------------------------------------------------------------------------------------
# Per-tokenizer and per-grammar context
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TokContext:
    """A real tokenizer as both engines see it."""

    name: str
    vocab: ge.Vocabulary
    hf: Any
    ll: Any
    text: np.ndarray           # compared ids: our text tokens that llguidance calls text too
    ll_special_text: np.ndarray  # our text tokens that llguidance calls special
    byte_ids: tuple[int, ...]  # byte value -> a single-byte token id (-1: none)
    eos: int


@functools.cache
def tok_context(name: str) -> TokContext:
    """Build (once per process) the tokenizer context; skips if the tokenizer is absent."""
    vocab = real_vocab(name)
    hf = hf_tokenizer(name)
    ll = llguidance_hf.from_tokenizer(hf, n_vocab=vocab.size, eos_token=list(vocab.eos_token_ids))
    ours_text = np.array([vocab.is_text_token(i) for i in range(vocab.size)])
    ll_special = np.array([ll.is_special_token(i) for i in range(vocab.size)])
    byte_ids = [-1] * 256
    for i, b in enumerate(vocab.token_bytes):
        if len(b) == 1 and ours_text[i] and not ll_special[i] and byte_ids[b[0]] < 0:
            byte_ids[b[0]] = i
    return TokContext(name, vocab, hf, ll, ours_text & ~ll_special,
                      np.nonzero(ours_text & ll_special)[0], tuple(byte_ids),
                      vocab.eos_token_ids[0])


@functools.cache
def oracle_for(name: str) -> Oracle:
    """The oracle of a grammar of ALL (shared by the pairs of that grammar)."""
    return Oracle(ALL[name])


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------


def ours_mask(m: ge.Matcher, size: int) -> np.ndarray:
    """grammar-engine's mask as a bool array."""
    out = np.zeros(size, dtype=bool)
    out[m.allowed_token_ids()] = True
    return out


def ll_mask(llm: Any, size: int) -> np.ndarray:
    """llguidance's mask as a bool array."""
    bitmask = llguidance_np.allocate_token_bitmask(1, size)
    llguidance_np.fill_next_token_bitmask(llm, bitmask)
    assert not llm.is_error(), llm.get_error()
    bits = np.unpackbits(bitmask[0].astype("<i4").view(np.uint8), bitorder="little")
    return bits[:size].astype(bool)


def _after_prefix(p: bytes) -> bytes | None:
    """Smallest byte string above every string that starts with p (None: there is none)."""
    p = p.rstrip(b"\xff")
    return None if not p else p[:-1] + bytes([p[-1] + 1])


def reject_depths(keys: list[bytes], depth_of: Any) -> list[int]:
    """For sorted distinct keys: index of the first rejected byte, -1 when all are accepted.

    ``depth_of(key)`` gives one key's depth; the later keys that share the rejected prefix
    share the depth and are skipped (a walk of the implicit byte trie)."""
    out = [-1] * len(keys)
    i = 0
    while i < len(keys):
        d = depth_of(keys[i])
        if d < 0:
            i += 1
            continue
        upper = _after_prefix(keys[i][: d + 1])
        j = len(keys) if upper is None else bisect.bisect_left(keys, upper, i + 1)
        out[i:j] = [d] * (j - i)
        i = j
    return out


class OracleDepth:
    """Oracle reject depth of keys after a fixed state, sharing the states of common prefixes."""

    def __init__(self, oracle: Oracle, state: OracleState) -> None:
        self.oracle = oracle
        self.stack: list[OracleState] = [state]  # stack[j]: state after prev[:j]
        self.prev = b""

    def __call__(self, key: bytes) -> int:
        lcp = 0
        limit = min(len(self.prev), len(key), len(self.stack) - 1)
        while lcp < limit and self.prev[lcp] == key[lcp]:
            lcp += 1
        del self.stack[lcp + 1:]
        st = self.stack[lcp]
        for d in range(lcp, len(key)):
            nst = self.oracle.step(st, key[d])
            if nst is None:
                self.prev = key[:d]
                return d
            st = nst
            self.stack.append(st)
        self.prev = key
        return -1


# --------------------------------------------------------------------------------------------
# Classification of a disagreement
# --------------------------------------------------------------------------------------------


def _alive(oracle: Oracle, st: OracleState | None) -> list[int]:
    """Terminals the state's lexeme in progress may still become."""
    return [] if st is None or st.lex is None else list(st.lex.alive)


def _ignorecase(oracle: Oracle, terms: list[int]) -> bool:
    return any("i" in oracle.term_defs[t].pattern.flags for t in terms)


def _unicode_class(oracle: Oracle, terms: list[int]) -> bool:
    return any(_UNICODE_CLASS.search(oracle.regexps[t]) for t in terms)


def ambiguous_lexeme(oracle: Oracle, text: bytes) -> str | None:
    """The first lexeme of text that several expected terminals match fully, if any."""
    pos = 0
    for name, w in oracle.lex(text) or []:
        if oracle.term_index.get(name) not in oracle.ignored and name != "?":
            st = oracle.advance(oracle.initial(), text[: pos + 1])
            expected = set(st.chart.expected) - oracle.ignored if st else set()
            try:
                s = w.decode()
            except UnicodeDecodeError:
                s = None
            hits = [oracle.term_names[t] for t in sorted(expected)
                    if s is not None and re.fullmatch(oracle.regexps[t], s)]
            if len(hits) > 1:
                return f"{w.decode()!r} matches {'/'.join(hits)}"
        pos += len(w)
    return None


def classify(oracle: Oracle, prefix: bytes, div: bytes, ll_accepts: bool) -> str:
    """Category of a disagreement first visible at the last byte of ``prefix + div``.

    Both engines accept ``prefix + div[:-1]``; at ``div[-1]`` llguidance accepts and the
    oracle rejects (``ll_accepts``) or the other way round."""
    before = oracle.advance(oracle.state_for(prefix), div[:-1])
    b = div[-1]
    if ll_accepts:
        alive = _alive(oracle, before)
        names = {oracle.term_names[t] for t in alive}
        if b == 0x0A and "ESCAPED_STRING" in names:
            return STRING_NEWLINE
        if b >= 0x80 and _ignorecase(oracle, alive):
            return IGNORECASE
        if b >= 0x80 and _unicode_class(oracle, alive):
            return UNICODE_CLASS
        if ambiguous_lexeme(oracle, prefix + div[:-1]):
            return LEXEME_AMBIGUITY
        return UNCLASSIFIED
    after = oracle.advance(before, div[-1:])
    assert after is not None
    alive = _alive(oracle, after)
    if set(alive) <= oracle.ignored:
        lexemes = oracle.lex(prefix + div) or []
        if all(oracle.term_index.get(n) in oracle.ignored for n, _ in lexemes[:-1]):
            return LEADING_IGNORE
        if not set(after.chart.expected) - oracle.ignored:
            return TRAILING_IGNORE
    if b >= 0x80 and _ignorecase(oracle, alive):
        return IGNORECASE
    if b >= 0x80 and _unicode_class(oracle, alive):
        return UNICODE_CLASS
    return UNCLASSIFIED


# --------------------------------------------------------------------------------------------
# Running a pair
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class PairStats:
    """What one grammar/tokenizer pair showed."""

    grammar: str
    tokenizer: str
    steps: int = 0
    identical: int = 0
    ours_only: int = 0          # token-steps: we allow, llguidance does not
    ll_only: int = 0            # token-steps: llguidance allows, we do not
    eos_diffs: int = 0
    late_diff_steps: int = 0    # differing steps after a non-empty prefix
    oracle_with_ours: int = 0
    oracle_with_ll: int = 0
    ll_special_allowed: int = 0  # token-steps: we allow a token llguidance calls special
    categories: Counter[str] = dataclasses.field(default_factory=Counter)
    examples: dict[str, str] = dataclasses.field(default_factory=dict)
    bugs: list[str] = dataclasses.field(default_factory=list)


class PairRun:
    """Both engines on one grammar and tokenizer, compared step by step."""

    def __init__(self, name: str, tok: TokContext) -> None:
        self.name = name
        self.tok = tok
        self.oracle = oracle_for(name)
        self.grammar = ge.compile_grammar(ALL[name], tok.vocab)
        self.ll_grammar = llguidance.LLMatcher.grammar_from_lark(llguidance_text(ALL[name]))
        self.stats = PairStats(name, tok.name)
        self.seen: set[tuple[int, ...]] = set()

    def matchers(self) -> tuple[ge.Matcher, Any]:
        llm = llguidance.LLMatcher(self.tok.ll, self.ll_grammar, log_level=0)
        assert not llm.is_error(), llm.get_error()
        return ge.Matcher(self.grammar), llm

    def _note(self, cat: str, prefix: bytes, what: str, ll_allows: bool, n: int = 1) -> None:
        self.stats.categories[cat] += n
        side = "ll allows" if ll_allows else "ll rejects"
        self.stats.examples.setdefault(f"{cat}, {side}", f"after {prefix[-60:]!r}: {what}")

    def compare(self, ids: tuple[int, ...], prefix: bytes, m: ge.Matcher,
                llm: Any) -> tuple[np.ndarray, np.ndarray]:
        """Compare the two masks after ``ids`` (once per distinct token sequence)."""
        tok, st, tb = self.tok, self.stats, self.tok.vocab.token_bytes
        size = tok.vocab.size
        ours, theirs = ours_mask(m, size), ll_mask(llm, size)
        if ids in self.seen:
            return ours, theirs
        self.seen.add(ids)
        st.steps += 1
        stray = np.nonzero(theirs & ~tok.text)[0]
        assert set(stray.tolist()) <= {tok.eos}, (
            f"llguidance allows non-text tokens {[tb[t] for t in stray[:5]]}")
        st.ll_special_allowed += int(ours[tok.ll_special_text].sum())
        diff = np.nonzero((ours ^ theirs) & tok.text)[0]
        eos_differs = bool(ours[tok.eos] != theirs[tok.eos])
        st.identical += not len(diff) and not eos_differs
        st.late_diff_steps += bool(prefix) and (bool(len(diff)) or eos_differs)
        if eos_differs:
            self._compare_eos(prefix, bool(ours[tok.eos]), bool(theirs[tok.eos]))
        if not len(diff):
            return ours, theirs
        groups: dict[bytes, list[int]] = {}  # several ids may spell the same bytes
        for t in diff.tolist():
            groups.setdefault(tb[t], []).append(t)
        by_key = {k: bool(ours[ids_[0]]) for k, ids_ in groups.items()}
        for k, ids_ in groups.items():
            assert len({bool(ours[t]) for t in ids_}) == 1, f"engine: ids {ids_} ({k!r}) differ"
        keys = sorted(by_key)
        root = self.oracle.state_for(prefix)
        assert root is not None, f"oracle rejects the prefix {prefix!r}"
        depth = reject_depths(keys, OracleDepth(self.oracle, root))
        # divergence prefix (ll side) -> category, for the tokens llguidance rejects
        ll_depth = reject_depths([k for k in keys if by_key[k]], self._ll_depth(llm))
        ll_depth_of = dict(zip([k for k in keys if by_key[k]], ll_depth))
        memo: dict[tuple[bytes, bool], str] = {}
        for key, d in zip(keys, depth):
            ours_ok, oracle_ok, n = by_key[key], d < 0, len(groups[key])
            if ours_ok:
                st.ours_only += n
            else:
                st.ll_only += n
            if ours_ok != oracle_ok:
                st.oracle_with_ll += n
                st.bugs.append(f"after {prefix!r}: token {key!r}: engine "
                               f"{'allows' if ours_ok else 'rejects'}, oracle "
                               f"{'allows' if oracle_ok else 'rejects'}")
                continue
            st.oracle_with_ours += n
            if ours_ok:  # llguidance rejects a viable token: where does it stop?
                k = ll_depth_of[key]
                div, ll_accepts = key[: k + 1], False
                if k < 0:
                    forced = llm.compute_ff_bytes()
                    cat = FORCED_TOKENS if forced else LL_MASK_VS_BYTES
                    self._note(cat, prefix, f"token {key!r}: ours True, llguidance False, "
                               f"oracle True; llguidance forces {forced!r} and accepts "
                               f"{key!r} byte by byte", False, n)
                    continue
            else:  # llguidance allows a token the oracle rejects at byte d
                div, ll_accepts = key[: d + 1], True
            cat = memo.get((div, ll_accepts))
            if cat is None:
                cat = memo[div, ll_accepts] = classify(self.oracle, prefix, div, ll_accepts)
            self._note(cat, prefix, f"token {key!r}: ours {ours_ok}, llguidance {not ours_ok}, "
                       f"oracle {oracle_ok} (first differing byte: {div!r})", ll_accepts, n)
        return ours, theirs

    def _ll_depth(self, llm: Any) -> Any:
        byte_ids = self.tok.byte_ids

        def depth(key: bytes) -> int:
            n = llm.validate_tokens([byte_ids[b] for b in key])
            return -1 if n == len(key) else n

        return depth

    def _compare_eos(self, prefix: bytes, ours: bool, theirs: bool) -> None:
        st = self.stats
        st.eos_diffs += 1
        complete = self.oracle.is_complete(prefix)
        if ours != complete:
            st.oracle_with_ll += 1
            st.bugs.append(f"after {prefix!r}: EOS: engine {ours}, oracle {complete}")
            return
        st.oracle_with_ours += 1
        cat = (LEXEME_AMBIGUITY if theirs and ambiguous_lexeme(self.oracle, prefix)
               else UNCLASSIFIED)
        self._note(cat, prefix, f"EOS: ours {ours}, llguidance {theirs}, oracle {complete}",
                   theirs)

    def run_sample(self, text: str) -> None:
        """(1) A sample's tokenization: both accept every token and end accepting."""
        tok = self.tok
        ids = tok.hf.encode(text, add_special_tokens=False)
        m, llm = self.matchers()
        prefix = b""
        for i, t in enumerate(ids):
            self.compare(tuple(ids[:i]), prefix, m, llm)
            assert m.consume_token(t), (self.name, text, i)
            assert llm.consume_token(t), (self.name, text, i, llm.get_error())
            prefix += tok.vocab.token_bytes[t]
        self.compare(tuple(ids), prefix, m, llm)
        assert m.is_accepting(), text
        assert llm.is_accepting(), text

    def run_walk(self, seed: int, steps: int) -> None:
        """(2) Start inside a sample, then pick tokens both engines allow."""
        tok = self.tok
        rng = random.Random(f"{self.name}/{tok.name}/{seed}")
        text = rng.choice(SAMPLES[self.name])
        ids = list(tok.hf.encode(text, add_special_tokens=False))
        ids = ids[: rng.randint(0, len(ids) - 1)]
        m, llm = self.matchers()
        assert m.consume_tokens(ids) and llm.consume_tokens(ids)
        prefix = b"".join(tok.vocab.token_bytes[t] for t in ids)
        for _ in range(steps):
            ours, theirs = self.compare(tuple(ids), prefix, m, llm)
            pool = np.nonzero(ours & theirs & tok.text)[0].tolist()
            if not pool:
                break
            long = [t for t in pool if len(tok.vocab.token_bytes[t]) > 1]
            t = rng.choice(long if long and rng.random() < 0.8 else pool)
            assert m.consume_token(t) and llm.consume_token(t)
            ids.append(t)
            prefix += tok.vocab.token_bytes[t]


def run_pair(name: str, tok_name: str) -> PairStats:
    """Samples and walks of one grammar/tokenizer pair."""
    run = PairRun(name, tok_context(tok_name))
    for text in SAMPLES[name]:
        run.run_sample(text)
    for seed in range(WALKS):
        run.run_walk(seed, WALK_STEPS)
    return run.stats


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def format_table(rows: list[PairStats]) -> str:
    """Markdown table of the measured pairs, then one example per category."""
    out = ["| grammar | tokenizer | steps | identical | differing token-steps (ours-only "
           "/ ll-only) | EOS diffs | oracle sides with ours / ll | categories (token-steps) |",
           "|---|---|--:|--:|--:|--:|--:|---|"]
    for s in rows:
        cats = ", ".join(f"{c} {n}" for c, n in sorted(s.categories.items())) or "-"
        out.append(f"| {s.grammar} | {s.tokenizer} | {s.steps} | {s.identical} | "
                   f"{s.ours_only + s.ll_only} ({s.ours_only} / {s.ll_only}) | {s.eos_diffs} | "
                   f"{s.oracle_with_ours} / {s.oracle_with_ll} | {cats} |")
    examples: dict[str, str] = {}
    for s in rows:
        for c, e in s.examples.items():
            examples.setdefault(c, f"{s.grammar}/{s.tokenizer} {e}")
    out.append("")
    out.extend(f"- {c}: {e}" for c, e in sorted(examples.items()))
    specials: Counter[str] = Counter()
    for s in rows:
        specials[s.tokenizer] += s.ll_special_allowed
    if specials:
        out.append(f"- (excluded) tokens llguidance calls special that we allow, token-steps: "
                   f"{dict(specials)}")
    return "\n".join(out)


@pytest.fixture(scope="module")
def summary() -> Iterator[dict[tuple[str, str], PairStats]]:
    """Collects every pair's stats; prints the table when the module is done (see with -s)."""
    rows: dict[tuple[str, str], PairStats] = {}
    yield rows
    if rows:
        print("\n\ngrammar-engine vs llguidance", llguidance.__version__)
        print(format_table([rows[k] for k in sorted(rows)]))


@pytest.mark.parametrize("name", sorted(n for n in ALL if _PRIORITY.search(ALL[n])))
def test_llguidance_refuses_priorities(name: str) -> None:
    """llguidance refuses terminal priorities, so sql and c_like go in without them."""
    err = llguidance.LLMatcher.validate_grammar(llguidance.LLMatcher.grammar_from_lark(ALL[name]))
    assert "priority not supported" in err
    assert llguidance.LLMatcher.validate_grammar(
        llguidance.LLMatcher.grammar_from_lark(llguidance_text(ALL[name]))) == ""


@pytest.mark.real_tokenizer
@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("name", sorted(ALL))
def test_masks_against_llguidance(name: str, tok_name: str,
                                  summary: dict[tuple[str, str], PairStats]) -> None:
    """(a) every disagreement is llguidance's departure; (b) no new kind of disagreement."""
    stats = run_pair(name, tok_name)
    summary[name, tok_name] = stats
    assert not stats.bugs, "engine disagrees with the oracle:\n" + "\n".join(stats.bugs[:10])
    assert UNCLASSIFIED not in stats.categories, stats.examples
    new = set(stats.categories) - EXPECTED[name] - {FORCED_TOKENS}
    assert not new, (f"new kinds of disagreement with llguidance: {sorted(new)}; first examples: "
                     f"{stats.examples}")
    if EXPECTED[name] == {LEADING_IGNORE} and FORCED_TOKENS not in stats.categories:
        assert stats.late_diff_steps == 0, stats.examples  # agree once output has begun


@pytest.mark.real_tokenizer
def test_llguidance_options_confirm_two_categories() -> None:
    """llguidance's own switches turn off leading-ignore and forced-tokens, not the others."""
    tok = tok_context("llama3")

    def matcher(head: str) -> Any:
        grammar = llguidance.LLMatcher.grammar_from_lark(head + ALL["json"])
        llm = llguidance.LLMatcher(tok.ll, grammar, log_level=0)
        assert not llm.is_error(), llm.get_error()
        return llm

    def ll_accepts(head: str, data: bytes) -> tuple[bool, bool]:
        llm = matcher(head)
        ok = llm.consume_tokens([tok.byte_ids[b] for b in data])
        return ok, ok and llm.is_accepting()

    skip = '%llguidance {"allow_initial_skip": true}\n'
    assert ll_accepts("", b" {}") == (False, False)
    assert ll_accepts(skip, b" {}") == (True, True)
    assert ll_accepts(skip, b"{} ") == (False, False)  # trailing-ignore stays
    assert ll_accepts(skip, b'"a\nb"') == (True, True)  # string-newline stays

    def allowed_after(head: str, pieces: list[bytes]) -> set[bytes]:
        llm = matcher(head)
        assert llm.consume_tokens([tok.vocab.token_bytes.index(p) for p in pieces])
        mask = ll_mask(llm, tok.vocab.size) & tok.text
        return {tok.vocab.token_bytes[t] for t in np.nonzero(mask)[0]}

    assert allowed_after("", [b"[", b"fal"]) == {b"se"}
    assert allowed_after('%llguidance {"no_forcing": true}\n', [b"[", b"fal"]) == {b"s", b"se"}
