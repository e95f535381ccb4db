"""Regex front end: one Python ``re`` pattern -> a one-terminal :class:`Grammar`.

The whole output must match the pattern (``fullmatch``); ``^``/``$`` at its ends are
allowed and change nothing.
"""

from __future__ import annotations

from compilers.errors import LimitExceededError
from compilers.ir import Grammar, Rule, SourceSpan, Terminal
from compilers.options import Limits
from compilers.regex import compile_regex_nfa

__all__ = ["REGEX_TERMINAL", "compile_regex_grammar"]

REGEX_TERMINAL = "REGEX"


def compile_regex_grammar(pattern: str, *, limits: Limits | None = None) -> Grammar:
    """Wrap ``pattern`` as ``start: REGEX``.

    Raises
    ------
    GrammarSyntaxError, UnsupportedFeatureError, LimitExceededError
        As :func:`compilers.regex.compile_regex_nfa`.
    """
    limits = limits or Limits()
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be str, got {type(pattern).__name__}")
    if len(pattern) > limits.max_grammar_chars:
        raise LimitExceededError("max_grammar_chars", limits.max_grammar_chars, len(pattern),
                                 "<regex>")
    # Parse now so that syntax errors surface with the pattern's own position.
    compile_regex_nfa(pattern, max_states=limits.max_nfa_states, where="<regex>",
                      max_depth=limits.max_nesting_depth)
    term = Terminal(name=REGEX_TERMINAL, pattern=pattern, span=SourceSpan(source="<regex>"))
    return Grammar(terminals=(term,), rules=(Rule("start", (REGEX_TERMINAL,)),), start="start",
                   source="<regex>")
