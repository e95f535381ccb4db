"""Numeric JSON Schema constraints -> exact byte automata over JSON number text.

Bounds are compared on the decimal digits (no float rounding): integer ranges become digit
regexes, ``multipleOf`` an integer becomes a remainder automaton, and the pieces are
intersected as DFAs. Which spellings of a number are accepted is fixed here and listed in
``docs/json_schema.md``: integers without exponent or fraction; numbers with an exponent
only when no bound or multiple applies.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

import numpy as np

from compilers.automata import ByteDFA, build_terminal_dfa, intersect_dfas
from compilers.errors import SchemaError, UnsupportedFeatureError

__all__ = ["integer_dfa", "integer_range_regex", "number_dfa"]

INT_RE = r"-?(?:0|[1-9][0-9]*)"
FRAC_RE = r"(?:\.[0-9]+)?"
EXP_RE = r"(?:[eE][+-]?[0-9]+)?"
NUMBER_RE = INT_RE + FRAC_RE + EXP_RE


def _same_length(lo: str, hi: str) -> str:
    """Regex for the decimal strings of one length between ``lo`` and ``hi``."""
    if lo == hi:
        return lo
    if len(lo) == 1:
        return f"[{lo}-{hi}]"
    if lo[0] == hi[0]:
        return lo[0] + "(?:" + _same_length(lo[1:], hi[1:]) + ")"
    k = len(lo) - 1
    parts = []
    if lo[1:] == "0" * k:
        first_lo = int(lo[0])
    else:
        parts.append(lo[0] + "(?:" + _same_length(lo[1:], "9" * k) + ")")
        first_lo = int(lo[0]) + 1
    if hi[1:] == "9" * k:
        first_hi = int(hi[0])
        tail = None
    else:
        first_hi = int(hi[0]) - 1
        tail = hi[0] + "(?:" + _same_length("0" * k, hi[1:]) + ")"
    if first_lo <= first_hi:
        parts.append(f"[{first_lo}-{first_hi}][0-9]{{{k}}}")
    if tail is not None:
        parts.append(tail)
    return "|".join(parts)


def _nonneg_range(lo: int, hi: int | None) -> str:
    """Regex for canonical decimal integers ``lo <= n <= hi`` (``hi`` None: unbounded)."""
    parts = []
    if lo == 0:
        parts.append("0")
        lo = 1
    if hi is not None and lo > hi:
        return "|".join(parts) if parts else "(?!)"
    top_len = len(str(hi)) if hi is not None else len(str(lo))
    for length in range(len(str(lo)), top_len + 1):
        a = max(lo, 10 ** (length - 1))
        b = 10**length - 1 if hi is None else min(hi, 10**length - 1)
        if a <= b:
            parts.append(_same_length(str(a), str(b)))
    if hi is None:
        parts.append(f"[1-9][0-9]{{{top_len},}}")
    return "|".join(f"(?:{p})" for p in parts) if parts else "(?!)"


def integer_range_regex(lo: int | None, hi: int | None) -> str:
    """Regex for JSON integers (``-0`` included when 0 is in range) with lo <= n <= hi."""
    if lo is not None and hi is not None and lo > hi:
        return "(?!)"
    parts = []
    # Non-negative side.
    if hi is None or hi >= 0:
        parts.append(_nonneg_range(max(lo, 0) if lo is not None else 0, hi))
    # Negative side: -m for m in [max(1, -hi), -lo].
    if lo is None or lo < 0:
        m_lo = 1 if hi is None or hi >= 0 else -hi
        m_hi = None if lo is None else -lo
        parts.append("-(?:" + _nonneg_range(m_lo, m_hi) + ")")
    if (lo is None or lo <= 0) and (hi is None or hi >= 0):
        parts.append("-0")
    return "|".join(f"(?:{p})" for p in parts)


def _as_decimal(value: object, keyword: str, pointer: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{keyword!r} must be a number, got {value!r}",
                          pointer=f"{pointer}/{keyword}")
    try:
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise SchemaError(f"{keyword!r} is not a finite number", pointer=pointer) from None
    if not d.is_finite():
        raise SchemaError(f"{keyword!r} must be finite, got {value!r}",
                          pointer=f"{pointer}/{keyword}")
    return d


def _bounds(schema: dict[str, object], pointer: str) -> tuple[Decimal | None, bool,
                                                             Decimal | None, bool]:
    """(low, low_exclusive, high, high_exclusive) with draft-4 boolean exclusives folded."""
    lo = hi = None
    lo_ex = hi_ex = False
    if "minimum" in schema:
        lo = _as_decimal(schema["minimum"], "minimum", pointer)
    if "maximum" in schema:
        hi = _as_decimal(schema["maximum"], "maximum", pointer)
    ex_min, ex_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_min, bool):
        lo_ex = ex_min and lo is not None
    elif ex_min is not None:
        v = _as_decimal(ex_min, "exclusiveMinimum", pointer)
        if lo is None or v >= lo:
            lo, lo_ex = v, True
    if isinstance(ex_max, bool):
        hi_ex = ex_max and hi is not None
    elif ex_max is not None:
        v = _as_decimal(ex_max, "exclusiveMaximum", pointer)
        if hi is None or v <= hi:
            hi, hi_ex = v, True
    return lo, lo_ex, hi, hi_ex


def _int_bounds(lo: Decimal | None, lo_ex: bool, hi: Decimal | None,
                hi_ex: bool) -> tuple[int | None, int | None]:
    a = None if lo is None else (math.floor(lo) + 1 if lo_ex and lo == lo.to_integral_value()
                                 else math.ceil(lo))
    b = None if hi is None else (math.ceil(hi) - 1 if hi_ex and hi == hi.to_integral_value()
                                 else math.floor(hi))
    return a, b


def _multiple_of_dfa(k: int) -> ByteDFA:
    """JSON integers (canonical digits) divisible by ``k``: remainder states."""
    # States: 0 start, 1 after '-', 2 after a leading '0', 3 + r for remainder r.
    n = 3 + k
    trans = np.full((n, 256), -1, dtype=np.int32)
    accept = np.zeros(n, dtype=np.bool_)
    trans[0, ord("-")] = 1
    for s in (0, 1):
        trans[s, ord("0")] = 2
        for d in range(1, 10):
            trans[s, ord("0") + d] = 3 + d % k
    accept[2] = True
    for r in range(k):
        for d in range(10):
            trans[3 + r, ord("0") + d] = 3 + (10 * r + d) % k
    accept[3] = True
    from compilers.automata import _minimize, _trim

    return _trim(*_minimize(trans, accept))


def integer_dfa(schema: dict[str, object], pointer: str, max_states: int) -> ByteDFA:
    """Exact automaton for an ``integer`` schema's bounds and ``multipleOf``."""
    a, b = _int_bounds(*_bounds(schema, pointer))
    dfa = build_terminal_dfa(integer_range_regex(a, b), False)
    if "multipleOf" in schema:
        m = _as_decimal(schema["multipleOf"], "multipleOf", pointer)
        if m <= 0:
            raise SchemaError("'multipleOf' must be greater than 0",
                              pointer=f"{pointer}/multipleOf")
        if m == m.to_integral_value():
            k = int(m)
            if k > 10_000:
                raise UnsupportedFeatureError("multipleOf above 10000 for integers",
                                              location=f"{pointer}/multipleOf")
            if k > 1:
                dfa = intersect_dfas(dfa, _multiple_of_dfa(k), max_states=max_states,
                                     where=pointer)
        elif (1 / m) != (1 / m).to_integral_value():
            raise UnsupportedFeatureError(
                "multipleOf that is neither an integer nor 1/n for integer n",
                location=f"{pointer}/multipleOf")
        # multipleOf 1/n: every integer is a multiple.
    return dfa


def _unsigned_between(p: int, q: int | None, p_ex: bool, q_ex: bool,
                      frac_digits: int | None) -> str:
    """Regex for unsigned decimals ``I`` or ``I.F`` with p <(=) value <(=) q, p, q integers."""
    frac_any = r"\.[0-9]+" if frac_digits is None else rf"\.[0-9]{{1,{frac_digits}}}0*"
    zeros = r"(?:\.0+)?"
    nonzero = r"\.[0-9]*[1-9][0-9]*" if frac_digits is None else \
        rf"\.[0-9]{{0,{frac_digits - 1}}}[1-9]0*"
    parts = []
    # Integer part strictly between the bounds: any fraction.
    inner_lo = p + 1
    inner_hi = None if q is None else q - 1
    if inner_hi is None or inner_lo <= inner_hi:
        parts.append(f"(?:{_nonneg_range(inner_lo, inner_hi)})(?:{frac_any})?")
    if q is not None and p == q:
        if not p_ex and not q_ex:
            parts.append(f"{p}{zeros}")
        return "|".join(f"(?:{x})" for x in parts) or "(?!)"
    # Integer part == p: value >= p always; > p needs a nonzero fraction.
    parts.append(f"{p}(?:{nonzero})" if p_ex else f"{p}(?:{frac_any})?")
    # Integer part == q: value <= q only with a zero fraction.
    if q is not None and not q_ex:
        parts.append(f"{q}{zeros}")
    return "|".join(f"(?:{x})" for x in parts)


def number_dfa(schema: dict[str, object], pointer: str, max_states: int) -> ByteDFA:
    """Exact automaton for a ``number`` schema's bounds and decimal ``multipleOf``."""
    lo, lo_ex, hi, hi_ex = _bounds(schema, pointer)
    frac_digits: int | None = None
    if "multipleOf" in schema:
        m = _as_decimal(schema["multipleOf"], "multipleOf", pointer)
        if m <= 0:
            raise SchemaError("'multipleOf' must be greater than 0",
                              pointer=f"{pointer}/multipleOf")
        exponent = m.normalize().as_tuple().exponent
        if m == m.to_integral_value():
            # A multiple of an integer is an integer: reuse the integer automaton.
            base = integer_dfa({**schema, "multipleOf": int(m)}, pointer, max_states)
            return base
        if not isinstance(exponent, int) or m.normalize() != Decimal(1).scaleb(exponent):
            raise UnsupportedFeatureError("multipleOf other than an integer or a power of "
                                          "ten (0.1, 0.01, ...) for numbers",
                                          location=f"{pointer}/multipleOf")
        frac_digits = -exponent
    if lo is None and hi is None:
        if frac_digits is None:
            return build_terminal_dfa(NUMBER_RE, False)
        return build_terminal_dfa(INT_RE + rf"(?:\.[0-9]{{1,{frac_digits}}}0*)?", False)
    if any(v is not None and v != v.to_integral_value() for v in (lo, hi)):
        return _decimal_bounds_dfa(lo, lo_ex, hi, hi_ex, frac_digits, max_states, pointer)
    ilo = None if lo is None else int(lo)
    ihi = None if hi is None else int(hi)
    if ilo is not None and ihi is not None and (ilo > ihi or (ilo == ihi and (lo_ex or hi_ex))):
        return build_terminal_dfa("(?!)", False)
    parts = []
    # Non-negative values.
    if ihi is None or ihi >= 0:
        p = max(ilo, 0) if ilo is not None else 0
        p_ex = lo_ex if ilo is not None and ilo >= 0 else False
        parts.append(_unsigned_between(p, ihi, p_ex, hi_ex, frac_digits))
    # Negative values -y: y between max(0, -hi) and -lo.
    if ilo is None or ilo < 0:
        y_lo = 0 if ihi is None or ihi >= 0 else -ihi
        y_lo_ex = True if ihi is None or ihi >= 0 else hi_ex
        y_hi = None if ilo is None else -ilo
        parts.append("-(?:" + _unsigned_between(y_lo, y_hi, y_lo_ex, lo_ex, frac_digits) + ")")
    return build_terminal_dfa("|".join(f"(?:{x})" for x in parts), False)


# -- non-integer bounds: one automaton per bound, intersected ------------------------------
_UNSIGNED = r"(?:0|[1-9][0-9]*)"
_DIGITS_AFTER = {True: "[0-9]*[1-9][0-9]*", False: "[0-9]*"}


def _split(v: Decimal) -> tuple[int, str]:
    """Integer part and fraction digits (no trailing zeros) of ``v >= 0``."""
    integer = int(v)
    frac = format(v - integer, "f").partition(".")[2].rstrip("0")
    return integer, frac


def _frac_at_least(d: str, strict: bool, allow_empty: bool) -> str:
    """Digit strings ``t`` (empty only if ``allow_empty``) with ``0.t >= 0.d`` (``>``)."""
    if not d:
        if strict:
            return _DIGITS_AFTER[True]
        return _DIGITS_AFTER[False] if allow_empty else "[0-9]+"
    first = int(d[0])
    parts = [f"{d[0]}(?:{_frac_at_least(d[1:], strict, True)})"]
    if first < 9:
        parts.append(f"[{first + 1}-9][0-9]*")
    return "|".join(f"(?:{x})" for x in parts)


def _frac_at_most(d: str, strict: bool, allow_empty: bool) -> str:
    """Digit strings ``t`` (empty only if ``allow_empty``) with ``0.t <= 0.d`` (``<``)."""
    if not d:
        return "(?!)" if strict else ("0*" if allow_empty else "0+")
    first = int(d[0])
    parts = [f"{d[0]}(?:{_frac_at_most(d[1:], strict, True)})"]
    if first > 0:
        parts.append(f"[0-{first - 1}][0-9]*")
    if allow_empty:
        parts.append("")  # 0 < 0.d: d has a nonzero digit
    return "|".join(f"(?:{x})" for x in parts)


def _unsigned_at_least(v: Decimal, strict: bool) -> str:
    """Unsigned decimals (``I`` or ``I.F``) ``>= v`` (``> v``), ``v >= 0``."""
    integer, frac = _split(v)
    above = rf"(?:{_nonneg_range(integer + 1, None)})(?:\.[0-9]+)?"
    equal = rf"{integer}(?:\.(?:{_frac_at_least(frac, strict, False)}))"
    if not frac and not strict:
        equal += "?"
    return f"{above}|{equal}"


def _unsigned_at_most(v: Decimal, strict: bool) -> str:
    """Unsigned decimals ``<= v`` (``< v``), ``v >= 0``."""
    integer, frac = _split(v)
    parts = []
    if integer >= 1:
        parts.append(rf"(?:{_nonneg_range(0, integer - 1)})(?:\.[0-9]+)?")
    if frac:
        parts.append(rf"{integer}(?:\.(?:{_frac_at_most(frac, strict, False)}))?")
    elif not strict:
        parts.append(rf"{integer}(?:\.0+)?")
    return "|".join(f"(?:{x})" for x in parts) or "(?!)"


def _at_least(v: Decimal, strict: bool) -> str:
    """JSON numbers (no exponent) ``>= v`` (``> v``)."""
    if v >= 0:
        out = _unsigned_at_least(v, strict)
        return out + (r"|-0(?:\.0+)?" if v == 0 and not strict else "")
    return rf"{_UNSIGNED}(?:\.[0-9]+)?|-(?:{_unsigned_at_most(-v, strict)})"


def _at_most(v: Decimal, strict: bool) -> str:
    """JSON numbers (no exponent) ``<= v`` (``< v``)."""
    if v < 0:
        return f"-(?:{_unsigned_at_least(-v, strict)})"
    negatives = (f"-(?:{_unsigned_at_least(Decimal(0), True)})" if v == 0 and strict
                 else rf"-{_UNSIGNED}(?:\.[0-9]+)?")
    return f"{negatives}|{_unsigned_at_most(v, strict)}"


def _decimal_bounds_dfa(lo: Decimal | None, lo_ex: bool, hi: Decimal | None, hi_ex: bool,
                        frac_digits: int | None, max_states: int, pointer: str) -> ByteDFA:
    """Numbers between decimal bounds: one automaton per bound (and one for ``multipleOf``
    a power of ten), intersected."""
    regexes = [rf"-?{_UNSIGNED}(?:\.[0-9]+)?"]
    if lo is not None:
        regexes.append(_at_least(lo, lo_ex))
    if hi is not None:
        regexes.append(_at_most(hi, hi_ex))
    if frac_digits is not None:
        regexes.append(INT_RE + rf"(?:\.[0-9]{{1,{frac_digits}}}0*)?")
    dfa = build_terminal_dfa(regexes[0], False)
    for rx in regexes[1:]:
        dfa = intersect_dfas(dfa, build_terminal_dfa(rx, False), max_states=max_states,
                             where=pointer)
    return dfa
