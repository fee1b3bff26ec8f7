"""Issue 21: indexing and slicing (x[i], X[i, j], X[:, j], X[i, :], X[a:b, :]), index
names (i: index(n)) and block matrices ([A, B; C, D]): their derivatives by finite
differences, printed results that read back, 1-based values in function() and in
generated code alike, and clear errors with a caret."""

import numpy as np
import pytest

import mdiff
from mdiff.core.shapes import dim_symbol

BLOCKS = "A: matrix(m,n); B: matrix(m,p); C: matrix(q,n); D: matrix(q,p); "


def _values(r, rng, sizes=None):
    sizes = sizes or {"n": 3, "m": 4, "p": 2, "q": 3}
    out = {}
    for name, v in r.f.variables.items():
        shape = tuple(int(d.xreplace({dim_symbol(k): n for k, n in sizes.items()}))
                      for d in v.shape)
        out[name] = float(rng.standard_normal()) if v.is_scalar else \
            rng.standard_normal(shape[:1] if v.is_vector else shape)
    return out


@pytest.mark.parametrize("text, wrt, expected", [
    ("x[2]^2", "x", "2*x[2]*eye(n)[:, 2]"),
    ("sum(X[2, :].^2)", "X", "2*eye(n)[:, 2]*X[2, :]"),
    ("a'*X[:, 2]", "X", None),
    ("x: vector(5); x[2:4]'*x[2:4]", "x", "2*eye(5)[:, 2:4]*x[2:4]"),
    ("tanh(W*x)[1]", "x", "(1 - tanh(W[1, :]*x)^2)*W[1, :]'"),
    ("sum(sigmoid(W*x)[2:3])", "W", None),
    ("X[1, 2]*X[2, 1]", "X", None),
    ("i: index(n); x[i]^2", "x", "2*x[i]*eye(n)[:, i]"),
    ("i: index(n); j: index(m); X[i, j]^2 + sum(X[:, j])", "X", None),
    ("x[i]*x[j + 1]", "x", None),
])
def test_parts(text, wrt, expected):
    r = mdiff.diff(text, wrt)
    if expected is not None:
        assert str(r) == expected
    for seed in range(3):
        assert r.check(seed=seed).ok, str(r)
    assert mdiff.parse(str(r), r.f.symbols()).expr is r.expr


@pytest.mark.parametrize("text, wrt, expected", [
    (BLOCKS + "norm2([A, B; C, D]*x)^2", "A", "2*[A, B]*x*x[1:n]'"),
    (BLOCKS + "norm2([A, B; C, D]*x)^2", "D", "2*[C, D]*x*x[n + 1:n + p]'"),
    (BLOCKS + "norm2([A, B; C, D]*x)^2", "x", "t1 = [A, B; C, D]; 2*t1'*t1*x"),
    ("norm2([A*x; B*x] - y)^2", "x", "2*A'*(A*x - y[1:n]) + 2*B'*(B*x - y[n + 1:n + p])"),
    ("norm2([X, X])^2", "X", "4*X"),            # a variable in two blocks: its parts add
    ("A: matrix(2,2); tr([A, 0; 0, A])", "A", "2*eye(2)"),
    ("X: matrix(n,n); logdet([X, X'; X', X] + eye)", "X", None),
    ("[x; 2*x]", "x", None),                     # a Jacobian
])
def test_blocks(text, wrt, expected):
    r = mdiff.diff(text, wrt)
    if expected is not None:
        assert str(r) == expected
    assert r.check().ok, str(r)
    assert mdiff.parse(str(r), r.f.symbols()).expr is r.expr


@pytest.mark.parametrize("text, wrt", [
    ("x[2]^2 + x[1]*x[3]", "x"), (BLOCKS + "norm2([A, B; C, D]*x)^2", "D"),
    ("norm2([A*x; B*x] - y)^2", "x"), ("sum(sigmoid(W*x)[2:3])", "W"),
    ("A: matrix(2,2); [A, 0; 1, A]", "A"),
])
def test_generated_code_agrees(text, wrt):
    r = mdiff.diff(text, wrt)
    values = _values(r, np.random.default_rng(0))
    assert np.allclose(r.function(backend="numpy")(**values), r.function()(**values))


def test_indices_are_one_based_in_function_and_code():
    r = mdiff.parse("i: index(n); x[i]*X[i, 1]")
    x, X = np.array([10.0, 20.0, 30.0]), np.arange(9.0).reshape(3, 3)
    assert mdiff.function(r)(x=x, X=X, i=2) == 20.0 * 3.0
    g = mdiff.diff(r, "x")
    assert np.allclose(g.function()(x=x, X=X, i=2), [0, 3, 0])
    assert np.allclose(g.function(backend="numpy")(x=x, X=X, i=2), [0, 3, 0])
    for fn in (g.function(), g.function(backend="numpy")):
        with pytest.raises(mdiff.EvaluationError, match="index 4 is outside"):
            fn(x=x, X=X, i=4)


@pytest.mark.parametrize("text, message, column", [
    ("x: vector(3); x[4]", "index 4 is beyond the 3 rows", 17),
    ("x[0]", "indices count from 1", 3),
    ("x: vector(3); x[2:1]", "the range 2:1 is empty", 18),
    ("X[1]", "one index selects from a vector", 3),
    ("A: matrix(2,2); B: matrix(3,3); [A, B]", r"block \(1, 2\) is 3×3: its rows differ", 37),
    ("A: matrix(2,2); B: matrix(3,2); [A, A; B]", "block row 2 has 1 block, block row 1 has 2",
     40),
    ("i: index(n) positive; x[i]", "an index takes no properties", 13),
])
def test_errors_point_at_the_index_or_block(text, message, column):
    with pytest.raises(mdiff.MdiffError, match=message) as info:
        mdiff.parse(text)
    assert info.value.span.column == column


@pytest.mark.parametrize("text", [
    "x[2]", "X[1, 2]", "X[:, 2]", "X[2, :]", "X: matrix(m,n); X[2:m, :]", "[A, B; C, D]",
    "A: matrix(2,2); [A, 0; 0, A]", "[x; 0]", "i: index(n); x[i]", "(A*x)[1]", "X'[1, :]",
])
def test_parts_and_blocks_read_back(text):
    p = mdiff.parse(text)
    assert mdiff.parse(str(p), p.symbols()).expr is p.expr


def test_folds():
    """Parts of products, sums and entrywise functions are the parts of their arguments;
    a part of a block matrix along its lines is that block; X'[i, j] is X[j, i]."""
    assert str(mdiff.parse("(A*x)[1]")) == "A[1, :]*x"
    assert str(mdiff.parse("tanh(W*x + b)[2]")) == "tanh(W[2, :]*x + b[2])"
    assert str(mdiff.parse(BLOCKS + "[A, B; C, D][1:m, :]")) == "[A, B]"
    assert str(mdiff.parse(BLOCKS + "[A, B; C, D][m + 1:m + q, n + 1:n + p]")) == "D"
    assert str(mdiff.parse("X'[1, 2]")) == "X[2, 1]"
    assert str(mdiff.parse("S: matrix(n,n) symmetric; S[1, :]'")) == "S[:, 1]"


def test_latex():
    assert mdiff.diff("x[2]^2", "x").latex() == "2 x_{2} e_{2}"
    assert mdiff.parse("[A, B; C, D]").latex() == \
        "\\begin{bmatrix} A & B \\\\ C & D \\end{bmatrix}"


@pytest.mark.parametrize("spec", ["vector(n + p)", "vector(m^2*n^2)", "matrix(2*m^2 + n,q)"])
def test_declared_sizes_with_sums_and_powers(spec):
    """Block results declare sizes such as n + p; symbols() prints what it reads."""
    p = mdiff.parse("w", {"w": spec})
    assert p.symbols() == {"w": spec}
