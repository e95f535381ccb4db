"""Regex front end: Python ``re`` syntax -> a Thompson NFA over code-point ranges.

Python's own parser (``re._parser``) reads the pattern, so the syntax and the meaning of
classes (``\\d \\w \\s`` are Unicode unless ``(?a)``), flags and escapes are exactly those of
``re``. Patterns are matched as a whole (``fullmatch``): ``^``/``\\A`` at the start and
``$``/``\\Z`` at the end are accepted and mean nothing more. Constructs whose meaning is not
a regular language over the match alone (look-around, back-references, word boundaries,
possessive and atomic groups) raise :class:`UnsupportedFeatureError`. ``automata`` lowers
the NFA to bytes.
"""

from __future__ import annotations

import functools
import itertools
import re
import warnings
from dataclasses import dataclass, field
from re import _constants as C
from re import _parser as sre_parse
from typing import Any

from compilers import charset as cs
from compilers.budget import check_deadline
from compilers.errors import GrammarSyntaxError, LimitExceededError, UnsupportedFeatureError

__all__ = ["NFA", "absorb_repeats", "compile_regex_nfa", "has_lazy_quantifier"]


@dataclass
class NFA:
    """Character-level NFA with one start and one accepting state."""

    eps: list[list[int]] = field(default_factory=list)
    edges: list[list[tuple[cs.CharSet, int]]] = field(default_factory=list)
    start: int = 0
    accept: int = 0
    max_states: int = 100_000
    where: str = ""

    def new_state(self) -> int:
        if len(self.eps) >= self.max_states:
            raise LimitExceededError("max_nfa_states", self.max_states, len(self.eps) + 1,
                                     self.where)
        if not len(self.eps) & 4095:
            check_deadline(f"NFA construction ({len(self.eps)} states) of {self.where}")
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1


def group_depth(pattern: str) -> int:
    """Deepest nesting of parentheses in ``pattern`` (escapes and classes skipped)."""
    depth = best = 0
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern.startswith("]", i + 1) or pattern.startswith("^]", i + 1):
                i += 2  # a leading ']' is a literal
        elif c == "(":
            depth += 1
            best = max(best, depth)
        elif c == ")":
            depth = max(0, depth - 1)
        i += 1
    return best


def _parse(pattern: str, where: str, max_depth: int | None = None) -> Any:
    depth = group_depth(pattern) if max_depth is not None else 0
    if max_depth is not None and depth > max_depth:
        raise LimitExceededError("max_nesting_depth", max_depth, depth,
                                 f"{where or '<regex>'} (groups nested in the regex)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible set union" etc.
            return sre_parse.parse(pattern, 0)
    except re.error as e:
        pos = e.pos or 0
        raise GrammarSyntaxError(
            f"invalid regular expression: {e.msg}", source=where or "<regex>", line=1,
            column=pos + 1, text=pattern,
        ) from None


def has_lazy_quantifier(pattern: str) -> bool:
    """True if the pattern contains a lazy quantifier (``*?``, ``+?``, ``??``, ``{m,n}?``)."""

    def walk(items: Any) -> bool:
        for op, av in items:
            if op is C.MIN_REPEAT:
                return True
            if op in (C.MAX_REPEAT, C.POSSESSIVE_REPEAT) and walk(av[2]):
                return True
            if op is C.SUBPATTERN and walk(av[3]):
                return True
            if op is C.BRANCH and any(walk(b) for b in av[1]):
                return True
            if op in (C.ASSERT, C.ASSERT_NOT) and walk(av[1]):
                return True
        return False

    return walk(_parse(pattern, "<regex>").data)


def compile_regex_nfa(pattern: str, *, max_states: int = 100_000, where: str = "",
                      json_string: bool = False, quoted: bool = True,
                      max_depth: int | None = None) -> NFA:
    """Parse ``pattern`` and build its NFA.

    With ``json_string`` the NFA matches the JSON string literals (quotes included) whose
    decoded value matches ``pattern``: every character may appear raw where JSON allows it
    or as any of its escapes (``\\n``, ``\\u00e9``, surrogate pairs for astral ones);
    ``quoted=False`` leaves out the surrounding quotes.

    Raises
    ------
    GrammarSyntaxError
        The pattern is not valid Python regex syntax.
    UnsupportedFeatureError
        The pattern uses look-around, back-references, ``\\b`` or similar.
    LimitExceededError
        The NFA would have more than ``max_states`` states (large counted repetition), or
        groups nest deeper than ``max_depth`` (None: not checked; the patterns the
        engine writes itself, such as number ranges, nest deeply but regularly).
    """
    parsed = _parse(pattern, where, max_depth)
    nfa = NFA(max_states=max_states, where=where or f"regex {pattern!r}")
    builder = _Builder(nfa, pattern, where, json_string)
    flags = parsed.state.flags
    start, end = builder.seq(absorb_repeats(parsed.data, flags), flags, True, True)
    if json_string and quoted:
        q0, q1 = builder.raw_chars(_QUOTE), builder.raw_chars(_QUOTE)
        nfa.eps[q0[1]].append(start)
        nfa.eps[end].append(q1[0])
        start, end = q0[0], q1[1]
    nfa.start, nfa.accept = start, end
    return nfa


def _is_any_string(op: Any, av: Any, flags: int) -> bool:
    """Whether the item is ``(?s:.)*``: any string at all (lazy or not)."""
    if op not in (C.MAX_REPEAT, C.MIN_REPEAT) or av[0] != 0 or av[1] < C.MAXREPEAT:
        return False
    sub = list(av[2])
    if len(sub) == 1 and sub[0][0] is C.SUBPATTERN:
        _group, add, rem, inner = sub[0][1]
        flags, sub = (flags | add) & ~rem, list(inner)
    return len(sub) == 1 and sub[0][0] is C.ANY and bool(flags & re.DOTALL)


def absorb_repeats(items: Any, flags: int, left: bool = False,
                   right: bool = False) -> list[tuple[Any, Any]]:
    """A sequence of the same language, in which a repetition beside an "any string"
    item is cut to its least count: ``(?s:.)*x{1,255}`` is ``(?s:.)*x``, since any string
    ``x`` repeated follows can be read as ``x`` and more of the any string; a repetition
    that may be empty goes. ``left`` / ``right``: the sequence is itself preceded /
    followed by any string. Plain groups are flattened; alternatives and flag groups
    beside any string are cut inside. This is what a JSON Schema ``pattern`` becomes as a
    search (``(?s:.)*(?:...)(?s:.)*``): its counts would otherwise make thousands of
    states for nothing."""
    out: list[tuple[Any, Any]] = []
    for op, av in items:  # flatten plain groups: (?:a)(?:b) reads as ab
        if op is C.SUBPATTERN and av[1] == 0 and av[2] == 0:
            out.extend(absorb_repeats(av[3], flags))
        else:
            out.append((op, av))
    i = 0
    while i < len(out):
        op, av = out[i]
        before = left if i == 0 else _is_any_string(*out[i - 1], flags)
        after = right if i == len(out) - 1 else _is_any_string(*out[i + 1], flags)
        if not (before or after):
            i += 1
            continue
        if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[1] > av[0]:
            if av[0] == 0:  # may be empty: any string beside it reads it too
                del out[i]
                i = max(i - 1, 0)  # the item before may now stand beside any string
                continue
            out[i] = (op, (av[0], av[0], av[2]))
        elif op is C.BRANCH:
            out[i] = (op, (av[0], [absorb_repeats(alt, flags, before, after)
                                   for alt in av[1]]))
        elif op is C.SUBPATTERN:
            group, add, rem, sub = av
            out[i] = (op, (group, add, rem,
                           absorb_repeats(sub, (flags | add) & ~rem, before, after)))
        i += 1
    return out


_QUOTE = cs.from_chars([ord('"')])
# Characters a JSON string may hold unescaped.
_JSON_RAW = cs.complement(cs.union(cs.normalize([(0, 0x1F)]), cs.from_chars([0x22, 0x5C])))
_JSON_SHORT_ESCAPES = {0x22: '"', 0x5C: "\\", 0x2F: "/", 0x08: "b", 0x0C: "f", 0x0A: "n",
                       0x0D: "r", 0x09: "t"}
_HEX = [cs.from_chars([ord(c) for c in {f"{d:x}", f"{d:X}"}]) for d in range(16)]
_ANY_HEX = cs.union(*_HEX)


@functools.lru_cache(maxsize=4096)
def _json_char_plan(s: cs.CharSet) -> tuple[cs.CharSet, cs.CharSet, cs.CharSet,
                                            tuple[tuple[cs.CharSet, tuple[int, ...]], ...]]:
    """For a character set: the raw part, the short-escape letters, the BMP part (for
    ``\\uXXXX``) and the astral part as (low-surrogate set, high surrogates) groups."""
    raw = cs.intersect(s, _JSON_RAW)
    short = cs.from_chars([ord(letter) for code, letter in _JSON_SHORT_ESCAPES.items()
                           if cs.contains(s, code)])
    bmp = cs.intersect(s, ((0, 0xFFFF),))
    astral = cs.intersect(s, ((0x10000, cs.MAX_CP),))
    by_low: dict[cs.CharSet, list[int]] = {}
    for lo, hi in astral:
        for high in range((lo - 0x10000) >> 10, ((hi - 0x10000) >> 10) + 1):
            base = 0x10000 + (high << 10)
            lows = cs.intersect(((lo, hi),), ((base, base + 0x3FF),))
            key = tuple((x - base + 0xDC00, y - base + 0xDC00) for x, y in lows)
            by_low.setdefault(key, []).append(0xD800 + high)
    return raw, short, bmp, tuple((k, tuple(v)) for k, v in by_low.items())


class _Builder:
    def __init__(self, nfa: NFA, pattern: str, where: str, json_string: bool = False) -> None:
        self.nfa = nfa
        self.pattern = pattern
        self.where = where or f"regex {pattern!r}"
        self.json_string = json_string

    def unsupported(self, what: str) -> UnsupportedFeatureError:
        return UnsupportedFeatureError(what, location=self.where)

    def raw_chars(self, s: cs.CharSet) -> tuple[int, int]:
        a, b = self.nfa.new_state(), self.nfa.new_state()
        if s:
            self.nfa.edges[a].append((s, b))
        return a, b

    def chars(self, s: cs.CharSet) -> tuple[int, int]:
        if not self.json_string:
            return self.raw_chars(s)
        return self.json_chars(s)

    def json_chars(self, s: cs.CharSet) -> tuple[int, int]:
        """One character of ``s`` inside a JSON string: raw, short escape or \\u escape."""
        nfa = self.nfa
        raw, short, bmp, by_low = _json_char_plan(s)
        a, b = self.raw_chars(raw)
        if not s:
            return a, b
        backslash = nfa.new_state()
        nfa.edges[a].append((cs.from_chars([0x5C]), backslash))
        if short:
            nfa.edges[backslash].append((short, b))
        u = nfa.new_state()
        nfa.edges[backslash].append((cs.from_chars([ord("u")]), u))
        if bmp:
            h = self.hex_digits(bmp, 4)
            nfa.eps[u].append(h[0])
            nfa.eps[h[1]].append(b)
        if by_low:
            for lows_key, highs in by_low:
                hh = self.hex_digits(tuple((x, x) for x in highs), 4)
                sep = nfa.new_state()
                u2 = nfa.new_state()
                nfa.eps[u].append(hh[0])
                nfa.edges[hh[1]].append((cs.from_chars([0x5C]), sep))
                nfa.edges[sep].append((cs.from_chars([ord("u")]), u2))
                ll = self.hex_digits(lows_key, 4)
                nfa.eps[u2].append(ll[0])
                nfa.eps[ll[1]].append(b)
        return a, b

    def hex_digits(self, values: Any, n: int, base: int = 0) -> tuple[int, int]:
        """``n`` hex digits (either case) spelling a number in ``values`` (ranges, may
        include surrogate code units), offset by ``base``."""
        nfa = self.nfa
        a, b = nfa.new_state(), nfa.new_state()
        span = 16 ** (n - 1)
        top = base + 16 * span - 1
        values = [(x, y) for x, y in values if x <= top and y >= base]  # this block only
        full_digits: list[cs.CharSet] = []
        for d in range(16):
            lo, hi = base + d * span, base + (d + 1) * span - 1
            covered = sum(min(hi, y) - max(lo, x) + 1 for x, y in values if x <= hi and y >= lo)
            if covered == 0:
                continue
            if covered == span:
                full_digits.append(_HEX[d])
                continue
            sub = self.hex_digits(values, n - 1, lo)
            mid = nfa.new_state()
            nfa.edges[a].append((_HEX[d], mid))
            nfa.eps[mid].append(sub[0])
            nfa.eps[sub[1]].append(b)
        if full_digits:
            cur = nfa.new_state()
            nfa.edges[a].append((cs.union(*full_digits), cur))
            for _ in range(n - 1):
                nxt = nfa.new_state()
                nfa.edges[cur].append((_ANY_HEX, nxt))
                cur = nxt
            nfa.eps[cur].append(b)
        return a, b

    def empty(self) -> tuple[int, int]:
        a = self.nfa.new_state()
        return a, a

    def seq(self, items: Any, flags: int, at_start: bool, at_end: bool) -> tuple[int, int]:
        items = list(items)
        is_anchor = [op is C.AT for op, _ in items]
        frags: list[tuple[int, int]] = []
        for i, (op, av) in enumerate(items):
            starts = at_start and all(is_anchor[:i])
            ends = at_end and all(is_anchor[i + 1 :])
            if op is C.AT:
                if av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING) and starts:
                    continue
                if av in (C.AT_END, C.AT_END_STRING) and ends:
                    continue
                if av in (C.AT_BOUNDARY, C.AT_NON_BOUNDARY):
                    raise self.unsupported("word boundary (\\b, \\B) in a regex")
                raise self.unsupported("an anchor (^, $, \\A, \\Z) not at the pattern's ends")
            frags.append(self.item(op, av, flags, starts, ends))
        if not frags:
            return self.empty()
        for (_, e1), (s2, _) in itertools.pairwise(frags):
            self.nfa.eps[e1].append(s2)
        return frags[0][0], frags[-1][1]

    def item(self, op: Any, av: Any, flags: int, at_start: bool,
             at_end: bool) -> tuple[int, int]:
        ic = bool(flags & re.IGNORECASE)
        if op is C.LITERAL:
            s = cs.from_chars([av])
            return self.chars(cs.case_closure(s) if ic else s)
        if op is C.NOT_LITERAL:
            s = cs.from_chars([av])
            return self.chars(cs.complement(cs.case_closure(s) if ic else s))
        if op is C.ANY:
            if flags & re.DOTALL:
                return self.chars(cs.ANY_CHAR)
            return self.chars(cs.complement(cs.from_chars([10])))
        if op is C.IN:
            return self.chars(self.charclass(av, flags))
        if op is C.BRANCH:
            a, b = self.nfa.new_state(), self.nfa.new_state()
            for alt in av[1]:
                alt_start, alt_end = self.seq(alt, flags, at_start, at_end)
                self.nfa.eps[a].append(alt_start)
                self.nfa.eps[alt_end].append(b)
            return a, b
        if op is C.SUBPATTERN:
            _group, add, rem, sub = av
            return self.seq(sub, (flags | add) & ~rem, at_start, at_end)
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            return self.repeat(lo, hi, sub, flags)
        if op is C.POSSESSIVE_REPEAT or op is C.ATOMIC_GROUP:
            raise self.unsupported("possessive quantifiers and atomic groups in a regex")
        if op is C.ASSERT_NOT and not list(av[1]):
            return self.raw_chars(())  # (?!) matches nothing
        if op in (C.ASSERT, C.ASSERT_NOT):
            raise self.unsupported("look-ahead and look-behind assertions in a regex")
        if op in (C.GROUPREF, C.GROUPREF_EXISTS):
            raise self.unsupported("back-references in a regex")
        raise self.unsupported(f"regex construct {op}")

    def repeat(self, lo: int, hi: int, sub: Any, flags: int) -> tuple[int, int]:
        unbounded = hi is C.MAXREPEAT or hi >= C.MAXREPEAT
        start, end = self.empty()
        cur = end
        for _ in range(lo):
            s, e = self.seq(sub, flags, False, False)
            self.nfa.eps[cur].append(s)
            cur = e
        if unbounded:
            s, e = self.seq(sub, flags, False, False)
            loop = self.nfa.new_state()
            self.nfa.eps[cur].append(loop)
            self.nfa.eps[loop].append(s)
            self.nfa.eps[e].append(loop)
            return start, loop
        final = self.nfa.new_state()
        self.nfa.eps[cur].append(final)
        for _ in range(hi - lo):
            s, e = self.seq(sub, flags, False, False)
            self.nfa.eps[cur].append(s)
            self.nfa.eps[e].append(final)
            cur = e
        return start, final

    def charclass(self, items: Any, flags: int) -> cs.CharSet:
        ic = bool(flags & re.IGNORECASE)
        ascii_only = bool(flags & re.ASCII)
        negate = False
        parts: list[cs.CharSet] = []
        for op, av in items:
            if op is C.NEGATE:
                negate = True
            elif op is C.LITERAL:
                parts.append(cs.from_chars([av]))
            elif op is C.RANGE:
                parts.append(cs.normalize([av]))
            elif op is C.CATEGORY:
                parts.append(self.category(av, ascii_only))
            else:
                raise self.unsupported(f"character class item {op}")
        s = cs.union(*parts) if parts else ()
        if ic:
            s = cs.case_closure(s)
        return cs.complement(s) if negate else s

    def category(self, cat: Any, ascii_only: bool) -> cs.CharSet:
        table = {
            C.CATEGORY_DIGIT: ("d", False), C.CATEGORY_NOT_DIGIT: ("d", True),
            C.CATEGORY_SPACE: ("s", False), C.CATEGORY_NOT_SPACE: ("s", True),
            C.CATEGORY_WORD: ("w", False), C.CATEGORY_NOT_WORD: ("w", True),
        }
        if cat not in table:
            raise self.unsupported(f"character category {cat}")
        name, neg = table[cat]
        s = cs.category_set(name, ascii_only)
        return cs.complement(s) if neg else s
