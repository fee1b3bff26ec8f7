"""Plain text in the input language, with minimal parentheses.

Printing is bottom-up over the DAG (no recursion), each node giving ``(text, prec)``
through one method per operation (``base.BindingPrinter``).
Whatever this printer writes for an expression the language can express parses back
to the same node (the round-trip tests hold it to that).
"""

from __future__ import annotations

from ..core import ops
from ..core.expr import Expr, block_grid, data_dims, fmt_dim, rational, register_printer
from .base import BindingPrinter, divides
from .precedence import ADD, ATOM, KRON, MUL, NEG, POSTFIX, POW


def number_text(v) -> tuple[str, int]:
    v = rational(v)
    if v.denominator == 1:
        return (str(v.numerator), ATOM if v >= 0 else NEG)
    return (f"{v.numerator}/{v.denominator}", MUL if v > 0 else NEG)


def span_text(span) -> str:
    """':' for every row (column), 'i' for one, 'first:last' for a range (1-based)."""
    if span is None:
        return ":"
    first, last = span
    return fmt_dim(first) if first == last else f"{fmt_dim(first)}:{fmt_dim(last)}"


def _wrap(item, min_prec):
    text, prec = item
    return text if prec >= min_prec else f"({text})"


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
        return ops.RECORDS[op].shape.fixes_all([fixes[id(x)] for x in a])
    if op == "mpow":                     # square matrix -> square matrix of the same size
        r, c = fixes[id(a[0])]
        return (r or c, r or c)
    if op == "kron":
        (r1, c1), (r2, c2) = fixes[id(a[0])], fixes[id(a[1])]
        return (r1 and r2, c1 and c2)
    if op == "pow":
        return fixes[id(a[0])]
    if op == "index":                    # a selected span prints its size
        r, c = fixes[id(a[0])]
        return (r or e.data[0] is not None, c or e.data[1] is not None)
    if op == "block":
        grid = [a[k:k + e.data[1]] for k in range(0, len(a), e.data[1])]
        return (all(any(fixes[id(x)][0] for x in row) for row in grid),
                all(any(fixes[id(row[b])][1] for row in grid) for b in range(e.data[1])))
    return (False, False)


def _context(e: Expr, known, fixes):
    """(child, rows fixed, cols fixed) for each child of ``e``, given what fixes ``e``."""
    op, a = e.op, e.args
    R, C = known
    if op in ops.RECORDS:
        return [(x, *fixed) for x, fixed in zip(a, ops.RECORDS[op].shape.context_all(R, C))]
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
    if op == "index":
        return [(a[0], R and e.data[0] is None, C and e.data[1] is None)]
    if op == "block":                    # its neighbours in the grid fix a block's sizes
        q = e.data[1]
        out = []
        for k, x in enumerate(a):
            row, col = a[k - k % q:k - k % q + q], a[k % q::q]
            out.append((x, any(fixes[id(y)][0] for y in row if y is not x),
                        any(fixes[id(y)][1] for y in col if y is not x)))
        return out
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
        if node.op == "index":           # x[i] and X[1:m, :] name their sizes
            names |= {s.name for s in data_dims(node)}
    return names


def _mul_text(e: Expr, out, negate: bool = False, bound=()) -> tuple[str, int]:
    coef, nscal = e.data
    coef = -coef if negate else coef
    scalars, chain = e.args[:nscal], e.args[nscal:]
    below = [divides(s, bound) for s in scalars]
    factors = [_wrap(out[id(s)], MUL + 1) for s, d in zip(scalars, below) if not d]
    if not scalars and len(chain) == 1 and chain[0].op == "had":    # -p ./ q reads back
        factors.append(_wrap(out[id(chain[0])], MUL))
    else:
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
        elif t.op == "mul" and t.data[0] < 0 and id(t) not in bound:   # a bound term: its name
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


class TextPrinter(BindingPrinter):
    """(text, precedence) of each node from its children's, one method per operation."""

    what = "text"

    def __init__(self, root: Expr, names: dict | None = None, bind: bool = True,
                 dims: frozenset = frozenset()):
        super().__init__(root, names, bind)
        self.sized, self.dim_names = frozenset(), None
        if any(n.op in ("fill", "dim") for n in self.order):
            self.sized = _sized_constants(root, self.order, set(self.bound))
            self.dim_names = _dimension_names(self.order, self.sized) | set(dims)

    # --- leaves -------------------------------------------------------------------------
    def _print_var(self, e):
        return (e.name, ATOM)

    def _print_num(self, e):
        return number_text(e.data)

    def _print_const(self, e):
        return (e.data, ATOM)

    def _print_dim(self, e):
        if self.dim_names is not None and e.data.name not in self.dim_names:
            return (f"tr(eye({e.data}))", ATOM)    # a size nothing else in the text names
        return (str(e.data), ATOM)

    def _print_fill(self, e):
        return _fill_text(e, id(e) in self.sized)

    def _print_eye(self, e):
        return (f"eye({fmt_dim(e.rows)})", ATOM)

    def _print_comm(self, e):
        return (f"commutation({fmt_dim(e.data[0])}, {fmt_dim(e.data[1])})", ATOM)

    def _print_dup(self, e):
        return (f"duplication({fmt_dim(e.data)})", ATOM)

    def _print_delta(self, e):
        if isinstance(e.data, tuple) and e.data[0] == "shown":   # d(part) in a derivation
            inner = e.data[1]
            return (f"d{inner}" if inner.isidentifier() else f"d({inner})", ATOM)
        return (f"d{e.data}", ATOM)

    # --- operations ---------------------------------------------------------------------
    def _print_add(self, e):
        return _add_text(e, self.out, self.sized, self.bound)

    def _print_mul(self, e):
        return _mul_text(e, self.out, bound=self.bound)

    def _print_had(self, e):
        out, bound = self.out, self.bound
        x, y = e.args
        if divides(x, bound) and not divides(y, bound):
            x, y = y, x
        if divides(y, bound):   # a .* b.^(-k) reads as a ./ b.^k
            base, k = y.args[0], -y.args[1].data
            den = out[id(base)] if k == 1 else _pow_text(base, k, out)
            return (f"{_wrap(out[id(x)], MUL)} ./ {_wrap(den, MUL + 1)}", MUL)
        return (f"{_wrap(out[id(x)], MUL)} .* {_wrap(out[id(y)], MUL + 1)}", MUL)

    def _print_pow(self, e):
        out = self.out
        base, ex = e.args
        if ex.op == "num" and ex.data < 0 and ex.data.denominator == 1:
            k = -ex.data
            d = out[id(base)] if k == 1 else _pow_text(base, k, out)
            return (f"1{'/' if base.is_scalar else ' ./ '}{_wrap(d, MUL + 1)}", MUL)
        sym = "^" if base.is_scalar else ".^"
        return (f"{_wrap(out[id(base)], POW + 1)}{sym}{_wrap(out[id(ex)], POSTFIX)}", POW)

    def _print_mpow(self, e):
        return (f"{_wrap(self.get(e.args[0]), POW + 1)}^{e.data}", POW)

    def _print_T(self, e):
        return (f"{_wrap(self.get(e.args[0]), POSTFIX)}'", POSTFIX)

    def _print_kron(self, e):
        a, b = e.args
        return (f"{_wrap(self.get(a), KRON)} ⊗ {_wrap(self.get(b), KRON + 1)}", KRON)

    def _print_index(self, e):
        x = e.args[0]
        spans = [span_text(s) for s in e.data]
        if x.cols == 1 and e.data[1] is None:       # x[i] of a column vector
            spans = spans[:1]
        return (f"{_wrap(self.get(x), POSTFIX)}[{', '.join(spans)}]", POSTFIX)

    def _print_block(self, e):
        # a constant block its neighbours size is its number: [A, 0; 0, B]
        def cell(x):
            return number_text(x.data)[0] if x.op == "fill" and id(x) not in self.sized \
                else self.get(x)[0]
        return ("[" + "; ".join(", ".join(map(cell, row)) for row in block_grid(e)) + "]", ATOM)

    def _print_unvec(self, e):
        return (f"unvec({self.get(e.args[0])[0]}, {fmt_dim(e.rows)}, {fmt_dim(e.cols)})", ATOM)

    def function(self, e, record):
        return (f"{record.spelling}({', '.join(self.get(a)[0] for a in e.args)})", ATOM)


def to_text(root: Expr, names: dict | None = None, bind: bool = True,
            dims: frozenset = frozenset()) -> str:
    """Text of ``root``; repeated or deeply nested subexpressions become let-bindings
    (``t1 = ...; t2 = ...; body``), using ``names`` (node -> name) where given.  ``dims``:
    dimension names the reader knows (a derivation's), written as they are (``N``, not
    the ``tr(eye(N))`` a standalone text needs)."""
    lines, body = TextPrinter(root, names, bind, dims).run()
    return "; ".join([f"{name} = {text}" for name, text in lines] + [body])


register_printer("text", to_text)
