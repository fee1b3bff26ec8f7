"""Checks for users' own test suites: is a hand-written gradient right?

    from mdiff.testing import assert_gradient

    def my_grad(A, x):          # the gradient you wrote by hand
        return (A + A.T) @ x

    def test_my_grad():
        assert_gradient(my_grad, "x'*A*x", wrt="x")

Each check evaluates mdiff's symbolic derivative (itself verified against central
differences) and the user's function at several random domain-respecting points and
raises ``AssertionError`` with the point, the largest difference and where it is.
"""

from __future__ import annotations

import inspect

import numpy as np

from .api import _parsed, diff, hessian
from .numeric.check import sample_point

__all__ = ["assert_gradient", "assert_jacobian", "assert_hessian"]


def _user_values(parsed, point) -> dict:
    out = {}
    for name, v in point.values.items():
        node = parsed.variables[name]
        out[name] = float(v[0, 0]) if node.is_scalar else v[:, 0].copy() if node.is_vector else v.copy()
    return out


def _call(fn, values: dict, dims: dict):
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return fn(**values, **dims)
    kwargs = {k: v for k, v in {**dims, **values}.items() if k in params}
    return fn(**kwargs)


def _compare(fn, derivative, what: str, points: int, seed: int, rtol: float, atol: float,
             layout: str = "vec"):
    parsed = derivative.f
    ref_fn = derivative.function(layout=layout)
    rng = np.random.default_rng(seed)
    for k in range(points):
        point = sample_point(parsed.variables, [parsed.expr, derivative.expr], rng)
        values = _user_values(parsed, point)
        dims = {str(s): n for s, n in point.dims.items()}
        want = np.asarray(ref_fn(**values, **dims), dtype=float)
        got = np.asarray(_call(fn, values, dims), dtype=float)
        if got.shape != want.shape:
            if got.size == want.size:
                got = got.reshape(want.shape)
            else:
                raise AssertionError(
                    f"{what}: your function returned shape {got.shape}, mdiff's {derivative.form} "
                    f"has shape {want.shape} ({derivative.convention})")
        diff_ = np.abs(got - want)
        tol = atol + rtol * np.abs(want)
        if not np.all(diff_ <= tol) or not np.all(np.isfinite(got)):
            idx = np.unravel_index(int(np.nanargmax(diff_ - tol)), diff_.shape) if diff_.size else ()
            shown = ", ".join(f"{n}={np.array2string(np.asarray(v), precision=4, threshold=12)}"
                              for n, v in values.items())
            raise AssertionError(
                f"{what} differs from mdiff's at point {k + 1} of {points} (seed {seed}):\n"
                f"  largest difference {float(np.nanmax(diff_)):.3g} at index {tuple(map(int, idx))}: "
                f"yours {got[idx] if got.ndim else float(got):.6g}, "
                f"mdiff {want[idx] if want.ndim else float(want):.6g}\n"
                f"  mdiff's {derivative.form}: {derivative}\n"
                f"  point: {shown}")


def assert_gradient(fn, expr, wrt: str, symbols: dict | None = None, points: int = 3,
                    seed: int = 0, rtol: float = 1e-7, atol: float = 1e-9):
    """``fn(**values)`` must return the gradient of scalar ``expr`` wrt ``wrt`` (the
    shape of the variable, DESIGN §3) at every sampled point."""
    d = diff(_parsed(expr, symbols), wrt)
    _compare(fn, d, f"gradient of {expr!s} wrt {wrt}", points, seed, rtol, atol)


def assert_jacobian(fn, expr, wrt: str, symbols: dict | None = None, points: int = 3,
                    seed: int = 0, rtol: float = 1e-7, atol: float = 1e-9,
                    layout: str = "vec"):
    """``fn(**values)`` must return d vec(F)/d vec(X)' (``layout="tensor"``: an array of
    shape F.shape + X.shape)."""
    d = diff(_parsed(expr, symbols), wrt)
    _compare(fn, d, f"Jacobian of {expr!s} wrt {wrt}", points, seed, rtol, atol, layout)


def assert_hessian(fn, expr, wrt: str, symbols: dict | None = None, points: int = 3,
                   seed: int = 0, rtol: float = 1e-7, atol: float = 1e-9,
                   layout: str = "vec"):
    """``fn(**values)`` must return the Hessian d vec(grad f)/d vec(X)'."""
    d = hessian(_parsed(expr, symbols), wrt)
    _compare(fn, d, f"Hessian of {expr!s} wrt {wrt}", points, seed, rtol, atol, layout)
