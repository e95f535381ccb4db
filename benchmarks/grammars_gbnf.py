"""The benchmark grammars of ``tests/grammars.py`` for the peer engines.

* :data:`GBNF` -- a GBNF/EBNF translation (xgrammar's input format, root rule ``root``) of
  every grammar in :data:`tests.grammars.ALL`, written to have the *same language* as the
  Lark grammar under grammar-engine's semantics (``docs/semantics.md``: contextual lexer,
  maximal munch, string literals before regexes, priorities).
* :data:`LARK_LLGUIDANCE` -- the Lark text given to llguidance, and :data:`LLGUIDANCE_NOTES`
  saying where it differs from ``tests/grammars.py``.

GBNF has no lexer, so the translation spells out what the lexer does:

* ``%ignore WS``: optional whitespace between any two lexemes (and at both ends).
* Maximal munch: where two lexemes could merge into one (a name followed directly by a
  name, ``int`` followed by ``x``, ``/`` followed by ``//...``), the translation requires a
  separator or restricts the first character of what follows.
* Keyword-versus-name conflicts: where the contextual lexer offers both a keyword and
  ``NAME`` and the lexeme is exactly the keyword, it is the keyword; such names are cut out
  of ``NAME`` there (by a trie complement, see :func:`_name_except`).
* Case-insensitive literals (``"SELECT"i``) and the Unicode classes ``\\w`` and ``\\d`` use the
  exact character sets of Python's ``re`` (e.g. ``"s"i`` also matches ``U+017F``, ``"i"i``
  matches ``U+0130`` and ``U+0131``, ``\\w`` is Unicode), computed here with ``re`` itself.
* ``common.ESCAPED_STRING`` is ``"(?:[^"\\\\\\n]|\\\\[^\\n])*"``, ``common.NUMBER`` is
  ``INT | INT _EXP | INT "." INT? _EXP? | "." INT _EXP?``, ``common.CNAME`` is ASCII.
* A ``//`` comment runs to the end of the line, so between lexemes it must end with a newline;
  only at the very end may it stop before one.

The form is tuned for xgrammar without changing the language: nullable rules are avoided (a
state that may end is referenced as ``( state | $end )``) and separators are inline
character-class stars where that is faster (:data:`INLINE_SEPARATORS`); the plain
formulation was up to ~50x slower per token. The translations were checked against
grammar-engine (complete-word acceptance and viable-prefix agreement) on about 50,000 mutated
sample strings, without a difference.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
from collections.abc import Iterable

__all__ = [
    "GBNF",
    "LARK_LLGUIDANCE",
    "LLGUIDANCE_NOTES",
    "WRITTEN_FOR",
    "gbnf_grammars",
    "lark_fingerprint",
    "lark_for_llguidance",
    "stale_translations",
]

Ranges = tuple[tuple[int, int], ...]

_SURR_LO, _SURR_HI = 0xD800, 0xDFFF


# --------------------------------------------------------------------------------------------
# Character sets, computed with Python ``re`` (the semantics of Lark terminals)
# --------------------------------------------------------------------------------------------


@functools.cache
def _all_chars() -> str:
    """Every non-surrogate code point, in order."""
    return "".join(map(chr, range(_SURR_LO))) + "".join(map(chr, range(_SURR_HI + 1, 0x110000)))


def _cp(index: int) -> int:
    """Code point of position ``index`` in :func:`_all_chars`."""
    return index if index < _SURR_LO else index + (_SURR_HI - _SURR_LO + 1)


@functools.cache
def _re_class(pattern: str) -> Ranges:
    """Code-point ranges of the single characters that fullmatch ``pattern`` under ``re``."""
    out: list[tuple[int, int]] = []
    for m in re.finditer(f"(?:{pattern})+", _all_chars()):
        lo, hi = _cp(m.start()), _cp(m.end() - 1)
        if lo <= _SURR_LO <= hi:  # a run cannot really span the gap, but be safe
            out += [(lo, _SURR_LO - 1), (_SURR_HI + 1, hi)]
        else:
            out.append((lo, hi))
    return _normalize(out)


def _minus(ranges: Ranges, chars: Iterable[str]) -> Ranges:
    """``ranges`` without the code points of ``chars``."""
    drop = sorted({ord(c) for c in chars})
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        cur = lo
        for d in drop:
            if cur <= d <= hi:
                if d > cur:
                    out.append((cur, d - 1))
                cur = d + 1
        if cur <= hi:
            out.append((cur, hi))
    return _normalize(out)


def _normalize(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, merged ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _ranges_of(chars: str) -> Ranges:
    """Ranges of the code points in ``chars``."""
    return _normalize((ord(c), ord(c)) for c in chars)


_PLAIN = set(string.ascii_letters + string.digits + "_ !#$%&'()*+,.:;<=>?@{|}~/`")


def _char(cp: int) -> str:
    """One code point inside a GBNF character class."""
    c = chr(cp)
    if c in _PLAIN:
        return c
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", '"': '\\"'}
    if c in named:
        return named[c]
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _cls(ranges: Ranges, negate: bool = False) -> str:
    """A GBNF character class ``[...]`` for ``ranges``."""
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_char(lo))
        elif hi == lo + 1:
            parts.append(_char(lo) + _char(hi))
        else:
            parts.append(f"{_char(lo)}-{_char(hi)}")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _ci_chars(c: str) -> str:
    """Characters matching ``c`` case-insensitively under ``re`` (``"s"`` -> ``"Ssſ"``)."""
    ranges = _re_class(f"(?i:{re.escape(c)})")
    return "".join(chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1))


# --------------------------------------------------------------------------------------------
# Rule builders
# --------------------------------------------------------------------------------------------


def _ci_word(word: str) -> str:
    """A case-insensitive literal (``"FROM"i``) as a sequence of classes."""
    return " ".join(_cls(_ranges_of(_ci_chars(c))) for c in word)


def _ci_nonword_first(word: str, name_chars: str) -> str:
    """``word``i whose first character cannot continue a name (is not in ``name_chars``)."""
    first = _cls(_minus(_ranges_of(_ci_chars(word[0])), name_chars))
    return " ".join([first] + [_cls(_ranges_of(_ci_chars(c))) for c in word[1:]])


def _ci_not_lower(word: str, name_chars: str) -> str:
    """``word``i spelt with at least one character outside ``name_chars``.

    Those spellings can never be a ``NAME`` lexeme (the only spelling that can is ``word``
    itself, in lower case), so they are the keyword whatever follows.
    """
    alts = []
    for i, c in enumerate(word):
        odd = _minus(_ranges_of(_ci_chars(c)), name_chars)
        if not odd:
            continue
        head = [f'"{word[:i]}"'] if i else []
        tail = [_cls(_ranges_of(_ci_chars(d))) for d in word[i + 1:]]
        alts.append(" ".join([*head, _cls(odd), *tail]))
    return "( " + " | ".join(alts) + " )"


def _name_except(rule: str, first: Ranges, rest: Ranges, words: Iterable[str]) -> str:
    """Rules for ``rule ::= first rest*`` minus the exact strings ``words`` (a trie complement).

    Rule ``rule-<p>`` matches the non-empty continuations of the trie prefix ``p``; no rule is
    nullable (xgrammar is much slower with nullable rules).
    """
    words = sorted(set(words))
    prefixes = {w[:i] for w in words for i in range(len(w))}  # proper prefixes

    def name(p: str) -> str:
        return f"{rule}-{p}" if p else rule

    lines = []
    for p in sorted(prefixes, key=lambda s: (len(s), s)):
        children = sorted({w[len(p)] for w in words if len(w) > len(p) and w.startswith(p)})
        alts = []
        for c in children:
            q = p + c
            if q not in words:
                alts.append(f'"{c}"')
            if q in prefixes:
                alts.append(f'"{c}" {name(q)}')
            else:
                alts.append(f'"{c}" {_cls(rest)}+')
        others = _minus(first if not p else rest, children)
        if others:
            alts.append(f"{_cls(others)} {_cls(rest)}*")
        lines.append(f"{name(p)} ::= " + " | ".join(alts))
    return "\n".join(lines)


_NUMBER_RULES = r"""
number ::= [0-9]+ ( "." [0-9]* )? $exp? | "." [0-9]+ $exp?
"""


_MACRO = re.compile(r"\$([A-Za-z][A-Za-z0-9]*)")

#: Whether the separator macros (``$w``, ``$s``, ...) are written inline (``[ \t]*``) or as
#: rules (``w ::= [ \t]*``). Same language either way; xgrammar's speed differs a lot
#: (nullable rules are slow for it), so each grammar uses the faster form (measured).
INLINE_SEPARATORS: dict[str, bool] = {
    "json": False,
    "arithmetic": True,
    "sql": True,
    "c_like": True,
    "ambiguous": True,
}


def _expand(text: str, macros: dict[str, str], inline: bool) -> str:
    """Replace ``$name`` by ``macros[name]`` (inline) or by a rule ``name`` (appended)."""
    used: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in macros:
            raise KeyError(f"unknown macro ${name}")
        if not inline:
            if name not in used:
                used.append(name)
            return name
        body = _MACRO.sub(repl, macros[name])
        return body if re.fullmatch(r"\[[^\]]*\][*+?]?", body) else f"( {body} )"

    out = _MACRO.sub(repl, text)
    i = 0
    while i < len(used):  # rules for the macros used, and for those they use
        name = used[i]
        out += f"{name} ::= {_MACRO.sub(repl, macros[name])}\n"
        i += 1
    return out


_EXP = "[eE] [+-]? [0-9]+"


# --------------------------------------------------------------------------------------------
# The grammars
# --------------------------------------------------------------------------------------------


def _json() -> str:
    # Whitespace is attached after every lexeme (and once at the start): unambiguous.
    return _expand(r"""
root ::= $ws value
value ::= object | array | string $ws | signed-number $ws | "true" $ws | "false" $ws
        | "null" $ws
object ::= "{" $ws ( pair ( "," $ws pair )* )? "}" $ws
pair ::= string $ws ":" $ws value
array ::= "[" $ws ( value ( "," $ws value )* )? "]" $ws
string ::= "\"" ( [^"\\\n] | "\\" [^\n] )* "\""
signed-number ::= [+-]? number
""" + _NUMBER_RULES, {"ws": r"[ \t\f\r\n]*", "exp": _EXP}, INLINE_SEPARATORS["json"])


def _arithmetic() -> str:
    # `?sum: sum "+" product | ...` (left recursion) is the same language as iteration.
    return _expand(r"""
root ::= $w sum
sum ::= product ( [+-] $w product )*
product ::= atom ( [*/] $w atom )*
atom ::= number $w | "-" $w atom | name $w | "(" $w sum ")" $w
name ::= [a-zA-Z_] [a-zA-Z0-9_]*
""" + _NUMBER_RULES, {"w": r"[ \t]*", "exp": _EXP}, INLINE_SEPARATORS["arithmetic"])


def _ambiguous() -> str:
    return _expand(r"""
root ::= $sp e
e ::= t ( [+*] $sp t )*
t ::= [0-9]+ $sp | "(" $sp e ")" $sp
""", {"sp": '" "*'}, INLINE_SEPARATORS["ambiguous"])


_SQL_KEYWORDS = ("select", "from", "as", "join", "on", "where", "and", "or", "order", "by",
                 "asc", "desc", "limit")
_SQL_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _sql() -> str:
    """SQL as a right-linear grammar over lexer states (the Lark grammar is regular).

    Naming: ``$w`` optional and ``$W`` required whitespace; ``kw-x`` is ``"X"i``; ``kw-x-u`` the
    spellings whose first character cannot continue a ``NAME`` (needed when no whitespace
    follows a name); ``kw-x-n`` the spellings that are not all lower case (a keyword where
    ``NAME`` is also allowed: only the exact lower-case spelling can grow into a name).
    After a table name the lexer offers ``AS``, ``NAME``, ``JOIN``, ``WHERE``, ``ORDER``,
    ``LIMIT``: a bare lower-case keyword there followed by ``[a-z0-9_]`` is one ``NAME``, and an
    alias cannot be one of those keywords. ``OR`` directly followed by ``d``/``D`` would grow
    into ``ORDER``.
    """
    kw = []
    for k in _SQL_KEYWORDS:
        kw.append(f"kw-{k} ::= {_ci_word(k)}")
        kw.append(f"kw-{k}-u ::= {_ci_nonword_first(k, _SQL_NAME_CHARS)}")
        kw.append(f"kw-{k}-n ::= {_ci_not_lower(k, _SQL_NAME_CHARS)}")
    name_rng = _ranges_of(_SQL_NAME_CHARS)
    first_rng = _ranges_of("abcdefghijklmnopqrstuvwxyz_")
    alias = _name_except("alias-name", first_rng, name_rng, ["as", "join", "where", "order",
                                                              "limit"])
    # No rule is nullable (xgrammar is much slower with nullable rules): a state where the
    # statement may end is referenced as `( state | $end )`.
    body = r"""
root ::= $w kw-select sel
sel ::= $w "*" $w kw-from from | $w name col1
col1 ::= $w "." $w name col2 | col2
col2 ::= ( $W kw-as | kw-as-u ) $w name colalias | colalias
colalias ::= $w "," $w name col1 | ( $W kw-from | kw-from-u ) from
from ::= $w name ( tab | $end )
tab ::= $W "as" $W name ( tail-name | $end )
      | ( $W kw-as-n | kw-as-u ) $w name ( tail-name | $end )
      | $W alias-name ( tail-name | $end )
      | $W "join" $W name joined
      | ( $W kw-join-n | kw-join-u ) $w name joined
      | $W "where" ( $W cw-x | cw-x-nw )
      | ( $W kw-where-n | kw-where-u ) cw
      | $W "order" ( $W kw-by | kw-by-u ) ordname
      | ( $W kw-order-n | kw-order-u ) $w kw-by ordname
      | $W "limit" ( $W number | number-dot ) $end
      | ( $W kw-limit-n | kw-limit-u ) limnum
tail-name ::= ( $W kw-join | kw-join-u ) $w name joined
            | ( $W kw-where | kw-where-u ) cw
            | ( $W kw-order | kw-order-u ) $w kw-by ordname
            | ( $W kw-limit | kw-limit-u ) limnum
joined ::= ( $W kw-on | kw-on-u ) cj
cj ::= $w cj-x
cj-x ::= name cj-lname | number cj-lval | string cj-lval
cj-x-nd ::= name-nd cj-lname | number cj-lval | string cj-lval
cj-lname ::= $w "." $w name cj-lval | cj-lval
cj-lval ::= $w op $w cj-r
cj-r ::= name ( cj-rname | $end ) | number ( cj-rend | $end ) | string ( cj-rend | $end )
cj-rname ::= $w "." $w name ( cj-after-name | $end ) | cj-after-name
cj-after-name ::= ( $W kw-and | kw-and-u ) cj | ( $W kw-or | kw-or-u ) cj-or | tail-name
cj-rend ::= $w kw-and cj | $w kw-or cj-or | $w kw-join $w name joined | $w kw-where cw
          | $w kw-order $w kw-by ordname | $w kw-limit limnum
cj-or ::= $W cj-x | cj-x-nd
cw ::= $w cw-x
cw-x ::= name cw-lname | number cw-lval | string cw-lval
cw-x-nw ::= number-dot cw-lval | string cw-lval
cw-x-nd ::= name-nd cw-lname | number cw-lval | string cw-lval
cw-lname ::= $w "." $w name cw-lval | cw-lval
cw-lval ::= $w op $w cw-r
cw-r ::= name ( cw-rname | $end ) | number ( cw-rend | $end ) | string ( cw-rend | $end )
cw-rname ::= $w "." $w name ( cw-after-name | $end ) | cw-after-name
cw-after-name ::= ( $W kw-and | kw-and-u ) cw | ( $W kw-or | kw-or-u ) cw-or
                | ( $W kw-order | kw-order-u ) $w kw-by ordname
                | ( $W kw-limit | kw-limit-u ) limnum
cw-rend ::= $w kw-and cw | $w kw-or cw-or | $w kw-order $w kw-by ordname | $w kw-limit limnum
cw-or ::= $W cw-x | cw-x-nd
ordname ::= $w name ( ordafter | $end )
ordafter ::= ( $W kw-asc | kw-asc-u | $W kw-desc | kw-desc-u ) ( ascafter | $end )
           | ( $W kw-limit | kw-limit-u ) limnum
ascafter ::= $w kw-limit limnum
limnum ::= $w number $end
op ::= "=" | "<" | ">" | "<=" | ">=" | "<>" | "!="
string ::= "'" [^']* "'"
name ::= [a-z_] [a-z0-9_]*
name-nd ::= [a-ce-z_] [a-z0-9_]*
number-dot ::= "." [0-9]+ $exp?
"""
    macros = {"w": r"[ \t\f\r\n]*", "W": r"[ \t\f\r\n]+", "end": '$w ( ";" $w )?',
              "exp": _EXP}
    return _expand(body + _NUMBER_RULES + "\n".join(kw) + "\n" + alias + "\n", macros,
                   INLINE_SEPARATORS["sql"])


_ASCII_WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_C_KEYWORDS = ("int", "float", "char", "if", "while", "return", "else")


def _c_like() -> str:
    """C-like statements.

    ``TYPE.2`` and the keywords win over ``NAME`` only where the lexer offers both, i.e. at
    the start of a statement (``else`` only right after an ``if`` that has no ``else`` yet,
    tracked with the classic matched/open statement split ``c``/``o``); ``int x``,
    ``return x``, ``else x`` need a separator (``intx`` is a name); ``/`` directly followed by
    ``/`` is a comment, not a division; a comment ends at a newline.
    """
    word = _re_class(r"\w")  # Unicode, as Python's re
    digit = _re_class(r"\d")
    letters = _ranges_of(_ASCII_WORD.replace("0123456789", ""))
    stmt_name = _name_except("stmt-name", letters, word, _C_KEYWORDS)
    # $s = (WS | COMMENT "\n")*, written as runs of white space between whole-line comments
    # (the same language; this form is ~10x faster for xgrammar than the plain star).
    macros = {"s": r'[ \t\f\r\n]* $cmts', "cmts": r'( "//" [^\n]* "\n" [ \t\f\r\n]* )*',
              "S": r'[ \t\f\r\n]+ $cmts | ( "//" [^\n]* "\n" [ \t\f\r\n]* )+',
              "snc": r"( [ \t\f\r\n] $s )?", "end": r'$s ( "//" [^\n]* )?'}
    return _expand(rf"""
root ::= $s seq $end
seq ::= c | o | c $s seq | o $s seq-o
seq-o ::= cne | o | cne $s seq | o $s seq-o
c ::= cne | "else" $s "=" $s expr $s ";"
cne ::= decl | stmt-name $s "=" $s expr $s ";" | if-head $s c $s "else" else-c | while-head $s c
      | block | ret
o ::= if-head $s ( c | o ) | if-head $s c $s "else" $S o | while-head $s o
else-c ::= $S c | $s block
if-head ::= "if" $s "(" $s expr $s ")"
while-head ::= "while" $s "(" $s expr $s ")"
block ::= "{{" $s ( seq $s )? "}}"
decl ::= ( "int" | "float" | "char" ) $S name $s ( "=" $s expr $s )? ";"
ret ::= "return" $S expr $s ";" | "return" $s expr-p $s ";"
expr ::= sum ( $s cmp $s sum )*
expr-p ::= sum-p ( $s cmp $s sum )*
cmp ::= "==" | "!=" | "<=" | ">=" | "<" | ">"
sum ::= term ( $s [+-] $s term )*
sum-p ::= term-p ( $s [+-] $s term )*
term ::= factor mul-tail*
term-p ::= "(" $s expr $s ")" mul-tail*
mul-tail ::= $s [*%] $s factor | $s "/" $snc factor
factor ::= number | name | name $s "(" $s ( expr ( $s "," $s expr )* $s )? ")" | "(" $s expr $s ")"
number ::= {_cls(digit)}+ ( "." {_cls(digit)}+ )?
name ::= [a-zA-Z_] {_cls(word)}*
{stmt_name}
""", macros, INLINE_SEPARATORS["c_like"])


@functools.cache
def gbnf_grammars() -> dict[str, str]:
    """Name -> GBNF text (root rule ``root``), for every grammar of ``tests.grammars.ALL``."""
    return {
        "json": _json(),
        "arithmetic": _arithmetic(),
        "sql": _sql(),
        "c_like": _c_like(),
        "ambiguous": _ambiguous(),
    }


GBNF: dict[str, str] = gbnf_grammars()

#: SHA-256 (first 16 hex digits) of the Lark text in ``tests/grammars.py`` each translation
#: was written and checked for. The benchmark warns when the Lark grammar has changed since.
WRITTEN_FOR: dict[str, str] = {
    "json": "cb1a2e03b85b4a5b",
    "arithmetic": "c34f6f2a0e1bf008",
    "sql": "7d371c607f733b48",
    "c_like": "cf69544d6af1654d",
    "ambiguous": "3e6e6718e1e95143",
}


def lark_fingerprint(text: str) -> str:
    """The fingerprint :data:`WRITTEN_FOR` records for a Lark grammar text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stale_translations() -> list[str]:
    """Grammars of ``tests.grammars.ALL`` whose GBNF is missing or written for another text."""
    from tests.grammars import ALL

    return [name for name, text in ALL.items()
            if name not in GBNF or WRITTEN_FOR.get(name) != lark_fingerprint(text)]


# --------------------------------------------------------------------------------------------
# llguidance
# --------------------------------------------------------------------------------------------

_PRIORITY = re.compile(r"^(\s*[A-Z_][A-Z0-9_]*)\.(-?\d+)(\s*:)", re.MULTILINE)


@functools.cache
def _llguidance_variants() -> tuple[dict[str, str], dict[str, str]]:
    """(name -> Lark text for llguidance, name -> note on what was changed)."""
    from tests.grammars import ALL

    texts: dict[str, str] = {}
    notes: dict[str, str] = {}
    for name, text in ALL.items():
        edited = _PRIORITY.sub(r"\1\3", text)
        texts[name] = edited
        if edited != text:
            dropped = sorted({m.group(1).strip() for m in _PRIORITY.finditer(text)})
            notes[name] = (f"terminal priorities dropped ({', '.join(dropped)}): llguidance "
                           "rejects them ('priority not supported yet'); its lexer settles "
                           "keyword-versus-NAME overlaps itself")
    return texts, notes


def lark_for_llguidance() -> dict[str, str]:
    """Name -> Lark text for llguidance: ``tests.grammars.ALL`` with priorities dropped.

    llguidance 1.9 accepts ``%import common.X``, case-insensitive literals (``"select"i``),
    ``?rule``, ``-> alias``, ``[...]`` and ``%ignore`` as they are, but refuses terminal
    priorities (``TYPE.2``), so those are removed (see :data:`LLGUIDANCE_NOTES`).
    """
    return dict(_llguidance_variants()[0])


LARK_LLGUIDANCE: dict[str, str] = lark_for_llguidance()
LLGUIDANCE_NOTES: dict[str, str] = dict(_llguidance_variants()[1])
