"""Grammars the tests and benchmarks share (Lark syntax)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grammar_engine import Vocabulary

JSON = r"""
start: value
?value: object | array | ESCAPED_STRING | SIGNED_NUMBER | "true" | "false" | "null"
array  : "[" [value ("," value)*] "]"
object : "{" [pair ("," pair)*] "}"
pair   : ESCAPED_STRING ":" value
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

ARITHMETIC = r"""
?start: sum
?sum: product | sum "+" product -> add | sum "-" product -> sub
?product: atom | product "*" atom -> mul | product "/" atom -> div
?atom: NUMBER -> number | "-" atom -> neg | NAME -> var | "(" sum ")"
%import common.CNAME -> NAME
%import common.NUMBER
%import common.WS_INLINE
%ignore WS_INLINE
"""

SQL = r"""
start: select_stmt ";"?
select_stmt: SELECT select_list FROM table_ref where_clause? order_clause? limit_clause?
select_list: "*" | column ("," column)*
column: NAME ("." NAME)? (AS NAME)?
table_ref: NAME (AS? NAME)? join*
join: JOIN NAME ON condition
where_clause: WHERE condition
condition: comparison ((AND | OR) comparison)*
comparison: operand OP operand
operand: NAME ("." NAME)? | NUMBER | STRING
order_clause: ORDER BY NAME (ASC | DESC)?
limit_clause: LIMIT NUMBER
SELECT.2: "select"i
FROM.2: "from"i
AS.2: "as"i
JOIN.2: "join"i
ON.2: "on"i
WHERE.2: "where"i
AND.2: "and"i
OR.2: "or"i
ORDER.2: "order"i
BY.2: "by"i
ASC.2: "asc"i
DESC.2: "desc"i
LIMIT.2: "limit"i
OP: "=" | "<" | ">" | "<=" | ">=" | "<>" | "!="
STRING: /'[^']*'/
NAME: /[a-z_][a-z0-9_]*/
%import common.NUMBER
%import common.WS
%ignore WS
"""

C_LIKE = r"""
start: stmt+
?stmt: decl | assign ";" | if_stmt | while_stmt | block | "return" expr ";" -> ret
decl: TYPE NAME ("=" expr)? ";"
assign: NAME "=" expr
if_stmt: "if" "(" expr ")" stmt ("else" stmt)?
while_stmt: "while" "(" expr ")" stmt
block: "{" stmt* "}"
?expr: expr CMP sum | sum
?sum: sum ADD term | term
?term: term MUL factor | factor
?factor: NUMBER | NAME | NAME "(" [expr ("," expr)*] ")" -> call | "(" expr ")"
TYPE.2: "int" | "float" | "char"
CMP: "==" | "!=" | "<" | ">" | "<=" | ">="
ADD: "+" | "-"
MUL: "*" | "/" | "%"
NAME: /[a-zA-Z_]\w*/
NUMBER: /\d+(\.\d+)?/
COMMENT: /\/\/[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""

# Ambiguous ("1+2+3" has two parses) and not LALR(1): takes the general (GLR) path.
AMBIGUOUS = r"""
start: e
e: e "+" e | e "*" e | "(" e ")" | NUMBER
NUMBER: /[0-9]+/
%ignore " "
"""

ALL = {
    "json": JSON,
    "arithmetic": ARITHMETIC,
    "sql": SQL,
    "c_like": C_LIKE,
    "ambiguous": AMBIGUOUS,
}

# Complete words of each grammar, for walks and benchmarks.
SAMPLES = {
    "json": [
        '{"name": "Alice", "age": 30, "tags": ["a", "b\\u00e9"], "x": {"y": null}}',
        '[1, -2.5e3, true, false, null, {"k": [[], {}]}]',
        '{"text": "caf\u00e9 \u4e2d\u6587 \\"quoted\\" \\n", "n": 0}',
    ],
    "arithmetic": ["1 + 2 * (x - 3) / -y", "((a))*b - 4.5e2", "foo_bar*2+1"],
    "sql": [
        "SELECT a, b.c AS d FROM t AS u JOIN v ON u.x = v.y WHERE a >= 10 AND b <> 'x' "
        "ORDER BY a DESC LIMIT 5;",
        "select * from users where id = 3",
    ],
    "c_like": [
        "int x = 3; float y = x * 2.5; if (x > 1) { y = f(x, 2); } else y = 0; return y;",
        "while (i < 10) { i = i + 1; } // done\nreturn i;",
    ],
    "ambiguous": ["1+2*3", "(1+2)*3+4", "1 + 2 + 3"],
}


def pieces_vocab(name: str, extra: Sequence[bytes] = ()) -> Vocabulary:
    """A small vocabulary for grammar ``name``: every byte, every piece of two to eight
    bytes of its samples, then ``extra``; EOS (special) last."""
    from grammar_engine import Vocabulary

    pieces = {text.encode()[i:i + n] for text in SAMPLES[name]
              for n in range(2, 9) for i in range(len(text.encode()) - n + 1)}
    toks = [bytes([i]) for i in range(256)] + sorted(pieces) + list(extra)
    return Vocabulary.from_bytes([*toks, b""], eos_token_ids=[len(toks)],
                                 special_ids=[len(toks)])
