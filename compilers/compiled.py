"""IR + vocabulary -> :class:`CompiledGrammar`, and its versioned file format.

A compiled grammar holds integer arrays only: one byte DFA per terminal, the LR tables and
the vocabulary's fingerprint. The contextual lexer and the token index grow lazily inside
it as matchers reach new states, and are shared by every matcher of the grammar.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import asdict
from typing import Any

import numpy as np

from compilers.automata import ByteDFA, build_terminal_dfa
from compilers.budget import check_deadline
from compilers.errors import (
    GrammarEngineError,
    GrammarSyntaxError,
    UnsupportedFeatureError,
    VocabularyError,
)
from compilers.file_checks import check_compiled_arrays
from compilers.ir import Grammar, Rule, SourceSpan, Terminal
from compilers.lexer import ContextualLexer
from compilers.lr_tables import ParseTable, build_parse_table
from compilers.options import CompileOptions, Limits
from compilers.token_index import TokenIndex
from compilers.vocab import Vocabulary

__all__ = ["FORMAT_VERSION", "CompiledGrammar", "build_compiled_grammar", "read_header"]

FORMAT_VERSION = 2
_MAGIC = "grammar-engine compiled grammar"


class CompiledGrammar:
    """A grammar compiled for one vocabulary; create matchers from it.

    Attributes
    ----------
    grammar : Grammar
        The IR (after empty-matching terminals were made optional).
    vocab : Vocabulary
    table : ParseTable
    dfas : list of ByteDFA
        One per terminal.
    lexer : ContextualLexer
        Grows lazily.
    index : TokenIndex
        Grows lazily.
    kind : str
        Front end that produced it: ``"lark"``, ``"regex"`` or ``"json_schema"``.
    """

    def __init__(self, grammar: Grammar, vocab: Vocabulary, table: ParseTable,
                 dfas: list[ByteDFA], options: CompileOptions, kind: str,
                 notes: tuple[str, ...] = (),
                 excludes: list[tuple[ByteDFA, ...]] | None = None) -> None:
        self.grammar = grammar
        self.vocab = vocab
        self.table = table
        self.dfas = dfas
        # Per terminal: the automata whose strings it excludes (see Terminal.exclude).
        self.excludes = excludes if excludes is not None else [() for _ in dfas]
        self.options = options
        self.kind = kind
        self.notes = notes
        self.lexer = ContextualLexer(
            dfas, [grammar.rank(i) for i in range(len(dfas))],
            [t.lazy for t in grammar.terminals], [t.ignored for t in grammar.terminals],
            options.limits.max_lexer_states,
            all_readings=kind == "json_schema",  # its terminals carry no tie-break intent
            excludes=self.excludes,
        )
        self.index = TokenIndex(self.lexer, vocab, options.limits.max_token_table_bytes)
        self.runtime: Any = None  # set by grammar_engine on first use

    def __repr__(self) -> str:
        return (f"CompiledGrammar(kind={self.kind!r}, terminals={len(self.dfas)}, "
                f"rules={len(self.grammar.rules)}, states={self.table.n_states}, "
                f"vocab={self.vocab.name!r})")

    @property
    def is_lalr(self) -> bool:
        return self.table.is_deterministic

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays this grammar holds now: terminal automata, parse table, the
        lexer's rows and the token tables built so far (a table shared with other grammars
        of the process is counted in each). The vocabulary is not counted."""
        automata = sum(d.nbytes for d in self.dfas) + \
            sum(d.nbytes for ex in self.excludes for d in ex)
        return automata + _arrays_nbytes(self.table) + self.lexer.nbytes + self.index.nbytes

    def stats(self) -> dict[str, Any]:
        """Sizes for ``grammar-engine inspect`` and benchmarks."""
        return {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "terminals": len(self.dfas),
            "terminal_dfa_states": int(sum(d.n_states for d in self.dfas)
                                       + sum(d.n_states for ex in self.excludes for d in ex)),
            "rules": len(self.grammar.rules),
            "parser_states": self.table.n_states,
            "parser": "lalr(1)" if self.is_lalr else f"glr ({self.table.n_conflicts} conflicts)",
            "lexer_states_built": self.lexer.n_explored,
            "token_tables_built": self.index.n_built,
            "token_tables_bytes": self.index.nbytes,
            "bytes": self.nbytes,
            "vocab_name": self.vocab.name,
            "vocab_size": self.vocab.size,
            "vocab_fingerprint": self.vocab.fingerprint,
            "notes": list(self.notes),
        }

    # -- serialisation ---------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the compiled grammar (versioned; carries the vocabulary fingerprint)."""
        header = {
            "magic": _MAGIC,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "notes": list(self.notes),
            "vocab_fingerprint": self.vocab.fingerprint,
            "vocab_size": self.vocab.size,
            "vocab_name": self.vocab.name,
            "grammar": _grammar_to_json(self.grammar),
            "options": {"start": self.options.start, "limits": asdict(self.options.limits)},
            "n_dfas": len(self.dfas),
            "n_excludes": [len(ex) for ex in self.excludes],
            "stats": self.stats(),
        }
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "cell_start": self.table.cell_start, "cell_actions": self.table.cell_actions,
            "goto": self.table.goto, "rule_lhs": self.table.rule_lhs,
            "rule_len": self.table.rule_len,
        }
        for i, d in enumerate(self.dfas):
            arrays[f"dfa{i}_trans"] = d.trans
            arrays[f"dfa{i}_accept"] = d.accept
            for j, x in enumerate(self.excludes[i]):
                arrays[f"dfa{i}_exclude{j}_trans"] = x.trans
                arrays[f"dfa{i}_exclude{j}_accept"] = x.accept
        meta = {"terminals": list(self.table.terminals),
                "nonterminals": list(self.table.nonterminals),
                "start_state": self.table.start_state}
        header["table"] = meta
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        tmp = f"{os.fspath(path)}.tmp"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("header.json", json.dumps(header, indent=1))
            z.writestr("arrays.npz", buf.getvalue())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], vocab: Vocabulary) -> CompiledGrammar:
        """Read a file written by :meth:`save` for ``vocab``.

        Raises
        ------
        VocabularyError
            ``vocab`` is not the vocabulary the grammar was compiled for.
        GrammarEngineError
            The file is not a compiled grammar, has an unsupported format version, or is
            damaged (every array is checked before use).
        """
        header = read_header(path)
        fingerprint = header.get("vocab_fingerprint")
        if not isinstance(fingerprint, str):
            raise GrammarEngineError(f"{os.fspath(path)} is damaged: no vocabulary fingerprint")
        if fingerprint != vocab.fingerprint:
            raise VocabularyError(
                f"{os.fspath(path)} was compiled for vocabulary {header.get('vocab_name')!r} "
                f"(fingerprint {fingerprint[:16]}..., size "
                f"{header.get('vocab_size')}), not for {vocab.name!r} (fingerprint "
                f"{vocab.fingerprint[:16]}..., size {vocab.size}); recompile it for this "
                "tokenizer"
            )
        try:
            with zipfile.ZipFile(path) as z, z.open("arrays.npz") as f:
                data = np.load(io.BytesIO(f.read()), allow_pickle=False)
                arrays = {k: data[k] for k in data.files}
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise GrammarEngineError(f"{os.fspath(path)} is damaged: {e}") from None
        check_compiled_arrays(os.fspath(path), header, arrays)
        try:
            return cls._from_parts(header, arrays, vocab)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
            raise GrammarEngineError(f"{os.fspath(path)} is damaged: {type(e).__name__}: "
                                     f"{e}") from None

    @classmethod
    def _from_parts(cls, header: dict[str, Any], arrays: dict[str, Any], vocab: Vocabulary
                    ) -> CompiledGrammar:
        meta = header["table"]
        table = ParseTable(
            terminals=tuple(meta["terminals"]), nonterminals=tuple(meta["nonterminals"]),
            cell_start=arrays["cell_start"].astype(np.int32),
            cell_actions=arrays["cell_actions"].astype(np.int32),
            goto=arrays["goto"].astype(np.int32), rule_lhs=arrays["rule_lhs"].astype(np.int32),
            rule_len=arrays["rule_len"].astype(np.int32), start_state=int(meta["start_state"]),
        )
        n_dfas = int(header["n_dfas"])
        dfas = [ByteDFA(arrays[f"dfa{i}_trans"].astype(np.int32), arrays[f"dfa{i}_accept"])
                for i in range(n_dfas)]
        excludes = [tuple(ByteDFA(arrays[f"dfa{i}_exclude{j}_trans"].astype(np.int32),
                                  arrays[f"dfa{i}_exclude{j}_accept"])
                          for j in range(int(header["n_excludes"][i])))
                    for i in range(n_dfas)]
        opts = header["options"]
        options = CompileOptions(start=opts["start"], limits=Limits(**opts["limits"]))
        return cls(_grammar_from_json(header["grammar"]), vocab, table, dfas, options,
                   header["kind"], tuple(header.get("notes", ())), excludes)


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a compiled grammar file (no vocabulary needed)."""
    try:
        with zipfile.ZipFile(path) as z:
            header: dict[str, Any] = json.loads(z.read("header.json"))
    except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as e:
        raise GrammarEngineError(f"{os.fspath(path)} is not a compiled grammar: {e}") from None
    if header.get("magic") != _MAGIC:
        raise GrammarEngineError(f"{os.fspath(path)} is not a compiled grammar")
    if header.get("format_version") != FORMAT_VERSION:
        raise GrammarEngineError(
            f"{os.fspath(path)} has format version {header.get('format_version')}; this "
            f"version of grammar-engine reads version {FORMAT_VERSION}: recompile it"
        )
    return header


def _grammar_to_json(g: Grammar) -> dict[str, Any]:
    return {
        "start": g.start, "source": g.source,
        "terminals": [{"name": t.name, "pattern": t.pattern, "is_literal": t.is_literal,
                       "priority": t.priority, "lazy": t.lazy, "ignored": t.ignored,
                       "span": asdict(t.span), **({"unique": t.unique} if t.unique else {})}
                      for t in g.terminals],
        "rules": [{"lhs": r.lhs, "rhs": list(r.rhs)} for r in g.rules],
    }


def _grammar_from_json(d: dict[str, Any]) -> Grammar:
    terms = tuple(Terminal(**{**t, "span": SourceSpan(**t["span"])}) for t in d["terminals"])
    rules = tuple(Rule(r["lhs"], tuple(r["rhs"])) for r in d["rules"])
    return Grammar(terminals=terms, rules=rules, start=d["start"], source=d["source"])


def _arrays_nbytes(obj: object) -> int:
    """Bytes of the NumPy arrays among ``obj``'s own attributes."""
    return sum(int(v.nbytes) for v in vars(obj).values() if isinstance(v, np.ndarray))


def _without_empty(d: ByteDFA) -> ByteDFA:
    """The same DFA without the empty string (a fresh, non-accepting start state)."""
    from compilers.automata import _trim

    n = d.n_states
    trans = np.full((n + 1, 256), -1, dtype=np.int32)
    trans[1:] = np.where(d.trans >= 0, d.trans + 1, -1)
    trans[0] = trans[1]
    accept = np.zeros(n + 1, dtype=np.bool_)
    accept[1:] = d.accept
    return _trim(trans, accept)


def _optionalize(grammar: Grammar, names: set[str]) -> Grammar:
    """Replace each terminal in ``names`` by a nonterminal that is the terminal or nothing."""
    rules = []
    for r in grammar.rules:
        rhs = tuple(f"__maybe_{s}" if s in names else s for s in r.rhs)
        rules.append(Rule(r.lhs, rhs, r.span))
    for n in sorted(names):
        rules.append(Rule(f"__maybe_{n}", (n,)))
        rules.append(Rule(f"__maybe_{n}", ()))
    return Grammar(grammar.terminals, tuple(rules), grammar.start, grammar.source,
                   grammar.notes)


def _prune_unproductive(grammar: Grammar, dfas: list[ByteDFA]) -> tuple[Grammar, int]:
    """Drop rules that can never derive a complete string, so that every prefix the parser
    accepts can be completed. Raises if the start symbol derives nothing."""
    usable = {t.name for t, d in zip(grammar.terminals, dfas, strict=True) if len(d.accept)}
    # Worklist: a rule's count of distinct symbols not yet known to derive a string.
    rules = grammar.rules
    missing: list[int] = []
    uses: dict[str, list[int]] = {}
    for i, r in enumerate(rules):
        need = [s for s in r.rhs if s not in usable]
        if len(need) > 1:
            need = list(dict.fromkeys(need))
        missing.append(len(need))
        for s in need:
            uses.setdefault(s, []).append(i)
    productive: set[str] = set()
    queue = [r.lhs for r, m in zip(rules, missing, strict=True) if m == 0]
    while queue:
        sym = queue.pop()
        if sym in productive:
            continue
        productive.add(sym)
        for i in uses.get(sym, ()):
            missing[i] -= 1
            if missing[i] == 0:
                queue.append(rules[i].lhs)
    if grammar.start not in productive:
        raise GrammarSyntaxError(
            f"the language of this grammar is empty: start rule {grammar.start!r} can never "
            "derive a complete string (every alternative recurses forever or needs a terminal "
            "that matches nothing)", source=grammar.source,
        )
    kept = tuple(r for r, m in zip(rules, missing, strict=True) if m == 0)
    dropped = len(rules) - len(kept)
    if not dropped:
        return grammar, 0
    return Grammar(grammar.terminals, kept, grammar.start, grammar.source, grammar.notes), \
        dropped


def build_compiled_grammar(grammar: Grammar, vocab: Vocabulary,
                           options: CompileOptions | None = None,
                           kind: str = "lark") -> CompiledGrammar:
    """Build terminal DFAs and parse tables for ``grammar`` over ``vocab``.

    Terminals that match the empty string become optional in the rules (the lexer never
    produces empty lexemes).

    Raises
    ------
    GrammarSyntaxError, UnsupportedFeatureError, LimitExceededError
        From the regex compiler, with the terminal's location.
    """
    options = options or CompileOptions()
    lim = options.limits
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
    dfas: list[ByteDFA] = []
    empty: set[str] = set()
    notes: list[str] = list(grammar.notes)
    for t in grammar.terminals:
        where = f"terminal {t.name} at {t.span}"
        check_deadline(where)
        dfa = t.dfa if t.dfa is not None else build_terminal_dfa(
            t.pattern, t.lazy, lim.max_nfa_states, lim.max_dfa_states, where)
        if dfa.matches_empty():
            if t.ignored:
                raise UnsupportedFeatureError("an %ignore'd terminal that matches the empty "
                                              "string", location=where)
            empty.add(t.name)
            dfa = _without_empty(dfa)
            notes.append(f"terminal {t.name} matches the empty string: made optional")
        dfas.append(dfa)
    if empty:
        grammar = _optionalize(grammar, empty)
    grammar, dropped = _prune_unproductive(grammar, dfas)
    if dropped:
        notes.append(f"{dropped} rule(s) can never complete (unproductive) and were dropped")
    table = build_parse_table(grammar, lim.max_parse_table_cells)
    excludes = [tuple(x for x in t.exclude if not x.is_empty) for t in grammar.terminals]
    return CompiledGrammar(grammar, vocab, table, dfas, options, kind, tuple(notes), excludes)
