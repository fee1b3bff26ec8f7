"""SymPy interop: mdiff results as SymPy matrix expressions and back, and agreement
with SymPy's own matrix derivatives where SymPy gets them right."""

import pytest
import sympy as sp
from sympy import MatrixSymbol, Trace

import mdiff
from mdiff.numeric.check import compare_exprs

ROUND_TRIP = ["tr(A*X*B)", "x'*A*x", "log(det(X))", "inv(X)' + 2*A", "A .* B", "kron(A, B)",
              "X^3", "a*x", "exp(a) + sin(b)", "(x'*x)^2", "x.^2", "det(X)*inv(X)'",
              "A*x - b", "1/2*X + X'"]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip_through_sympy(text):
    p = mdiff.parse(text)
    back = mdiff.from_sympy(p.to_sympy())
    assert compare_exprs(p.expr, back.expr, {**p.variables, **back.variables}).equal


def test_derivative_to_sympy():
    r = mdiff.diff("tr(A*X*B)", wrt="X")
    s = r.to_sympy()
    assert str(s) == "A.T*B.T"


n = sp.Symbol("n", positive=True, integer=True)
X, A, B = (MatrixSymbol(c, n, n) for c in "XAB")
x = MatrixSymbol("x", n, 1)

SYMPY_CASES = [
    (Trace(A * X * B), X),
    (Trace(X.T * A * X), X),
    ((x.T * A * x), x),
    (Trace(A * X.T * B * X), X),
]


@pytest.mark.parametrize("obj,var", SYMPY_CASES, ids=[str(c[0]) for c in SYMPY_CASES])
def test_agrees_with_sympy_derivative(obj, var):
    p = mdiff.from_sympy(obj)
    ours = mdiff.diff(p, wrt=var.name)
    theirs = mdiff.from_sympy(obj.diff(var))
    assert compare_exprs(ours.expr, theirs.expr, {**p.variables, **theirs.variables}).equal


def test_sympy_silent_zero_where_mdiff_is_right():
    # SymPy returns 0 for d log(det(X))/dX; mdiff returns inv(X)' and checks it
    obj = sp.log(sp.Determinant(X))
    r = mdiff.diff(mdiff.from_sympy(obj), wrt="X")
    assert str(r) == "inv(X)'" and r.check().ok


def test_unexpressible_is_a_clear_error():
    with pytest.raises(mdiff.DiffError, match="softmax"):
        mdiff.parse("softmax(x)").to_sympy()
    with pytest.raises(mdiff.DiffError):
        mdiff.from_sympy(sp.Function("g")(sp.Symbol("t")))
