"""JSON Schema ``format`` -> a Python regex over the decoded string (matched as a whole).

Each regex accepts a subset of what the format's RFC allows, and never more than Python's
``jsonschema`` format checker accepts, so that a matched string always validates; dates are
exact on the calendar (month lengths, leap years). Formats not listed here raise
:class:`UnsupportedFeatureError`.
"""

from __future__ import annotations

__all__ = ["FORMAT_REGEXES", "format_regex"]

_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
# Years 0001-9999 (Python's datetime, which jsonschema's checker uses, has no year 0).
_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    rf"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    rf"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    rf"|{_LEAP_YEAR}-02-29)"
)
# Leap seconds (:60) are refused: they are valid only at 23:59:60 UTC (narrower).
_TIME_NO_OFFSET = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
_OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_TIME = _TIME_NO_OFFSET + _OFFSET
_DATE_TIME = _DATE + "[Tt]" + _TIME

# RFC 3339 appendix A: units chain (Y [M [D]], H [M [S]]).
_DUR_TIME = r"T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
_DURATION = (
    r"P(?:(?:[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?|[0-9]+M(?:[0-9]+D)?|[0-9]+D)(?:" + _DUR_TIME
    + r")?|" + _DUR_TIME + r"|[0-9]+W)"
)

# A label: letters, digits, inner hyphens; never "--" in positions 3-4 (reserved for
# IDNA "xn--" labels, which would need Punycode checks: refused, narrower).
_A, _H = "[A-Za-z0-9]", "[A-Za-z0-9-]"


def _label(most: int) -> str:
    """A label of at most ``most`` characters (1 + 1 + 2 + (most - 5) + 1)."""
    return (f"{_A}(?:{_A}|{_H}{_A}|{_H}(?:{_A}|-){_A}"
            f"|{_H}(?:{_A}{_H}|-{_A}){_H}{{0,{most - 5}}}{_A})?")


# Up to four labels, at most 253 characters in all (3 * 63 + 61 + 3 dots).
_LABEL = _label(63)
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL}(?:\.{_LABEL}(?:\.{_label(61)})?)?)?"
_EMAIL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@" + _HOSTNAME

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{_IPV4})"
_IPV6 = "|".join([
    rf"(?:{_H16}:){{6}}{_LS32}",
    rf"::(?:{_H16}:){{5}}{_LS32}",
    rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
    rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
    rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
    rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
])

_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"

# RFC 3986, restricted to ASCII characters that need no judgement.
_UNRESERVED = r"[A-Za-z0-9._~-]"
_PCT = r"%[0-9A-Fa-f]{2}"
_SUB_DELIMS = r"[!$&'()*+,;=]"
_PCHAR = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|[:@])"
_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*"
_HOST = rf"(?:{_IPV4}|\[(?:{_IPV6})\]|(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS})*)"
_AUTHORITY = rf"(?:(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|:)*@)?{_HOST}(?::[0-9]*)?"
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_QUERY = rf"(?:\?(?:{_PCHAR}|[/?])*)?"
_FRAGMENT = rf"(?:#(?:{_PCHAR}|[/?])*)?"
_HIER = rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|/(?:{_PCHAR}+{_PATH_ABEMPTY})?|{_PCHAR}+{_PATH_ABEMPTY})?"
_URI = rf"{_SCHEME}:{_HIER}{_QUERY}{_FRAGMENT}"
_SEGMENT_NC = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|@)+"
_RELATIVE = (rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|/(?:{_PCHAR}+{_PATH_ABEMPTY})?"
             rf"|{_SEGMENT_NC}{_PATH_ABEMPTY})?{_QUERY}{_FRAGMENT}")
_URI_REFERENCE = rf"(?:{_URI}|{_RELATIVE})"

# RFC 6570 URI templates, ASCII: literals and {operator? varname[:n|*], ...} expressions.
_TEMPLATE_LITERAL = rf"(?:[!#$&()*+,./0-9:;=?@A-Z\[\]_a-z~-]|{_PCT})"
_VARCHAR = rf"(?:[A-Za-z0-9_]|{_PCT})"
_VARSPEC = rf"{_VARCHAR}(?:\.?{_VARCHAR})*(?::[1-9][0-9]{{0,3}}|\*)?"
_URI_TEMPLATE = rf"(?:{_TEMPLATE_LITERAL}|\{{[+#./;?&=,!@|]?{_VARSPEC}(?:,{_VARSPEC})*\}})*"

_JSON_POINTER = r"(?:/(?:[^~/]|~[01])*)*"
_RELATIVE_JSON_POINTER = rf"(?:0|[1-9][0-9]*)(?:#|{_JSON_POINTER})"



def _ecma_regex(depth: int) -> str:
    """Regular expressions valid in ECMA-262 (unicode mode) and in Python's ``re`` alike, with
    groups nested at most ``depth`` deep: literals other than syntax characters, escapes of
    syntax characters and of ``dDwWsSnrtfv``, ``.``, classes of single characters, escapes
    and ascending ranges within digits or letters, ``(...)`` and ``(?:...)``, anchors
    (never quantified), and ``* + ? {n} {n,} {n,m}`` (n, m below 100, n <= m), each
    optionally lazy. A narrower language than "valid regex" (bounded nesting makes it
    regular), so sound."""
    literal = r"[^\\^$.|?*+()\[\]{}]"
    escape = r"\\[dDwWsSnrtfv\\^$.|?*+()\[\]{}/]"
    ranges = "|".join(f"{a}-[{a}-{z}]" for lo, z in (("0", "9"), ("a", "z"), ("A", "Z"))
                      for a in (chr(c) for c in range(ord(lo), ord(z) + 1)))
    class_item = rf"(?:[^\\\]\[^-]|\\[dDwWsSnrtfv\\^$.|?*+()\[\]{{}}/-]|{ranges})"
    char_class = rf"\[\^?{class_item}+\]"
    # {n,m} needs n <= m: one or two digits each, compared digit by digit.
    bounded = [f"{a},[{a}-9]" for a in range(10)] + ["[0-9],[1-9][0-9]"]
    bounded += [f"{a}[0-9],[{a + 1}-9][0-9]" for a in range(1, 9)]
    bounded += [f"{a}{b},{a}[{b}-9]" for a in range(1, 10) for b in range(10)]
    quantifier = rf"(?:(?:[*+?]|\{{[0-9]{{1,2}},?\}}|\{{(?:{'|'.join(bounded)})\}})\??)"
    anchor = r"(?:\^|\$|\\[bB])"
    plain_atom = rf"{literal}|{escape}|\.|{char_class}"
    alternatives = ""
    for level in range(depth + 1):
        group = rf"|\((?:\?:)?{alternatives}\)" if level else ""  # the level below
        # Empty alternatives are valid ("a||b", "(|a)"): "|" may stand anywhere.
        alternatives = rf"(?:(?:{plain_atom}{group}){quantifier}?|{anchor}|\|)*"
    return alternatives


FORMAT_REGEXES: dict[str, str] = {
    "regex": _ecma_regex(3),
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE_TIME,
    "duration": _DURATION,
    "email": _EMAIL,
    "hostname": _HOSTNAME,
    "ipv4": _IPV4,
    "ipv6": _IPV6,
    "uuid": _UUID,
    "uri": _URI,
    "uri-reference": _URI_REFERENCE,
    "json-pointer": _JSON_POINTER,
    "uri-template": _URI_TEMPLATE,
    # Internationalised forms: their ASCII subsets (every ASCII hostname, address, URI is
    # also a valid IDN hostname, IDN address, IRI): narrower.
    "idn-hostname": _HOSTNAME,
    "idn-email": _EMAIL,
    "iri": _URI,
    "iri-reference": _URI_REFERENCE,
    "relative-json-pointer": _RELATIVE_JSON_POINTER,
}


def format_regex(name: str) -> str | None:
    """The regex for a supported format, or None."""
    return FORMAT_REGEXES.get(name)
