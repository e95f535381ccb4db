"""LALR(1) construction on integer symbols: the LR(0) automaton, then DeRemer and
Pennello's look-ahead sets (reads, includes, lookback), with terminal sets as Python
integers used as bit sets.

Sits under :mod:`compilers.lr_tables`, which turns grammar names into integers, caches
tables by grammar shape and lays the result out as arrays. Symbols: terminals are
``0 .. n_terminals - 1`` (the last one is ``$END``), nonterminals are ``-1, -2, ...``
(nonterminal ``k`` is ``-1 - k``). An item ``(rule, dot)`` is the integer
``item_base[rule] + dot``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["LALRResult", "LR0Automaton", "build_lalr", "nullable_nonterminals"]


@dataclass
class LR0Automaton:
    """States numbered breadth first from the start state (0)."""

    kernels: list[tuple[int, ...]]
    transitions: list[dict[int, int]]  # state -> symbol -> state
    completed: list[tuple[int, ...]]  # state -> rules whose item is complete there


@dataclass
class LALRResult:
    automaton: LR0Automaton
    lookaheads: list[dict[int, int]]  # state -> rule -> bit set of look-ahead terminals
    root_rule: int  # the added rule ``$root -> start``; complete = accept on $END


def nullable_nonterminals(lhs: Sequence[int], rhs: Sequence[Sequence[int]]) -> set[int]:
    """Nonterminals that derive the empty string (a worklist over rules, linear)."""
    pending = [len(r) if all(s < 0 for s in r) else -1 for r in rhs]
    uses: dict[int, list[int]] = {}
    for i, r in enumerate(rhs):
        if pending[i] > 0:
            for sym in r:
                uses.setdefault(sym, []).append(i)
    work = [lhs[i] for i, r in enumerate(rhs) if not r]
    nullable: set[int] = set()
    while work:
        sym = work.pop()
        if sym in nullable:
            continue
        nullable.add(sym)
        for i in uses.get(sym, ()):  # one entry per occurrence of sym in the rule
            pending[i] -= 1
            if pending[i] == 0:
                work.append(lhs[i])
    return nullable


def build_lalr(n_terminals: int, lhs: Sequence[int], rhs: Sequence[Sequence[int]],
               start: int, check: Callable[[str, int], None] | None = None) -> LALRResult:
    """LALR(1) automaton and look-aheads of the grammar ``lhs[i] -> rhs[i]``.

    ``start`` is a nonterminal; a rule ``$root -> start`` is added (its index is
    ``len(lhs)``, its nonterminal one past the largest used). ``$END`` is the terminal
    ``n_terminals - 1``. ``check(phase, n_states)`` is called as the automaton grows and
    before the look-aheads (to enforce budgets; it raises to stop).
    """
    n_nt = 1 + max([-1 - x for x in lhs] + [-1 - start], default=0)
    root = -1 - n_nt
    lhs = [*lhs, root]
    rhs = [tuple(r) for r in rhs] + [(start,)]
    root_rule = len(lhs) - 1
    automaton = _lr0(lhs, rhs, n_nt + 1, check)
    if check is not None:
        check("LALR(1) look-aheads", len(automaton.kernels))
    lookaheads = _lookaheads(automaton, lhs, rhs, n_nt + 1, n_terminals, start)
    return LALRResult(automaton, lookaheads, root_rule)


def _lr0(lhs: list[int], rhs: list[tuple[int, ...]], n_nt: int,
         check: Callable[[str, int], None] | None) -> LR0Automaton:
    item_base = []
    item_rule: list[int] = []
    for r, body in enumerate(rhs):
        item_base.append(len(item_rule))
        item_rule.extend([r] * (len(body) + 1))
    item_next = [rhs[item_rule[i]][i - item_base[item_rule[i]]]
                 if i - item_base[item_rule[i]] < len(rhs[item_rule[i]]) else None
                 for i in range(len(item_rule))]
    rules_of: list[list[int]] = [[] for _ in range(n_nt)]
    for r, a in enumerate(lhs):
        rules_of[-1 - a].append(r)

    # Per nonterminal: the nonterminals its closure expands (leading nonterminals,
    # transitively), and each of its rules' first move (symbol, advanced item) or its
    # completion (empty rule).
    first_moves: list[list[tuple[int, int]]] = [[] for _ in range(n_nt)]
    empty_rules: list[list[int]] = [[] for _ in range(n_nt)]
    leading: list[set[int]] = [set() for _ in range(n_nt)]
    for k in range(n_nt):
        for r in rules_of[k]:
            body = rhs[r]
            if body:
                first_moves[k].append((body[0], item_base[r] + 1))
                if body[0] < 0:
                    leading[k].add(-1 - body[0])
            else:
                empty_rules[k].append(r)
    reach_memo: dict[int, frozenset[int]] = {}

    def reach(k: int) -> frozenset[int]:
        got = reach_memo.get(k)
        if got is None:
            seen = {k}
            todo = [k]
            while todo:
                for j in leading[todo.pop()]:
                    if j not in seen:
                        seen.add(j)
                        todo.append(j)
            got = reach_memo[k] = frozenset(seen)
        return got

    root_kernel = (item_base[len(rhs) - 1],)
    kernels: list[tuple[int, ...]] = [root_kernel]
    index: dict[tuple[int, ...], int] = {root_kernel: 0}
    transitions: list[dict[int, int]] = []
    completed: list[tuple[int, ...]] = []
    s = 0
    while s < len(kernels):
        if check is not None and s & 255 == 255:
            check("LR(0) states", len(kernels))
        moves: dict[int, list[int]] = {}
        done: list[int] = []
        expand: set[int] = set()
        for item in kernels[s]:
            sym = item_next[item]
            if sym is None:
                done.append(item_rule[item])
                continue
            moves.setdefault(sym, []).append(item + 1)
            if sym < 0:
                k = -1 - sym
                if k not in expand:
                    expand |= reach(k)
        for k in sorted(expand):
            for sym, nxt in first_moves[k]:
                moves.setdefault(sym, []).append(nxt)
            done.extend(empty_rules[k])
        row: dict[int, int] = {}
        for sym, items in moves.items():
            kernel = tuple(sorted(set(items)))
            t = index.get(kernel)
            if t is None:
                t = index[kernel] = len(kernels)
                kernels.append(kernel)
            row[sym] = t
        transitions.append(row)
        completed.append(tuple(sorted(set(done))))
        s += 1
    return LR0Automaton(kernels, transitions, completed)


def _lookaheads(a: LR0Automaton, lhs: list[int], rhs: list[tuple[int, ...]], n_nt: int,
                n_terminals: int, start: int) -> list[dict[int, int]]:
    """DeRemer and Pennello: Read = DR closed under *reads*, Follow = Read closed under
    *includes*, LA(q, rule) = union of Follow over the rule's *lookback* transitions."""
    nullable = nullable_nonterminals(lhs, rhs)
    trans = a.transitions
    rules_of: list[list[int]] = [[] for _ in range(n_nt)]
    for r, x in enumerate(lhs):
        rules_of[-1 - x].append(r)
    # Position from which a rule's remaining symbols are all nullable.
    nullable_from = []
    for body in rhs:
        k = len(body)
        while k > 0 and body[k - 1] in nullable:
            k -= 1
        nullable_from.append(k)

    # Nonterminal transitions (state, A), numbered ($root is on no right-hand side).
    nt_index: dict[tuple[int, int], int] = {}
    nt_list: list[tuple[int, int]] = []
    for p, row in enumerate(trans):
        for sym in row:
            if sym < 0:
                nt_index[(p, sym)] = len(nt_list)
                nt_list.append((p, sym))
    n = len(nt_list)

    direct = [0] * n
    reads: list[list[int]] = [[] for _ in range(n)]
    for x, (p, sym) in enumerate(nt_list):
        r = trans[p][sym]
        bits = 0
        for s2 in trans[r]:
            if s2 >= 0:
                bits |= 1 << s2
            elif s2 in nullable:
                reads[x].append(nt_index[(r, s2)])
        direct[x] = bits
    end_bit = 1 << (n_terminals - 1)
    x0 = nt_index.get((0, start))
    if x0 is not None:
        direct[x0] |= end_bit

    includes: list[list[int]] = [[] for _ in range(n)]
    lookback: dict[tuple[int, int], list[int]] = {}
    for x, (p, sym) in enumerate(nt_list):
        for r in rules_of[-1 - sym]:
            body = rhs[r]
            q = p
            tail = nullable_from[r]
            for i, s2 in enumerate(body):
                if s2 < 0 and i + 1 >= tail:
                    includes[nt_index[(q, s2)]].append(x)
                q = trans[q][s2]
            lookback.setdefault((q, r), []).append(x)

    read_sets = _digraph(reads, direct)
    follow = _digraph(includes, read_sets)

    la: list[dict[int, int]] = [{} for _ in trans]
    for (q, r), xs in lookback.items():
        bits = 0
        for x in xs:
            bits |= follow[x]
        if bits:
            la[q][r] = bits
    return la


def _digraph(edges: list[list[int]], init: list[int]) -> list[int]:
    """F(x) = init(x) | union of F(y) over edges x -> y, every strongly connected
    component sharing one set (DeRemer and Pennello's DIGRAPH, iterative)."""
    n = len(init)
    f = list(init)
    low = [0] * n  # 0: not visited; _DONE: finished; else the lowest stack depth reached
    stack: list[int] = []
    for root in range(n):
        if low[root]:
            continue
        stack.append(root)
        low[root] = len(stack)
        work = [[root, 0, len(stack)]]  # frames: node, next edge, depth when pushed
        while work:
            frame = work[-1]
            x, i = frame[0], frame[1]
            ex = edges[x]
            if i < len(ex):
                frame[1] = i + 1
                y = ex[i]
                if low[y] == 0:
                    stack.append(y)
                    low[y] = len(stack)
                    work.append([y, 0, len(stack)])
                    continue
                if low[y] < low[x]:
                    low[x] = low[y]
                f[x] |= f[y]
                continue
            work.pop()
            if low[x] == frame[2]:  # x is the root of its component
                while True:
                    z = stack.pop()
                    low[z] = _DONE
                    f[z] = f[x]
                    if z == x:
                        break
            if work:
                parent = work[-1][0]
                if low[x] < low[parent]:
                    low[parent] = low[x]
                f[parent] |= f[x]
    return f


_DONE = 1 << 62
