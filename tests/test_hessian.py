"""Second and higher derivatives: Hessians, mixed derivatives, k-th order tensors,
structured variables and the vech convention — every result checked against central
differences of the (already verified) lower-order derivative."""

import tracemalloc

import numpy as np
import pytest

import mdiff
from mdiff.cli import run

SYM = {"S": "matrix(n,n) symmetric"}
SPD = {"S": "matrix(n,n) spd"}

# (source, expression, variable, symbols, textbook Hessian in mdiff text or None)
HESSIANS = [
    ("CB(81)->(97)", "x'*A*x", "x", None, "A + A'"),
    ("CB(97) symmetric", "x'*A*x", "x", {"A": "matrix(n,n) symmetric"}, "2*A"),
    ("CB(84)", "(A*x + b)'*C*(D*x + e)", "x", {"b": "vector(m)", "e": "vector(m)"},
     "A'*C*D + D'*C'*A"),
    ("CB(88) least squares", "norm2(A*x - b)^2", "x", None, "2*A'*A"),
    ("ridge", "norm2(A*x - b)^2 + c*norm2(x)^2", "x", None, "2*A'*A + 2*c*eye"),
    ("logistic", "sum(log(vector(1) + exp(-y.*(X*w))))", "w", None,
     "X'*diag(y.^2 .* sigmoid(-y.*(X*w)) .* (1 - sigmoid(-y.*(X*w))))*X"),
    ("logsumexp", "logsumexp(x)", "x", None, "diag(softmax(x)) - softmax(x)*softmax(x)'"),
    ("elementwise", "sum(exp(x))", "x", None, "diag(exp(x))"),
    ("cubic", "sum(x.^3)", "x", None, "diag(6*x)"),
    ("norm", "norm2(x)", "x", None, None),
    ("scalar", "a^3*b", "a", None, "6*a*b"),
    ("MN: log det", "log(det(X))", "X", None, None),
    ("CB(110)-style", "tr(X'*A*X)", "X", None, "eye(m) ⊗ (A + A')"),
    ("Frobenius", "norm2(A*X - B)^2", "X", None, "2*(eye(p) ⊗ (A'*A))"),
    ("inverse", "tr(inv(X)*A)", "X", None, None),
    ("det", "det(X)", "X", None, None),
    ("spd log det", "logdet(S)", "S", SPD, None),
    ("symmetric trace", "tr(S*S*A)", "S", SYM, None),
    ("symmetric quadratic", "x'*S*S*x", "S", SYM, None),
    ("MLP", "h = tanh(W*x + b); 1/2*norm2(V*h - y)^2", "b", None, None),
    ("MLP weights", "h = tanh(W*x + b); 1/2*norm2(V*h - y)^2", "W", None, None),
    ("softplus", "sum(softplus(A*x))", "x", None, "A'*diag(sigmoid(A*x) .* (1 - sigmoid(A*x)))*A"),
]


@pytest.mark.parametrize("source,text,wrt,symbols,formula", HESSIANS,
                         ids=[h[0] for h in HESSIANS])
def test_hessian(source, text, wrt, symbols, formula):
    h = mdiff.hessian(text, wrt=wrt, symbols=symbols)
    assert h.form == "hessian"
    for seed in (0, 1):
        rep = h.check(seed=seed)
        assert rep.ok, (source, str(h), rep)
    if formula:
        assert mdiff.against(h, formula).equal, (str(h), formula)


def test_hessian_is_symmetric_matrix():
    h = mdiff.hessian("sum(log(vector(1) + exp(-y.*(X*w))))", wrt="w")
    rng = np.random.default_rng(3)
    vals = dict(X=rng.normal(size=(6, 3)), y=rng.normal(size=6), w=rng.normal(size=3))
    H = h.function()(**vals)
    assert H.shape == (3, 3) and np.allclose(H, H.T)


def test_logistic_hessian_prints_compactly_with_named_sigmoid():
    h = mdiff.hessian("sum(log(vector(1) + exp(-y.*(X*w))))", wrt="w")
    assert str(h) == "t1 = sigmoid(-y .* (X*w)); X'*diag(y.^2 .* t1 .* (1 - t1))*X"


def test_compact_matrix_hessians():
    assert str(mdiff.hessian("x'*A*x", wrt="x")) == "A + A'"
    assert str(mdiff.hessian("tr(X'*A*X)", wrt="X")) == "eye(m) ⊗ (A + A')"
    assert str(mdiff.hessian("log(det(X))", wrt="X")) == "-commutation(n, n)*(inv(X)' ⊗ inv(X))"


def test_symmetric_hessian_is_PHP():
    """For symmetric S the Hessian is P*H*P, P = (I + K)/2: it maps symmetric
    directions to symmetric ones and annihilates antisymmetric ones."""
    h = mdiff.hessian("tr(S*S*A)", wrt="S", symbols=SYM)
    rng = np.random.default_rng(0)
    n = 4
    A = rng.normal(size=(n, n))
    S = rng.normal(size=(n, n))
    S = S + S.T
    H = h.function()(S=S, A=A, n=n)
    anti = rng.normal(size=(n, n))
    anti = anti - anti.T
    assert np.allclose(H @ anti.reshape(-1, order="F"), 0)
    out = (H @ rng.normal(size=n * n)).reshape(n, n, order="F")
    assert np.allclose(out, out.T)


def test_mixed_derivative():
    r = mdiff.diff("x'*A*y", wrt=["x", "y"])
    assert r.form == "mixed" and str(r) == "A"
    assert r.check().ok
    r = mdiff.diff("sum(exp(x .* y))", wrt=["x", "y"])
    assert r.check(seed=1).ok
    r = mdiff.diff("tr(X*Y*A)", wrt=["X", "Y"])
    assert r.check(seed=2).ok


def test_third_derivative_tensor():
    r = mdiff.diff("sum(exp(x))", wrt="x", order=3)
    assert r.form == "tensor" and r.check().ok
    x = np.array([0.1, -0.2, 0.3])
    T = r.function()(x=x)
    assert T.shape == (3, 3, 3)
    want = np.zeros((3, 3, 3))
    for i in range(3):
        want[i, i, i] = np.exp(x[i])
    assert np.allclose(T, want)


def test_fourth_derivative_of_a_quartic():
    # f = (x'x)^2: the 4th derivative is the constant 8*(δij δkl + δik δjl + δil δjk)
    r = mdiff.diff("(x'*x)^2", wrt="x", order=4)
    T = r.function()(x=np.array([0.3, -1.0]))
    d = np.eye(2)
    want = 8 * (np.einsum("ij,kl->ijkl", d, d) + np.einsum("ik,jl->ijkl", d, d)
                + np.einsum("il,jk->ijkl", d, d))
    assert T.shape == (2, 2, 2, 2) and np.allclose(T, want)


def test_third_derivative_checks_against_hessian():
    r = mdiff.diff("sum(log(vector(1) + exp(A*x)))", wrt="x", order=3)
    assert r.check(seed=4).ok


def _duplication(n):
    d = np.zeros((n * n, n * (n + 1) // 2))
    k = 0
    for j in range(n):
        for i in range(j, n):
            d[i + j * n, k] = d[j + i * n, k] = 1
            k += 1
    return d


def test_vech_gradient_and_hessian():
    n = 3
    rng = np.random.default_rng(5)
    S = rng.normal(size=(n, n))
    S = S @ S.T + n * np.eye(n)
    g = mdiff.diff("logdet(S)", wrt="S", symbols=SPD, convention="vech")
    assert "vech" in g.convention and str(g) == "2*inv(S) - diag(diag(inv(S)))"
    G = np.linalg.inv(S)
    assert np.allclose(g.function()(S=S), 2 * G - np.diag(np.diag(G)))
    h = mdiff.hessian("logdet(S)", wrt="S", symbols=SPD, convention="vech")
    H = mdiff.hessian("logdet(S)", wrt="S", symbols=SPD).function()(S=S)
    D = _duplication(n)
    assert np.allclose(h.function()(S=S), D.T @ H @ D)
    assert h.check().ok and g.check().ok


def test_vech_is_named_never_default():
    assert "vech" not in mdiff.diff("logdet(S)", wrt="S", symbols=SPD).convention
    assert "sym" in mdiff.diff("logdet(S)", wrt="S", symbols=SPD).convention


def test_diagonal_variable_hessian():
    h = mdiff.hessian("x'*L*L*x", wrt="L", symbols={"L": "matrix(n,n) diagonal"})
    assert h.check().ok


def test_tensor_layout():
    r = mdiff.diff("A*X*B", wrt="X")
    rng = np.random.default_rng(1)
    A, X, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    T = r.function(layout="tensor")(A=A, X=X, B=B)
    assert T.shape == (2, 5, 3, 4)
    # T[i, j, k, l] = d(AXB)_ij / dX_kl = A_ik B_lj
    assert np.allclose(T, np.einsum("ik,lj->ijkl", A, B))
    g = mdiff.diff("tr(A*X)", wrt="X").function(layout="tensor")(A=rng.normal(size=(4, 3)), X=X)
    assert g.shape == (3, 4)
    h = mdiff.hessian("tr(X'*X)", wrt="X").function(layout="tensor")(X=X)
    assert h.shape == (3, 4, 3, 4)
    with pytest.raises(mdiff.DiffError):
        r.function(layout="bogus")


def test_hessian_evaluation_does_not_materialise_diag():
    """X'*diag(v)*X with 20,000 samples: a dense diag would need 3.2 GB."""
    h = mdiff.hessian("sum(log(vector(1) + exp(-y.*(X*w))))", wrt="w").function()
    rng = np.random.default_rng(0)
    n, d = 20000, 5
    vals = dict(X=rng.normal(size=(n, d)), y=np.sign(rng.normal(size=n)), w=rng.normal(size=d))
    tracemalloc.start()
    H = h(**vals)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert H.shape == (d, d) and peak < 50e6


def test_kron_times_vec_is_not_materialised():
    e = mdiff.parse("A: matrix(n,n); B: matrix(m,m); X: matrix(n,m); (B' ⊗ A)*vec(X)")
    f = mdiff.function(e)
    rng = np.random.default_rng(2)
    A, B, X = rng.normal(size=(300, 300)), rng.normal(size=(200, 200)), rng.normal(size=(300, 200))
    tracemalloc.start()
    out = f(A=A, B=B, X=X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.allclose(out, (A @ X @ B).reshape(-1, order="F"))
    assert peak < 100e6   # the dense Kronecker product would be 28.8 GB


def test_hessian_errors():
    with pytest.raises(mdiff.DiffError):
        mdiff.hessian("A*x", wrt="x")
    with pytest.raises(mdiff.DiffError):
        mdiff.diff("x'*x", wrt="x", order=0)
    with pytest.raises(mdiff.DiffError):
        mdiff.diff("x'*x", wrt="x", order=99)


@pytest.mark.parametrize("argv", [
    ["sum(log(1 + exp(-y .* (X*w))))", "wrt", "w", "--hessian", "--check"],
    ["log(det(X))", "wrt", "X", "--hessian", "--check"],
    ["tr(X'*A*X)", "wrt", "X", "--hessian", "--check"],
    ["norm2(A*X-B)^2", "wrt", "X", "--hessian", "--check"],
    ["x'*A*x", "wrt", "x", "--hessian", "--check"],
    ["logdet(S)", "wrt", "S", "-d", "S: matrix(n,n) spd", "--hessian", "--vech", "--check"],
    ["x'*A*y", "wrt", "x", "y", "--mixed", "--check"],
    ["sum(exp(x))", "wrt", "x", "--order", "3", "--check"],
])
def test_cli_hessian_check(argv, capsys):
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "check ok" in out
