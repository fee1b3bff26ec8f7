"""Closed-form stationary points: solve grad f = 0 when it is linear in the variable.

The gradient ``G(X)`` is tried as it is, then multiplied through by ``X`` (``X*G*X``,
``X*G``, ``G*X`` for a square, invertible ``X``: every term carrying ``inv(X)`` — the
Gaussian covariance).  A form is linear when its differential ``L(dX)`` no longer
contains ``X``; then ``G(X) = L(X) + C`` with ``C = G(0)`` and

    vec(X) = -inv(M) * vec(C),   M = d vec(G)/d vec(X)'   (size X x size X),

which the identity catalogue turns back into matrix form (``inv(B' ⊗ A)*vec(C) =
vec(inv(A)*C*inv(B))``, ``inv(c*A) = inv(A)/c``, ``X*inv(X) = I``).

A candidate is only returned once it is known to be stationary: the gradient must be
smooth in the variable (no ``abs``, ``norm1``, ``relu``, ``sign`` of it: there ``grad f
= 0`` is not the optimality condition, and the rules' derivative 0 at the kink would
make the non-smooth term vanish), and the gradient at the candidate must vanish —
symbolically, or else numerically at random data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import expr as E
from ..core import ops
from ..numeric.check import finite_at, sample_point
from ..calculus.diff import differential, gradients, jacobian, project_gradient
from ..errors import MdiffError, NoDomainPoint
from ..language import parse
from ..numeric.evaluate import evaluate
from ..core.expr import Expr, depends_on, postorder, substitute
from ..simplify.engine import Simplifier

#: Operations whose derivative is not continuous at a point of their argument's range.
NONSMOOTH = tuple(n for n, record in ops.RECORDS.items() if not record.smooth)

#: Random data sets on which a candidate must zero the gradient, and how many draws may
#: be tried to find them (a draw where the candidate's inverses are near-singular — a
#: least-squares A with fewer rows than columns — says nothing and is skipped).
VERIFY_POINTS = 3
VERIFY_TRIES = 40
STATIONARY_TOL = 1e-7


class NoClosedForm(MdiffError):
    """grad f = 0 has no verified closed-form solution (not linear in the variable even
    multiplied through by it, a non-smooth term, or a candidate that failed the check)."""


class NotLinear(NoClosedForm):
    """grad f = 0 is not linear in the variable, even multiplied through by it (where a
    declaration such as ``spd`` may help)."""


def nonsmooth_term(f: Expr, names) -> Expr | None:
    """The first ``abs``/``norm1``/``relu``/``sign`` node of ``f`` whose argument depends
    on one of ``names``."""
    for node in postorder(f):
        if node.op in NONSMOOTH and depends_on(node.args[0], names):
            return node
    return None


def _linear_part(g: Expr, var: Expr, simp: Simplifier):
    """(M, C) with vec(g) = M vec(X) + vec(C) if g is affine in X, else None."""
    dg = simp(differential(g, {var.name: var}))
    if depends_on(dg, [var.name]):
        return None
    m = simp(jacobian(g, var))
    if depends_on(m, [var.name]):  # pragma: no cover - dg independent of X implies this
        return None
    c = simp(substitute(g, {var: E.zeros(var.shape)}))
    return m, c


def _candidates(g: Expr, var: Expr):
    yield "the gradient", g
    if var.rows == var.cols and not var.is_scalar:
        yield "X*G*X", E.mul(var, g, var)
        yield "X*G", E.mul(var, g)
        yield "G*X", E.mul(g, var)


def stationary_point(f: Expr, var: Expr, simp: Simplifier | None = None):
    """(solution expression, the form that was linear, gradient, how it was verified
    stationary); NoClosedForm otherwise."""
    if not f.is_scalar:
        raise MdiffError("solve needs a scalar function")
    kink = nonsmooth_term(f, [var.name])
    if kink is not None:
        from ..printing.text import to_text
        raise NoClosedForm(
            f"no closed form: {to_text(kink)} is not differentiable where its argument "
            f"crosses 0, so grad f = 0 is not the condition for an extremum in {var.name} "
            "(a subgradient condition is); use mdiff.minimize / 'mdiff minimize' instead")
    simp = simp or Simplifier()
    g = simp(project_gradient(gradients(f, {var.name: var})[var.name], var))
    if E.is_zero(g):
        raise NoClosedForm(f"the gradient wrt {var.name} is zero: every {var.name} is stationary")
    expand = Simplifier(mode="expand")
    for how, form in _candidates(g, var):
        form = expand(form)
        parts = _linear_part(form, var, expand)
        if parts is None:
            continue
        m, c = parts
        if E.is_zero(m):
            continue
        if var.is_scalar:
            sol = E.neg(E.mul(c, E.power(m, E.num(-1))))
        elif var.is_vector:
            sol = E.neg(E.mul(E.inv(m), c))
        else:
            sol = E.unvec(E.neg(E.mul(E.inv(m), E.apply("vec", c))), var.shape)
        sol = Simplifier(mode="factor")(sol)
        return sol, how, g, verify_stationary(f, g, var, sol, expand)
    raise NotLinear(
        f"no closed form: the gradient wrt {var.name} is not linear in {var.name} (nor after "
        f"multiplying through by {var.name}); use mdiff.minimize / 'mdiff minimize' instead")


def verify_stationary(f: Expr, g: Expr, var: Expr, sol: Expr, simp: Simplifier) -> str:
    """'symbolic' when g(sol) simplifies to 0, 'numeric' when it vanishes at random data;
    NoClosedForm when it does not (a multiplied-through form can admit a candidate
    that zeroes X*G*X but not G)."""
    if E.is_zero(simp(substitute(g, {var: sol}))):
        return "symbolic"
    try:
        report = check_stationary(f, g, var, sol, seed=0)
    except NoDomainPoint:
        raise NoClosedForm(
            f"no closed form could be verified: no random data were found where f and the "
            f"candidate for {var.name} are both defined and the candidate is not singular; "
            "use mdiff.minimize instead") from None
    if not report.ok:
        raise NoClosedForm(
            f"no closed form: the linear solution for {var.name} does not zero the gradient "
            f"at random data (relative gradient {report.max_relative_gradient:.2e} there); use "
            "mdiff.minimize / 'mdiff minimize' instead")
    return "numeric"


@dataclass
class StationarityReport:
    """The gradient at a solution, relative to its size at the sampled value of the
    variable, at ``points`` random data sets (``solve --check``)."""

    wrt: str
    max_relative_gradient: float
    points: int
    seed: int
    tolerance: float = STATIONARY_TOL

    @property
    def ok(self) -> bool:
        return bool(self.points and self.max_relative_gradient <= self.tolerance)

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict:
        return {"ok": self.ok, "wrt": self.wrt, "points": self.points, "seed": self.seed,
                "max_relative_gradient": self.max_relative_gradient,
                "tolerance": self.tolerance}

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return (f"check {verdict}: the gradient wrt {self.wrt} at the solution is "
                f"{self.max_relative_gradient:.2e} of its size elsewhere, at {self.points} "
                f"random data points (seed {self.seed})")


def check_stationary(f: Expr, g: Expr, var: Expr, sol: Expr, seed: int = 0,
                     points: int = VERIFY_POINTS) -> StationarityReport:
    """Evaluate the gradient at the solution for random data (skipping data where the
    solution is singular)."""
    variables = {**E.free_vars(f), **E.free_vars(sol)}
    variables.setdefault(var.name, var)
    rng = np.random.default_rng(seed)
    worst, done = 0.0, 0
    for _ in range(VERIFY_TRIES):
        at = stationarity_at(g, var, sol, variables, sample_point(variables, [f, sol], rng))
        if at is None:
            continue
        worst, done = max(worst, at), done + 1
        if done == points:
            break
    if done < points:
        raise NoDomainPoint(f"only {done} of {VERIFY_TRIES} random data sets have the "
                            f"solution for {var.name} defined and not singular; {points} "
                            "are needed")
    return StationarityReport(var.name, worst, done, seed)


def stationarity_at(g: Expr, var: Expr, sol: Expr, variables: dict, point) -> float | None:
    """|g(sol)| relative to |g| at the sampled (non-stationary) value of the variable, at
    one data point; None where the candidate is singular or not finite there."""
    env = point.env(variables)
    x_star = evaluate(sol, env)
    at_star = dict(point.values, **{var.name: x_star})
    star = type(point)(point.dims, at_star)
    if not finite_at([g], variables, star):     # near-singular inverses included
        return None
    g_star = evaluate(g, star.env(variables))
    g_ref = evaluate(g, env)
    scale = max(float(np.max(np.abs(g_ref))), float(np.max(np.abs(g_star))), 1e-300)
    if not np.isfinite(scale):
        return None
    return float(np.max(np.abs(g_star))) / scale if g_star.size else 0.0


def declaration_hint(p, var: Expr, exc) -> str:
    """'. Declaring S: matrix(n,n) spd gives a closed form' where that declaration makes
    grad f = 0 solvable (``p``: the parsed function, read again with it)."""
    if var.rows != var.cols or var.is_scalar or var.props or not isinstance(exc, NotLinear):
        return ""
    spec = f"matrix({E.fmt_dim(var.rows)},{E.fmt_dim(var.cols)}) spd"
    try:
        q = parse(p.text, {**p.given, var.name: spec})
        stationary_point(q.expr, q.variables[var.name])
    except (NoClosedForm, MdiffError):
        return ""
    return f". Declaring {var.name}: {spec} gives a closed form (-d \"{var.name}: {spec}\")"
