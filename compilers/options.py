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
    max_token_table_bytes : int
        Memory of the token tables built for one compiled grammar, in bytes (default
        2 GiB; a table costs about ``vocab_size / 4`` bytes per lexer state reached).
    max_parse_table_cells : int
        Size of the LR table, parser states times terminals (default 20,000,000, about
        80 MB of int32 offsets).
    max_nesting_depth : int
        Nesting of a JSON Schema: arrays and objects inside one another in the document,
        and schemas compiled inside one another through ``$ref``; also groups nested in a
        user's regex (``compile_regex``, a schema's ``pattern``) (default 200).
    max_schema_nodes : int
        JSON values (objects, arrays, strings, numbers...) in one schema document
        (default 250,000).
    max_enum_size : int
        Values in one ``enum`` (default 10,000).
    max_ref_expansions : int
        ``$ref`` resolutions while compiling one schema; bounds the blow-up of references
        expanded beside other keywords or inside ``allOf`` (default 100,000).
    compile_time_budget : float
        Seconds one ``compile_*`` call may spend (default 60.0). Checked in the long loops
        (subset construction, DFA products, LR tables, schema compilation); Lark's own
        grammar loader runs unchecked, bounded by ``max_grammar_chars``.
    mask_time_budget : float
        Seconds one next-token mask computation may spend, including the lexer and token
        tables it builds on first visit (default 10.0).
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
    max_token_table_bytes: int = 2 << 30
    max_parse_table_cells: int = 20_000_000
    max_nesting_depth: int = 200
    max_schema_nodes: int = 250_000
    max_enum_size: int = 10_000
    max_ref_expansions: int = 100_000
    compile_time_budget: float = 60.0
    mask_time_budget: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            seconds = f.name.endswith("_budget")
            kind = (int, float) if seconds else int
            if not isinstance(value, kind) or isinstance(value, bool) or not value > 0:
                what = "number of seconds" if seconds else "int"
                raise ValueError(f"Limits.{f.name} must be a positive {what}, got {value!r}")


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
