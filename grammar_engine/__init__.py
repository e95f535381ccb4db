"""grammar-engine: structured generation for language models.

Compile a Lark grammar or a regex for a tokenizer's vocabulary, then let a
:class:`Matcher` tell, at every decoding step, which tokens keep the output in the
language (as an int32 bitmask, the layout of xgrammar, llguidance and outlines-core).
"""

from compilers.compiled import CompiledGrammar
from compilers.errors import (
    GrammarEngineError,
    GrammarSyntaxError,
    LenientRelaxationWarning,
    LimitExceededError,
    SchemaError,
    TerminalConflictError,
    UnsupportedFeatureError,
    VocabularyError,
)
from compilers.options import CompileOptions, Limits
from compilers.vocab import Vocabulary
from grammar_engine.bitmask import allocate_token_bitmask, apply_token_bitmask_inplace
from grammar_engine.compile import (
    clear_compile_cache,
    compile_grammar,
    compile_json_schema,
    compile_regex,
    precompute,
)
from grammar_engine.matcher import Matcher
from grammar_engine.warm_up import warm_up

__version__ = "0.1.0"

__all__ = [
    # compile
    "CompileOptions",
    "CompiledGrammar",
    # exceptions
    "GrammarEngineError",
    "GrammarSyntaxError",
    "LenientRelaxationWarning",
    "LimitExceededError",
    "Limits",
    # runtime
    "Matcher",
    "SchemaError",
    "TerminalConflictError",
    "UnsupportedFeatureError",
    "Vocabulary",
    "VocabularyError",
    "__version__",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "clear_compile_cache",
    "compile_grammar",
    "compile_json_schema",
    "compile_regex",
    "precompute",
    "warm_up",
]
