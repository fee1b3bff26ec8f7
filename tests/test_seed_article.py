"""The seed article's results as regression tests (DESIGN §6, seed-article.txt):
the Gaussian log-likelihood (its gradients and the closed-form maximiser) and the MLP
gradients (symbolic backpropagation vs a hand-written numpy backpropagation)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import mdiff

# --- Gaussian maximum likelihood in data-matrix form --------------------------------------

GAUSS_SYMBOLS = {"D": "matrix(p,N)", "S": "matrix(p,p) spd", "m": "vector(p)"}
LOGLIK = "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))"
GRAD_M = "inv(S)*(D*vector(1) - N*m)"
GRAD_S = "-N/2*inv(S) + 1/2*inv(S)*(D - m*vector(1)')*(D - m*vector(1)')'*inv(S)"


@pytest.fixture(scope="module")
def gauss():
    return mdiff.gradients(LOGLIK, wrt=["m", "S"], symbols=GAUSS_SYMBOLS)


def _data(seed=0, p=3, N=12):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((p, p))
    D = L @ rng.standard_normal((p, N)) + rng.standard_normal((p, 1))
    return D


def _loglik_numpy(D, m, S):
    N = D.shape[1]
    C = D - m[:, None]
    return -N / 2 * np.linalg.slogdet(S)[1] - 0.5 * np.trace(C.T @ np.linalg.solve(S, C))


def test_gaussian_loglik_value():
    D = _data()
    m = np.array([0.1, -0.2, 0.3])
    S = np.cov(D) + np.eye(3)
    f = mdiff.function(LOGLIK, GAUSS_SYMBOLS)
    assert isinstance(f(D=D, m=m, S=S), float)
    assert np.isclose(f(D=D, m=m, S=S), _loglik_numpy(D, m, S), rtol=1e-12)


@pytest.mark.parametrize("wrt", ["m", "S"])
def test_gaussian_gradients_finite_differences(gauss, wrt):
    r = gauss[wrt]
    assert r.form == "gradient"
    for seed in (0, 1):
        report = r.check(seed=seed)
        assert report.ok and report.max_rel_error < 1e-6, str(report)


@pytest.mark.parametrize("wrt,formula", [("m", GRAD_M), ("S", GRAD_S)])
def test_gaussian_gradients_equal_the_article(gauss, wrt, formula):
    cmp = mdiff.against(gauss[wrt], formula)
    assert cmp.equal, f"{gauss[wrt]} vs {formula}: {cmp}"


def test_gaussian_gradients_agree_with_diff(gauss):
    for wrt in ("m", "S"):
        single = mdiff.diff(LOGLIK, wrt=wrt, symbols=GAUSS_SYMBOLS)
        assert mdiff.against(single, str(gauss[wrt])).equal


def test_gaussian_convention_is_symmetric(gauss):
    assert "symmetric" in gauss["S"].convention


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaussian_gradients_vanish_at_the_mle(gauss, seed):
    """μ̂ = (1/N) Σ xᵢ and Σ̂ = (1/N) Σ (xᵢ-μ̂)(xᵢ-μ̂)ᵀ make both gradients zero."""
    D = _data(seed)
    p, N = D.shape
    mu = D.mean(axis=1)
    C = D - mu[:, None]
    sigma = C @ C.T / N
    gm = gauss["m"].function()(D=D, m=mu, S=sigma)
    gs = gauss["S"].function()(D=D, m=mu, S=sigma)
    assert gm.shape == (p,) and gs.shape == (p, p)
    scale = N * np.abs(np.linalg.inv(sigma)).max()
    assert np.abs(gm).max() < 1e-10 * scale
    assert np.abs(gs).max() < 1e-10 * scale
    # ... and not elsewhere (the test could not pass with a zero gradient)
    gm_off = gauss["m"].function()(D=D, m=mu + 0.3, S=sigma)
    gs_off = gauss["S"].function()(D=D, m=mu, S=1.5 * sigma)
    assert np.abs(gm_off).max() > 1e-3 and np.abs(gs_off).max() > 1e-3
    # matches the hand formula numerically
    np.testing.assert_allclose(gm_off, np.linalg.solve(sigma, D.sum(axis=1) - N * (mu + 0.3)),
                               rtol=1e-10)


def test_gaussian_mle_maximises(gauss):
    """The stationary point is a maximum: perturbing μ̂ or Σ̂ lowers the likelihood."""
    D = _data(5)
    N = D.shape[1]
    mu = D.mean(axis=1)
    sigma = (D - mu[:, None]) @ (D - mu[:, None]).T / N
    f = mdiff.function(LOGLIK, GAUSS_SYMBOLS)
    best = f(D=D, m=mu, S=sigma)
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = rng.standard_normal(3) * 0.1
        assert f(D=D, m=mu + d, S=sigma) < best
        E = rng.standard_normal((3, 3)) * 0.05
        assert f(D=D, m=mu, S=sigma + E @ E.T + 0.01 * np.eye(3)) < best


# --- MLP: symbolic backpropagation vs numpy backpropagation ---------------------------------

ACTIVATIONS = {
    "tanh": (np.tanh, lambda y: 1 - y**2),
    "sigmoid": (expit, lambda y: y * (1 - y)),
}


def mlp_let(layers: int, act: str) -> str:
    parts, inp = [], "x"
    for i in range(1, layers + 1):
        parts.append(f"y{i} = {act}(W{i}*{inp} + b{i})")
        inp = f"y{i}"
    return "; ".join(parts) + f"; 1/2*norm2(y{layers} - y)^2"


def mlp_nested(layers: int, act: str) -> str:
    inner = "x"
    for i in range(1, layers + 1):
        inner = f"{act}(W{i}*{inner} + b{i})"
    return f"1/2*norm2({inner} - y)^2"


def backprop(Ws, bs, x, y, act):
    """Hand-written backpropagation: e_i = error at layer i, dW_i = e_i input_iᵀ, db_i = e_i."""
    phi, dphi = ACTIVATIONS[act]
    outs = [x]
    for W, b in zip(Ws, bs):
        outs.append(phi(W @ outs[-1] + b))
    grads = {}
    e = (outs[-1] - y) * dphi(outs[-1])
    for i in reversed(range(len(Ws))):
        grads[f"W{i + 1}"] = np.outer(e, outs[i])
        grads[f"b{i + 1}"] = e
        if i:
            e = (Ws[i].T @ e) * dphi(outs[i])
    loss = 0.5 * np.sum((outs[-1] - y) ** 2)
    return loss, grads


WIDTHS = {2: [4, 5, 3], 3: [4, 5, 3, 2]}


def mlp_values(layers, rng):
    w = WIDTHS[layers]
    Ws = [rng.standard_normal((w[i + 1], w[i])) for i in range(layers)]
    bs = [rng.standard_normal(w[i + 1]) for i in range(layers)]
    x, y = rng.standard_normal(w[0]), rng.standard_normal(w[-1])
    values = {"x": x, "y": y}
    values.update({f"W{i + 1}": W for i, W in enumerate(Ws)})
    values.update({f"b{i + 1}": b for i, b in enumerate(bs)})
    return Ws, bs, x, y, values


@pytest.mark.parametrize("form", ["let", "nested"])
@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
@pytest.mark.parametrize("layers", [2, 3])
def test_mlp_gradients_equal_backprop(layers, act, form):
    text = (mlp_let if form == "let" else mlp_nested)(layers, act)
    names = [f"{k}{i}" for i in range(1, layers + 1) for k in "Wb"]
    grads = mdiff.gradients(text, wrt=names)
    assert set(grads) == set(names)
    rng = np.random.default_rng(10 * layers + len(act))
    for _ in range(2):
        Ws, bs, x, y, values = mlp_values(layers, rng)
        loss, want = backprop(Ws, bs, x, y, act)
        assert np.isclose(mdiff.function(text)(**values), loss, rtol=1e-12)
        for name in names:
            got = grads[name].function()(**values)
            assert got.shape == want[name].shape, name
            np.testing.assert_allclose(got, want[name], rtol=1e-10, atol=1e-13,
                                       err_msg=f"{name} of {text}")
    # the results are correct by finite differences too
    for name in ("W1", f"b{layers}"):
        assert grads[name].check(seed=0).ok


def test_mlp_let_result_is_linear_in_depth():
    """Backward sweep keeps named intermediates: the result does not blow up with depth."""
    from mdiff.core.expr import count_nodes
    sizes, texts = [], []
    for layers in (2, 4, 8):
        r = mdiff.gradients(mlp_let(layers, "tanh"), wrt=["W1"])["W1"]
        sizes.append(count_nodes(r.expr))
        texts.append(len(str(r)))
    # linear growth: doubling the depth at most roughly doubles the DAG and the text
    assert sizes[2] <= 3 * sizes[1] and sizes[1] <= 3 * sizes[0], sizes
    assert texts[2] <= 3 * texts[1] and texts[1] <= 3 * texts[0], texts


def test_mlp_backprop_form_of_the_article():
    """∂j/∂W_i = e_i (input of layer i)' with e_2 = (y2 - y) ⊙ φ'(z2): as mdiff text."""
    text = mlp_let(2, "tanh")
    g = mdiff.gradients(text, wrt=["W1", "W2", "b2"])
    e2 = "((y2 - y) .* (1 - y2.^2))"
    e1 = f"((W2'*{e2}) .* (1 - y1.^2))"
    lets = "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); "
    assert mdiff.against(g["b2"], lets + e2).equal
    assert mdiff.against(g["W2"], lets + f"{e2}*y1'").equal
    assert mdiff.against(g["W1"], lets + f"{e1}*x'").equal


BATCH = ("Y1 = tanh(W1*X + b1*vector(1)'); Y2 = tanh(W2*Y1 + b2*vector(1)'); "
         "1/2*norm2(Y2 - Y)^2")
BATCH_SYMBOLS = {"X": "matrix(d,N)", "b1": "vector(h)", "b2": "vector(k)"}


def test_mlp_batch_with_broadcast_biases():
    grads = mdiff.gradients(BATCH, wrt=["W1", "b1", "W2", "b2"], symbols=BATCH_SYMBOLS)
    for name, r in grads.items():
        for seed in (0, 1):
            report = r.check(seed=seed)
            assert report.ok and report.max_rel_error < 1e-6, (name, str(report))
    rng = np.random.default_rng(3)
    d, h, k, N = 4, 5, 3, 6
    X, Y = rng.standard_normal((d, N)), rng.standard_normal((k, N))
    W1, W2 = rng.standard_normal((h, d)), rng.standard_normal((k, h))
    b1, b2 = rng.standard_normal(h), rng.standard_normal(k)
    Y1 = np.tanh(W1 @ X + b1[:, None])
    Y2 = np.tanh(W2 @ Y1 + b2[:, None])
    E2 = (Y2 - Y) * (1 - Y2**2)
    E1 = (W2.T @ E2) * (1 - Y1**2)
    want = {"W1": E1 @ X.T, "b1": E1.sum(axis=1), "W2": E2 @ Y1.T, "b2": E2.sum(axis=1)}
    values = dict(X=X, Y=Y, W1=W1, W2=W2, b1=b1, b2=b2)
    for name, r in grads.items():
        got = r.function()(**values)
        assert got.shape == want[name].shape, name
        np.testing.assert_allclose(got, want[name], rtol=1e-10, atol=1e-13)
    # the batch loss is the sum of the per-sample losses
    total = mdiff.function(BATCH, BATCH_SYMBOLS)(**values)
    per = sum(backprop([W1, W2], [b1, b2], X[:, j], Y[:, j], "tanh")[0] for j in range(N))
    assert np.isclose(total, per, rtol=1e-12)
