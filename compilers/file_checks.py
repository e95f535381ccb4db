"""Checks on a compiled grammar read from a file, before any kernel indexes its arrays.

The numba kernels do not check bounds, so a damaged or forged file must be refused here:
every state id, rule id and offset is checked to lie in range, and every array to have
the shape and type the rest of the engine expects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compilers.errors import GrammarEngineError

__all__ = ["check_compiled_arrays"]


class _Damaged(Exception):
    pass


def _int_array(arrays: dict[str, Any], name: str, ndim: int) -> np.ndarray[Any, Any]:
    a = arrays.get(name)
    if not isinstance(a, np.ndarray) or a.ndim != ndim or a.dtype.kind not in "iu":
        raise _Damaged(f"array {name!r} is missing or not a {ndim}-d integer array")
    return a


def _in_range(a: np.ndarray[Any, Any], lo: int, hi: int, what: str) -> None:
    if a.size and (int(a.min()) < lo or int(a.max()) >= hi):
        raise _Damaged(f"{what} out of range [{lo}, {hi})")


def check_compiled_arrays(path: str, header: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Raise :class:`GrammarEngineError` if the arrays of ``path`` are inconsistent."""
    try:
        _check(header, arrays)
    except _Damaged as e:
        raise GrammarEngineError(f"{path} is damaged: {e}; recompile it") from None


def _check_automaton(arrays: dict[str, Any], prefix: str, what: str) -> None:
    """``{prefix}_trans`` is an ``(n, 256)`` table of states below ``n`` (or -1) and
    ``{prefix}_accept`` its ``n`` accept flags."""
    trans = _int_array(arrays, f"{prefix}_trans", 2)
    accept = arrays.get(f"{prefix}_accept")
    if trans.shape[1:] != (256,) or not isinstance(accept, np.ndarray) \
            or accept.dtype != np.bool_ or accept.shape != (trans.shape[0],):
        raise _Damaged(f"{what} has the wrong shape")
    _in_range(trans, -1, trans.shape[0], f"{what} state")


def _check(header: dict[str, Any], arrays: dict[str, Any]) -> None:
    meta = header.get("table")
    grammar = header.get("grammar")
    n_dfas = header.get("n_dfas")
    if not isinstance(meta, dict) or not isinstance(grammar, dict) or not isinstance(n_dfas, int):
        raise _Damaged("header lacks the table, the grammar or the terminal count")
    terminals, nonterminals = meta.get("terminals"), meta.get("nonterminals")
    if not isinstance(terminals, list) or not isinstance(nonterminals, list):
        raise _Damaged("header lacks the terminal or nonterminal names")
    if len(grammar.get("terminals", ())) != n_dfas or len(terminals) != n_dfas + 1:
        raise _Damaged("terminal counts disagree")
    for i in range(n_dfas):
        _check_automaton(arrays, f"dfa{i}", f"automaton {i}")
    n_excludes = header.get("n_excludes")
    if not isinstance(n_excludes, list) or len(n_excludes) != n_dfas or \
            not all(isinstance(k, int) and 0 <= k <= 1 << 16 for k in n_excludes):
        raise _Damaged("header lacks the excluded automata's counts")
    for i, k in enumerate(n_excludes):
        for j in range(k):
            _check_automaton(arrays, f"dfa{i}_exclude{j}",
                             f"excluded automaton {j} of terminal {i}")
    goto = _int_array(arrays, "goto", 2)
    n_states, n_terms, n_nts = goto.shape[0], len(terminals), len(nonterminals)
    if goto.shape[1] != n_nts or n_states == 0:
        raise _Damaged("goto table has the wrong shape")
    _in_range(goto, -1, n_states, "goto target")
    cell_start = _int_array(arrays, "cell_start", 1)
    actions = _int_array(arrays, "cell_actions", 1)
    if cell_start.shape != (n_states * n_terms + 1,) or int(cell_start[0]) != 0 \
            or int(cell_start[-1]) != len(actions) or (np.diff(cell_start) < 0).any():
        raise _Damaged("action offsets are inconsistent")
    rule_lhs = _int_array(arrays, "rule_lhs", 1)
    rule_len = _int_array(arrays, "rule_len", 1)
    if rule_lhs.shape != rule_len.shape:
        raise _Damaged("rule arrays differ in length")
    _in_range(rule_lhs, 0, n_nts, "rule left-hand side")
    _in_range(rule_len, 0, 1 << 20, "rule length")
    _in_range(actions, -len(rule_lhs), n_states, "parse action")
    start = meta.get("start_state")
    if not isinstance(start, int) or not 0 <= start < n_states:
        raise _Damaged("start state out of range")
