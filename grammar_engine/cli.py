"""The ``grammar-engine`` command line: a thin layer over the public API.

Commands: ``compile`` (a JSON Schema, a Lark grammar or a regex -> a compiled grammar
file), ``inspect``
(what a compiled file holds), ``validate`` (feed text through a compiled grammar token by
token). Errors go to stderr with their location; exit code 1 means bad input, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from compilers.compiled import CompiledGrammar, read_header
from compilers.errors import GrammarEngineError
from compilers.json_schema import JsonSchemaOptions
from compilers.vocab import Vocabulary
from grammar_engine.compile import compile_grammar, compile_json_schema, compile_regex
from grammar_engine.matcher import Matcher

__all__ = ["main"]


class _Progress:
    """Step-by-step progress on stderr (silent with --quiet)."""

    def __init__(self, quiet: bool, stream: TextIO) -> None:
        self.quiet = quiet
        self.stream = stream
        self.t0 = 0.0

    def start(self, what: str) -> None:
        self.t0 = time.perf_counter()
        if not self.quiet:
            self.stream.write(f"{what}... ")
            self.stream.flush()

    def done(self, extra: str = "") -> None:
        if not self.quiet:
            dt = time.perf_counter() - self.t0
            self.stream.write(f"done in {dt:.2f} s{('; ' + extra) if extra else ''}\n")
            self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grammar-engine",
                                description="Compile grammars and regexes into token-level "
                                            "automata for a tokenizer, and inspect them.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compile", help="compile a JSON Schema, a .lark grammar or a regex")
    c.add_argument("spec", nargs="?",
                   help="JSON Schema (.json) or Lark grammar (.lark); omit with --regex")
    c.add_argument("--kind", choices=["auto", "json_schema", "lark"], default="auto",
                   help="front end for SPEC (default: by file extension)")
    c.add_argument("--regex", help="compile this regular expression instead of a file")
    c.add_argument("--tokenizer", required=True,
                   help="tokenizer folder or tokenizer.json of the model")
    c.add_argument("--eos-token-id", type=int, action="append", dest="eos",
                   help="EOS token id (repeatable; default from tokenizer_config.json)")
    c.add_argument("--vocab-size", type=int, help="logit width of the model, if padded")
    c.add_argument("--start", default="start", help="start rule of a Lark grammar")
    js = c.add_argument_group("JSON Schema options")
    js.add_argument("--whitespace", help='"flexible" (default), "compact" or a regex for '
                    "one whitespace run")
    js.add_argument("--indent", type=int, help="lay documents out as json.dumps(doc, "
                    "indent=N) does")
    js.add_argument("--property-order", choices=["schema", "any"])
    js.add_argument("--lenient", action="store_true",
                    help="relax keywords that cannot be compiled exactly, with a warning")
    c.add_argument("-o", "--output", required=True, help="output file")
    c.add_argument("-q", "--quiet", action="store_true")

    i = sub.add_parser("inspect", help="describe a compiled grammar file")
    i.add_argument("file")
    i.add_argument("--json", action="store_true", help="print JSON")

    v = sub.add_parser("validate", help="feed text through a compiled grammar, token by token")
    v.add_argument("file", help="compiled grammar file")
    v.add_argument("--tokenizer", required=True)
    v.add_argument("--eos-token-id", type=int, action="append", dest="eos")
    v.add_argument("--vocab-size", type=int)
    src = v.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the text to check")
    src.add_argument("--text-file", help="file holding the text to check")
    return p


def _vocab(args: argparse.Namespace) -> Vocabulary:
    return Vocabulary.from_tokenizer_json(args.tokenizer, eos_token_ids=args.eos,
                                          vocab_size=args.vocab_size)


def _cmd_compile(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if (args.spec is None) == (args.regex is None):
        err.write("grammar-engine compile: give a grammar file or --regex, not both\n")
        return 2
    progress = _Progress(args.quiet, err)
    progress.start(f"loading tokenizer {args.tokenizer}")
    vocab = _vocab(args)
    progress.done(f"{vocab.size} tokens")
    progress.start("compiling")
    if args.regex is not None:
        compiled = compile_regex(args.regex, vocab)
    else:
        path = Path(args.spec)
        kind = args.kind
        if kind == "auto":
            kind = "json_schema" if path.suffix == ".json" else "lark"
        options = {name: value for name, value in (
            ("whitespace", args.whitespace), ("indent", args.indent),
            ("property_order", args.property_order),
            ("lenient", args.lenient or None)) if value is not None}
        if kind == "json_schema":
            try:
                JsonSchemaOptions(**options)  # checked before the long compile
            except ValueError as e:
                err.write(f"grammar-engine compile: {e}\n")
                return 2
            compiled = compile_json_schema(path, vocab, **options)
        elif options:
            err.write(f"grammar-engine compile: {', '.join(sorted(options))} apply to JSON "
                      "Schemas only\n")
            return 2
        else:
            text = path.read_text(encoding="utf-8")
            compiled = compile_grammar(text, vocab, start=args.start, source=str(path),
                                       eager_tables=False)  # (tables are not saved)
    stats = compiled.stats()
    progress.done(f"{stats['terminals']} terminals, {stats['parser_states']} parser states, "
                  f"{stats['parser']}")
    progress.start(f"writing {args.output}")
    compiled.save(args.output)
    progress.done()
    return 0


def _cmd_inspect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    header = read_header(args.file)
    if args.json:
        out.write(json.dumps(header, indent=2) + "\n")
        return 0
    stats = header["stats"]
    g = header["grammar"]
    out.write(f"file:               {args.file}\n")
    out.write(f"format version:     {header['format_version']}\n")
    out.write(f"kind:               {header['kind']}\n")
    out.write(f"vocabulary:         {header['vocab_name']} ({header['vocab_size']} tokens)\n")
    out.write(f"vocab fingerprint:  {header['vocab_fingerprint']}\n")
    out.write(f"parser:             {stats['parser']}, {stats['parser_states']} states, "
              f"{stats['rules']} rules\n")
    out.write(f"terminals:          {stats['terminals']} "
              f"({stats['terminal_dfa_states']} DFA states)\n")
    for t in g["terminals"]:
        flags = [x for x, on in (("literal", t["is_literal"]), ("lazy", t["lazy"]),
                                 ("ignored", t["ignored"])) if on]
        pat = t["pattern"] if len(t["pattern"]) <= 60 else t["pattern"][:57] + "..."
        out.write(f"  {t['name']:<20} {pat!r} priority={t['priority']} {' '.join(flags)}\n")
    for note in header.get("notes", []):
        out.write(f"note: {note}\n")
    return 0


def _cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    vocab = _vocab(args)
    compiled = CompiledGrammar.load(args.file, vocab)
    text = args.text if args.text is not None else Path(args.text_file).read_text("utf-8")
    try:
        from transformers import PreTrainedTokenizerFast
    except ImportError:  # pragma: no cover - transformers is a dependency
        err.write("validate needs transformers to tokenize the text\n")
        return 1
    tok_file = Path(args.tokenizer)
    if tok_file.is_dir():
        tok_file = tok_file / "tokenizer.json"
    tok = PreTrainedTokenizerFast(tokenizer_file=str(tok_file))
    ids = tok.encode(text, add_special_tokens=False)
    m = Matcher(compiled)
    consumed = b""
    for n, tid in enumerate(ids):
        if not m.consume_token(tid):
            piece = vocab.token_text(tid)
            err.write(f"rejected token {n} (id {tid}, {piece!r}) after {len(consumed)} bytes: "
                      f"{consumed.decode('utf-8', 'backslashreplace')[-60:]!r}\n")
            return 1
        consumed += vocab.token_bytes[tid]
    if not m.is_accepting():
        err.write(f"incomplete: all {len(ids)} tokens accepted but the text is not a "
                  "complete word of the language\n")
        return 1
    out.write(f"accepted: {len(ids)} tokens\n")
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 bad input, 2 bad usage)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    commands = {"compile": _cmd_compile, "inspect": _cmd_inspect, "validate": _cmd_validate}
    try:
        return commands[args.command](args, out, err)
    except GrammarEngineError as e:
        err.write(f"error: {type(e).__name__}: {e}\n")
        return 1
    except OSError as e:
        err.write(f"error: {e}\n")
        return 1
    except UnicodeError as e:  # an input file that is not UTF-8 text
        err.write(f"error: not UTF-8 text: {e}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
