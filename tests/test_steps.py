"""Step-by-step derivations read as the seed article does them, in text and LaTeX."""

import pytest

import mdiff
from mdiff.cli import run
from test_latex import assert_renders, katex  # noqa: F401  (the KaTeX fixture)

MLP = "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2"
GAUSS = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); "
         "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))")


def _texts(r):
    return [str(s) for s in r.steps]


def test_mlp_steps_show_backpropagation():
    steps = _texts(mdiff.diff(MLP, wrt="W1"))
    assert steps[0] == "function: y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); f = 1/2*norm2(y2 - y)^2"
    assert "differential: d(y2) = d(W2*y1 + b2) .* (1 - y2.^2)" in steps
    assert "chain rule: G[y1] += W2'*((1 - y2.^2) .* (y2 - y))" in steps
    assert "differential: d(W1*x) = dW1*x" in steps
    assert steps[-1].startswith("result: df/dW1 = ")
    assert any(s.startswith("identification: df = tr(G'*dW1)") for s in steps)


def test_gaussian_steps_use_the_rule_table():
    steps = _texts(mdiff.diff(GAUSS, wrt="S"))
    assert "differential: d(inv(S)) = -inv(S)*dS*inv(S)" in steps
    assert "differential: d(logdet(S)) = tr(inv(S)*dS)" in steps
    assert any(s.startswith("identity: like terms") for s in steps)
    steps_m = _texts(mdiff.diff(GAUSS, wrt="m"))
    assert any("ones times ones" in s for s in steps_m)


def test_jacobian_steps():
    steps = _texts(mdiff.diff("A*X*B", wrt="X"))
    assert "differential: dF = A*dX*B" in steps
    assert steps[-1] == "result: J = B' ⊗ A"


@pytest.mark.parametrize("text,wrt", [(MLP, "W1"), (GAUSS, "S"), (GAUSS, "m"),
                                      ("A*X*B", "X"), ("tr(A*X'*B*X)", "X")])
def test_steps_render_as_latex(katex, text, wrt):  # noqa: F811
    for step in mdiff.diff(text, wrt=wrt).steps:
        assert_renders(katex, step.latex)


def test_cli_steps(capsys):
    assert run([MLP, "wrt", "W1", "--steps"]) == 0
    out = capsys.readouterr().out
    assert "chain rule: G[W1] +=" in out
    with pytest.raises(mdiff.DiffError):
        mdiff.hessian("x'*A*x", wrt="x").steps
