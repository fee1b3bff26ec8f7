"""Spectral functions (issue 17): eigenvalues, eigenvectors, singular values and vectors,
the nuclear and spectral norms.  The derivative cases (tests/derivative_cases.py) check
first derivatives by finite differences; this file checks Hessians, the folds, the sign
convention, read-back, and the documented errors where no derivative exists."""

from __future__ import annotations

import numpy as np
import pytest

import mdiff
from mdiff.core import ops


def _generic(rng, m, n):
    return rng.normal(size=(m, n))


# --- values ----------------------------------------------------------------------------

def test_values_follow_numpy_and_the_sign_convention():
    rng = np.random.default_rng(0)
    X = _generic(rng, 4, 4)
    S = (X + X.T) / 2
    assert np.allclose(mdiff.function("eigvals(X)")(X=X), np.linalg.eigvalsh(S))
    V = mdiff.function("eigvecs(X)")(X=X)
    assert np.allclose(V.T @ V, np.eye(4)) and np.allclose(S @ V, V @ np.diag(np.linalg.eigvalsh(S)))
    big = V[np.argmax(np.abs(V), axis=0), np.arange(4)]
    assert np.all(big > 0), "each eigenvector's largest entry is positive"
    T = _generic(rng, 5, 3)
    U, s, Vt = (mdiff.function(f"{f}(X)")(X=T) for f in ("svdu", "svdvals", "svdv"))
    assert U.shape == (5, 3) and s.shape == (3,) and Vt.shape == (3, 3)
    assert np.allclose(U @ np.diag(s) @ Vt.T, T) and np.all(np.diff(s) < 0)
    assert np.all(U[np.argmax(np.abs(U), axis=0), np.arange(3)] > 0)
    assert np.isclose(mdiff.function("normnuc(X)")(X=T), s.sum())
    assert np.isclose(mdiff.function("normspec(X)")(X=T), s[0])
    assert np.allclose(mdiff.function("svdu1(X)")(X=T), U[:, 0])


def test_generated_code_agrees_with_the_interpreter():
    rng = np.random.default_rng(1)
    X = _generic(rng, 5, 3)
    for text in ("normnuc(X)", "normspec(X)", "a'*svdvals(X)"):
        r = mdiff.diff(text, wrt="X", symbols={"a": "vector(3)", "X": "matrix(5,3)"})
        vals = {"X": X, "a": rng.normal(size=3)}
        assert np.allclose(r.function(backend="numpy")(**vals), r.function()(**vals)), text
    S = _generic(rng, 4, 4)
    r = mdiff.diff("a'*eigvals(X)", wrt="X", symbols={"a": "vector(n)"}, order=2)
    a = rng.normal(size=4)
    assert np.allclose(r.function(backend="numpy")(X=S, a=a), r.function()(X=S, a=a))


# --- closed forms and folds --------------------------------------------------------------

@pytest.mark.parametrize("text,wrt,symbols,printed", [
    ("a'*eigvals(X)", "X", {"a": "vector(n)"}, "eigvecs(X)*diag(a)*eigvecs(X)'"),
    ("normnuc(X)", "X", None, "svdu(X)*svdv(X)'"),
    ("normspec(X)", "X", None, "svdu1(X)*svdv1(X)'"),
    ("sum(eigvals(X))", "X", None, "eye(n)"),
    ("sum(log(eigvals(S)))", "S", {"S": "matrix(n,n) spd"}, "inv(S)"),
    ("norm2(svdvals(X))", "X", None, "X/norm2(X)"),
])
def test_the_issue_examples_print_closed_forms(text, wrt, symbols, printed):
    r = mdiff.diff(text, wrt=wrt, symbols=symbols)
    assert str(r) == printed
    assert r.check().ok


def test_reductions_fold_when_built():
    def same(a, b, symbols=None):
        return mdiff.parse(a, symbols).expr is mdiff.parse(b, symbols).expr
    assert same("sum(eigvals(X))", "tr(X)")
    assert same("sum(svdvals(X))", "normnuc(X)")
    assert same("norm2(svdvals(X))", "norm2(X)")
    assert same("sum(log(eigvals(S)))", "logdet(S)", {"S": "matrix(n,n) spd"})
    # not for a merely symmetric S: two negative eigenvalues have no log, logdet would
    assert not same("sum(log(eigvals(S)))", "logdet(S)", {"S": "matrix(n,n) symmetric"})
    assert np.isnan(mdiff.function("sum(log(eigvals(S)))")(S=np.diag([-1.0, -2.0, 3.0])))
    assert same("eigvals(X')", "eigvals(X)") and same("normspec(X')", "normspec(X)")
    assert same("normnuc(x)", "norm2(x)")


def test_orthonormal_columns_simplify():
    r = mdiff.diff("tr(A*svdu(X)'*svdu(X))", wrt="A", symbols={"X": "matrix(5,3)"})
    assert str(r) == "eye(3)"


# --- every order -------------------------------------------------------------------------

@pytest.mark.parametrize("text,symbols", [
    ("a'*eigvals(X)", {"a": "vector(n)"}),
    ("w'*eigvals(S)", {"w": "vector(n)", "S": "matrix(n,n) symmetric"}),
    ("logsumexp(eigvals(S))", {"S": "matrix(n,n) symmetric"}),
    ("normnuc(X)", {"X": "matrix(5,3)"}),
    ("normnuc(X)", {"X": "matrix(3,4)"}),
    ("normspec(X)", {"X": "matrix(4,3)"}),
    ("a'*svdvals(X)", {"a": "vector(3)", "X": "matrix(3,5)"}),
])
def test_hessians_check_numerically(text, symbols):
    r = mdiff.hessian(text, wrt="X" if "X" in text else "S", symbols=symbols)
    for seed in (0, 1):
        assert r.check(seed=seed).ok, str(r)


def test_third_derivative_through_the_gap_matrix():
    r = mdiff.diff("a'*eigvals(X)", wrt="X", symbols={"a": "vector(3)", "X": "matrix(3,3)"},
                   order=3)
    assert r.check().ok


@pytest.mark.parametrize("text,symbols,order", [
    ("a'*eigvals(X)", {"a": "vector(n)"}, 1),
    ("a'*eigvals(X)", {"a": "vector(n)"}, 2),
    ("normnuc(X)", {"X": "matrix(m,n)"}, 1),
    ("normnuc(X)", {"X": "matrix(m,n)"}, 2),
    ("svdvals(X)", {"X": "matrix(m,n)"}, 1),
    ("tr(A'*svdu(X))", {"X": "matrix(m,n)"}, 1),
])
def test_results_read_back(text, symbols, order):
    """The printed result (with min(m, n) sizes and the operators gapinv, svdu1, ...)
    parses back to the same node or an equal value."""
    from mdiff.numeric.check import compare_exprs
    r = mdiff.diff(text, wrt="X", symbols=symbols, order=order)
    q = mdiff.parse(str(r), r.f.symbols(), shape=r.expr.shape)
    assert q.expr.shape == r.expr.shape
    assert q.expr is r.expr or compare_exprs(r.expr, q.expr, {**q.variables, **r.f.variables},
                                             points=2, domain=r.f.expr).equal, str(r)


def test_sign_convention_agrees_between_interpreter_and_code_at_ties():
    """At X = [[0, 1], [1, 0]] each eigenvector's entries tie in magnitude: both take
    the first largest entry positive (numpy's argmax)."""
    X, x, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 2.0]), np.array([3.0, -1.0])
    r = mdiff.diff("x'*eigvecs(X)*y", wrt="X")
    assert np.allclose(r.function()(X=X, x=x, y=y), r.function(backend="numpy")(X=X, x=x, y=y))
    code = mdiff.diff("tr(A*eigvecs(X))", wrt="A").function(backend="numpy")
    assert np.allclose(mdiff.function("eigvecs(X)")(X=X), code(X=X, A=np.eye(2)).T)


@pytest.mark.parametrize("text,symbols", [
    ("normnuc(X/100)", None), ("normnuc(0.01*X)", None), ("normnuc(X)", {"X": "matrix(20,20)"}),
])
def test_the_checker_finds_points_at_any_scale_and_size(text, symbols):
    """The spectral conditioning the sampler applies is scale-free (gaps relative to the
    largest value), so small or large matrices still have points."""
    assert mdiff.diff(text, wrt="X", symbols=symbols).check().ok


# --- where no derivative exists ------------------------------------------------------------

def test_repeated_eigenvalues_are_a_named_error_not_a_basis():
    r = mdiff.diff("a'*eigvals(X)", wrt="X", symbols={"a": "vector(n)"})
    X = np.diag([1.0, 2.0, 2.0])
    a = np.array([1.0, 2.0, 3.0])
    assert np.allclose(mdiff.function("eigvals(X)")(X=X), [1, 2, 2])   # values exist
    with pytest.raises(mdiff.EvaluationError, match="repeated eigenvalues"):
        r.function()(X=X, a=a)
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        r.function(backend="numpy")(X=X, a=a)


def test_rank_deficiency_and_repeated_singular_values_are_named_errors():
    rng = np.random.default_rng(2)
    low = rng.normal(size=(4, 2)) @ rng.normal(size=(2, 3))     # rank 2 of 3
    r = mdiff.diff("normnuc(X)", wrt="X", symbols={"X": "matrix(4,3)"})
    with pytest.raises(mdiff.EvaluationError, match="rank deficiency"):
        r.function()(X=low)
    with pytest.raises(ValueError, match="rank deficiency"):
        r.function(backend="numpy")(X=low)
    with pytest.raises(mdiff.EvaluationError, match="repeated singular values"):
        mdiff.diff("normspec(X)", wrt="X").function()(X=np.eye(3))
    # the largest singular value simple: normspec's gradient exists at a rank-1 X
    one = np.outer([1.0, 2.0, 0.5], [0.3, -1.0, 2.0])
    g = mdiff.diff("normspec(X)", wrt="X").function()(X=one)
    assert np.allclose(g, one / np.linalg.norm(one, 2))


def test_the_gap_tolerance_is_documented():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"{ops.SPECTRAL_GAP:g}" in readme and "repeated eigenvalues" in readme


# --- other backends ------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["array_api_strict", "jax", "torch"])
def test_spectral_code_runs_where_the_backend_has_the_kernels(backend):
    pytest.importorskip(backend)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 3))
    for text in ("normnuc(X)", "normspec(X)"):
        r = mdiff.diff(text, wrt="X", symbols={"X": "matrix(4,3)"})
        got = np.asarray(r.function(backend=backend)(X=X))
        assert np.allclose(got, r.function()(X=X)), (text, backend)
