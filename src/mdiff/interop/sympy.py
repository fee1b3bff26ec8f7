"""SymPy matrix expressions to and from mdiff nodes.

``to_sympy`` writes a node as SymPy's matrix-expression classes (``MatrixSymbol``,
``MatMul``, ``Transpose``, ``Inverse``, ``Trace``, ``Determinant``,
``HadamardProduct``, ``KroneckerProduct``, ...) where SymPy can express it; an
operation it cannot (elementwise ``tanh`` of a matrix, ``softmax``) is a
``DiffError`` naming it.  ``from_sympy`` reads the same classes back.  Scalars are
SymPy ``Symbol``s, vectors n x 1 ``MatrixSymbol``s, dimensions positive integer
symbols.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import (Determinant, HadamardPower, HadamardProduct, Identity,
                                        KroneckerProduct, MatAdd, MatMul, MatPow,
                                        MatrixExpr, MatrixSymbol, OneMatrix, Transpose,
                                        ZeroMatrix)

from ..core import expr as E
from ..core import ops
from ..core.dims import from_sympy as dim_from_sympy
from ..errors import DiffError
from ..core.expr import Expr, postorder


def _scalar_or_matrix(value, node: Expr):
    """SymPy wants scalars as plain expressions, not 1x1 matrices."""
    if node.is_scalar and isinstance(value, MatrixExpr):
        return value[0, 0]
    return value


def to_sympy(root: Expr):
    """The SymPy matrix expression of an mdiff node."""
    out: dict = {}
    for e in postorder(root):
        a = [out[id(x)] for x in e.args]
        out[id(e)] = _to(e, a)
    return out[id(root)]


def _to(e: Expr, a):
    op = e.op
    r, c = (d.to_sympy() for d in e.shape)
    if op == "var":
        return sp.Symbol(e.name, real=True) if e.is_scalar else MatrixSymbol(e.name, r, c)
    if op == "num":
        return sp.Rational(e.data)
    if op == "dim":
        return e.data.to_sympy()
    if op == "const":
        return getattr(sp, e.data)
    if op == "fill":
        return ZeroMatrix(r, c) if e.data == 0 else sp.Rational(e.data) * OneMatrix(r, c)
    if op == "eye":
        return Identity(r)
    if op == "add":
        return sp.Add(*a) if e.is_scalar else MatAdd(*a).doit()
    if op == "mul":
        coef, nscal = e.data
        scalars = sp.Mul(sp.Rational(coef), *[_as_scalar(x) for x in a[:nscal]])
        chain = a[nscal:]
        if not chain:
            return scalars
        prod = MatMul(*chain).doit() if len(chain) > 1 else chain[0]
        return MatMul(scalars, prod).doit() if scalars != 1 else prod
    if op == "T":
        return Transpose(a[0]).doit()
    if op in _MATRIX_FUNCTIONS:
        return _MATRIX_FUNCTIONS[op](a[0])
    if op == "logdet":          # SymPy has no log-determinant: log(det(X))
        return sp.log(Determinant(a[0]))
    if op == "had":
        return HadamardProduct(*a)
    if op == "kron":
        return KroneckerProduct(*a)
    if op == "mpow":
        return MatPow(a[0], e.data)
    if op == "pow":
        base, p = a
        if isinstance(p, MatrixExpr):
            raise DiffError("SymPy has no power with a matrix-valued exponent")
        if not isinstance(base, MatrixExpr):
            return sp.Pow(base, p)
        if e.is_scalar and p.is_Integer:
            return MatPow(base, p)
        return HadamardPower(base, p)
    if op in _SCALAR_FUNCTIONS and not isinstance(a[0], MatrixExpr):
        return _SCALAR_FUNCTIONS[op](a[0])
    if op == "index" and isinstance(a[0], MatrixExpr):   # SymPy slices from 0, end excluded
        r, c = (slice(None) if s is None else slice(s[0].to_sympy() - 1, s[1].to_sympy())
                for s in e.data)
        return a[0][r, c]
    if op == "block":
        q = e.data[1]
        return sp.BlockMatrix([list(a[k:k + q]) for k in range(0, len(a), q)])
    raise DiffError(f"SymPy has no matrix expression for {op!r}")


def _as_scalar(x):
    """A 1x1 matrix expression stays a matrix expression (SymPy multiplies it like a
    scalar and differentiates it); plain scalars pass through."""
    return x


_SCALAR_FUNCTIONS = {name: getattr(sp, op.sympy) for name, op in ops.ELEMENTWISE.items()
                     if op.sympy}
_FROM_FUNCTIONS = {v: k for k, v in _SCALAR_FUNCTIONS.items()}
#: Matrix functions whose records name a SymPy matrix expression (Inverse, Trace, ...).
_MATRIX_FUNCTIONS = {name: getattr(sp, f.sympy) for name, f in ops.FUNCTIONS.items() if f.sympy}
_FROM_MATRIX_FUNCTIONS = {v: k for k, v in _MATRIX_FUNCTIONS.items()}


def from_sympy(obj, props: dict | None = None) -> Expr:
    """An mdiff node from a SymPy (matrix) expression.  ``props`` gives, by name, the
    declared properties SymPy does not carry (``{"S": {"spd", "symmetric"}}``; the API
    reads them from declarations)."""
    return _from(sp.sympify(obj), props or {})


def _dims(shape):
    return tuple(dim_from_sympy(sp.sympify(d)) for d in shape)


def _from(x, props) -> Expr:
    if isinstance(x, MatrixSymbol):
        return E.var(x.name, _dims(x.shape), props.get(x.name, ()))
    if isinstance(x, sp.Symbol):
        if x.is_integer and x.is_positive:
            return E.dim_scalar(E.dim_symbol(x.name))
        return E.var(x.name, (1, 1), props.get(x.name, ()))
    if x.is_Rational:
        return E.num(x)
    if x is sp.pi:
        return E.constant("pi")
    if isinstance(x, Identity):
        return E.eye(_dims(x.shape)[0])
    if isinstance(x, ZeroMatrix):
        return E.zeros(_dims(x.shape))
    if isinstance(x, OneMatrix):
        return E.ones(_dims(x.shape))
    args = [_from(a, props) for a in x.args]
    if isinstance(x, (MatAdd, sp.Add)):
        return E.add(*args)
    if isinstance(x, (MatMul, sp.Mul)):
        return E.mul(*args)
    if isinstance(x, Transpose):
        return E.transpose(args[0])
    if x.func in _FROM_MATRIX_FUNCTIONS:
        return E.apply(_FROM_MATRIX_FUNCTIONS[x.func], args[0])
    if isinstance(x, HadamardProduct):
        out = args[0]
        for y in args[1:]:
            out = E.hadamard(out, y)
        return out
    if isinstance(x, KroneckerProduct):
        out = args[0]
        for y in args[1:]:
            out = E.kron(out, y)
        return out
    if isinstance(x, HadamardPower):
        return E.power(args[0], args[1])
    if isinstance(x, MatPow):
        return E.matrix_power(args[0], int(x.exp))
    if isinstance(x, sp.Pow):
        return E.power(args[0], args[1])
    if isinstance(x, sp.log) and isinstance(x.args[0], Determinant):
        return E.apply("logdet", _from(x.args[0].arg, props))
    if x.func in _FROM_FUNCTIONS:
        return E.apply(_FROM_FUNCTIONS[x.func], args[0])
    raise DiffError(f"mdiff cannot read the SymPy object {type(x).__name__}: {x}")
