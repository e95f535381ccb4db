"""Slow, independent reference oracle for grammar-engine token masks.

This module is the yardstick the engine's masks are checked against.  It must NOT import
anything from the engine (``grammar_engine``, ``compilers``, ``native``): it only uses Lark to
*load* a grammar (terminals, rules, ignore set, start symbol) and implements everything else
itself: a textbook Earley recognizer over terminal names (with the Aycock-Horspool fix for
nullable rules), a byte-level lexer with maximal munch / lazy-terminal semantics, exact
handling of partial UTF-8, and a brute-force (trie-pruned) mask computation.

Semantics (the definition the engine must reproduce):

* ``L(t)``: strings that fullmatch ``t.pattern.to_regexp()`` under Python ``re``.
* lazy terminal (regex contains ``*? +? ?? {m,n}?``): ``L'(t)`` = members of ``L(t)`` with no
  proper prefix in ``L(t)``; otherwise ``L'(t) = L(t)``.
* bytes ``w`` are in ``L'(t)`` iff valid UTF-8 whose decoding is in ``L'(t)``; ``w`` is a prefix
  of ``L'(t)`` iff it is a prefix of the UTF-8 encoding of a member (may end mid-character).
* rank key ``(-priority, 0 if PatternStr else 1, index in Lark's .terminals)``.
* lexing: at lexeme start ``A = E(h) | I``; a lexeme is alive iff a prefix of some ``L'(t)``,
  ``t`` in ``A``; ``End(w)`` = top-ranked ``t`` in ``A`` with ``w`` in ``L'(t)``.  Per byte: empty
  lexeme -> start it or REJECT; lazy ``End(w)`` -> end the lexeme; ``w+b`` alive -> extend;
  ``End(w)`` -> end the lexeme and restart with ``b``; else REJECT.
* complete: viable, trailing lexeme empty or ended by ``End(w)``, and ``h`` is a sentence.

How terminals are matched: every character set of a pattern is first turned into explicit
code-point ranges computed with ``re`` itself (``\\w``, ``\\d``, ``\\s``, ``.``, case-insensitive
literals and sets...).  Patterns in the regular subset (sets, concatenation, alternation, groups,
repeats, ``\\A``, one-character lookbehinds: all of Lark's ``common`` terminals) get an
incremental ``Matcher`` (Thompson NFA, lazily determinized, exact liveness), so a long lexeme
costs O(1) per byte.  Other patterns (lookaheads, ``\\b``, ``$``, backrefs, atomic groups...) use
the ``regex`` module's partial matching on a rewritten, flag-free pattern with those explicit
ranges, because ``regex`` and ``re`` disagree on classes (different Unicode tables/definitions).
Known inexactness of that fallback: a lookahead reaching past the end of the lexeme is treated
optimistically (``/a(?=b)/``: "a" counts as a prefix although L is empty), and with backrefs
the UTF-8 representatives are not exhaustive.
"""

from __future__ import annotations

import bisect
import collections
import functools
import itertools
import re
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import regex
from lark import Lark
from lark.lexer import PatternStr

try:  # Python >= 3.11
    import re._constants as _c
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

import _sre

# absent before Python 3.11
_POSSESSIVE_REPEAT = getattr(_c, "POSSESSIVE_REPEAT", object())
_ATOMIC_GROUP = getattr(_c, "ATOMIC_GROUP", object())

__all__ = [
    "Oracle",
    "OracleState",
    "brute_force_mask",
    "complete_texts_agree_with_lark",
    "is_lazy_pattern",
    "reference_mask",
    "rewrite_for_regex",
    "utf8_prefix_intervals",
]

MAX_CP = 0x10FFFF
_SURR_LO, _SURR_HI = 0xD800, 0xDFFF
_BYTES = [bytes([i]) for i in range(256)]

Ranges = tuple[tuple[int, int], ...]

# --------------------------------------------------------------------------------------------
# Character sets, computed with Python ``re`` (the reference semantics)
# --------------------------------------------------------------------------------------------


@functools.cache
def _all_chars() -> str:
    """Every non-surrogate code point, in order (index i -> cp i, or i + 0x800 past D7FF)."""
    return "".join(map(chr, range(_SURR_LO))) + "".join(map(chr, range(_SURR_HI + 1, MAX_CP + 1)))


def _idx_cp(i: int) -> int:
    return i if i < _SURR_LO else i + (_SURR_HI - _SURR_LO + 1)


def _normalize(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort and merge code-point ranges."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def _complement(ranges: Ranges) -> Ranges:
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CP:
        out.append((nxt, MAX_CP))
    return tuple(out)


@functools.cache
def _scan_class(single_char_pattern: str) -> Ranges:
    """Code points (non-surrogate) c such that ``re.fullmatch(pattern, chr(c))``."""
    m = re.match(r"\(\?[aiLmsux]+\)", single_char_pattern)  # global flags must stay in front
    head = m.group(0) if m else ""
    rx = re.compile(f"{head}(?:{single_char_pattern[len(head):]})+")
    out: list[tuple[int, int]] = []
    for m in rx.finditer(_all_chars()):
        a, b = m.start(), m.end() - 1
        if a < _SURR_LO <= b:
            out.append((a, _SURR_LO - 1))
            out.append((_SURR_HI + 1, _idx_cp(b)))
        else:
            out.append((_idx_cp(a), _idx_cp(b)))
    return _normalize(out)


@functools.cache
def _cased() -> tuple[int, ...]:
    """Superset of the code points whose case-insensitive behaviour in ``re`` is non-trivial."""
    out = []
    for cp in range(MAX_CP + 1):
        if _SURR_LO <= cp <= _SURR_HI:
            continue
        ch = chr(cp)
        if _sre.unicode_iscased(cp) or ch.lower() != ch or ch.upper() != ch:
            out.append(cp)
    return tuple(out)


def _esc(cp: int) -> str:
    return f"\\U{cp:08x}"


_CAT_TEXT = {
    _c.CATEGORY_DIGIT: "\\d",
    _c.CATEGORY_NOT_DIGIT: "\\D",
    _c.CATEGORY_SPACE: "\\s",
    _c.CATEGORY_NOT_SPACE: "\\S",
    _c.CATEGORY_WORD: "\\w",
    _c.CATEGORY_NOT_WORD: "\\W",
}


def _flag_prefix(flags: int) -> str:
    s = ("i" if flags & re.IGNORECASE else "") + ("a" if flags & re.ASCII else "")
    return f"(?{s})" if s else ""


@functools.cache
def _literal_set(cp: int, flags: int) -> Ranges:
    """The characters ``re`` lets a literal match under the given flags."""
    if not flags & re.IGNORECASE:
        return ((cp, cp),)
    rx = re.compile(_flag_prefix(flags & (re.IGNORECASE | re.ASCII)) + _esc(cp))
    hits = [x for x in _cased() if rx.fullmatch(chr(x))]
    if not (_SURR_LO <= cp <= _SURR_HI):
        hits.append(cp)
    return _normalize((x, x) for x in hits)


@functools.cache
def _in_set(items: tuple[tuple[Any, Any], ...], flags: int) -> Ranges:
    """The characters ``re`` lets an ``IN`` set match under the given flags."""
    flags &= re.IGNORECASE | re.ASCII
    has_cat = any(op is _c.CATEGORY for op, _ in items)
    if flags & re.IGNORECASE or has_cat:
        parts = []
        for op, av in items:
            if op is _c.NEGATE:
                parts.append("^")
            elif op is _c.LITERAL:
                parts.append(_esc(av))
            elif op is _c.RANGE:
                parts.append(_esc(av[0]) + "-" + _esc(av[1]))
            elif op is _c.CATEGORY:
                parts.append(_CAT_TEXT[av])
            else:  # pragma: no cover
                raise NotImplementedError(f"set item {op}")
        return _scan_class(_flag_prefix(flags) + "[" + "".join(parts) + "]")
    neg = False
    rs: list[tuple[int, int]] = []
    for op, av in items:
        if op is _c.NEGATE:
            neg = True
        elif op is _c.LITERAL:
            rs.append((av, av))
        elif op is _c.RANGE:
            rs.append((av[0], av[1]))
        else:  # pragma: no cover
            raise NotImplementedError(f"set item {op}")
    out = _normalize(rs)
    return _complement(out) if neg else out


def _class_text(ranges: Ranges) -> str:
    if not ranges:
        return "(?!)"
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _esc(ranges[0][0])
    body = "".join(_esc(a) if a == b else _esc(a) + "-" + _esc(b) for a, b in ranges)
    return "[" + body + "]"


class _Rewriter:
    """Rewrites an ``re`` pattern into an equivalent, flag-free pattern for the ``regex`` module.

    Collects, as a side effect, the code points where some character class of the pattern
    changes membership (used to pick representatives for incomplete UTF-8 characters)."""

    def __init__(self) -> None:
        self.boundaries: set[int] = {0x0A, 0x0B}
        self.lazy = False
        self.backref = False

    def rewrite(self, pattern: str) -> str:
        p = _sre_parse.parse(pattern)
        return self._seq(p, p.state.flags)

    def _set(self, ranges: Ranges) -> str:
        for a, b in ranges:
            self.boundaries.add(a)
            self.boundaries.add(b + 1)
        return _class_text(ranges)

    def _word(self, flags: int) -> str:
        return self._set(_in_set(((_c.CATEGORY, _c.CATEGORY_WORD),), flags & re.ASCII))

    def _seq(self, items: Any, flags: int) -> str:
        return "".join(self._item(op, av, flags) for op, av in items)

    def _item(self, op: Any, av: Any, flags: int) -> str:
        if op is _c.LITERAL:
            return self._set(_literal_set(av, flags & (re.IGNORECASE | re.ASCII)))
        if op is _c.NOT_LITERAL:
            return self._set(_complement(_literal_set(av, flags & (re.IGNORECASE | re.ASCII))))
        if op is _c.ANY:
            return self._set(((0, MAX_CP),) if flags & re.DOTALL else _complement(((10, 10),)))
        if op is _c.IN:
            return self._set(_in_set(tuple(av), flags))
        if op is _c.BRANCH:
            return "(?:" + "|".join(self._seq(alt, flags) for alt in av[1]) + ")"
        if op is _c.SUBPATTERN:
            group, add, dele, p = av
            inner = self._seq(p, (flags | add) & ~dele)
            return ("(" if group is not None else "(?:") + inner + ")"
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _POSSESSIVE_REPEAT):
            lo, hi, p = av
            q = "{" + str(lo) + "," + ("" if hi == _c.MAXREPEAT else str(hi)) + "}"
            body = "(?:" + self._seq(p, flags) + ")" + q
            if op is _c.MIN_REPEAT:
                self.lazy = True
                return body + "?"
            if op is _POSSESSIVE_REPEAT:
                return "(?>" + body + ")"
            return body
        if op is _c.AT:
            if av is _c.AT_BEGINNING_STRING:
                return "\\A"
            if av is _c.AT_END_STRING:
                return "\\Z"
            if av is _c.AT_BEGINNING:
                return "(?:\\A|(?<=\\n))" if flags & re.MULTILINE else "\\A"
            if av is _c.AT_END:
                return "(?=\\n|\\Z)" if flags & re.MULTILINE else "(?=\\n?\\Z)"
            w = self._word(flags)
            if av is _c.AT_BOUNDARY:
                return f"(?:(?<={w})(?!{w})|(?<!{w})(?={w}))"
            if av is _c.AT_NON_BOUNDARY:
                return f"(?:(?<={w})(?={w})|(?<!{w})(?!{w}))"
            raise NotImplementedError(f"anchor {av}")  # pragma: no cover
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            direction, p = av
            kind = ("=" if op is _c.ASSERT else "!")
            return "(?" + ("<" if direction < 0 else "") + kind + self._seq(p, flags) + ")"
        if op is _c.GROUPREF:
            self.backref = True
            ref = f"\\g<{av}>"
            return f"(?i:{ref})" if flags & re.IGNORECASE else f"(?:{ref})"
        if op is _c.GROUPREF_EXISTS:
            self.backref = True
            cond, yes, no = av
            no_text = self._seq(no, flags) if no else ""
            return f"(?({cond}){self._seq(yes, flags)}|{no_text})"
        if op is _ATOMIC_GROUP:
            return "(?>" + self._seq(av, flags) + ")"
        raise NotImplementedError(f"regex construct {op}")  # pragma: no cover


def rewrite_for_regex(pattern: str) -> str:
    """Flag-free pattern for the ``regex`` module with exactly ``re``'s semantics (no backrefs)."""
    return _Rewriter().rewrite(pattern)


def is_lazy_pattern(pattern: str) -> bool:
    """Whether the pattern contains a lazy quantifier (MIN_REPEAT)."""
    rw = _Rewriter()
    rw.rewrite(pattern)
    return rw.lazy


# --------------------------------------------------------------------------------------------
# Incremental matcher: Thompson NFA, determinized lazily (fast path for long lexemes)
# --------------------------------------------------------------------------------------------


class _Unsupported(Exception):
    """Construct outside the matcher's regular subset (the regex module is used instead)."""


class _TooBig(Exception):
    """Automaton grew past its limit (the regex module is used instead)."""


def _has(starts: list[int], ranges: Ranges, cp: int) -> bool:
    i = bisect.bisect_right(starts, cp) - 1
    return i >= 0 and cp <= ranges[i][1]


class Matcher:
    """Decides, char by char, membership in L(pattern) and being a prefix of L(pattern).

    Supports the regular part of ``re`` (sets, concatenation, alternation, groups, greedy and
    lazy repeats: laziness does not change the language), ``\\A``/``^`` and one-character
    lookbehinds such as Lark's ``(?<!\\\\)``; anything else raises ``_Unsupported``.  Character
    sets are the exact ``re`` sets (see ``_Rewriter``).  States are DFA-state ids; 0 is dead."""

    MAX_NFA = 20_000
    MAX_DFA = 20_000

    def __init__(self, pattern: str) -> None:
        self._sets: list[tuple[list[int], Ranges]] = []
        self._set_ids: dict[Ranges, int] = {}
        self._edges: list[list[tuple[int, int]]] = []
        self._eps: list[list[int]] = []
        self._asserts: list[list[tuple[str, int, int]]] = []
        p = _sre_parse.parse(pattern)
        start, self._final = self._frag(p, p.state.flags)
        bnd = {0}
        for _, ranges in self._sets:
            for a, b in ranges:
                bnd.update((a, b + 1))
        bl = [*sorted(x for x in bnd if x <= MAX_CP), MAX_CP + 1]
        reps = []
        for a, b in itertools.pairwise(bl):  # blocks [a, b): all sets constant on them
            c = _SURR_HI + 1 if _SURR_LO <= a <= _SURR_HI else a
            if c < b:
                reps.append(chr(c))
        self.reps = tuple(reps)
        self._dsets: list[frozenset[int]] = []
        self._dindex: dict[frozenset[int], int] = {}
        self.accept: list[bool] = []
        self._trans: list[dict[str, int]] = []
        self._live: list[bool | None] = []
        self._intern(frozenset())  # 0 = dead
        self.start = self._intern(self._closure([start], None))

    # ------------------------------------------------------------------ NFA construction
    def _new(self) -> int:
        if len(self._eps) >= self.MAX_NFA:
            raise _TooBig
        self._edges.append([])
        self._eps.append([])
        self._asserts.append([])
        return len(self._eps) - 1

    def _set(self, ranges: Ranges) -> int:
        i = self._set_ids.get(ranges)
        if i is None:
            i = self._set_ids[ranges] = len(self._sets)
            self._sets.append(([a for a, _ in ranges], ranges))
        return i

    def _char_set(self, op: Any, av: Any, flags: int) -> Ranges | None:
        fl = flags & (re.IGNORECASE | re.ASCII)
        if op is _c.LITERAL:
            return _literal_set(av, fl)
        if op is _c.NOT_LITERAL:
            return _complement(_literal_set(av, fl))
        if op is _c.ANY:
            return ((0, MAX_CP),) if flags & re.DOTALL else _complement(((10, 10),))
        if op is _c.IN:
            return _in_set(tuple(av), flags)
        return None

    def _frag(self, items: Any, flags: int) -> tuple[int, int]:
        start = cur = self._new()
        for op, av in items:
            s, e = self._item(op, av, flags)
            self._eps[cur].append(s)
            cur = e
        return start, cur

    def _item(self, op: Any, av: Any, flags: int) -> tuple[int, int]:
        cs = self._char_set(op, av, flags)
        if cs is not None:
            s, e = self._new(), self._new()
            self._edges[s].append((self._set(cs), e))
            return s, e
        if op is _c.BRANCH:
            s, e = self._new(), self._new()
            for alt in av[1]:
                a, b = self._frag(alt, flags)
                self._eps[s].append(a)
                self._eps[b].append(e)
            return s, e
        if op is _c.SUBPATTERN:
            _, add, dele, p = av
            return self._frag(p, (flags | add) & ~dele)
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            lo, hi, p = av
            s = cur = self._new()
            for _ in range(lo):
                a, b = self._frag(p, flags)
                self._eps[cur].append(a)
                cur = b
            e = self._new()
            if hi == _c.MAXREPEAT:
                a, b = self._frag(p, flags)
                self._eps[cur] += [a, e]
                self._eps[b].append(cur)
            else:
                for _ in range(hi - lo):
                    a, b = self._frag(p, flags)
                    self._eps[cur] += [a, e]
                    cur = b
                self._eps[cur].append(e)
            return s, e
        if op is _c.AT and (av is _c.AT_BEGINNING_STRING
                            or (av is _c.AT_BEGINNING and not flags & re.MULTILINE)):
            s, e = self._new(), self._new()
            self._asserts[s].append(("bos", -1, e))
            return s, e
        if op in (_c.ASSERT, _c.ASSERT_NOT) and av[0] < 0 and len(av[1]) == 1:
            (iop, iav), = list(av[1])
            cs = self._char_set(iop, iav, flags)
            if cs is not None:
                s, e = self._new(), self._new()
                self._asserts[s].append(("lb" if op is _c.ASSERT else "nlb", self._set(cs), e))
                return s, e
        raise _Unsupported(str(op))

    # ------------------------------------------------------------------ lazy DFA
    def _closure(self, states: Iterable[int], prev: str | None) -> frozenset[int]:
        todo = list(states)
        seen = set(todo)
        while todo:
            q = todo.pop()
            nxt = list(self._eps[q])
            for kind, si, t in self._asserts[q]:
                if kind == "bos":
                    ok = prev is None
                else:
                    inside = prev is not None and _has(*self._sets[si], ord(prev))
                    ok = inside if kind == "lb" else not inside
                if ok:
                    nxt.append(t)
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return frozenset(q for q in seen if self._edges[q] or q == self._final)

    def _intern(self, st: frozenset[int]) -> int:
        d = self._dindex.get(st)
        if d is None:
            if len(self._dsets) >= self.MAX_DFA:
                raise _TooBig
            d = self._dindex[st] = len(self._dsets)
            self._dsets.append(st)
            self.accept.append(self._final in st)
            self._trans.append({})
            self._live.append(None if st else False)
        return d

    def step(self, d: int, ch: str) -> int:
        """DFA state after reading ch."""
        tr = self._trans[d]
        nd = tr.get(ch)
        if nd is None:
            cp = ord(ch)
            moved = [t for q in self._dsets[d] for si, t in self._edges[q]
                     if _has(*self._sets[si], cp)]
            nd = tr[ch] = self._intern(self._closure(moved, ch)) if moved else 0
        return nd

    def live(self, d: int) -> bool:
        """Whether some continuation reaches an accepting state (prefix of L)."""
        v = self._live[d]
        if v is not None:
            return v
        order, todo, seen = [], [d], {d}
        while todo:
            x = todo.pop()
            order.append(x)
            if self._live[x] is not None:
                continue
            for r in self.reps:
                y = self.step(x, r)
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        good = {x for x in order if self.accept[x] or self._live[x]}
        changed = True
        while changed:
            changed = False
            for x in order:
                if x not in good and self._live[x] is None and any(
                    self._trans[x][r] in good for r in self.reps
                ):
                    good.add(x)
                    changed = True
        for x in order:
            if self._live[x] is None:
                self._live[x] = x in good
        return bool(self._live[d])

    def fullmatch(self, s: str) -> bool:
        """Membership of a whole string (for tests)."""
        d = self.start
        for ch in s:
            d = self.step(d, ch)
        return self.accept[d]

    def is_prefix(self, s: str) -> bool:
        """Whether s is a prefix of a member (for tests)."""
        d = self.start
        for ch in s:
            d = self.step(d, ch)
        return self.live(d)


# --------------------------------------------------------------------------------------------
# Partial UTF-8
# --------------------------------------------------------------------------------------------


def utf8_prefix_intervals(tail: bytes) -> list[tuple[int, int]] | None:
    """Code-point intervals whose UTF-8 encoding strictly extends ``tail`` (an incomplete
    character), surrogates excluded; None if ``tail`` is no proper prefix of any character."""
    lead = tail[0]
    if 0xC2 <= lead <= 0xDF:
        n, val, lo_min, hi_max = 2, lead & 0x1F, 0x80, 0x7FF
    elif 0xE0 <= lead <= 0xEF:
        n, val, lo_min, hi_max = 3, lead & 0x0F, 0x800, 0xFFFF
    elif 0xF0 <= lead <= 0xF4:
        n, val, lo_min, hi_max = 4, lead & 0x07, 0x10000, MAX_CP
    else:
        return None
    if len(tail) >= n:
        return None
    for b in tail[1:]:
        if not 0x80 <= b <= 0xBF:
            return None
        val = (val << 6) | (b & 0x3F)
    rem = 6 * (n - len(tail))
    lo, hi = max(val << rem, lo_min), min((val << rem) | ((1 << rem) - 1), hi_max)
    out = []
    for a, b in ((lo, min(hi, _SURR_LO - 1)), (max(lo, _SURR_HI + 1), hi)):
        if a <= b:
            out.append((a, b))
    return out or None


# --------------------------------------------------------------------------------------------
# Earley recognizer over terminal names
# --------------------------------------------------------------------------------------------


class _ESet:
    """One Earley set: items indexed by the symbol after the dot."""

    __slots__ = ("accept", "waiting")

    def __init__(self, waiting: dict[int, list[tuple[int, int, int]]], accept: bool) -> None:
        self.waiting = waiting
        self.accept = accept


class _Chart:
    """Immutable Earley chart after a terminal sequence h (plus memo caches).

    Successor charts are cached weakly (the oracle keeps the most recent ones alive), so that
    long runs do not retain every chart ever explored."""

    __slots__ = ("__weakref__", "empty_lex", "expected", "first", "nxt", "sets")

    def __init__(self, sets: tuple[_ESet, ...], expected: tuple[int, ...]) -> None:
        self.sets = sets
        self.expected = expected  # A = E(h) | I, terminal ranks, ascending
        self.nxt: weakref.WeakValueDictionary[int, _Chart] = weakref.WeakValueDictionary()
        self.first: dict[int, _Lex | None] = {}
        self.empty_lex: _Lex | None = None

    @property
    def accept(self) -> bool:
        return self.sets[-1].accept


class _Lex:
    """Current lexeme: decoded chars s, pending UTF-8 bytes, the terminals for which it is a
    prefix of L'(t) (with each one's matcher state after s, -1 if matched with ``regex``), the
    terminals with it in L'(t), and the top of those (-1: none)."""

    __slots__ = ("alive", "dst", "ends", "s", "tail", "top")

    def __init__(
        self, s: str, tail: bytes, alive: tuple[int, ...], dst: tuple[int, ...],
        ends: tuple[int, ...],
    ) -> None:
        self.s = s
        self.tail = tail
        self.alive = alive
        self.dst = dst
        self.ends = ends
        self.top = ends[0] if ends else -1


class OracleState:
    """Lexer + parser state after some viable byte string (treat as immutable)."""

    __slots__ = ("chart", "lex")

    def __init__(self, chart: _Chart, lex: _Lex | None) -> None:
        self.chart = chart
        self.lex = lex  # None = no lexeme in progress

    @property
    def num_terminals(self) -> int:
        """len(h): number of non-ignored terminals lexed so far (trailing lexeme excluded)."""
        return len(self.chart.sets) - 1


def _load_lark(grammar_text: str, start: str) -> Lark:
    """Load the grammar with Lark (Earley + dynamic lexer, falling back to other front ends
    only if that configuration refuses the grammar; all share the same grammar compilation)."""
    err: Exception | None = None
    for opts in ({"parser": "earley", "lexer": "dynamic"}, {"parser": "earley", "lexer": "basic"},
                 {"parser": "lalr"}):
        try:
            return Lark(grammar_text, start=start, **opts)
        except Exception as e:  # a grammar error would repeat; configuration errors may not
            err = e
    assert err is not None
    raise err


class Oracle:
    """Viable-prefix / completeness oracle for a Lark grammar under the semantics above."""

    #: how many recently created charts are kept alive for memoization
    recent_charts = 50_000

    def __init__(self, grammar_text: str, start: str = "start", use_dfa: bool = True) -> None:
        """use_dfa=False matches every terminal with ``regex`` partial matching only (slow on
        long lexemes; kept to cross-check the incremental matchers)."""
        lk = _load_lark(grammar_text, start)
        self._recent: collections.deque[_Chart] = collections.deque(maxlen=self.recent_charts)
        self.lark = lk
        self.start_name = lk.options.start[0]
        lark_terms = list(lk.terminals)
        keyed = sorted(
            range(len(lark_terms)),
            key=lambda i: (
                -lark_terms[i].priority,
                0 if isinstance(lark_terms[i].pattern, PatternStr) else 1,
                i,
            ),
        )
        # terminals are identified by their rank (0 = top)
        self.term_defs = [lark_terms[i] for i in keyed]
        self.term_names = [t.name for t in self.term_defs]
        self.term_index = {n: i for i, n in enumerate(self.term_names)}
        nt = len(self.term_names)
        rw = _Rewriter()
        self._full: list[Any] = []
        self._part: list[Any] = []
        self._matchers: list[Matcher | None] = []
        self.lazy: list[bool] = []
        self.regexps: list[str] = []
        self.has_backref = False
        for td in self.term_defs:
            src = td.pattern.to_regexp()
            self.regexps.append(src)
            rw.lazy = False
            rw.backref = False
            rewritten = rw.rewrite(src)
            self.lazy.append(rw.lazy)
            self.has_backref |= rw.backref
            self._full.append(re.compile(src).fullmatch)
            self._part.append(regex.compile(rewritten).fullmatch)
            matcher = None
            if use_dfa:
                try:
                    matcher = Matcher(src)
                except (_Unsupported, _TooBig):
                    matcher = None
            self._matchers.append(matcher)
        self._boundaries = sorted(b for b in rw.boundaries if b <= MAX_CP)
        self.ignored = frozenset(
            self.term_index[n] for n in lk.ignore_tokens if n in self.term_index
        )

        # grammar: symbols < nt are terminals, >= nt nonterminals
        nts: dict[str, int] = {}

        def nt_id(name: str) -> int:
            if name not in nts:
                nts[name] = nt + len(nts)
            return nts[name]

        raw_rules: list[tuple[int, tuple[int, ...]]] = []
        for r in lk.rules:
            rhs: list[int] = []
            ok = True
            for sym in r.expansion:
                if sym.is_term:
                    if sym.name not in self.term_index:
                        ok = False  # %declare'd terminal without a pattern: never lexed
                        break
                    rhs.append(self.term_index[sym.name])
                else:
                    rhs.append(nt_id(sym.name))
            lhs = nt_id(r.origin.name)
            if ok:
                raw_rules.append((lhs, tuple(rhs)))
        self._start = nt_id(self.start_name)
        # keep only rules whose symbols are all productive
        productive: set[int] = set(range(nt))
        changed = True
        while changed:
            changed = False
            for lhs, rhs in raw_rules:
                if lhs not in productive and all(s in productive for s in rhs):
                    productive.add(lhs)
                    changed = True
        self._rules = [(lhs, rhs) for lhs, rhs in raw_rules if all(s in productive for s in rhs)]
        self._by_lhs: dict[int, list[int]] = {}
        for i, (lhs, _) in enumerate(self._rules):
            self._by_lhs.setdefault(lhs, []).append(i)
        self._nullable: set[int] = set()
        changed = True
        while changed:
            changed = False
            for lhs, rhs in self._rules:
                if lhs not in self._nullable and all(s in self._nullable for s in rhs):
                    self._nullable.add(lhs)
                    changed = True
        self._nterm = nt
        kernel = [(r, 0, 0) for r in self._by_lhs.get(self._start, [])]
        self._chart0 = self._make_chart((), kernel)
        self._tail_cache: dict[bytes, tuple[str, Any] | None] = {}
        self._last: tuple[bytes, OracleState | None] = (b"", OracleState(self._chart0, None))

    # ---------------------------------------------------------------- Earley
    def _make_chart(self, prev: tuple[_ESet, ...], kernel: list[tuple[int, int, int]]) -> _Chart:
        k = len(prev)
        rules, by_lhs, nullable, nterm = self._rules, self._by_lhs, self._nullable, self._nterm
        start = self._start
        waiting: dict[int, list[tuple[int, int, int]]] = {}
        seen = set(kernel)
        todo = list(kernel)
        accept = False
        while todo:
            item = todo.pop()
            r, d, o = item
            lhs, rhs = rules[r]
            if d == len(rhs):
                if o == 0 and lhs == start:
                    accept = True
                parents = waiting.get(lhs, ()) if o == k else prev[o].waiting.get(lhs, ())
                for r2, d2, o2 in list(parents):
                    ni = (r2, d2 + 1, o2)
                    if ni not in seen:
                        seen.add(ni)
                        todo.append(ni)
                continue
            sym = rhs[d]
            waiting.setdefault(sym, []).append(item)
            if sym >= nterm:
                for r2 in by_lhs.get(sym, ()):
                    ni = (r2, 0, k)
                    if ni not in seen:
                        seen.add(ni)
                        todo.append(ni)
                if sym in nullable:  # Aycock-Horspool
                    ni = (r, d + 1, o)
                    if ni not in seen:
                        seen.add(ni)
                        todo.append(ni)
        es = _ESet(waiting, accept)
        expected = sorted({s for s in waiting if s < nterm} | self.ignored)
        return _Chart((*prev, es), tuple(expected))

    def _scan(self, chart: _Chart, t: int) -> _Chart:
        """Chart after h + [t] (t must be in E(h)); ignored terminals leave h unchanged."""
        if t in self.ignored:
            return chart
        nxt = chart.nxt.get(t)
        if nxt is None:
            items = chart.sets[-1].waiting.get(t, ())
            assert items, "scanned an unexpected terminal"
            nxt = self._make_chart(chart.sets, [(r, d + 1, o) for r, d, o in items])
            chart.nxt[t] = nxt
            self._recent.append(nxt)
        return nxt

    def expected_terminals(self, state: OracleState) -> list[str]:
        """Names in A = E(h) | I for the state's chart."""
        return [self.term_names[t] for t in state.chart.expected]

    # ---------------------------------------------------------------- lexing
    def _tail(self, tail: bytes) -> tuple[str, Any] | None:
        """('c', char) if tail is a complete char, ('p', representatives) if incomplete."""
        info = self._tail_cache.get(tail, 0)
        if info != 0:
            return info  # type: ignore[return-value]
        res: tuple[str, Any] | None
        ivs = utf8_prefix_intervals(tail)
        if ivs is not None:
            bnd = self._boundaries
            reps: list[str] = []
            for lo, hi in ivs:
                pts = {lo, hi}
                pts.update(bnd[bisect.bisect_right(bnd, lo): bisect.bisect_right(bnd, hi)])
                reps.extend(chr(p) for p in sorted(pts))
            res = ("p", tuple(reps))
        else:
            try:
                ch = tail.decode("utf-8")
                res = ("c", ch) if len(ch) == 1 else None
            except UnicodeDecodeError:
                res = None
        self._tail_cache[tail] = res
        return res

    def regex_terminals(self) -> list[str]:
        """Terminals matched with ``regex`` partial matching instead of an incremental matcher."""
        return [n for n, m in zip(self.term_names, self._matchers, strict=True) if m is None]

    def _extend(self, lex: _Lex, b: int) -> _Lex | None:
        """The lexeme w+b, or None if it is not alive."""
        if b < 0x80 and not lex.tail:
            ch = chr(b)
            s, tail, reps = lex.s + ch, b"", None
        else:
            tail = lex.tail + _BYTES[b]
            info = self._tail(tail)
            if info is None:
                return None
            if info[0] == "c":
                ch = info[1]
                s, tail, reps = lex.s + ch, b"", None
            else:
                s, reps = lex.s, info[1]
        lazy, full, part, matchers = self.lazy, self._full, self._part, self._matchers
        alive: list[int] = []
        dst: list[int] = []
        ends: list[int] = []
        for t, d in zip(lex.alive, lex.dst, strict=True):
            if lazy[t] and t in lex.ends:
                continue  # w itself was in L(t): no longer shortest
            m = matchers[t]
            if m is not None and d >= 0:
                try:
                    if reps is None:
                        d2 = m.step(d, ch)
                        if m.live(d2):
                            alive.append(t)
                            dst.append(d2)
                            if m.accept[d2]:
                                ends.append(t)
                    elif any(m.live(m.step(d, r)) for r in reps):
                        alive.append(t)
                        dst.append(d)
                    continue
                except _TooBig:
                    matchers[t] = None  # from now on use the regex module for t
            if reps is None:
                if part[t](s, partial=True) is not None:
                    alive.append(t)
                    dst.append(-1)
                    if full[t](s) is not None:
                        ends.append(t)
            else:
                p = part[t]
                for r in reps:
                    if p(s + r, partial=True) is not None:
                        alive.append(t)
                        dst.append(-1)
                        break
        if not alive:
            return None
        return _Lex(s, tail, tuple(alive), tuple(dst), tuple(ends))

    def _first(self, chart: _Chart, b: int) -> _Lex | None:
        """Lexeme made of byte b alone, started at chart (memoized)."""
        try:
            return chart.first[b]
        except KeyError:
            pass
        if chart.empty_lex is None:
            ends = tuple(t for t in chart.expected if self._full[t]("") is not None)
            ms = [self._matchers[t] for t in chart.expected]
            dst = tuple(-1 if m is None else m.start for m in ms)
            chart.empty_lex = _Lex("", b"", chart.expected, dst, ends)
            chart.empty_lex.top = -1
        lex = self._extend(chart.empty_lex, b)
        chart.first[b] = lex
        return lex

    def step(self, state: OracleState, b: int) -> OracleState | None:
        """Feed one byte; None = REJECT."""
        chart, lex = state.chart, state.lex
        if lex is None:
            nl = self._first(chart, b)
            return None if nl is None else OracleState(chart, nl)
        top = lex.top
        if top < 0 or not self.lazy[top]:
            nl = self._extend(lex, b)
            if nl is not None:
                return OracleState(chart, nl)
            if top < 0:
                return None
        chart = self._scan(chart, top)
        nl = self._first(chart, b)
        return None if nl is None else OracleState(chart, nl)

    # ---------------------------------------------------------------- public API
    def initial(self) -> OracleState:
        """State before any byte."""
        return OracleState(self._chart0, None)

    def advance(self, state: OracleState | None, data: bytes) -> OracleState | None:
        """State after feeding data; None if some byte is rejected."""
        for b in data:
            if state is None:
                return None
            state = self.step(state, b)
        return state

    def state_is_complete(self, state: OracleState | None) -> bool:
        """Whether the bytes leading to state form a complete sentence."""
        if state is None:
            return False
        chart, lex = state.chart, state.lex
        if lex is not None:
            if lex.top < 0:
                return False
            chart = self._scan(chart, lex.top)
        return chart.accept

    def state_for(self, prefix: bytes) -> OracleState | None:
        """advance(initial(), prefix), reusing the previous call's state when it is a prefix."""
        last_prefix, last_state = self._last
        if prefix.startswith(last_prefix):
            st = self.advance(last_state, prefix[len(last_prefix):])
        else:
            st = self.advance(self.initial(), prefix)
        self._last = (prefix, st)
        return st

    def is_viable(self, x: bytes) -> bool:
        """Whether x is a viable prefix."""
        return self.advance(self.initial(), x) is not None

    def is_complete(self, x: bytes) -> bool:
        """Whether x is a complete sentence."""
        return self.state_is_complete(self.advance(self.initial(), x))

    def lex(self, x: bytes) -> list[tuple[str, bytes]] | None:
        """Debug helper: the lexemes (terminal name, bytes) of x, or None if x is not viable.
        A trailing lexeme without End(w) is reported with name "?"."""
        st = self.initial()
        out: list[tuple[str, bytes]] = []
        cur = b""
        for b in x:
            chart, lx = st.chart, st.lex
            if lx is not None:
                top = lx.top
                if top < 0 or not self.lazy[top]:
                    nl = self._extend(lx, b)
                    if nl is not None:
                        st, cur = OracleState(chart, nl), cur + _BYTES[b]
                        continue
                    if top < 0:
                        return None
                out.append((self.term_names[top], cur))
                chart = self._scan(chart, top)
            first = self._first(chart, b)
            if first is None:
                return None
            st, cur = OracleState(chart, first), _BYTES[b]
        if st.lex is not None:
            top = st.lex.top
            out.append((self.term_names[top] if top >= 0 else "?", cur))
        return out


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------

_VOCAB_CACHE: dict[str, Any] = {}


def _sorted_vocab(token_bytes: Sequence[bytes], allowed: frozenset[int]) -> tuple[list, list]:
    """Sorted distinct token byte strings among allowed ids, with their ids (cached)."""
    tb = tuple(token_bytes)
    c = _VOCAB_CACHE
    if c.get("tb") == tb and c.get("allowed") == allowed:
        return c["keys"], c["ids"]
    groups: dict[bytes, list[int]] = {}
    for i in allowed:
        groups.setdefault(tb[i], []).append(i)
    keys = sorted(groups)
    ids = [groups[k] for k in keys]
    _VOCAB_CACHE.update(tb=tb, allowed=allowed, keys=keys, ids=ids)
    return keys, ids


def _after_prefix_range(p: bytes) -> bytes | None:
    """Smallest byte string greater than every string starting with p (None: no such)."""
    p = p.rstrip(b"\xff")
    if not p:
        return None
    return p[:-1] + _BYTES[p[-1] + 1]


def reference_mask(
    oracle: Oracle,
    token_bytes: Sequence[bytes],
    allowed_ids: Iterable[int],
    eos_ids: Iterable[int],
    prefix: bytes,
) -> set[int]:
    """Token ids t (among allowed_ids, i.e. the non-special text tokens) with oracle
    viable(prefix + token_bytes[t]), plus every eos id if oracle complete(prefix).

    Walks the sorted vocabulary as an implicit byte trie, keeping a stack of oracle states for
    the current token's prefixes and skipping every token under a rejected prefix."""
    root = oracle.state_for(prefix)
    result: set[int] = set()
    if root is None:
        return result
    if oracle.state_is_complete(root):
        result.update(eos_ids)
    keys, ids = _sorted_vocab(token_bytes, frozenset(allowed_ids))
    step = oracle.step
    stack: list[OracleState] = [root]  # stack[j] = state after keys[i][:j]
    prev = b""
    i, n = 0, len(keys)
    while i < n:
        k = keys[i]
        m = min(len(prev), len(k), len(stack) - 1)
        lcp = 0
        while lcp < m and prev[lcp] == k[lcp]:
            lcp += 1
        del stack[lcp + 1:]
        st = stack[lcp]
        rejected = False
        for d in range(lcp, len(k)):
            nst = step(st, k[d])
            if nst is None:
                upper = _after_prefix_range(k[: d + 1])
                i = n if upper is None else bisect.bisect_left(keys, upper, i + 1)
                prev = k[:d]
                rejected = True
                break
            st = nst
            stack.append(st)
        if not rejected:
            result.update(ids[i])
            prev = k
            i += 1
    return result


def brute_force_mask(
    oracle: Oracle,
    token_bytes: Sequence[bytes],
    allowed_ids: Iterable[int],
    eos_ids: Iterable[int],
    prefix: bytes,
) -> set[int]:
    """Same as reference_mask, one is_viable call per token (for testing the trie walk)."""
    out = {t for t in allowed_ids if oracle.is_viable(prefix + token_bytes[t])}
    if oracle.is_complete(prefix):
        out.update(eos_ids)
    return out


# --------------------------------------------------------------------------------------------
# Cross-check against Lark
# --------------------------------------------------------------------------------------------


def complete_texts_agree_with_lark(
    grammar_text: str,
    texts: Iterable[str | bytes],
    parser: str = "lalr",
    start: str = "start",
    oracle: Oracle | None = None,
    **lark_options: Any,
) -> list[tuple[str | bytes, bool, bool]]:
    """Disagreements (text, oracle_complete, lark_parses) between Oracle.is_complete and a Lark
    parser (default LALR with its contextual lexer) over the given texts; [] = all agree.
    Bytes that are not valid UTF-8 count as a Lark failure."""
    oracle = oracle or Oracle(grammar_text, start=start)
    lk = Lark(grammar_text, parser=parser, start=start, **lark_options)
    bad: list[tuple[str | bytes, bool, bool]] = []
    for text in texts:
        data = text.encode("utf-8") if isinstance(text, str) else text
        try:
            s = data.decode("utf-8")
            lk.parse(s)
            lark_ok = True
        except UnicodeDecodeError:
            lark_ok = False
        except Exception:  # any Lark error means "rejected"
            lark_ok = False
        ours = oracle.is_complete(data)
        if ours != lark_ok:
            bad.append((text, ours, lark_ok))
    return bad
