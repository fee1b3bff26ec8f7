"""Derivatives as the calculus composes them (DESIGN §3).

A first derivative is the gradient (scalar f), dF/dx (scalar x) or the Jacobian
d vec(F)/d vec(X)', projected onto the variable's structure; a higher or mixed one
is the Jacobian of the one before; the vech convention (symmetric variables, entry
by entry) and the numerator layout are views of the default result, which they keep
as ``base``.  Every result is simplified.  ``mdiff.api`` adds printing, numeric
functions and checks to this record; nothing here prints or evaluates."""

from __future__ import annotations

import functools

import dataclasses
from dataclasses import dataclass

from ..core import expr as E
from ..core.expr import Expr
from ..errors import DiffError
from ..simplify.engine import Simplifier, simplify_fully
from .diff import (CONVENTIONS, differential, gradients, jacobian, project_gradient,
                   project_jacobian, structure_of)

MAX_ORDER = 6

#: Most let-bindings whose simplified forms keep the user's names in printed results
#: (each is simplified on its own; a chain of thousands of sums would cost quadratic time).
MAX_RENAMED_LETS = 64

LAYOUTS = {
    "denominator": "DESIGN §3: gradient in the shape of X; Jacobian d vec(F)/d vec(X)'",
    "numerator": "numerator layout: gradient transposed (shape of X'); Jacobian d vec(F)/d vec(X)'",
}

CONVENTION_NAMES = ("sym", "vech")

VECH_CONVENTION = ("vech (entry-wise): derivatives wrt the distinct entries of symmetric X; "
                   "gradient 2*G - diag(diag(G)) = D'*vec(G), Hessian D'*H*D")


@dataclass(frozen=True)
class Derivative:
    """A derivative of ``f`` (first, Hessian, mixed or k-th).

    ``expr`` is the result as a matrix expression: the gradient (shape of X) for a
    scalar f, ``dF/dx`` (shape of F) for a scalar x, otherwise the Jacobian
    d vec(F)/d vec(X)' (DESIGN §3) — for a Hessian ``F`` is the gradient, for a mixed
    derivative the gradient wrt the first variable, for order k the (k-1)-th
    derivative.  ``of`` is that ``F`` (what a check differentiates numerically).
    ``f`` is the parsed function (its ``expr`` and ``variables`` are read here).
    """

    f: object
    wrt: str
    expr: Expr
    form: str               # gradient | derivative | jacobian | hessian | mixed | tensor
    convention: str
    identities: tuple = ()  # names of the identities the simplifier applied
    of: Expr | None = None
    wrt_all: tuple = ()
    order: int = 1
    base: "Derivative | None" = None   # the default-convention result this one came from
    layout: str = "denominator"        # "numerator": gradients transposed (textbooks)

    @property
    def variable(self) -> Expr:
        return self.f.variables[self.wrt]

    @functools.cached_property
    def names(self) -> dict:
        """node -> the user's let-binding name, for the nodes as built and as simplified
        (tanh(W*h0 + U*x1) prints in its canonical term order and keeps its name h1)."""
        own = self.f.let_names()
        names = dict(own)
        if len(own) <= MAX_RENAMED_LETS:
            simplifier = Simplifier()       # one memo: each let builds on the earlier ones
            for node, name in own.items():
                names.setdefault(simplifier(node), name)
        return names

    @property
    def shape(self):
        return self.layout_expr.shape

    @property
    def layout_expr(self) -> Expr:
        """The result as evaluated: dF/dx of a matrix F is vectorised (vec(dF/dx))."""
        if self.form == "derivative" and not (self.of or self.f.expr).is_scalar:
            return E.apply("vec", self.expr)
        return self.expr

    @property
    def jacobian_expr(self) -> Expr:
        """d vec(F)/d vec(X)' (a 1 x size row for a gradient)."""
        if self.layout == "numerator" and self.base is not None:
            return self.base.jacobian_expr
        if self.form == "gradient":
            return E.transpose(E.apply("vec", self.expr))
        return self.layout_expr


def variable(p, name) -> Expr:
    """The variable ``name`` of the parsed function, or a DiffError naming the others."""
    if not isinstance(name, str):
        raise DiffError(f"wrt must be a variable name, got {name!r}")
    if name not in p.variables:
        known = ", ".join(p.variables) or "none"
        raise DiffError(f"{name!r} is not a variable of the expression (variables: {known})")
    return p.variables[name]


def derivative(p, wrt, order: int = 1, convention: str = "sym",
               layout: str = "denominator", cls=Derivative) -> Derivative:
    """The derivative of ``p`` wrt ``wrt`` (a name, or names for a mixed derivative:
    d/dy of the gradient wrt x for ``["x", "y"]``); ``order=k`` is the k-th derivative
    wrt one variable.  ``cls`` is the record type to build (the API's adds printers)."""
    names = [wrt] if isinstance(wrt, str) else list(wrt) if isinstance(wrt, (list, tuple)) else None
    if not names or not all(isinstance(n, str) for n in names):
        raise DiffError(f"wrt must be a variable name or a list of names, got {wrt!r}")
    if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= MAX_ORDER:
        raise DiffError(f"order must be an integer from 1 to {MAX_ORDER}, got {order!r}")
    if convention not in CONVENTION_NAMES:
        raise DiffError(f"convention must be 'sym' or 'vech', not {convention!r}")
    if layout not in LAYOUTS:
        raise DiffError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if len(names) > 1 and order != 1:
        raise DiffError("give either several variables (mixed) or order=k, not both")
    if len(names) == 1 and order == 1:
        d = first(p, names[0], cls=cls)
    else:
        d = _higher(p, names if len(names) > 1 else names * order, cls)
    if convention == "vech":
        d = _to_vech(d)
    return _to_layout(d, layout)


def first(p, name: str, grad: Expr | None = None, cls=Derivative) -> Derivative:
    """The simplified first derivative; ``grad``: the gradient if already swept."""
    raw = _raw(p, name, grad, cls)
    result, applied = simplify_fully(raw.expr)
    return dataclasses.replace(raw, expr=result, identities=applied)


def several(p, names: list, cls=Derivative) -> dict:
    """{name: first derivative}; the gradients of a scalar f from one backward sweep."""
    variables = {n: variable(p, n) for n in names}
    if not p.expr.is_scalar:
        return {n: first(p, n, cls=cls) for n in names}
    grads = gradients(p.expr, variables)
    return {n: first(p, n, grads[n], cls) for n in names}


def _raw(p, name: str, grad: Expr | None, cls) -> Derivative:
    var = variable(p, name)
    f = p.expr
    convention = CONVENTIONS[structure_of(var)]
    if f.is_scalar:
        if grad is None:
            grad = gradients(f, {name: var})[name]
        form = "gradient" if not var.is_scalar else "derivative"
        return cls(p, name, project_gradient(grad, var), form, convention)
    if var.is_scalar:
        # dF is linear in the scalar dx: dF/dx is dF with dx = 1
        dF = differential(f, {name: var})
        dfdx = E.substitute(dF, {E.placeholder(name, var.shape): E.num(1)})
        return cls(p, name, dfdx, "derivative", convention)
    j = project_jacobian(jacobian(f, var), var)
    return cls(p, name, j, "jacobian", convention)


def _higher(p, names: list, cls) -> Derivative:
    """Differentiate again and again: each step is the Jacobian of the previous result."""
    if not p.expr.is_scalar:
        raise DiffError("second and higher derivatives need a scalar function")
    start = first(p, names[0], cls=cls)
    current, applied = start.expr, list(start.identities)
    of = current
    for name in names[1:]:
        var = variable(p, name)
        of = current
        current, more = simplify_fully(project_jacobian(jacobian(of, var), var))
        applied += [a for a in more if a not in applied]
    same = len(set(names)) == 1
    form = ("hessian" if len(names) == 2 else "tensor") if same else "mixed"
    kinds = {structure_of(variable(p, n)) for n in names}
    kind = next((k for k in CONVENTIONS if k in kinds and k != "general"), "general")
    return cls(p, names[-1], current, form, CONVENTIONS[kind], tuple(applied), of,
               tuple(names), len(names))


def _to_vech(d: Derivative) -> Derivative:
    """The entry-wise (duplication-matrix) convention for symmetric variables."""
    names = d.wrt_all or (d.wrt,)
    if not any(structure_of(d.f.variables[n]) == "symmetric" for n in names):
        return d
    if d.form == "gradient":
        # 2*sym(G) - diag(diag(G)) = G + G' - diag(diag(G)) from the unprojected G
        g, _ = simplify_fully(gradients(d.f.expr, {d.wrt: d.variable})[d.wrt])
        expr = E.add(g, E.transpose(g), E.neg(E.apply("diag", E.apply("diag", g))))
    elif d.form == "hessian":
        dup = E.duplication(d.variable.rows)
        expr = E.mul(E.transpose(dup), d.expr, dup)
    else:
        raise DiffError("the vech convention is available for gradients and Hessians")
    expr, more = simplify_fully(expr)
    return dataclasses.replace(d, expr=expr, base=d, convention=VECH_CONVENTION,
                               identities=d.identities + more)


def _to_layout(d: Derivative, layout: str) -> Derivative:
    """Numerator layout: a gradient transposed (keeping the default as ``base``)."""
    if layout == "denominator" or d.form != "gradient":
        return dataclasses.replace(d, layout=layout) if layout != d.layout else d
    expr, more = simplify_fully(E.transpose(d.expr))
    return dataclasses.replace(d, expr=expr, layout=layout, base=d.base or d,
                               identities=d.identities + more)
