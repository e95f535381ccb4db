"""ECMA-262 regular expressions (JSON Schema ``pattern``) -> Python ``re`` patterns.

JSON Schema patterns use ECMA-262 syntax and *search* semantics (a string matches if the
pattern matches anywhere in it). The translation rewrites what differs between the two
dialects (``\\d \\w \\s`` and ``.`` follow ECMA's definitions, ``\\cX``, ``\\u{...}``,
``[^]``, named groups) and wraps each top-level alternative in ``.*`` unless it is anchored
with ``^`` / ``$``, so that the result is matched as a whole. Anything with no exact
translation raises :class:`UnsupportedFeatureError`.
"""

from __future__ import annotations

from compilers.errors import SchemaError, UnsupportedFeatureError
from compilers.json_schema.unicode_properties import property_class_body

__all__ = ["ecma_search_to_fullmatch", "ecma_to_python"]

_ECMA_SPACE = (
    "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_CLASS_ESCAPES = {
    "d": "0-9",
    "w": "A-Za-z0-9_",
    "s": _ECMA_SPACE,
}
_LINE_TERMINATORS = "\\n\\r\\u2028\\u2029"


def _hex(s: str) -> bool:
    return bool(s) and all(c in "0123456789abcdefABCDEF" for c in s)


def ecma_to_python(pattern: str, where: str = "#") -> str:
    """Translate ECMA-262 syntax to an equivalent Python ``re`` pattern (same matches)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise SchemaError("pattern ends with a lone backslash", pointer=where)
            e = pattern[i + 1]
            i += 2
            if e in "dws" or e in "DWS":
                body = _CLASS_ESCAPES[e.lower()]
                if in_class:
                    if e.isupper():
                        raise UnsupportedFeatureError(
                            f"\\{e} inside a character class in a pattern", location=where)
                    out.append(body)
                else:
                    out.append(f"[{'^' if e.isupper() else ''}{body}]")
            elif e == "c" and i < n and pattern[i].isalpha():
                out.append(f"\\x{ord(pattern[i]) % 32:02x}")
                i += 1
            elif e == "u" and i < n and pattern[i] == "{":
                end = pattern.find("}", i)
                digits = pattern[i + 1 : end] if end > 0 else ""
                if not _hex(digits) or int(digits, 16) > 0x10FFFF:
                    raise SchemaError(f"bad \\u{{...}} escape in pattern {pattern!r}",
                                      pointer=where)
                out.append(f"\\U{int(digits, 16):08x}")
                i = end + 1
            elif e == "u" and _hex(pattern[i : i + 4]) and len(pattern[i : i + 4]) == 4:
                cp = int(pattern[i : i + 4], 16)
                i += 4
                if 0xD800 <= cp <= 0xDBFF and pattern[i : i + 2] == "\\u" and \
                        _hex(pattern[i + 2 : i + 6]) and len(pattern[i + 2 : i + 6]) == 4:
                    low = int(pattern[i + 2 : i + 6], 16)
                    if 0xDC00 <= low <= 0xDFFF:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                out.append(f"\\U{cp:08x}")
            elif e == "x" and _hex(pattern[i : i + 2]) and len(pattern[i : i + 2]) == 2:
                out.append(f"\\x{pattern[i : i + 2]}")
                i += 2
            elif e in "pP":
                end = pattern.find("}", i)
                if i >= n or pattern[i] != "{" or end < 0:
                    raise SchemaError(f"bad \\{e}{{...}} escape in pattern {pattern!r}",
                                      pointer=where)
                body = property_class_body(pattern[i + 1 : end], e == "P", where)
                out.append(body if in_class else f"[{body}]")
                i = end + 1
            elif e.isdigit() and e != "0":
                raise UnsupportedFeatureError("back-references in a pattern", location=where)
            elif e == "0":
                out.append("\\x00")
            elif e in "bB" and not in_class:
                raise UnsupportedFeatureError("word boundary (\\b, \\B) in a pattern",
                                              location=where)
            elif e == "b":  # [\b] is backspace
                out.append("\\x08")
            elif e == "k":
                raise UnsupportedFeatureError("named back-references in a pattern",
                                              location=where)
            elif e in "tnrvf":
                out.append("\\" + e)
            elif e.isalnum() or e == "_":
                # Identity escapes of letters are errors in Unicode mode; keep the letter.
                out.append(e)
            else:
                out.append("\\" + e)
            class_start = False
            continue
        if in_class:
            if c == "]" and not class_start:
                in_class = False
                out.append("]")
            elif c == "[":
                out.append("\\[")
            else:
                out.append(c)
            class_start = False
            i += 1
            continue
        if c == "[":
            if pattern.startswith("[^]", i):
                out.append("(?s:.)")
                i += 3
                continue
            if pattern.startswith("[]", i):
                out.append("(?!)")
                i += 2
                continue
            in_class = True
            class_start = True
            out.append("[")
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            continue
        if c == ".":
            out.append(f"[^{_LINE_TERMINATORS}]")
        elif c == "(" and pattern.startswith("(?<", i) and not pattern.startswith("(?<=", i) \
                and not pattern.startswith("(?<!", i):
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    if in_class:
        raise SchemaError(f"unterminated character class in pattern {pattern!r}", pointer=where)
    return "".join(out)


def _split_top_level(pattern: str) -> list[str]:
    parts, depth, in_class, cur, i = [], 0, False, [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            cur.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _ends_with_unescaped_dollar(s: str) -> bool:
    if not s.endswith("$"):
        return False
    k = len(s) - 2
    slashes = 0
    while k >= 0 and s[k] == "\\":
        slashes += 1
        k -= 1
    return slashes % 2 == 0


def ecma_search_to_fullmatch(pattern: str, where: str = "#") -> str:
    """A Python pattern whose full matches are the strings ``pattern`` matches *somewhere*
    (JSON Schema semantics). ``^``/``$`` are honoured at the ends of top-level
    alternatives; elsewhere they raise :class:`UnsupportedFeatureError`."""
    alternatives = []
    for alt in _split_top_level(pattern):
        anchored_start = alt.startswith("^")
        body = alt[1:] if anchored_start else alt
        anchored_end = _ends_with_unescaped_dollar(body)
        if anchored_end:
            body = body[:-1]
        translated = ecma_to_python(body, where)
        prefix = "" if anchored_start else "(?s:.)*"
        suffix = "" if anchored_end else "(?s:.)*"
        alternatives.append(f"{prefix}(?:{translated}){suffix}")
    return "|".join(alternatives)
