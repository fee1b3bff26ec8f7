"""Finding extrema, the article's two routes: closed-form stationary points and
numeric optimisation with mdiff's own derivatives — each verified numerically."""

import numpy as np
import pytest

import mdiff
from mdiff.cli import run

GAUSS = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); "
         "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))")
GAUSS_L = ("D: matrix(p,N); m: vector(p); L: matrix(p,p); S = L*L'; "
           "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    p, n = 3, 200
    D = rng.normal(size=(p, n)) * np.array([[1.0], [2.0], [0.5]]) + np.array([[1.0], [-1.0], [2.0]])
    return D


def test_gaussian_mean_closed_form(data):
    s = mdiff.solve(GAUSS, wrt="m")
    assert str(s) == "m = D*vector(1)/N"
    m = s.function()(D=data)
    assert np.allclose(m, data.mean(axis=1))


def test_gaussian_covariance_closed_form(data):
    s = mdiff.solve(GAUSS, wrt="S")
    assert str(s) == "t1 = D - m*vector(1)'; S = t1*t1'/N"
    assert s.method == "X*G*X"      # linear only after multiplying through by S
    m = data.mean(axis=1)
    S = s.function()(D=data, m=m)
    assert np.allclose(S, np.cov(data, bias=True))
    # the gradients vanish at the article's estimates, which are a maximum
    assert np.abs(s.gradient_at_solution(D=data, m=m, S=S)).max() < 1e-9
    sm = mdiff.solve(GAUSS, wrt="m")
    assert np.abs(sm.gradient_at_solution(D=data, m=m, S=S)).max() < 1e-9
    assert s.classify(D=data, m=m, S=S) == "maximum"
    assert sm.classify(D=data, m=m, S=S) == "maximum"


SOLVE_CASES = [
    ("least squares", "norm2(A*x - b)^2", "x", None, "x = inv(A'*A)*A'*b", "minimum"),
    ("ridge", "norm2(A*x - b)^2 + c*norm2(x)^2", "x", None,
     "x = inv(A'*A + c*eye(m))*A'*b", "minimum"),
    ("quadratic", "x'*A*x - 2*b'*x", "x", {"A": "matrix(n,n) symmetric"}, "x = inv(A)*b", None),
    ("matrix least squares", "norm2(A*X*B - C)^2", "X", None,
     "X = inv(A'*A)*A'*C*B'*inv(B*B')", "minimum"),
    ("trace quadratic", "tr(X'*A*X) - 2*tr(B'*X)", "X", None, "X = 2*inv(A + A')*B", None),
    ("scalar", "a*x^2 - 2*b*x", "x", {"x": "scalar"}, "x = b/a", None),
]


@pytest.mark.parametrize("name,text,wrt,symbols,printed,kind", SOLVE_CASES,
                         ids=[c[0] for c in SOLVE_CASES])
def test_closed_form_solutions_zero_the_gradient(name, text, wrt, symbols, printed, kind):
    s = mdiff.solve(text, wrt=wrt, symbols=symbols)
    assert str(s) == printed
    rng = np.random.default_rng(1)
    vals = {}
    for v, node in s.f.variables.items():
        if v == wrt:
            continue
        shape = tuple(4 if d != 1 else 1 for d in node.shape)
        if node.is_scalar:
            vals[v] = float(rng.uniform(0.5, 2))
        elif node.is_vector:
            vals[v] = rng.normal(size=shape[0])
        else:
            a = rng.normal(size=(6, 4)) if (v == "A" and "A*x" in text) else rng.normal(size=(4, 4))
            vals[v] = a
    if "A*x - b" in text:
        vals["A"] = rng.normal(size=(6, 4))
        vals["b"] = rng.normal(size=6)
    if "symmetric" in str(symbols):
        a = rng.normal(size=(4, 4))
        vals["A"] = a @ a.T + 4 * np.eye(4)
    g = s.gradient_at_solution(**vals)
    assert np.abs(np.asarray(g)).max() < 1e-8
    if kind:
        assert s.classify(**vals) == kind


def test_no_closed_form_points_to_minimize(capsys):
    with pytest.raises(mdiff.NoClosedForm, match="minimize"):
        mdiff.solve("sum(log(1 + exp(-y .* (X*w))))", wrt="w")
    assert run(["solve", "sum(exp(x))", "wrt", "x"]) == 2
    assert "minimize" in capsys.readouterr().err


def test_cli_solve(capsys):
    assert run(["solve", GAUSS, "wrt", "m", "S"]) == 0
    out = capsys.readouterr().out
    assert "m = D*vector(1)/N" in out and "S = t1*t1'/N" in out


# --- numeric optimisation ----------------------------------------------------------------

def test_gaussian_numeric_agrees_with_closed_form(data):
    p = data.shape[0]
    res = mdiff.maximize(GAUSS_L, wrt=["m", "L"], values=dict(D=data, m=np.zeros(p), L=np.eye(p)))
    assert res.success
    L = res["L"]
    assert np.allclose(res["m"], data.mean(axis=1), atol=1e-5)
    assert np.allclose(L @ L.T, np.cov(data, bias=True), atol=1e-4)


@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(2)
    n, d = 400, 4
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-X @ w_true)), 1.0, -1.0)   # non-separable
    return X, y


@pytest.mark.parametrize("method", ["L-BFGS-B", "Newton-CG", "trust-exact"])
def test_logistic_regression_converges(logistic, method):
    X, y = logistic
    res = mdiff.minimize("sum(log(1 + exp(-y .* (X*w))))", wrt="w",
                         values=dict(X=X, y=y, w=np.zeros(X.shape[1])), method=method)
    assert res.grad_norm < 1e-6, res


def test_mlp_training_reduces_loss():
    rng = np.random.default_rng(3)
    d, h, k, batch = 3, 8, 2, 64
    X = rng.normal(size=(d, batch))
    teacher = np.tanh(rng.normal(size=(k, h)) @ np.tanh(rng.normal(size=(h, d)) @ X))
    loss = ("b1: vector(h); b2: vector(k); y1 = tanh(W1*X + b1*vector(1)'); "
            "y2 = W2*y1 + b2*vector(1)'; 1/2*norm2(y2 - Y)^2")
    start = dict(X=X, Y=teacher, W1=0.5 * rng.normal(size=(h, d)), b1=np.zeros(h),
                 W2=0.5 * rng.normal(size=(k, h)), b2=np.zeros(k))
    f0 = mdiff.function(loss)(**start)
    res = mdiff.minimize(loss, wrt=["W1", "b1", "W2", "b2"], values=start, maxiter=500)
    assert res.fun < 0.1 * f0


def test_minimize_errors():
    with pytest.raises(mdiff.EvaluationError, match="starting value"):
        mdiff.minimize("norm2(A*x - b)^2", wrt="x", values=dict(A=np.eye(2), b=np.ones(2)))
    with pytest.raises(mdiff.DiffError):
        mdiff.minimize("A*x", wrt="x", values=dict(A=np.eye(2), x=np.ones(2)))


def test_cli_minimize(tmp_path, logistic, capsys):
    X, y = logistic
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y)
    assert run(["minimize", "sum(log(1 + exp(-y .* (X*w))))", "wrt", "w", "--data", str(path),
                "--method", "Newton-CG"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("converged") and "w = [" in out
