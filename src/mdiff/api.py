"""The Python interface (DESIGN §4): thin functions over the language, the calculus and
the printers."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from .core import expr as E
from .numeric.check import (CheckReport, fd_check, narrowed_note, relative_error, sample_point,
                            structure_basis)
from .calculus.diff import (CONVENTIONS, differential as _differential, gradients as _sweep,
                            jacobian as _jacobian, project_gradient, project_jacobian, structure_of)
from .errors import DiffError, LimitError, MdiffError, ShapeError
from .numeric.evaluate import Env, evaluate, make_function, to_user_layout
from .core.expr import Expr
from .language import Parsed, parse
from .calculus.indexed import IndexForm, NotIndexable, index_form
from .printing.code import py_name, to_code
from .printing.indices import index_latex, index_text
from .numeric.backends import compile_function
from .printing.latex import to_latex
from .printing.text import to_text
from .simplify.engine import Simplifier, simplify_fully


def _parsed(expr, symbols=None) -> Parsed:
    return expr if isinstance(expr, Parsed) else parse(expr, symbols)


def from_sympy(obj, symbols: dict | None = None) -> Parsed:
    """A SymPy matrix expression (``MatrixSymbol``, ``Trace``, ``Inverse``, ...) as a
    typed mdiff expression, ready for ``diff``; ``symbols`` may declare properties SymPy
    does not carry (``{"S": "matrix(n,n) spd"}``)."""
    from .language import parse_declaration
    from .interop.sympy import from_sympy as _from
    node = _from(obj, {n: parse_declaration(n, s).props for n, s in (symbols or {}).items()})
    variables = E.free_vars(node)
    dims = tuple(sorted(E.free_dims(node), key=lambda s: s.name))
    return Parsed(node, to_text(node), variables, {}, dims)


def function(expr, symbols: dict | None = None):
    """A numpy callable of the expression itself: ``f(A=..., x=...)``."""
    p = _parsed(expr, symbols)
    return make_function(p.expr, p.variables)


@dataclass(frozen=True)
class Derivative:
    """A derivative of ``f`` (first, Hessian, mixed or k-th).

    ``expr`` is the result as a matrix expression: the gradient (shape of X) for a
    scalar f, ``dF/dx`` (shape of F) for a scalar x, otherwise the Jacobian
    d vec(F)/d vec(X)' (DESIGN §3) — for a Hessian ``F`` is the gradient, for a mixed
    derivative the gradient wrt the first variable, for order k the (k-1)-th
    derivative.  ``of`` is that ``F`` (what ``check()`` differentiates numerically).
    """

    f: Parsed
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

    @property
    def shape(self):
        return self.layout_expr.shape

    @property
    def layout_expr(self) -> Expr:
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

    def __str__(self) -> str:
        form = self.index_form()
        if form is not None:
            return index_text(form, list(self.wrt_all), self.f.let_names())
        return to_text(self.expr, self.f.let_names())

    def index_form(self) -> IndexForm | None:
        """A third or higher derivative in index notation (it has no matrix form);
        None for lower orders, or where the Kronecker structure does not split into
        indices (then the vec-Jacobian matrix is printed, as ``kron()`` always is)."""
        return self._index_form

    @functools.cached_property
    def _index_form(self) -> IndexForm | None:
        if self.order < 3 or self.base is not None:
            return None
        try:
            with E.bounded_work():
                return index_form(self.expr, [self.f.variables[n] for n in self.wrt_all])
        except (NotIndexable, LimitError):    # the matrix form is printed instead
            return None

    def __repr__(self) -> str:
        """``mdiff.diff(...)`` text that recomputes this derivative."""
        wrt = list(self.wrt_all) if len(self.wrt_all) > 1 and len(set(self.wrt_all)) > 1 \
            else self.wrt
        extra = ""
        if self.order > 1 and len(set(self.wrt_all)) == 1:
            extra += f", order={self.order}"
        if self.base is not None and self.layout == "denominator":
            extra += ", convention='vech'"
        if self.layout != "denominator":
            extra += f", layout={self.layout!r}"
        return (f"mdiff.diff({str(self.f)!r}, wrt={wrt!r}, symbols={self.f.symbols()!r}"
                f"{extra})")

    def kron(self) -> str:
        """The vec/Kronecker form: for a gradient the row vec(G)'."""
        return to_text(self.jacobian_expr, self.f.let_names())

    @property
    @E.within_work_limits
    def steps(self) -> list:
        """The derivation, step by step (each a ``Step`` with ``.text`` and ``.latex``)."""
        from .printing.derivation import gradient_steps, jacobian_steps
        names = self.f.let_names()
        if self.order > 1:
            raise DiffError("steps are shown for first derivatives")
        if self.f.expr.is_scalar:
            return gradient_steps(self.f.expr, self.variable, self.expr, self.identities, names)
        return jacobian_steps(self.f.expr, self.variable, self.expr, self.identities, names)

    def to_sympy(self):
        """The result as SymPy matrix expressions (where SymPy can express it)."""
        from .interop.sympy import to_sympy
        return to_sympy(self.expr)

    def latex(self) -> str:
        """LaTeX of the result, as a careful author writes it."""
        form = self.index_form()
        if form is not None:
            return index_latex(form, list(self.wrt_all), self.f.let_names())
        return to_latex(self.expr, self.f.let_names())

    def _repr_latex_(self) -> str:
        return f"$$ {self.latex()} $$"

    def tensor_shape(self, layout: str = "vec") -> tuple:
        """Symbolic shape of a k-th derivative (k >= 3) from ``function(layout)``:
        (size X,)*k in the vec layout, X.shape*k in the tensor one (DESIGN §3); of any
        other derivative, its tensor layout F.shape + X.shape."""
        def user(e):
            return () if e.is_scalar else (e.rows,) if e.is_vector else e.shape
        if self.form == "tensor":
            x = self.variable
            return ((x.rows * x.cols,) if layout == "vec" else user(x)) * self.order
        if self.form == "gradient":
            return user(self.variable)
        f = self.of if self.of is not None else self.f.expr
        return user(f) + user(self.variable)

    def function(self, layout: str = "vec", backend: str | None = None):
        """numpy callable of the derivative: ``layout="vec"`` is DESIGN §3's
        d vec(F)/d vec(X)' (a k-th derivative is always a tensor), ``"tensor"`` has
        shape F.shape + X.shape.  All of f's variables may be passed; those the
        result needs are required.  ``backend`` ("numpy", "array_api_strict", "jax",
        "torch", "cupy", "dask") runs the generated code on that array library."""
        if layout not in ("vec", "tensor"):
            raise DiffError(f"layout must be 'vec' or 'tensor', not {layout!r}")
        if backend is not None and backend != "numpy-interpreter":
            if layout == "tensor" or self.form == "tensor":
                raise DiffError("the tensor layout is evaluated with numpy only (backend=None)")
            return compile_function(self.code(), backend)
        root = self.layout_expr
        variables = self.f.variables
        needed = E.free_vars(root)
        dim_names = {str(s) for s in E.free_dims(root)}
        tensor = layout == "tensor" or self.form == "tensor"
        tshape = self.tensor_shape(layout)

        def fn(**values):
            env = Env(values, variables, required=needed, dim_names=dim_names)
            out = evaluate(root, env)
            if tensor:
                return out.reshape(tuple(env.need(d) for d in tshape), order="F") \
                    if tshape else float(out[0, 0])
            return to_user_layout(root, out)

        fn.variables = tuple(variables)
        return fn

    def code(self, name: str | None = None) -> str:
        """Python source of a function computing the derivative (array API; see
        ``printing/code.py``), in the layout of ``function()``."""
        name = name or ("d_" + "_".join(py_name(n, "") for n in (self.wrt_all or (self.wrt,))))
        doc = f"d({_one_line(self.f.text)})/d{','.join(self.wrt_all or (self.wrt,))}: {self.form}"
        return to_code([self.layout_expr], self.f.variables, name, doc)

    def check(self, seed: int = 0, tolerance: float = 1e-6, dims: dict | None = None) -> CheckReport:
        """Compare with central finite differences at random points (a Hessian against
        differences of the gradient; a vech result through its sym-convention form)."""
        if self.base is not None:
            return self.base.check(seed=seed, tolerance=tolerance, dims=dims)
        of = self.of if self.of is not None else self.f.expr
        return fd_check(of, self.variable, self.jacobian_expr, self.f.variables,
                        seed=seed, tolerance=tolerance, dims=dims, domain=self.f.expr)

    def to_dict(self) -> dict:
        wrt = list(self.wrt_all) if len(self.wrt_all) > 1 else self.wrt
        return {"input": self.f.text, "wrt": wrt,
                "result": str(self), "form": self.form, "order": self.order,
                "shape": [E.fmt_dim(d) for d in self.shape], "kron": self.kron(),
                "latex": self.latex(), "code": self._code_or_none(),
                "convention": self.convention, "layout": LAYOUTS[self.layout],
                "variables": self.f.symbols(), "assumed": self.f.assumptions()}

    @property
    def kinds(self) -> dict:
        """Every variable's kind and shape as mdiff read them ({"beta": "vector(m)"});
        ``f.assumptions()`` lists those chosen between two valid readings."""
        return self.f.symbols()

    def _code_or_none(self):
        try:
            return self.code()
        except MdiffError:
            return None


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace('"', "'").replace("\\", "/")[:200]


def value_and_grad(expr, wrt, symbols: dict | None = None, backend: str = "numpy"):
    """One function computing f and its gradient(s), sharing their common work:
    ``fn(**values) -> (value, gradient)`` (a dict of gradients for a list of names)."""
    p = _parsed(expr, symbols)
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    grads = gradients(p, names)
    simp = Simplifier()
    roots = [simp(p.expr)] + [simp(grads[n].expr) for n in names]
    fn = compile_function(to_code(roots, p.variables, "value_and_grad",
                                  f"value and gradient of {_one_line(p.text)}"), backend)
    single = isinstance(wrt, str)

    def value_and_grad_fn(**values):
        out = fn(**values)
        return (out[0], out[1]) if single else (out[0], dict(zip(names, out[1:])))

    value_and_grad_fn.source = fn.source
    return value_and_grad_fn


def _variable(p: Parsed, name: str) -> Expr:
    if not isinstance(name, str):
        raise DiffError(f"wrt must be a variable name, got {name!r}")
    if name not in p.variables:
        known = ", ".join(p.variables) or "none"
        raise DiffError(f"{name!r} is not a variable of the expression (variables: {known})")
    return p.variables[name]


def _derivative(p: Parsed, name: str, grad: Expr | None = None) -> Derivative:
    raw = _raw_derivative(p, name, grad)
    result, applied = simplify_fully(raw.expr)
    return dataclasses.replace(raw, expr=result, identities=applied)


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


LAYOUTS = {
    "denominator": "DESIGN §3: gradient in the shape of X; Jacobian d vec(F)/d vec(X)'",
    "numerator": "numerator layout: gradient transposed (shape of X'); Jacobian d vec(F)/d vec(X)'",
}


def _to_layout(d: Derivative, layout: str) -> Derivative:
    if layout not in LAYOUTS:
        raise DiffError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if layout == "denominator" or d.form != "gradient":
        return dataclasses.replace(d, layout=layout) if layout != d.layout else d
    expr, more = _simplified(E.transpose(d.expr))
    return dataclasses.replace(d, expr=expr, layout=layout, base=d.base or d,
                               identities=d.identities + more)


@E.within_work_limits
def diff(expr, wrt, symbols: dict | None = None, order: int = 1,
         convention: str = "sym", layout: str = "denominator") -> Derivative:
    """See ``_diff``; ``layout="numerator"`` transposes gradients (textbook convention)."""
    return _to_layout(_diff(expr, wrt, symbols, order, convention), layout)


def _diff(expr, wrt, symbols: dict | None = None, order: int = 1,
          convention: str = "sym") -> Derivative:
    """The derivative of ``expr`` wrt ``wrt`` (DESIGN §3 layout).

    ``wrt`` is a name, or a list of names for a mixed derivative (d/dy of the gradient
    wrt x for ``["x", "y"]``); ``order=k`` takes the k-th derivative wrt one variable
    (2: the Hessian; k >= 3: a tensor of shape ``(n,)*k`` for a vector).
    ``convention="vech"`` gives symmetric variables the entry-wise convention."""
    p = _parsed(expr, symbols)
    names = [wrt] if isinstance(wrt, str) else list(wrt) if isinstance(wrt, (list, tuple)) else None
    if not names or not all(isinstance(n, str) for n in names):
        raise DiffError(f"wrt must be a variable name or a list of names, got {wrt!r}")
    if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= MAX_ORDER:
        raise DiffError(f"order must be an integer from 1 to {MAX_ORDER}, got {order!r}")
    if len(names) > 1:
        if order != 1:
            raise DiffError("give either several variables (mixed) or order=k, not both")
        return _higher(p, names, convention)
    if order == 1:
        d = _derivative(p, names[0])
        return _to_vech(d) if convention == "vech" else _convention_ok(d, convention)
    return _higher(p, names * order, convention)


def hessian(expr, wrt: str, symbols: dict | None = None, convention: str = "sym") -> Derivative:
    """d vec(grad f)/d vec(X)' of a scalar f (DESIGN §3; P*H*P for symmetric X)."""
    return diff(expr, wrt, symbols, order=2, convention=convention)


MAX_ORDER = 6


def _convention_ok(d: Derivative, convention: str) -> Derivative:
    if convention not in ("sym", "vech"):
        raise DiffError(f"convention must be 'sym' or 'vech', not {convention!r}")
    return d


def _simplified(expr: Expr):
    return simplify_fully(expr)


def _higher(p: Parsed, names: list, convention: str) -> Derivative:
    """Differentiate again and again: each step is the Jacobian of the previous result."""
    _convention_ok(None, convention)
    if not p.expr.is_scalar:
        raise DiffError("second and higher derivatives need a scalar function")
    first = _derivative(p, names[0])
    current, applied = first.expr, list(first.identities)
    of = current
    for k, name in enumerate(names[1:], start=2):
        var = _variable(p, name)
        of = current
        jac = project_jacobian(_jacobian(of, var), var)
        current, more = _simplified(jac)
        applied += [a for a in more if a not in applied]
    order = len(names)
    same = len(set(names)) == 1
    var = _variable(p, names[-1])
    if order == 2:
        form = "hessian" if same else "mixed"
    else:
        form = "tensor" if same else "mixed"
    kinds = {structure_of(_variable(p, n)) for n in names}
    kind = "symmetric" if "symmetric" in kinds else "diagonal" if "diagonal" in kinds else "general"
    d = Derivative(p, names[-1], current, form, CONVENTIONS[kind], tuple(applied), of,
                   tuple(names), order)
    return _to_vech(d) if convention == "vech" else d


def _to_vech(d: Derivative) -> Derivative:
    """The entry-wise (duplication-matrix) convention for symmetric variables."""
    names = d.wrt_all or (d.wrt,)
    if not any(structure_of(d.f.variables[n]) == "symmetric" for n in names):
        return d
    if d.form == "gradient":
        # 2*sym(G) - diag(diag(G)) = G + G' - diag(diag(G)) from the unprojected G
        g, _ = _simplified(_sweep(d.f.expr, {d.wrt: d.variable})[d.wrt])
        expr = E.add(g, E.transpose(g), E.neg(E.apply("diag", E.apply("diag", g))))
    elif d.form == "hessian":
        n = d.variable.rows
        dup = E.duplication(n)
        expr = E.mul(E.transpose(dup), d.expr, dup)
    else:
        raise DiffError("the vech convention is available for gradients and Hessians")
    expr, more = _simplified(expr)
    return dataclasses.replace(d, expr=expr, base=d, convention=VECH_CONVENTION,
                               identities=d.identities + more)


VECH_CONVENTION = ("vech (entry-wise): derivatives wrt the distinct entries of symmetric X; "
                   "gradient 2*G - diag(diag(G)) = D'*vec(G), Hessian D'*H*D")


@E.within_work_limits
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
    """Whether two expressions agree at several random points of the first one's domain
    (``narrowed``: variables the domain forced off generic values, and why)."""

    equal: bool
    max_abs_difference: float
    max_rel_difference: float
    points: int
    narrowed: dict = dataclasses.field(default_factory=dict)

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
        raise ShapeError(f"cannot compare a {E.fmt_shape(a.shape)} result with a "
                         f"{E.fmt_shape(b.shape)} one")
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


def equivalent(a, b, symbols: dict | None = None, points: int = 5, seed: int = 0) -> Comparison:
    """Does ``b`` agree with ``a`` at random points of ``a``'s domain?  ``b`` is read
    with ``a``'s declarations and shape, so its names and open sizes are ``a``'s."""
    pa = _parsed(a, symbols)
    pb = parse(b, {**pa.symbols(), **(symbols or {})}, shape=pa.expr.shape) \
        if isinstance(b, str) else b
    variables = {**pb.variables, **pa.variables}
    return compare_exprs(pa.expr, pb.expr, variables, points, seed)


def against(derivative: Derivative, formula: str, points: int = 5, seed: int = 0) -> Comparison:
    """Is a hand-derived ``formula`` equal to mdiff's derivative?"""
    target = derivative.expr
    p = parse(formula, derivative.f.symbols(), shape=target.shape)
    if p.expr.shape != target.shape and derivative.form == "jacobian":
        target = derivative.layout_expr
        p = parse(formula, derivative.f.symbols(), shape=target.shape)
    variables = {**p.variables, **derivative.f.variables}
    other = p.expr
    return compare_exprs(target, other, variables, points, seed, domain=derivative.f.expr)


# --- extrema ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Solution:
    """A closed-form stationary point ``wrt = expr`` of ``f`` (grad f = 0), verified:
    ``verified`` says how ('symbolic': the gradient at ``expr`` simplifies to 0;
    'numeric': it vanishes at random data)."""

    f: Parsed
    wrt: str
    expr: Expr
    method: str            # which form of the gradient was linear ("the gradient", "X*G*X", ...)
    gradient: Expr
    verified: str = "symbolic"

    @property
    def variable(self) -> Expr:
        return self.f.variables[self.wrt]

    def __str__(self) -> str:
        body = to_text(self.expr, self.f.let_names())
        if ";" in body:     # let-bindings first, then the equation
            *lets, last = body.split("; ")
            return "; ".join(lets + [f"{self.wrt} = {last}"])
        return f"{self.wrt} = {body}"

    def __repr__(self) -> str:
        return f"<Solution {self}>"

    def latex(self) -> str:
        from .printing.latex import latex_name
        body = to_latex(self.expr, self.f.let_names())
        head = latex_name(self.wrt)
        if body.startswith("\\begin{aligned}"):
            return body.replace("& ", f"{head} &= ", 1) if "\\\\\n& " not in body else \
                body.replace("\\\\\n& ", f"\\\\\n{head} &= ")
        return f"{head} = {body}"

    def _repr_latex_(self) -> str:
        return f"$$ {self.latex()} $$"

    def function(self):
        """numpy callable of the other symbols returning the solution (X's layout)."""
        root = self.expr
        variables = {n: v for n, v in self.f.variables.items() if n != self.wrt}
        needed = E.free_vars(root)
        dim_names = {str(s) for s in E.free_dims(root)} | {
            str(s) for d in self.variable.shape for s in E.sp.sympify(d).free_symbols}

        def fn(**values):
            env = Env(values, variables, required=set(needed) - {self.wrt}, dim_names=dim_names)
            return to_user_layout(root, evaluate(root, env))

        return fn

    def gradient_at_solution(self, **values):
        """The gradient evaluated at the solution (≈ 0): a numeric verification."""
        x = self.function()(**values)
        g = make_function(self.gradient, self.f.variables)
        return g(**{**values, self.wrt: x})

    def classify(self, **values) -> str:
        """What the solution is for these values: 'minimum' / 'maximum' (stationary, the
        Hessian definite on the variable's structure), 'saddle', 'degenerate' (a
        semidefinite Hessian: second order does not decide) or 'not stationary' (the
        gradient does not vanish there: the data make the closed form singular)."""
        return _classify(self.f, [self], {**values, self.wrt: self.function()(**values)})

    def check(self, seed: int = 0):
        """The gradient at the solution for random data (``solve --check``)."""
        from .extrema.stationary import check_stationary
        return check_stationary(self.f.expr, self.gradient, self.variable, self.expr, seed)

    def code(self) -> str:
        """Python source of a function of the other symbols returning the solution."""
        variables = {n: v for n, v in self.f.variables.items()
                     if n != self.wrt and n in E.free_vars(self.expr)}
        doc = f"{self.wrt} with grad f = 0 for f = {_one_line(self.f.text)}"
        return to_code([self.expr], variables, "solve_" + py_name(self.wrt, ""), doc)

    def to_dict(self) -> dict:
        return {"input": self.f.text, "wrt": self.wrt, "solution": str(self),
                "latex": self.latex(), "method": self.method, "verified": self.verified,
                "variables": self.f.symbols(), "assumed": self.f.assumptions()}


@dataclass(frozen=True)
class Solutions:
    """Stationary points for several variables.  ``joint``: the solutions form a
    sequence (each uses only the ones before it, by name), so together they are one
    joint stationary point, computed in this order; otherwise each variable was solved
    with the others held fixed, which is not a joint solution."""

    f: Parsed
    parts: tuple
    joint: bool

    @property
    def wrt(self) -> list:
        return [s.wrt for s in self.parts]

    def __getitem__(self, name: str) -> Solution:
        for s in self.parts:
            if s.wrt == name:
                return s
        raise DiffError(f"{name!r} is not one of the solved variables ({', '.join(self.wrt)})")

    def note(self) -> str:
        if self.joint:
            return ""
        return ("no joint closed form: each variable was solved with the others held fixed "
                f"(the solutions for {', '.join(self.wrt)} depend on each other)")

    def __str__(self) -> str:
        return "\n".join([str(s) for s in self.parts] + ([self.note()] if not self.joint else []))

    def __repr__(self) -> str:
        return f"<Solutions {'; '.join(str(s) for s in self.parts)}>"

    def latex(self) -> str:
        return " \\\\\n".join(s.latex() for s in self.parts)

    def function(self):
        """numpy callable of the data returning {name: value} (joint solutions only)."""
        if not self.joint:
            raise MdiffError(self.note())
        fns = [(s.wrt, s.function()) for s in self.parts]

        def fn(**values):
            out, vals = {}, dict(values)
            for name, f in fns:
                out[name] = vals[name] = f(**vals)
            return out

        return fn

    def gradient_at_solution(self, **values) -> dict:
        at = {**values, **self.function()(**values)}
        return {s.wrt: make_function(s.gradient, self.f.variables)(**at) for s in self.parts}

    def classify(self, **values) -> str:
        """As ``Solution.classify``, with the joint Hessian of all the variables."""
        return _classify(self.f, list(self.parts), {**values, **self.function()(**values)})

    def check(self, seed: int = 0) -> list:
        """Each part's gradient at its solution for random data (``Solution.check``)."""
        return [s.check(seed) for s in self.parts]

    def code(self) -> str:
        """Each solution's function, in solving order (later ones take earlier ones)."""
        return "\n\n".join(s.code().rstrip() for s in self.parts) + "\n"

    def to_dict(self) -> dict:
        return {"input": self.f.text, "wrt": self.wrt, "joint": self.joint,
                "results": [s.to_dict() for s in self.parts],
                **({"note": self.note()} if not self.joint else {})}


def _structure_basis(var: Expr, value) -> np.ndarray:
    """Orthonormal columns spanning vec of the values the variable may take (the
    checker's structure basis, normalised)."""
    value = np.asarray(value, dtype=float)
    shape = value.shape if value.ndim == 2 else (value.size, 1)
    cols = [e.reshape(-1, order="F") / np.linalg.norm(e) for e in structure_basis(var, shape)]
    return np.stack(cols, axis=1)


def _classify(p: Parsed, parts: list, at: dict) -> str:
    """Classify the point ``at`` (data and every solved variable) from the gradient and
    the Hessian of ``p`` wrt the solved variables, restricted to their structure."""
    rel = []
    for s in parts:
        g_star = np.asarray(make_function(s.gradient, p.variables)(**at), dtype=float)
        x = np.asarray(at[s.wrt], dtype=float)
        moved = {**at, s.wrt: x + (np.abs(x) + 1.0)}
        g_ref = np.asarray(make_function(s.gradient, p.variables)(**moved), dtype=float)
        if not (np.all(np.isfinite(g_star)) and np.all(np.isfinite(g_ref))):
            return "not stationary"
        scale = max(float(np.max(np.abs(g_ref), initial=0.0)), 1e-300)
        rel.append(float(np.max(np.abs(g_star), initial=0.0)) / scale)
    if max(rel) > 1e-6:
        return "not stationary"
    names = [s.wrt for s in parts]
    blocks = [[np.atleast_2d(np.asarray(diff(p, [a, b]).function()(**at), dtype=float))
               if a != b else np.atleast_2d(np.asarray(hessian(p, a).function()(**at), dtype=float))
               for b in names] for a in names]
    h = np.block(blocks)
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


def _solve_one(p: Parsed, name: str) -> Solution:
    from .extrema.stationary import NoClosedForm, stationary_point
    var = _variable(p, name)
    try:
        sol, how, g, verified = stationary_point(p.expr, var)
    except NoClosedForm as exc:
        hint = _declaration_hint(p, var, exc)
        raise NoClosedForm(exc.message + hint) if hint else exc
    return Solution(p, name, sol, how, g, verified)


def _declaration_hint(p: Parsed, var: Expr, exc) -> str:
    """'; declaring S spd gives one' where that declaration makes grad f = 0 solvable."""
    from .extrema.stationary import NoClosedForm, NotLinear, stationary_point
    if var.rows != var.cols or var.is_scalar or var.props or not isinstance(exc, NotLinear):
        return ""
    spec = f"matrix({E.fmt_dim(var.rows)},{E.fmt_dim(var.cols)}) spd"
    try:
        q = parse(p.text, {**p.given, var.name: spec})
        stationary_point(q.expr, q.variables[var.name])
    except (NoClosedForm, MdiffError):
        return ""
    return f". Declaring {var.name}: {spec} gives a closed form (-d \"{var.name}: {spec}\")"


@E.within_work_limits
def solve(expr, wrt, symbols: dict | None = None):
    """Closed-form stationary point of a scalar ``expr``: grad = 0 solved for ``wrt``
    when it is linear in it (or after multiplying through by it), verified to zero the
    gradient; ``NoClosedForm`` otherwise — then use ``minimize``.  Several names give
    ``Solutions``: a joint point where the solutions can be taken in sequence."""
    p = _parsed(expr, symbols)
    if isinstance(wrt, str):
        return _solve_one(p, wrt)
    names = list(dict.fromkeys(wrt))
    if not names:
        raise DiffError("solve needs at least one variable")
    sols = {n: _solve_one(p, n) for n in names}
    order = _sequence(sols, names)
    if order is None:
        return Solutions(p, tuple(sols[n] for n in names), joint=False)
    return Solutions(p, tuple(sols[n] for n in order), joint=True)


def _sequence(sols: dict, names: list) -> list | None:
    """An order in which each solution uses only earlier ones, or None (a cycle)."""
    import graphlib
    deps = {n: set(E.free_vars(sols[n].expr)) & (set(names) - {n}) for n in names}
    try:
        return list(graphlib.TopologicalSorter(deps).static_order())
    except graphlib.CycleError:
        return None
