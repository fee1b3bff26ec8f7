"""Symbolic shapes: dimensions, their unification, and the functions' shape rules.

Shapes are ``(rows, cols)`` pairs of SymPy expressions: integers, positive integer
symbols (``dim_symbol("n")``) and products, powers and sums of them.  A scalar is 1x1
and a vector n x 1.

``Unifier`` holds sizes that are still open while a text is typed (``_f0``, ``_f1``,
...) and binds them as shapes meet; the parser's inference is one.

A function's result shape follows from its argument's by a ``Rule``.  Three parts of
mdiff read the same rule: the parser's inference, on shapes whose sizes may still be
open (a ``Unifier`` unifies them), the node constructors, on known
shapes (``expr.apply``), and the text printer's size analysis, which asks what sizes of
a result its argument's text fixes (``fixes``) and what sizes of the argument the
result's context fixes (``context``), so that ``vector(1)`` is printed size-free
exactly where it reads back with the same size.

A rule reaches sizes only through a ``ShapeAlgebra`` — ``square`` (make or check the
two sizes equal, else raise a ``ShapeError`` naming the function), ``is_column``,
``times`` — so it is the same code on open and on known sizes.  The module imports
nothing of mdiff.
"""

from __future__ import annotations

from typing import Protocol

from .dims import Dim, smaller, symbol


# --- dimensions ------------------------------------------------------------------------

def dim_symbol(name: str) -> Dim:
    """The size named ``name`` (one object per name)."""
    return symbol(name)


def as_dim(d) -> Dim:
    """A size from a Dim or a whole number."""
    return Dim.of(d)


def dim_text(d) -> str:
    return str(d)


def fmt_dim(d) -> str:
    return dim_text(d).replace("**", "^").replace("Min(", "min(")


def fmt_shape(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return f"vector({fmt_dim(r)})"
    return f"{fmt_dim(r)}×{fmt_dim(c)}"


def same_dim(a, b) -> bool:
    return a == b       # sizes are kept in one canonical form


# --- unification of open sizes ------------------------------------------------------------

class Unifier:
    """Sizes that may still be open: ``fresh()`` makes one, ``unify_dim`` binds open sizes
    so that two sizes agree (or says they cannot), ``resolve`` reads a size through the
    bindings."""

    def __init__(self):
        self.bind: dict = {}           # open symbol -> the size it is bound to
        self.flex: list = []           # the open symbols, in order of creation

    def fresh(self):
        s = symbol(f"_f{len(self.flex)}")
        self.flex.append(s)
        return s

    def resolve(self, d):
        d = Dim.of(d)
        if d.is_number:
            return d
        if d in self.bind:
            r = self.resolve(self.bind[d])
            self.bind[d] = r
            return r
        if d.is_Symbol:
            return d
        subs = {s: self.resolve(s) for s in d.free_symbols if s in self.bind}
        return d.xreplace(subs) if subs else d

    @staticmethod
    def is_flex(d):
        return d.is_Symbol and d.name.startswith("_f")

    def unify_dim(self, a, b) -> bool:
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return True
        if self.is_flex(a) and a not in b.free_symbols:
            self.bind[a] = b
            return True
        if self.is_flex(b) and b not in a.free_symbols:
            self.bind[b] = a
            return True
        fa, fb = a.factors(), b.factors()
        if len(fa) == len(fb) > 1 and (all(map(self.is_flex, fa)) or all(map(self.is_flex, fb))):
            # n*m against p*q (a Kronecker product against a vec): match factor by factor
            return all(self.unify_dim(x, y) for x, y in zip(fa, fb))
        common = _common_factor(a, b)
        if common is not None:     # ?1*m = ?2*m: sizes are positive, cancel the common factor
            return self.unify_dim(a / common, b / common)
        (base_a, k_a), (base_b, k_b) = a.base_exp(), b.base_exp()
        if k_a == k_b and k_a != 1:
            # sizes are positive, so x^k = y^k means x = y (tr(X ⊗ X) makes X square)
            return self.unify_dim(base_a, base_b)
        flex = [s for s in (a - b).free_symbols if self.is_flex(s)]
        if len(flex) == 1:
            sol = _solve_linear(a - b, flex[0])
            if sol is not None and not (sol.is_number and not (sol.is_Integer and sol > 0)):
                self.bind[flex[0]] = sol
                return True
        return False

    def is_scalar(self, shape):
        return self.resolve(shape[0]) == 1 and self.resolve(shape[1]) == 1

    def is_col(self, shape):
        return self.resolve(shape[1]) == 1


def _common_factor(a: Dim, b: Dim):
    """The monomial two one-term sizes share (m for ?1*m and ?2*m), else None."""
    ma, mb = a.monomial(), b.monomial()
    if ma is None or mb is None or not (len(a.factors()) > 1 and len(b.factors()) > 1):
        return None
    eb = dict(mb[1])
    shared = [(atom, min(k, eb[atom])) for atom, k in ma[1] if atom in eb]
    if not shared:
        return None
    return Dim({tuple(shared): 1})


def _solve_linear(d: Dim, x: Dim):
    """x from d = 0 where d is linear in x with a coefficient that divides the rest
    (?1 + m = n gives ?1 = n - m), else None."""
    if d.degree(x) != 1:
        return None
    slope, rest = Dim.of(0), Dim.of(0)
    name = x.name
    for mono, coef in d.terms.items():
        exps = dict(mono)
        if name in exps:
            slope = slope + Dim({tuple(p for p in mono if p[0] != name): coef})
        else:
            rest = rest + Dim({mono: coef})
    try:
        return -rest / slope
    except (ValueError, ZeroDivisionError):
        return None


# --- shape rules --------------------------------------------------------------------------

class ShapeAlgebra(Protocol):
    """Sizes as one reader has them: open (the parser) or known (the constructors)."""

    def square(self, shape, what: str) -> None:
        """Make (or check) ``shape`` square, else raise a ShapeError naming ``what``."""

    def is_column(self, shape) -> bool:
        """Is the shape known to have one column?"""

    def times(self, a, b):
        """The size a*b."""

    def is_scalar(self, shape) -> bool:
        """Is the shape known to be 1×1?"""

    def scalar(self, shape, message: str) -> None:
        """Check (never make) ``shape`` 1×1, else raise a ShapeError: ``message``, not
        the shape."""

    def equal(self, a, b, what: str) -> None:
        """Make (or check) the sizes ``a`` and ``b`` equal, else raise a ShapeError naming
        ``what``."""


ONE_BY_ONE = (1, 1)


class Rule:
    """How a function's result shape follows from its arguments'.

    A one-argument rule writes ``infer``/``fixes``/``context`` for its argument; a rule
    of several arguments (``arity``) writes the ``*_all`` forms, which every reader
    calls."""

    #: a short name used in messages and tests
    name = "rule"
    #: how many arguments the function takes
    arity = 1

    def infer_all(self, algebra: ShapeAlgebra, xs: tuple, what: str):
        """The result's shape from the arguments' shapes ``xs``."""
        return self.infer(algebra, xs[0], what)

    def fixes_all(self, fixed: list) -> tuple[bool, bool]:
        """``fixes`` given each argument's (rows, cols) fixed by its text."""
        return self.fixes(*fixed[0])

    def context_all(self, rows: bool, cols: bool) -> list:
        """``context`` for each argument: [(rows, cols) fixed], in argument order."""
        return [self.context(rows, cols)]

    def applies(self, algebra: ShapeAlgebra, x) -> bool:
        """Whether this rule reads an argument of shape ``x`` (one spelling, several
        operations: ``diag`` of a vector or of a square matrix)."""
        return True

    def infer(self, algebra: ShapeAlgebra, x, what: str):
        raise NotImplementedError

    def fixes(self, rows: bool, cols: bool) -> tuple[bool, bool]:
        """(rows, cols) of the result fixed by the argument's text, given which of the
        argument's sizes its text fixes."""
        return (True, True)

    def context(self, rows: bool, cols: bool) -> tuple[bool, bool]:
        """(rows, cols) of the argument fixed by the result's context, given which of
        the result's sizes the context fixes."""
        return (False, False)

    def __repr__(self) -> str:
        return f"<shape rule {self.name}>"


class _Same(Rule):
    """The argument's shape (elementwise functions, softmax)."""
    name = "same"

    def infer(self, algebra, x, what):
        return x

    def fixes(self, rows, cols):
        return (rows, cols)

    def context(self, rows, cols):
        return (rows, cols)


class _Square(Rule):
    """A square matrix to one of the same size (inv, matrix functions)."""
    name = "square"

    def infer(self, algebra, x, what):
        algebra.square(x, what)
        return x

    def fixes(self, rows, cols):
        return (rows or cols, rows or cols)

    def context(self, rows, cols):
        return (rows or cols, rows or cols)


class _Reduce(Rule):
    """Any shape to a scalar (sum, norms, logsumexp)."""
    name = "scalar"

    def infer(self, algebra, x, what):
        return ONE_BY_ONE


class _SquareReduce(Rule):
    """A square matrix to a scalar (tr, det, logdet)."""
    name = "square to scalar"

    def infer(self, algebra, x, what):
        algebra.square(x, what)
        return ONE_BY_ONE


class _Vec(Rule):
    """An m×n matrix to its mn columns stacked."""
    name = "vec"

    def infer(self, algebra, x, what):
        return (algebra.times(x[0], x[1]), 1)

    def fixes(self, rows, cols):
        return (rows and cols, True)


class _DiagMatrix(Rule):
    """A vector to the diagonal matrix that carries it."""
    name = "vector to diagonal matrix"

    def applies(self, algebra, x):
        return algebra.is_column(x)

    def infer(self, algebra, x, what):
        return (x[0], x[0])

    def fixes(self, rows, cols):
        return (rows, rows)

    def context(self, rows, cols):
        return (rows or cols, True)


class _DiagVector(Rule):
    """A square matrix to its diagonal."""
    name = "square to its diagonal"

    def infer(self, algebra, x, what):
        algebra.square(x, what)
        return (x[0], 1)

    def fixes(self, rows, cols):
        return (rows or cols, True)

    def context(self, rows, cols):
        return (rows, rows)


class _SquareToVector(_DiagVector):
    """A square matrix to a vector of its size (eigvals)."""
    name = "square to a vector"


class _VectorToSquare(_DiagMatrix):
    """An n-vector to an n×n matrix (gapinv): its one reading checks the column."""
    name = "vector to a square matrix"

    def infer(self, algebra, x, what):
        algebra.equal(x[1], 1, what)
        return (x[0], x[0])


class _Broadcast(Rule):
    """Two arrays of one shape to that shape, either may be a scalar (broadcast):
    max(x, 0)."""
    name = "two of one shape"
    arity = 2

    def infer_all(self, algebra, xs, what):
        a, b = xs
        if algebra.is_scalar(a):
            return b
        if not algebra.is_scalar(b):
            algebra.equal(a[0], b[0], what)
            algebra.equal(a[1], b[1], what)
        return a


class _WithScalar(Rule):
    """An array and a scalar parameter (``role``) to the array's shape: leaky_relu(x, a)."""
    arity = 2

    def __init__(self, role: str):
        self.role = role
        self.name = f"an array and a scalar {role}"

    def infer_all(self, algebra, xs, what):
        algebra.scalar(xs[1], f"{what}(x, a) takes a scalar {self.role} a")
        return xs[0]


class _Singular(Rule):
    """An m×n matrix to one factor of its thin SVD, k = min(m, n): the k singular values
    (``part`` 'values'), U (m×k, 'left'), V (n×k, 'right') or their first columns
    ('left1', 'right1')."""

    def __init__(self, part: str):
        self.part = part
        self.name = {"values": "matrix to its singular values", "left": "matrix to its m×k "
                     "left singular vectors", "right": "matrix to its n×k right singular "
                     "vectors", "left1": "matrix to its first left singular vector",
                     "right1": "matrix to its first right singular vector"}[part]

    def infer(self, algebra, x, what):
        k = smaller(x[0], x[1])
        return {"values": (k, 1), "left": (x[0], k), "right": (x[1], k),
                "left1": (x[0], 1), "right1": (x[1], 1)}[self.part]

    def fixes(self, rows, cols):
        k = rows and cols
        return {"values": (k, True), "left": (rows, k), "right": (cols, k),
                "left1": (rows, True), "right1": (cols, True)}[self.part]


class _Sylvester(Rule):
    """sylvester(A, B, C): A n×n, B m×m and C n×m to the n×m solution Y of A*Y + Y*B = C."""
    name = "sylvester"
    arity = 3

    def infer_all(self, algebra, xs, what):
        a, b, c = xs
        algebra.square(a, what)
        algebra.square(b, what)
        algebra.equal(c[0], a[0], what)
        algebra.equal(c[1], b[0], what)
        return (a[0], b[0])

    def fixes_all(self, fixed):
        (ar, ac), (br, bc), (cr, cc) = fixed
        return (ar or ac or cr, br or bc or cc)

    def context_all(self, rows, cols):
        return [(rows, rows), (cols, cols), (rows, cols)]


class _SquareMatrices(Rule):
    """``arity`` square matrices of one size n to an n×n matrix (the Fréchet derivatives
    L(X, E), L2(X, E, F)) or, ``kron``, to the n²×n² matrix of such a map (its Kronecker
    form)."""
    arity = 2

    def __init__(self, arity: int, kron: bool = False):
        self.arity, self.kron = arity, kron
        self.name = f"{arity} square matrices of one size" + (" to n²×n²" if kron else "")

    def infer_all(self, algebra, xs, what):
        for x in xs:
            algebra.square(x, what)
        for x in xs[1:]:
            algebra.equal(x[0], xs[0][0], what)
        n = xs[0][0]
        return (algebra.times(n, n),) * 2 if self.kron else xs[0]

    def fixes_all(self, fixed):
        known = any(r or c for r, c in fixed)
        return (known, known)

    def context_all(self, rows, cols):
        return [(rows or cols, rows or cols)] * self.arity


SAME = _Same()
SQUARE = _Square()
REDUCE = _Reduce()
SQUARE_REDUCE = _SquareReduce()
VEC = _Vec()
DIAG_MATRIX = _DiagMatrix()
DIAG_VECTOR = _DiagVector()
SYLVESTER = _Sylvester()
SQUARE_TO_VECTOR = _SquareToVector()
VECTOR_TO_SQUARE = _VectorToSquare()
SINGULAR_VALUES = _Singular("values")
SINGULAR_LEFT = _Singular("left")
SINGULAR_RIGHT = _Singular("right")
SINGULAR_LEFT_FIRST = _Singular("left1")
SINGULAR_RIGHT_FIRST = _Singular("right1")
BROADCAST_PAIR = _Broadcast()
WITH_SLOPE = _WithScalar("slope")
SQUARE_PAIR = _SquareMatrices(2)
SQUARE_TRIPLE = _SquareMatrices(3)
KRON_FORM = _SquareMatrices(1, kron=True)
KRON_FORM_PAIR = _SquareMatrices(2, kron=True)
