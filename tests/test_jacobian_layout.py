"""DESIGN §3 layouts: gradient shape = X's shape; Jacobian d vec(F)/d vec(X)' of shape
(size F, size X) with column-major vec; 1×1 results are floats, vectors 1-D arrays,
rows 1×n matrices; the Kronecker display and the convention note.

The numeric Jacobians here are compared with this file's own central differences (not
mdiff.check), so the layout is pinned independently of mdiff's checker."""

from __future__ import annotations

import numpy as np
import pytest

import mdiff


def vec(a):
    return np.asarray(a, float).reshape(-1, order="F")


def numeric_jacobian(f, values, wrt, h=1e-6):
    """d vec(f)/d vec(wrt)' by central differences, columns in column-major order."""
    x0 = np.asarray(values[wrt], float)
    cols = []
    for j in range(x0.size):
        e = np.zeros(x0.size)
        e[j] = h
        step = e.reshape(x0.shape, order="F")
        fp = f(**{**values, wrt: x0 + step})
        fm = f(**{**values, wrt: x0 - step})
        cols.append((vec(fp) - vec(fm)) / (2 * h))
    return np.column_stack(cols)


RNG = np.random.default_rng(2024)


def rand(*shape):
    return RNG.standard_normal(shape)


def spd(n):
    a = rand(n, n)
    return a @ a.T / n + np.eye(n)


# --- gradients: the shape of X ----------------------------------------------------------

GRADIENTS = [
    ("tr(A*X*B)", "X", {"A": rand(2, 3), "X": rand(3, 4), "B": rand(4, 2)}),
    ("x'*A*x", "x", {"x": rand(3), "A": rand(3, 3)}),
    ("u'*W*v", "W", {"u": rand(2), "W": rand(2, 5), "v": rand(5)}),
    ("logdet(S)", "S", {"S": spd(3)}),
    ("norm2(X)^2", "X", {"X": rand(3, 2)}),
    ("sum(softmax(X) .* Y)", "X", {"X": rand(3, 2), "Y": rand(3, 2)}),
    ("c^2*tr(A)", "c", {"c": 1.5, "A": rand(2, 2)}),
]


@pytest.mark.parametrize("text,wrt,values", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_gradient_has_the_shape_of_x(text, wrt, values):
    r = mdiff.diff(text, wrt=wrt)
    g = r.function()(**values)
    x = values[wrt]
    if np.ndim(x) == 0:
        assert isinstance(g, float)
    else:
        assert np.shape(g) == np.shape(x)
    f = mdiff.function(text)
    assert isinstance(f(**values), float)                 # a scalar function gives a float
    num = numeric_jacobian(f, values, wrt).reshape(np.shape(x) or (), order="F")
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_vector_gradient_is_one_dimensional():
    r = mdiff.diff("x'*A*x", wrt="x")
    g = r.function()(x=np.ones(3), A=np.eye(3))
    assert isinstance(g, np.ndarray) and g.ndim == 1 and g.shape == (3,)
    np.testing.assert_allclose(g, 2 * np.ones(3))


# --- Jacobians: (size F, size X), column-major vec --------------------------------------------

JACOBIANS = [
    ("A*X*B", "X", {"A": rand(2, 3), "X": rand(3, 4), "B": rand(4, 5)}),
    ("W*x", "W", {"W": rand(3, 4), "x": rand(4)}),
    ("A*x", "x", {"A": rand(3, 4), "x": rand(4)}),
    ("X'", "X", {"X": rand(2, 3)}),
    ("inv(X)", "X", {"X": rand(3, 3) + 3 * np.eye(3)}),
    ("X .* Y", "X", {"X": rand(2, 3), "Y": rand(2, 3)}),
    ("softmax(x)", "x", {"x": rand(4)}),
    ("softmax(X)", "X", {"X": rand(3, 2)}),
    ("x'*A", "x", {"x": rand(3), "A": rand(3, 4)}),          # a 1×4 row of a vector
    ("x*x'", "x", {"x": rand(3)}),
    ("kron(A, X)", "X", {"A": rand(2, 2), "X": rand(2, 3)}),
    ("diag(x)", "x", {"x": rand(3)}),
    ("diag(X)", "X", {"X": rand(3, 3)}),
    ("vec(X*B)", "X", {"X": rand(2, 3), "B": rand(3, 2)}),
    ("tanh(W*x + b)", "W", {"W": rand(3, 2), "x": rand(2), "b": rand(3)}),
]


@pytest.mark.parametrize("text,wrt,values", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_jacobian_layout_matches_central_differences(text, wrt, values):
    r = mdiff.diff(text, wrt=wrt)
    assert r.form == "jacobian"
    f = mdiff.function(text)
    fx = f(**values)
    J = r.function()(**values)
    assert isinstance(J, np.ndarray) and J.ndim == 2
    assert J.shape == (np.size(fx), np.size(values[wrt]))
    np.testing.assert_allclose(J, numeric_jacobian(f, values, wrt), rtol=1e-6, atol=1e-8)


def test_vector_jacobian_is_the_usual_m_by_n_matrix():
    A, x = rand(3, 4), rand(4)
    J = mdiff.diff("A*x", wrt="x").function()(A=A, x=x)
    np.testing.assert_allclose(J, A)
    J = mdiff.diff("exp(A*x)", wrt="x").function()(A=A, x=x)
    np.testing.assert_allclose(J, np.exp(A @ x)[:, None] * A, rtol=1e-12)


def test_kronecker_jacobian_of_axb_is_column_major():
    A, X, B = rand(2, 3), rand(3, 4), rand(4, 5)
    r = mdiff.diff("A*X*B", wrt="X")
    J = r.function()(A=A, X=X, B=B)
    np.testing.assert_allclose(J, np.kron(B.T, A), rtol=1e-12)
    # and J vec(X) = vec(A X B): the column-major (Fortran) vec
    np.testing.assert_allclose(J @ vec(X), vec(A @ X @ B), rtol=1e-12)


def test_derivative_wrt_a_scalar_of_a_matrix_is_vec_of_df_dx():
    """F matrix, x scalar: d vec(F)/dx has size F (a vector: 1-D), column-major."""
    A, B, c = rand(2, 3), rand(2, 3), 0.7
    r = mdiff.diff("exp(c*A) + B", wrt="c")
    assert r.form == "derivative"
    out = r.function()(A=A, B=B, c=c)
    assert out.shape == (6,)
    np.testing.assert_allclose(out, vec(A * np.exp(c * A)), rtol=1e-12)
    # the expression itself is dF/dc with F's shape
    assert tuple(map(str, r.expr.shape)) == tuple(map(str, mdiff.parse("exp(c*A) + B").expr.shape))


def test_derivative_wrt_a_scalar_of_a_vector_and_of_a_scalar():
    x, c = rand(3), 1.3
    out = mdiff.diff("c^2*x", wrt="c").function()(c=c, x=x)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, 2 * c * x)
    d = mdiff.diff("c^3 + sin(c)", wrt="c").function()(c=c)
    assert isinstance(d, float)
    assert np.isclose(d, 3 * c**2 + np.cos(c))


# --- evaluation layouts of the expression itself -------------------------------------------------

def test_scalar_vector_row_matrix_outputs():
    x, A = rand(3), rand(3, 4)
    assert isinstance(mdiff.function("x'*x")(x=x), float)
    assert isinstance(mdiff.function("tr(A*A')")(A=A), float)
    v = mdiff.function("A'*x")(A=A, x=x)
    assert v.shape == (4,)
    row = mdiff.function("x'*A")(x=x, A=A)
    assert row.shape == (1, 4)                             # a 1×n row, not a 1-D array
    np.testing.assert_allclose(row, (x @ A)[None, :])
    m = mdiff.function("A*A'")(A=A)
    assert m.shape == (3, 3)


# --- display forms ---------------------------------------------------------------------------------

def test_kron_of_a_matrix_gradient_is_the_row_vec_g_transposed():
    r = mdiff.diff("tr(A*X*B)", wrt="X")
    k = r.kron()
    assert k.replace(" ", "").startswith("vec(") and k.replace(" ", "").endswith(")'")
    # it is the 1×size row vec(G)'
    A, X, B = rand(2, 3), rand(3, 4), rand(4, 2)
    row = mdiff.function(k, r.f.symbols())(A=A, X=X, B=B)
    assert row.shape == (1, 12)
    np.testing.assert_allclose(row[0], vec(A.T @ B.T), rtol=1e-12)


def test_kron_of_a_vector_gradient_is_a_row():
    r = mdiff.diff("x'*A*x", wrt="x")
    k = r.kron()
    assert k.replace(" ", "").endswith("'")
    x, A = rand(3), rand(3, 3)
    row = mdiff.function(k, r.f.symbols())(x=x, A=A)
    assert row.shape == (1, 3)
    np.testing.assert_allclose(row[0], (A + A.T) @ x, rtol=1e-12)


def test_kron_of_axb_is_a_kronecker_product():
    r = mdiff.diff("A*X*B", wrt="X")
    k = r.kron()
    assert "⊗" in k
    A, _, B = rand(2, 3), rand(3, 4), rand(4, 5)
    np.testing.assert_allclose(mdiff.function(k, r.f.symbols())(A=A, B=B), np.kron(B.T, A),
                               rtol=1e-12)
    assert mdiff.against(r, "B' ⊗ A").equal
    assert mdiff.against(r, "kron(B', A)").equal


def test_kron_of_the_inverse():
    r = mdiff.diff("inv(X)", wrt="X")
    assert "⊗" in r.kron()
    assert mdiff.against(r, "-(inv(X)' ⊗ inv(X))").equal


@pytest.mark.parametrize("spec", ["matrix(n,n) symmetric", "matrix(n,n) spd"])
def test_convention_names_symmetric(spec):
    r = mdiff.diff("tr(A*X)", wrt="X", symbols={"X": spec})
    assert "symmetric" in r.convention
    assert r.to_dict()["convention"] == r.convention
    G = r.function()(A=rand(3, 3), X=np.eye(3))
    np.testing.assert_allclose(G, G.T)                      # the gradient is symmetric


def test_convention_of_general_and_diagonal_variables():
    general = mdiff.diff("tr(A*X)", wrt="X")
    assert "symmetric" not in general.convention
    assert general.convention
    diagonal = mdiff.diff("tr(A*X)", wrt="X", symbols={"X": "matrix(n,n) diagonal"})
    assert "diagonal" in diagonal.convention
    G = diagonal.function()(A=rand(3, 3), X=np.eye(3))
    np.testing.assert_allclose(G, np.diag(np.diag(G)))


def test_to_dict_reports_the_layout():
    r = mdiff.diff("A*X*B", wrt="X", symbols={"A": "matrix(m,n)", "X": "matrix(n,p)",
                                               "B": "matrix(p,q)"})
    d = r.to_dict()
    assert d["form"] == "jacobian"
    # (size F, size X) = (m*q, n*p)
    import sympy as sp
    m, n, p, q = (sp.Symbol(s, positive=True, integer=True) for s in "mnpq")
    rows, cols = (sp.sympify(s.replace("^", "**"), locals={"m": m, "n": n, "p": p, "q": q})
                  for s in d["shape"])
    assert sp.simplify(rows - m * q) == 0 and sp.simplify(cols - n * p) == 0
    g = mdiff.diff("tr(A*X*B)", wrt="X", symbols={"X": "matrix(n,p)"}).to_dict()
    assert g["form"] == "gradient" and g["shape"] == ["n", "p"]


def test_numerator_layout_transposes_gradients_and_says_so():
    import numpy as np
    r = mdiff.diff("x'*A*x", wrt="x", layout="numerator")
    assert r.layout == "numerator" and "numerator" in r.to_dict()["layout"]
    assert str(r) == "x'*(A + A')"
    out = r.function()(x=np.array([1.0, 2.0]), A=np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert out.shape == (1, 2) and np.allclose(out, [[1 * 2 + 2 * 5, 1 * 5 + 2 * 8]])
    assert r.check().ok
    m = mdiff.diff("tr(A*X*B)", wrt="X", layout="numerator")
    assert str(m) == "B*A"
    d = mdiff.diff("tr(A*X*B)", wrt="X")
    assert d.layout == "denominator" and "DESIGN" in d.to_dict()["layout"]
    with pytest.raises(mdiff.DiffError):
        mdiff.diff("x'*x", wrt="x", layout="sideways")
