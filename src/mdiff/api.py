"""The Python interface (DESIGN §4): thin functions over parser, engine and printers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from . import expr as E
from .check import CheckReport, fd_check, relative_error, sample_point
from .diff import (CONVENTIONS, differential as _differential, gradients as _sweep, jacobian as _jacobian, project_gradient,
                   project_jacobian, structure_of)
from .errors import DiffError, ShapeError
from .evaluate import Env, evaluate, make_function, to_user_layout
from .expr import Expr
from .parser import Parsed, parse
from .printing.text import to_text
from .simplify import Simplifier


def _parsed(expr, symbols=None) -> Parsed:
    return expr if isinstance(expr, Parsed) else parse(expr, symbols)


def function(expr, symbols: dict | None = None):
    """A numpy callable of the expression itself: ``f(A=..., x=...)``."""
    p = _parsed(expr, symbols)
    return make_function(p.expr, p.variables)


@dataclass(frozen=True)
class Derivative:
    """A first derivative of ``f`` wrt one variable.

    ``expr`` is the result as a matrix expression: the gradient (shape of X) for a
    scalar f, ``dF/dx`` (shape of F) for a scalar x, otherwise the Jacobian
    d vec(F)/d vec(X)' (DESIGN §3).  ``layout_expr`` is what ``function()`` evaluates.
    """

    f: Parsed
    wrt: str
    expr: Expr
    form: str               # "gradient" | "derivative" | "jacobian"
    convention: str
    identities: tuple = ()  # names of the identities the simplifier applied

    @property
    def variable(self) -> Expr:
        return self.f.variables[self.wrt]

    @property
    def shape(self):
        return self.layout_expr.shape

    @property
    def layout_expr(self) -> Expr:
        if self.form == "derivative" and not self.f.expr.is_scalar:
            return E.apply("vec", self.expr)
        return self.expr

    @property
    def jacobian_expr(self) -> Expr:
        """d vec(f)/d vec(X)' (a 1 x size row for a gradient)."""
        if self.form == "gradient":
            return E.transpose(E.apply("vec", self.expr))
        return self.layout_expr

    def __str__(self) -> str:
        return to_text(self.expr, self.f.let_names())

    def __repr__(self) -> str:
        return f"<Derivative d({self.f.text.strip()})/d{self.wrt} = {self}>"

    def kron(self) -> str:
        """The vec/Kronecker form: for a gradient the row vec(G)'."""
        return to_text(self.jacobian_expr, self.f.let_names())

    def function(self):
        """numpy callable of the derivative in DESIGN §3's layout (all of f's variables
        may be passed; those the result needs are required)."""
        root = self.layout_expr
        variables = self.f.variables
        needed = E.free_vars(root)

        dim_names = {str(s) for s in E.free_dims(root)}

        def fn(**values):
            env = Env(values, variables, required=needed, dim_names=dim_names)
            return to_user_layout(root, evaluate(root, env))

        fn.variables = tuple(variables)
        return fn

    def check(self, seed: int = 0, tolerance: float = 1e-6, dims: dict | None = None) -> CheckReport:
        """Compare with central finite differences at a random point."""
        return fd_check(self.f.expr, self.variable, self.jacobian_expr, self.f.variables,
                        seed=seed, tolerance=tolerance, dims=dims)

    def to_dict(self) -> dict:
        return {"input": self.f.text, "wrt": self.wrt, "result": str(self), "form": self.form,
                "shape": [E.fmt_dim(d) for d in self.shape], "kron": self.kron(),
                "convention": self.convention}


def _variable(p: Parsed, name: str) -> Expr:
    if not isinstance(name, str):
        raise DiffError(f"wrt must be a variable name, got {name!r}")
    if name not in p.variables:
        known = ", ".join(p.variables) or "none"
        raise DiffError(f"{name!r} is not a variable of the expression (variables: {known})")
    return p.variables[name]


def _derivative(p: Parsed, name: str, grad: Expr | None = None) -> Derivative:
    raw = _raw_derivative(p, name, grad)
    simp = Simplifier()
    result = simp(raw.expr)
    return dataclasses.replace(raw, expr=result, identities=tuple(simp.applied))


def _raw_derivative(p: Parsed, name: str, grad: Expr | None = None) -> Derivative:
    var = _variable(p, name)
    f = p.expr
    kind = structure_of(var)
    if f.is_scalar:
        if grad is None:
            grad = _sweep(f, {name: var})[name]
        g = project_gradient(grad, var)
        form = "gradient" if not var.is_scalar else "derivative"
        return Derivative(p, name, g, form, CONVENTIONS[kind])
    if var.is_scalar:
        # dF is linear in the scalar dx: dF/dx is dF with dx = 1
        dF = _differential(f, {name: var})
        dfdx = E.substitute(dF, {E.placeholder(name, var.shape): E.num(1)})
        return Derivative(p, name, dfdx, "derivative", CONVENTIONS[kind])
    j = project_jacobian(_jacobian(f, var), var)
    return Derivative(p, name, j, "jacobian", CONVENTIONS[kind])


def diff(expr, wrt: str, symbols: dict | None = None) -> Derivative:
    """The derivative of ``expr`` wrt the variable named ``wrt`` (DESIGN §3 layout)."""
    p = _parsed(expr, symbols)
    return _derivative(p, wrt)


def gradients(expr, wrt, symbols: dict | None = None) -> dict:
    """{name: Derivative} for several variables, from one backward sweep."""
    p = _parsed(expr, symbols)
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    variables = {n: _variable(p, n) for n in names}
    if not p.expr.is_scalar:
        return {n: _derivative(p, n) for n in names}
    grads = _sweep(p.expr, variables)
    return {n: _derivative(p, n, grads[n]) for n in names}


def check(expr, wrt: str, seed: int = 0, symbols: dict | None = None,
          tolerance: float = 1e-6) -> CheckReport:
    """Finite-difference report for mdiff's derivative of ``expr`` wrt ``wrt``."""
    return diff(expr, wrt, symbols).check(seed=seed, tolerance=tolerance)


@dataclass
class Comparison:
    """Whether two expressions agree at several random points."""

    equal: bool
    max_abs_difference: float
    max_rel_difference: float
    points: int

    def __bool__(self) -> bool:
        return self.equal

    def to_dict(self) -> dict:
        return {"equal": self.equal, "max_abs_difference": self.max_abs_difference,
                "max_rel_difference": self.max_rel_difference, "points": self.points}

    def __str__(self) -> str:
        verdict = "equal" if self.equal else "NOT equal"
        return (f"{verdict}: largest difference {self.max_abs_difference:.3g} "
                f"(relative {self.max_rel_difference:.2e}) over {self.points} random points")


def compare_exprs(a: Expr, b: Expr, variables: dict, points: int = 5, seed: int = 0,
                  tolerance: float = 1e-8, domain: Expr | None = None) -> Comparison:
    """Compare at random points drawn from ``domain``'s domain (default: a's and b's)."""
    if a.shape != b.shape:
        raise ShapeError(f"cannot compare a {E.fmt_shape(a.shape)} result with a "
                         f"{E.fmt_shape(b.shape)} one")
    rng = np.random.default_rng(seed)
    worst_abs = worst_rel = 0.0
    for _ in range(points):
        point = sample_point(variables, ([domain] if domain is not None else []) + [a, b], rng)
        env = point.env(variables)
        rel, ab = relative_error(evaluate(a, env), evaluate(b, env))
        worst_abs, worst_rel = max(worst_abs, ab), max(worst_rel, rel)
    return Comparison(bool(worst_rel <= tolerance), worst_abs, worst_rel, points)


def equivalent(a, b, symbols: dict | None = None, points: int = 5, seed: int = 0) -> Comparison:
    """Do two expressions (text) agree at random points?  ``b`` is read with ``a``'s
    declarations, so its names have the same shapes."""
    pa = _parsed(a, symbols)
    pb = parse(b, {**pa.symbols(), **(symbols or {})}) if isinstance(b, str) else b
    variables = {**pb.variables, **pa.variables}
    return compare_exprs(pa.expr, pb.expr, variables, points, seed)


def against(derivative: Derivative, formula: str, points: int = 5, seed: int = 0) -> Comparison:
    """Is a hand-derived ``formula`` equal to mdiff's derivative?"""
    p = parse(formula, derivative.f.symbols())
    variables = {**p.variables, **derivative.f.variables}
    target = derivative.expr
    other = p.expr
    if other.shape != target.shape and derivative.form == "jacobian":
        target = derivative.layout_expr
    return compare_exprs(target, other, variables, points, seed, domain=derivative.f.expr)
