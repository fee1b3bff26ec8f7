"""Numeric verification: generic points of the domain and central differences.

``sample_point`` is the one sampler behind every verdict (checks, ``against``,
``equivalent``, ``mdiff.testing``): values that respect the declarations (SPD,
symmetric, diagonal, positive) but are otherwise generic — non-symmetric, mixed signs —
so that a transpose or a sign cannot go unnoticed, found by rejection where the whole
expression is finite, narrowing (positive log arguments, SPD det arguments, ...) only
where generic points are outside the domain (``LADDER``).  ``fd_check`` compares a
derivative with central finite differences along structure-respecting directions;
``compare_exprs`` two expressions at sampled points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core import ops
from ..core.shapes import as_dim, fmt_shape
from ..errors import EvaluationError, NoDomainPoint, ShapeError
from .evaluate import Env, evaluate, evaluate_nodes
from ..core.expr import Expr, free_dims, postorder

def _with_domain(*domains) -> tuple:
    return tuple(n for n, record in ops.RECORDS.items() if record.domain in domains)


#: The operations whose records ask the sampler for a narrower domain.
POSITIVE_DOMAIN = _with_domain("positive")
BOUNDED_DOMAIN = _with_domain("bounded")
POSITIVE_DET_DOMAIN = _with_domain("posdet")
SPD_DOMAIN = _with_domain("posdet", "spd")
SPECTRUM_DOMAIN = _with_domain("spectrum")
INVERTIBLE = _with_domain("invertible")
#: The operations whose records say how ill-conditioned their argument is.
CONDITIONED = tuple(n for n, record in ops.RECORDS.items()
                    if record.conditioning is not None)


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


def domain_hints(root: Expr) -> dict[str, set]:
    """name -> the narrowings the expression suggests for it: 'posdet' (a direct
    argument of logdet), 'spd' (of det/logdet), 'positive' (inside log, sqrt or a
    fractional power), 'bounded' (inside arcsin/arccos), 'spectrum' (of sqrtm/logm:
    eigenvalues of positive real part).  Only 'posdet' is applied to every draw; the
    others only where generic points are outside the domain."""
    hints: dict[str, set] = {}
    for node in postorder(root):
        if node.op in SPECTRUM_DOMAIN:
            for n in _direct_vars(node.args[0]):
                hints.setdefault(n, set()).update(("spectrum", "spd"))
        elif node.op in SPD_DOMAIN:
            for n in _direct_vars(node.args[0]):
                hints.setdefault(n, set()).add("spd")
                if node.op in POSITIVE_DET_DOMAIN:
                    hints[n].add("posdet")
        elif node.op in POSITIVE_DOMAIN or (node.op == "pow" and not _integer_exponent(node)):
            for sub in postorder(node.args[0]):
                if sub.op == "var":
                    hints.setdefault(sub.name, set()).add("positive")
        elif node.op in BOUNDED_DOMAIN:
            for sub in postorder(node.args[0]):
                if sub.op == "var":
                    hints.setdefault(sub.name, set()).add("bounded")
    return hints


def _integer_exponent(node: Expr) -> bool:
    """A non-negative integer exponent (no domain); others want positive bases."""
    p = node.args[1]
    return p.op == "num" and p.data.denominator == 1 and p.data >= 0


def index_symbols(exprs, variables) -> list:
    """(symbol, offset, size) for each index name in a part of ``exprs`` (x[i], X[i + 1,
    :]) that sizes no variable: the value drawn for it must keep symbol + offset within
    the size (1-based)."""
    shaped = {s for v in variables.values() for d in v.shape for s in as_dim(d).free_symbols}
    out = []
    for e in exprs:
        for node in postorder(e):
            if node.op != "index":
                continue
            for span, size in zip(node.data, node.args[0].shape):
                for d in span or ():
                    for sym in as_dim(d).free_symbols - shaped:
                        offset = as_dim(d) - as_dim(sym)
                        if offset.is_number:
                            out.append((sym, offset.constant, size))
    return out


def sample_indices(uses, sizes: dict, rng, fixed: dict) -> None:
    """Draw each index name of ``uses`` (``index_symbols``) within every size it indexes."""
    bounds: dict = {}
    for sym, offset, size in uses:
        size = as_dim(size).xreplace(sizes)
        if not size.is_number:          # a size that is itself an index name's: left as drawn
            continue
        lo, hi = bounds.get(sym, (1, math.inf))
        bounds[sym] = (max(lo, 1 - offset), min(hi, int(size.constant) - offset))
    for sym, (lo, hi) in bounds.items():
        if sym not in fixed and lo <= hi:
            sizes[sym] = int(rng.integers(lo, hi + 1))


def sample_dims(dims, rng, fixed: dict | None = None) -> dict:
    sizes = dict(fixed or {})
    choices = [2, 3, 4, 5]
    for i, d in enumerate(sorted(dims, key=lambda s: s.name)):
        if d not in sizes:
            sizes[d] = int(choices[(i + int(rng.integers(0, 4))) % len(choices)])
    return sizes


#: How far a draw narrows the values, most generic first.  ``narrow`` names the domain
#: hints applied (besides declarations and a positive determinant under logdet, which
#: every draw respects; 'spectrum' shifts the arguments of sqrtm/logm to eigenvalues of
#: positive real part, still non-symmetric; 'negative' gives the variables inside
#: log/sqrt negative values, for log(-x)); ``scale`` shrinks unconstrained entries (inside ``sqrt(1 - x'*x)`` or
#: ``arcsin`` only small values are in the domain).  Each rung is tried
#: DRAWS_PER_RUNG times before the next: a point of a narrower rung is taken only where
#: the whole expression is not finite at the generic ones.
LADDER = (
    ((), 1.0),
    (("spectrum",), 1.0),
    ((), 0.25),
    (("positive", "bounded"), 1.0),
    (("positive", "bounded"), 0.25),
    (("negative", "bounded"), 1.0),
    (("positive", "bounded", "spd"), 1.0),
    (("positive", "bounded", "spd"), 0.25),
)
DRAWS_PER_RUNG = 12

#: Largest condition number of a sampled square matrix: a generic but nearly singular
#: point makes central differences of inv/det meaningless (redrawn a few times).
MAX_CONDITION = 50.0


def _normal(rng, shape) -> np.ndarray:
    """Standard normal entries, none within 0.1 of 0: a generic point stays off the kinks
    of abs/relu/sign and the poles of 1/x, where central differences mean nothing."""
    x = rng.standard_normal(shape)
    small = np.abs(x) < 0.1
    x[small] += np.copysign(0.2, x[small])
    return x


def _generic_square(r: int, rng, scale: float, posdet: bool) -> np.ndarray:
    """A non-symmetric, well-conditioned matrix (with positive determinant if asked)."""
    for _ in range(8):
        x = _normal(rng, (r, r))
        if np.linalg.cond(x) < MAX_CONDITION:
            break
    if posdet and np.linalg.det(x) < 0:
        x[:, 0] = -x[:, 0]
    return scale * x


def _positive_spectrum(x: np.ndarray) -> np.ndarray:
    """x + s*I with every eigenvalue's real part at least 0.5 (the domain of the
    principal sqrtm and logm), still non-symmetric."""
    low = np.linalg.eigvals(x).real.min()
    return x + max(0.0, 0.5 - low) * np.eye(x.shape[0])


def sample_value(var: Expr, shape: tuple, rng, hints=(), scale: float = 1.0) -> np.ndarray:
    """One variable's value: its declaration, then the hints of this rung; otherwise a
    generic value (standard normal: mixed signs, non-symmetric, well-conditioned)."""
    props = var.props
    hints = set(hints)
    r, c = shape
    if "diagonal" in props:   # declarations win over what the expression suggests
        positive = "positive" in props or "spd" in props or hints & {"spd", "positive"}
        vals = rng.uniform(0.5, 1.5, r) if positive else scale * _normal(rng, r)
        return np.diag(vals)
    if props & {"lower", "upper"} and r == c:
        # generic triangular: mixed signs, a diagonal away from 0 (well conditioned)
        positive = "positive" in props or hints & {"positive"}
        x = scale * (rng.uniform(0.5, 1.5, (r, c)) if positive else 0.5 * _normal(rng, (r, c)))
        diagonal = rng.uniform(1.0, 2.0, r) * (1 if positive else rng.choice([-1.0, 1.0], r))
        x[np.diag_indices(r)] = scale * diagonal
        return np.tril(x) if "lower" in props else np.triu(x)
    if "spectrum" in hints and r == c and "spd" not in props:
        x = _normal(rng, (r, r))
        return scale * _positive_spectrum((x + x.T) / 2 if "symmetric" in props else x)
    if "spd" in props or ("spd" in hints and r == c):
        a = rng.standard_normal((r, r))
        x = scale * (a @ a.T / r + np.eye(r))
        if props & {"spd", "symmetric"}:
            return x
        # undeclared: positive definite but not symmetric (S + K, K skew), so a formula
        # that holds only at symmetric points (inv(X) for inv((X + X')/2)) is not accepted
        k = _normal(rng, (r, r))
        return x + 0.25 * scale * (k - k.T)
    if "positive" in props or "positive" in hints or "negative" in hints or "bounded" in hints:
        if "positive" in props or "positive" in hints:
            x = scale * rng.uniform(0.5, 1.5, (r, c))
        elif "negative" in hints:
            x = -scale * rng.uniform(0.5, 1.5, (r, c))
        else:
            x = rng.uniform(-0.6, 0.6, (r, c))
        return (x + x.T) / 2 if "symmetric" in props and r == c else x
    if "symmetric" in props:
        x = _normal(rng, (r, c))
        return scale * (x + x.T) / 2
    if r == c and r > 1:
        return _generic_square(r, rng, scale, "posdet" in hints)
    return scale * _normal(rng, (r, c))


@dataclass
class Point:
    """A random evaluation point: dimension sizes and 2-D values by name.  ``narrowed``
    says which variables had to be sampled from a narrower set than their declarations
    allow, and why (empty for a generic point)."""

    dims: dict
    values: dict = field(default_factory=dict)
    narrowed: dict = field(default_factory=dict)

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


#: Largest condition number of an inverted matrix at an accepted point: near a singular
#: one, central differences of inv(...) lose every digit (generic points avoid it).
MAX_INV_CONDITION = 1e3


def finite_at(exprs, variables: dict, point: Point) -> bool:
    """Every expression evaluates to finite numbers at ``point``, and every matrix it
    inverts is well-conditioned there."""
    try:
        env = point.env(variables)
        for e in exprs:
            vals = evaluate_nodes(e, env)
            if not np.all(np.isfinite(vals[id(e)])):
                return False
            if not inverses_conditioned(e, vals):
                return False
        return True
    except (EvaluationError, np.linalg.LinAlgError, ArithmeticError):
        return False


def inverses_conditioned(root: Expr, vals: dict, max_condition: float = MAX_INV_CONDITION) -> bool:
    """Every argument of a record with a ``conditioning`` (inverses; eigen- and singular
    vectors, whose derivatives divide by the gaps between the values) in ``root``
    (values from ``evaluate_nodes``) is finite and conditioned to at most
    ``max_condition``."""
    for node in postorder(root):
        if node.op in CONDITIONED:
            a = vals[id(node.args[0])]
            if not np.all(np.isfinite(a)):
                return False
            if ops.RECORDS[node.op].conditioning(a) > max_condition:
                return False
    return True


def _first_nonfinite(exprs, variables: dict, point: Point) -> Expr | None:
    """The innermost subexpression that is not finite at ``point`` (for the message)."""
    try:
        env = point.env(variables)
        for e in exprs:
            vals = evaluate_nodes(e, env)
            for node in postorder(e):
                v = vals.get(id(node))
                if isinstance(v, np.ndarray) and not np.all(np.isfinite(v)):
                    return node
    except (EvaluationError, np.linalg.LinAlgError, ArithmeticError):
        pass
    return None


_HINT_WORDS = {"positive": "positive (inside log, sqrt or a fractional power)",
               "negative": "negative (inside log, sqrt or a fractional power)",
               "bounded": "in (-0.6, 0.6) (inside arcsin/arccos)",
               "spd": "positive definite (inside det, logdet, chol, sqrtm or logm)",
               "spectrum": "with eigenvalues of positive real part (inside sqrtm/logm)"}


def sample_point(variables: dict[str, Expr], exprs, rng, dims: dict | None = None) -> Point:
    """A point where every expression in ``exprs`` (the function first, then what is
    compared with it) is finite, as generic as the declarations allow (DESIGN §6): drawn
    from the first rung of ``LADDER`` that has such a point, by rejection.  Raises
    ``NoDomainPoint`` when none of the rungs has one."""
    exprs = list(exprs)
    all_dims = set()
    hints: dict[str, set] = {}
    for e in exprs:
        all_dims |= free_dims(e)
        for name, hs in domain_hints(e).items():
            hints.setdefault(name, set()).update(hs)
    for v in variables.values():
        for d in v.shape:
            all_dims |= as_dim(d).free_symbols
    fixed = _by_symbol(dims, all_dims)
    indices = index_symbols(exprs, variables)
    for rung, (narrow, scale) in enumerate(LADDER):
        for _ in range(DRAWS_PER_RUNG):
            point = Point(sample_dims(all_dims, rng, fixed))
            sample_indices(indices, point.dims, rng, fixed)
            for name, v in variables.items():
                shape = tuple(int(as_dim(d).xreplace(point.dims)) for d in v.shape)
                if shape[0] * shape[1] > MAX_SAMPLE_ENTRIES:
                    raise EvaluationError(
                        f"{name} would be a {shape[0]}×{shape[1]} array: beyond the "
                        f"{MAX_SAMPLE_ENTRIES:,} entries a numeric check samples; "
                        "check with smaller sizes (dims=...)")
                mine = hints.get(name, set())
                if "positive" in mine and "negative" in narrow:     # log(-x): x < 0
                    mine = (mine - {"positive"}) | {"negative"}
                used = mine & set(narrow) - ({"spd"} if shape[0] != shape[1] else set())
                point.values[name] = sample_value(v, shape, rng, used | (mine & {"posdet"}),
                                                  scale)
                if used - set(_declared_hints(v)):
                    point.narrowed[name] = " and ".join(_HINT_WORDS[h] for h in sorted(used))
            if not exprs or finite_at(exprs, variables, point):
                return point
    culprit = _first_nonfinite(exprs, variables, point)
    where = ""
    if culprit is not None:
        where = f"; {culprit} is not finite there"     # str(): the registered text printer
    raise NoDomainPoint(
        f"no point of the domain found: {len(LADDER) * DRAWS_PER_RUNG} random points, from "
        f"generic ones to positive/SPD arguments and small values, all gave a value that is "
        f"not finite (or inverted a near-singular matrix){where}. Declare the variables' domain (e.g. 'positive', 'spd') or give "
        "the sizes (dims=...)")


def _declared_hints(var: Expr) -> set:
    """The hints a declaration already implies (not a narrowing of the user's own)."""
    out = set()
    if "positive" in var.props:
        out.add("positive")
    if "spd" in var.props:
        out |= {"spd", "positive", "spectrum"}
    return out


def structure_kind(var: Expr, shape) -> str:
    """'diagonal', 'lower', 'upper', 'symmetric' or 'general': the matrices a variable
    may take."""
    r, c = shape
    if "diagonal" in var.props:
        return "diagonal"
    for triangle in ("lower", "upper"):
        if triangle in var.props and r == c and r > 1:
            return triangle
    return "symmetric" if var.props & {"symmetric", "spd"} and r == c and r > 1 else "general"


def structure_basis(var: Expr, shape) -> list:
    """A basis of the matrices the variable may take: unit entries, or E_ij + E_ji for a
    symmetric one, E_ii for a diagonal one, E_ij on or below (above) the diagonal for a
    lower (upper) triangular one (in vec order)."""
    r, c = shape
    kind = structure_kind(var, shape)
    basis = []
    for j in range(c):
        for i in range(r):
            if (kind == "diagonal" and i != j) or (kind == "symmetric" and i < j) \
                    or (kind == "lower" and i < j) or (kind == "upper" and i > j):
                continue
            e = np.zeros((r, c))
            e[i, j] = 1
            if kind == "symmetric":
                e[j, i] = 1
            basis.append(e)
    return basis


def directions(var: Expr, shape, rng, limit: int = 40):
    """Perturbation directions respecting the variable's structure."""
    r, c = shape
    kind = structure_kind(var, shape)
    basis = structure_basis(var, shape)
    if len(basis) > limit:
        idx = rng.choice(len(basis), limit, replace=False)
        basis = [basis[i] for i in idx]
    for _ in range(3):
        v = rng.standard_normal((r, c))
        if kind == "symmetric":
            v = (v + v.T) / 2
        elif kind == "diagonal":
            v = np.diag(np.diag(v))
        elif kind in ("lower", "upper"):
            v = np.tril(v) if kind == "lower" else np.triu(v)
        basis.append(v)
    return basis


@dataclass
class CheckReport:
    """Result of comparing a derivative with central finite differences at ``points``
    random points (``dims``: the sizes at the worst one)."""

    max_rel_error: float
    max_abs_error: float
    directions: int
    seed: int | None
    tolerance: float
    dims: dict
    points: int = 1
    narrowed: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_rel_error) and self.max_rel_error <= self.tolerance)

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict:
        return {"ok": self.ok, "max_rel_error": self.max_rel_error,
                "max_abs_error": self.max_abs_error, "directions": self.directions,
                "points": self.points, "seed": self.seed, "tolerance": self.tolerance,
                "dims": {str(k): v for k, v in self.dims.items()},
                "narrowed": dict(self.narrowed)}

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        dims = ", ".join(f"{k}={v}" for k, v in sorted((str(k), v) for k, v in self.dims.items()))
        return (f"check {verdict}: max relative error {self.max_rel_error:.2e} over "
                f"{self.directions} directions at {self.points} random points (central "
                f"differences, seed {self.seed}" + (f", {dims}" if dims else "") + ")"
                + narrowed_note(self.narrowed))


def narrowed_note(narrowed: dict) -> str:
    """'; x sampled positive (...)' for variables the domain forced off generic values."""
    if not narrowed:
        return ""
    return "; the domain forced " + ", ".join(f"{n} {why}" for n, why in sorted(narrowed.items()))


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
             domain: Expr | None = None, points: int = 3) -> CheckReport:
    """Compare the Jacobian ``jac`` (size F x size X, vec layout) with central differences
    of ``f`` at ``points`` random points where ``domain`` (default: f), f and jac are
    finite.  A point whose differences leave the domain (a step crosses its boundary)
    is replaced by a new one."""
    rng = np.random.default_rng(seed)
    exprs = ([domain] if domain is not None else []) + [f, jac]
    worst_rel, worst_abs, count, worst_dims = 0.0, 0.0, 0, {}
    narrowed: dict = {}
    done = tries = 0
    while done < points:
        tries += 1
        point = sample_point(variables, exprs, rng, dims)
        result = _check_at(f, var, jac, variables, point, rng, tolerance)
        if result is None:       # too close to the domain's boundary for differences
            if tries >= 4 * points:
                raise NoDomainPoint(
                    "no point of the domain found far enough from its boundary for central "
                    f"differences ({tries} random points); give the sizes (dims=...) or "
                    "declare the variables' domain")
            continue
        rel, ab, n = result
        done += 1
        count += n
        narrowed.update(point.narrowed)
        if rel >= worst_rel:
            worst_dims = point.dims
        worst_rel, worst_abs = max(worst_rel, rel), max(worst_abs, ab)
    return CheckReport(worst_rel, worst_abs, count, seed, tolerance, worst_dims, points, narrowed)


def _check_at(f, var, jac, variables, point, rng, tolerance):
    """(worst relative error, worst absolute error, directions) at one point, or None when
    the differences along some direction are not finite at any step."""
    env = point.env(variables)
    jac_val = evaluate(jac, env)
    x0 = point.values[var.name]
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0
    worst_rel, worst_abs, count = 0.0, 0.0, 0
    for v in directions(var, x0.shape, rng):
        analytic = jac_val @ v.reshape(-1, order="F")
        rel, ab, finite = float("inf"), float("inf"), False
        for i, step in enumerate(FD_STEPS):
            numeric = _central_difference(f, variables, point, var, x0, v, step * scale,
                                          fourth_order=i > 0)
            if not np.all(np.isfinite(numeric)):
                continue
            finite = True
            r, a = relative_error(analytic, numeric)
            if r < rel:
                rel, ab = r, a
            if rel <= tolerance:
                break
        if not finite:
            return None
        worst_rel, worst_abs = max(worst_rel, rel), max(worst_abs, ab)
        count += 1
    return worst_rel, worst_abs, count


@dataclass
class Comparison:
    """Whether two expressions agree at several random points of the first one's domain
    (``narrowed``: variables the domain forced off generic values, and why)."""

    equal: bool
    max_abs_difference: float
    max_rel_difference: float
    points: int
    narrowed: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.equal

    def to_dict(self) -> dict:
        return {"equal": self.equal, "max_abs_difference": self.max_abs_difference,
                "max_rel_difference": self.max_rel_difference, "points": self.points,
                "narrowed": dict(self.narrowed)}

    def __str__(self) -> str:
        verdict = "equal" if self.equal else "NOT equal"
        if np.isfinite(self.max_abs_difference):
            how = (f"largest difference {self.max_abs_difference:.3g} "
                   f"(relative {self.max_rel_difference:.2e})")
        else:
            how = "the second is not finite where the first is"
        return f"{verdict}: {how} over {self.points} random points" + narrowed_note(self.narrowed)


def compare_exprs(a: Expr, b: Expr, variables: dict, points: int = 5, seed: int = 0,
                  tolerance: float = 1e-8, domain: Expr | None = None) -> Comparison:
    """Compare ``b`` with the reference ``a`` at random points where ``domain`` (if
    given) and ``a`` are finite but otherwise generic; ``b`` not finite there is a
    difference, not a reason to move the point."""
    if a.shape != b.shape:
        raise ShapeError(f"cannot compare a {fmt_shape(a.shape)} result with a "
                         f"{fmt_shape(b.shape)} one")
    rng = np.random.default_rng(seed)
    worst_abs = worst_rel = 0.0
    narrowed: dict = {}
    for _ in range(points):
        point = sample_point(variables, ([domain] if domain is not None else []) + [a], rng)
        narrowed.update(point.narrowed)
        env = point.env(variables)
        rel, ab = relative_error(evaluate(a, env), evaluate(b, env))
        worst_abs, worst_rel = max(worst_abs, ab), max(worst_rel, rel)
    return Comparison(bool(worst_rel <= tolerance), worst_abs, worst_rel, points, narrowed)
