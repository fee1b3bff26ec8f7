"""The table of derivative cases: textbook identities with their sources.

Each ``Case`` is one derivative: the expression (mdiff input text), the variable, the
declarations it needs, and — where the source gives one — the textbook formula written
as mdiff text.  ``tests/test_cookbook.py`` checks every case against central finite
differences and, where a formula is given, against the formula with ``mdiff.against``;
``tests/test_rule_coverage.py`` makes sure the table exercises every differentiation
rule and every function of the language.

Sources
-------
* ``CB(n)`` — The Matrix Cookbook, K. B. Petersen & M. S. Pedersen, version of
  November 15, 2012, equation (n).  ``CB§s`` cites a section where the Cookbook states
  the identity in a convention other than mdiff's (e.g. the entry-wise convention for
  symmetric matrices, §2.8.2: mdiff's default is ``sym(G)``, DESIGN §3).
* ``MN`` — Magnus & Neudecker's identities (vec/Kronecker forms of differentials),
  the ones DESIGN §1 lists: vec(AXB) = (B'⊗A)vec X, vec(X') = K vec X,
  d inv(X) = -inv(X) dX inv(X), vec(A⊙X) = diag(vec A) vec X.
* ``matrixcalculus.org`` — the examples of that site.
* ``ML`` — standard machine-learning gradients (logistic loss, softmax cross-entropy,
  least squares, one neural layer).
* ``calculus`` — the derivative of an elementwise function (d φ(x) = φ'(x) ⊙ dx).

Naming convention (DESIGN §2): undeclared ``a``–``g`` are scalars, ``h``–``z`` vectors,
``A``–``Z`` matrices; where the Cookbook's ``a``, ``b`` are vectors they are declared.

``reference`` (optional) is a numpy function of the input values that returns what
``Derivative.function()`` must return (DESIGN §3 layout) — used for the Jacobians with
a known Kronecker form.  ``dims`` gives concrete sizes for those numeric comparisons.
``xfail`` marks a case that shows a known mdiff bug (the reason says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    source: str
    text: str
    wrt: str
    symbols: dict | None = None
    formula: str | None = None
    note: str = ""
    reference: Callable | None = field(default=None, compare=False)
    xfail: str | None = None

    @property
    def id(self) -> str:
        return f"{self.source}: d[{self.text}]/d{self.wrt}"


# --- numpy references for Jacobians (DESIGN §3: d vec(F)/d vec(X)', vec = columns) ------

def vec(a):
    return np.asarray(a).reshape(-1, order="F")


def commutation(m, n):
    """K with vec(A') = K vec(A) for an m x n matrix A."""
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1.0
    return k


def jacobian_of_linear(fn, shape):
    """Jacobian of a linear map X -> fn(X) by applying it to the unit matrices."""
    cols = []
    for j in range(int(np.prod(shape))):
        e = np.zeros(int(np.prod(shape)))
        e[j] = 1.0
        cols.append(vec(fn(e.reshape(shape, order="F"))))
    return np.column_stack(cols)


def _softmax(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_columns_jacobian(X):
    n, k = X.shape
    S = _softmax(X)
    J = np.zeros((n * k, n * k))
    for j in range(k):
        s = S[:, j]
        J[j * n:(j + 1) * n, j * n:(j + 1) * n] = np.diag(s) - np.outer(s, s)
    return J


def _ref_kron_right(v):
    A = v["A"]
    return jacobian_of_linear(lambda E: np.kron(A, E), v["X"].shape)


def _ref_sym_projection(v):
    x, n = v["x"], v["x"].shape[0]
    P = (np.eye(n * n) + commutation(n, n)) / 2
    return np.kron(x.reshape(1, -1), np.eye(n)) @ P


# --- the table ------------------------------------------------------------------------

SQ = {"X": "matrix(n,n)"}                      # a square X
SQ_AB = {"X": "matrix(n,n)", "A": "matrix(n,n)", "B": "matrix(n,n)"}
VEC_AB = {"a": "vector(n)", "b": "vector(n)"}
SYM_W = {"W": "matrix(n,n) symmetric"}

#: mdiff.check / mdiff.against draw the test point from "domain hints"; the hints of the
#: derivative expression overwrite those of f (check.sample_point: hints.update), and a
#: non-integer power such as (1 - x.^2).^(-1/2) hints "x positive", so x is drawn from
#: (0.5, 1.5), outside arcsin's domain: the report is inf / not ok although mdiff's
#: derivative is right (tests/test_cookbook.py::test_arc_functions_by_hand shows it).

CASES: list[Case] = [
    # ---- §2.1 derivatives of determinants --------------------------------------------
    Case("CB(46)", "det(A + c*B)", "c", None, "det(A + c*B)*tr(inv(A + c*B)*B)",
         "scalar variable: d det(Y)/dx = det(Y) tr(Y^-1 dY/dx)"),
    Case("CB(49)", "det(X)", "X", None, "det(X)*inv(X)'"),
    Case("CB(51)", "det(A*X*B)", "X", SQ_AB, "det(A*X*B)*inv(X)'"),
    Case("CB(52)", "det(X'*A*X)", "X", SQ_AB, "2*det(X'*A*X)*inv(X)'"),
    Case("CB(53)", "det(X'*A*X)", "X", {"X": "matrix(4,2)", "A": "matrix(4,4) spd"},
         "2*det(X'*A*X)*A*X*inv(X'*A*X)", "X not square, A symmetric"),
    Case("CB(54)", "det(X'*A*X)", "X", {"X": "matrix(4,2)", "A": "matrix(4,4)"},
         "det(X'*A*X)*(A*X*inv(X'*A*X) + A'*X*inv(X'*A'*X))", "X not square, A general"),
    Case("CB(55)", "logdet(X'*X)", "X", {"X": "matrix(5,3)"}, "2*X*inv(X'*X)",
         "2 (X^+)' with X^+ = inv(X'X) X'"),
    Case("CB(57)", "logdet(X)", "X", None, "inv(X)'"),
    Case("CB(43)", "logdet(X'*X + eye(n))", "X", {"X": "matrix(m,n)"},
         "2*X*inv(X'*X + eye(n))", "d ln det(Y) = tr(Y^-1 dY), ridge-type Gram matrix"),
    Case("CB(57)", "log(abs(det(X)))", "X", None, "inv(X)'", "ln|det X| written out"),
    Case("CB(58)", "det(X^3)", "X", None, "3*det(X^3)*inv(X)'"),

    # ---- §2.2 derivatives of an inverse ------------------------------------------------
    Case("CB(59)", "inv(A + c*B)", "c", None, "-inv(A + c*B)*B*inv(A + c*B)",
         "scalar variable, matrix function"),
    Case("CB(61)", "a'*inv(X)*b", "X", VEC_AB, "-inv(X)'*a*b'*inv(X)'"),
    Case("CB(62)", "det(inv(X))", "X", None, "-det(inv(X))*inv(X)'"),
    Case("CB(63)", "tr(A*inv(X)*B)", "X", None, "-(inv(X)*B*A*inv(X))'"),
    Case("CB(64)", "tr(inv(X + A))", "X", None, "-(inv(X + A)*inv(X + A))'"),
    Case("CB(64)", "tr(inv(X + eye))", "X", None, "-(inv(X + eye)*inv(X + eye))'",
         "eye sized by inference"),
    Case("CB(124)", "tr(A*X^-1*B)", "X", None, "-inv(X)'*A'*B'*inv(X)'", "X^-1 syntax"),
    Case("CB(125)", "tr(inv(X'*C*X)*A)", "X",
         {"X": "matrix(4,2)", "C": "matrix(4,4) spd", "A": "matrix(2,2)"},
         "-(C*X*inv(X'*C*X))*(A + A')*inv(X'*C*X)"),
    Case("CB(126)", "tr(inv(X'*C*X)*(X'*B*X))", "X",
         {"X": "matrix(4,2)", "C": "matrix(4,4) spd", "B": "matrix(4,4) symmetric"},
         "-2*C*X*inv(X'*C*X)*X'*B*X*inv(X'*C*X) + 2*B*X*inv(X'*C*X)"),

    # ---- §2.4 first- and second-order forms ---------------------------------------------
    Case("CB(69)", "x'*a", "x", {"a": "vector(n)"}, "a"),
    Case("CB(69)", "a'*x", "x", {"a": "vector(n)"}, "a"),
    Case("CB(70)", "a'*X*b", "X", {"a": "vector(m)", "b": "vector(n)"}, "a*b'"),
    Case("CB(71)", "a'*X'*b", "X", {"a": "vector(n)", "b": "vector(m)"}, "b*a'"),
    Case("CB(72)", "a'*X*a", "X", {"a": "vector(n)"}, "a*a'"),
    Case("CB(72)", "a'*X'*a", "X", {"a": "vector(n)"}, "a*a'"),
    Case("CB(77)", "b'*X'*X*c", "X", {"b": "vector(n)", "c": "vector(n)"},
         "X*(b*c' + c*b')"),
    Case("CB(78)", "(B*x + b)'*C*(D*x + d)", "x", {"b": "vector(m)", "d": "vector(p)"},
         "B'*C*(D*x + d) + D'*C'*(B*x + b)"),
    Case("CB(81)", "x'*B*x", "x", None, "(B + B')*x"),
    Case("CB(82)", "b'*X'*D*X*c", "X", {"b": "vector(n)", "c": "vector(n)"},
         "D'*X*b*c' + D*X*c*b'"),
    Case("CB(83)", "(X*b + c)'*D*(X*b + c)", "X", {"b": "vector(n)", "c": "vector(m)"},
         "(D + D')*(X*b + c)*b'"),
    Case("CB(84)", "(x - A*s)'*W*(x - A*s)", "s", SYM_W, "-2*A'*W*(x - A*s)"),
    Case("CB(85)", "(x - s)'*W*(x - s)", "x", SYM_W, "2*W*(x - s)"),
    Case("CB(86)", "(x - s)'*W*(x - s)", "s", SYM_W, "-2*W*(x - s)"),
    Case("CB(87)", "(x - A*s)'*W*(x - A*s)", "x", SYM_W, "2*W*(x - A*s)"),
    Case("CB(88)", "(x - A*s)'*W*(x - A*s)", "A", SYM_W, "-2*W*(x - A*s)*s'"),
    Case("CB(90)", "a'*X^3*b", "X", VEC_AB, "(X^2)'*a*b' + X'*a*b'*X' + a*b'*(X^2)'"),
    Case("CB(94)", "x'*A*x + b'*x", "x", {"b": "vector(n)"}, "(A + A')*x + b"),

    # ---- §2.5 derivatives of traces ----------------------------------------------------
    Case("CB(99)", "tr(X)", "X", SQ, "eye(n)"),
    Case("CB(100)", "tr(X*A)", "X", None, "A'"),
    Case("CB(101)", "tr(A*X*B)", "X", None, "A'*B'"),
    Case("CB(102)", "tr(A*X'*B)", "X", None, "B*A"),
    Case("CB(103)", "tr(X'*A)", "X", None, "A"),
    Case("CB(104)", "tr(A*X')", "X", None, "A"),
    Case("CB(103)", "tr((A)ᵀ*X)", "X", None, "A", "ᵀ syntax (after a parenthesis)"),
    Case("CB(105)", "tr(kron(A, X))", "X", {"X": "matrix(n,n)", "A": "matrix(m,m)"},
         "tr(A)*eye(n)"),
    Case("CB(106)", "tr(X^2)", "X", None, "2*X'"),
    Case("CB(107)", "tr(X^2*B)", "X", None, "(X*B + B*X)'"),
    Case("CB(108)", "tr(X'*B*X)", "X", None, "B*X + B'*X"),
    Case("CB(109)", "tr(B*X*X')", "X", None, "B*X + B'*X"),
    Case("CB(110)", "tr(X*X'*B)", "X", None, "B*X + B'*X"),
    Case("CB(111)", "tr(X*B*X')", "X", None, "X*B' + X*B"),
    Case("CB(112)", "tr(B*X'*X)", "X", None, "X*B' + X*B"),
    Case("CB(113)", "tr(X'*X*B)", "X", None, "X*B' + X*B"),
    Case("CB(114)", "tr(A*X*B*X)", "X", None, "A'*X'*B' + B'*X'*A'"),
    Case("CB(115)", "tr(X'*X)", "X", None, "2*X"),
    Case("CB(115)", "tr(X*X')", "X", None, "2*X"),
    Case("CB(116)", "tr(B'*X'*C*X*B)", "X", None, "C'*X*B*B' + C*X*B*B'"),
    Case("CB(117)", "tr(X'*B*X*C)", "X", None, "B*X*C + B'*X*C'"),
    Case("CB(118)", "tr(A*X*B*X'*C)", "X", None, "A'*C'*X*B' + C*A*X*B"),
    Case("CB(119)", "tr((A*X*B + C)*(A*X*B + C)')", "X", None, "2*A'*(A*X*B + C)*B'"),
    Case("CB(120)", "tr(X ⊗ X)", "X", SQ, "2*tr(X)*eye(n)", "Kronecker operator syntax"),
    Case("CB(120)", "tr(X)*tr(X)", "X", SQ, "2*tr(X)*eye(n)"),
    Case("CB(121)", "tr(X^4)", "X", None, "4*(X^3)'"),
    Case("CB(122)", "tr(A*X^3)", "X", None, "(A*X^2)' + (X*A*X)' + (X^2*A)'"),
    Case("CB(123)", "tr(B'*X'*C*X*X'*C*X*B)", "X", None,
         "C*X*X'*C*X*B*B' + C'*X*B*B'*X'*C'*X + C*X*B*B'*X'*C*X + C'*X*X'*C'*X*B*B'"),

    # ---- §2.6–2.7 norms -----------------------------------------------------------------
    Case("CB(129)", "norm2(x - a)", "x", {"a": "vector(n)"}, "(x - a)/norm2(x - a)"),
    Case("CB(131)", "norm2(x)^2", "x", None, "2*x"),
    Case("CB(131)", "x'*x", "x", None, "2*x"),
    Case("CB(132)", "norm2(X)^2", "X", None, "2*X", "Frobenius norm"),
    Case("CB(132)", "norm2(A*X - B)^2", "X", None, "2*A'*(A*X - B)", "Frobenius least squares"),
    Case("CB(132)", "norm2(X)", "X", None, "X/norm2(X)"),
    Case("calculus", "norm1(x)", "x", None, "sign(x)"),
    Case("calculus", "norm1(A*x - y)", "x", None, "A'*sign(A*x - y)"),
    Case("calculus", "norm1(X)", "X", None, "sign(X)"),

    # ---- §2.8 structured matrices (mdiff convention: the symmetric gradient sym(G)) -----
    Case("CB§2.8.2", "tr(A*X)", "X", {"X": "matrix(n,n) symmetric"}, "(A + A')/2",
         "Cookbook (entry-wise) A + A' - A∘I; mdiff's default is sym(A')"),
    Case("CB§2.8.2", "logdet(X)", "X", {"X": "matrix(n,n) spd"}, "inv(X)",
         "Cookbook (entry-wise) 2 inv(X) - inv(X)∘I"),
    Case("CB§2.8.2", "det(X)", "X", {"X": "matrix(n,n) spd"}, "det(X)*inv(X)"),
    Case("CB§2.8.2", "x'*X*x", "X", {"X": "matrix(n,n) symmetric"}, "x*x'"),
    Case("CB§2.8.2", "tr(X*X)", "X", {"X": "matrix(n,n) symmetric"}, "2*X"),
    Case("CB§2.8.2", "tr(A*X*B*X)", "X", {"X": "matrix(n,n) symmetric"},
         "(A'*X*B' + B'*X*A' + B*X*A + A*X*B)/2"),
    Case("CB§2.8.2", "tr(inv(S)*A)", "S", {"S": "matrix(n,n) spd"},
         "-(inv(S)*A*inv(S) + inv(S)*A'*inv(S))/2"),
    Case("CB§2.8.2", "y'*inv(S)*y + logdet(S)", "S", {"S": "matrix(n,n) spd"},
         "inv(S) - inv(S)*y*y'*inv(S)", "Gaussian negative log-likelihood (×2) in S"),
    Case("CB§2.8", "tr(A*L)", "L", {"L": "matrix(n,n) diagonal"}, "diag(diag(A))",
         "diagonal variable: G projected onto diagonal matrices"),
    Case("CB§2.8", "x'*L*x", "L", {"L": "matrix(n,n) diagonal"}, "diag(x.^2)"),
    Case("CB§2.8", "logdet(L)", "L", {"L": "matrix(n,n) diagonal positive"}, "inv(L)"),
    Case("CB§2.8", "norm2(A*L*x - y)^2", "L", {"L": "matrix(n,n) diagonal"},
         "2*diag(diag(A'*(A*L*x - y)*x'))"),

    # ---- scalar variables: dF/dx of a scalar, vector or matrix F ------------------------
    Case("CB(33)-(37)", "A*c + B", "c", None, "A"),
    Case("calculus", "exp(c*A)", "c", None, "A .* exp(c*A)", "elementwise exp"),
    Case("CB(37)", "(A + c*B)^2", "c", None, "B*(A + c*B) + (A + c*B)*B"),
    Case("calculus", "x*c^2 + sin(c)*y", "c", None, "2*c*x + cos(c)*y"),
    Case("calculus", "c^3 + exp(c)*d", "c", None, "3*c^2 + exp(c)*d"),
    Case("calculus", "A/c", "c", {"c": "scalar positive"}, "-A/c^2", "division by a scalar"),
    Case("calculus", "tr(X)/c + c*norm2(X)", "c", {"c": "scalar positive"},
         "-tr(X)/c^2 + norm2(X)"),
    Case("calculus", "sum(x.^c)", "c", {"x": "vector(n) positive"}, "sum(log(x) .* x.^c)",
         "variable exponent"),
    Case("calculus", "kron(A, c*B)", "c", None, "kron(A, B)"),
    Case("calculus", "sum(X .* (A + c*matrix(1)))", "c", None, "sum(X)",
         "matrix(c) constant fill"),
    Case("calculus", "vector(1)'*X*vector(1)", "X", None, "matrix(1)",
         "sum of entries through ones vectors"),

    # ---- elementwise functions: d u'φ(x) = u'(φ'(x) ⊙ dx) ------------------------------
    Case("calculus", "u'*sin(x)", "x", None, "u .* cos(x)"),
    Case("calculus", "u'*cos(x)", "x", None, "-u .* sin(x)"),
    Case("calculus", "u'*tan(x)", "x", None, "u .* (1 + tan(x).^2)"),
    Case("calculus", "u'*arcsin(x/4)", "x", None, "u ./ sqrt(16 - x.^2)",
         "scaled argument: inside the domain wherever the sampler puts x"),
    Case("calculus", "u'*arccos(x/4)", "x", None, "-u ./ sqrt(16 - x.^2)"),
    Case("calculus", "u'*arctan(x)", "x", None, "u ./ (1 + x.^2)"),
    Case("calculus", "u'*sinh(x)", "x", None, "u .* cosh(x)"),
    Case("calculus", "u'*cosh(x)", "x", None, "u .* sinh(x)"),
    Case("calculus", "u'*tanh(x)", "x", None, "u .* (1 - tanh(x).^2)"),
    Case("calculus", "u'*exp(x)", "x", None, "u .* exp(x)"),
    Case("calculus", "u'*log(x)", "x", None, "u ./ x"),
    Case("calculus", "u'*sqrt(x)", "x", None, "u ./ (2*sqrt(x))"),
    Case("calculus", "u'*abs(x)", "x", None, "u .* sign(x)"),
    Case("calculus", "u'*sign(x)", "x", None, "0*x", "zero almost everywhere"),
    Case("calculus", "u'*relu(x)", "x", None, "u .* (1 + sign(x))/2"),
    Case("calculus", "u'*sigmoid(x)", "x", None, "u .* sigmoid(x) .* (1 - sigmoid(x))"),
    Case("calculus", "u'*softplus(x)", "x", None, "u .* sigmoid(x)"),
    Case("calculus", "sum(log1p(x))", "x", None, "1 ./ (1 + x)", "log(1 + x), accurate near 0"),
    Case("calculus", "sum(A .* expm1(X))", "X", None, "A .* exp(X)", "exp(x) - 1, accurate near 0"),
    Case("calculus", "sum(exp(A*X))", "X", None, "A'*exp(A*X)"),
    Case("calculus", "sum(X .* Y)", "X", None, "Y"),
    Case("calculus", "sum(X ⊙ Y .* X)", "X", None, "2*X .* Y", "⊙ operator syntax"),
    Case("calculus", "sum(A ./ X)", "X", None, "-A ./ X.^2"),
    Case("calculus", "sum(X.^3)", "X", None, "3*X.^2"),
    Case("calculus", "sum(x.^1.5)", "x", None, "1.5*x.^0.5", "non-integer power"),
    Case("calculus", "sum(sqrt(X'*X + 1))", "X", None, "X*(X'*X + 1).^(-1/2)",
         "number broadcast inside a symmetric argument"),

    # ---- machine learning and matrixcalculus.org --------------------------------------
    Case("matrixcalculus.org", "x'*A*x + c*sin(y)'*x", "x", None, "(A + A')*x + c*sin(y)",
         "the site's default example"),
    Case("ML", "sum(log(1 + exp(-y .* (X*w))))", "w", None,
         "-X'*(y .* sigmoid(-y .* (X*w)))", "logistic loss"),
    Case("ML", "sum(softplus(-y .* (X*w)))", "w", None,
         "-X'*(y .* sigmoid(-y .* (X*w)))", "logistic loss via softplus"),
    Case("ML", "norm2(X*w - y)^2 + c*norm2(w)^2", "w", None,
         "2*X'*(X*w - y) + 2*c*w", "ridge regression"),
    Case("ML", "-y'*log(softmax(W*x))", "W", None, "(softmax(W*x)*sum(y) - y)*x'",
         "softmax cross-entropy (y not necessarily one-hot)"),
    Case("ML", "logsumexp(W*x) - y'*W*x", "W", None, "(softmax(W*x) - y)*x'",
         "softmax cross-entropy via logsumexp"),
    Case("ML", "logsumexp(x)", "x", None, "softmax(x)"),
    Case("ML", "logsumexp(X)", "X", None, "exp(X - logsumexp(X)*matrix(1))",
         "over all entries"),
    Case("ML", "1/2*norm2(tanh(W*x + b) - y)^2", "W", None,
         "((tanh(W*x + b) - y) .* (1 - tanh(W*x + b).^2))*x'", "one tanh layer"),
    Case("ML", "sum(relu(W*x))", "W", None, "(1 + sign(W*x))/2*x'", "one ReLU layer"),
    Case("ML", "sum(softmax(X) .* Y)", "X", None, None, "column-wise softmax"),

    # ---- vec, diag, Kronecker -----------------------------------------------------------
    Case("MN", "vec(X)'*vec(Y)", "X", None, "Y", "= tr(X'Y)"),
    Case("MN", "vec(X)'*A*vec(X)", "X", SQ, None, "quadratic form in vec(X)"),
    Case("calculus", "tr(diag(x)*A)", "x", None, "diag(A)"),
    Case("calculus", "u'*diag(X)", "X", None, "diag(u)"),
    Case("calculus", "sum(diag(x)*A*diag(x))", "x", None, "(A + A')*x"),
    Case("MN", "u'*kron(A, X)*v", "X", None, None, "Kronecker product, gradient"),
    Case("MN", "u'*kron(X, B)*v", "X", None, None, "Kronecker product, left factor"),

    # ---- Jacobians d vec(F)/d vec(X)' (DESIGN §3) ----------------------------------------
    Case("MN", "A*X*B", "X", {"A": "matrix(2,3)", "X": "matrix(3,4)", "B": "matrix(4,5)"},
         "B' ⊗ A", "vec(AXB) = (B' ⊗ A) vec(X)",
         reference=lambda v: np.kron(v["B"].T, v["A"])),
    Case("MN", "vec(A*X*B)", "X", {"A": "matrix(2,3)", "X": "matrix(3,4)", "B": "matrix(4,5)"},
         "kron(B', A)", reference=lambda v: np.kron(v["B"].T, v["A"])),
    Case("MN", "X'", "X", {"X": "matrix(3,4)"}, None, "commutation matrix K",
         reference=lambda v: commutation(*v["X"].shape)),
    Case("MN", "inv(X)", "X", {"X": "matrix(3,3)"}, "-(inv(X)' ⊗ inv(X))",
         reference=lambda v: -np.kron(np.linalg.inv(v["X"]).T, np.linalg.inv(v["X"]))),
    Case("MN", "X .* Y", "X", {"X": "matrix(3,4)"}, "diag(vec(Y))",
         reference=lambda v: np.diag(vec(v["Y"]))),
    Case("MN", "softmax(x)", "x", {"x": "vector(4)"},
         "diag(softmax(x)) - softmax(x)*softmax(x)'",
         reference=lambda v: np.diag(_softmax(v["x"])) - np.outer(_softmax(v["x"]),
                                                                     _softmax(v["x"]))),
    Case("MN", "softmax(X)", "X", {"X": "matrix(3,4)"}, None, "column-wise softmax",
         reference=lambda v: _softmax_columns_jacobian(v["X"])),
    Case("MN", "A*x", "x", None, "A"),
    Case("MN", "W*x", "W", {"W": "matrix(m,n)"}, "x' ⊗ eye(m)"),
    Case("MN", "x*x'", "x", {"x": "vector(n)"}, "eye(n) ⊗ x + x ⊗ eye(n)"),
    Case("MN", "X*X", "X", SQ, "X' ⊗ eye(n) + eye(n) ⊗ X"),
    Case("MN", "X^3", "X", SQ, "(X^2)' ⊗ eye(n) + X' ⊗ X + eye(n) ⊗ X^2"),
    Case("MN", "exp(X)", "X", None, "diag(vec(exp(X)))"),
    Case("MN", "tanh(W*x + b)", "b", None, "diag(1 - tanh(W*x + b).^2)"),
    Case("MN", "diag(x)", "x", {"x": "vector(3)"}, None,
         reference=lambda v: jacobian_of_linear(np.diag, (3,))),
    Case("MN", "kron(A, X)", "X", {"A": "matrix(2,3)", "X": "matrix(2,2)"}, None,
         reference=_ref_kron_right),
    Case("MN", "x .* x", "x", None, "diag(2*x)"),
    Case("MN", "S*x", "S", {"S": "matrix(3,3) symmetric", "x": "vector(3)"}, None,
         "symmetric variable: Jacobian times P = (I + K)/2",
         reference=_ref_sym_projection),
    Case("MN", "X ./ Y", "Y", None, "-diag(vec(X ./ Y.^2))"),
]


#: Regression cases for bugs found while building the table (all fixed).
CASES += [
    # the operators results print, part of the language so that results read back
    Case("MN", "commutation(m, n)*vec(X)", "X", {"X": "matrix(m,n)"}, "commutation(m, n)",
         "Magnus–Neudecker ch. 3 §7: vec(X') = K vec(X)"),
    Case("MN", "duplication(n)'*vec(X)", "X", {"X": "matrix(n,n)"}, "duplication(n)'"),
    Case("MN", "tr(B*unvec(A*vec(X), n, n))", "X",
         {"X": "matrix(n,n)", "A": "matrix(n^2,n^2)", "B": "matrix(n,n)"},
         "unvec(A'*vec(B'), n, n)"),
]

CASES += [
    Case("CB(94) undeclared b", "x'*A*x + b'*x", "x", None, "(A + A')*x + b",
         "undeclared b: `b'*x` added to a scalar forces b to be a vector"),
    Case("calculus", "u'*arcsin(x)", "x", None, "u ./ sqrt(1 - x.^2)",
         "the checker samples inside [-1, 1] (f's domain wins over its derivative's)"),
    Case("calculus", "u'*arccos(x)", "x", None, "-u ./ sqrt(1 - x.^2)"),
    Case("CB(103)", "tr(Aᵀ*X)", "X", None, "A", "ᵀ right after a name is a transpose"),
    Case("CB(81)", "xᵀ*B*x", "x", None, "(B + B')*x", "ᵀ on a vector"),
]

#: The Cholesky factor and the triangles (issue 16): chol reads the symmetric part of its
#: argument, so its derivative is defined in every direction.
CASES += [
    Case("Murray 2016 (GP likelihood)", "2*sum(log(diag(chol(S))))", "S",
         {"S": "matrix(n,n) spd"}, "inv(S)", "log det S = 2 sum log L_ii"),
    Case("Murray 2016 eq. 10", "tr(A*chol(X))", "X", {"A": "matrix(n,n)", "X": "matrix(n,n)"},
         None, "dL = L*Φ(inv(L)*sym(dX)*inv(L)'), at a non-symmetric X"),
    Case("Murray 2016", "y'*inv(chol(K))'*inv(chol(K))*y", "K",
         {"K": "matrix(n,n) spd", "y": "vector(n)"}, "-inv(K)*y*y'*inv(K)",
         "y' inv(L L') y = y' inv(K) y"),
    Case("tril", "sum(tril(X).^2)", "X", None, "2*tril(X)"),
    Case("triu", "a'*triu(X)*b", "X", {"a": "vector(n)", "b": "vector(n)", "X": "matrix(n,n)"},
         "triu(a*b')"),
    Case("Cholesky-parametrised covariance", "logdet(L*L') + tr(inv(L*L')*A)", "L",
         {"L": "matrix(n,n) lower", "A": "matrix(n,n) symmetric"}, None,
         "a lower triangular variable: the gradient is projected onto its triangle"),
    Case("upper triangular variable", "norm2(U'*U - A)^2", "U",
         {"U": "matrix(n,n) upper", "A": "matrix(n,n)"}, None),
]

#: Matrix functions (issue 16).  Sources: Higham, "Functions of Matrices" (2008): the
#: square root's Fréchet derivative solves a Sylvester equation (§6.1), the exponential's
#: and the logarithm's are adjoint to those at X' (§3.6, §10.6, §11.6); the applications
#: cite their own papers.  Every case is checked by central differences; the formulas
#: are the papers' closed forms written in mdiff's notation.
_SPD2 = {"S1": "matrix(n,n) spd", "S2": "matrix(n,n) spd"}
CASES += [
    Case("Higham 2008 §6.1", "tr(A*sqrtm(X))", "X", None, "sylvester(sqrtm(X)', sqrtm(X)', A')",
         "dS = sylvester(S, S, dX) for S = sqrtm(X), at a non-symmetric X"),
    Case("Higham 2008 §6.1", "tr(sqrtm(X))", "X", None, "1/2*inv(sqrtm(X))'",
         "A*Y + Y*A = I is solved by Y = inv(A)/2"),
    Case("Bhatia, Jain & Lim 2019 (Bures–Wasserstein)", "tr(S1 + S2 - 2*sqrtm(sqrtm(S1)*S2*sqrtm(S1)))",
         "S2", _SPD2, "eye(n) - sqrtm(S1)*inv(sqrtm(sqrtm(S1)*S2*sqrtm(S1)))*sqrtm(S1)",
         "the squared 2-Wasserstein distance between centred Gaussians"),
    Case("Bhatia, Jain & Lim 2019 (Bures–Wasserstein)", "tr(S1 + S2 - 2*sqrtm(sqrtm(S1)*S2*sqrtm(S1)))",
         "S1", _SPD2, None, "the same distance in its other argument"),
    Case("Givens & Shortt 1984 (W2 between Gaussians)",
         "norm2(m1 - m2)^2 + tr(S1 + S2 - 2*sqrtm(sqrtm(S2)*S1*sqrtm(S2)))", "m1",
         {**_SPD2, "m1": "vector(n)", "m2": "vector(n)"}, "2*m1 - 2*m2"),
    Case("Kessy, Lewin & Strimmer 2018 (ZCA whitening)", "norm2(inv(sqrtm(S))*x)^2", "S",
         {"S": "matrix(n,n) spd", "x": "vector(n)"}, "-inv(S)*x*x'*inv(S)",
         "the whitened vector's squared norm is x'*inv(S)*x"),
    Case("Kessy, Lewin & Strimmer 2018 (ZCA whitening)", "norm2(inv(sqrtm(S))*D - Z)^2", "S",
         {"S": "matrix(n,n) spd", "D": "matrix(n,N)", "Z": "matrix(n,N)"}, None),
    Case("Higham 2008 §8.1 (polar factor)", "tr(sqrtm(X'*X))", "X", None, "X*inv(sqrtm(X'*X))",
         "the nuclear norm of a full-rank X; its gradient is the polar factor"),
    Case("Higham 2008 §6.1", "norm2(sqrtm(X) - A)^2", "X", None,
         "sylvester(sqrtm(X)', sqrtm(X)', 2*sqrtm(X) - 2*A)"),
    Case("Higham 2008 §6.1 (Jacobian)", "sqrtm(X)", "X", None, None,
         "vec(dS) = inv(I ⊗ S + S' ⊗ I) vec(dX)"),
    Case("Bartels & Stewart 1972 (adjoint of a Sylvester solve)", "tr(D'*sylvester(A, B, C))", "C",
         {"A": "matrix(n,n)", "B": "matrix(m,m)", "C": "matrix(n,m)", "D": "matrix(n,m)"},
         "sylvester(A', B', D)"),
    Case("Bartels & Stewart 1972", "tr(D'*sylvester(A, B, C))", "A",
         {"A": "matrix(n,n)", "B": "matrix(m,m)", "C": "matrix(n,m)", "D": "matrix(n,m)"},
         "-sylvester(A', B', D)*sylvester(A, B, C)'", "dY = sylvester(A, B, -dA*Y)"),
    Case("Zhou, Doyle & Glover 1996 (H2 norm, Lyapunov equation)",
         "tr(C*sylvester(A, A', -B*B')*C')", "B",
         {"A": "matrix(n,n)", "B": "matrix(n,p)", "C": "matrix(q,n)"},
         "-2*sylvester(A', A, C'*C)*B", "the controllability Gramian solves A*P + P*A' = -B*B'"),
    Case("Zhou, Doyle & Glover 1996 (H2 norm, Lyapunov equation)",
         "tr(C*sylvester(A, A', -B*B')*C')", "A",
         {"A": "matrix(n,n)", "B": "matrix(n,p)", "C": "matrix(q,n)"}, None),
    Case("Higham 2008 §10.6", "tr(expm(X))", "X", None, "expm(X)'",
         "L(X, I) = expm(X): the trace's gradient"),
    Case("Al-Mohy & Higham 2009 (adjoint of the Fréchet derivative)", "tr(A*expm(X))", "X", None,
         "expm_frechet(X', A')"),
    Case("Van Loan 1978 (continuous-time system)", "x'*expm(A*t)*x0", "t",
         {"t": "scalar", "x": "vector(n)", "x0": "vector(n)"}, "x'*A*expm(A*t)*x0",
         "d expm(A*t)/dt = A*expm(A*t)"),
    Case("Van Loan 1978 (continuous-time system)", "x0'*expm(A*t)'*Q*expm(A*t)*x0", "A",
         {"t": "scalar", "x0": "vector(n)", "Q": "matrix(n,n)"}, None,
         "a quadratic cost of the state at time t"),
    Case("Kalbfleisch & Lawless 1985 (continuous-time Markov chain)", "u'*expm(Q*t)*v", "Q",
         {"t": "scalar", "u": "vector(n)", "v": "vector(n)"}, "t*expm_frechet(t*Q', u*v')"),
    Case("Barfoot 2017 (rotation by the exponential map)", "norm2(expm(W - W')*p - q)^2", "W",
         {"W": "matrix(3,3)", "p": "vector(3)", "q": "vector(3)"}, None,
         "a point residual through the exponential of a skew-symmetric generator"),
    Case("Higham 2008 §1.2 (det(expm(X)) = exp(tr(X)))", "logdet(expm(X))", "X", None, "eye(n)"),
    Case("Higham 2008 §11.1 (tr(logm(X)) = logdet(X))", "tr(logm(X))", "X", None, "inv(X)'"),
    Case("Higham 2008 §11.6", "tr(A*logm(X))", "X", None, "logm_frechet(X', A')",
         "at a non-symmetric X with eigenvalues of positive real part"),
    Case("Nielsen & Chuang 2000 (von Neumann entropy)", "-tr(X*logm(X))", "X",
         {"X": "matrix(n,n) spd"}, "-logm(X) - eye(n)"),
    Case("Umegaki 1962 (quantum relative entropy)", "tr(X*logm(X)) - tr(X*logm(Y))", "X",
         {"X": "matrix(n,n) spd", "Y": "matrix(n,n) spd"}, "logm(X) + eye(n) - logm(Y)"),
    Case("Umegaki 1962 (quantum relative entropy)", "tr(X*logm(X)) - tr(X*logm(Y))", "Y",
         {"X": "matrix(n,n) spd", "Y": "matrix(n,n) spd"}, "-logm_frechet(Y, X)"),
    Case("Arsigny et al. 2006 (log-Euclidean distance)", "norm2(logm(X) - logm(Y))^2", "X",
         {"X": "matrix(n,n) spd", "Y": "matrix(n,n) spd"},
         "2*logm_frechet(X, logm(X) - logm(Y))"),
    Case("Pennec, Fillard & Ayache 2006 (affine-invariant distance)",
         "norm2(logm(inv(sqrtm(A))*X*inv(sqrtm(A))))^2", "X",
         {"X": "matrix(n,n) spd", "A": "matrix(n,n) spd"}, None),
    Case("Higham 2008 §11.6", "norm2(logm(X))^2", "X", None, "2*logm_frechet(X', logm(X))"),
    Case("Higham 2008 §10.6 (Jacobian)", "expm(X)", "X", None, None,
         "vec(d expm(X)) = expm_kron(X)*vec(dX)"),
    Case("Higham 2008 §11.6 (Jacobian)", "logm(X)", "X", None, None),
    Case("Higham 2008 §3.6 (adjoint of L_exp)", "tr(A'*expm_frechet(X, V))", "V", None,
         "expm_frechet(X', A)", "the Fréchet derivative is linear in its direction"),
    Case("Higham 2008 §3.6 (adjoint of L_log)", "tr(A'*logm_frechet(X, V))", "V", None,
         "logm_frechet(X', A)"),
    Case("Higham 2008 §3.5 (second Fréchet derivative)", "tr(A'*expm_frechet(X, E, V))", "V",
         None, "expm_frechet(X', E', A)", "L2(X, E, F) is symmetric and bilinear in E, F"),
    Case("Higham 2008 §3.5 (second Fréchet derivative)", "tr(A'*logm_frechet(X, E, V))", "E",
         None, "logm_frechet(X', V', A)"),
]

#: Spectral functions (issue 17).  eigvals/eigvecs are those of the symmetric part
#: (X + X')/2, so the cases sample non-symmetric X unless a symmetric one is declared;
#: svdvals/svdu/svdv are the thin SVD's.  Sources: the Matrix Cookbook §2.3 (eigenvalue
#: derivatives), Magnus 1985 ("On differentiating eigenvalues and eigenvectors"), Townsend
#: 2016 ("Differentiating the singular value decomposition"), and the applications' own
#: papers.  Generic random points have clear gaps between eigen- and singular values.
_SYM_S = {"S": "matrix(n,n) symmetric"}
_TALL = {"X": "matrix(5,3)"}
_WIDE = {"X": "matrix(3,5)"}
CASES += [
    Case("CB(67)", "sum(eigvals(X))", "X", None, "eye(n)", "the eigenvalues sum to the trace"),
    Case("CB(68)", "sum(log(eigvals(S)))", "S", {"S": "matrix(n,n) spd"}, "inv(S)",
         "the product of the eigenvalues is the determinant"),
    Case("CB(69)", "a'*eigvals(X)", "X", {"a": "vector(n)"}, "eigvecs(X)*diag(a)*eigvecs(X)'",
         "dλ_i = v_i'*dX*v_i, at a non-symmetric X (the symmetric part's eigenvalues)"),
    Case("CB(70)", "x'*eigvecs(S)*y", "S", {**_SYM_S, "x": "vector(n)", "y": "vector(n)"},
         None, "dv_i = pinv(λ_i*I - S)*dS*v_i: the eigenvectors' derivative"),
    Case("Magnus 1985 (eigenvectors of a non-symmetric argument)", "tr(A*eigvecs(X))", "X",
         None, None, "dV = V*(gapinv(λ) .* (V'*sym(dX)*V))"),
    Case("Magnus 1985 (the gap matrix)", "tr(A'*gapinv(x))", "x", None, None,
         "gapinv(λ)[i, j] = 1/(λ_j - λ_i), 0 on the diagonal"),
    Case("Magnus 1985 (Jacobian of the eigenvalues)", "eigvals(X)", "X", None, None),
    Case("Fan 1949 (weighted eigenvalue sum, the Ky Fan / PCA objective)", "w'*eigvals(S)",
         "S", {**_SYM_S, "w": "vector(n)"}, "eigvecs(S)*diag(w)*eigvecs(S)'"),
    Case("Nesterov 2007 (smoothed largest eigenvalue)", "logsumexp(eigvals(S))", "S", _SYM_S,
         "eigvecs(S)*diag(softmax(eigvals(S)))*eigvecs(S)'"),
    Case("Frobenius norm through the spectrum", "norm2(eigvals(X))^2", "X", None, "X + X'",
         "sum of squared eigenvalues of the symmetric part"),
    Case("Pukelsheim 2006 (A-optimal design)", "sum(1 ./ eigvals(A'*diag(w)*A))", "w",
         {"A": "matrix(6,3)", "w": "vector(6) positive"}, "-diag(A*inv(A'*diag(w)*A)^2*A')",
         "the trace of the inverse information matrix, through its eigenvalues"),
    Case("Pukelsheim 2006 (smoothed E-optimal design)", "-logsumexp(-eigvals(A'*diag(w)*A))",
         "w", {"A": "matrix(6,3)", "w": "vector(6) positive"}, None,
         "a smooth minimum eigenvalue of the information matrix"),
    Case("Eigendecomposition consistency", "norm2(eigvecs(S)*diag(eigvals(S))*eigvecs(S)' - A)^2",
         "S", _SYM_S, "2*S - A - A'", "V*diag(λ)*V' is S: every eigen-derivative cancels"),
    Case("Townsend 2016 (Jacobian of the singular values)", "svdvals(X)", "X", _TALL, None),
    Case("Candès & Recht 2009 (nuclear norm)", "normnuc(X)", "X", _TALL, "svdu(X)*svdv(X)'",
         "dσ_i = u_i'*dX*v_i: the gradient U*V' at full rank"),
    Case("Candès & Recht 2009 (nuclear norm)", "sum(svdvals(X))", "X", None, "svdu(X)*svdv(X)'"),
    Case("Mazumder, Hastie & Tibshirani 2010 (soft-impute matrix completion)",
         "1/2*norm2(M .* (X - A))^2 + c*normnuc(X)", "X", {"X": "matrix(m,n)", "c": "scalar"},
         "M .* (M .* (X - A)) + c*svdu(X)*svdv(X)'"),
    Case("Candès, Li, Ma & Wright 2011 (robust PCA)", "normnuc(L) + c*norm1(M - L)", "L",
         {"c": "scalar"}, "svdu(L)*svdv(L)' - c*sign(M - L)"),
    Case("Golub & Van Loan 2013 §2.3 (spectral norm)", "normspec(X)", "X", _WIDE,
         "svdu1(X)*svdv1(X)'", "dσ_1 = u_1'*dX*v_1 for a simple largest singular value"),
    Case("Miyato et al. 2018 (spectral normalisation)", "norm2(W*x/normspec(W) - y)^2", "W",
         None, None, "a layer divided by its largest singular value"),
    Case("Condition number (log-conditioning penalty)", "log(normspec(X)) + log(normspec(inv(X)))",
         "X", None, None, "log cond_2(X) = log ||X||_2 + log ||inv(X)||_2"),
    Case("Frobenius norm through the singular values", "norm2(svdvals(X))^2", "X", _TALL,
         "2*X"),
    Case("Eckart & Young 1936 (SVD consistency)",
         "norm2(svdu(X)*diag(svdvals(X))*svdv(X)' - A)^2", "X", _TALL, "2*X - 2*A",
         "U*diag(σ)*V' is X: every singular-vector derivative cancels"),
    Case("Townsend 2016 (left singular vectors, tall X)", "tr(A'*svdu(X))", "X", _TALL, None,
         "the (I - U*U')*dX*V*inv(S) term of a tall X"),
    Case("Townsend 2016 (right singular vectors, wide X)", "tr(B'*svdv(X))", "X", _WIDE, None,
         "the (I - V*V')*dX'*U*inv(S) term of a wide X"),
    Case("Golub & Van Loan 2013 §8.6 (top singular vectors)", "a'*svdu1(X)*svdv1(X)'*b", "X",
         {"a": "vector(m)", "b": "vector(n)", "X": "matrix(m,n)"}, None,
         "the dominant singular pair, as power iteration finds it"),
    # --- activations, means and extrema people write (issue 21) --------------------------
    Case("Ramachandran, Zoph & Le 2017 (SiLU layer)", "sum(silu(W*x))", "W", None,
         "(sigmoid(W*x) + silu(W*x) .* (1 - sigmoid(W*x)))*x'"),
    Case("Turian, Bergstra & Bengio 2009 (softsign)", "sum(softsign(x))", "x", None,
         "1 ./ (1 + abs(x)).^2"),
    Case("Clevert, Unterthiner & Hochreiter 2016 (ELU)", "1/2*norm2(elu(A*x) - y)^2", "x", None,
         "A'*((elu(A*x) - y) .* exp(-relu(-A*x)))"),
    Case("Mean squared error", "mean((A*x - b).^2)", "x", {"b": "vector(m)", "A": "matrix(m,n)"},
         "2*A'*(A*x - b)/m"),
    Case("Hinge loss with max", "sum(max(1 - y .* (X*w), 0))", "w", None,
         "-X'*(y .* sign(relu(1 - y .* (X*w))))"),
    Case("Maas, Hannun & Ng 2013 (leaky ReLU layer)", "1/2*norm2(leaky_relu(W*x, 1/100) - y)^2",
         "W", None, None, "leaky_relu(x, a) = relu(x) - a*relu(-x)"),
    Case("Clipped residual with min", "sum(min(A*x - b, c).^2)", "x", {"c": "scalar"}, None,
         "min(a, b) = (a + b - |a - b|)/2"),
    Case("calculus (error function)", "sum(erf(A*x))", "x", None,
         "2*A'*exp(-(A*x).^2)/sqrt(pi)", "erf'(x) = 2/sqrt(pi)*exp(-x^2)"),
    Case("Hendrycks & Gimpel 2016 (GELU layer)", "1/2*norm2(gelu(W*x) - y)^2", "W", None,
         "((gelu(W*x) - y) .* ((1 + erf(W*x/sqrt(2)))/2 + (W*x) .* exp(-(W*x).^2/2)/sqrt(2*pi)))*x'",
         "gelu'(x) = Phi(x) + x .* phi(x), Phi and phi the normal CDF and density"),
    Case("Largest residual (Chebyshev / L-infinity fit)", "max(A*x - b)", "x", None,
         "A'*ismax(A*x - b)", "the gradient is the indicator of the largest entry"),
    Case("Smallest margin", "min(y .* (X*w))", "w", None, "X'*(y .* ismin(y .* (X*w)))"),
    # --- indexing and block matrices (issue 21) -------------------------------------------
    Case("calculus (an entry: d x[i] = e_i' dx)", "i: index(n); x[i]^2 + x[1]*x[n]", "x", None,
         "2*x[i]*eye(n)[:, i] + x[n]*eye(n)[:, 1] + x[1]*eye(n)[:, n]"),
    Case("calculus (a column: X[:, j] = X*e_j)", "j: index(n); X: matrix(m,n); a'*X[:, j]", "X",
         {"a": "vector(m)"}, "a*eye(n)[:, j]'"),
    Case("Block least squares (stacked regressions)", "norm2([A*x; B*x] - y)^2", "x", None,
         "2*A'*(A*x - y[1:n]) + 2*B'*(B*x - y[n + 1:n + p])"),
    Case("Block matrix: a block's gradient is its part of G",
         "A: matrix(m,n); B: matrix(m,p); C: matrix(q,n); D: matrix(q,p); "
         "norm2([A, B; C, D]*x)^2", "D", None, "2*[C, D]*x*x[n + 1:n + p]'"),
    Case("calculus (indicators are piecewise constant)", "ismax(A*x)'*x + ismin(x)'*y", "x",
         None, "ismax(A*x)", "d ismax = d ismin = 0 almost everywhere"),
]
