"""Numeric extrema: scipy.optimize driven by mdiff's own generated derivatives.

The variables being optimised are packed into one flat vector (each in vec order,
DESIGN §3); the objective and its gradient come from one generated function
(``value_and_grad``: shared work, stable forms); Newton-type methods also get the
exact Hessian, assembled from mdiff's Hessian and mixed second-derivative blocks.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize as sopt

from .errors import DiffError, EvaluationError, MdiffError

NEWTON_METHODS = ("newton-cg", "trust-ncg", "trust-krylov", "trust-exact", "dogleg",
                  "trust-constr")


@dataclass
class OptimizeResult:
    """The optimum found, in each variable's own layout."""

    values: dict
    fun: float
    grad_norm: float
    nit: int
    nfev: int
    success: bool
    message: str
    seconds: float
    method: str
    history: list = field(default_factory=list, repr=False)

    def __getitem__(self, name):
        return self.values[name]

    def to_dict(self) -> dict:
        return {"fun": self.fun, "grad_norm": self.grad_norm, "nit": self.nit,
                "nfev": self.nfev, "success": self.success, "message": self.message,
                "seconds": self.seconds, "method": self.method,
                "values": {k: np.asarray(v).tolist() for k, v in self.values.items()}}

    def __str__(self) -> str:
        lines = [f"{'converged' if self.success else 'stopped'}: f = {self.fun:.10g}, "
                 f"|grad| = {self.grad_norm:.3g}, {self.nit} iterations, {self.nfev} "
                 f"evaluations, {self.seconds:.3g} s ({self.method}; {self.message})"]
        for k, v in self.values.items():
            lines.append(f"{k} = {np.array2string(np.asarray(v), precision=6)}")
        return "\n".join(lines)


class _Packing:
    """Variables <-> one flat vector (vec order for matrices)."""

    def __init__(self, names, variables, values):
        self.names = names
        self.shapes = {}
        for n in names:
            if n not in values:
                raise EvaluationError(f"minimize needs a starting value for {n}")
            try:
                arr = np.asarray(values[n], dtype=float)
            except (TypeError, ValueError):
                raise EvaluationError(f"the starting value of {n} must be numeric") from None
            node = variables[n]
            want = 0 if node.is_scalar else 1 if node.is_vector else 2
            if arr.ndim != want:
                raise EvaluationError(f"{n} is a {node.kind}; got an array of shape {arr.shape}")
            self.shapes[n] = arr.shape
        self.sizes = [int(np.prod(self.shapes[n])) if self.shapes[n] else 1 for n in names]

    def pack(self, values) -> np.ndarray:
        return np.concatenate([np.asarray(values[n], dtype=float).reshape(-1, order="F")
                               for n in self.names])

    def unpack(self, z) -> dict:
        out, i = {}, 0
        for n, size in zip(self.names, self.sizes):
            piece = z[i:i + size]
            out[n] = float(piece[0]) if not self.shapes[n] else piece.reshape(self.shapes[n], order="F")
            i += size
        return out


def minimize(expr, wrt, values: dict, symbols: dict | None = None, method: str = "L-BFGS-B",
             maximize: bool = False, gtol: float = 1e-9, maxiter: int = 2000,
             progress: bool | None = None) -> OptimizeResult:
    """Minimise (or maximise) a scalar ``expr`` over the variables ``wrt`` with
    scipy.optimize; ``values`` binds the data and the starting points."""
    from .api import _parsed, diff, value_and_grad

    p = _parsed(expr, symbols)
    if not p.expr.is_scalar:
        raise DiffError("minimize needs a scalar function")
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    for n in names:
        if n not in p.variables:
            raise DiffError(f"{n!r} is not a variable of the expression")
    pack = _Packing(names, p.variables, values)
    data = {k: v for k, v in values.items() if k not in names}
    vg = value_and_grad(p, names)
    sign = -1.0 if maximize else 1.0
    history: list = []
    start = time.perf_counter()
    state = {"last_print": start, "nit": 0}
    verbose = progress

    def fun(z):
        value, grads = vg(**data, **pack.unpack(z))
        g = np.concatenate([np.asarray(grads[n], dtype=float).reshape(-1, order="F")
                            for n in names])
        value = float(value)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(g)
        return sign * value, sign * g

    hess = None
    if method.lower() in NEWTON_METHODS:
        blocks = [[diff(p, [a, b]).function() for b in names] for a in names]

        def hess(z):
            vals = {**data, **pack.unpack(z)}
            rows = [np.hstack([np.atleast_2d(blk(**vals)) for blk in row]) for row in blocks]
            return sign * np.vstack(rows)

    def callback(*args):
        state["nit"] += 1
        xk = args[0] if args and not hasattr(args[0], "x") else args[0].x
        now = time.perf_counter()
        if verbose or (verbose is None and now - start > 2.0 and now - state["last_print"] > 1.0):
            value = fun(np.asarray(xk))[0] * sign
            print(f"  iteration {state['nit']}: f = {value:.10g} ({now - start:.1f} s)",
                  file=sys.stderr)
            state["last_print"] = now
        if len(history) < 10000:
            history.append(now - start)

    z0 = pack.pack(values)
    options = {"maxiter": maxiter}
    if method.lower() in ("l-bfgs-b",):
        options.update(gtol=gtol, ftol=1e-15)     # stop on the gradient, not on f
    elif method.lower() in ("bfgs", "cg", "trust-ncg", "trust-krylov", "trust-exact", "dogleg"):
        options.update(gtol=gtol)
    elif method.lower() == "newton-cg":
        options.update(xtol=1e-12)
    kwargs = dict(jac=True, method=method, callback=callback, options=options)
    if hess is not None:
        kwargs["hess"] = hess
    try:
        res = sopt.minimize(fun, z0, **kwargs)
    except (ValueError, TypeError) as exc:
        raise MdiffError(f"scipy.optimize.minimize ({method}) failed: {exc}") from None
    z, message, success = res.x, str(res.message), bool(res.success)
    final_value, final_grad = fun(z)
    if hess is not None and np.linalg.norm(final_grad) > gtol:
        z, steps = _newton_polish(fun, hess, z, final_value, final_grad, gtol)
        if steps:
            final_value, final_grad = fun(z)
            message += f"; then {steps} Newton step{'s' if steps > 1 else ''} on the gradient"
            success = success or bool(np.linalg.norm(final_grad) <= gtol)
    return OptimizeResult(
        values=pack.unpack(z), fun=sign * final_value,
        grad_norm=float(np.linalg.norm(final_grad)), nit=int(getattr(res, "nit", state["nit"])),
        nfev=int(getattr(res, "nfev", 0)), success=success, message=message,
        seconds=time.perf_counter() - start, method=method, history=history)


#: Newton steps taken on the gradient after a Hessian method stops short of ``gtol``.
POLISH_STEPS = 8


def _newton_polish(fun, hess, z, value, grad, gtol):
    """Pure Newton steps on grad f = 0 while the Hessian is positive definite and the
    gradient shrinks. Trust-region methods judge a step by the decrease of f, which near
    the optimum is below f's rounding (|grad| 1e-6 moves f = 230 by 1e-14); the
    gradient still resolves the step. Returns the point and the number of steps."""
    steps = 0
    while steps < POLISH_STEPS and np.linalg.norm(grad) > gtol:
        try:
            factor = np.linalg.cholesky(np.atleast_2d(hess(z)))
        except np.linalg.LinAlgError:      # not at a minimum's basin: leave scipy's answer
            break
        step = np.linalg.solve(factor.T, np.linalg.solve(factor, grad))
        z_new = z - step
        value_new, grad_new = fun(z_new)
        slack = 1e-12 * max(1.0, abs(value))   # f may not decrease beyond its rounding
        if not (np.isfinite(value_new) and value_new <= value + slack
                and np.linalg.norm(grad_new) < np.linalg.norm(grad)):
            break
        z, value, grad, steps = z_new, value_new, grad_new, steps + 1
    return z, steps


def maximize(expr, wrt, values: dict, **kwargs) -> OptimizeResult:
    """``minimize`` of ``-expr``."""
    return minimize(expr, wrt, values, maximize=True, **kwargs)
