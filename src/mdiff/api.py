"""The Python interface (DESIGN §4): thin functions over the language, the calculus and
the printers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .core import expr as E
from .calculus import derivative as calc
from .errors import DiffError, LimitError, MdiffError
from .core.expr import Expr
from .language import Parsed, parse
from .printing.text import to_text
from .simplify.engine import Simplifier

# The numeric side (NumPy), code generation, LaTeX and index notation are imported by
# the methods that use them: a derivative printed as text needs none of them (issue 19).
if TYPE_CHECKING:
    from .numeric.check import CheckReport, Comparison


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
    from .numeric.evaluate import make_function
    p = _parsed(expr, symbols)
    return make_function(p.expr, p.variables)


@dataclass(frozen=True)
class Derivative(calc.Derivative):
    """A derivative of ``f`` (``calculus.derivative.Derivative``: the result, its form,
    convention and layout) with its printers, numeric function, code and check."""

    def __str__(self) -> str:
        form = self.index_form()
        if form is not None:
            from .printing.indices import index_text
            return index_text(form, list(self.wrt_all), self.names)
        return to_text(self.expr, self.names)

    def index_form(self):
        """A third or higher derivative in index notation (it has no matrix form);
        None for lower orders, or where the Kronecker structure does not split into
        indices (then the vec-Jacobian matrix is printed, as ``kron()`` always is)."""
        return self._index_form

    @functools.cached_property
    def _index_form(self):
        if self.order < 3 or self.base is not None:
            return None
        from .calculus.indexed import NotIndexable, index_form
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
        return to_text(self.jacobian_expr, self.names)

    @property
    @E.within_work_limits
    def steps(self) -> list:
        """The derivation, step by step (each a ``Step`` with ``.text`` and ``.latex``):
        of a gradient, a Jacobian or a Hessian."""
        from .printing.derivation import gradient_steps, hessian_steps, jacobian_steps
        lets = self.f.lets
        if self.form == "hessian":
            return hessian_steps(self.f.expr, self.variable, self.of, self.expr, lets)
        if self.order > 1:
            raise DiffError("steps are shown for gradients, Jacobians and Hessians")
        if self.f.expr.is_scalar:
            return gradient_steps(self.f.expr, self.variable, self.expr, self.identities, lets)
        return jacobian_steps(self.f.expr, self.variable, self.expr, self.identities, lets)

    def steps_latex(self) -> str:
        """The derivation as one LaTeX ``aligned`` environment."""
        from .printing.derivation import aligned
        return aligned(self.steps)

    def to_sympy(self):
        """The result as SymPy matrix expressions (where SymPy can express it)."""
        from .interop.sympy import to_sympy
        return to_sympy(self.expr)

    def latex(self) -> str:
        """LaTeX of the result, as a careful author writes it."""
        from .printing.latex import to_latex
        form = self.index_form()
        if form is not None:
            from .printing.indices import index_latex
            return index_latex(form, list(self.wrt_all), self.names)
        return to_latex(self.expr, self.names)

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
        from .numeric.backends import compile_function
        from .numeric.evaluate import Env, evaluate, to_user_layout
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
        from .printing.code import module
        return module([self.code_function(name)])

    def code_function(self, name: str | None = None) -> tuple:
        """(helpers, source) of the function alone: ``printing.code.module`` puts several
        in one module with one prelude (``mdiff ... wrt W1 W2 --code``)."""
        from .printing.code import function_source, py_name
        name = name or ("d_" + "_".join(py_name(n, "") for n in (self.wrt_all or (self.wrt,))))
        doc = f"d({_one_line(self.f.text)})/d{','.join(self.wrt_all or (self.wrt,))}: {self.form}"
        return function_source([self.layout_expr], self.f.variables, name, doc)

    def check(self, seed: int = 0, tolerance: float = 1e-6, dims: dict | None = None) -> CheckReport:
        """Compare with central finite differences at random points (a Hessian against
        differences of the gradient; a vech result through its sym-convention form)."""
        from .numeric.check import fd_check
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
                "convention": self.convention, "layout": calc.LAYOUTS[self.layout],
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
    from .numeric.backends import compile_function
    from .printing.code import to_code
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


@E.within_work_limits
def diff(expr, wrt, symbols: dict | None = None, order: int = 1,
         convention: str = "sym", layout: str = "denominator") -> Derivative:
    """The derivative of ``expr`` wrt ``wrt`` (DESIGN §3 layout).

    ``wrt`` is a name, or a list of names for a mixed derivative (d/dy of the gradient
    wrt x for ``["x", "y"]``); ``order=k`` takes the k-th derivative wrt one variable
    (2: the Hessian; k >= 3: a tensor of shape ``(n,)*k`` for a vector).
    ``convention="vech"`` gives symmetric variables the entry-wise convention;
    ``layout="numerator"`` transposes gradients (textbook convention)."""
    return calc.derivative(_parsed(expr, symbols), wrt, order, convention, layout,
                                 cls=Derivative)


def hessian(expr, wrt: str, symbols: dict | None = None, convention: str = "sym") -> Derivative:
    """d vec(grad f)/d vec(X)' of a scalar f (DESIGN §3; P*H*P for symmetric X)."""
    return diff(expr, wrt, symbols, order=2, convention=convention)


@E.within_work_limits
def gradients(expr, wrt, symbols: dict | None = None) -> dict:
    """{name: Derivative} for several variables, from one backward sweep."""
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    return calc.several(_parsed(expr, symbols), names, cls=Derivative)


def check(expr, wrt: str, seed: int = 0, symbols: dict | None = None,
          tolerance: float = 1e-6) -> CheckReport:
    """Finite-difference report for mdiff's derivative of ``expr`` wrt ``wrt``."""
    return diff(expr, wrt, symbols).check(seed=seed, tolerance=tolerance)


def equivalent(a, b, symbols: dict | None = None, points: int = 5, seed: int = 0) -> Comparison:
    """Does ``b`` agree with ``a`` at random points of ``a``'s domain?  ``b`` is read
    with ``a``'s declarations and shape, so its names and open sizes are ``a``'s."""
    from .numeric.check import compare_exprs
    pa = _parsed(a, symbols)
    pb = parse(b, {**pa.symbols(), **(symbols or {})}, shape=pa.expr.shape) \
        if isinstance(b, str) else b
    variables = {**pb.variables, **pa.variables}
    return compare_exprs(pa.expr, pb.expr, variables, points, seed)


def against(derivative: Derivative, formula: str, points: int = 5, seed: int = 0) -> Comparison:
    """Is a hand-derived ``formula`` equal to mdiff's derivative?"""
    from .numeric.check import compare_exprs
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
        from .printing.latex import latex_name, to_latex
        body = to_latex(self.expr, self.f.let_names())
        head = latex_name(self.wrt)
        if body.startswith("\\begin{aligned}"):
            return body.replace("& ", f"{head} &= ", 1) if "\\\\\n& " not in body else \
                body.replace("\\\\\n& ", f"\\\\\n{head} &= ")
        return f"{head} = {body}"

    def _repr_latex_(self) -> str:
        return f"$$ {self.latex()} $$"

    @property
    def steps(self) -> list:
        """The derivation: grad f = 0, the form linear in the variable, the solution."""
        from .printing.derivation import solution_steps
        return solution_steps(self.f.expr, self.variable, self.gradient, self.method,
                              self.expr, self.verified)

    def function(self):
        """numpy callable of the other symbols returning the solution (X's layout)."""
        from .numeric.evaluate import Env, evaluate, to_user_layout
        root = self.expr
        variables = {n: v for n, v in self.f.variables.items() if n != self.wrt}
        needed = E.free_vars(root)
        dim_names = {str(s) for s in E.free_dims(root)} | {
            str(s) for d in self.variable.shape for s in E.Dim.of(d).free_symbols}

        def fn(**values):
            env = Env(values, variables, required=set(needed) - {self.wrt}, dim_names=dim_names)
            return to_user_layout(root, evaluate(root, env))

        return fn

    def gradient_at_solution(self, **values):
        """The gradient evaluated at the solution (≈ 0): a numeric verification."""
        from .numeric.evaluate import make_function
        x = self.function()(**values)
        g = make_function(self.gradient, self.f.variables)
        return g(**{**values, self.wrt: x})

    def classify(self, **values) -> str:
        """What the solution is for these values: 'minimum' / 'maximum' (stationary, the
        Hessian definite on the variable's structure), 'saddle', 'degenerate' (a
        semidefinite Hessian: second order does not decide) or 'not stationary' (the
        gradient does not vanish there: the data make the closed form singular)."""
        from .extrema.classify import classify_point
        return classify_point(self.f, [self], {**values, self.wrt: self.function()(**values)})

    def check(self, seed: int = 0):
        """The gradient at the solution for random data (``solve --check``)."""
        from .extrema.stationary import check_stationary
        return check_stationary(self.f.expr, self.gradient, self.variable, self.expr, seed)

    def code(self) -> str:
        """Python source of a function of the other symbols returning the solution."""
        from .printing.code import py_name, to_code
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

    @property
    def steps(self) -> list:
        """Each variable's derivation, in the order the solutions are taken (the function
        stated once)."""
        steps = [step for s in self.parts for step in s.steps]
        return steps[:1] + [s for s in steps[1:] if s.title != "function"]

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
        from .numeric.evaluate import make_function
        at = {**values, **self.function()(**values)}
        return {s.wrt: make_function(s.gradient, self.f.variables)(**at) for s in self.parts}

    def classify(self, **values) -> str:
        """As ``Solution.classify``, with the joint Hessian of all the variables."""
        from .extrema.classify import classify_point
        return classify_point(self.f, list(self.parts), {**values, **self.function()(**values)})

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


#: Random data sets ``classify_sampled`` classifies a solution at, and how many it draws
#: at most to find them (data where the closed form is singular are drawn again).
CLASSIFY_SETS, CLASSIFY_DRAWS = 3, 12


def classify_sampled(s, seed: int = 0) -> dict:
    """What a solution (``Solution`` or joint ``Solutions``) is at random data: the
    second-order test of ``classify`` at ``CLASSIFY_SETS`` data sets from the checker's
    sampler, skipping those where the closed form is singular (a Gaussian covariance from
    fewer samples than dimensions), at most ``CLASSIFY_DRAWS`` draws in all.

    A dict with the keys
    ``classification``: "minimum", "maximum", "saddle" or "degenerate" (every classified
    data set agreed; see ``Solution.classify``), "depends on the data" (they disagreed),
    "not stationary" (no draw gave data where the closed form is regular), or "no joint
    stationary point" (``Solutions`` that are not joint: nothing to classify);
    ``counts``: {outcome: number of data sets} of the classified sets (empty when none);
    ``singular_data_sets``: the draws skipped as singular; ``seed``: the seed used."""
    import numpy as np
    from .numeric.check import sample_point
    parts = list(getattr(s, "parts", [s]))
    if isinstance(s, Solutions) and not s.joint:     # no point to classify
        return {"classification": "no joint stationary point", "counts": {},
                "singular_data_sets": 0, "seed": seed}
    rng = np.random.default_rng(seed)
    counts: dict = {}
    seen = skipped = 0
    for _ in range(CLASSIFY_DRAWS):
        point = sample_point(s.f.variables, [s.f.expr] + [q.expr for q in parts], rng)
        values = {**point.values, **{str(d): v for d, v in point.dims.items()}}
        kind = s.classify(**values)
        if kind == "not stationary":
            skipped += 1
            continue
        counts[kind] = counts.get(kind, 0) + 1
        seen += 1
        if seen == CLASSIFY_SETS:
            break
    verdict = "not stationary" if not counts else next(iter(counts)) if len(counts) == 1 \
        else "depends on the data"
    return {"classification": verdict, "counts": counts, "singular_data_sets": skipped,
            "seed": seed}


def _solve_one(p: Parsed, name: str) -> Solution:
    from .extrema.stationary import NoClosedForm, declaration_hint, stationary_point
    var = calc.variable(p, name)
    try:
        sol, how, g, verified = stationary_point(p.expr, var)
    except NoClosedForm as exc:
        hint = declaration_hint(p, var, exc)
        raise NoClosedForm(exc.message + hint) if hint else exc
    return Solution(p, name, sol, how, g, verified)


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
