"""Lark front end: the parse of Lark's bundled grammars is remembered across compiles
(``%import common`` re-parses ``common.lark`` otherwise); the user's text is not."""

from __future__ import annotations

import grammar_engine as ge
from compilers import lark_grammar
from tests.json_helpers import accepts_text
from tests.test_json_schema import BYTES_VOCAB

A = """
start: NUMBER ("," NUMBER)*
%import common.NUMBER
"""
B = """
start: NUM WS_INLINE NUM
%import common.NUMBER -> NUM
%import common.WS_INLINE
"""


def test_bundled_grammars_parse_once_and_stay_intact() -> None:
    for _ in range(2):  # the second compiles reuse the remembered parse of common.lark
        a = ge.compile_grammar(A, BYTES_VOCAB, cache=False)
        b = ge.compile_grammar(B, BYTES_VOCAB, cache=False)
        assert accepts_text(a, "1,2.5,3e2") and not accepts_text(a, "1,,2")
        assert accepts_text(b, "1  2") and not accepts_text(b, "1 x")
    names = {name for _, name in lark_grammar._bundled_trees}
    assert names and all("common.lark" in n for n in names), names


def test_user_text_is_parsed_afresh() -> None:
    g = ge.compile_grammar('start: "x" NUMBER\n%import common.NUMBER\n', BYTES_VOCAB,
                           cache=False)
    assert accepts_text(g, "x1")
    assert not any(text.startswith('start: "x"') for text, _ in lark_grammar._bundled_trees)
