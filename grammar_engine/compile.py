"""Public compile functions: grammar text or regex + vocabulary -> CompiledGrammar.

Results are cached per process by (kind, source, options, vocabulary fingerprint), so a
server compiling the same grammar for many requests pays once.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from compilers.budget import time_budget
from compilers.compiled import CompiledGrammar, build_compiled_grammar
from compilers.errors import GrammarEngineError, SchemaError
from compilers.json_schema import (
    JsonSchemaOptions,
    Resolver,
    compile_json_schema_ir,
    load_schema,
)
from compilers.json_schema.guards import metaschema_error
from compilers.lark_grammar import compile_lark
from compilers.options import CompileOptions, Limits
from compilers.regex_grammar import compile_regex_grammar
from compilers.vocab import Vocabulary

__all__ = [
    "clear_compile_cache",
    "compile_grammar",
    "compile_json_schema",
    "compile_regex",
    "precompute",
]

_CACHE_SIZE = 128
_cache: OrderedDict[tuple[Any, ...], CompiledGrammar] = OrderedDict()
_cache_lock = threading.Lock()
# One lock per key being compiled, so that threads asking for the same grammar at once
# compile it once (the others wait for the result) while different keys run in parallel.
_building: dict[tuple[Any, ...], threading.Lock] = {}


def _vocab(vocab: Any) -> Vocabulary:
    return vocab if isinstance(vocab, Vocabulary) else Vocabulary.load(vocab)


def _budgeted(limits: Limits, build: Callable[[], CompiledGrammar]) -> CompiledGrammar:
    """Run ``build`` under the compile time budget and the ``$ref`` expansion cap."""
    with time_budget("compile_time_budget", limits.compile_time_budget,
                     caps={"max_ref_expansions": limits.max_ref_expansions,
                           "max_rules": limits.max_rules}):
        return build()


def _cached(key: tuple[Any, ...], build: Callable[[], CompiledGrammar]) -> CompiledGrammar:
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
        key_lock = _building.setdefault(key, threading.Lock())
    with key_lock:
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit
        try:
            compiled = build()
        except BaseException:
            with _cache_lock:
                _building.pop(key, None)
            raise
        with _cache_lock:
            _cache[key] = compiled
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
            _building.pop(key, None)
    return compiled


def clear_compile_cache() -> None:
    """Forget every cached compiled grammar."""
    with _cache_lock:
        _cache.clear()


def compile_grammar(grammar: str, vocab: Any, *, start: str = "start",
                    limits: Limits | None = None, source: str = "<grammar>",
                    cache: bool = True, eager_tables: bool = True) -> CompiledGrammar:
    """Compile Lark grammar text for a vocabulary.

    Parameters
    ----------
    grammar : str
        Lark grammar text.
    vocab : Vocabulary, tokenizer, or path to a tokenizer folder / tokenizer.json
    start : str
        Start rule.
    limits : Limits, optional
    source : str
        Name used in error messages (a file name).
    cache : bool
        Reuse an identical earlier compilation in this process.
    eager_tables : bool
        Do now some of what the first masks would do (default True): build the token
        tables of the lexemes' start states that the first 64 parser configurations
        reach and of the states one byte into those lexemes, and compute the first 16
        configurations' masks at those states, within about 15 ms. False leaves every
        table and mask to the first matcher that needs it; :func:`precompute` builds all
        the tables it can reach.

    Raises
    ------
    GrammarSyntaxError
        The grammar text is malformed (line, column, caret excerpt).
    UnsupportedFeatureError, LimitExceededError, VocabularyError
    """
    v = _vocab(vocab)
    options = CompileOptions(start=start, limits=limits or Limits())

    def build() -> CompiledGrammar:
        ir = compile_lark(grammar, start=start, source=source, limits=options.limits)
        return build_compiled_grammar(ir, v, options, kind="lark")

    if not cache:
        compiled = _budgeted(options.limits, build)
    else:
        compiled = _cached(("lark", grammar, options, v.fingerprint),
                           lambda: _budgeted(options.limits, build))
    if eager_tables:
        from grammar_engine.runtime import runtime_for

        runtime_for(compiled).prepare()
    return compiled


def compile_regex(pattern: str, vocab: Any, *, limits: Limits | None = None,
                  cache: bool = True) -> CompiledGrammar:
    """Compile a Python ``re`` pattern; the whole output must match it.

    Raises
    ------
    GrammarSyntaxError
        The pattern is malformed (with its column).
    UnsupportedFeatureError
        Look-around, back-references, ``\\b`` and other non-regular constructs.
    LimitExceededError, VocabularyError
    """
    v = _vocab(vocab)
    options = CompileOptions(limits=limits or Limits())

    def build() -> CompiledGrammar:
        ir = compile_regex_grammar(pattern, limits=options.limits)
        return build_compiled_grammar(ir, v, options, kind="regex")

    if not cache:
        return _budgeted(options.limits, build)
    return _cached(("regex", pattern, options, v.fingerprint),
                   lambda: _budgeted(options.limits, build))


def compile_json_schema(schema: Any, vocab: Any, *, limits: Limits | None = None,
                        cache: bool = True, resolver: Resolver | None = None,
                        **options: Any) -> CompiledGrammar:
    """Compile a JSON Schema so that every complete output validates against it.

    Parameters
    ----------
    schema : dict, bool, JSON text, path to a .json file, Pydantic model, dataclass or
        TypedDict
    vocab : Vocabulary, tokenizer, or path to a tokenizer folder / tokenizer.json
    limits : Limits, optional
    cache : bool
        Reuse an identical earlier compilation in this process (not with a resolver).
    resolver : mapping or function from absolute URI to schema, optional
        Retrieves the documents of remote ``$ref``s (``http://...``, ``file:...``,
        relative to ``$id``); without one, remote references raise
        ``UnsupportedFeatureError``. Nothing is fetched by the engine itself.
    **options
        Fields of :class:`compilers.json_schema.JsonSchemaOptions`: ``whitespace``
        (``"flexible"``, ``"compact"`` or a regex), ``max_whitespace``,
        ``property_order`` (``"schema"`` or ``"any"``), ``max_any_order_properties``,
        ``additional_properties_default``, ``max_string_length``, ``max_array_items``,
        ``indent`` (lay out as ``json.dumps(doc, indent=indent)``), ``max_indent_depth``,
        ``lenient``.

    Raises
    ------
    SchemaError
        The schema is invalid; the message carries the JSON pointer.
    UnsupportedFeatureError
        A keyword the engine cannot compile exactly (keyword and pointer).
    LimitExceededError, VocabularyError
    """
    v = _vocab(vocab)
    try:
        opts = JsonSchemaOptions(**options)
    except TypeError as e:
        names = ", ".join(f.name for f in JsonSchemaOptions.__dataclass_fields__.values())
        raise TypeError(f"{e}; accepted options: {names}") from None
    compile_options = CompileOptions(limits=limits or Limits())
    parsed, source = load_schema(schema, compile_options.limits)

    def build() -> CompiledGrammar:
        try:
            ir = compile_json_schema_ir(parsed, options=opts, limits=compile_options.limits,
                                        source=source, resolver=resolver)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
            if isinstance(e, GrammarEngineError):
                raise
            # A malformed keyword the compiler did not check: report it against the
            # metaschema; a valid schema that still fails is a bug, raised as it is.
            error = metaschema_error(parsed, source)
            if error is None:
                raise
            raise error from e
        return build_compiled_grammar(ir, v, compile_options, kind="json_schema")

    if not cache or resolver is not None:
        return _budgeted(compile_options.limits, build)
    key = ("json_schema", _schema_key(parsed), opts, compile_options, v.fingerprint)
    return _cached(key, lambda: _budgeted(compile_options.limits, build))


def _schema_key(parsed: Any) -> str:
    """Canonical text of a schema for the cache key."""
    try:
        return json.dumps(parsed, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError) as e:  # keys of mixed types, non-JSON values, cycles
        raise SchemaError(f"the schema is not a JSON document: {e}") from None


def precompute(compiled: CompiledGrammar, *, max_configurations: int = 2000) -> int:
    """Build the grammar's token tables now instead of on first visit.

    Trades compile time for the first pass: afterwards every matcher's first masks cost
    what later ones do. Tables the exploration misses are still built when first needed.
    Returns the number of tables built.
    """
    from grammar_engine.runtime import runtime_for

    return runtime_for(compiled).precompute(max_configurations=max_configurations)
