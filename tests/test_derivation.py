"""Issue 22: derivations a student can follow — the differential of the whole function,
rearranged by named identities into df = tr(G' dX), the identification of G — for
gradients, Hessians and solutions; every step that states an identity is evaluated on
both sides at random points, every equation at the solution."""

import numpy as np
import pytest

import mdiff
from mdiff.core import expr as E
from mdiff.numeric.check import sample_point
from mdiff.numeric.evaluate import Env, evaluate
from test_latex import assert_renders, katex  # noqa: F401  (the KaTeX fixture)

GAUSSIAN = ("D: matrix(p,N); m: vector(p); S: matrix(p,p) spd; "
            "-N/2*logdet(S) - 1/2*tr(inv(S)*(D - m*vector(1)')*(D - m*vector(1)')')")
MLP = "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2"
LOGISTIC = "sum(softplus(X*w)) - y'*X*w"


def _as_variables(e: E.Expr) -> E.Expr:
    """Differentials dX (placeholders) as variables named dX."""
    marks = {n: E.var(f"d{n.data}", n.shape) for n in E.postorder(e) if n.op == "delta"}
    return E.substitute(e, marks)


def _values_equal(lhs, rhs, seed):
    lhs, rhs = _as_variables(lhs), _as_variables(rhs)
    variables = {**E.free_vars(lhs), **E.free_vars(rhs)}
    point = sample_point(variables, [lhs, rhs], np.random.default_rng(seed))
    env = Env(point.values, variables, point.dims)
    a, b = evaluate(lhs, env), evaluate(rhs, env)
    return np.allclose(a, b, rtol=1e-7, atol=1e-9 * (1 + np.abs(a).max())), (a, b)


def _vanishes(expr, var, solution, seed):
    at = E.substitute(expr, {var: solution})
    variables = E.free_vars(at)
    point = sample_point(variables, [at], np.random.default_rng(seed))
    value = evaluate(at, Env(point.values, variables, point.dims))
    scale = 1 + max(np.abs(v).max() for v in point.values.values())
    return np.abs(value).max() <= 1e-7 * scale ** 4


def _differential_holds(F, dF, var, seed):
    """dF (placeholder dX) against central differences of F in the direction dX."""
    d = E.var(f"d{var.name}", var.shape)
    lin = _as_variables(dF)
    variables = {**E.free_vars(F), **E.free_vars(lin), d.name: d}
    point = sample_point(variables, [F, lin], np.random.default_rng(seed))
    env = Env(point.values, variables, point.dims)
    h = 1e-5 * (1 + np.abs(env.arrays[var.name]).max())

    def at(t):
        values = dict(point.values)
        values[var.name] = values[var.name] + t * values[d.name]
        return evaluate(F, Env(values, variables, point.dims))
    fd = (at(h) - at(-h)) / (2 * h)
    got = evaluate(lin, env)
    return np.allclose(got, fd, rtol=1e-5, atol=1e-6 * (1 + np.abs(fd).max())), (got, fd)


def _verify(steps):
    """Every claim of every step holds; returns how many were checked."""
    checked = 0
    for step in steps:
        if step.differential:
            ok, values = _differential_holds(*step.differential, seed=0)
            assert ok, f"{step}: {values}"
            checked += 1
        if step.sides:
            for seed in range(2):
                ok, values = _values_equal(*step.sides, seed)
                assert ok, f"{step}: {values}"
            checked += 1
        if step.vanishes:
            assert _vanishes(*step.vanishes, seed=0), str(step)
            checked += 1
    return checked


PROBLEMS = [
    (GAUSSIAN, "S"), (GAUSSIAN, "m"), (MLP, "W1"), (MLP, "W2"), (MLP, "b1"),
    ("tr(A*X'*B*X)", "X"), ("norm2(A*x - b)^2", "x"), (LOGISTIC, "w"),
    ("h = sigmoid(W*x); sum(h .* log(h))", "W"), ("x'*A*x/(x'*x)", "x"),
    ("S: matrix(n,n) symmetric; tr(S*A*S)", "S"), ("norm2([A*x; B*x] - y)^2", "x"),
    ("i: index(n); x[i]^2 + sum(exp(x))", "x"), ("logdet(X'*X)", "X"),
]


@pytest.mark.parametrize("text, wrt", PROBLEMS)
def test_gradient_steps_hold_and_end_in_the_result(text, wrt):
    r = mdiff.diff(text, wrt)
    steps = r.steps
    assert steps[-1].title == "result" and steps[-1].sides
    assert _verify(steps) >= 2
    assert all("tr(eye(" not in s.text for s in steps)
    assert not any(";" in s.text.split(" = ", 1)[-1] for s in steps if s.title == "result")


def test_the_gaussian_and_the_mlp_as_the_article_derives_them():
    gaussian = mdiff.diff(GAUSSIAN, "S").steps
    assert len(gaussian) <= 12
    assert [s.title.split(" (")[0] for s in gaussian] == [
        "where", "function", "differential", "rearranged", "identification", "structure",
        "simplified", "result"]
    assert str(gaussian[-1]) == "result: df/dS = 1/2*inv(S)*t1*t1'*inv(S) - 1/2*N*inv(S)"
    mlp = mdiff.diff(MLP, "W1").steps
    assert len(mlp) <= 16
    texts = [str(s) for s in mlp]
    assert texts[-1] == "result: df/dW1 = e1*x'"
    assert any("e2 = (1 - y2.^2) .* (y2 - y)" in t for t in texts)
    assert any("e1 = W2'*e2 .* (1 - y1.^2)" in t for t in texts)


@pytest.mark.parametrize("text, wrt", [("x'*A*x", "x"), (LOGISTIC, "w"),
                                       ("tr(X'*A*X)", "X"), (GAUSSIAN, "m")])
def test_hessian_steps(text, wrt):
    steps = mdiff.hessian(text, wrt).steps
    titles = [s.title for s in steps]
    assert "second differential" in titles and titles[-1] == "result"
    assert _verify(steps) >= 1


@pytest.mark.parametrize("wrt", ["m", "S", ["m", "S"]])
def test_solve_steps_vanish_at_the_solution(wrt):
    steps = mdiff.solve(GAUSSIAN, wrt).steps
    assert any(s.title == "stationary" for s in steps)
    assert _verify(steps) >= 3


def test_solve_steps_of_least_squares():
    steps = mdiff.solve("norm2(A*x - b)^2", "x").steps
    assert [s.title for s in steps][:3] == ["function", "stationary", "linear in x"]
    assert _verify(steps) >= 3


def test_cli_steps(capsys):
    from mdiff.cli import run
    assert run([GAUSSIAN, "wrt", "S", "--steps"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "result: df/dS = 1/2*inv(S)*t1*t1'*inv(S) - 1/2*N*inv(S)"
    assert run(["x'*A*x", "wrt", "x", "--hessian", "--steps", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert tex.startswith("\\begin{aligned}") and "\\end{aligned}" in tex
    assert run(["solve", GAUSSIAN, "wrt", "S", "--steps"]) == 0
    assert "stationary: ∇f = " in capsys.readouterr().out


@pytest.mark.parametrize("make", [lambda: mdiff.diff(GAUSSIAN, "S").steps_latex(),
                                  lambda: mdiff.diff(MLP, "W1").steps_latex(),
                                  lambda: mdiff.hessian(LOGISTIC, "w").steps_latex(),
                                  lambda: mdiff.diff("A*X*B", "X").steps_latex(),
                                  lambda: mdiff.diff("tr(A*X'*B*X)", "X").steps_latex()])
def test_steps_latex_is_one_aligned_environment_katex_renders(katex, make):  # noqa: F811
    tex = make()
    assert tex.startswith("\\begin{aligned}") and tex.count("\\begin{aligned}") == 1
    assert_renders(katex, tex)


def test_jacobian_steps():
    assert _verify(mdiff.diff("tanh(A*X*B)", wrt="X").steps) == 1
    steps = [str(s) for s in mdiff.diff("A*X*B", wrt="X").steps]
    assert "differential: dF = A*dX*B" in steps
    assert steps[-1] == "result: J = B' ⊗ A"


def _deep(layers: int) -> str:
    lets = "; ".join(f"h{i} = tanh(W{i}*h{i - 1} + b{i})" for i in range(1, layers + 1))
    return f"{lets}; 1/2*norm2(h{layers} - y)^2".replace("h0", "x")


def test_a_deep_network_derivation_grows_linearly():
    """Each layer adds its definition, its differential and its chain-rule step; the
    result stays e1*x' (the article's form), whatever the depth."""
    small, large = (mdiff.diff(_deep(k), "W1").steps for k in (8, 64))
    assert str(large[-1]) == "result: df/dW1 = e1*x'"
    assert len(large) - len(small) <= 4 * (64 - 8)
    assert _verify(mdiff.diff(_deep(4), "W1").steps) >= 6
