"""Numeric evaluation: ``mdiff.function(text)`` against hand-written numpy (DESIGN §3)."""

import numpy as np
import pytest
from scipy.special import logsumexp as sp_logsumexp

import mdiff

N, M, K = 4, 3, 2


def rng(seed=0):
    return np.random.default_rng(seed)


def spd(r, n=N):
    a = r.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def f(text, symbols=None):
    return mdiff.function(text, symbols)


def close(a, b):
    return np.allclose(a, b, rtol=1e-10, atol=1e-12)


# --- layouts --------------------------------------------------------------------------------

def test_scalar_result_is_float():
    r = rng(0)
    x, A = r.normal(size=N), r.normal(size=(N, N))
    out = f("x'*A*x")(x=x, A=A)
    assert type(out) is float
    assert out == pytest.approx(x @ A @ x, rel=1e-12)


def test_vector_result_is_1d():
    r = rng(1)
    A, x = r.normal(size=(M, N)), r.normal(size=N)
    out = f("A*x")(A=A, x=x)
    assert isinstance(out, np.ndarray) and out.shape == (M,)
    assert close(out, A @ x)


def test_row_result_is_2d():
    r = rng(2)
    x, A = r.normal(size=N), r.normal(size=(N, M))
    out = f("x'*A")(x=x, A=A)
    assert out.shape == (1, M)
    assert close(out, (x @ A)[None, :])
    out = f("x'")(x=x)
    assert out.shape == (1, N)


def test_matrix_result_is_2d():
    r = rng(3)
    x, y = r.normal(size=N), r.normal(size=M)
    out = f("x*y'")(x=x, y=y)
    assert out.shape == (N, M)
    assert close(out, np.outer(x, y))


def test_vector_inputs_accept_1d_and_column():
    x = np.arange(1.0, 4.0)
    g = f("x'*x")
    assert g(x=x) == g(x=x.reshape(-1, 1)) == g(x=list(x)) == pytest.approx(14.0)


def test_scalar_inputs_accept_python_and_numpy_numbers():
    g = f("a*b")
    assert g(a=2, b=3.5) == pytest.approx(7.0)
    assert g(a=np.float64(2), b=np.array(3.5)) == pytest.approx(7.0)
    assert g(a=np.array([2.0]), b=np.array([[3.5]])) == pytest.approx(7.0)


def test_function_exposes_variable_names():
    g = f("x'*A*x + c", {"c": "scalar"})
    assert set(g.variables) == {"x", "A", "c"}


def test_function_accepts_parsed():
    p = mdiff.parse("sum(x)")
    assert f(p)(x=np.ones(5)) == pytest.approx(5.0)


# --- operators ------------------------------------------------------------------------------

def test_arithmetic_operators():
    r = rng(4)
    A, B = r.normal(size=(M, N)), r.normal(size=(M, N))
    C = r.uniform(0.5, 2.0, size=(M, N))
    a, b = 1.7, -0.3
    assert close(f("A + B")(A=A, B=B), A + B)
    assert close(f("A - B")(A=A, B=B), A - B)
    assert close(f("-A")(A=A), -A)
    assert close(f("a*A")(a=a, A=A), a * A)
    assert close(f("A*a")(a=a, A=A), a * A)
    assert close(f("A/a")(a=a, A=A), A / a)
    assert close(f("A .* B")(A=A, B=B), A * B)
    assert close(f("A ⊙ B")(A=A, B=B), A * B)
    assert close(f("A ./ C")(A=A, C=C), A / C)
    assert close(f("C.^3")(C=C), C ** 3)
    assert close(f("C.^0.5")(C=C), np.sqrt(C))
    assert close(f("C.^-2")(C=C), C ** -2.0)
    assert close(f("C.^b")(C=C, b=b), C ** b)
    assert f("a^2")(a=a) == pytest.approx(a ** 2)
    assert f("a^b")(a=a, b=b) == pytest.approx(a ** b)
    assert f("a/b")(a=a, b=b) == pytest.approx(a / b)
    assert f("a - b - 1")(a=a, b=b) == pytest.approx(a - b - 1)


def test_matrix_product_and_transpose():
    r = rng(5)
    A, B, C = r.normal(size=(M, N)), r.normal(size=(N, K)), r.normal(size=(M, K))
    assert close(f("A*B")(A=A, B=B), A @ B)
    assert close(f("A'*C")(A=A, C=C), A.T @ C)
    assert close(f("(A*B)'")(A=A, B=B), (A @ B).T)
    assert close(f("Aᵀ*C")(A=A, C=C), A.T @ C)
    assert close(f("tr(A*B*C')")(A=A, B=B, C=C), np.trace(A @ B @ C.T))


def test_number_literal_broadcasts():
    r = rng(6)
    y = r.normal(size=N)
    X = r.normal(size=(M, N))
    assert close(f("1 - y.^2")(y=y), 1 - y ** 2)
    assert close(f("X + 0.5")(X=X), X + 0.5)
    assert close(f("2 - X")(X=X), 2 - X)


def test_kron():
    r = rng(7)
    A, B = r.normal(size=(2, 3)), r.normal(size=(3, 2))
    assert close(f("kron(A, B)")(A=A, B=B), np.kron(A, B))
    assert close(f("A ⊗ B")(A=A, B=B), np.kron(A, B))
    x, y = r.normal(size=3), r.normal(size=2)
    out = f("x ⊗ y")(x=x, y=y)
    assert out.shape == (6,)
    assert close(out, np.kron(x, y))
    C = r.normal(size=(6, 4))
    assert close(f("A ⊗ B*C")(A=A, B=B, C=C), np.kron(A, B) @ C)


@pytest.mark.parametrize("k", [1, 2, 3, 5, -1, -2])
def test_matrix_power(k):
    r = rng(8)
    X = spd(r)
    out = f(f"X^{k}")(X=X)
    assert close(out, np.linalg.matrix_power(X, k))


def test_matrix_power_zero_of_declared_matrix():
    # a declared variable stays a variable of the function, so X sizes eye
    assert close(f("X: matrix(n,n); X^0")(X=np.ones((3, 3))), np.eye(3))


@pytest.mark.parametrize("text, values, want", [
    ("X^0", dict(X=np.ones((3, 3))), np.eye(3)),
    ("0*x", dict(x=np.ones(3)), np.zeros(3)),
])
def test_eliminated_variable_still_sizes_result(text, values, want):
    assert close(f(text)(**values), want)


def test_matrix_power_of_expression():
    r = rng(9)
    X, Y = r.normal(size=(N, N)), r.normal(size=(N, N))
    assert close(f("(X + Y)^3")(X=X, Y=Y), np.linalg.matrix_power(X + Y, 3))


# --- elementwise functions ------------------------------------------------------------------

def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


ELEMENTWISE = {
    "sin": (np.sin, "any"), "cos": (np.cos, "any"), "tan": (np.tan, "small"),
    "arcsin": (np.arcsin, "unit"), "arccos": (np.arccos, "unit"),
    "arctan": (np.arctan, "any"), "sinh": (np.sinh, "any"), "cosh": (np.cosh, "any"),
    "tanh": (np.tanh, "any"), "exp": (np.exp, "any"), "log": (np.log, "pos"),
    "sqrt": (np.sqrt, "pos"), "abs": (np.abs, "any"), "sign": (np.sign, "any"),
    "relu": (lambda x: np.where(x > 0, x, 0.0), "any"),
    "sigmoid": (_sigmoid, "any"),
    "softplus": (lambda x: np.log1p(np.exp(x)), "any"),
}


def _sample(r, domain, size):
    if domain == "pos":
        return r.uniform(0.1, 3.0, size=size)
    if domain == "unit":
        return r.uniform(-0.95, 0.95, size=size)
    if domain == "small":
        return r.uniform(-1.2, 1.2, size=size)
    return r.normal(scale=2.0, size=size)


@pytest.mark.parametrize("fn", sorted(ELEMENTWISE))
def test_elementwise_function(fn):
    ref, domain = ELEMENTWISE[fn]
    r = rng(10 + sorted(ELEMENTWISE).index(fn))
    X = _sample(r, domain, (M, N))
    x = _sample(r, domain, N)
    a = float(_sample(r, domain, ()))
    assert close(f(f"{fn}(X)")(X=X), ref(X))
    out = f(f"{fn}(x)")(x=x)
    assert out.shape == (N,) and close(out, ref(x))
    s = f(f"{fn}(a)")(a=a)
    assert type(s) is float and s == pytest.approx(float(ref(a)), rel=1e-12, abs=1e-12)


def test_relu_sign_abs_at_negative_and_positive_points():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert close(f("relu(x)")(x=x), [0, 0, 0, 0.5, 2.0])
    assert close(f("sign(x)")(x=x), [-1, -1, 0, 1, 1])
    assert close(f("abs(x)")(x=x), [2, 0.5, 0, 0.5, 2])


def test_sigmoid_softplus_are_stable_for_large_inputs():
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    s = f("sigmoid(x)")(x=x)
    assert np.all(np.isfinite(s))
    assert close(s[[1, 2, 3]], _sigmoid(x[[1, 2, 3]]))
    assert s[0] == pytest.approx(0.0, abs=1e-300) and s[-1] == pytest.approx(1.0)
    sp = f("softplus(x)")(x=x)
    assert np.all(np.isfinite(sp))
    assert sp[-1] == pytest.approx(800.0)
    assert sp[2] == pytest.approx(np.log(2.0))


# --- reductions ------------------------------------------------------------------------------

def test_sum_and_norms():
    r = rng(30)
    X, x = r.normal(size=(M, N)), r.normal(size=N)
    assert f("sum(X)")(X=X) == pytest.approx(X.sum())
    assert f("sum(x)")(x=x) == pytest.approx(x.sum())
    assert f("norm1(X)")(X=X) == pytest.approx(np.abs(X).sum())
    assert f("norm1(x)")(x=x) == pytest.approx(np.abs(x).sum())
    assert f("norm2(x)")(x=x) == pytest.approx(np.linalg.norm(x))
    # Frobenius for a matrix, not the spectral norm
    assert f("norm2(X)")(X=X) == pytest.approx(np.linalg.norm(X, "fro"))
    assert f("norm2(X)")(X=X) != pytest.approx(np.linalg.norm(X, 2))
    assert f("norm2(x)^2")(x=x) == pytest.approx(x @ x)


def test_trace_det_logdet():
    r = rng(31)
    S = spd(r)
    X = r.normal(size=(N, N))
    assert f("tr(X)")(X=X) == pytest.approx(np.trace(X))
    assert f("det(X)")(X=X) == pytest.approx(np.linalg.det(X))
    assert f("logdet(S)")(S=S) == pytest.approx(np.linalg.slogdet(S)[1])
    assert f("logdet(S)")(S=S) == pytest.approx(np.log(np.linalg.det(S)))


def test_logsumexp_over_all_entries():
    r = rng(32)
    X, x = r.normal(size=(M, N)), r.normal(size=N)
    assert f("logsumexp(X)")(X=X) == pytest.approx(np.log(np.exp(X).sum()))
    assert f("logsumexp(x)")(x=x) == pytest.approx(np.log(np.exp(x).sum()))
    big = np.array([1000.0, 1000.0])
    assert f("logsumexp(x)")(x=big) == pytest.approx(1000.0 + np.log(2.0))
    assert f("logsumexp(x)")(x=big) == pytest.approx(sp_logsumexp(big))


# --- matrix functions ------------------------------------------------------------------------

def test_inv():
    r = rng(40)
    S = spd(r)
    assert close(f("inv(S)")(S=S), np.linalg.inv(S))
    u, v = r.normal(size=N), r.normal(size=N)
    assert f("u'*inv(S)*v")(u=u, S=S, v=v) == pytest.approx(u @ np.linalg.solve(S, v))


def test_diag_of_vector_and_matrix():
    r = rng(41)
    x, X = r.normal(size=N), r.normal(size=(N, N))
    D = f("diag(x)")(x=x)
    assert D.shape == (N, N) and close(D, np.diag(x))
    d = f("diag(X)")(X=X)
    assert d.shape == (N,) and close(d, np.diag(X))
    assert close(f("diag(diag(X))")(X=X), np.diag(np.diag(X)))


def test_vec_is_column_major():
    X = np.arange(6.0).reshape(2, 3)          # [[0,1,2],[3,4,5]]
    out = f("vec(X)")(X=X)
    assert out.shape == (6,)
    assert close(out, [0, 3, 1, 4, 2, 5])
    assert close(out, X.ravel(order="F"))
    r = rng(42)
    A, B, Y = r.normal(size=(2, 3)), r.normal(size=(5, 4)), r.normal(size=(3, 4))
    # vec(A*Y*B') = (B ⊗ A) vec(Y)
    lhs = f("vec(A*Y*B')")(A=A, Y=Y, B=B)
    assert close(lhs, np.kron(B, A) @ Y.ravel(order="F"))


def test_softmax_vector_and_columnwise():
    r = rng(43)
    x = r.normal(size=N)
    s = f("softmax(x)")(x=x)
    assert s.shape == (N,) and close(s, np.exp(x) / np.exp(x).sum())
    X = r.normal(size=(M, N))
    S = f("softmax(X)")(X=X)
    assert close(S, np.exp(X) / np.exp(X).sum(axis=0, keepdims=True))
    assert close(S.sum(axis=0), np.ones(N))
    assert not close(S.sum(axis=1), np.ones(M))


def test_eye():
    A = rng(44).normal(size=(N, N))
    assert close(f("A + eye")(A=A), A + np.eye(N))
    assert close(f("eye(3)")(), np.eye(3))
    g = f("eye(n)")
    assert close(g(n=5), np.eye(5))
    assert close(f("x: vector(n); eye(n)*x")(x=np.arange(3.0)), np.arange(3.0))


def test_vector_and_matrix_fill_from_context():
    r = rng(45)
    x, X = r.normal(size=N), r.normal(size=(M, N))
    assert f("x'*vector(1)")(x=x) == pytest.approx(x.sum())
    assert close(f("x + vector(2)")(x=x), x + 2)
    assert close(f("X .* matrix(3)")(X=X), 3 * X)
    assert close(f("X*vector(1)")(X=X), X.sum(axis=1))
    out = f("vector(1)'*vector(1)")(n=7)
    assert out == pytest.approx(7.0)
    assert close(f("vector(2.5)")(n=3), [2.5, 2.5, 2.5])


def test_dimension_scalars():
    D = np.arange(10.0).reshape(2, 5)
    assert f("D: matrix(p,N); N*sum(D)")(D=D) == pytest.approx(5 * D.sum())
    assert f("D: matrix(p,N); (p + N)*sum(D)")(D=D) == pytest.approx(7 * D.sum())
    assert f("D: matrix(p,N); p + N")(p=2, N=5) == pytest.approx(7.0)
    S = spd(rng(46))
    g = f("D: matrix(p,N); -N/2*logdet(S)")
    assert g(S=S, N=6) == pytest.approx(-3 * np.linalg.slogdet(S)[1])


def test_unfixed_dimension_scalar_is_evaluation_error():
    with pytest.raises(mdiff.EvaluationError):
        f("tr(eye(n))")()


def test_declared_unused_matrix_fixes_dimension_scalars():
    D = np.ones((2, 5))
    assert f("D: matrix(p,N); N*sum(x)")(D=D, x=np.ones(3)) == pytest.approx(15.0)


def test_gaussian_loglikelihood():
    r = rng(47)
    p, n = 3, 8
    D = r.normal(size=(p, n))
    S = spd(r, p)
    m = r.normal(size=p)
    text = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p)\n"
            "C = (D - m*vector(1)')*(D - m*vector(1)')'\n"
            "-N/2*logdet(S) - 1/2*tr(inv(S)*C)")
    got = f(text)(D=D, S=S, m=m)
    Dc = D - m[:, None]
    want = -n / 2 * np.linalg.slogdet(S)[1] - 0.5 * np.trace(np.linalg.solve(S, Dc @ Dc.T))
    assert got == pytest.approx(want, rel=1e-12)


def test_let_bindings_and_mlp():
    r = rng(48)
    W1, b1 = r.normal(size=(5, 3)), r.normal(size=5)
    W2, b2 = r.normal(size=(2, 5)), r.normal(size=2)
    x, y = r.normal(size=3), r.normal(size=2)
    text = "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2"
    got = f(text)(W1=W1, b1=b1, W2=W2, b2=b2, x=x, y=y)
    y2 = np.tanh(W2 @ np.tanh(W1 @ x + b1) + b2)
    assert got == pytest.approx(0.5 * np.sum((y2 - y) ** 2), rel=1e-12)


def test_logistic_loss():
    r = rng(49)
    X, w = r.normal(size=(6, 3)), r.normal(size=3)
    y = r.choice([-1.0, 1.0], size=6)
    got = f("sum(log(1 + exp(-y .* (X*w))))")(X=X, w=w, y=y)
    assert got == pytest.approx(np.sum(np.log1p(np.exp(-y * (X @ w)))), rel=1e-12)


def test_shared_subexpressions_evaluate_once_but_correctly():
    x = rng(50).normal(size=N)
    text = "h1 = exp(x); h2 = h1 + h1; h3 = h2 .* h2; sum(h3)"
    assert f(text)(x=x) == pytest.approx(np.sum((2 * np.exp(x)) ** 2))


# --- bad values ------------------------------------------------------------------------------

def test_missing_value_is_an_error():
    g = f("x'*A*x")
    with pytest.raises(mdiff.EvaluationError) as info:
        g(x=np.ones(3))
    assert "A" in info.value.message


@pytest.mark.parametrize("values", [
    dict(x=np.ones(3), A=np.ones((2, 2))),          # n is 3 and 2
    dict(x=np.ones(3), A=np.ones((3, 2))),          # A must be square
    dict(x=np.ones(3), A=np.ones(3)),               # A is a matrix
    dict(x=np.ones((3, 3)), A=np.ones((3, 3))),     # x is a vector
    dict(x=np.ones((3, 1, 1)), A=np.ones((3, 3))),
    dict(x=np.ones(3), A=np.ones((3, 3, 3))),
    dict(x="abc", A=np.ones((3, 3))),
    dict(x=np.ones(3), A={"a": 1}),
])
def test_inconsistent_or_ill_shaped_values(values):
    with pytest.raises(mdiff.EvaluationError):
        f("x'*A*x")(**values)


def test_scalar_given_an_array_is_an_error():
    with pytest.raises(mdiff.EvaluationError):
        f("a*x")(a=np.ones(2), x=np.ones(2))


def test_declared_numeric_dimension_is_enforced():
    with pytest.raises(mdiff.EvaluationError):
        f("x: vector(3); sum(x)")(x=np.ones(4))
    assert f("x: vector(3); sum(x)")(x=np.ones(3)) == pytest.approx(3.0)


def test_unfixed_dimension_is_an_error():
    with pytest.raises(mdiff.EvaluationError) as info:
        f("vector(2)")()
    assert "n" in info.value.message


def test_extra_numeric_keywords_are_ignored():
    assert close(f("x + y")(x=np.ones(3), y=np.ones(3), z=5), 2 * np.ones(3))


@pytest.mark.parametrize("extra", ["abc", None, float("nan"), float("inf")])
def test_extra_non_numeric_keyword_is_ignored_or_evaluation_error(extra):
    g = f("x + y")
    try:
        out = g(x=np.ones(3), y=np.ones(3), z=extra)
    except mdiff.EvaluationError:
        return
    assert close(out, 2 * np.ones(3))


@pytest.mark.parametrize("n", [float("nan"), "three"])
def test_bad_dimension_keyword_is_evaluation_error(n):
    with pytest.raises(mdiff.EvaluationError):
        f("vector(2)")(n=n)


def test_huge_dimension_keyword_is_a_limit_not_memory_error():
    with pytest.raises(mdiff.MdiffError):
        f("vector(2)")(n=10 ** 15)
