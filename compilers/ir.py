"""The grammar IR every front end emits: terminals (regexes) and BNF rules over them.

Front ends (``lark_grammar``, ``regex_grammar``, later ``json_schema``) produce a
:class:`Grammar`; the builders turn it into byte DFAs (``automata``), parse tables
(``lr_tables``) and, lazily, the token index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compilers.automata import ByteDFA

__all__ = ["END", "Grammar", "Rule", "SourceSpan", "Terminal"]

END = "$END"


@dataclass(frozen=True)
class SourceSpan:
    """Where an item came from: a source name plus line/column or a JSON pointer."""

    source: str = "<grammar>"
    line: int = 0
    column: int = 0
    pointer: str = ""

    def __str__(self) -> str:
        if self.pointer:
            return f"{self.pointer} ({self.source})"
        if self.line:
            return f"{self.source}:{self.line}:{self.column}"
        return self.source


@dataclass(frozen=True)
class Terminal:
    """A lexical token class.

    Attributes
    ----------
    name : str
        Unique name (Lark's, e.g. ``NUMBER`` or ``LBRACE``).
    pattern : str
        Python ``re`` pattern matched as a whole.
    is_literal : bool
        Declared as a string literal; at equal priority a literal wins over a regex that
        matches the same lexeme.
    priority : int
        Higher wins when several terminals match the same lexeme.
    lazy : bool
        The lexeme ends at its shortest match (the pattern has a lazy quantifier).
    ignored : bool
        Skipped between other terminals (Lark's ``%ignore``).
    dfa : ByteDFA, optional
        A prebuilt automaton (front ends that build terminals by automaton operations);
        ``pattern`` then only describes it.
    unique : str
        ``"item"``: a JSON string item of a ``uniqueItems`` array; the parser refuses a
        lexeme whose decoded value an earlier item of the same array had (the set of
        values rides on the parser stack). ``"number"``: the same for a JSON number item,
        values compared as exact rationals (``1``, ``1.0`` and ``1e0`` are one value).
        ``"part-open"``, ``"part-close"``, ``"part-value"``, ``"part-inner"``: a terminal
        of an arbitrary JSON item of a ``uniqueItems`` array (brackets, scalars, commas
        and colons inside it); the parser collects the item's text and compares its value
        with the earlier items' when a value or close part brings it back to depth 0.
        ``"separator"``: the set survives this terminal (the comma between items). ``""``:
        none of these.
    exclude : tuple of ByteDFA
        Automata whose strings are not this terminal's: its language is ``dfa``'s minus
        their union. The lexer follows them alongside ``dfa`` (JSON Schema's undeclared
        property names are any key but the declared ones: no difference automaton is
        built).
    """

    name: str
    pattern: str
    is_literal: bool = False
    priority: int = 0
    lazy: bool = False
    ignored: bool = False
    span: SourceSpan = SourceSpan()
    dfa: ByteDFA | None = field(default=None, compare=False, repr=False)
    unique: str = ""
    exclude: tuple[ByteDFA, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Rule:
    """``lhs -> rhs`` where ``rhs`` names terminals and nonterminals."""

    lhs: str
    rhs: tuple[str, ...]
    span: SourceSpan = SourceSpan()


@dataclass(frozen=True)
class Grammar:
    """A context-free grammar over regex terminals.

    Terminals are listed in rank order of declaration; ``rank`` (lower wins) decides which
    terminal a lexeme becomes when several match it: higher priority first, then literals
    before regexes, then this order.
    """

    terminals: tuple[Terminal, ...]
    rules: tuple[Rule, ...]
    start: str
    source: str = "<grammar>"
    notes: tuple[str, ...] = ()  # where the front end narrowed the language, and why

    def __post_init__(self) -> None:
        names = [t.name for t in self.terminals]
        if len(set(names)) != len(names):
            raise ValueError("terminal names must be unique")

    @cached_property
    def terminal_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.terminals)

    def rank(self, index: int) -> tuple[int, int, int]:
        t = self.terminals[index]
        return (-t.priority, 0 if t.is_literal else 1, index)
