"""Closed-form stationary points: solve grad f = 0 when it is linear in the variable.

The gradient ``G(X)`` is tried as it is, then multiplied through by ``X`` (``X*G*X``,
``X*G``, ``G*X`` for a square, invertible ``X``: every term carrying ``inv(X)`` — the
Gaussian covariance).  A form is linear when its differential ``L(dX)`` no longer
contains ``X``; then ``G(X) = L(X) + C`` with ``C = G(0)`` and

    vec(X) = -inv(M) * vec(C),   M = d vec(G)/d vec(X)'   (size X x size X),

which the identity catalogue turns back into matrix form (``inv(B' ⊗ A)*vec(C) =
vec(inv(A)*C*inv(B))``, ``inv(c*A) = inv(A)/c``, ``X*inv(X) = I``).
"""

from __future__ import annotations

from . import expr as E
from .diff import differential, gradients, jacobian, project_gradient
from .errors import MdiffError
from .expr import Expr, depends_on, substitute
from .simplify import Simplifier


class NoClosedForm(MdiffError):
    """grad f = 0 is not linear in the variable (even multiplied through by it)."""


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
    """(solution expression, the form that was linear, gradient) or NoClosedForm."""
    if not f.is_scalar:
        raise MdiffError("solve needs a scalar function")
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
        return Simplifier(mode="factor")(sol), how, g
    raise NoClosedForm(
        f"no closed form: the gradient wrt {var.name} is not linear in {var.name} (nor after "
        f"multiplying through by {var.name}); use mdiff.minimize / 'mdiff minimize' instead")
