"""ECMA-262 Unicode property escapes (``\\p{...}``, ``\\P{...}``) -> character class bodies.

General categories only (short or long names, optionally as ``gc=``/``General_Category=``),
plus ``Any``, ``ASCII`` and ``Assigned``; the code points come from Python's
``unicodedata`` (see ``compilers.charset.general_categories``). Scripts and other binary
properties raise :class:`UnsupportedFeatureError`.
"""

from __future__ import annotations

from compilers.charset import ANY_CHAR, CharSet, complement, general_categories, normalize
from compilers.errors import UnsupportedFeatureError

__all__ = ["property_class_body"]

_LONG = {
    "Letter": "L", "Cased_Letter": "LC", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll",
    "Titlecase_Letter": "Lt", "Modifier_Letter": "Lm", "Other_Letter": "Lo", "Mark": "M",
    "Combining_Mark": "M", "Nonspacing_Mark": "Mn", "Spacing_Mark": "Mc",
    "Enclosing_Mark": "Me", "Number": "N", "Decimal_Number": "Nd", "digit": "Nd",
    "Letter_Number": "Nl", "Other_Number": "No", "Punctuation": "P", "punct": "P",
    "Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd", "Open_Punctuation": "Ps",
    "Close_Punctuation": "Pe", "Initial_Punctuation": "Pi", "Final_Punctuation": "Pf",
    "Other_Punctuation": "Po", "Symbol": "S", "Math_Symbol": "Sm", "Currency_Symbol": "Sc",
    "Modifier_Symbol": "Sk", "Other_Symbol": "So", "Separator": "Z", "Space_Separator": "Zs",
    "Line_Separator": "Zl", "Paragraph_Separator": "Zp", "Other": "C", "Control": "Cc",
    "cntrl": "Cc", "Format": "Cf", "Surrogate": "Cs", "Private_Use": "Co",
    "Unassigned": "Cn",
}


def _category(name: str) -> CharSet | None:
    cats = general_categories()
    short = _LONG.get(name, name)
    if short == "LC":
        wanted = ["Lu", "Ll", "Lt"]
    elif len(short) == 1:
        wanted = [c for c in cats if c[0] == short]
        if short == "C":
            wanted.append("Cn")
    elif short in cats or short in ("Cs", "Cn"):
        wanted = [short]
    else:
        return None
    ranges = [r for c in wanted if c != "Cn" for r in cats.get(c, ())]
    if "Cn" in wanted:  # unassigned: what no category lists
        assigned = normalize(r for c, rs in cats.items() for r in rs)
        ranges += list(complement(assigned))
    return normalize(ranges)


def property_class_body(name: str, negated: bool, where: str) -> str:
    """The inside of a Python character class for ``\\p{name}`` (``\\P`` if negated)."""
    value = name.split("=", 1)[1] if name.startswith(("gc=", "General_Category=")) else name
    if "=" in value:  # Script=..., Script_Extensions=...
        chars: CharSet | None = None
    elif value == "Any":
        chars = ANY_CHAR
    elif value == "ASCII":
        chars = ((0, 0x7F),)
    elif value == "Assigned":
        cn = _category("Cn")
        chars = None if cn is None else complement(cn)
    else:
        chars = _category(value)
    if chars is None:
        raise UnsupportedFeatureError(f"Unicode property \\p{{{name}}} in a pattern (general "
                                      "categories only)", location=where)
    if negated:
        chars = complement(chars)
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}"
                   for lo, hi in chars)
