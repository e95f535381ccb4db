"""Compile options and resource limits, shared by every front end and builder.

Both are frozen dataclasses; every default and its unit is documented here, and exceeding a
limit raises :class:`~compilers.errors.LimitExceededError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["CompileOptions", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for compiling and matching.

    Attributes
    ----------
    max_grammar_chars : int
        Size of grammar or regex source text, in characters (default 1,000,000).
    max_nfa_states : int
        States of one terminal's character NFA; bounds counted repetition such as
        ``a{1,100000}`` (default 100,000).
    max_dfa_states : int
        States of one terminal's byte-level DFA after determinisation (default 20,000).
    max_lexer_states : int
        States of the combined (contextual) lexer automaton over all terminals, built
        lazily as matching reaches them (default 200,000).
    max_rules : int
        Grammar rules after Lark's expansion of EBNF operators and templates
        (default 50,000).
    max_parser_stacks : int
        Parser stacks kept at once by the general (GLR) parser for ambiguous grammars
        (default 1,000).
    max_stack_depth : int
        Depth of one parser stack while matching; bounds recursion in the output
        (default 10,000).
    max_rollback : int
        Tokens a matcher keeps for :meth:`Matcher.rollback` (default 1,000,000).
    max_jump_forward_bytes : int
        Longest string :meth:`Matcher.find_jump_forward_string` returns (default 4,096).
    """

    max_grammar_chars: int = 1_000_000
    max_nfa_states: int = 100_000
    max_dfa_states: int = 20_000
    max_lexer_states: int = 200_000
    max_rules: int = 50_000
    max_parser_stacks: int = 1_000
    max_stack_depth: int = 10_000
    max_rollback: int = 1_000_000
    max_jump_forward_bytes: int = 4_096

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class CompileOptions:
    """Options for compiling a grammar.

    Attributes
    ----------
    start : str
        Start rule of a Lark grammar (default ``"start"``).
    limits : Limits
        Resource limits (see :class:`Limits`).
    """

    start: str = "start"
    limits: Limits = field(default_factory=Limits)
