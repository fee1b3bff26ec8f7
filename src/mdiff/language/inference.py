"""Shape inference over the AST: sizes are unified (``core.shapes.Unifier``), a
function's shape comes from its record's rule, and the kinds of undeclared names come
from inference first and from the first letter second (DESIGN §2): a letter-default
scalar that is added to an array is re-kinded and inference runs again."""

from __future__ import annotations

import difflib
import itertools
import math

from ..core import expr as E
from ..core import ops, shapes
from ..errors import DeclarationError, LimitError, ParseError, ShapeError, UnknownFunction
from .declarations import Program, default_kind
from .reading import Node, span_of

MAX_MATRIX_POWER = E.MAX_MATRIX_POWER

def _arities(records):
    arities = sorted({r.shape.arity for r in records})
    return arities[0] if len(arities) == 1 else tuple(arities)


#: Arguments each function of the language takes: the registry's functions one, and the
#: constructors of constant matrices and the structural functions as listed.
FUNCTION_ARITY = {**{f: _arities(records) for f, records in ops.SPELLINGS.items()}, "kron": 2,
                  "eye": (0, 1), "vector": (1, 2), "matrix": (1, 3),
                  "commutation": 2, "duplication": 1, "unvec": 3}


#: Names people write for a function the language has under another name.
SYNONYMS = {"inverse": "inv", "determinant": "det", "ln": "log",
            "logistic": "sigmoid", "identity": "eye", "ones": "vector(1) or matrix(1)",
            "zeros": "vector(0) or matrix(0)", "frobenius": "norm2", "norm": "norm2 or norm1",
            "lse": "logsumexp", "cholesky": "chol", "eig": "eigvals and eigvecs",
            "eigvalsh": "eigvals", "eigh": "eigvals and eigvecs",
            "svd": "svdvals, svdu and svdv", "nuclear_norm": "normnuc",
            "spectral_norm": "normspec"}

#: Functions of other tools that mdiff's language does not have: a close spelling
#: (pinv -> inv, max -> matrix) means something else, so none is suggested.
NOT_IN_LANGUAGE = {
    "funm": "matrix functions",
    "pinv": "pseudo-inverse (inv needs a square, invertible matrix)",
    "argmax": "argmax (an index; ismax(x) is the indicator of the largest entry)",
    "argmin": "argmin (an index; ismin(x) is the indicator of the smallest entry)",
}


def _suggestion(fn: str) -> str:
    """What follows "unknown function 'fn'": a name of the same meaning, or nothing."""
    if fn in SYNONYMS:
        return f" (mdiff writes {SYNONYMS[fn]})"
    if fn in NOT_IN_LANGUAGE:
        return f": mdiff's language has no {NOT_IN_LANGUAGE[fn]}"
    close = difflib.get_close_matches(fn, list(FUNCTION_ARITY), 1, cutoff=0.75)
    # a trailing m names the matrix function of an elementwise one (cosm is not cos)
    if close and fn != close[0] + "m":
        return f" (did you mean {close[0]}?)"
    return ""


# --- shape inference -----------------------------------------------------------------------

class _Rekind(Exception):
    """Inference found a letter-default kind that cannot be: ``options`` are (name,
    kind) re-kindings to try in order; ``error()`` makes the error raised if none works."""

    def __init__(self, options, error):
        self.options, self.error = options, error


class Typer(shapes.Unifier):
    """Types a program's AST: a shape for every node and every name."""

    def __init__(self, prog: Program, text: str, overrides: dict):
        super().__init__()
        self.prog, self.text, self.overrides = prog, text, overrides
        self.shapes: dict = {}         # id(Node) -> (r, c)
        self.spans: dict = {}          # id(index Node) -> (row span, column span)
        self.var_shapes: dict = {}     # name -> (r, c)
        self.defaulted: set = set()    # names whose kind came from the first letter
        self.uses: dict = {}           # name -> occurrences typed so far
        self.lets = {name: node for name, node, _ in prog.lets}
        self.let_order = [name for name, _, _ in prog.lets]
        self.dim_names = set()
        for d in prog.decls.values():
            self.dim_names |= {s.name for x in d.dims for s in x.free_symbols}
        # an index name (i: index(n)) is a size-like integer, 1 to n: x[i], and i itself
        self.index_ranges = {name: d.dims[0] for name, d in prog.decls.items()
                             if d.kind == "index"}
        self.dim_names |= set(self.index_ranges)
        self.dim_names |= _size_names(prog)
        self.used_names = set(self.lets) | set(prog.decls) | self.dim_names
        self.shown: dict = {}          # open size -> the name error messages give it
        self.shown_names: set = set()

    def show(self, shape):
        return E.fmt_shape(tuple(self._display(self.resolve(d)) for d in shape))

    def _display(self, d):
        """A dimension as an error shows it: open sizes get readable names (n, m, ...)
        not used by the text, the same name for the same size throughout."""
        flex = [s for s in d.free_symbols if self.is_flex(s)]
        if not flex:
            return d
        shown = self.shown
        for s in sorted(flex, key=lambda s: s.name):
            if s not in shown:
                taken = set(self.used_names) | set(self.var_shapes) | self.shown_names
                name = next((n for n in DISPLAY_DIMS if n not in taken), f"n{len(shown) + 1}")
                shown[s] = E.dim_symbol(name)
                self.shown_names.add(name)
        return d.xreplace({s: shown[s] for s in flex})

    def unify(self, a, b, what, span):
        ok = self.unify_dim(a[0], b[0]) and self.unify_dim(a[1], b[1])
        if not ok:
            raise ShapeError(f"{what}: shapes {self.show(a)} and {self.show(b)} do not match",
                             span, self.text)

    # names
    def name_shape(self, name, span):
        self.uses[name] = self.uses.get(name, 0) + 1
        if name in self.var_shapes:
            return self.var_shapes[name]
        decl = self.prog.decls.get(name)
        if decl is not None:
            dims = list(decl.dims)
            shape = {"scalar": (E.ONE, E.ONE), "vector": (dims[0] if dims else None, E.ONE),
                     "matrix": tuple(dims)}[decl.kind]
            if decl.props & {"symmetric"} and decl.kind == "matrix":
                if shape[0] != shape[1]:
                    raise DeclarationError(
                        f"{name} is declared {'/'.join(sorted(decl.props))} but is "
                        f"{E.fmt_shape(shape)}, not square", decl.span, self.text)
        else:
            kind = self.overrides.get(name)
            if kind is None:
                kind = default_kind(name)
                self.defaulted.add(name)
            shape = {"scalar": (E.ONE, E.ONE), "vector": (self.fresh(), E.ONE),
                     "matrix": (self.fresh(), self.fresh())}[kind]
        self.var_shapes[name] = shape
        return shape

    # inference
    def infer(self, node: Node):
        key = id(node)
        if key in self.shapes:
            return self.shapes[key]
        shape = getattr(self, "_i_" + node.kind)(node)
        self.shapes[key] = shape
        return shape

    def _i_num(self, node):
        return (E.ONE, E.ONE)

    def _i_name(self, node):
        name = node.value
        if name in self.lets:
            if self.let_order.index(name) >= self._let_limit:
                raise DeclarationError(f"{name} is used before it is bound", node.span, self.text)
            return self.infer(self.lets[name])
        if self.is_size(name):
            return (E.ONE, E.ONE)
        if self.is_constant(name):
            return (E.ONE, E.ONE)
        if name == "eye":
            n = self.fresh()
            return (n, n)
        if name in FUNCTION_ARITY and name not in self.prog.decls and name not in ("eye",):
            if name in ("vector", "matrix", "kron"):
                raise ParseError(f"{name} needs arguments: {name}(...)", node.span, self.text)
        return self.name_shape(name, node.span)

    def is_size(self, name) -> bool:
        """A dimension name or an index name: an integer, usable as a scalar (N/2, i)."""
        return name in self.dim_names and (name not in self.prog.decls
                                           or name in self.index_ranges)

    def is_constant(self, name) -> bool:
        """``pi`` and the other named constants, unless the text declares the name."""
        return name in E.CONSTANTS and name not in self.prog.decls and name not in self.lets

    def _i_neg(self, node):
        return self.infer(node.children[0])

    def _i_T(self, node):
        r, c = self.infer(node.children[0])
        return (c, r) if node.value % 2 else (r, c)

    def _is_literal(self, node):
        """A number written out (``1``, ``-2``, ``1/2``, ``2^-3``): it broadcasts in sums."""
        return literal_value(node) is not None

    def _default_scalar_name(self, node):
        return (node.kind == "name" and node.value in self.defaulted
                and node.value not in self.lets and self.overrides.get(node.value) is None
                and default_kind(node.value) == "scalar")

    def _i_sum(self, node):
        acc, acc_node = None, None
        for child, op in zip(node.children, [None] + node.ops):
            s = self.infer(child)
            if self._is_literal(child):
                continue
            if acc is None:
                acc, acc_node = s, child
                continue
            # a letter-default scalar added to an array is re-kinded by inference
            if self.is_scalar(acc) != self.is_scalar(s):
                ar, ar_node = (s, child) if self.is_scalar(acc) else (acc, acc_node)
                def error(ar=ar, op=op):    # built only if raised: show() names sizes
                    return ShapeError(
                        f"cannot add a scalar and a {self.show(ar)} array (only number "
                        f"literals broadcast; write c*vector(1) or c*matrix(1))",
                        span_of(op) if op is not None else node.span, self.text)
                options, rekinded = [], False
                for which, (name_node, other) in enumerate(((acc_node, s), (child, acc))):
                    if not (self._default_scalar_name(name_node) and not self.is_scalar(other)):
                        continue
                    name = name_node.value
                    kind = "vector" if self.is_col(other) else "matrix"
                    if self.uses.get(name) == 1:
                        # its first use: it takes the other term's shape right here
                        self.var_shapes[name] = other
                        self.shapes[id(name_node)] = other
                        self.defaulted.discard(name)
                        self.overrides[name] = kind
                        acc, s = (other, s) if which == 0 else (acc, other)
                        rekinded = True
                        break
                    options.append((name, kind))
                if not rekinded:
                    # or a letter-default scalar inside the array term is really a vector
                    # (b in x'*A*x + b'*x); transposed ones first
                    options += [(n, "vector") for n in self._default_scalars_in(ar_node)]
                    # or a lowercase letter-default vector in it is a scalar: a term added
                    # to a scalar is a scalar (lam in norm2(x)^2 + lam*norm2(x)^2)
                    options += [(n, "scalar") for n in self._default_vectors_in(ar_node)]
                    if options:
                        raise _Rekind(options, error)
                    raise error()
            self.unify(acc, s, "sum", span_of(op) if op is not None else node.span)
        return acc if acc is not None else (E.ONE, E.ONE)

    def _default_scalars_in(self, node) -> list:
        transposed, plain = [], []
        stack = [(node, False)]
        while stack:
            n, under_t = stack.pop()
            if n.kind == "name" and self._default_scalar_name(n):
                (transposed if under_t else plain).append(n.value)
            stack.extend((c, n.kind == "T") for c in n.children)
        out = []
        for name in transposed + plain:
            if name not in out:
                out.append(name)
        return out

    def _default_vectors_in(self, node) -> list:
        """Lowercase names in ``node`` that are vectors only by their first letter, the
        least used first (the likeliest coefficient: lam, mu, sigma)."""
        found, stack = [], [node]
        while stack:
            n = stack.pop()
            if (n.kind == "name" and n.value in self.defaulted and n.value not in self.lets
                    and self.overrides.get(n.value) is None and n.value[0].islower()
                    and default_kind(n.value) == "vector" and n.value not in found):
                found.append(n.value)
            stack.extend(reversed(n.children))
        return sorted(found, key=lambda name: self.uses.get(name, 0))

    def collapsed_capitals(self) -> list:
        """Capitals that are matrices by their first letter but came out with one row or
        one column (DESIGN §2: a lowercase name's default must not force that)."""
        out = []
        for name, (r, c) in self.var_shapes.items():
            if (name in self.defaulted and name[0].isupper() and name not in self.prog.decls
                    and (self.resolve(r) == 1 or self.resolve(c) == 1)):
                out.append(name)
        return out

    def default_scalars(self) -> list:
        return [n for n in self.var_shapes if n in self.defaulted and n[0].islower()
                and default_kind(n) == "scalar" and self.overrides.get(n) is None]

    def _i_product(self, node):
        shape = self.infer(node.children[0])
        for child, op in zip(node.children[1:], node.ops):
            rs = self.infer(child)
            shape = self._product_shape(str(op), shape, rs, span_of(op))
        return shape

    def _product_shape(self, op, ls, rs, span):
        lsc, rsc = self.is_scalar(ls), self.is_scalar(rs)
        if op == "*":
            if lsc:
                return rs
            if rsc:
                return ls
            if not self.unify_dim(ls[1], rs[0]):
                raise ShapeError(f"matrix product: {self.show(ls)} times {self.show(rs)} "
                                 f"(inner dimensions differ)", span, self.text)
            return (ls[0], rs[1])
        if op == "/":
            if not rsc:
                raise ShapeError(f"'/' divides by a scalar, not by {self.show(rs)} "
                                 f"(use ./ for elementwise division)", span, self.text)
            return ls
        if op in (".*", "⊙"):
            if lsc:
                return rs
            if rsc:
                return ls
            self.unify(ls, rs, "elementwise product", span)
            return ls
        # ./
        if rsc:
            return ls
        if lsc:
            return rs
        self.unify(ls, rs, "elementwise division", span)
        return ls

    def _i_kron(self, node):
        a = self.infer(node.children[0])
        b = self.infer(node.children[1])
        return (self.resolve(a[0] * b[0]), self.resolve(a[1] * b[1]))

    def _i_pow(self, node):
        base = self.infer(node.children[0])
        ex = self.infer(node.children[1])
        if not self.is_scalar(ex):
            if node.value != ".^":
                raise ShapeError(f"the exponent of ^ must be a scalar, not {self.show(ex)} "
                                 f"(.^ takes an array exponent)", node.span, self.text)
            if self.is_scalar(base):    # a.^x: the exponent's shape
                return ex
            self.unify(base, ex, "an elementwise power", node.span)
        if node.value == "^" and not self.is_scalar(base):
            k = literal_int(node.children[1])
            if k is None:
                raise ShapeError(
                    f"'^' on a {self.show(base)} matrix needs an integer power "
                    f"(use .^ for an elementwise power)", node.span, self.text)
            if abs(k) > MAX_MATRIX_POWER:
                raise LimitError(f"matrix power beyond ±{MAX_MATRIX_POWER}", node.span, self.text)
            if not self.unify_dim(base[0], base[1]):
                raise ShapeError(f"a matrix power needs a square matrix, not {self.show(base)}",
                                 node.span, self.text)
        return base

    def _i_call(self, node):
        fn = node.value
        if fn in self.prog.decls or fn in self.lets:
            raise ParseError(f"{fn} is a {'binding' if fn in self.lets else 'variable'}, "
                             f"not a function", node.span, self.text)
        if fn not in FUNCTION_ARITY:
            raise UnknownFunction(f"unknown function {fn!r}{_suggestion(fn)}", node.span,
                                  self.text)
        arity = FUNCTION_ARITY[fn]
        nargs = len(node.children)
        ok = nargs in arity if isinstance(arity, tuple) else nargs == arity
        if not ok:
            want = " or ".join(map(str, arity)) if isinstance(arity, tuple) else str(arity)
            raise ParseError(f"{fn} takes {want} argument(s), got {nargs}", node.span, self.text)
        if fn == "eye":
            if not node.children:
                n = self.fresh()
                return (n, n)
            n = self._dim_arg(node.children[0])
            return (n, n)
        if fn in ("vector", "matrix"):
            s = self.infer(node.children[0])
            if not self.is_scalar(s):
                raise ShapeError(f"{fn}(c) fills with a scalar, not {self.show(s)}",
                                 node.children[0].span, self.text)
            sizes = [self._dim_arg(d) for d in node.children[1:]]
            if fn == "matrix" and len(sizes) == 1:
                raise ParseError("matrix(c, m, n) takes both sizes", node.span, self.text)
            if fn == "vector":
                return (sizes[0] if sizes else self.fresh(), E.ONE)
            return tuple(sizes) if sizes else (self.fresh(), self.fresh())
        if fn == "kron":
            a = self.infer(node.children[0])
            b = self.infer(node.children[1])
            return (self.resolve(a[0] * b[0]), self.resolve(a[1] * b[1]))
        if fn == "commutation":     # K(m,n) vec(A) = vec(A') for an m×n matrix A
            m, n = (self._dim_arg(d) for d in node.children)
            return (m * n, m * n)
        if fn == "duplication":     # D(n) vech(S) = vec(S) for a symmetric n×n S
            n = self._dim_arg(node.children[0])
            return (n * n, n * (n + 1) / 2)
        if fn == "unvec":           # unvec(vec(A), m, n) = A
            x = self.infer(node.children[0])
            m, n = (self._dim_arg(d) for d in node.children[1:])
            self.unify(x, (m * n, E.ONE), "unvec", node.span)
            return (m, n)
        xs = tuple(self.infer(child) for child in node.children)
        algebra = OpenShapes(self, node.span)
        record = ops.reading(fn, algebra, xs[0], len(xs))  # FUNCTION_ARITY: the other cases
        return tuple(shapes.as_dim(d) for d in record.shape.infer_all(algebra, xs, fn))

    def _i_index(self, node):
        """x[i], X[i, j], X[:, j], X[a:b, :]: 1-based; a literal index beyond a known size
        is an error here, any other one when the expression is evaluated."""
        x, *slots = node.children
        shape = self.infer(x)
        if len(slots) == 1:     # of a column vector only: a matrix is never read as one
            if self.resolve(shape[1]) != E.ONE:
                raise ShapeError(f"one index selects from a vector, not from a matrix "
                                 f"({self.show(shape)}): write [i, j], [i, :] or [:, j]",
                                 node.span, self.text)
            slots = slots + [None]
        spans = tuple(self._span(slot, size, axis) for axis, (slot, size)
                      in enumerate(zip(slots, shape)))
        self.spans[id(node)] = spans
        return tuple(E.span_size(span, size) for span, size in zip(spans, shape))

    def _span(self, slot, size, axis):
        """(first, last) of an index slot, or None for ':' (and a vector's missing one)."""
        if slot is None or slot.value == "all":
            return None
        first, last = (self._index_arg(c) for c in slot.children * (2 if slot.value == "at" else 1))
        for c in slot.children:             # x[i] with i: index(n) and x of open size: n
            if c.kind == "name" and c.value in self.index_ranges:
                n = self.index_ranges[c.value]
                if any(self.is_flex(s) for s in self.resolve(size).free_symbols):
                    self.unify_dim(size, n)
        size = self.resolve(size)
        what = "rows" if axis == 0 else "columns"
        for bound in (first, last):
            if size.is_number and bound.is_number and bound.constant > size.constant:
                raise ShapeError(f"index {E.fmt_dim(bound)} is beyond the {E.fmt_dim(size)} "
                                 f"{what}", slot.span, self.text)
        if first.is_number and last.is_number and first.constant > last.constant:
            raise ShapeError(f"the range {E.fmt_dim(first)}:{E.fmt_dim(last)} is empty",
                             slot.span, self.text)
        return (first, last)

    def _index_arg(self, node):
        k = literal_int(node)
        if k is not None and k < 1:
            raise ShapeError(f"indices count from 1 (x[1] is the first entry), not {k}",
                             node.span, self.text)
        return self._dim_arg(node)

    def _i_block(self, node):
        """[A, B; C, D]: blocks of a block row share their rows, of a block column their
        columns; a number in a block is a constant block sized by its neighbours."""
        grid = [row.children for row in node.children]
        q = len(grid[0])
        for a, row in enumerate(grid):
            if len(row) != q:
                raise ShapeError(f"block row {a + 1} has {len(row)} block{'s' * (len(row) > 1)}, "
                                 f"block row 1 has {q}", row[0].span, self.text)
        shapes_ = [[(self.fresh(), self.fresh()) if self._is_literal(x) else self.infer(x)
                    for x in row] for row in grid]
        for a, row in enumerate(grid):
            for b, x in enumerate(row):
                self.shapes[id(x)] = shapes_[a][b]
                for axis, other, what, where in ((0, shapes_[a][0], "rows", f"({a + 1}, 1)"),
                                                 (1, shapes_[0][b], "columns", f"(1, {b + 1})")):
                    if not self.unify_dim(shapes_[a][b][axis], other[axis]):
                        raise ShapeError(
                            f"block ({a + 1}, {b + 1}) is {self.show(shapes_[a][b])}: its "
                            f"{what} differ from block {where}'s, {self.show(other)}",
                            x.span, self.text)
        rows = sum((shapes_[a][0][0] for a in range(1, len(grid))), shapes_[0][0][0])
        cols = sum((shapes_[0][b][1] for b in range(1, q)), shapes_[0][0][1])
        return (self.resolve(rows), self.resolve(cols))

    def _dim_arg(self, node):
        """A size: a positive integer, a dimension name, or products, powers and sums of
        them divided by integers (n^2, m*n, n*(n + 1)/2 as results print them)."""
        if node.kind == "product" and all(str(o) in ("*", "/") for o in node.ops):
            out = self._dim_arg(node.children[0])
            for child, op in zip(node.children[1:], node.ops):
                if str(op) == "/":
                    k = literal_int(child)
                    if k is None or k < 1:
                        break
                    out = out / k
                else:
                    out *= self._dim_arg(child)
            else:
                return self._whole(out, node)
        if node.kind == "sum" and all(str(o) == "+" for o in node.ops):
            return self._whole(sum((self._dim_arg(c) for c in node.children[1:]),
                                   self._dim_arg(node.children[0])), node)
        if node.kind == "pow" and node.value == "^":
            k = literal_int(node.children[1])
            if k is not None and 1 <= k <= 8:
                return self._dim_arg(node.children[0]) ** k
        if node.kind == "num" and node.value.denominator == 1 and node.value >= 1:
            if node.value > 10**9:
                raise LimitError("dimension too large", node.span, self.text)
            return shapes.as_dim(int(node.value))
        if node.kind == "name" and node.value in self.dim_names:   # see _size_names
            return E.dim_symbol(node.value)
        if node.kind == "call" and node.value == "min" and len(node.children) == 2:
            return shapes.smaller(*(self._dim_arg(c) for c in node.children))
        raise ShapeError("a size is a positive integer, a dimension name, or products, "
                         "powers, sums and min(a, b) of them (divided by an integer)",
                         node.span, self.text)

    def _whole(self, size, node):
        if _whole_size(size):
            return size
        raise ShapeError(f"a size must be a whole number for every value of its dimensions, "
                         f"not {E.fmt_dim(size)}", node.span, self.text)

    def run(self):
        for i, (name, node, span) in enumerate(self.prog.lets):
            self._let_limit = i
            self.infer(node)
        self._let_limit = len(self.prog.lets)
        return self.infer(self.prog.body)


class OpenShapes:
    """The shape algebra of inference (``shapes.ShapeAlgebra``): sizes may be open, so
    ``square`` unifies them; a failure is a ShapeError at the call."""

    def __init__(self, typer: "Typer", span):
        self.typer, self.span = typer, span

    def square(self, shape, what):
        if not self.typer.unify_dim(shape[0], shape[1]):
            raise ShapeError(f"{what} needs a square matrix, not {self.typer.show(shape)}",
                             self.span, self.typer.text)

    def is_column(self, shape):
        return self.typer.is_col(shape)

    def is_scalar(self, shape):
        return self.typer.is_scalar(shape)

    def scalar(self, shape, message):
        if not self.typer.is_scalar(shape):
            raise ShapeError(f"{message}, not {self.typer.show(shape)}", self.span,
                             self.typer.text)

    def times(self, a, b):
        return self.typer.resolve(a * b)

    def equal(self, a, b, what):
        if not self.typer.unify_dim(a, b):
            a, b = (shapes.fmt_dim(self.typer.resolve(d)) for d in (a, b))
            raise ShapeError(f"{what} needs sizes that agree, not {a} and {b}", self.span,
                             self.typer.text)


def _whole_size(d) -> bool:
    """A size polynomial is a positive whole number for all positive whole values of its
    dimensions: checked on the grid 1..degree+1 per dimension, which decides it for an
    integer-valued polynomial (n*(n + 1)/2 is one, n/2 is not)."""
    d = shapes.as_dim(d)
    syms = sorted(d.free_symbols, key=lambda s: s.name)
    if not syms:
        return d.is_Integer and d > 0
    if any(not all(isinstance(atom, str) for atom, _ in mono) for mono in d.terms):
        return all(c.denominator == 1 and c > 0 for c in d.terms.values())   # with min()
    if all(c.denominator == 1 and c > 0 for c in d.terms.values()):
        return True            # products, powers and sums of sizes: whole and positive
    degrees = [d.degree(s) for s in syms]
    if math.prod(k + 1 for k in degrees) > 4096:
        return False           # a division too large to decide by the grid
    for values in itertools.product(*(range(1, k + 2) for k in degrees)):
        v = d.xreplace(dict(zip(syms, values)))
        if not (v.is_Integer and v > 0):
            return False
    return True


def expect_shape(typer: "Typer", have, want) -> None:
    """Give the result's open sizes those of ``want`` — both or neither (where sizes
    disagree the caller compares shapes and says so); ``want``'s names are taken."""
    want = tuple(shapes.as_dim(d) for d in want)
    saved = dict(typer.bind)
    if not all(typer.unify_dim(h, w) for h, w in zip(have, want)):
        typer.bind = saved
    typer.used_names |= {s.name for d in want for s in d.free_symbols}


def _size_names(prog: Program) -> set:
    """Names used as sizes (``eye(n)``, ``vector(1, n)``): dimensions wherever they occur,
    before and after that use (DESIGN: dimension names are scalars too)."""
    names = set()
    stack = [node for _, node, _ in prog.lets] + [prog.body]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.kind == "call" and node.value in ("eye", "vector", "matrix", "commutation",
                                                  "duplication", "unvec"):
            sizes = node.children if node.value in ("eye", "commutation", "duplication") \
                else node.children[1:]
            names |= {leaf.value for size in sizes for leaf in _size_leaves(size)}
        if node.kind == "slot":             # X[1:m, j]: m is a size
            names |= {leaf.value for size in node.children for leaf in _size_leaves(size)}
        stack.extend(node.children)
    return names - set(prog.decls) - {name for name, _, _ in prog.lets}


def _size_leaves(node):
    """The name leaves of a size written as products, powers and sums of names and numbers."""
    stack, out = [node], []
    while stack:
        n = stack.pop()
        if n.kind == "name":
            out.append(n)
        elif n.kind in ("product", "sum") or (n.kind == "pow" and n.value == "^") or (
                n.kind == "call" and n.value == "min"):
            stack.extend(n.children[:1] if n.kind == "pow" else n.children)
    return out


def literal_int(node):
    sign = 1
    while node.kind == "neg":
        sign, node = -sign, node.children[0]
    if node.kind == "num" and node.value.denominator == 1:
        return sign * int(node.value)
    return None


DISPLAY_DIMS = ("n", "m", "p", "q", "k", "r", "s", "t", "l")


def literal_value(node, depth=0):
    """The exact value of a constant made of numbers, unary minus, * / and integer
    powers; None for anything else."""
    if depth > 32:
        return None
    if node.kind == "num":
        return node.value
    if node.kind == "neg":
        v = literal_value(node.children[0], depth + 1)
        return None if v is None else -v
    if node.kind == "product":
        acc = literal_value(node.children[0], depth + 1)
        for child, op in zip(node.children[1:], node.ops):
            v = literal_value(child, depth + 1)
            if acc is None or v is None or str(op) not in ("*", "/") or (str(op) == "/" and v == 0):
                return None
            acc = acc * v if str(op) == "*" else acc / v
        return acc
    if node.kind == "pow":
        base = literal_value(node.children[0], depth + 1)
        k = literal_int(node.children[1])
        if base is None or k is None or abs(k) > E.MAX_FOLD_EXPONENT or (base == 0 and k < 0):
            return None
        return base ** k
    return None


MAX_REKIND_TRIES = 64
#: Re-inferences spent keeping capitals whole (each one re-types the whole text).
MAX_CAPITAL_TRIES = 16


def full_capitals(prog: Program, text: str, typer: "Typer", budget: list):
    """Where a letter-default scalar forces a capital down to one row or column
    (``y - X*beta``, ``W1*X + b1*vector(1)'``), read that scalar as a vector instead if
    that keeps more capitals whole (DESIGN §2).  Returns the typer and the names whose
    kind was chosen this way (the CLI announces them)."""
    assumed, tries = [], MAX_CAPITAL_TRIES
    while typer.collapsed_capitals():
        best = None
        for name in typer.default_scalars():
            if budget[0] <= 0 or tries <= 0:
                break
            budget[0] -= 1
            tries -= 1
            try:
                other = infer_program(prog, text, {**typer.overrides, name: "vector"}, budget)
            except ShapeError:
                continue
            if len(other.collapsed_capitals()) < len(typer.collapsed_capitals()):
                best = (name, other)
                break
        if best is None:
            break
        assumed.append(best[0])
        typer = best[1]
    return typer, assumed


def infer_program(prog: Program, text: str, overrides: dict, budget: list) -> "Typer":
    """Run shape inference, re-kinding letter-default scalars where it must (a small,
    bounded search: each option is tried in order, the first that types wins)."""
    typer = Typer(prog, text, dict(overrides))
    try:
        typer.run()
        return typer
    except _Rekind as rk:
        for name, kind in rk.options:
            if budget[0] <= 0 or name in overrides:
                continue
            budget[0] -= 1
            try:
                return infer_program(prog, text, {**overrides, name: kind}, budget)
            except ShapeError:
                continue
        raise rk.error()
