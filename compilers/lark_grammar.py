"""Lark front end: Lark grammar text -> :class:`compilers.ir.Grammar`.

Lark's own loader reads the text (rules, terminals, EBNF operators, templates, priorities,
``%import common``, ``%ignore``) and expands it to BNF; this module turns the result into
the IR and converts Lark's errors into :class:`GrammarSyntaxError` with line, column and a
caret excerpt.
"""

from __future__ import annotations

import os
import re
import warnings
from copy import deepcopy
from pathlib import Path
from typing import Any

import lark
from lark import load_grammar as lark_load_grammar
from lark.exceptions import GrammarError, LarkError, UnexpectedInput, VisitError
from lark.lexer import PatternStr
from lark.load_grammar import ApplyTemplates, PackageResource, load_grammar

from compilers.budget import check_deadline, count_work
from compilers.errors import (
    GrammarEngineError,
    GrammarSyntaxError,
    LimitExceededError,
    UnsupportedFeatureError,
)
from compilers.ir import Grammar, Rule, SourceSpan, Terminal
from compilers.options import Limits
from compilers.regex import has_lazy_quantifier

__all__ = ["compile_lark"]

_RELATIVE_IMPORT = re.compile(r"(?m)^[ \t]*%import[ \t]+\.")
_LIBRARY_IMPORT = re.compile(r"(?m)^[ \t]*%import[ \t]+(\w+)")
# Lark's bundled grammars (common, lark, python, unicode): the only library imports.
_BUNDLED = frozenset(p.stem for p in (Path(lark.__file__).parent / "grammars").glob("*.lark"))
_IMPORT_HINT = ("only Lark's bundled grammars (" + ", ".join(sorted(_BUNDLED))
                + ") and files next to a grammar file can be imported")

# Lark's common.ESCAPED_STRING uses a look-behind, which no DFA can express; this pattern
# has the same matches and, like Lark's lazy original, ends at the first unescaped quote.
_EQUIVALENT_PATTERNS = {
    '".*?(?<!\\\\)(\\\\\\\\)*?"': '"(?:[^"\\\\\\n]|\\\\[^\\n])*"',
}


def _bounded_template_usage(self: Any, children: Any) -> Any:
    """Lark instantiates templates one rule at a time and never stops on a template that
    calls itself with growing arguments (``t{x}: t{y{x}} | x``); count and time each
    instantiation against the active budget (no-op outside one)."""
    where = "Lark template expansion (a template instantiating itself with growing arguments?)"
    count_work("max_rules", where)
    check_deadline(where)
    return _lark_template_usage(self, children)


# Patched on the class: the check does nothing outside an engine budget, so other users of
# Lark in the process are unaffected.
_lark_template_usage = ApplyTemplates.template_usage
ApplyTemplates.template_usage = _bounded_template_usage  # type: ignore[method-assign]


def _parse_bundled_once(text: str, name: Any, start: str = "start") -> Any:
    """Lark's ``_parse_grammar``, remembered for its bundled grammars: every
    ``%import common.X`` re-parses ``common.lark`` (about 4 ms); a copy of the first parse
    serves the later ones. The user's own grammar text is always parsed afresh."""
    if not isinstance(name, PackageResource) or start != "start":
        return _lark_parse_grammar(text, name, start)
    key = (text, str(name))
    tree = _bundled_trees.get(key)
    if tree is None:
        tree = _bundled_trees[key] = _lark_parse_grammar(text, name, start)
    return deepcopy(tree)


_bundled_trees: dict[tuple[str, str], Any] = {}
_lark_parse_grammar = lark_load_grammar._parse_grammar
# Patched in Lark's module: it changes nothing but the time taken, for any user of Lark.
lark_load_grammar._parse_grammar = _parse_bundled_once


def _locate(text: str, needle: str) -> tuple[int, int]:
    idx = text.find(needle)
    if idx < 0:
        return 0, 0
    line = text.count("\n", 0, idx) + 1
    col = idx - (text.rfind("\n", 0, idx) + 1) + 1
    return line, col


def _syntax_error(text: str, source: str, message: str, line: int = 0,
                  column: int = 0) -> GrammarSyntaxError:
    return GrammarSyntaxError(message, source=source, line=line, column=column, text=text)


def compile_lark(text: str, *, start: str = "start", source: str = "<grammar>",
                 limits: Limits | None = None) -> Grammar:
    """Compile Lark grammar text to the IR.

    Raises
    ------
    GrammarSyntaxError
        The text is not a valid Lark grammar (with line, column and excerpt where known).
    UnsupportedFeatureError
        The grammar relies on something the engine does not handle (declared terminals
        that need a post-lexer, a terminal that matches the empty string).
    LimitExceededError
        The grammar is larger than ``limits`` allow.
    """
    limits = limits or Limits()
    if not isinstance(text, str):
        raise TypeError(f"grammar text must be str, got {type(text).__name__}")
    if len(text) > limits.max_grammar_chars:
        raise LimitExceededError("max_grammar_chars", limits.max_grammar_chars, len(text),
                                 source)
    relative = _RELATIVE_IMPORT.search(text)
    if relative and not os.path.isfile(source):
        line, column = _locate(text, relative.group(0).strip())
        raise UnsupportedFeatureError(
            "a relative %import in grammar text", location=f"{source}:{line}:{column}",
            detail="files are imported only next to a grammar file named by source=; "
                   "grammar text from elsewhere can import Lark's bundled grammars only")
    for imp in _LIBRARY_IMPORT.finditer(text):
        if imp.group(1) not in _BUNDLED:
            line, column = _locate(text, imp.group(0).strip())
            raise _syntax_error(text, source, f"invalid Lark grammar: cannot %import "
                                f"{imp.group(1)!r}: {_IMPORT_HINT}", line, column)
    try:
        with warnings.catch_warnings():
            # ``re`` warns about some character classes ("possible set union"); the
            # meaning is settled, and a warning must not escape as an error.
            warnings.simplefilter("ignore", FutureWarning)
            lark_grammar, _ = load_grammar(text, source, None, False)
            terms, rules, ignore = lark_grammar.compile([start], set())
    except VisitError as e:  # raised inside a callback: ours (a limit) or Lark's
        if isinstance(e.orig_exc, GrammarEngineError):
            raise e.orig_exc from None
        raise _syntax_error(text, source, f"invalid Lark grammar: {e.orig_exc}") from None
    except UnexpectedInput as e:
        msg = str(e).split("\n", 1)[0]
        raise _syntax_error(text, source, f"invalid Lark grammar: {msg}", e.line,
                            e.column) from None
    except GrammarError as e:
        msg = str(e).strip()
        inner = e.__context__
        line = getattr(inner, "line", 0) or 0
        column = getattr(inner, "column", 0) or 0
        if not line:
            m = re.search(r"'([^']+)'", msg) or re.search(r"line (\d+)", msg)
            if m and not m.group(1).isdigit():
                line, column = _locate(text, m.group(1))
        raise _syntax_error(text, source, f"invalid Lark grammar: {msg}", line,
                            column) from None
    except (LarkError, KeyError, ValueError) as e:
        raise _syntax_error(text, source, f"invalid Lark grammar: {e}") from None
    except RecursionError:
        raise
    except (AssertionError, OSError, RuntimeError):
        # Lark's loader found no grammar to %import (it probes the working directory
        # before giving up); one message either way, so nothing about files leaks out.
        raise _syntax_error(text, source, f"invalid Lark grammar: cannot %import it: "
                            f"{_IMPORT_HINT}") from None
    except GrammarEngineError:
        raise
    except Exception as e:
        # Lark's loader failing in its own error reporting (a TypeError while it words
        # the message, seen under fuzzing): still an invalid grammar.
        raise _syntax_error(text, source, f"invalid Lark grammar (Lark's loader failed: "
                            f"{type(e).__name__}: {e})") from None

    if len(rules) > limits.max_rules:
        raise LimitExceededError("max_rules", limits.max_rules, len(rules), source)

    ignored = set(ignore)
    terminals: list[Terminal] = []
    for t in terms:
        regexp = t.pattern.to_regexp()
        is_literal = isinstance(t.pattern, PatternStr)
        needle = f'"{t.pattern.value}"' if is_literal else f"/{t.pattern.value}/"
        line, column = _locate(text, needle)
        pattern = _EQUIVALENT_PATTERNS.get(regexp, regexp)
        try:
            lazy = pattern == regexp and has_lazy_quantifier(pattern)
        except GrammarSyntaxError as e:
            raise _syntax_error(text, source, f"terminal {t.name}: {e.message}", line,
                                column) from None
        terminals.append(Terminal(
            name=t.name, pattern=pattern, is_literal=is_literal, priority=t.priority,
            lazy=lazy, ignored=t.name in ignored,
            span=SourceSpan(source=source, line=line, column=column),
        ))
    known = {t.name for t in terminals}
    out_rules: list[Rule] = []
    for r in rules:
        rhs = tuple(s.name for s in r.expansion)
        for s in r.expansion:
            if s.is_term and s.name not in known:
                line, column = _locate(text, s.name)
                raise UnsupportedFeatureError(
                    f"terminal {s.name} has no pattern (%declare needs a post-lexer)",
                    location=f"{source}:{line}:{column}",
                )
        out_rules.append(Rule(lhs=r.origin.name, rhs=rhs, span=SourceSpan(source=source)))
    if not any(r.lhs == start for r in out_rules):
        raise _syntax_error(text, source, f"start rule {start!r} is not defined")
    return Grammar(terminals=tuple(terminals), rules=tuple(out_rules), start=start,
                   source=source)
