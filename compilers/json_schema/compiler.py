"""JSON Schema -> grammar IR (terminals as exact byte automata, rules for structure).

Strings, numbers and keys become terminals built by automaton operations (JSON-string
encoding of regexes, intersections for combined constraints, differences so that the key
terminals of one object never overlap); objects and arrays become rules. Every keyword is
either compiled exactly, compiled to a documented narrower language, or refused with
:class:`UnsupportedFeatureError` naming it and its JSON pointer -- never dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import unquote, urljoin

import jsonschema
import referencing
import referencing.jsonschema

from compilers.automata import (
    ByteDFA,
    build_byte_dfa,
    finite_future_states,
    intersect_dfas,
    json_literal_dfa,
    load_cached_dfa,
    quoted_repeat_dfa,
    seed_digest,
    store_cached_dfa,
    subtract_dfas,
    subtract_json_literals,
)
from compilers.budget import check_deadline, count_work
from compilers.errors import (
    LenientRelaxationWarning,
    LimitExceededError,
    SchemaError,
    UnsupportedFeatureError,
)
from compilers.ir import Grammar, Rule, SourceSpan, Terminal
from compilers.json_schema.conditionals import desugar
from compilers.json_schema.ecma_regex import ecma_search_to_fullmatch
from compilers.json_schema.formats import format_regex
from compilers.json_schema.guards import check_schema_size
from compilers.json_schema.keywords import (
    ANNOTATIONS,
    CONTENT_KEYWORDS,
    JSON_TYPES,
    KNOWN,
    LENGTH_MARK,
    NUMBER_KEYS,
    STRING_KEYS,
    UNSUPPORTED_REFS,
    is_schema,
    json_equal,
)
from compilers.json_schema.merge import merge_schemas
from compilers.json_schema.negation import negate, plain
from compilers.json_schema.numbers import integer_dfa, number_dfa
from compilers.json_schema.relax import MAX_RELAXATIONS, relax
from compilers.json_schema.safe_regex import linear_time_validator, safe_fullmatch
from compilers.json_schema.unevaluated import LIFTED, apply_unevaluated, evaluated_of, lift
from compilers.json_schema.unique_items import (
    MAX_UNIQUE_STATES,
    MAX_UNIQUE_VALUES,
    finite_candidates,
    value_key,
)
from compilers.memo import BytesMemo, byte_bounded_cache
from compilers.options import Limits
from compilers.regex import compile_regex_nfa

__all__ = ["JsonSchemaOptions", "Resolver", "compile_json_schema_ir"]

Resolver = Mapping[str, Any] | Callable[[str], Any]
ONEOF_OVERLAP = "oneOf whose branches overlap"
MAX_PATTERN_REGIONS = 64  # key terminals one object's overlapping patterns may need



@dataclass(frozen=True)
class JsonSchemaOptions:
    """How a JSON Schema is turned into a grammar.

    Attributes
    ----------
    whitespace : "flexible", "compact" or a regex
        ``flexible`` (default): JSON whitespace around punctuation, at most
        ``max_whitespace`` characters per run; ``compact``: none; otherwise a Python regex
        for one run (it must not match the empty string).
    max_whitespace : int
        Longest whitespace run with ``flexible`` (default 16).
    property_order : "schema" or "any"
        ``schema`` (default): declared properties appear in the order the schema lists
        them; ``any``: in any order, each at most once (tracked exactly for objects with
        at most ``max_any_order_properties`` declared properties; larger objects fall back
        to schema order, recorded in the grammar's notes).
    max_any_order_properties : int
        Largest object compiled in any order (the grammar grows as 2**n; default 8).
    additional_properties_default : bool
        What a missing ``additionalProperties`` means (default True, as in the spec).
    max_string_length : int
        Largest ``maxLength``/``minLength`` compiled exactly; longer bounds raise.
    max_array_items : int
        Largest item count that ``minItems``/``maxItems``/``prefixItems`` may unroll.
    indent : int, str or None
        Lay documents out as ``json.dumps(doc, indent=indent)`` does: a newline and the
        indent repeated once per nesting level before each item and member and before the
        closing bracket of a non-empty container, ``", "`` → ``","``, ``": "`` after keys,
        empty containers as ``[]`` and ``{}``, no other whitespace. Replaces
        ``whitespace`` (which must stay "flexible"). Values nested deeper than
        ``max_indent_depth`` levels are not generated (recorded in the grammar's notes).
    max_indent_depth : int
        Deepest nesting level spelled out with ``indent`` (default 16).
    lenient : bool
        Relax what cannot be compiled exactly (``oneOf`` as ``anyOf``, other keywords
        dropped) with a warning, instead of raising; the grammar's notes list each
        relaxation. Outputs may then fail validation where a keyword was relaxed.
    """

    whitespace: str = "flexible"
    max_whitespace: int = 16
    property_order: Literal["schema", "any"] = "schema"
    max_any_order_properties: int = 8
    additional_properties_default: bool = True
    max_string_length: int = 1000
    max_array_items: int = 1000
    indent: int | str | None = None
    max_indent_depth: int = 16
    lenient: bool = False

    def __post_init__(self) -> None:
        if self.property_order not in ("schema", "any"):
            raise ValueError(f"property_order must be 'schema' or 'any', got "
                             f"{self.property_order!r}")
        if self.indent is not None:
            if self.whitespace != "flexible":
                raise ValueError("indent and whitespace exclude each other: indent fixes "
                                 "the whitespace")
            if isinstance(self.indent, bool) or not isinstance(self.indent, (int, str)) or \
                    (isinstance(self.indent, int) and self.indent < 0) or \
                    (isinstance(self.indent, str) and re.fullmatch(r"[ \t]*", self.indent)
                     is None):
                raise ValueError(f"indent must be a non-negative int or a string of spaces "
                                 f"and tabs, got {self.indent!r}")
        for name in ("max_whitespace", "max_string_length", "max_array_items",
                     "max_any_order_properties", "max_indent_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")


@dataclass
class _Ctx:
    pointer: str


class _Nested:
    """``with compiler.nested():`` one nesting level down (``indent`` spells it out)."""

    def __init__(self, compiler: _Compiler) -> None:
        self.compiler = compiler

    def __enter__(self) -> None:
        self.compiler._level += 1

    def __exit__(self, *exc: object) -> None:
        self.compiler._level -= 1


_NON_NAME = re.compile(r"[^a-z0-9_]")
_NT_TAGS: dict[str, str] = {}  # nonterminal name hint -> its tag (bounded)
_PUNCT_NAMES = {"{": "LBRACE", "}": "RBRACE", "[": "LSQB", "]": "RSQB", ",": "COMMA",
                ":": "COLON"}


class _Compiler:
    def __init__(self, root: Any, options: JsonSchemaOptions, limits: Limits,
                 source: str, resolver: Resolver | None = None) -> None:
        self.root = root
        self.resolver = resolver
        self._documents: dict[str, Any] = {}
        self._registry: Any = referencing.Registry()
        root_id = root.get("$id", root.get("id")) if isinstance(root, dict) else None
        self.base_uri = root_id.split("#", 1)[0] if isinstance(root_id, str) else ""
        self.opt = options
        self.limits = limits
        self.source = source
        self.rules: list[Rule] = []
        self._rule_set: set[tuple[str, tuple[str, ...]]] = set()
        self.terminals: dict[str, Terminal] = {}
        self._term_by_key: dict[object, str] = {}
        self._term_by_sig: dict[bytes, str] = {}
        self._unique_terms: dict[str, str] = {}  # string terminal -> its unique-item copy
        self._part_terms: dict[tuple[str, str], str] = {}  # (terminal, role) -> item part
        self._memo: dict[tuple[object, ...], str] = {}
        self._punct: dict[str, str] = {}  # punctuation character -> its terminal
        self._span = SourceSpan(source)
        self._keep: list[Any] = []
        self._ref_depth = 0
        self._depth = 0
        self._original: set[int] = set()
        self._remember_nodes(root)
        declared = root.get("$schema", "") if isinstance(root, dict) else ""
        self._id_keyword = "id" if isinstance(declared, str) and "draft-04" in declared \
            else "$id"
        self._legacy_ref = isinstance(declared, str) and "draft-0" in declared
        self._resource_uri: dict[int, str] = {}  # node -> absolute URI of its own $id
        self._node_ptr: dict[int, str] = {}  # $ref targets merged into allOf -> pointer
        self._register_resources(root, self.base_uri)
        self._n = 0
        self.notes: list[str] = []
        declared = root.get("$schema", "") if isinstance(root, dict) else ""
        self._content_is_annotation = isinstance(declared, str) and (
            "2019-09" in declared or "2020-12" in declared)
        self._validator_cls = linear_time_validator(jsonschema.validators.validator_for(
            root if isinstance(root, dict) else {}, default=jsonschema.Draft202012Validator))
        if isinstance(root, dict) and ("$id" in root or "id" in root):
            try:  # a malformed root id fails here rather than in a later sub-validator
                self._validator_cls(root)
            except Exception as e:
                raise SchemaError(f"cannot load schema: {e}") from None
        indent = options.indent
        self.indent = " " * indent if isinstance(indent, int) else indent
        self._level = 0  # nesting level of the value being compiled (for ``indent``)
        self._too_deep_noted = False
        ws = options.whitespace
        if ws == "flexible":
            self.ws = f"[ \\t\\n\\r]{{0,{options.max_whitespace}}}"
        elif ws == "compact":
            self.ws = ""
        else:
            if re.fullmatch(ws, ""):
                raise SchemaError("the whitespace pattern must not match the empty string",
                                  pointer="(options)")
            self.ws = f"(?:{ws})?"

    # -- grammar building helpers -------------------------------------------------------
    def new_nt(self, hint: str) -> str:
        self._n += 1
        tag = _NT_TAGS.get(hint)
        if tag is None:
            tag = _NON_NAME.sub("_", hint.lower())[:24]
            if len(_NT_TAGS) < 4096:
                _NT_TAGS[hint] = tag
        return f"n{self._n}_{tag}"

    def rule(self, lhs: str, *rhs: str) -> None:
        if (lhs, rhs) in self._rule_set:
            return
        self._rule_set.add((lhs, rhs))
        if len(self.rules) >= self.limits.max_rules:
            raise LimitExceededError("max_rules", self.limits.max_rules, len(self.rules) + 1,
                                     "JSON Schema grammar")
        self.rules.append(Rule(lhs, rhs, self._span))

    def term(self, key: object, name_hint: str, describe: str,
             build: Callable[[], ByteDFA], literal: bool = False,
             exclude: tuple[ByteDFA, ...] = ()) -> str:
        """The terminal of the language ``build()`` makes, minus the strings the automata
        of ``exclude`` accept (kept apart: ``Terminal.exclude``); one per ``key``, and one
        per language."""
        name = self._term_by_key.get(key)
        if name is not None:
            return name
        dfa = build()
        exclude = tuple(d for d in exclude if not d.is_empty)
        if dfa.is_empty:
            name = "NEVER"
            if name not in self.terminals:
                self.terminals[name] = Terminal(name, "(?!)", dfa=dfa)
            self._term_by_key[key] = name
            return name
        # Two terminals with one language would split readings between branches.
        sig = dfa.signature
        if exclude:  # the base's signature and the excluded ones', in any order
            sig = hashlib.blake2b(b"minus\x00" + sig + b"".join(
                sorted({d.signature for d in exclude})), digest_size=16).digest()
        name = self._term_by_sig.get(sig)
        if name is not None:
            self._term_by_key[key] = name
            return name
        name = f"{name_hint}_{len(self.terminals)}"
        self._term_by_sig[sig] = name
        self.terminals[name] = Terminal(name, describe, is_literal=literal, dfa=dfa,
                                        span=self._span, exclude=exclude)
        self._term_by_key[key] = name
        return name

    def regex_dfa(self, pattern: str, where: str, json_string: bool = False,
                  quoted: bool = True) -> ByteDFA:
        return _cached_regex_dfa(pattern, json_string, quoted, self.limits.max_nfa_states,
                                 self.limits.max_dfa_states, where)

    def key_dfa(self, name: str) -> ByteDFA:
        """Every JSON spelling of the property name ``name``."""
        return _cached_literal_dfa(name, self.limits.max_dfa_states)

    def punct(self, char: str) -> str:
        name = self._punct.get(char)
        if name is None:
            ws = self.ws
            c = re.escape(char)
            pattern = {"{": f"{c}{ws}", "[": f"{c}{ws}", "}": f"{ws}{c}", "]": f"{ws}{c}",
                       ",": f"{ws}{c}{ws}", ":": f"{ws}{c}{ws}"}[char]
            name = self._punct[char] = self.term(
                ("punct", char), _PUNCT_NAMES[char], pattern,
                lambda: self.regex_dfa(pattern, f"punctuation {char!r}"), True)
        return name

    # Containers are built from these five: with ``indent`` each is one exact terminal
    # whose whitespace depends on the nesting level; otherwise they are ``punct``s.
    def open_bracket(self, char: str) -> str:
        """``[`` or ``{`` opening a container that has at least one item or member."""
        if self.indent is None:
            return self.punct(char)
        return self.layout_term(f"{char}\n{self.indent * (self._level + 1)}")

    def close_bracket(self, char: str) -> str:
        """``]`` or ``}`` closing a container that has at least one item or member."""
        if self.indent is None:
            return self.punct(char)
        return self.layout_term(f"\n{self.indent * self._level}{char}")

    def empty_container(self, pair: str) -> tuple[str, ...]:
        """``[]`` or ``{}``: the symbols of an empty container."""
        if self.indent is None:
            return self.punct(pair[0]), self.punct(pair[1])
        return (self.layout_term(pair),)

    def comma(self) -> str:
        if self.indent is None:
            return self.punct(",")
        return self.layout_term(f",\n{self.indent * (self._level + 1)}")

    def colon(self) -> str:
        return self.punct(":") if self.indent is None else self.layout_term(": ")

    def layout_term(self, text: str) -> str:
        hint = _PUNCT_NAMES[text.strip(" \t\n")[0]]
        return self.term(("layout", text), hint, json.dumps(text),
                         lambda: self.regex_dfa(re.escape(text), f"layout {text!r}"), True)

    def nested(self) -> _Nested:
        """Context in which the items or member values of a container are compiled."""
        return _Nested(self)

    def literal_term(self, text: str) -> str:
        return self.term(("lit", text), text.upper(), text,
                         lambda: self.regex_dfa(re.escape(text), text), True)

    def string_term(self, regex: str, where: str, hint: str = "STRING") -> str:
        """Terminal for JSON strings whose decoded value fully matches ``regex``."""
        return self.term(("str", regex), hint, f"json string matching {regex}",
                         lambda: self.regex_dfa(regex, where, json_string=True))

    # -- schema access --------------------------------------------------------------------
    def resolve_ref(self, ref: str, ptr: str) -> tuple[Any, str]:
        """Target of ``ref`` met at ``ptr`` and the target's pointer. Pointers of nodes in
        retrieved documents start with the document's URI (``uri#/path``), so references
        inside them resolve in their own document."""
        count_work("max_ref_expansions", f"{ptr}/$ref")
        if not isinstance(ref, str):
            raise SchemaError("'$ref' must be a string", pointer=f"{ptr}/$ref")
        doc_uri = ptr.split("#", 1)[0]
        target_uri, _, fragment = ref.partition("#")
        doc: Any = self.root
        if target_uri or doc_uri:
            base = doc_uri or self.base_uri
            absolute = urljoin(base, target_uri) if target_uri else base
            if absolute and absolute != self.base_uri:
                doc = self.retrieve(absolute, ref, ptr)
                doc_uri = absolute
            else:
                doc_uri = ""
        prefix = doc_uri
        if fragment and not fragment.startswith("/"):
            target = self._find_anchor(doc, fragment)
            if target is None:
                raise SchemaError(f"$ref {ref!r}: no $anchor {fragment!r} in the schema",
                                  pointer=f"{ptr}/$ref")
            return target, f"{prefix}#{fragment}"
        node: Any = doc
        for part in fragment.split("/")[1:]:
            part = unquote(part.replace("~1", "/").replace("~0", "~"))
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"$ref {ref!r} points to nothing", pointer=f"{ptr}/$ref")
        return node, f"{prefix}#{fragment}"

    def retrieve(self, uri: str, ref: str, ptr: str) -> Any:
        """The document at ``uri``, from the caller's resolver (remote references are
        refused without one)."""
        hit = self._documents.get(uri)
        if hit is not None:
            return hit
        if self.resolver is None:
            raise UnsupportedFeatureError(
                f"remote $ref {ref!r} (pass resolver= to compile_json_schema: a mapping or "
                "function from URI to schema)", location=f"{ptr}/$ref")
        try:
            doc = self.resolver(uri) if callable(self.resolver) else self.resolver[uri]
        except Exception as e:
            raise SchemaError(f"$ref {ref!r}: the resolver could not retrieve {uri!r} "
                              f"({type(e).__name__}: {e})", pointer=f"{ptr}/$ref") from None
        if not is_schema(doc):
            raise SchemaError(f"$ref {ref!r}: {uri!r} is not a schema", pointer=f"{ptr}/$ref")
        check_schema_size(doc, self.limits, uri)
        self._documents[uri] = doc
        self._registry = self._registry.with_resource(
            uri, referencing.Resource.from_contents(
                doc, default_specification=referencing.jsonschema.DRAFT202012))
        self._remember_nodes(doc)  # its nodes are keyed by identity, like the root's
        self._register_resources(doc, uri)
        return doc

    def _register_resources(self, document: Any, base: str) -> None:
        """Record the resources embedded in ``document`` (subschemas with an absolute or
        relative ``$id`` of their own) as documents under their absolute URI, so that
        references to them resolve here, not through the resolver; ``value`` resolves the
        references inside one against its URI."""
        stack: list[tuple[Any, str, bool]] = [(document, base, True)]
        while stack:
            node, node_base, is_top = stack.pop()
            if isinstance(node, list):
                stack.extend((v, node_base, False) for v in node)
                continue
            if not isinstance(node, dict):
                continue
            ident = node.get(self._id_keyword)
            if isinstance(ident, str) and not ident.startswith("#") and not is_top and \
                    not (self._legacy_ref and "$ref" in node):
                uri = urljoin(node_base, ident).split("#", 1)[0]
                if uri:
                    self._documents.setdefault(uri, node)
                    self._resource_uri[id(node)] = uri
                    node_base = uri
            for key, v in node.items():
                if key in _SCHEMA_MAPS and isinstance(v, dict):
                    stack.extend((sub, node_base, False) for sub in v.values())
                elif key in _SCHEMA_VALUES:
                    stack.append((v, node_base, False))

    def _remember_nodes(self, document: Any) -> None:
        """Record every object node of ``document`` as the user's (memo keyed by identity)."""
        stack = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                self._original.add(id(node))
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)

    def _find_anchor(self, node: Any, name: str, top: bool = True) -> Any:
        """The node of ``$anchor`` ``name`` in the resource ``node`` (not inside the
        resources embedded in it, which have anchors of their own)."""
        if isinstance(node, dict):
            if not top and id(node) in self._resource_uri:
                return None
            if node.get("$anchor") == name or node.get("$id") == f"#{name}" \
                    or node.get("id") == f"#{name}":
                return node
            for v in node.values():
                hit = self._find_anchor(v, name, False)
                if hit is not None:
                    return hit
        elif isinstance(node, list):
            for v in node:
                hit = self._find_anchor(v, name, False)
                if hit is not None:
                    return hit
        return None

    def check_keywords(self, schema: dict[str, Any], ptr: str) -> None:
        for k in schema:
            if k in CONTENT_KEYWORDS and not self._content_is_annotation:
                # Draft 7 and older may assert these; 2019-09+ makes them annotations.
                raise UnsupportedFeatureError(
                    f"{k} (an assertion before draft 2019-09; declare $schema 2019-09 or "
                    "2020-12 to use it as an annotation)", location=f"{ptr}/{k}")
            if k in KNOWN:
                continue
            if k in UNSUPPORTED_REFS:
                raise UnsupportedFeatureError(k, location=f"{ptr}/{k}")
            # Unknown keywords are annotations (the spec and jsonschema ignore them).

    # -- values ---------------------------------------------------------------------------
    def value(self, schema: Any, ptr: str) -> str:
        """Nonterminal for the JSON values valid against ``schema``."""
        if isinstance(schema, dict) and "$ref" in schema and \
                not (set(schema) - ANNOTATIONS - {"$ref"}):
            # A plain reference: share the target's nonterminal (this is what makes
            # recursive schemas finite).
            self._ref_depth += 1
            if self._ref_depth > 64:
                raise SchemaError("$ref chain longer than 64 (a cycle without a base case?)",
                                  pointer=ptr)
            try:
                target, tptr = self.resolve_ref(schema["$ref"], ptr)
                return self.value(target, tptr)
            finally:
                self._ref_depth -= 1
        resource = self._resource_uri.get(id(schema))
        if resource is not None and not ptr.startswith(f"{resource}#"):
            ptr = f"{resource}#"  # an embedded resource: its references resolve against it
        # Nodes of the user's documents are keyed by identity; schemas built here (merged
        # allOf branches) by their canonical JSON, so that recursion through them ends.
        # Both within their document (references resolve there), not by pointer: a node
        # met again deeper down (recursion through allOf) is the same nonterminal.
        document = ptr.split("#", 1)[0]
        key: tuple[object, ...]
        if id(schema) in self._original or not isinstance(schema, dict):
            key = (id(schema), document)
        else:
            key = ("json", json.dumps(schema, sort_keys=True, default=str), document)
        leveled = self.level_key(key)
        if leveled is None:
            return self.too_deep(ptr)
        key = leveled
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        nt = self.new_nt(ptr.rsplit("/", 1)[-1] or "root")
        self._memo[key] = nt
        self._keep.append(schema)  # keeps id(schema) unique while memoised
        self._depth += 1
        if self._depth > self.limits.max_nesting_depth:
            raise LimitExceededError("max_nesting_depth", self.limits.max_nesting_depth,
                                     self._depth, ptr)
        check_deadline(ptr)
        try:
            self._value_into(nt, schema, ptr)
        finally:
            self._depth -= 1
        return nt

    def too_deep(self, ptr: str) -> str:
        """A nonterminal with no rules, for values below ``max_indent_depth``."""
        if not self._too_deep_noted:
            self._too_deep_noted = True
            self.notes.append(f"indent: values nested deeper than max_indent_depth="
                              f"{self.opt.max_indent_depth} levels are not generated "
                              f"(first at {ptr})")
        return self.new_nt("too_deep")

    def _value_into(self, nt: str, schema: Any, ptr: str) -> None:
        if schema is True:
            self.rule(nt, self.any_value())
            return
        if schema is False:
            return  # no rule: nothing is valid
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, got "
                              f"{type(schema).__name__}", pointer=ptr)
        self.check_keywords(schema, ptr)
        schema = self.flatten(schema, ptr)
        if schema is False:
            return
        if "enum" in schema or "const" in schema:
            self.enum_into(nt, schema, ptr)
            return
        if "anyOf" in schema or "oneOf" in schema:
            self.any_of_into(nt, schema, ptr)
            return
        for t in self.types_of(schema, ptr):
            self.rule(nt, self.typed_value(t, schema, ptr))

    def flatten(self, schema: dict[str, Any], ptr: str) -> Any:
        """Resolve ``$ref`` and merge ``allOf`` into one schema (exact intersection)."""
        depth = 0
        while "$ref" in schema:
            depth += 1
            if depth > 64:
                raise SchemaError("$ref chain longer than 64 (a cycle without a base case?)",
                                  pointer=ptr)
            target, target_ptr = self.resolve_ref(schema["$ref"], ptr)
            rest = {k: v for k, v in schema.items() if k != "$ref" and k not in ANNOTATIONS}
            if not rest:
                if not isinstance(target, dict):
                    return target
                self.check_keywords(target, target_ptr)
                schema, ptr = target, target_ptr
                continue
            if isinstance(target, dict):  # flattened as a part of allOf, where it lives
                self._node_ptr[id(target)] = target_ptr
            # $ref beside other keywords (2019-09+): both apply.
            schema = lift(schema, rest, [target])
        if "__negate" in schema:
            neg = negate(schema["__negate"], ptr, self.flatten)
            rest = {k: v for k, v in schema.items() if k != "__negate"}
            schema = {"allOf": [rest, neg]} if rest else neg
            if not isinstance(schema, dict):
                return schema
        schema = desugar(schema, ptr)
        if "allOf" in schema:
            parts = schema["allOf"]
            if not isinstance(parts, list) or not parts:
                raise SchemaError("'allOf' must be a non-empty array", pointer=f"{ptr}/allOf")
            own = {k: v for k, v in schema.items() if k != "allOf"}
            merged: Any = own
            flat_parts: list[Any] = [own]
            for i, part in enumerate(parts):
                sub_ptr = self._node_ptr.get(id(part), f"{ptr}/allOf/{i}")
                if not is_schema(part):
                    raise SchemaError("allOf items must be schemas", pointer=sub_ptr)
                if isinstance(part, dict):
                    self.check_keywords(part, sub_ptr)
                    part = self.flatten(part, sub_ptr)
                flat_parts.append(part)
                merged = merge_schemas(merged, part, sub_ptr)
                if merged is False:
                    return False
            if isinstance(merged, dict):
                merged["__evaluated"] = evaluated_of(flat_parts)
            schema = merged
        return apply_unevaluated(schema) if isinstance(schema, dict) else schema

    def types_of(self, schema: dict[str, Any], ptr: str) -> list[str]:
        t = schema.get("type")
        if t is None:
            types = list(JSON_TYPES)
            types.remove("integer")  # "number" covers integers
        else:
            types = [t] if isinstance(t, str) else t
            if not isinstance(types, list) or not all(isinstance(x, str) for x in types):
                raise SchemaError("'type' must be a string or an array of strings",
                                  pointer=f"{ptr}/type")
            for x in types:
                if x not in JSON_TYPES:
                    raise SchemaError(f"unknown type {x!r}; expected one of "
                                      f"{', '.join(JSON_TYPES)}", pointer=f"{ptr}/type")
            if "number" in types and "integer" in types:
                types = [x for x in types if x != "integer"]
        for k in ("unevaluatedProperties", "unevaluatedItems"):
            if k in schema and ("object" in types or "array" in types):
                if k in ("unevaluatedProperties", "unevaluatedItems") and schema[k] is True:
                    continue
                raise UnsupportedFeatureError(k, location=f"{ptr}/{k}")
        return types

    def typed_value(self, t: str, schema: dict[str, Any], ptr: str) -> str:
        excluded = schema.get("__values_excl", [])
        if t in ("null", "boolean"):
            nt = self.new_nt(t)
            for v in ((None,) if t == "null" else (True, False)):
                if not any(x is v for x in excluded):
                    self.rule(nt, self.literal_value(v, ptr))
            return nt
        if t in ("integer", "number"):
            return self.numeric_value(t, schema, ptr)
        if t == "string":
            return self.string_value(schema, ptr)
        if any(isinstance(x, (list, dict)) for x in excluded):
            raise UnsupportedFeatureError("excluding an object or array value (not const, "
                                          "not enum)", location=ptr)
        if t == "array":
            return self.array_value(schema, ptr)
        return self.object_value(schema, ptr)

    def numeric_value(self, kind: str, schema: dict[str, Any], ptr: str) -> str:
        """Terminal for the numbers of ``kind`` ("integer" or "number") that meet the
        schema's numeric keywords, minus the excluded ones (``__number_excl``,
        ``__values_excl``)."""
        keywords = json.dumps({k: schema[k] for k in NUMBER_KEYS if k in schema},
                              sort_keys=True, default=str)
        excluded = [json.dumps({k: g[k] for k in NUMBER_KEYS | {"type"} if k in g},
                               sort_keys=True, default=str)
                    for g in schema.get("__number_excl", [])]
        excluded += [_number_literal_regex(v) for v in schema.get("__values_excl", [])
                     if isinstance(v, (int, float)) and not isinstance(v, bool)]
        limit = self.limits.max_dfa_states

        def build() -> ByteDFA:
            dfa = _cached_number_dfa(kind, keywords, ptr, limit)
            if not excluded:
                return dfa
            # Subtract a superset of each excluded set: its automaton (exact on plain
            # spellings) plus every spelling with an exponent or trailing fraction zero.
            dfa = subtract_dfas(dfa, self.regex_dfa(NONCANONICAL_NUMBER, ptr),
                                max_states=limit, where=ptr)
            for ex in excluded:
                if ex.startswith("{"):
                    g = json.loads(ex)
                    sub_kind = g.pop("type", "number")
                    sub = _cached_number_dfa(sub_kind, json.dumps(g, sort_keys=True), ptr,
                                             limit)
                else:
                    sub = self.regex_dfa(ex, ptr)
                dfa = subtract_dfas(dfa, sub, max_states=limit, where=ptr)
            return dfa

        return self.term((kind, keywords, tuple(excluded)),
                         "INT" if kind == "integer" else "NUM",
                         f"{kind} {keywords}" + (f" except {excluded}" if excluded else ""),
                         build)

    # -- strings ----------------------------------------------------------------------------
    def string_regex_parts(self, schema: dict[str, Any], ptr: str) -> list[str]:
        """Python regexes over the decoded string that must all match."""
        parts: list[str] = []
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        for k, v in (("minLength", lo), ("maxLength", hi)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                if isinstance(v, float) and v.is_integer() and v >= 0:
                    continue
                raise SchemaError(f"'{k}' must be a non-negative integer, got {v!r}",
                                  pointer=f"{ptr}/{k}")
        lo = int(lo)
        hi = None if hi is None else int(hi)
        if lo or hi is not None:
            cap = self.opt.max_string_length
            if lo > cap:
                raise UnsupportedFeatureError(
                    f"minLength above max_string_length={cap}", location=f"{ptr}/minLength")
            if hi is not None and hi > cap:
                # Narrower, still sound: strings longer than the cap are refused.
                self.notes.append(f"{ptr}/maxLength {hi} compiled as {cap} "
                                  "(max_string_length)")
                hi = cap
            parts.append(f"{LENGTH_MARK}{lo},{'' if hi is None else hi}")
        patterns = ([schema["pattern"]] if "pattern" in schema else []) + \
            list(schema.get("__patterns", []))
        for pat in patterns:
            if not isinstance(pat, str):
                raise SchemaError("'pattern' must be a string", pointer=f"{ptr}/pattern")
            parts.append(ecma_search_to_fullmatch(pat, f"{ptr}/pattern"))
        formats = ([schema["format"]] if "format" in schema else []) + \
            list(schema.get("__formats", []))
        for fmt in formats:
            rx = format_regex(fmt) if isinstance(fmt, str) else None
            if rx is None:
                raise UnsupportedFeatureError(f"format {fmt!r}", location=f"{ptr}/format")
            parts.append(rx)
        return parts

    def string_value(self, schema: dict[str, Any], ptr: str) -> str:
        parts = self.string_regex_parts(schema, ptr)
        excluded = [self.string_regex_parts(g, ptr) or ["(?s:.)*"]
                    for g in schema.get("__string_excl", [])]
        excluded += [[re.escape(v)] for v in schema.get("__values_excl", [])
                     if isinstance(v, str)]
        if not parts and not excluded:
            return self.string_term("(?s:.)*", ptr)
        key = ("strs", tuple(parts), tuple(tuple(e) for e in excluded))

        def build() -> ByteDFA:
            dfa = self.string_parts_dfa(parts or ["(?s:.)*"], ptr)
            for ex in excluded:
                dfa = subtract_dfas(dfa, self.string_parts_dfa(ex, ptr),
                                    max_states=self.limits.max_dfa_states, where=ptr)
            return dfa

        describe = "json string: " + " & ".join(parts)
        if excluded:
            describe += " except " + " | ".join(" & ".join(e) for e in excluded)
        return self.term(key, "STRING", describe, build)

    def string_parts_dfa(self, parts: list[str], ptr: str) -> ByteDFA:
        """Intersection of the JSON-string automata of ``parts`` (regexes or a length)."""
        dfas = []
        for p in parts:
            if p.startswith(LENGTH_MARK):
                lo_s, hi_s = p[len(LENGTH_MARK):].split(",")
                unit = self.regex_dfa("(?s:.)", ptr, json_string=True, quoted=False)
                dfas.append(quoted_repeat_dfa(unit, int(lo_s), int(hi_s) if hi_s else None))
            else:
                dfas.append(self.regex_dfa(p, ptr, json_string=True))
        dfa = dfas[0]
        for d in dfas[1:]:
            dfa = intersect_dfas(dfa, d, max_states=self.limits.max_dfa_states, where=ptr)
        return dfa

    # -- enum / const ---------------------------------------------------------------------
    def enum_into(self, nt: str, schema: dict[str, Any], ptr: str) -> None:
        if "const" in schema:
            candidates = [schema["const"]]
            if "enum" in schema:
                candidates = [v for v in schema["enum"] if json_equal(v, schema["const"])]
        else:
            candidates = schema["enum"]
            if not isinstance(candidates, list):
                raise SchemaError("'enum' must be an array", pointer=f"{ptr}/enum")
            if len(candidates) > self.limits.max_enum_size:
                raise LimitExceededError("max_enum_size", self.limits.max_enum_size,
                                         len(candidates), f"{ptr}/enum")
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
        validator = self.sub_validator(plain(rest)) if rest else None
        seen: set[str] = set()
        for v in candidates:
            text = json.dumps(v, sort_keys=False, ensure_ascii=False)
            if text in seen:
                continue
            seen.add(text)
            if validator is not None and not self.valid(validator, v, ptr):
                continue
            self.rule(nt, self.literal_value(v, ptr))

    def literal_value(self, v: Any, ptr: str) -> str:
        if v is None:
            return self.literal_term("null")
        if v is True:
            return self.literal_term("true")
        if v is False:
            return self.literal_term("false")
        if isinstance(v, (int, float)):
            pattern = _number_literal_regex(v)
            return self.term(("numlit", pattern), "NUMLIT", json.dumps(v),
                             lambda: self.regex_dfa(pattern, ptr), True)
        if isinstance(v, str):  # every JSON spelling of v, built directly (no regex)
            return self.term(("str", re.escape(v)), "STRLIT", f"json string {v!r}",
                             _constant(_cached_literal_dfa(v, self.limits.max_dfa_states)))
        if not isinstance(v, (list, dict)):
            raise SchemaError(f"not a JSON value: {v!r}", pointer=ptr)
        nt = self.new_nt("literal")
        pair = "[]" if isinstance(v, list) else "{}"
        if not v:
            self.rule(nt, *self.empty_container(pair))
            return nt
        if self.indent is not None and self._level >= self.opt.max_indent_depth:
            return self.too_deep(ptr)
        syms = [self.open_bracket(pair[0])]
        pairs = list(v.items()) if isinstance(v, dict) else [("", item) for item in v]
        comma = self.comma()
        with self.nested():
            for i, (k, item) in enumerate(pairs):
                if i:
                    syms.append(comma)
                if isinstance(v, dict):
                    syms += [self.string_term(re.escape(k), ptr, "KEY"), self.colon()]
                syms.append(self.literal_value(item, ptr))
        syms.append(self.close_bracket(pair[1]))
        self.rule(nt, *syms)
        return nt

    # -- combinators ----------------------------------------------------------------------
    def any_of_into(self, nt: str, schema: dict[str, Any], ptr: str) -> None:
        kw = "anyOf" if "anyOf" in schema else "oneOf"
        options = schema[kw]
        if not isinstance(options, list) or not options:
            raise SchemaError(f"'{kw}' must be a non-empty array", pointer=f"{ptr}/{kw}")
        rest = {k: v for k, v in schema.items() if k != kw and k not in LIFTED}
        for i, b in enumerate(options):
            if not is_schema(b):
                raise SchemaError(f"{kw} items must be schemas", pointer=f"{ptr}/{kw}/{i}")
        exclusive = kw == "oneOf" and not self.pairwise_disjoint(options, ptr)
        for i, b in enumerate(options):
            sub_ptr = f"{ptr}/{kw}/{i}"
            parts = [*([rest] if rest else []), b]
            if exclusive:
                # Branch i and none of the others: the branches become disjoint.
                parts += [{"__negate": o} for j, o in enumerate(options) if j != i]
            combined = {"allOf": parts} if len(parts) > 1 else b
            lifted = {k: schema[k] for k in LIFTED if k in schema}
            if lifted:  # they see the branch's properties and items too
                combined = {"allOf": parts, **lifted}
            try:
                self.rule(nt, self.value(combined, sub_ptr))
            except UnsupportedFeatureError as e:
                if not exclusive or e.feature.startswith(ONEOF_OVERLAP):
                    raise
                raise UnsupportedFeatureError(
                    f"{ONEOF_OVERLAP}, where one branch cannot be negated exactly "
                    f"({e.feature}, at {e.location})", location=f"{ptr}/oneOf") from None

    def pairwise_disjoint(self, options: list[Any], ptr: str) -> bool:
        """True when no JSON value can satisfy two branches (decided on types, consts,
        enums and required-const discriminators)."""
        sigs = [self.signature(o, f"{ptr}/oneOf/{i}") for i, o in enumerate(options)]
        for i in range(len(sigs)):
            for j in range(i + 1, len(sigs)):
                if not _disjoint(sigs[i], sigs[j]):
                    return False
        return True

    def signature(self, schema: Any, ptr: str) -> tuple[frozenset[str], Any, dict[str, Any]]:
        """(possible types, literal values or None, property consts) of a branch."""
        if schema is False:
            return frozenset(), [], {"__required__": frozenset(), "__closed__": None}
        if not isinstance(schema, dict):
            return frozenset(JSON_TYPES), None, {"__required__": frozenset(),
                                                 "__closed__": None}
        s = self.flatten(schema, ptr) if ("$ref" in schema or "allOf" in schema) else schema
        if s is False:
            return frozenset(), [], {"__required__": frozenset(), "__closed__": None}
        t = s.get("type")
        types = set(JSON_TYPES) if t is None else ({t} if isinstance(t, str) else set(t))
        if "number" in types:
            types.add("integer")
        if "integer" in types:
            types.add("number")
        values = None
        if "const" in s:
            values = [s["const"]]
        elif "enum" in s and isinstance(s["enum"], list):
            values = list(s["enum"])
        consts: dict[str, Any] = {}
        props = s.get("properties", {})
        required = set(s.get("required", []))
        if isinstance(props, dict):
            for name, sub in props.items():
                if name in required and isinstance(sub, dict):
                    sub_flat = sub
                    if "$ref" in sub:
                        sub_flat = self.flatten(sub, ptr)
                    if isinstance(sub_flat, dict) and "const" in sub_flat:
                        consts[name] = [sub_flat["const"]]
                    elif isinstance(sub_flat, dict) and isinstance(sub_flat.get("enum"), list):
                        consts[name] = sub_flat["enum"]
        closed = None
        if s.get("additionalProperties") is False and not s.get("patternProperties"):
            closed = frozenset(props) if isinstance(props, dict) else frozenset()
        consts["__required__"] = frozenset(required)
        consts["__closed__"] = closed
        return frozenset(types), values, consts

    # -- any value ------------------------------------------------------------------------
    def any_value(self, parts: bool = False) -> str:
        """Any JSON value; with ``parts``, spelled with item-part terminals (see
        :meth:`part`: the items of an array of distinct arbitrary values)."""
        key = self.level_key((0, "<any item>" if parts else "<any>"))
        if key is None:
            return self.too_deep("<any>")
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        nt = self.new_nt("any_item" if parts else "any")
        self._memo[key] = nt

        def mark(terminal: str, role: str) -> str:
            return self.part(terminal, role) if parts else terminal

        string = self.string_term("(?s:.)*", "<any>")
        for sym in (self.literal_term("null"), self.literal_term("true"),
                    self.literal_term("false"), string, self.numeric_value("number", {}, "#")):
            self.rule(nt, mark(sym, "value"))
        arr, items = self.new_nt("any_array"), self.new_nt("any_items")
        obj, members = self.new_nt("any_object"), self.new_nt("any_members")
        for lhs, pair in ((arr, "[]"), (obj, "{}")):
            empty = self.empty_container(pair)
            roles = ("value",) if len(empty) == 1 else ("open", "close")
            self.rule(lhs, *(mark(t, r) for t, r in zip(empty, roles, strict=True)))
        with self.nested():
            item = self.any_value(parts)
        comma, colon, key_term = (mark(self.comma(), "inner"), mark(self.colon(), "inner"),
                                  mark(string, "inner"))
        self.rule(arr, mark(self.open_bracket("["), "open"), items,
                  mark(self.close_bracket("]"), "close"))
        self.rule(items, item)
        self.rule(items, items, comma, item)
        self.rule(obj, mark(self.open_bracket("{"), "open"), members,
                  mark(self.close_bracket("}"), "close"))
        self.rule(members, key_term, colon, item)
        self.rule(members, members, comma, key_term, colon, item)
        self.rule(nt, arr)
        self.rule(nt, obj)
        return nt

    def level_key(self, key: tuple[object, ...]) -> tuple[object, ...] | None:
        """A memo ``key`` with the nesting level where ``indent`` spells levels out (a
        value compiles once per level); None below ``max_indent_depth``."""
        if self.indent is None:
            return key
        if self._level > self.opt.max_indent_depth:
            return None
        return (*key, self._level)

    # -- arrays ---------------------------------------------------------------------------
    def array_value(self, schema: dict[str, Any], ptr: str) -> str:
        prefix: list[Any] = []
        tail: Any = True
        if "prefixItems" in schema:
            prefix = list(schema["prefixItems"])
            tail = schema.get("items", True)
        elif isinstance(schema.get("items"), list):
            prefix = list(schema["items"])
            tail = schema.get("additionalItems", True)
        elif "items" in schema:
            tail = schema["items"]
        lo = _count(schema, "minItems", 0, ptr)
        hi = _count(schema, "maxItems", None, ptr)
        if hi is not None and lo > hi:
            return self.new_nt("empty")
        if tail is False:
            hi = len(prefix) if hi is None else min(hi, len(prefix))
            if lo > hi:
                return self.new_nt("empty")
        unroll = max(len(prefix), lo)
        cap = self.opt.max_array_items
        if unroll > cap:
            raise UnsupportedFeatureError(f"minItems or prefixItems above max_array_items={cap}",
                                          location=f"{ptr}/minItems")
        if hi is not None and hi > cap:
            # Narrower, still sound: arrays longer than the cap are refused.
            self.notes.append(f"{ptr}/maxItems {hi} compiled as {cap} (max_array_items)")
            hi = cap

        def item_schema(i: int) -> tuple[Any, str]:
            if i < len(prefix):
                return prefix[i], f"{ptr}/prefixItems/{i}" if "prefixItems" in schema else \
                    f"{ptr}/items/{i}"
            return tail, f"{ptr}/items"

        count = _ContainsCount.of(schema, ptr)
        if count.impossible:
            return self.new_nt("empty")
        if schema.get("uniqueItems") is True and (hi is None or hi >= 2):
            return self.unique_array(schema, ptr, len(prefix), lo, hi, item_schema, count)

        # State (k, c): k items written (past the unrolled part the last k loops), c of
        # them matching ``contains`` (saturating where no maximum applies).
        last = hi if hi is not None else max(unroll, 1)
        states: dict[tuple[int, int], str] = {}

        def state(k: int, c: int) -> str:
            if (k, c) not in states:
                states[(k, c)] = self.new_nt(f"arr{k}_{c}")
                pending.append((k, c))
            return states[(k, c)]

        pending: list[tuple[int, int]] = []
        start = self.new_nt("array")
        state(0, 0)
        while pending:
            k, c = pending.pop()
            st = states[(k, c)]
            if k >= lo and count.satisfied(c):
                self.rule(*self.closing(start, st, k, "[]"))
            if hi is not None and k >= hi:
                continue
            sch, sp = item_schema(k)
            with self.nested():
                items = self.counted_items(sch, sp, count, c, ptr)
            for item, c2 in items:
                nxt = state(min(k + 1, last), c2)
                if k == 0:
                    self.rule(st, item, nxt)
                else:
                    self.rule(st, self.comma(), item, nxt)
        self.rule(start, self.open_bracket("["), states[(0, 0)])
        return start

    def closing(self, start: str, state: str, written: int, pair: str) -> tuple[str, ...]:
        """The rule that ends a container in ``state`` after ``written`` items: an empty
        container is ``start``'s own alternative (its open bracket differs with
        ``indent``), so states before the first item never close."""
        if written == 0:
            return (start, *self.empty_container(pair))
        return state, self.close_bracket(pair[1])

    def unique_array(self, schema: dict[str, Any], ptr: str, n_prefix: int, lo: int,
                     hi: int | None, item_schema: Callable[[int], tuple[Any, str]],
                     count: _ContainsCount) -> str:
        """An array with ``uniqueItems`` whose items take finitely many values: state (set
        of values written, contains count); each item is one of the values not written."""
        where = f"{ptr}/uniqueItems"
        tail_open = hi is None or hi > n_prefix
        if n_prefix and not count.active and tail_open and \
                _is_any_schema(item_schema(n_prefix)[0]):
            prefix = [self.part_literals(*item_schema(i)) for i in range(n_prefix)]
            if all(p is not None for p in prefix):
                return self.unique_any_array(lo, hi, [p for p in prefix if p is not None])
        if n_prefix == 0 and not count.active:
            sch, sp = item_schema(0)
            if finite_candidates(sch, lambda ref: self.resolve_ref(ref, sp)[0]) is None:
                if _is_any_schema(sch):
                    return self.unique_any_array(lo, hi)
                term = self.unique_scalar_term(sch, sp, where)
                if term is not None:
                    return self.unique_items_array(term, lo, hi)
        universe: dict[Any, int] = {}  # value key -> index
        values: list[Any] = []

        def options(sch: Any, sp: str) -> list[int]:
            found = finite_candidates(sch, lambda ref: self.resolve_ref(ref, sp)[0])
            if found is None:
                raise UnsupportedFeatureError(
                    "uniqueItems on items whose values are not a small finite set (objects, "
                    "arrays, mixed types, strings or numbers beside prefixItems or contains: "
                    "a value check at run time covers only arrays of plain strings or of "
                    "plain numbers; enum, const, boolean, null and integer ranges of up to "
                    f"{MAX_UNIQUE_VALUES} values are supported)",
                    location=where)
            validator = self.sub_validator(plain(sch)) if isinstance(sch, dict) else None
            out: list[int] = []
            for v in found:
                if validator is None or not self.valid(validator, v, sp):
                    continue
                j = universe.setdefault(value_key(v), len(values))
                if j == len(values):
                    values.append(v)
                    if len(values) > MAX_UNIQUE_VALUES:
                        raise UnsupportedFeatureError(
                            f"uniqueItems on items with more than {MAX_UNIQUE_VALUES} "
                            "values", location=where)
                if j not in out:
                    out.append(j)
            return out

        reachable = n_prefix if hi is None else min(hi, n_prefix)
        per_position = [options(*item_schema(i)) for i in range(reachable)]
        tail = options(*item_schema(n_prefix)) if hi is None or hi > n_prefix else []
        with self.nested():
            literals = [self.literal_value(v, ptr) for v in values]
        counted = [False] * len(values)
        if count.active:
            contains = self.sub_validator(plain(count.schema))
            counted = [self.valid(contains, v, f"{ptr}/contains") for v in values]
        states: dict[tuple[frozenset[int], int], str] = {}
        pending: list[tuple[frozenset[int], int]] = []

        def state(used: frozenset[int], c: int) -> str:
            if (used, c) not in states:
                if len(states) >= MAX_UNIQUE_STATES:
                    raise UnsupportedFeatureError(
                        f"uniqueItems over {len(values)} values: more than "
                        f"{MAX_UNIQUE_STATES} sets of values written", location=where)
                states[(used, c)] = self.new_nt(f"uniq{len(states)}")
                pending.append((used, c))
            return states[(used, c)]

        start = self.new_nt("array")
        state(frozenset(), 0)
        while pending:
            used, c = pending.pop()
            st, k = states[(used, c)], len(used)
            if k >= lo and count.satisfied(c):
                self.rule(*self.closing(start, st, k, "[]"))
            if hi is not None and k >= hi:
                continue
            for j in per_position[k] if k < len(per_position) else tail:
                if j in used:
                    continue
                c2 = c
                if count.active and not count.settled(c) and counted[j]:
                    if count.maximum is not None and c >= count.maximum:
                        continue
                    c2 = count.next(c)
                nxt = state(used | {j}, c2)
                if k == 0:
                    self.rule(st, literals[j], nxt)
                else:
                    self.rule(st, self.comma(), literals[j], nxt)
        self.rule(start, self.open_bracket("["), states[(frozenset(), 0)])
        return start

    def unique_scalar_term(self, schema: Any, ptr: str, where: str) -> str | None:
        """The item terminal of an array of distinct strings or numbers (a copy of the
        string or number terminal marked ``unique``: the parser checks each value against
        the earlier items'), or None when ``schema`` is not a plain string, number or
        integer schema.

        Exact only if no prefix of an item is a dead end once the values written so far
        are excluded: every state of the item automaton, other than those after which
        nothing can follow (a closing quote), must lead on to infinitely many values
        (refused otherwise: ``maxLength``, anchored finite patterns, formats such as
        ``date``, bounded numbers)."""
        if not isinstance(schema, dict):
            return None
        self.check_keywords(schema, ptr)
        flat = self.flatten(schema, ptr)
        if not isinstance(flat, dict) or any(k in flat for k in ("enum", "const", "anyOf",
                                                                   "oneOf")):
            return None
        types = self.types_of(flat, ptr)
        if types == ["string"]:
            base_name, kind = self.string_value(flat, ptr), "item"
        elif types in (["number"], ["integer"]):
            base_name, kind = self.numeric_value(types[0], flat, ptr), "number"
        else:
            return None
        base = self.terminals.get(base_name)
        if base is None or base.dfa is None or base.dfa.is_empty:
            return None
        name = self._unique_terms.get(base.name)
        if name is not None:
            return name
        dfa = base.dfa
        ends = ~(dfa.trans >= 0).any(axis=1)
        if (finite_future_states(dfa) & ~ends).any():
            raise UnsupportedFeatureError(
                f"uniqueItems on {types[0]}s with finitely many continuations somewhere "
                "(maxLength, a finite pattern or format, bounds): a prefix could run out "
                "of unused values", location=where)
        name = f"UNIQUE_{types[0].upper()}_{len(self.terminals)}"
        self.terminals[name] = Terminal(name, f"{base.pattern} (distinct items)", dfa=dfa,
                                        span=self._span, unique=kind)
        self._unique_terms[base.name] = name
        comma = self.comma()
        self.terminals[comma] = replace(self.terminals[comma], unique="separator")
        return name

    def unique_any_array(self, lo: int, hi: int | None, prefix: Sequence[str] = ()) -> str:
        """An array of distinct arbitrary JSON values (after the ``prefix`` items): each
        item is spelled with item-part terminals (copies marked with their role), so that
        the parser can collect the item's text and compare its value with the earlier
        items' when it completes."""
        comma = self.comma()
        self.terminals[comma] = replace(self.terminals[comma], unique="separator")
        with self.nested():
            item = self.any_value(parts=True)
        return self.unique_items_array(item, lo, hi, prefix)

    def part_literals(self, schema: Any, ptr: str) -> str | None:
        """The values of a prefix item of a ``uniqueItems`` array, spelled as item parts,
        when they are finitely many scalars (None otherwise)."""
        found = finite_candidates(schema, lambda ref: self.resolve_ref(ref, ptr)[0])
        if found is None or any(isinstance(v, (list, dict)) for v in found):
            return None
        validator = self.sub_validator(plain(schema)) if isinstance(schema, dict) else None
        nt = self.new_nt("prefix_item")
        for v in found:
            if validator is None or self.valid(validator, v, ptr):
                self.rule(nt, self.part(self.literal_value(v, ptr), "value"))
        return nt

    def part(self, terminal: str, role: str) -> str:
        """A copy of ``terminal`` marked as an item part with ``role``: "open" and
        "close" change the item's bracket depth, "value" (a scalar, an empty container)
        and "close" complete the item at depth 0, "inner" (commas, colons, keys) neither."""
        memo = (terminal, role)
        name = self._part_terms.get(memo)
        if name is None:
            base = self.terminals[terminal]
            name = f"PART_{role.upper()}_{len(self.terminals)}"
            self.terminals[name] = replace(base, name=name, pattern=f"{base.pattern} (item "
                                           f"part)", unique=f"part-{role}")
            self._part_terms[memo] = name
        return name

    def unique_items_array(self, item: str, lo: int, hi: int | None,
                            prefix: Sequence[str] = ()) -> str:
        """``[`` + between ``lo`` and ``hi`` items + ``]``: the ``prefix`` items first,
        then items of ``item`` (a unique terminal, or arbitrary items spelled with item
        parts); states count the items written (up to the larger bound)."""
        last = hi if hi is not None else max(lo, len(prefix), 1)
        states = [self.new_nt(f"ustr{k}") for k in range(last + 1)]
        start = self.new_nt("array")
        for k, st in enumerate(states):
            if k >= lo:
                self.rule(*self.closing(start, st, k, "[]"))
            if hi is not None and k >= hi:
                continue
            nxt = states[min(k + 1, last)]
            sym = prefix[k] if k < len(prefix) else item
            if k == 0:
                self.rule(st, sym, nxt)
            else:
                self.rule(st, self.comma(), sym, nxt)
        self.rule(start, self.open_bracket("["), states[0])
        return start

    def counted_items(self, item: Any, ptr: str, count: _ContainsCount, c: int,
                      array_ptr: str) -> list[tuple[str, int]]:
        """(item nonterminal, contains-count after it) for the next item, from count c."""
        if not count.active or count.settled(c):
            return [(self.value(item, ptr), c)]
        out = []
        if count.maximum is None or c < count.maximum:
            hit = {"allOf": [item, count.schema]}
            out.append((self.value(hit, f"{array_ptr}/contains"), count.next(c)))
        miss = {"allOf": [item, {"__negate": count.schema}]}
        try:
            out.append((self.value(miss, f"{array_ptr}/contains"), c))
        except UnsupportedFeatureError:
            if count.maximum is not None:
                raise
            # Only a minimum: an item may also be read as not counted (ambiguous, exact).
            out.append((self.value(item, ptr), c))
        return out

    # -- objects --------------------------------------------------------------------------
    def object_value(self, schema: dict[str, Any], ptr: str) -> str:
        props = schema.get("properties", {})
        if not isinstance(props, dict):
            raise SchemaError("'properties' must be an object", pointer=f"{ptr}/properties")
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise SchemaError("'required' must be an array of strings",
                              pointer=f"{ptr}/required")
        pattern_props = schema.get("patternProperties", {})
        if not isinstance(pattern_props, dict):
            raise SchemaError("'patternProperties' must be an object",
                              pointer=f"{ptr}/patternProperties")
        additional = schema.get("additionalProperties", self.opt.additional_properties_default)
        names_schema = schema.get("propertyNames", True)

        # Declared names: properties in order, then required names not among them.
        names = list(props) + [r for r in dict.fromkeys(required) if r not in props]
        pat_regexes = [(p, ecma_search_to_fullmatch(p, f"{ptr}/patternProperties"))
                       for p in pattern_props]
        members: list[tuple[str, bool, str]] = []  # (key terminal, required, value nt)
        req = set(required)
        for name in names:
            sub_ptr = f"{ptr}/properties/{_escape_ptr(name)}"
            applicable: list[Any] = []
            if name in props:
                applicable.append(props[name])
            for p, rx in pat_regexes:
                if safe_fullmatch(rx, name):
                    applicable.append(pattern_props[p])
            if not applicable:
                applicable.append(additional)
            if not self.name_allowed(names_schema, name, ptr):
                applicable.append(False)
            sub = applicable[0] if len(applicable) == 1 else {"allOf": applicable}
            value_nt = self.child_value(sub, sub_ptr)
            key = self.term(("str", re.escape(name)), "KEY", f"key {name!r}",
                            _constant(self.key_dfa(name)))
            members.append((key, name in req, value_nt))

        extras: list[tuple[str, str]] = []  # (key terminal, value nt)
        declared = tuple(sorted(set(names)))  # their automaton is built on first use
        names_dfa = self.property_names_dfa(names_schema, f"{ptr}/propertyNames")
        pattern_dfas = [self.regex_dfa(rx, f"{ptr}/patternProperties", json_string=True)
                        for _, rx in pat_regexes]

        def restrict(d: ByteDFA) -> ByteDFA:
            if declared:
                d = subtract_json_literals(d, declared, max_states=self.limits.max_dfa_states)
            if names_dfa is not None:
                d = intersect_dfas(d, names_dfa, max_states=self.limits.max_dfa_states)
            return d

        # Undeclared keys matching patterns: one key terminal per region of the patterns'
        # Venn diagram, its value valid against every pattern of the region.
        for region, which in self.pattern_regions([restrict(d) for d in pattern_dfas], ptr):
            names = [pat_regexes[i][0] for i in which]
            key = self.term(("pkey", ptr, tuple(which)), "PKEY",
                            "key matching " + " and ".join(names), _constant(region))
            subs = [pattern_props[n] for n in names]
            sub_ptr = f"{ptr}/patternProperties/{_escape_ptr(names[0])}"
            extras.append((key, self.child_value(subs[0] if len(subs) == 1 else
                                                 {"allOf": subs}, sub_ptr)))
        if additional is not False:
            def build_additional() -> ByteDFA:
                d = self.regex_dfa("(?s:.)*", ptr, json_string=True)
                for pd in pattern_dfas:
                    d = subtract_dfas(d, pd, max_states=self.limits.max_dfa_states)
                return restrict(d)

            if declared and not pattern_dfas and names_dfa is None:
                # Any key but the declared ones: the lexer follows the names' automata
                # alongside the string's (Terminal.exclude), no difference is built.
                key = self.term(("akey", ptr), "AKEY", "additional key",
                                lambda: self.regex_dfa("(?s:.)*", ptr, json_string=True),
                                exclude=tuple(self.key_dfa(n) for n in declared))
            else:
                key = self.term(("akey", ptr), "AKEY", "additional key", build_additional)
            if key != "NEVER":
                extras.append((key, self.child_value(additional,
                                                     f"{ptr}/additionalProperties")))

        count = _PropertyCount.of(schema, ptr)
        if count is None:
            return self.new_nt("empty")
        if count.minimum > len(members) + (1 if extras else 0):
            # Additional names could repeat, so they guarantee one distinct name only.
            raise UnsupportedFeatureError(
                f"minProperties {count.minimum} above the declared properties "
                f"({len(members)}) plus one additional property", location=f"{ptr}/minProperties")
        order = self.opt.property_order
        if order == "any" and len(members) > self.opt.max_any_order_properties:
            self.notes.append(f"{ptr}: {len(members)} properties, above "
                              f"max_any_order_properties={self.opt.max_any_order_properties}: "
                              "compiled in schema order")
            order = "schema"
        start = self.new_nt("object")
        body = self.members_in_order(start, members, extras, count) if order == "schema" \
            else self.members_any_order(start, members, extras, count)
        self.rule(start, self.open_bracket("{"), body)
        return start

    def child_value(self, schema: Any, ptr: str) -> str:
        """``value`` for an object member's value, one nesting level down."""
        with self.nested():
            return self.value(schema, ptr)

    def members_in_order(self, start: str, members: list[tuple[str, bool, str]],
                         extras: list[tuple[str, str]], count: _PropertyCount) -> str:
        """Object members after ``{``: declared ones in schema order (each optional unless
        required), then additional ones; state (i, declared written, extras written).
        ``start`` is the object's nonterminal (the empty object is its alternative)."""
        n = len(members)
        nts: dict[tuple[int, int, int], str] = {}
        pending: list[tuple[int, int, int]] = []

        def state(i: int, d: int, x: int) -> str:
            key = (i, *count.canonical(d, x))
            if key not in nts:
                nts[key] = self.new_nt(f"obj{i}_{key[1]}_{key[2]}")
                pending.append(key)
            return nts[key]

        first = state(0, 0, 0)
        while pending:
            i, d, x = pending.pop()
            lhs = nts[(i, d, x)]
            comma = [self.comma()] if d + x else []
            if i < n:
                key, is_required, value_nt = members[i]
                if count.can_write(d, x):
                    self.rule(lhs, *comma, key, self.colon(), value_nt, state(i + 1, d + 1, x))
                if not is_required:
                    self.rule(lhs, state(i + 1, d, x))
                continue
            if count.can_close(d, x):
                self.rule(*self.closing(start, lhs, d + x, "{}"))
            if count.can_write(d, x):
                for key, value_nt in extras:
                    self.rule(lhs, *comma, key, self.colon(), value_nt, state(n, d, x + 1))
        return first

    def members_any_order(self, start: str, members: list[tuple[str, bool, str]],
                          extras: list[tuple[str, str]], count: _PropertyCount) -> str:
        """Object members after ``{`` in any order, each declared one at most once; state
        (set of declared members written, extras written)."""
        required = sum(1 << i for i, (_, is_required, _) in enumerate(members) if is_required)
        nts: dict[tuple[int, int], str] = {}
        pending: list[tuple[int, int]] = []

        def state(written: int, x: int) -> str:
            key = (written, x if count.maximum is not None else min(x, 1))
            if key not in nts:
                nts[key] = self.new_nt(f"objs{key[0]}_{key[1]}")
                pending.append(key)
            return nts[key]

        first = state(0, 0)
        while pending:
            written, x = pending.pop()
            lhs = nts[(written, x)]
            d = written.bit_count()
            comma = [self.comma()] if d + x else []
            if written & required == required and count.can_close(d, x):
                self.rule(*self.closing(start, lhs, d + x, "{}"))
            if not count.can_write(d, x):
                continue
            for i, (key, _, value_nt) in enumerate(members):
                if not written >> i & 1:
                    self.rule(lhs, *comma, key, self.colon(), value_nt,
                              state(written | 1 << i, x))
            for key, value_nt in extras:
                self.rule(lhs, *comma, key, self.colon(), value_nt, state(written, x + 1))
        return first

    def pattern_regions(self, dfas: list[ByteDFA],
                        ptr: str) -> list[tuple[ByteDFA, tuple[int, ...]]]:
        """The nonempty regions of the Venn diagram of ``dfas``: (region, indices of the
        automata that contain it), refined one automaton at a time."""
        limit = self.limits.max_dfa_states
        regions: list[tuple[ByteDFA, tuple[int, ...]]] = []
        for i, d in enumerate(dfas):
            refined: list[tuple[ByteDFA, tuple[int, ...]]] = []
            alone = d
            for r, which in regions:
                both = intersect_dfas(r, d, max_states=limit, where=ptr)
                if both.is_empty:
                    refined.append((r, which))
                    continue
                refined.append((both, (*which, i)))
                alone = subtract_dfas(alone, r, max_states=limit, where=ptr)
                rest = subtract_dfas(r, d, max_states=limit, where=ptr)
                if not rest.is_empty:
                    refined.append((rest, which))
            if not alone.is_empty:
                refined.append((alone, (i,)))
            regions = refined
            if len(regions) > MAX_PATTERN_REGIONS:
                raise UnsupportedFeatureError(
                    f"patternProperties whose patterns overlap in more than "
                    f"{MAX_PATTERN_REGIONS} ways", location=f"{ptr}/patternProperties")
        return regions

    def name_allowed(self, names_schema: Any, name: str, ptr: str) -> bool:
        if names_schema is True:
            return True
        if names_schema is False:
            return False
        return self.valid(self.sub_validator(plain(names_schema)), name, ptr)

    def valid(self, validator: Any, value: Any, ptr: str) -> bool:
        """``validator.is_valid(value)``, with the validator's own failures (a reference it
        cannot resolve, a malformed keyword) turned into engine errors."""
        try:
            return bool(validator.is_valid(value))
        except Exception as e:
            raise UnsupportedFeatureError(
                f"checking a value against this sub-schema ({type(e).__name__}: {e})",
                location=ptr) from None

    def sub_validator(self, sub: Any) -> Any:
        """A jsonschema validator for a sub-schema whose local $refs resolve in the root."""
        wrapper = sub
        if isinstance(sub, dict) and isinstance(self.root, dict):
            wrapper = {**{k: self.root[k] for k in ("$defs", "definitions")
                          if k in self.root}, **sub}
        return self._validator_cls(wrapper, format_checker=self._validator_cls.FORMAT_CHECKER,
                                   registry=self._registry)

    def property_names_dfa(self, names_schema: Any, ptr: str) -> ByteDFA | None:
        if names_schema is True or names_schema == {}:
            return None
        if names_schema is False:
            return self.regex_dfa("(?!)", ptr, json_string=True)
        if not isinstance(names_schema, dict):
            raise SchemaError("'propertyNames' must be a schema", pointer=ptr)
        flat = self.flatten(names_schema, ptr)
        if flat is False:
            return self.regex_dfa("(?!)", ptr, json_string=True)
        extra = set(flat) - STRING_KEYS - ANNOTATIONS - {"type"}
        if extra or flat.get("type", "string") != "string":
            raise UnsupportedFeatureError(
                "propertyNames beyond string keywords (type, pattern, format, lengths)",
                location=ptr)
        parts = self.string_regex_parts(flat, ptr) or ["(?s:.)*"]
        return self.string_parts_dfa(parts, ptr)


_regex_memo = BytesMemo(256 << 20)
_regex_too_big: dict[str, tuple[str, object, object]] = {}


def _cached_regex_dfa(pattern: str, json_string: bool, quoted: bool, max_nfa: int,
                      max_dfa: int, where: str) -> ByteDFA:
    """The automaton of ``pattern``, memoised per process (whatever ``where``, which only
    names the place in errors) and on disk."""
    key = f"{pattern}\x00{json_string}\x00{quoted}\x00{max_nfa}\x00{max_dfa}"
    dfa: ByteDFA | None = _regex_memo.get(key)
    if dfa is not None:
        return dfa
    too_big = _regex_too_big.get(key)
    if too_big is not None:  # the same limits were passed before: fail at once
        raise LimitExceededError(*too_big, where)
    dfa = load_cached_dfa(key)
    if dfa is None:
        try:
            nfa = compile_regex_nfa(pattern, max_states=max_nfa, where=where,
                                    json_string=json_string, quoted=quoted)
            dfa = build_byte_dfa(nfa, max_states=max_dfa, where=where)
        except LimitExceededError as e:
            if e.limit in ("max_nfa_states", "max_dfa_states"):  # deterministic, unlike time
                if sum(map(len, _regex_too_big)) + len(key) > 16 << 20:
                    _regex_too_big.clear()  # patterns can be long: bound their bytes
                _regex_too_big[key] = (e.limit, e.value, e.observed)
            raise
        if dfa.n_states > 64:  # small automata are cheaper to rebuild than to read
            store_cached_dfa(key, dfa)
    _regex_memo.put(key, seed_digest(dfa, "regex", key))
    return dfa


def _cached_number_dfa(kind: str, keywords: str, ptr: str, max_states: int) -> ByteDFA:
    key = (kind, keywords, max_states)
    hit: ByteDFA | None = _number_memo.get(key)
    if hit is None:
        schema = json.loads(keywords)
        build = integer_dfa if kind == "integer" else number_dfa
        hit = seed_digest(build(schema, ptr, max_states), "number", key)
        _number_memo.put(key, hit)
    return hit


# Process-wide memos, bounded by the bytes their automata hold (a stream of schemas with
# distinct bounds or names must not grow a server's memory without end).
_number_memo = BytesMemo(64 << 20)


@byte_bounded_cache(128 << 20)
def _cached_literal_dfa(name: str, max_states: int) -> ByteDFA:
    return json_literal_dfa(name, max_states=max_states)


# Number spellings no numeric automaton here accepts (exponents, trailing fraction zeros):
# added to an excluded set to make it a superset of the true one.
NONCANONICAL_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*0|(?:\.[0-9]+)?[eE][+-]?[0-9]+)"


def _number_literal_regex(v: float) -> str:
    """The plain decimal spellings of the number ``v`` (trailing fraction zeros allowed,
    ``-0`` for zero; no exponent): all equal to ``v`` as exact decimals."""
    from decimal import Decimal

    d = Decimal(str(v)) if isinstance(v, float) else Decimal(v)
    if not d.is_finite():
        raise SchemaError(f"not a JSON number: {v!r}")
    sign, digits, exponent = d.normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    if exponent >= 0:
        int_part, frac = text + "0" * exponent, ""
    else:
        pad = text.rjust(-exponent + 1, "0")
        int_part, frac = pad[:exponent], pad[exponent:]
    int_part = int_part.lstrip("0") or "0"
    if int_part == "0" and not frac:
        return r"-?0(?:\.0+)?"
    body = int_part + (rf"\.{frac}0*" if frac else r"(?:\.0+)?")
    return ("-" if sign else "") + body


@dataclass(frozen=True)
class _PropertyCount:
    """``minProperties`` / ``maxProperties`` over a member count ``(d, x)``: ``d`` declared
    members written (distinct names), ``x`` additional ones (whose names may repeat, so
    they count as at least one distinct name towards the minimum and as all of them
    towards the maximum)."""

    minimum: int
    maximum: int | None

    @classmethod
    def of(cls, schema: dict[str, Any], ptr: str) -> _PropertyCount | None:
        lo = _count(schema, "minProperties", 0, ptr)
        hi = _count(schema, "maxProperties", None, ptr)
        if hi is not None and lo > hi:
            return None
        return cls(lo, hi)

    def distinct(self, d: int, x: int) -> int:
        return d + min(x, 1)

    def can_close(self, d: int, x: int) -> bool:
        return self.distinct(d, x) >= self.minimum

    def can_write(self, d: int, x: int) -> bool:
        return self.maximum is None or d + x < self.maximum

    def canonical(self, d: int, x: int) -> tuple[int, int]:
        """Count states that behave alike are merged (a few states, not one per count)."""
        if self.maximum is not None:
            return d, x
        cap = max(self.minimum, 1)
        if self.distinct(d, x) >= cap:
            return cap, 0
        return d, min(x, 1)


@dataclass(frozen=True)
class _ContainsCount:
    """``contains`` / ``minContains`` / ``maxContains`` of one array schema."""

    active: bool
    schema: Any = None
    minimum: int = 0
    maximum: int | None = None
    impossible: bool = False

    @classmethod
    def of(cls, schema: dict[str, Any], ptr: str) -> _ContainsCount:
        if "contains" not in schema:
            return cls(False)
        sub = schema["contains"]
        if not is_schema(sub):
            raise SchemaError("'contains' must be a schema", pointer=f"{ptr}/contains")
        lo = _count(schema, "minContains", 1, ptr)
        hi = _count(schema, "maxContains", None, ptr)
        if hi is not None and lo > hi:
            return cls(False, impossible=True)
        if sub is False:
            return cls(False, impossible=lo > 0)
        if lo == 0 and hi is None:
            return cls(False)
        return cls(True, sub, lo, hi)

    def satisfied(self, c: int) -> bool:
        return not self.active or c >= self.minimum

    def settled(self, c: int) -> bool:
        """No later item can change the verdict."""
        return self.maximum is None and c >= self.minimum

    def next(self, c: int) -> int:
        return c + 1 if self.maximum is not None else min(c + 1, self.minimum)


def _constant(d: ByteDFA) -> Callable[[], ByteDFA]:
    return lambda: d


# Keywords whose value is a schema or a list of schemas, and those whose value maps names
# to schemas: where embedded resources can be (not inside enum, const or unknown keywords).
_SCHEMA_VALUES = frozenset({
    "items", "prefixItems", "additionalItems", "contains", "allOf", "anyOf", "oneOf", "not",
    "if", "then", "else", "additionalProperties", "unevaluatedProperties",
    "unevaluatedItems", "propertyNames", "contentSchema"})
_SCHEMA_MAPS = frozenset({
    "properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
    "dependencies"})


def _is_any_schema(schema: Any) -> bool:
    """True for schemas every JSON value meets: ``true`` and annotations only."""
    return schema is True or (isinstance(schema, dict) and set(schema) <= ANNOTATIONS)


def _escape_ptr(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _count(schema: dict[str, Any], key: str, default: int | None, ptr: str) -> Any:
    v = schema.get(key, default)
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise SchemaError(f"'{key}' must be a non-negative integer, got {v!r}",
                          pointer=f"{ptr}/{key}")
    return v


def _disjoint(a: tuple[frozenset[str], Any, dict[str, Any]],
              b: tuple[frozenset[str], Any, dict[str, Any]]) -> bool:
    types_a, vals_a, consts_a = a
    types_b, vals_b, consts_b = b
    if not (types_a & types_b):
        return True
    if vals_a is not None and vals_b is not None:
        sa = {json.dumps(v, sort_keys=True) for v in vals_a}
        sb = {json.dumps(v, sort_keys=True) for v in vals_b}
        if not (sa & sb):
            return True
    # Objects only: one requires a key the other (closed) does not allow.
    if types_a | types_b <= {"object"}:
        for req, closed in ((consts_a["__required__"], consts_b["__closed__"]),
                            (consts_b["__required__"], consts_a["__closed__"])):
            if closed is not None and req - closed:
                return True
    for name in set(consts_a) & set(consts_b):
        if name.startswith("__"):
            continue
        sa = {json.dumps(v, sort_keys=True) for v in consts_a[name]}
        sb = {json.dumps(v, sort_keys=True) for v in consts_b[name]}
        if not (sa & sb):
            return True
    return False


def compile_json_schema_ir(schema: Any, *, options: JsonSchemaOptions | None = None,
                           limits: Limits | None = None, source: str = "<schema>",
                           resolver: Resolver | None = None) -> Grammar:
    """Compile a JSON Schema (already parsed) to the grammar IR.

    ``resolver`` retrieves the documents of remote references: a mapping or a function
    from absolute URI to schema (remote references raise without one).

    With ``options.lenient``, a keyword that cannot be compiled exactly is relaxed instead
    (``oneOf`` read as ``anyOf``, any other keyword dropped), with a
    :class:`LenientRelaxationWarning`; the grammar's notes list every relaxation.

    Raises
    ------
    SchemaError
        The schema is invalid (with the JSON pointer of the bad node).
    UnsupportedFeatureError
        A keyword cannot be compiled exactly (keyword and pointer).
    LimitExceededError
    """
    options = options or JsonSchemaOptions()
    limits = limits or Limits()
    if not is_schema(schema):
        raise SchemaError(f"a schema must be an object or a boolean, got "
                          f"{type(schema).__name__}", pointer="#", source=source)
    relaxed: list[str] = []
    while True:
        try:
            c = _Compiler(schema, options, limits, source, resolver)
            top = c.value(schema, "#")
            break
        except UnsupportedFeatureError as e:
            if not options.lenient or len(relaxed) >= MAX_RELAXATIONS:
                raise
            schema, what = relax(schema, e)
            relaxed.append(what)
            warnings.warn(f"lenient: {what}", LenientRelaxationWarning, stacklevel=2)
    c.rule("start", top)
    if not c.terminals:
        c.terminals["NEVER"] = Terminal("NEVER", "(?!)", dfa=c.regex_dfa("(?!)", "#"))
    notes = tuple(f"lenient: {r}" for r in relaxed) + tuple(c.notes)
    return Grammar(terminals=tuple(c.terminals.values()), rules=tuple(c.rules), start="start",
                   source=source, notes=notes)
