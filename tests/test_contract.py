"""Input and output that never mislead (issue 14): values that do not overflow, tensor
layouts, suggestions of the same meaning, and a CLI that keeps its contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import mdiff
from mdiff.cli import run


# --- values that do not overflow ------------------------------------------------------

def test_log_one_plus_exp_is_softplus_everywhere():
    f = mdiff.function("sum(log(1 + exp(x)))")
    assert f(x=np.array([1000.0])) == pytest.approx(1000.0)
    r = mdiff.diff("log(1 + exp(x'*x))", wrt="x")
    assert str(r) == "2*sigmoid(x'*x)*x"
    g = r.function()(x=np.array([30.0, 0.0]))          # x'*x = 900: exp overflows
    assert np.all(np.isfinite(g)) and g == pytest.approx([60.0, 0.0])
    code_fn = r.function(backend="numpy")
    assert np.all(np.isfinite(code_fn(x=np.array([30.0, 0.0]))))


def test_exp_times_sigmoid_of_the_opposite_is_sigmoid():
    from mdiff.simplify.engine import simplify_fully
    out, names = simplify_fully(mdiff.parse("exp(a)*sigmoid(-a)*x").expr)
    assert str(mdiff.parse("sigmoid(a)*x").expr) == str(out)


# --- k-th derivative layouts (DESIGN §3) ------------------------------------------------

def test_kth_derivative_layouts():
    X = np.random.default_rng(0).normal(size=(3, 2))
    r = mdiff.diff("sum(exp(X))", wrt="X", order=3, symbols={"X": "matrix(3,2)"})
    vec_form = r.function()(X=X)
    tensor = r.function(layout="tensor")(X=X)
    assert vec_form.shape == (6, 6, 6) and tensor.shape == (3, 2, 3, 2, 3, 2)
    e = np.exp(X).reshape(-1, order="F")
    want = np.zeros((6, 6, 6))
    want[np.arange(6), np.arange(6), np.arange(6)] = e
    assert np.allclose(vec_form, want)
    assert np.allclose(tensor, want.reshape((3, 2) * 3, order="F"))
    v = mdiff.diff("sum(exp(x))", wrt="x", order=3, symbols={"x": "vector(3)"})
    assert v.function()(x=np.ones(3)).shape == (3, 3, 3)


# --- suggestions of the same meaning ---------------------------------------------------

@pytest.mark.parametrize("fn, close", [("pinv", "inv"), ("argmax", "matrix"), ("funm", "sum")])
def test_no_suggestion_of_another_meaning(fn, close):
    with pytest.raises(mdiff.UnknownFunction) as info:
        mdiff.parse(f"{fn}(X)")
    msg = info.value.message
    assert "has no" in msg and f"did you mean {close}" not in msg


def test_synonyms_and_typos_are_suggested():
    with pytest.raises(mdiff.UnknownFunction, match="mdiff writes inv"):
        mdiff.parse("inverse(X)")
    with pytest.raises(mdiff.UnknownFunction, match="did you mean sigmoid"):
        mdiff.parse("sigmod(x)")


# --- the CLI's contract ----------------------------------------------------------------

def test_an_expression_starting_with_minus(capsys):
    assert run(["-x'*x", "wrt", "x"]) == 0
    assert capsys.readouterr().out.strip() == "-2*x"


@pytest.mark.parametrize("argv, flag", [
    (["solve", "norm2(A*x - b)^2", "wrt", "x", "--hessian"], "--hessian"),
    (["solve", "norm2(A*x - b)^2", "wrt", "x", "--kron"], "--kron"),
    (["minimize", "x'*x", "wrt", "x", "--hessian"], "--hessian"),
    (["minimize", "x'*x", "wrt", "x", "--latex"], "--latex"),
    (["x'*x", "wrt", "x", "--hessian", "--order", "3"], "--hessian and --order"),
    (["x'*x", "wrt", "x", "--kron", "--latex"], "--kron and --latex"),
    (["x'*x", "wrt", "x", "--data", "d.npz"], "--data"),
    (["x'*x", "wrt", "x", "--seed", "3"], "--seed"),
    (["x'*x", "wrt", "x", "--check", "--seed", "-1"], "--seed must be a non-negative"),
    (["x'*x", "--hessian"], "--hessian"),
    (["x'*x", "--check"], "--check"),
])
def test_a_flag_that_does_not_apply_is_an_error(argv, flag, capsys):
    assert run(argv) == 2
    assert flag in capsys.readouterr().err


def test_solve_latex_check_and_code(capsys):
    assert run(["solve", "norm2(A*x - b)^2", "wrt", "x", "--latex"]) == 0
    assert capsys.readouterr().out.strip().startswith("x = \\left(A^{\\top} A\\right)^{-1}")
    assert run(["solve", "norm2(A*x - b)^2", "wrt", "x", "--check", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "check ok" in out and "seed 2" in out
    assert run(["solve", "norm2(A*x - b)^2", "wrt", "x", "--code"]) == 0
    source = capsys.readouterr().out
    assert "def solve_x(*, A, b" in source
    namespace: dict = {}
    exec(compile(source.split("\n", 1)[1], "<solve>", "exec"), namespace)   # our own code
    rng = np.random.default_rng(0)
    A, b = rng.normal(size=(6, 3)), rng.normal(size=6)
    assert np.allclose(namespace["solve_x"](A=A, b=b), np.linalg.lstsq(A, b, rcond=None)[0])


def test_parse_mode_latex_and_code(capsys):
    assert run(["x'*A*x", "--latex"]) == 0
    assert capsys.readouterr().out.startswith("x^{\\top} A x")
    assert run(["x'*A*x", "--code"]) == 0
    assert "def f(*, x, A" in capsys.readouterr().out


def test_a_contradicting_declaration_is_an_error(capsys):
    assert run(["x'*x", "wrt", "x", "-d", "x: vector(n)", "-d", "x: vector(m)"]) == 2
    assert "DeclarationError" in capsys.readouterr().err
    assert run(["x'*x", "wrt", "x", "-d", "x: vector(n)", "-d", "x: vector(n)"]) == 0


def test_a_closed_pipe_ends_quietly():
    code = ("import sys; sys.argv = ['mdiff', 'tr(A*X)', 'wrt', 'X', '--json', '--code', "
            "'--steps']; from mdiff.cli import main; main()")
    proc = subprocess.run(f"{sys.executable} -c \"{code}\" | head -c 10", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout == '{"input": ' and proc.stderr == ""


# --- kinds the user can see --------------------------------------------------------------

def test_the_cli_announces_a_chosen_kind(capsys):
    assert run(["(y - X*beta)'*(y - X*beta)", "wrt", "beta"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "-2*X'*(y - X*beta)"
    assert captured.err.strip() == "assuming beta: vector(m); declare with -d to change"
    assert run(["(y - X*beta)'*(y - X*beta)", "wrt", "beta", "-d", "beta: vector(m)"]) == 0
    assert capsys.readouterr().err == ""
    assert run(["x'*A*x", "wrt", "x", "--json"]) == 0
    import json
    rec = json.loads(capsys.readouterr().out)
    assert rec["variables"] == {"x": "vector(n)", "A": "matrix(n,n)"} and rec["assumed"] == []


@pytest.mark.parametrize("text", ["commutation(2,3)*vec(X)", "A ⊗ B + x",
                                  "tr(X*Y) + vec(Z)"])
def test_errors_show_no_placeholders(text):
    with pytest.raises(mdiff.ShapeError) as info:
        mdiff.parse(text)
    assert "?" not in str(info.value).split("\n")[0]


def test_a_printed_hessian_can_be_pasted_into_against(capsys):
    for text in ("logdet(X)", "tr(X'*A*X)", "x'*A*x*sum(x)"):
        wrt = "X" if "X" in text else "x"
        h = mdiff.hessian(text, wrt=wrt)
        assert mdiff.against(h, str(h)).equal
        assert run([text, "wrt", wrt, "--hessian", "--against", str(h)]) == 0
    assert "commutation(n, n)" in str(mdiff.hessian("logdet(X)", wrt="X"))


# --- regressions found in review ------------------------------------------------------

def test_order_zero_is_an_error(capsys):
    assert run(["x'*x", "wrt", "x", "--order", "0"]) == 2


def test_several_variables_keep_layout_and_convention(capsys):
    assert run(["x'*X*y", "wrt", "X", "x", "--layout", "numerator"]) == 0
    out = capsys.readouterr().out
    assert "d/dX: y*x'" in out and "d/dx: y'*X'" in out


def test_abbreviated_options_and_expressions_starting_with_d(capsys):
    assert run(["tr(A)", "--decl", "A: matrix(n,n)"]) == 0
    assert "A: matrix(n,n)" in capsys.readouterr().out
    assert run(["x'*x", "wrt", "x", "--agai", "2*x"]) == 0
    capsys.readouterr()
    assert run(["-det(X)", "wrt", "X"]) == 0
    assert capsys.readouterr().out.strip() == "-det(X)*inv(X)'"
    assert run(["x'*x", "-dx: vector(3)", "wrt", "x"]) == 0


@pytest.mark.parametrize("text", ["tr(eye(a*b*c*d*e))", "tr(eye(n^8*n))", "eye(n + 1)",
                                  "duplication(n)", "unvec(x, m, n)", "tr(eye(n*(n + 1)/2))"])
def test_sizes_of_every_form_read(text):
    p = mdiff.parse(text)
    assert mdiff.parse(str(p), p.symbols()).expr is p.expr


def test_a_size_that_is_not_whole_is_an_error():
    with pytest.raises(mdiff.ShapeError, match="whole number"):
        mdiff.parse("vector(1, n/2)")
