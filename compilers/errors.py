"""Error types raised anywhere in the pipeline.

They live in the lowest layer that raises them (``compilers``) and are re-exported by
``grammar_engine``. Every error derives from :class:`GrammarEngineError`; input errors also
derive from :class:`ValueError`.
"""

from __future__ import annotations

__all__ = [
    "GrammarEngineError",
    "GrammarSyntaxError",
    "LenientRelaxationWarning",
    "LimitExceededError",
    "SchemaError",
    "TerminalConflictError",
    "UnsupportedFeatureError",
    "VocabularyError",
    "excerpt_with_caret",
]


class GrammarEngineError(Exception):
    """Root of every error the engine raises."""


def excerpt_with_caret(text: str, line: int, column: int, width: int = 60) -> str:
    """Return the source line at ``line`` (1-based) with a caret under ``column`` (1-based)."""
    lines = text.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return ""
    src = lines[line - 1]
    start = max(0, column - 1 - width // 2)
    snippet = src[start : start + width]
    caret = " " * (column - 1 - start) + "^"
    return f"{snippet}\n{caret}"


class GrammarSyntaxError(GrammarEngineError, ValueError):
    """Grammar or regex text is malformed.

    Attributes
    ----------
    source : str
        Name of the source ("<grammar>", a file name, "<regex>").
    line, column : int
        1-based position of the problem (0 when unknown).
    excerpt : str
        The offending line with a caret under the column.
    """

    def __init__(
        self, message: str, *, source: str = "<grammar>", line: int = 0, column: int = 0,
        text: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        self.excerpt = excerpt_with_caret(text, line, column) if text and line else ""
        where = f"{source}:{line}:{column}" if line else source
        full = f"{message}\n  at {where}"
        if self.excerpt:
            full += "\n" + "\n".join("    " + x for x in self.excerpt.splitlines())
        super().__init__(full)


class SchemaError(GrammarEngineError, ValueError):
    """A JSON Schema is invalid; ``pointer`` is the JSON pointer of the bad node."""

    def __init__(self, message: str, *, pointer: str = "#", source: str = "") -> None:
        self.message = message
        self.pointer = pointer
        self.source = source
        suffix = f"  ({source})" if source else ""
        super().__init__(f"{message}\n  at {pointer}{suffix}")


class UnsupportedFeatureError(GrammarEngineError, ValueError):
    """The input is valid but uses something the engine does not handle.

    ``feature`` names the keyword or construct, ``location`` says where (a JSON pointer,
    ``line:column`` or a regex offset).
    """

    def __init__(self, feature: str, *, location: str = "", detail: str = "") -> None:
        self.feature = feature
        self.location = location
        self.detail = detail
        msg = f"unsupported: {feature}"
        if detail:
            msg += f" ({detail})"
        if location:
            msg += f"\n  at {location}"
        msg += "\n  see docs/support.md for what is supported"
        super().__init__(msg)


class TerminalConflictError(GrammarEngineError, ValueError):
    """Strict mode found two terminals that match a common string (``example``)."""

    def __init__(self, first: str, second: str, example: str) -> None:
        self.first = first
        self.second = second
        self.example = example
        super().__init__(
            f"terminals {first} and {second} both match {example!r}\n"
            f"  {example}\n  {'^' * max(1, len(example))}"
        )


class VocabularyError(GrammarEngineError, ValueError):
    """The tokenizer cannot be read, or cannot spell what the grammar requires."""


class LimitExceededError(GrammarEngineError):
    """Work went past one of the configured :class:`~compilers.options.Limits`.

    ``limit`` names the limit, ``value`` is its configured value and ``observed`` what the
    work reached; ``where`` says where it was hit.
    """

    def __init__(self, limit: str, value: object, observed: object, where: str = "") -> None:
        self.limit = limit
        self.value = value
        self.observed = observed
        self.where = where
        msg = f"limit {limit}={value} exceeded (reached {observed})"
        if where:
            msg += f"\n  at {where}"
        super().__init__(msg)


class LenientRelaxationWarning(UserWarning):
    """``lenient=True`` relaxed a keyword the engine cannot compile exactly; the compiled
    grammar's notes list every relaxation."""
