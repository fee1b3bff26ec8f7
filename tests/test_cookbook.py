"""The derivative table (tests/derivative_cases.py): every case against central finite
differences at two seeds, against its textbook formula, and — for Jacobians with a
known Kronecker form — against a numpy reference in DESIGN §3's layout."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

import mdiff
from mdiff.numeric.check import fd_check

from derivative_cases import CASES, Case
from mdiff.core.dims import Dim

SEEDS = (0, 1)
TOLERANCE = 1e-6


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


@lru_cache(maxsize=None)
def _derivative(index: int):
    case = CASES[index]
    return mdiff.diff(case.text, wrt=case.wrt, symbols=case.symbols)


def derivative(case: Case):
    return _derivative(CASES.index(case))


# --- sample values for numpy comparisons ------------------------------------------------

SIZES = {"n": 3, "m": 4, "p": 2, "q": 5}


def _size(d) -> int:
    d = Dim.of(d)
    return int(d.xreplace({s: SIZES.get(s.name, 3) for s in d.free_symbols}))


def random_values(variables: dict, rng) -> dict:
    """Values respecting declarations (DESIGN §3 layout: vectors 1-D, scalars floats)."""
    out = {}
    for name, v in variables.items():
        r, c = (_size(d) for d in v.shape)
        props = v.props
        if v.is_scalar:
            out[name] = float(rng.uniform(0.5, 1.5))
            continue
        if "spd" in props:
            a = rng.standard_normal((r, r))
            x = a @ a.T / r + np.eye(r)
        elif "diagonal" in props:
            x = np.diag(rng.uniform(0.5, 1.5, r))
        elif "positive" in props:
            x = rng.uniform(0.5, 1.5, (r, c))
        else:
            x = rng.standard_normal((r, c))
            if "symmetric" in props:
                x = (x + x.T) / 2
        out[name] = x[:, 0].copy() if v.is_vector else x
    return out


# --- the table itself ---------------------------------------------------------------------

def test_table_is_large_and_cited():
    assert len(CASES) >= 70
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate cases"
    cookbook = [c for c in CASES if c.source.startswith("CB")]
    assert len(cookbook) >= 50
    assert sum(c.formula is not None for c in CASES) >= 70
    for c in CASES:
        assert c.source and c.text and c.wrt


def test_table_has_every_kind_of_case():
    kinds = {"symmetric": 0, "spd": 0, "diagonal": 0}
    forms = {"gradient": 0, "jacobian": 0, "derivative": 0}
    for i, c in enumerate(CASES):
        for kind in kinds:
            if any(kind in spec for spec in (c.symbols or {}).values()):
                kinds[kind] += 1
        forms[_derivative(i).form] += 1
    assert all(n >= 2 for n in kinds.values()), kinds
    assert forms["gradient"] >= 50 and forms["jacobian"] >= 15 and forms["derivative"] >= 8, forms


# --- every case: finite differences, textbook formula, numpy reference ------------------------

@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_finite_differences(case):
    r = derivative(case)
    for seed in SEEDS:
        report = r.check(seed=seed)
        assert report.ok, f"{case.id} = {r}: {report}"
        assert report.max_rel_error < TOLERANCE, str(report)
        assert report.directions >= 3


@pytest.mark.parametrize("case", [_param(c) for c in CASES if c.formula])
def test_textbook_formula(case):
    r = derivative(case)
    cmp = mdiff.against(r, case.formula)
    assert cmp.equal, f"{case.id}: mdiff {r} vs textbook {case.formula}: {cmp}"
    assert cmp.points >= 5


@pytest.mark.parametrize("case", [_param(c) for c in CASES if c.reference])
def test_reference_jacobian(case):
    """The numeric Jacobian in DESIGN §3's layout equals the closed (Kronecker) form."""
    r = derivative(case)
    rng = np.random.default_rng(7)
    for _ in range(2):
        values = random_values(r.f.variables, rng)
        got = np.asarray(r.function()(**values))
        want = case.reference(values)
        assert got.shape == want.shape, (got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_arc_functions_by_hand():
    """arcsin/arccos derivatives are right at points inside [-1, 1] (what the sampler of
    the bug above misses), against the closed form and own central differences."""
    x = np.array([-0.9, -0.4, 0.05, 0.3, 0.8])
    u = np.array([1.0, -2.0, 0.5, 3.0, -1.5])
    for fn, dfn, np_fn in (("arcsin", lambda t: 1 / np.sqrt(1 - t**2), np.arcsin),
                           ("arccos", lambda t: -1 / np.sqrt(1 - t**2), np.arccos)):
        r = mdiff.diff(f"u'*{fn}(x)", wrt="x")
        got = r.function()(u=u, x=x)
        np.testing.assert_allclose(got, u * dfn(x), rtol=1e-12)
        h = 1e-6
        fd = np.array([(u @ np_fn(x + h * e) - u @ np_fn(x - h * e)) / (2 * h)
                       for e in np.eye(len(x))])
        np.testing.assert_allclose(got, fd, rtol=1e-6)


# --- the checks can fail: negative controls --------------------------------------------------

def test_against_rejects_a_wrong_formula():
    r = mdiff.diff("tr(A*X*B)", wrt="X",
                   symbols={"A": "matrix(n,n)", "X": "matrix(n,n)", "B": "matrix(n,n)"})
    assert mdiff.against(r, "A'*B'").equal
    assert not mdiff.against(r, "B*A").equal          # the transpose: a classic slip
    assert not mdiff.against(r, "2*A'*B'").equal


def test_finite_differences_reject_a_wrong_jacobian():
    p = mdiff.parse("x'*B*x")
    x = p.variables["x"]
    wrong = mdiff.parse("(2*B*x)'", p.symbols()).expr     # (B + B')x is right
    right = mdiff.parse("((B + B')*x)'", p.symbols()).expr
    assert fd_check(p.expr, x, right, p.variables, seed=0).ok
    report = fd_check(p.expr, x, wrong, p.variables, seed=0)
    assert not report.ok and report.max_rel_error > 1e-3


def test_finite_differences_resolve_a_small_slope_on_a_large_value():
    """Round-off of a large value (eps·|f|/h) swamps the smallest step; the check then
    tries larger fourth-order steps, which a right derivative passes (found by CI's
    property run: a constant of 1e7 beside a slope of 0.5)."""
    p = mdiff.parse("x: vector(n); tanh(sum(x)) + 2^20")
    assert mdiff.diff(p, wrt="x").check(seed=0).ok


@pytest.mark.parametrize("off", ["1.0001*", "1.01*", "2*"])
def test_finite_differences_on_a_large_value_still_reject_a_wrong_jacobian(off):
    p = mdiff.parse("x: vector(n); tanh(sum(x)) + 2^20")
    x = p.variables["x"]
    wrong = mdiff.parse(off + "(1 - tanh(sum(x))^2)*vector(1, n)'", p.symbols()).expr
    assert not fd_check(p.expr, x, wrong, p.variables, seed=0).ok


def test_check_takes_dimension_sizes_by_name():
    r = mdiff.diff("X: matrix(n,m); sum(X)", wrt="X")
    report = r.check(dims={"n": 1, "m": 3})
    assert report.ok and {str(d): size for d, size in report.dims.items()} == {"n": 1, "m": 3}
    with pytest.raises(mdiff.EvaluationError, match="'k', which is not a dimension here"):
        r.check(dims={"k": 2})


# --- conventions for structured variables (DESIGN §3) -------------------------------------------

SYM_TEXTS = ["tr(A*X)", "tr(A*X*B*X)", "x'*X*x", "logdet(X)", "tr(inv(X)*A)",
             "norm2(A*X - B)^2", "sum(exp(X))"]


@pytest.mark.parametrize("text", SYM_TEXTS)
@pytest.mark.parametrize("kind", ["symmetric", "spd"])
def test_symmetric_gradient_is_sym_of_unconstrained(text, kind):
    sym = mdiff.diff(text, wrt="X", symbols={"X": f"matrix(n,n) {kind}"})
    gen = mdiff.diff(text, wrt="X", symbols={"X": "matrix(n,n)"})
    rng = np.random.default_rng(3)
    values = random_values(sym.f.variables, rng)         # X symmetric (spd)
    gs = sym.function()(**values)
    g = gen.function()(**values)
    np.testing.assert_allclose(gs, (g + g.T) / 2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gs, gs.T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("text", ["tr(A*L)", "x'*L*x", "norm2(A*L - B)^2", "sum(exp(L))"])
def test_diagonal_gradient_is_diag_of_unconstrained(text):
    dia = mdiff.diff(text, wrt="L", symbols={"L": "matrix(n,n) diagonal"})
    gen = mdiff.diff(text, wrt="L", symbols={"L": "matrix(n,n)"})
    values = random_values(dia.f.variables, np.random.default_rng(4))
    gd = dia.function()(**values)
    g = gen.function()(**values)
    np.testing.assert_allclose(gd, np.diag(np.diag(g)), rtol=1e-10, atol=1e-12)
    assert dia.check(seed=0).ok


def test_symmetric_jacobian_is_projected():
    """Jacobian wrt a symmetric X is J·P with P = (I + K)/2 (DESIGN §3)."""
    sym = mdiff.diff("A*X", wrt="X", symbols={"X": "matrix(3,3) symmetric", "A": "matrix(2,3)"})
    values = random_values(sym.f.variables, np.random.default_rng(5))
    from derivative_cases import commutation
    P = (np.eye(9) + commutation(3, 3)) / 2
    want = np.kron(np.eye(3), values["A"]) @ P
    np.testing.assert_allclose(sym.function()(**values), want, rtol=1e-12)
