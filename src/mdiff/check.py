"""Numeric verification: random domain-respecting points and central differences.

``sample_point`` draws dimension sizes and values that respect declarations (SPD,
symmetric, diagonal, positive) and the domains the expression implies (arguments of
``log``/``sqrt`` positive, arguments of ``logdet``/``det`` SPD).  ``fd_check`` compares
a derivative with central finite differences along structure-respecting directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .errors import EvaluationError
from .evaluate import Env, evaluate
from .expr import Expr, free_dims, postorder

POSITIVE_DOMAIN = ("log", "sqrt")
BOUNDED_DOMAIN = ("arcsin", "arccos")
SPD_DOMAIN = ("logdet", "det")


def _direct_vars(node: Expr):
    """Variables that are the argument itself, or behind transposes/sums."""
    stack, out = [node], []
    while stack:
        e = stack.pop()
        if e.op == "var":
            out.append(e.name)
        elif e.op in ("T", "add"):
            stack.extend(e.args)
    return out


def domain_hints(root: Expr) -> dict[str, str]:
    """name -> 'spd' | 'positive' | 'bounded' for variables the expression constrains."""
    hints: dict[str, str] = {}
    for node in postorder(root):
        if node.op in SPD_DOMAIN:
            for n in _direct_vars(node.args[0]):
                hints[n] = "spd"
        elif node.op in POSITIVE_DOMAIN or (node.op == "pow" and not _integer_exponent(node)):
            for sub in postorder(node.args[0]):
                if sub.op == "var":
                    hints.setdefault(sub.name, "positive")
        elif node.op in BOUNDED_DOMAIN:
            for sub in postorder(node.args[0]):
                if sub.op == "var":
                    hints.setdefault(sub.name, "bounded")
    return hints


def _integer_exponent(node: Expr) -> bool:
    """A non-negative integer exponent (no domain); others want positive bases."""
    p = node.args[1]
    return p.op == "num" and p.data.is_integer and p.data >= 0


def sample_dims(dims, rng, fixed: dict | None = None) -> dict:
    sizes = dict(fixed or {})
    choices = [2, 3, 4, 5]
    for i, d in enumerate(sorted(dims, key=lambda s: s.name)):
        if d not in sizes:
            sizes[d] = int(choices[(i + int(rng.integers(0, 4))) % len(choices)])
    return sizes


def sample_value(var: Expr, shape: tuple, rng, hint: str | None = None) -> np.ndarray:
    props = var.props
    r, c = shape
    if "diagonal" in props:   # declarations win over what the expression suggests
        positive = "positive" in props or hint in ("spd", "positive")
        vals = rng.uniform(0.5, 1.5, r) if positive else rng.standard_normal(r)
        return np.diag(vals)
    if "spd" in props or (hint == "spd" and r == c):
        a = rng.standard_normal((r, r))
        return a @ a.T / r + np.eye(r)
    if "positive" in props or hint == "positive":
        x = rng.uniform(0.5, 1.5, (r, c))
    elif hint == "bounded":
        x = rng.uniform(-0.6, 0.6, (r, c))
    else:
        x = rng.standard_normal((r, c))
    if "symmetric" in props:
        x = (x + x.T) / 2
    return x


@dataclass
class Point:
    """A random evaluation point: dimension sizes and 2-D values by name."""

    dims: dict
    values: dict = field(default_factory=dict)

    def env(self, variables: dict[str, Expr], overrides: dict | None = None) -> Env:
        vals = dict(self.values)
        if overrides:
            vals.update(overrides)
        return Env({n: vals[n] for n in variables}, variables, self.dims)


#: Largest variable a numeric check samples (10^7 float64 entries: 80 MB).
MAX_SAMPLE_ENTRIES = 10**7


def _by_symbol(dims: dict | None, known: set) -> dict:
    """``dims`` keyed by dimension symbols; a user may name them (``{"n": 3}``)."""
    by_name = {d.name: d for d in known}
    out = {}
    for key, size in (dims or {}).items():
        if isinstance(key, str):
            if key not in by_name:
                raise EvaluationError(f"dims names {key!r}, which is not a dimension here "
                                      f"(the dimensions are {', '.join(sorted(by_name)) or 'none'})")
            key = by_name[key]
        out[key] = size
    return out


def sample_point(variables: dict[str, Expr], exprs, rng, dims: dict | None = None) -> Point:
    all_dims = set()
    hints: dict[str, str] = {}
    for e in exprs:      # the function's own domain first: it wins over its derivative's
        all_dims |= free_dims(e)
        for name, hint in domain_hints(e).items():
            hints.setdefault(name, hint)
    for v in variables.values():
        for d in v.shape:
            all_dims |= sp.sympify(d).free_symbols
    sizes = sample_dims(all_dims, rng, _by_symbol(dims, all_dims))
    point = Point(sizes)
    for name, v in variables.items():
        shape = tuple(int(sp.sympify(d).xreplace(sizes)) for d in v.shape)
        if shape[0] * shape[1] > MAX_SAMPLE_ENTRIES:
            raise EvaluationError(f"{name} would be a {shape[0]}×{shape[1]} array: beyond the "
                                  f"{MAX_SAMPLE_ENTRIES:,} entries a numeric check samples; "
                                  "check with smaller sizes (dims=...)")
        point.values[name] = sample_value(v, shape, rng, hints.get(name))
    return point


def directions(var: Expr, shape, rng, limit: int = 40):
    """Perturbation directions respecting the variable's structure."""
    r, c = shape
    kind = "diagonal" if "diagonal" in var.props else (
        "symmetric" if var.props & {"symmetric", "spd"} and r == c and r > 1 else "general")
    basis = []
    if kind == "diagonal":
        for i in range(r):
            e = np.zeros((r, c))
            e[i, i] = 1
            basis.append(e)
    elif kind == "symmetric":
        for i in range(r):
            for j in range(i, c):
                e = np.zeros((r, c))
                e[i, j] = e[j, i] = 1
                basis.append(e)
    else:
        for j in range(c):
            for i in range(r):
                e = np.zeros((r, c))
                e[i, j] = 1
                basis.append(e)
    if len(basis) > limit:
        idx = rng.choice(len(basis), limit, replace=False)
        basis = [basis[i] for i in idx]
    for _ in range(3):
        v = rng.standard_normal((r, c))
        if kind == "symmetric":
            v = (v + v.T) / 2
        elif kind == "diagonal":
            v = np.diag(np.diag(v))
        basis.append(v)
    return basis


@dataclass
class CheckReport:
    """Result of comparing a derivative with central finite differences."""

    max_rel_error: float
    max_abs_error: float
    directions: int
    seed: int | None
    tolerance: float
    dims: dict

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_rel_error) and self.max_rel_error <= self.tolerance)

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict:
        return {"ok": self.ok, "max_rel_error": self.max_rel_error,
                "max_abs_error": self.max_abs_error, "directions": self.directions,
                "seed": self.seed, "tolerance": self.tolerance,
                "dims": {str(k): v for k, v in self.dims.items()}}

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        dims = ", ".join(f"{k}={v}" for k, v in sorted((str(k), v) for k, v in self.dims.items()))
        return (f"check {verdict}: max relative error {self.max_rel_error:.2e} over "
                f"{self.directions} directions (central differences, seed {self.seed}"
                + (f", {dims}" if dims else "") + ")")


def relative_error(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf"), float("inf")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = max(float(np.max(np.abs(a))) if a.size else 0.0,
                float(np.max(np.abs(b))) if b.size else 0.0, 1.0)
    return diff / scale, diff


#: Relative steps of the central differences: the first is tried along every direction;
#: the larger ones (fourth-order, Richardson) only where it disagrees, since round-off
#: of a large value (eps·|f|/h) can swamp a small derivative at a small step.  A wrong
#: derivative disagrees at every step, so taking the best step rejects it all the same
#: (agreement by chance would have to hold along every direction, three of them random).
FD_STEPS = (1e-6, 1e-4, 1e-3, 1e-2)


def _central_difference(f: Expr, variables: dict, point: Point, var: Expr, x0, v, h: float,
                        fourth_order: bool) -> np.ndarray:
    def at(t):
        return evaluate(f, point.env(variables, {var.name: x0 + t * v}))
    d1 = (at(h) - at(-h)) / (2 * h)
    if fourth_order:    # Richardson: cancels the h^2 term of the central difference
        d2 = (at(2 * h) - at(-2 * h)) / (4 * h)
        d1 = (4 * d1 - d2) / 3
    return d1.reshape(-1, order="F")


def fd_check(f: Expr, var: Expr, jac: Expr, variables: dict, seed: int = 0,
             tolerance: float = 1e-6, dims: dict | None = None,
             domain: Expr | None = None) -> CheckReport:
    """Compare the Jacobian ``jac`` (size F x size X, vec layout) with central differences
    of ``f``, at a point drawn from ``domain``'s domain (default: f's)."""
    rng = np.random.default_rng(seed)
    point = sample_point(variables, ([domain] if domain is not None else []) + [f, jac], rng, dims)
    env = point.env(variables)
    jac_val = evaluate(jac, env)
    x0 = point.values[var.name]
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0
    worst_rel, worst_abs, count = 0.0, 0.0, 0
    for v in directions(var, x0.shape, rng):
        analytic = jac_val @ v.reshape(-1, order="F")
        rel, ab = float("inf"), float("inf")
        for i, step in enumerate(FD_STEPS):
            numeric = _central_difference(f, variables, point, var, x0, v, step * scale,
                                          fourth_order=i > 0)
            r, a = relative_error(analytic, numeric)
            if r < rel:
                rel, ab = r, a
            if rel <= tolerance:
                break
        worst_rel, worst_abs = max(worst_rel, rel), max(worst_abs, ab)
        count += 1
    return CheckReport(worst_rel, worst_abs, count, seed, tolerance, point.dims)
