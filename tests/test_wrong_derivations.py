"""Classic wrong hand derivations, which every verdict must reject, and right ones
spelled differently, which every verdict must accept (issue 13, DESIGN §6).

Each row goes through the three interfaces a user checks a derivation with: the CLI's
``--against``, ``mdiff.equivalent`` (the formula against mdiff's printed result) and
``mdiff.testing`` (the formula as the user's numpy function).  A verdict of "equal"
must be earned at generic points: non-symmetric matrices under det/logdet, mixed
signs under log(1 + ...), labels that do not sum to 1.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdiff
from mdiff.cli import run
from mdiff.testing import assert_gradient, assert_hessian, assert_jacobian

SQ = {"A": "matrix(n,n)", "B": "matrix(n,n)", "X": "matrix(n,n)"}
VEC = {"a": "vector(n)", "b": "vector(n)"}
SPD = {"S": "matrix(n,n) spd"}
SYM = {"S": "matrix(n,n) symmetric"}
LOGISTIC = "sum(log(1 + exp(-y .* (X*w))))"
GAUSS = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); "
         "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))")
GP = "K = s*X*X' + c*eye(n); -1/2*y'*inv(K)*y - 1/2*logdet(K)"
GP_SYMBOLS = {"s": "scalar", "c": "scalar", "X": "matrix(n,m)"}
GP_K = "inv(s*X*X' + c*eye(n))"
MLP = "1/2*norm2(tanh(W*x + b) - y)^2"
CE = "-y'*log(softmax(W*x))"

# (mistake, expression, wrt, symbols, kind, the hand-derived formula)
WRONG = [
    ("missing transpose", "logdet(X)", "X", None, "gradient", "inv(X)"),
    ("missing transpose", "det(X)", "X", None, "gradient", "det(X)*inv(X)"),
    ("abs for the identity", "log(1 + x'*x)", "x", None, "gradient", "2*abs(x)/(1 + x'*x)"),
    ("missing transpose", "tr(A*X)", "X", SQ, "gradient", "A"),
    ("product in the wrong order", "tr(A*X*B)", "X", SQ, "gradient", "B'*A'"),
    ("missing symmetrisation", "x'*A*x", "x", None, "gradient", "2*A*x"),
    ("factor 2", "x'*A*x", "x", None, "gradient", "(A + A')*x/2"),
    ("factor 2", "norm2(A*x - b)^2", "x", None, "gradient", "A'*(A*x - b)"),
    ("sign", "norm2(A*x - b)^2", "x", None, "gradient", "2*A'*(b - A*x)"),
    ("missing symmetrisation", "tr(X'*A*X)", "X", None, "gradient", "2*A*X"),
    ("missing transpose", "tr(X*X)", "X", None, "gradient", "2*X"),
    ("missing transpose", "tr(X^3)", "X", None, "gradient", "3*X^2"),
    ("missing transpose", "tr(inv(X))", "X", None, "gradient", "-inv(X)*inv(X)"),
    ("missing transpose", "tr(inv(X)*A)", "X", SQ, "gradient", "-inv(X)*A*inv(X)"),
    ("one term twice", "tr(A*X'*B*X)", "X", SQ, "gradient", "2*B*X*A"),
    ("transpose in one term", "tr(A*X'*B*X)", "X", SQ, "gradient", "B*X*A + B*X*A'"),
    ("dropped normalising sum", "logsumexp(x)", "x", None, "gradient", "exp(x)"),
    ("labels assumed to sum to 1", CE, "W", None, "gradient", "(softmax(W*x) - y)*x'"),
    ("sigmoid for its complement", "sum(log(sigmoid(x)))", "x", None, "gradient",
     "sigmoid(x)"),
    ("sign", LOGISTIC, "w", None, "gradient", "X'*(y .* sigmoid(-y .* (X*w)))"),
    ("sigmoid of the wrong sign", LOGISTIC, "w", None, "gradient",
     "-X'*(y .* sigmoid(y .* (X*w)))"),
    ("norm for its square", "norm2(x)", "x", None, "gradient", "2*x"),
    ("factor 1/2", "sqrt(x'*x)", "x", None, "gradient", "x/(2*sqrt(x'*x))"),
    ("missing transpose", "norm2(X')^2 + tr(A*X)", "X", SQ, "gradient", "2*X + A"),
    ("outer product the wrong way", "a'*X*b", "X", {**SQ, **VEC}, "gradient", "b*a'"),
    ("outer product the wrong way", "a'*X'*b", "X", {**SQ, **VEC}, "gradient", "a*b'"),
    ("missing transpose", "logdet(X'*X)", "X", SQ, "gradient", "2*inv(X)"),
    ("missing transpose", "logdet(A*X*B)", "X", SQ, "gradient", "inv(X)"),
    ("sign", "sum(log(x))", "x", None, "gradient", "-1 ./ x"),
    ("missing symmetrisation", "(x'*A*x)/(x'*x)", "x", None, "gradient",
     "2*A*x/(x'*x) - 2*(x'*A*x)*x/(x'*x)^2"),
    ("factor 2", "(x'*A*x)/(x'*x)", "x", None, "gradient",
     "(A + A')*x/(x'*x) - (x'*A*x)*x/(x'*x)^2"),
    ("missing transposes", "x'*inv(X)*y", "X", None, "gradient", "-inv(X)*x*y'*inv(X)"),
    ("missing transpose", "x'*inv(X)*x", "X", None, "gradient", "-inv(X)*x*x'*inv(X)"),
    ("sign of a kink", "sum(relu(x))", "x", None, "gradient", "sign(x)"),
    ("abs for the identity", "sum(abs(x))", "x", None, "gradient", "vector(1, n)"),
    ("abs for the identity", "1/2*x'*x", "x", None, "gradient", "abs(x)"),
    ("missing activation derivative", MLP, "W", None, "gradient", "(tanh(W*x + b) - y)*x'"),
    ("activation derivative of the wrong function", MLP, "b", None, "gradient",
     "(tanh(W*x + b) - y) .* (1 - tanh(W*x + b))"),
    ("missing inverse", GAUSS, "m", None, "gradient", "(D - m*vector(1)')*vector(1)"),
    ("one inverse dropped", GAUSS, "S", None, "gradient",
     "-N/2*inv(S) + 1/2*inv(S)*(D - m*vector(1)')*(D - m*vector(1)')'"),
    ("entry-wise convention for the symmetric one", "logdet(S)", "S", SPD, "gradient",
     "2*inv(S) - diag(diag(inv(S)))"),
    ("missing symmetrisation", "tr(A*S)", "S", SYM, "gradient", "A'"),
    ("missing log-determinant term", GP, "s", GP_SYMBOLS, "gradient",
     f"1/2*y'*{GP_K}*X*X'*{GP_K}*y"),
    ("missing factor of the argument", "exp(a'*x)", "x", {"a": "vector(n)"}, "gradient",
     "exp(a'*x)*x"),
    ("missing factor det", "det(X)", "X", None, "gradient", "inv(X)'"),
    ("missing transpose", "A*X*B", "X", SQ, "jacobian", "kron(B, A)"),
    ("Kronecker factors swapped", "A*X*B", "X", SQ, "jacobian", "kron(A, B')"),
    ("missing transpose", "A*x", "x", {"A": "matrix(n,n)"}, "jacobian", "A'"),
    ("derivative of tanh", "tanh(W*x)", "x", None, "jacobian", "diag(1 - tanh(W*x))*W"),
    ("missing outer product", "softmax(x)", "x", None, "jacobian", "diag(softmax(x))"),
    ("missing symmetrisation", "x'*A*x", "x", None, "hessian", "2*A"),
    ("labels assumed to be ±1", LOGISTIC, "w", None, "hessian",
     "X'*diag(sigmoid(y .* (X*w)) .* sigmoid(-y .* (X*w)))*X"),
    ("factor 2", "norm2(A*x - b)^2", "x", None, "hessian", "A'*A"),
]

RIGHT = [
    ("logdet(X)", "X", None, "gradient", "inv(X')"),
    ("det(X)", "X", None, "gradient", "det(X)*inv(X')"),
    ("log(1 + x'*x)", "x", None, "gradient", "2*x/(1 + norm2(x)^2)"),
    ("tr(A*X*B)", "X", SQ, "gradient", "(B*A)'"),
    ("x'*A*x", "x", None, "gradient", "A*x + A'*x"),
    ("norm2(A*x - b)^2", "x", None, "gradient", "2*A'*A*x - 2*A'*b"),
    ("tr(X'*A*X)", "X", None, "gradient", "A*X + A'*X"),
    ("tr(A*X'*B*X)", "X", SQ, "gradient", "B*X*A + (A*X'*B)'"),
    ("logsumexp(x)", "x", None, "gradient", "exp(x)/sum(exp(x))"),
    ("logsumexp(x)", "x", None, "gradient", "exp(x - logsumexp(x)*vector(1))"),
    ("sum(log(sigmoid(x)))", "x", None, "gradient", "1 - sigmoid(x)"),
    (LOGISTIC, "w", None, "gradient", "-X'*(y ./ (1 + exp(y .* (X*w))))"),
    ("norm2(x)", "x", None, "gradient", "x/sqrt(x'*x)"),
    (CE, "W", None, "gradient", "softmax(W*x)*vector(1)'*y*x' - y*x'"),
    ("tr(inv(X))", "X", None, "gradient", "-inv(X')*inv(X')"),
    ("sum(abs(x))", "x", None, "gradient", "x ./ abs(x)"),
    ("1/2*x'*x", "x", None, "gradient", "abs(x) .* sign(x)"),
    (MLP, "W", None, "gradient", "((tanh(W*x + b) - y) .* (1 - tanh(W*x + b).^2))*x'"),
    (GAUSS, "m", None, "gradient", "inv(S)*(D*vector(1) - N*m)"),
    ("logdet(S)", "S", SPD, "gradient", "inv(S)'"),
    ("tr(A*S)", "S", SYM, "gradient", "A/2 + A'/2"),
    (GP, "s", GP_SYMBOLS, "gradient",
     f"1/2*y'*{GP_K}*X*X'*{GP_K}*y - 1/2*tr({GP_K}*X*X')"),
    ("A*X*B", "X", SQ, "jacobian", "kron(B, A')'"),
    ("softmax(x)", "x", None, "jacobian", "diag(softmax(x)) - softmax(x)*softmax(x)'"),
    ("x'*A*x", "x", None, "hessian", "A' + A"),
    ("norm2(A*x - b)^2", "x", None, "hessian", "2*A'*A"),
]


def _wrong_id(row):
    return f"{row[1]} wrt {row[2]}: {row[0]}, {row[5]}"


def _right_id(row):
    return f"{row[0]} wrt {row[1]}: {row[4]}"


def _derivative(expr, wrt, symbols, kind):
    if kind == "hessian":
        return mdiff.hessian(expr, wrt=wrt, symbols=symbols)
    return mdiff.diff(expr, wrt=wrt, symbols=symbols)


def _cli(expr, wrt, symbols, kind, formula) -> int:
    argv = [expr, "wrt", wrt, "--against", formula]
    for name, spec in (symbols or {}).items():
        argv += ["-d", f"{name}: {spec}"]
    if kind == "hessian":
        argv.append("--hessian")
    return run(argv)


def _equivalent(r, formula):
    return mdiff.equivalent(str(r), formula, symbols=r.f.symbols())


def _as_user_function(r, formula):
    """The hand-derived formula as the numpy function a user would pass."""
    fn = mdiff.function(formula, r.f.symbols())
    return lambda **values: np.asarray(fn(**values))


def _testing(r, expr, wrt, symbols, kind, formula):
    fn = _as_user_function(r, formula)
    check = {"gradient": assert_gradient, "jacobian": assert_jacobian,
             "hessian": assert_hessian}[kind]
    check(fn, expr, wrt=wrt, symbols=symbols)


def test_the_tables_are_large_enough():
    assert len(WRONG) >= 40 and len(RIGHT) >= 20
    assert len({_wrong_id(w) for w in WRONG}) == len(WRONG)


@pytest.mark.parametrize("row", WRONG, ids=_wrong_id)
def test_every_interface_rejects_a_wrong_derivation(row, capsys):
    mistake, expr, wrt, symbols, kind, formula = row
    r = _derivative(expr, wrt, symbols, kind)
    assert not mdiff.against(r, formula).equal
    assert _cli(expr, wrt, symbols, kind, formula) == 1
    assert "NOT equal" in capsys.readouterr().out
    assert not _equivalent(r, formula).equal
    with pytest.raises(AssertionError, match="differs from mdiff's"):
        _testing(r, expr, wrt, symbols, kind, formula)


@pytest.mark.parametrize("row", RIGHT, ids=_right_id)
def test_every_interface_accepts_a_right_derivation(row, capsys):
    expr, wrt, symbols, kind, formula = row
    r = _derivative(expr, wrt, symbols, kind)
    assert mdiff.against(r, formula).equal
    assert _cli(expr, wrt, symbols, kind, formula) == 0
    assert "against" in capsys.readouterr().out
    assert _equivalent(r, formula).equal
    _testing(r, expr, wrt, symbols, kind, formula)


def test_a_hand_written_numpy_gradient_with_the_missing_transpose_is_rejected():
    with pytest.raises(AssertionError):
        assert_gradient(lambda X: np.linalg.inv(X), "logdet(X)", wrt="X")
    assert_gradient(lambda X: np.linalg.inv(X).T, "logdet(X)", wrt="X")
    assert not mdiff.equivalent("logdet(X)*X", "logdet(X)*X'").equal
