"""What a point is for f: stationary or not, then minimum, maximum, saddle or degenerate
from the Hessian restricted to the variables' structure (symmetric, diagonal, ...):
the second-order test, earned numerically at the data the user gives."""

from __future__ import annotations

import numpy as np

from ..calculus.derivative import derivative
from ..core.expr import Expr
from ..numeric.check import structure_basis
from ..numeric.evaluate import make_function


def _structure_basis(var: Expr, value) -> np.ndarray:
    """Orthonormal columns spanning vec of the values the variable may take (the
    checker's structure basis, normalised)."""
    value = np.asarray(value, dtype=float)
    shape = value.shape if value.ndim == 2 else (value.size, 1)
    cols = [e.reshape(-1, order="F") / np.linalg.norm(e) for e in structure_basis(var, shape)]
    return np.stack(cols, axis=1)


def classify_point(p, parts: list, at: dict) -> str:
    """Classify the point ``at`` (data and every solved variable) from the gradient and
    the Hessian of ``p`` (a parsed function) wrt the solved variables (``parts``: each
    with ``wrt`` and its ``gradient``), restricted to their structure."""
    rel = []
    for s in parts:
        gradient = make_function(s.gradient, p.variables)
        g_star = np.asarray(gradient(**at), dtype=float)
        x = np.asarray(at[s.wrt], dtype=float)
        g_ref = np.asarray(gradient(**{**at, s.wrt: x + (np.abs(x) + 1.0)}), dtype=float)
        if not (np.all(np.isfinite(g_star)) and np.all(np.isfinite(g_ref))):
            return "not stationary"
        scale = max(float(np.max(np.abs(g_ref), initial=0.0)), 1e-300)
        rel.append(float(np.max(np.abs(g_star), initial=0.0)) / scale)
    if max(rel) > 1e-6:
        return "not stationary"
    names = [s.wrt for s in parts]
    h = np.block([[_second(p, a, b, at) for b in names] for a in names])
    from scipy.linalg import block_diag
    q = block_diag(*(_structure_basis(p.variables[n], at[n]) for n in names))
    hr = q.T @ ((h + h.T) / 2) @ q
    if not np.all(np.isfinite(hr)):
        return "not stationary"
    eig = np.linalg.eigvalsh(hr)
    tol = 1e-9 * max(1.0, float(np.max(np.abs(eig), initial=0.0)))
    if np.all(eig > tol):
        return "minimum"
    if np.all(eig < -tol):
        return "maximum"
    if np.any(eig > tol) and np.any(eig < -tol):
        return "saddle"
    return "degenerate"


def _second(p, a: str, b: str, at: dict) -> np.ndarray:
    """The Hessian block d vec(grad_a f)/d vec(b)' at the point."""
    d = derivative(p, [a, b])
    return np.atleast_2d(np.asarray(make_function(d.layout_expr, p.variables)(**at), dtype=float))
