"""Plain text in the input language, with minimal parentheses.

Printing is bottom-up over the DAG (no recursion), each node giving ``(text, prec)``.
Whatever this printer writes for an expression the language can express parses back
to the same node (the round-trip tests hold it to that).
"""

from __future__ import annotations

import sympy as sp

from .. import ops
from ..errors import MdiffError
from ..expr import Expr, fmt_dim, postorder, register_text_printer
from .precedence import ADD, ATOM, KRON, MUL, NEG, POSTFIX, POW


def number_text(v) -> tuple[str, int]:
    v = sp.Rational(v)
    if v.q == 1:
        return (str(v.p), ATOM if v >= 0 else NEG)
    return (f"{v.p}/{v.q}", MUL if v > 0 else NEG)


def _wrap(item, min_prec):
    text, prec = item
    return text if prec >= min_prec else f"({text})"


def _is_reciprocal(s: Expr) -> bool:
    return s.op == "pow" and s.args[1].op == "num" and bool(s.args[1].data < 0)


def divides(s: Expr, bound) -> bool:
    """A 1/x factor written as a denominator (one let-bound is written as its name)."""
    return _is_reciprocal(s) and id(s) not in bound


def _fill_text(e: Expr, sized: bool):
    v, _ = number_text(e.data)
    if e.cols == 1:
        return (f"vector({v}, {fmt_dim(e.rows)})" if sized else f"vector({v})", ATOM)
    if e.rows == 1:
        return (f"vector({v}, {fmt_dim(e.cols)})'" if sized else f"vector({v})'", POSTFIX)
    if sized:
        return (f"matrix({v}, {fmt_dim(e.rows)}, {fmt_dim(e.cols)})", ATOM)
    return (f"matrix({v})", ATOM)


# --- which sizes the printed text fixes -----------------------------------------------------
#
# ``vector(1)`` reads back with whatever size the parser's unification gives it, so a
# constant is printed size-free only where its neighbours fix both of its sizes (the
# ``vector(1)`` in ``D*vector(1)``); elsewhere it is printed sized (``logsumexp(vector(0,
# n))``).  The analysis follows the parser's shape rules, conservatively: ``fixes`` is what
# a node's own text fixes (bottom-up), ``known`` adds what its context fixes (top-down); a
# function of the registry answers both from its shape rule (``shapes.Rule``).


def _fixes(e: Expr, fixes) -> tuple[bool, bool]:
    """(rows fixed, cols fixed) by the text of ``e`` alone, constants printed size-free."""
    op, a = e.op, e.args
    if e.shape == (1, 1):
        return (True, True)
    if op == "fill":
        return (e.rows == 1, e.cols == 1)
    if not a or op == "unvec":
        return (True, True)
    if op in ("add", "had"):
        same = [fixes[id(x)] for x in a if x.shape == e.shape and x.op != "fill"]
        return (any(r for r, _ in same), any(c for _, c in same))
    if op == "mul":
        chain = a[e.data[1]:]
        return (fixes[id(chain[0])][0], fixes[id(chain[-1])][1])
    if op == "T":
        r, c = fixes[id(a[0])]
        return (c, r)
    if op in ops.RECORDS:
        return ops.RECORDS[op].shape.fixes(*fixes[id(a[0])])
    if op == "mpow":                     # square matrix -> square matrix of the same size
        r, c = fixes[id(a[0])]
        return (r or c, r or c)
    if op == "kron":
        (r1, c1), (r2, c2) = fixes[id(a[0])], fixes[id(a[1])]
        return (r1 and r2, c1 and c2)
    if op == "pow":
        return fixes[id(a[0])]
    return (False, False)


def _context(e: Expr, known, fixes):
    """(child, rows fixed, cols fixed) for each child of ``e``, given what fixes ``e``."""
    op, a = e.op, e.args
    R, C = known
    if op in ops.RECORDS:
        return [(a[0], *ops.RECORDS[op].shape.context(R, C))]
    if op in ("add", "had", "pow"):
        return [(x, R, C) if x.shape == e.shape else (x, True, True) for x in a]
    if op == "mul":
        nscal = e.data[1]
        chain = a[nscal:]
        out = [(x, True, True) for x in a[:nscal]]
        for i, x in enumerate(chain):
            rows = R if i == 0 else fixes[id(chain[i - 1])][1]
            cols = C if i == len(chain) - 1 else fixes[id(chain[i + 1])][0]
            out.append((x, rows, cols))
        return out
    if op == "T":
        return [(a[0], C, R)]
    if op == "mpow":
        return [(a[0], R or C, R or C)]
    if op == "unvec":
        return [(a[0], True, True)]
    return [(x, False, False) for x in a]


def _sized_constants(root: Expr, order: list, bound: set) -> set:
    """ids of the constants whose sizes the printed text would not fix."""
    fixes: dict[int, tuple[bool, bool]] = {}
    for node in order:
        fixes[id(node)] = _fixes(node, fixes)
    context: dict[int, tuple[bool, bool]] = {}
    sized = set()
    for node in reversed(order):          # every parent before its children
        own = fixes[id(node)]
        ctx = context.get(id(node), (False, False))
        if node is root or id(node) in bound:
            ctx = (False, False)          # printed on its own (a let-binding)
        known = (own[0] or ctx[0], own[1] or ctx[1])
        if node.op == "fill" and not all(known):
            sized.add(id(node))
        for child, r, c in _context(node, known, fixes):
            prev = context.get(id(child))
            context[id(child)] = (r, c) if prev is None else (prev[0] and r, prev[1] and c)
    return sized


def _dimension_names(order: list, sized: set) -> set:
    """Dimension names the text declares: in variables' shapes, eye(n), sized constants."""
    names = set()
    for node in order:
        if node.op in ("var", "eye") or id(node) in sized:
            for d in node.shape:
                names |= {s.name for s in getattr(d, "free_symbols", ())}
    return names


def _mul_text(e: Expr, out, negate: bool = False, bound=()) -> tuple[str, int]:
    coef, nscal = e.data
    coef = -coef if negate else coef
    scalars, chain = e.args[:nscal], e.args[nscal:]
    below = [divides(s, bound) for s in scalars]
    factors = [_wrap(out[id(s)], MUL + 1) for s, d in zip(scalars, below) if not d]
    factors += [_wrap(out[id(c)], KRON + 1) for c in chain]  # (A ⊗ B)*x reads better
    denominators = []
    for s, d in zip(scalars, below):
        if d:
            base, k = s.args[0], -s.args[1].data
            d = out[id(base)] if k == 1 else _pow_text(base, k, out)
            denominators.append(_wrap(d, MUL + 1))
    prefix = ""
    if not factors:                     # c/b, -1/b, 1/b
        factors = [_wrap(number_text(abs(coef)), MUL + 1)]
        prefix = "-" if coef < 0 else ""
    elif coef == -1:
        prefix = "-"
    elif coef != 1:
        prefix = number_text(coef)[0] + "*"
    text = prefix + "*".join(factors) + "".join("/" + d for d in denominators)
    return (text, MUL)


def _pow_text(base: Expr, k, out) -> tuple[str, int]:
    op = "^" if base.is_scalar else ".^"
    ex = number_text(k)
    return (f"{_wrap(out[id(base)], POW + 1)}{op}{_wrap(ex, POSTFIX)}", POW)


def _add_text(e: Expr, out, sized, bound) -> tuple[str, int]:
    parts = []
    for i, t in enumerate(e.args):
        if t.op == "num" or (t.op == "fill" and id(t) not in sized):
            neg = t.data < 0
            body = number_text(abs(t.data))[0]
        elif t.op == "mul" and t.data[0] < 0:
            neg = True
            body = _mul_text(t, out, negate=True, bound=bound)[0]
        else:
            neg = False
            body = _wrap(out[id(t)], ADD + 1)
        if i == 0:
            parts.append(("-" if neg else "") + body)
        else:
            parts.append((" - " if neg else " + ") + body)
    return ("".join(parts), ADD)


def _node_text(e: Expr, out, sized=frozenset(), dim_names=None, bound=()) -> tuple[str, int]:
    """(text, precedence) of ``e`` from its children's; ``bound``: ids of the nodes
    printed as let-bound names (a bound 1/x is a factor, not a denominator)."""
    op = e.op
    a = e.args
    if op == "var":
        return (e.name, ATOM)
    if op == "num":
        return number_text(e.data)
    if op == "dim":
        if dim_names is not None and e.data.name not in dim_names:
            return (f"tr(eye({e.data}))", ATOM)    # a size nothing else in the text names
        return (str(e.data), ATOM)
    if op == "fill":
        return _fill_text(e, id(e) in sized)
    if op == "eye":
        return (f"eye({fmt_dim(e.rows)})", ATOM)
    if op == "comm":
        return (f"commutation({fmt_dim(e.data[0])}, {fmt_dim(e.data[1])})", ATOM)
    if op == "dup":
        return (f"duplication({fmt_dim(e.data)})", ATOM)
    if op == "delta":
        if isinstance(e.data, tuple) and e.data[0] == "shown":   # d(part) in a derivation
            inner = e.data[1]
            return (f"d{inner}" if inner.isidentifier() else f"d({inner})", ATOM)
        return (f"d{e.data}", ATOM)
    if op == "add":
        return _add_text(e, out, sized, bound)
    if op == "mul":
        return _mul_text(e, out, bound=bound)
    if op == "had":
        x, y = a
        if divides(x, bound) and not divides(y, bound):
            x, y = y, x
        if divides(y, bound):   # a .* b.^(-k) reads as a ./ b.^k
            base, k = y.args[0], -y.args[1].data
            den = out[id(base)] if k == 1 else _pow_text(base, k, out)
            return (f"{_wrap(out[id(x)], MUL)} ./ {_wrap(den, MUL + 1)}", MUL)
        return (f"{_wrap(out[id(x)], MUL)} .* {_wrap(out[id(y)], MUL + 1)}", MUL)
    if op == "pow":
        base, ex = a
        if ex.op == "num" and ex.data < 0 and ex.data.is_integer:
            k = -ex.data
            d = out[id(base)] if k == 1 else _pow_text(base, k, out)
            return (f"1{'/' if base.is_scalar else ' ./ '}{_wrap(d, MUL + 1)}", MUL)
        sym = "^" if base.is_scalar else ".^"
        return (f"{_wrap(out[id(base)], POW + 1)}{sym}{_wrap(out[id(ex)], POSTFIX)}", POW)
    if op == "mpow":
        return (f"{_wrap(out[id(a[0])], POW + 1)}^{e.data}", POW)
    if op == "T":
        return (f"{_wrap(out[id(a[0])], POSTFIX)}'", POSTFIX)
    if op == "kron":
        return (f"{_wrap(out[id(a[0])], KRON)} ⊗ {_wrap(out[id(a[1])], KRON + 1)}", KRON)
    if op == "unvec":
        return (f"unvec({out[id(a[0])][0]}, {fmt_dim(e.rows)}, {fmt_dim(e.cols)})", ATOM)
    record = ops.RECORDS.get(op)
    if record is None:
        raise MdiffError(f"no text for the operation {op!r}")
    return (f"{record.spelling}({out[id(a[0])][0]})", ATOM)


#: A repeated subexpression is named when it has at least this many nodes ...
MIN_SHARED_WEIGHT = 4
#: ... and any chain of nesting deeper than this is cut by a name (deep networks).
MAX_PRINT_DEPTH = 12


def _choose_bindings(root: Expr, order: list) -> list:
    """Nodes to print as let-bindings, children before parents (``order``: postorder)."""
    uses: dict[int, int] = {}
    for node in order:
        for a in set(map(id, node.args)):
            uses[a] = uses.get(a, 0) + 1
    weight: dict[int, int] = {}
    depth: dict[int, int] = {}
    chosen = []
    for node in order:
        if not node.args:
            weight[id(node)], depth[id(node)] = 1, 0
            continue
        w = 1 + sum(weight[id(a)] for a in node.args)
        weight[id(node)] = min(w, 10**6)
        dep = 1 + max(depth[id(a)] for a in node.args)
        shared = uses.get(id(node), 0) >= 2 and w >= MIN_SHARED_WEIGHT
        if node is not root and (shared or dep > MAX_PRINT_DEPTH):
            chosen.append(node)
            dep = 0
        depth[id(node)] = dep
    return chosen


def to_text(root: Expr, names: dict | None = None, bind: bool = True) -> str:
    """Text of ``root``; repeated or deeply nested subexpressions become let-bindings
    (``t1 = ...; t2 = ...; body``), using ``names`` (node -> name) where given."""
    names = names or {}
    order = list(postorder(root))
    chosen = _choose_bindings(root, order) if bind else []
    taken = {n.name for n in order if n.op == "var"} | {
        s.name for n in order for d in n.shape for s in getattr(d, "free_symbols", ())}
    taken |= {n.data.name for n in order if n.op == "dim"}
    bound: dict[int, str] = {}
    counter = 0
    for node in chosen:
        name = names.get(node)
        if name is None or name in taken:
            while True:
                counter += 1
                name = f"t{counter}"
                if name not in taken:
                    break
        taken.add(name)
        bound[id(node)] = name
    sized, dim_names = frozenset(), None
    if any(n.op in ("fill", "dim") for n in order):
        sized = _sized_constants(root, order, set(bound))
        dim_names = _dimension_names(order, sized)
    out: dict[int, tuple[str, int]] = {}
    lines = []
    for node in order:
        text = _node_text(node, out, sized, dim_names, bound)
        if id(node) in bound:
            lines.append(f"{bound[id(node)]} = {text[0]}")
            text = (bound[id(node)], ATOM)
        out[id(node)] = text
    return "; ".join(lines + [out[id(root)][0]])


register_text_printer(to_text)
