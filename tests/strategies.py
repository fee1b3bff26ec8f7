"""Hypothesis strategies for random, well-shaped, domain-safe mdiff programs (DESIGN §6).

The generator is *typed*: every subexpression is drawn for a known shape, so everything
it emits is well-shaped by construction.  Shapes are pairs of dimensions; a dimension
is a sorted tuple of dimension names (``()`` is 1, ``("n",)`` is ``n``, ``("m", "n")``
is ``m*n``, reached through ``kron`` and ``vec``).  Every variable is declared (in the
text or through ``symbols=``), so first-letter kinds never matter.

Domain safety, by construction:

* arguments of ``log``, ``sqrt``, ``./``, ``/`` and non-integer powers are *positive*
  expressions (``exp(...)``, ``1 + E.^2``, ``sigmoid``, ``softplus``, ``cosh``,
  declared-positive variables, sums/products of positives, ``det``/``tr`` of SPD ...);
* arguments of ``det``, ``logdet``, ``inv`` and negative matrix powers are SPD:
  ``B*B' + eye`` (``B`` any shape with the right rows) or a declared ``spd`` variable;
* ``arcsin``/``arccos`` get ``tanh(E)/2``; ``tan`` gets an argument below 1.2;
* ``abs``/``relu``/``sign``/``norm1`` take generic arguments: their kinks are hit only
  on a measure-zero set (or on entries that are identically zero, where the
  derivative 0 is exact); ``norm2`` takes a positive argument or is squared.

Magnitudes are kept tame: each node carries a crude upper bound of its entries
(dimensions are at most ``MAX_DIM``), and an operand whose bound is too large is
squashed (``tanh(E)``, ``arctan(E)``) or scaled (``E/2^k``) before ``exp``, a power or a
product can amplify it.  This keeps central differences accurate to ~1e-8.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from mdiff.core.dims import Dim

#: Largest size a dimension name takes in the checks (``check(dims=...)``).
MAX_DIM = 4
#: Entry bound above which an operand is squashed before it is amplified.
LIMIT = 30.0
BIG = 1e300

DIM_NAMES = ("n", "m")
SIMPLE_DIMS = ((), ("n",), ("m",))

# --- dimensions and shapes ----------------------------------------------------------------


def dim_text(d: tuple) -> str:
    return "1" if not d else "*".join(d)


def dim_size(d: tuple) -> int:
    return MAX_DIM ** len(d)


def dmul(a: tuple, b: tuple) -> tuple:
    return tuple(sorted(a + b))


def splits(d: tuple) -> list[tuple[tuple, tuple]]:
    """All ways to write the dimension ``d`` as a product ``d1*d2`` (ordered)."""
    out = set()
    k = len(d)
    for mask in range(1 << k):
        a = tuple(sorted(d[i] for i in range(k) if mask >> i & 1))
        b = tuple(sorted(d[i] for i in range(k) if not mask >> i & 1))
        out.add((a, b))
    return sorted(out)


def shape_kind(shape) -> str:
    r, c = shape
    if not r and not c:
        return "scalar"
    if not c:
        return "vector"
    return "matrix"


def shape_size(shape) -> int:
    return dim_size(shape[0]) * dim_size(shape[1])


def decl_text(shape, props=()) -> str:
    r, c = shape
    kind = shape_kind(shape)
    if kind == "scalar":
        base = "scalar"
    elif kind == "vector":
        base = f"vector({dim_text(r)})"
    else:
        base = f"matrix({dim_text(r)},{dim_text(c)})"
    return " ".join((base,) + tuple(props))


#: Shapes a whole program (or a let-binding) may have.
ROOT_SHAPES = {
    "scalar": [((), ())],
    "vector": [(("n",), ()), (("m",), ()), (("m", "n"), ())],
    "matrix": [(("n",), ("n",)), (("n",), ("m",)), (("m",), ("n",)), (("m",), ("m",))],
}

# --- nodes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class T:
    """A generated subexpression: its text, a bound on |entries|, a positive lower bound
    when it is known to be positive (``lb``), and whether it needs no parentheses."""

    text: str
    bound: float
    lb: float | None = None
    atomic: bool = False

    def par(self) -> str:
        return self.text if self.atomic else f"({self.text})"


def _b(x: float) -> float:
    return BIG if not math.isfinite(x) or x > BIG else max(x, 0.0)


def _exp(x: float) -> float:
    return BIG if x > 690 else math.exp(x)


# --- the pool of declared variables --------------------------------------------------------

# (shape, props) -> names; anything else gets a generated name.
NAMED = {
    (((), ()), ()): ["c", "d"],
    (((), ()), ("positive",)): ["q"],
    ((("n",), ()), ()): ["x", "y"],
    ((("n",), ()), ("positive",)): ["p"],
    ((("m",), ()), ()): ["u", "v"],
    ((("n",), ("n",)), ()): ["X", "Y"],
    ((("n",), ("n",)), ("symmetric",)): ["S"],
    ((("n",), ("n",)), ("spd",)): ["P"],
    ((("n",), ("n",)), ("diagonal",)): ["L"],
    ((("n",), ("m",)), ()): ["B", "W"],
    ((("n",), ("m",)), ("positive",)): ["Z"],
    ((("m",), ("n",)), ()): ["C"],
    ((("m",), ("m",)), ()): ["D"],
    ((("m",), ("m",)), ("spd",)): ["Q"],
}


def _generated_name(shape, props, i) -> str:
    r, c = shape
    tag = "".join(r) + ("_" + "".join(c) if c and r else "".join(c))
    stem = ("w_" if not c else "r_" if not r else "M_") + tag
    return stem + ("".join("_" + p[:3] for p in props)) + (str(i) if i else "")


def var_names(shape, props=()) -> list[str]:
    key = (shape, tuple(props))
    if key in NAMED:
        return NAMED[key]
    return [_generated_name(shape, props, i) for i in range(2)]


def _entry_bound(props) -> float:
    # check.sample_value: standard normals (|.| < ~4.5 over a few hundred draws),
    # uniforms on [0.5, 1.5] for positive, SPD a*a'/r + I.
    if "positive" in props:
        return 1.5
    if "spd" in props:
        return 6.0
    return 4.5


@dataclass
class Ctx:
    draw: object
    max_depth: int
    decls: dict = field(default_factory=dict)          # name -> declaration text
    lets: list = field(default_factory=list)           # (name, shape, T)
    dims_as_scalars: set = field(default_factory=set)
    allow_kinks: bool = True
    allow_dims: bool = True
    #: the Fréchet derivatives of expm and logm as inputs, whose second derivatives would
    #: be third ones of expm/logm (issue 16): only in programs whose tests take gradients
    first_order: bool = False


def _var(ctx: Ctx, shape, props=()) -> T:
    names = var_names(shape, props)
    name = ctx.draw(st.sampled_from(names))
    ctx.decls[name] = decl_text(shape, props)
    lb = 0.5 if "positive" in props else None
    return T(name, _entry_bound(props), lb, atomic=True)


# --- leaves -------------------------------------------------------------------------------

NUMBERS = [("2", 2.0), ("3", 3.0), ("0.5", 0.5), ("1.5", 1.5), ("1e-1", 0.1), (".25", 0.25),
           ("2E0", 2.0), ("1", 1.0)]


def leaf(ctx: Ctx, shape) -> T:
    r, c = shape
    draw = ctx.draw
    options = ["var"]
    if r != c:
        options.append("transposed var")
    if r == c and len(r) == 1:
        options += ["symmetric", "diagonal", "eye"]
    if not r and not c:
        options += ["number", "positive scalar"]
        if ctx.allow_dims:
            options.append("dimension")
    if shape == (("n",), ()):
        options.append("positive vector")
    lets = [t for (name, s, t) in ctx.lets if s == shape]
    if lets:
        options.append("let")
    kind = draw(st.sampled_from(options))
    if kind == "var":
        return _var(ctx, shape)
    if kind == "transposed var":
        t = _var(ctx, (c, r))
        return T(t.text + draw(st.sampled_from(["'", "ᵀ"])), t.bound, t.lb, atomic=True)
    if kind == "symmetric":
        props = draw(st.sampled_from([("symmetric",), ("diagonal",)] if r != ("n",) else
                                     [("symmetric",), ("diagonal",), ("spd",)]))
        if r == ("m",) and props != ("spd",):
            return _var(ctx, shape)
        return _var(ctx, shape, props)
    if kind == "diagonal":
        return _var(ctx, shape, ("diagonal",)) if r == ("n",) else _var(ctx, shape, ("spd",))
    if kind == "eye":
        ctx.dims_as_scalars.add(r[0])    # a declared variable must carry the dimension
        return T(f"eye({dim_text(r)})", 1.0, atomic=True)
    if kind == "number":
        text, value = draw(st.sampled_from(NUMBERS))
        return T(text, value, value, atomic=True)
    if kind == "positive scalar":
        return _var(ctx, shape, ("positive",))
    if kind == "positive vector":
        return _var(ctx, shape, ("positive",))
    if kind == "dimension":
        name = draw(st.sampled_from(DIM_NAMES))
        ctx.dims_as_scalars.add(name)
        return T(name, float(MAX_DIM), 1.0, atomic=True)
    # a let-bound name
    t = draw(st.sampled_from(lets))
    return t


# --- taming -------------------------------------------------------------------------------


def tame(ctx: Ctx, t: T, limit: float) -> T:
    """``t`` itself if its entries are bounded by ``limit``, else squashed or scaled."""
    if t.bound <= limit:
        return t
    # squashing by sin would make a large argument oscillate: tanh and arctan do not
    how = ctx.draw(st.sampled_from(["tanh", "scale", "arctan"] if t.bound < 1e12 else
                                   ["tanh", "arctan"]))
    if how == "scale":
        k = max(1, math.ceil(math.log2(t.bound / limit)))
        return T(f"{t.par()}/{2 ** k}", t.bound / 2 ** k, t.lb / 2 ** k if t.lb else None)
    return T(f"{how}({t.text})", 1.6, atomic=True)


# --- the generators -----------------------------------------------------------------------


def gen(ctx: Ctx, shape, depth: int, root: bool = False) -> T:
    """A well-shaped expression of ``shape`` with nesting at most ``depth``."""
    draw = ctx.draw
    if depth <= 0:
        return leaf(ctx, shape)
    # 0 (what shrinking moves to) is a leaf, except at the root: a whole program is never
    # a bare leaf.  The leaf probability grows near the bottom.
    if not root and draw(st.integers(0, 9)) < (1 if depth > 3 else 3 if depth > 1 else 5):
        return leaf(ctx, shape)
    r, c = shape
    options = ["neg", "add", "sub", "scale", "elementwise", "transpose", "product",
               "hadamard", "divide", "power"]
    if r or c:
        options += ["broadcast number", "broadcast scalar", "ediv", "softmax"]
    if r == c:
        options += ["inv", "matrix power", "spd", "triangle", "chol", "sqrtm", "expm or logm"]
        if len(r) == 1:
            options.append("spectral")
        if r:
            options.append("diag of vector")
    if not c:
        options.append("vec")
        options.append("diag of matrix")
        if len(r) == 1:
            options.append("spectral")
    if any(sa != ((), ()) and sb != ((), ()) for sa, sb in _kron_splits(shape)):
        options.append("kron")
    if r and c:
        options.append("unvec")
    if not c:
        options.append("part")
    options.append("sylvester")
    if not c and len(r) >= 2:
        options.append("commutation")
    if not r and not c:
        options += ["sum", "mean", "trace", "det", "logdet", "norm1", "norm2", "logsumexp",
                    "quadratic form", "duplication", "spectral"]
        if ctx.allow_kinks:
            options.append("extremum")
        if ctx.first_order:
            options.append("frechet")
    kind = draw(st.sampled_from(options))
    return PRODUCTIONS[kind](ctx, shape, depth - 1)


def _kron_splits(shape):
    r, c = shape
    return [((r1, c1), (r2, c2)) for r1, r2 in splits(r) for c1, c2 in splits(c)]


def _neg(ctx, shape, d):
    t = gen(ctx, shape, d)
    return T(f"-{t.par()}", t.bound)


def _add(ctx, shape, d, op="+"):
    a, b = gen(ctx, shape, d), gen(ctx, shape, d)
    lb = a.lb + b.lb if op == "+" and a.lb and b.lb else None
    return T(f"{a.text} {op} {b.par() if op == '-' else b.text}", _b(a.bound + b.bound), lb)


def _sub(ctx, shape, d):
    return _add(ctx, shape, d, "-")


def _scale(ctx, shape, d):
    s = tame(ctx, gen(ctx, ((), ()), d), 6)
    t = tame(ctx, gen(ctx, shape, d), LIMIT)
    lb = s.lb * t.lb if s.lb and t.lb else None
    if ctx.draw(st.booleans()):
        return T(f"{s.par()}*{t.par()}", _b(s.bound * t.bound), lb)
    return T(f"{t.par()}*{s.par()}", _b(s.bound * t.bound), lb)


def _broadcast_number(ctx, shape, d):
    t = gen(ctx, shape, d)
    text, value = ctx.draw(st.sampled_from(NUMBERS))
    if ctx.draw(st.booleans()):
        return T(f"{text} - {t.par()}", _b(value + t.bound))
    return T(f"{t.text} + {text}", _b(value + t.bound), t.lb + value if t.lb else None)


def _broadcast_scalar(ctx, shape, d):
    t = gen(ctx, shape, d)
    s = gen(ctx, ((), ()), d)
    ones = "vector(1)" if not shape[1] else "matrix(1)"
    lb = t.lb + s.lb if t.lb and s.lb else None
    return T(f"{t.text} + {s.par()}*{ones}", _b(t.bound + s.bound), lb)


def _elementwise(ctx, shape, d):
    draw = ctx.draw
    fns = ["sin", "cos", "tanh", "arctan", "sigmoid", "exp", "sinh", "cosh", "tan", "arcsin",
           "arccos", "log", "sqrt", "softplus", "log1p", "expm1", "silu", "softsign", "elu",
           "erf", "gelu"]
    if ctx.allow_kinks:
        fns += ["abs", "relu", "sign", "max", "min", "leaky_relu", "ismax", "ismin"]
    fn = draw(st.sampled_from(fns))
    if fn == "leaky_relu":
        t = gen(ctx, shape, d)
        return T(f"leaky_relu({t.text}, 1/5)", t.bound, atomic=True)
    if fn in ("max", "min"):          # entrywise, of two arrays of one shape
        a, b = gen(ctx, shape, d), gen(ctx, shape, d)
        return T(f"{fn}({a.text}, {b.text})", max(a.bound, b.bound), atomic=True)
    if fn == "log1p":
        p = positive(ctx, shape, d)
        return T(f"log1p({p.text})", math.log1p(p.bound), math.log1p(p.lb), atomic=True)
    if fn in ("log", "sqrt"):
        p = positive(ctx, shape, d)
        if fn == "log":
            return T(f"log({p.text})", max(abs(math.log(max(p.bound, 1e-300))),
                                             abs(math.log(p.lb))), atomic=True)
        return T(f"sqrt({p.text})", math.sqrt(p.bound), math.sqrt(p.lb), atomic=True)
    t = gen(ctx, shape, d)
    if fn in ("sin", "cos"):          # a huge argument would oscillate faster than h
        t = tame(ctx, t, 30)
    if fn in ("sin", "cos", "tanh", "sign"):
        return T(f"{fn}({t.text})", 1.0, atomic=True)
    if fn == "arctan":
        return T(f"arctan({t.text})", 1.6, atomic=True)
    if fn == "sigmoid":
        t = tame(ctx, t, 30)
        return T(f"sigmoid({t.text})", 1.0, 1 / (1 + _exp(t.bound)), atomic=True)
    if fn in ("silu", "elu"):         # |silu(x)| <= |x|, elu(x) >= -1
        t = tame(ctx, t, 30)
        return T(f"{fn}({t.text})", t.bound + 1, atomic=True)
    if fn in ("softsign", "erf", "ismax", "ismin"):
        return T(f"{fn}({t.text})", 1.0, atomic=True)
    if fn == "gelu":                  # |gelu(x)| <= |x|
        t = tame(ctx, t, 30)
        return T(f"gelu({t.text})", t.bound, atomic=True)
    if fn == "softplus":
        t = tame(ctx, t, 30)
        return T(f"softplus({t.text})", t.bound + 1, math.log1p(_exp(-t.bound)), atomic=True)
    if fn == "expm1":
        t = tame(ctx, t, 3)
        return T(f"expm1({t.text})", _exp(t.bound), atomic=True)
    if fn in ("exp", "sinh", "cosh"):
        t = tame(ctx, t, 3)
        lb = _exp(-t.bound) if fn == "exp" else 1.0 if fn == "cosh" else None
        return T(f"{fn}({t.text})", _exp(t.bound), lb, atomic=True)
    if fn == "tan":
        if t.bound > 1.2:
            t = T(f"tanh({t.text})", 1.0, atomic=True)
        return T(f"tan({t.text})", math.tan(t.bound), atomic=True)
    if fn in ("arcsin", "arccos"):
        return T(f"{fn}(tanh({t.text})/2)", 3.2, atomic=True)
    # abs, relu: kinks only on a measure-zero set
    return T(f"{fn}({t.text})", t.bound, atomic=True)


def _transpose(ctx, shape, d):
    r, c = shape
    t = gen(ctx, (c, r), d)
    return T(t.par() + ctx.draw(st.sampled_from(["'", "'", "ᵀ"])), t.bound, t.lb, atomic=True)


def _product(ctx, shape, d):
    r, c = shape
    k = ctx.draw(st.sampled_from(SIMPLE_DIMS))
    lim = math.sqrt(LIMIT * 4 / dim_size(k))
    a = tame(ctx, gen(ctx, (r, k), d), lim)
    b = tame(ctx, gen(ctx, (k, c), d), lim)
    return T(f"{a.par()}*{b.par()}", _b(dim_size(k) * a.bound * b.bound))


def _quadratic_form(ctx, shape, d):
    k = ctx.draw(st.sampled_from(SIMPLE_DIMS[1:]))
    j = ctx.draw(st.sampled_from(SIMPLE_DIMS[1:]))
    u = tame(ctx, gen(ctx, (k, ()), d), 5)
    a = tame(ctx, gen(ctx, (k, j), d), 5)
    v = tame(ctx, gen(ctx, (j, ()), d), 5)
    return T(f"{u.par()}'*{a.par()}*{v.par()}", _b(dim_size(k) * dim_size(j) * 125))


def _hadamard(ctx, shape, d):
    a = tame(ctx, gen(ctx, shape, d), LIMIT)
    b = tame(ctx, gen(ctx, shape, d), LIMIT)
    op = ctx.draw(st.sampled_from([".*", "⊙"]))
    lb = a.lb * b.lb if a.lb and b.lb else None
    return T(f"{a.par()} {op} {b.par()}", _b(a.bound * b.bound), lb)


def _divide(ctx, shape, d):
    t = gen(ctx, shape, d)
    p = positive(ctx, ((), ()), d)
    return T(f"{t.par()}/{p.par()}", _b(t.bound / p.lb), t.lb / p.bound if t.lb else None)


def _ediv(ctx, shape, d):
    t = gen(ctx, shape, d)
    p = positive(ctx, shape, d)
    return T(f"{t.par()} ./ {p.par()}", _b(t.bound / p.lb), t.lb / p.bound if t.lb else None)


def _power(ctx, shape, d):
    """Elementwise (or scalar) powers: integer exponents of anything, any exponent of a
    positive base."""
    draw = ctx.draw
    scalar = not shape[0] and not shape[1]
    op = "^" if scalar and draw(st.booleans()) else ".^"
    if draw(st.booleans()):
        k = draw(st.sampled_from([2, 3]))
        t = tame(ctx, gen(ctx, shape, d), LIMIT ** (1 / k))
        lb = t.lb ** k if t.lb else None
        return T(f"{t.par()}{op}{k}", _b(t.bound ** k), lb)
    p = positive(ctx, shape, d)
    p = tame(ctx, p, 10) if p.bound > 10 else p
    if p.lb is None:        # tamed by tanh or sin: no longer known positive
        p = positive(ctx, shape, 0)
    choice = draw(st.sampled_from(["0.5", "-1", "-0.5", "1.5", "(-2)", "-2", "scalar"]))
    if choice == "scalar":
        s = tame(ctx, gen(ctx, ((), ()), d), 1.5)
        e, emax = s.par(), s.bound
    else:
        e, emax = choice, abs(float(choice.strip("()")))
    bound = max(p.bound ** emax, p.lb ** -emax) if p.lb > 0 else BIG
    return T(f"{p.par()}{op}{e}", _b(bound), min(p.bound ** -emax, p.lb ** emax))


def _broadcast_and_softmax(ctx, shape, d):
    t = tame(ctx, gen(ctx, shape, d), 3)
    return T(f"softmax({t.text})", 1.0, _exp(-2 * t.bound) / shape_size(shape), atomic=True)


def spd(ctx: Ctx, dim: tuple, d: int) -> T:
    """A symmetric positive definite dim×dim matrix: B*B' + eye or a declared one."""
    draw = ctx.draw
    options = ["gram", "gram transposed"]
    if dim in (("n",), ("m",)):
        options.append("declared")
    how = draw(st.sampled_from(options))
    if how == "declared":
        return _var(ctx, (dim, dim), ("spd",))
    k = draw(st.sampled_from(SIMPLE_DIMS))
    if how == "gram":
        b = tame(ctx, gen(ctx, (dim, k), max(d - 1, 0)), 1.0)
        text = f"{b.par()}*{b.par()}'"
    else:
        b = tame(ctx, gen(ctx, (k, dim), max(d - 1, 0)), 1.0)
        text = f"{b.par()}'*{b.par()}"
    if not dim:     # 1×1: eye would be unsized (a ShapeError), the number 1 is the identity
        eye = "1"
    else:
        eye = draw(st.sampled_from(["eye"] + ([f"eye({dim_text(dim)})"] if len(dim) == 1 else [])))
        if eye != "eye":
            ctx.dims_as_scalars.add(dim[0])
    return T(f"{text} + {eye}", 1 + dim_size(k) * b.bound ** 2, None)


def _spd_matrix(ctx, shape, d):
    return spd(ctx, shape[0], d)


def _inv(ctx, shape, d):
    s = spd(ctx, shape[0], d)
    if ctx.draw(st.booleans()):
        return T(f"inv({s.text})", 1.0, atomic=True)
    return T(f"{s.par()}^-1", 1.0)


def _triangle(ctx, shape, d):
    t = gen(ctx, shape, d)
    return T(f"{ctx.draw(st.sampled_from(['tril', 'triu']))}({t.text})", t.bound, atomic=True)


def _chol(ctx, shape, d):
    s = spd(ctx, shape[0], d)       # |L_ij| <= sqrt(S_ii)
    return T(f"chol({s.text})", _b(math.sqrt(s.bound) + 1.0), atomic=True)


def _sqrtm(ctx, shape, d):
    s = spd(ctx, shape[0], d)       # eigenvalues in [1, size*bound]
    return T(f"sqrtm({s.text})", _b(math.sqrt(5 * s.bound) + 1.0), atomic=True)


def _sylvester(ctx, shape, d):
    """sylvester(S1, S2, C) with S1, S2 >= I: |Y| <= |C|/2 in the spectral norm."""
    a, b = spd(ctx, shape[0], max(d - 1, 0)), spd(ctx, shape[1], max(d - 1, 0))
    c = gen(ctx, shape, d)
    return T(f"sylvester({a.text}, {b.text}, {c.text})", _b(5 * c.bound), atomic=True)


def _expm_or_logm(ctx, shape, d):
    if ctx.draw(st.booleans()):
        m = tame(ctx, gen(ctx, shape, d), 0.2)      # |expm(M)| <= e^(5*0.2)
        return T(f"expm({m.text})", _b(math.e), atomic=True)
    s = spd(ctx, shape[0], d)                       # eigenvalues >= 1
    return T(f"logm({s.text})", _b(abs(math.log(5 * s.bound)) + 1.0), atomic=True)


def _generic_square(ctx, dim, d) -> T:
    """A declared matrix plus a small generated perturbation: generic, so the symmetric
    part's eigenvalues and the singular values are distinct and nonzero (the checker
    draws again where they are close)."""
    m = _var(ctx, (dim, dim))
    t = tame(ctx, gen(ctx, (dim, dim), d), 0.1)
    return T(f"{m.text} + {t.par()}", _b(m.bound + 0.1))


def _spectral(ctx, shape, d):
    """eigvals/eigvecs/svd*/gapinv of a generic square matrix (issue 17), normnuc and
    normspec for a scalar."""
    r, c = shape
    if not r and not c:
        dim = ctx.draw(st.sampled_from(SIMPLE_DIMS[1:]))
        m = _generic_square(ctx, dim, d)
        fn = ctx.draw(st.sampled_from(["normnuc", "normspec"]))
        return T(f"{fn}({m.text})", _b(dim_size(dim) * m.bound), atomic=True)
    dim = r
    m = _generic_square(ctx, dim, d)
    size = dim_size(dim) * m.bound
    if not c:
        fn = ctx.draw(st.sampled_from(["eigvals", "svdvals", "svdu1", "svdv1"]))
        return T(f"{fn}({m.text})", _b(size if fn.endswith("vals") else 1.0), atomic=True)
    fn = ctx.draw(st.sampled_from(["eigvecs", "svdu", "svdv", "gapinv"]))
    if fn == "gapinv":      # entries <= 32: the checker keeps gaps >= max/31
        return T(f"gapinv(eigvals({m.text}))", 32.0, atomic=True)
    return T(f"{fn}({m.text})", 1.0, atomic=True)


def _frechet(ctx, shape, d):
    """sum(L(M, V)) for the Fréchet derivatives of expm and logm as inputs: their second
    derivative in M would be a third one of expm/logm (gradients only, ``Ctx``)."""
    draw = ctx.draw
    dim = draw(st.sampled_from(SIMPLE_DIMS[1:]))
    if draw(st.booleans()):
        m = tame(ctx, gen(ctx, (dim, dim), d), 0.2)
        kind, inner, bound = "expm_frechet", m.text, math.e
    else:
        s = spd(ctx, dim, d)
        kind, inner, bound = "logm_frechet", s.text, 1.0    # |L_log(S, V)| <= |V| for S >= I
    v = gen(ctx, (dim, dim), max(d - 1, 0))
    return T(f"sum({kind}({inner}, {v.text}))", _b(125 * bound * v.bound), atomic=True)


def _matrix_power(ctx, shape, d):
    draw = ctx.draw
    k = draw(st.sampled_from([2, 3, -1, -2]))
    if k > 0:
        t = tame(ctx, gen(ctx, shape, d), 3)
        return T(f"{t.par()}^{k}", _b(dim_size(shape[0]) ** (k - 1) * t.bound ** k))
    s = spd(ctx, shape[0], d)
    return T(f"{s.par()}^({k})" if draw(st.booleans()) else f"{s.par()}^{k}", 1.0)


def _diag_of_vector(ctx, shape, d):
    v = gen(ctx, (shape[0], ()), d)
    return T(f"diag({v.text})", v.bound, atomic=True)


def _diag_of_matrix(ctx, shape, d):
    m = gen(ctx, (shape[0], shape[0]), d)
    return T(f"diag({m.text})", m.bound, m.lb, atomic=True)


def _vec(ctx, shape, d):
    r1, r2 = ctx.draw(st.sampled_from(splits(shape[0])))
    t = gen(ctx, (r1, r2), d)
    return T(f"vec({t.text})", t.bound, t.lb, atomic=True)


def _kron(ctx, shape, d):
    options = [s for s in _kron_splits(shape) if s[0] != ((), ()) and s[1] != ((), ())]
    sa, sb = ctx.draw(st.sampled_from(options))
    a = tame(ctx, gen(ctx, sa, d), LIMIT)
    b = tame(ctx, gen(ctx, sb, d), LIMIT)
    lb = a.lb * b.lb if a.lb and b.lb else None
    if ctx.draw(st.booleans()):
        return T(f"kron({a.text}, {b.text})", _b(a.bound * b.bound), lb, atomic=True)
    return T(f"{a.par()} ⊗ {b.par()}", _b(a.bound * b.bound), lb)


def _unvec(ctx, shape, d):
    r, c = shape
    v = gen(ctx, (dmul(r, c), ()), d)
    ctx.dims_as_scalars.update(r + c)
    return T(f"unvec({v.text}, {dim_text(r)}, {dim_text(c)})", v.bound, v.lb, atomic=True)


def _commutation(ctx, shape, d):
    """commutation(m, n)*vec(A) = vec(A') for an m×n A."""
    options = [s for s in splits(shape[0]) if s[0] and s[1]]
    r1, r2 = ctx.draw(st.sampled_from(options))
    t = gen(ctx, (r1, r2), d)
    ctx.dims_as_scalars.update(r1 + r2)
    return T(f"commutation({dim_text(r1)}, {dim_text(r2)})*vec({t.text})", t.bound, t.lb)


def _duplication(ctx, shape, d):
    """sum(duplication(n)'*vec(M)): the sum over the lower triangle of M + M' - diag."""
    m = gen(ctx, (("n",), ("n",)), d)
    ctx.dims_as_scalars.add("n")
    return T(f"sum(duplication(n)'*vec({m.text}))",
             _b(2 * m.bound * dim_size(("n",)) ** 2), atomic=True)


def _any_shape(ctx):
    return ctx.draw(st.sampled_from(ROOT_SHAPES["vector"] + ROOT_SHAPES["matrix"]))


def _sum(ctx, shape, d):
    s = _any_shape(ctx)
    t = gen(ctx, s, d)
    return T(f"sum({t.text})", _b(shape_size(s) * t.bound), shape_size(s) * t.lb if t.lb else None,
             atomic=True)


def _trace(ctx, shape, d):
    dim = ctx.draw(st.sampled_from(SIMPLE_DIMS[1:]))
    t = gen(ctx, (dim, dim), d)
    return T(f"tr({t.text})", _b(dim_size(dim) * t.bound), atomic=True)


def _det(ctx, shape, d):
    dim = ctx.draw(st.sampled_from(SIMPLE_DIMS[1:]))
    s = spd(ctx, dim, d)
    return T(f"det({s.text})", _b(s.bound ** dim_size(dim) * dim_size(dim)), 1.0 if "eye" in s.text else
             0.01, atomic=True)


def _logdet(ctx, shape, d):
    dim = ctx.draw(st.sampled_from(SIMPLE_DIMS[1:]))
    s = spd(ctx, dim, d)
    return T(f"logdet({s.text})", _b(dim_size(dim) * (abs(math.log(s.bound * dim_size(dim))) + 5)),
             atomic=True)


def _norm1(ctx, shape, d):
    s = _any_shape(ctx)
    t = gen(ctx, s, d)
    return T(f"norm1({t.text})", _b(shape_size(s) * t.bound), atomic=True)


def _norm2(ctx, shape, d):
    s = _any_shape(ctx)
    if ctx.draw(st.booleans()):
        t = gen(ctx, s, d)
        return T(f"norm2({t.text})^2", _b(shape_size(s) * t.bound ** 2))
    p = positive(ctx, s, d)
    return T(f"norm2({p.text})", _b(math.sqrt(shape_size(s)) * p.bound), p.lb, atomic=True)


def _mean(ctx, shape, d):
    t = gen(ctx, _any_shape(ctx), d)
    return T(f"mean({t.text})", t.bound, t.lb, atomic=True)


def _logsumexp(ctx, shape, d):
    s = _any_shape(ctx)
    t = gen(ctx, s, d)
    return T(f"logsumexp({t.text})", _b(t.bound + math.log(shape_size(s))), atomic=True)


def _part(ctx, shape, d):
    """A column of a matrix (X[:, 1]) or an entry of a vector (x[n]): the first or the
    last, which exist at every size."""
    r, _ = shape
    k = ctx.draw(st.sampled_from(SIMPLE_DIMS[1:]))
    i = ctx.draw(st.sampled_from(["1", dim_text(k)]))
    if r:
        t = gen(ctx, (r, k), d)
        return T(f"{t.par()}[:, {i}]", t.bound, t.lb)
    t = gen(ctx, (k, ()), d)
    return T(f"{t.par()}[{i}]", t.bound, t.lb)


def _extremum(ctx, shape, d):
    """max(X) or min(X), whose gradient is the indicator ismax/ismin."""
    t = gen(ctx, _any_shape(ctx), d)
    return T(f"{ctx.draw(st.sampled_from(['max', 'min']))}({t.text})", t.bound, atomic=True)


PRODUCTIONS = {
    "neg": _neg, "add": _add, "sub": _sub, "scale": _scale, "elementwise": _elementwise,
    "transpose": _transpose, "product": _product, "hadamard": _hadamard, "divide": _divide,
    "power": _power, "broadcast number": _broadcast_number,
    "broadcast scalar": _broadcast_scalar, "ediv": _ediv, "softmax": _broadcast_and_softmax,
    "inv": _inv, "matrix power": _matrix_power, "spd": _spd_matrix, "triangle": _triangle,
    "chol": _chol, "sqrtm": _sqrtm, "sylvester": _sylvester, "expm or logm": _expm_or_logm,
    "frechet": _frechet, "spectral": _spectral,
    "diag of vector": _diag_of_vector, "diag of matrix": _diag_of_matrix, "vec": _vec,
    "kron": _kron, "sum": _sum, "trace": _trace, "det": _det, "logdet": _logdet,
    "norm1": _norm1, "norm2": _norm2, "logsumexp": _logsumexp, "mean": _mean,
    "extremum": _extremum, "part": _part, "quadratic form": _quadratic_form, "unvec": _unvec, "commutation": _commutation,
    "duplication": _duplication,
}


def positive(ctx: Ctx, shape, depth: int) -> T:
    """An expression of ``shape`` whose entries are positive (bounded away from 0)."""
    draw = ctx.draw
    scalar = not shape[0] and not shape[1]
    options = ["exp", "one plus square", "declared", "sigmoid", "cosh", "softplus"]
    if depth > 0:
        options += ["sum", "product", "sqrt"]
        if not scalar:
            options.append("softmax")
        if scalar:
            options += ["det", "trace of spd", "norm2"]
    how = draw(st.sampled_from(options))
    d = depth - 1
    if how == "declared":
        if scalar:
            return _var(ctx, shape, ("positive",))
        if shape in ((("n",), ()), (("n",), ("m",))):
            return _var(ctx, shape, ("positive",))
        how = "exp"
    if how == "exp":
        t = tame(ctx, gen(ctx, shape, max(d, 0)), 3)
        return T(f"exp({t.text})", _exp(t.bound), _exp(-t.bound), atomic=True)
    if how == "cosh":
        t = tame(ctx, gen(ctx, shape, max(d, 0)), 3)
        return T(f"cosh({t.text})", _exp(t.bound), 1.0, atomic=True)
    if how == "one plus square":
        t = tame(ctx, gen(ctx, shape, max(d, 0)), 5)
        return T(f"1 + {t.par()}.^2", 1 + t.bound ** 2, 1.0)
    if how == "sigmoid":
        t = tame(ctx, gen(ctx, shape, max(d, 0)), 4)
        return T(f"sigmoid({t.text})", 1.0, 1 / (1 + _exp(t.bound)), atomic=True)
    if how == "softplus":
        t = tame(ctx, gen(ctx, shape, max(d, 0)), 4)
        return T(f"softplus({t.text})", t.bound + 1, math.log1p(_exp(-t.bound)), atomic=True)
    if how == "sum":
        a, b = positive(ctx, shape, d), positive(ctx, shape, d)
        return T(f"{a.text} + {b.text}", a.bound + b.bound, a.lb + b.lb)
    if how == "product":
        a, b = positive(ctx, shape, d), positive(ctx, shape, d)
        op = "*" if scalar else ctx.draw(st.sampled_from([".*", "⊙"]))
        return T(f"{a.par()}{op}{b.par()}", a.bound * b.bound, a.lb * b.lb)
    if how == "sqrt":
        a = positive(ctx, shape, d)
        return T(f"sqrt({a.text})", math.sqrt(a.bound), math.sqrt(a.lb), atomic=True)
    if how == "softmax":
        return _broadcast_and_softmax(ctx, shape, d)
    if how == "det":
        dim = draw(st.sampled_from(SIMPLE_DIMS[1:]))
        s = spd(ctx, dim, d)
        t = T(f"det({s.text})", _b(s.bound ** dim_size(dim) * 24), 1e-3, atomic=True)
        return tame(ctx, t, 1e6) if t.bound > 1e6 else t
    if how == "trace of spd":
        dim = draw(st.sampled_from(SIMPLE_DIMS[1:]))
        s = spd(ctx, dim, d)
        return T(f"tr({s.text})", _b(dim_size(dim) * s.bound), 0.5, atomic=True)
    # norm2 of a positive array
    s = _any_shape(ctx)
    p = positive(ctx, s, d)
    return T(f"norm2({p.text})", _b(math.sqrt(shape_size(s)) * p.bound), p.lb, atomic=True)


# --- programs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A generated program: ``text`` (with its declarations unless they travel in
    ``symbols``), the body's kind and shape, and the declared variables."""

    text: str
    symbols: dict | None
    kind: str
    shape: tuple
    variables: tuple
    bound: float

    def __repr__(self) -> str:   # what Hypothesis prints for a falsifying example
        extra = f", symbols={self.symbols!r}" if self.symbols else ""
        return f"Program({self.text!r}{extra})"


@st.composite
def programs(draw, kind: str = "scalar", max_depth: int = 5, max_lets: int = 2,
             allow_kinks: bool = True, allow_dims: bool = True,
             first_order: bool = False) -> Program:
    """A random program whose body has ``kind`` (``scalar``, ``vector`` or ``matrix``),
    nested at most ``max_depth`` levels (plus the bounded wrappers that keep it safe);
    ``first_order`` adds the functions mdiff differentiates only once (``Ctx``)."""
    ctx = Ctx(draw, max_depth, allow_kinks=allow_kinks, allow_dims=allow_dims,
              first_order=first_order)
    lets = []
    for i in range(draw(st.integers(0, max_lets))):
        shape = draw(st.sampled_from(ROOT_SHAPES[draw(st.sampled_from(list(ROOT_SHAPES)))]))
        t = gen(ctx, shape, draw(st.integers(1, max(1, max_depth - 2))))
        name = draw(st.sampled_from([f"h{i + 1}", f"z_{i + 1}", f"t{i + 1}", f"e{i + 1}", f"ℓ{i + 1}"]))
        if any(name == n for n, _, _ in ctx.lets):
            name = f"h{i + 1}"
        lets.append(f"{name} = {t.text}")
        ctx.lets.append((name, shape, T(name, t.bound, t.lb, atomic=True)))
    shape = draw(st.sampled_from(ROOT_SHAPES[kind]))
    body = gen(ctx, shape, max_depth, root=True)
    # a dimension used as a scalar or in eye(n) must be carried by a declared variable
    # (see test_properties.test_dimension_only_in_eye_round_trips for why)
    for name in sorted(ctx.dims_as_scalars):
        if not any(name in re.findall(r"\w+", spec) for spec in ctx.decls.values()):
            ctx.decls["x" if name == "n" else "u"] = decl_text(((name,), ()))
    decls = [f"{n}: {spec}" for n, spec in sorted(ctx.decls.items())]
    sep = draw(st.sampled_from(["; ", "\n", ";\n"]))
    inline = draw(st.booleans())
    parts = (decls if inline else []) + lets + [body.text]
    text = sep.join(parts)
    symbols = None if inline else dict(sorted(ctx.decls.items()))
    return Program(text, symbols, kind, shape, tuple(sorted(ctx.decls)), body.bound)


def check_dims(parsed, sizes: dict) -> dict:
    """``{Symbol: size}`` for ``Derivative.check(dims=...)`` from ``{"n": 3, ...}``,
    using the dimension symbols the parsed program really has."""
    out = {}
    for v in parsed.variables.values():
        for d in v.shape:
            for s in Dim.of(d).free_symbols:
                if s.name in sizes:
                    out[s] = sizes[s.name]
    return out


#: Dimension sizes for a check (n and m drawn independently; 1 is an edge case).
dim_sizes = st.fixed_dictionaries({"n": st.integers(1, MAX_DIM), "m": st.integers(1, MAX_DIM)})


# --- Hypothesis profiles --------------------------------------------------------------------

#: Per-test wall-clock budget (seconds) of each profile; ``None``: no time box.  The
#: ``long`` one may be changed with ``MDIFF_HYPOTHESIS_TIME_BOX=seconds``.
TIME_BOX = {"ci": None, "long": float(os.environ.get("MDIFF_HYPOTHESIS_TIME_BOX", 20 * 60))}


def register_profiles() -> None:
    """``ci`` (the default of the property tests): 300 examples per property, no deadline,
    derandomized, so that CI's verdict depends on the code and not on the draw.
    ``long``: 10,000 random examples, each property time-boxed to ``TIME_BOX["long"]``
    seconds; ``explore``: 300 random examples, for a quick look beyond CI's fixed ones.

    They are registered when this module is imported, so
    ``python -m pytest -p tests.strategies --hypothesis-profile=long`` works (Hypothesis'
    plugin loads the profile before test modules are imported, so the profile must be
    registered by then); ``MDIFF_HYPOTHESIS_PROFILE=long python -m pytest`` works too."""
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                        HealthCheck.data_too_large])
    settings.register_profile("ci", max_examples=300, derandomize=True, **common)
    settings.register_profile("explore", max_examples=300, **common)
    settings.register_profile("long", max_examples=10_000, **common)


def use_profile() -> str:
    """Load ``ci`` unless a profile was chosen (``--hypothesis-profile`` or the
    ``MDIFF_HYPOTHESIS_PROFILE`` environment variable); return the profile's name."""
    if settings.get_current_profile_name() == "default":
        settings.load_profile(os.environ.get("MDIFF_HYPOTHESIS_PROFILE", "ci"))
    return settings.get_current_profile_name()


register_profiles()     # on import, so conftest.py has them before --hypothesis-profile
