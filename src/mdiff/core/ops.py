"""The operation registry: each function of the language declared once, in one record.

Every consumer reads its part of the record — the parser (spelling, shape rule), the
node constructors (shape, folds, structural facts), the table of differentials and the
linear-map tables, the numpy evaluator, the array-API code printer, the LaTeX and text
printers, the checker's sampler (the domain) and the solver (smoothness) — so adding a
function is adding a record here and its derivative cases to the tests;
``tests/test_registry.py`` fails when any consumer lacks a part of a record.

Two kinds of record share one interface (``shape``, ``spelling``, ``differential``,
``numpy``, ``code``, ``helpers``, ``latex``, ``build``, ``domain``, ``smooth``,
``symmetric``, ``sympy``):

* ``Elementwise`` — ``phi(X)`` applied entry by entry: one line, given phi' as an
  expression; its shape is the argument's and ``d phi(X) = phi'(X) .* dX``.
* ``Function`` — a matrix function or reduction of one matrix argument, one block: its
  shape rule (``shapes.py``), its differential, and for a linear function its adjoint and
  its vec-Jacobian (the ``linear`` helper writes the differential from them).

The structural operations (sums, products, transposes, powers, Kronecker products,
``unvec`` and the constant matrices) are the algebra itself, not records: their rules
live with the constructors (``expr.py``) and each consumer's core.  The module imports
nothing of mdiff but the shape rules (rules are handed the node constructors, ``E``)
and nothing heavy: NumPy when a numeric form first runs, SciPy only inside the functions
that use it.
"""

from __future__ import annotations

import math
import operator
import warnings
from dataclasses import dataclass
from typing import Callable

from . import shapes
from ..errors import DiffError, EvaluationError


class _LazyNumpy:
    """NumPy, imported when a record's numeric form first runs: a derivative printed by
    the command line evaluates nothing, so it does not pay for NumPy (issue 19)."""

    def __getattr__(self, name):
        import numpy
        return getattr(numpy, name)


np = _LazyNumpy()


def _numpy(path: str):
    """A record's numpy form ``numpy.<path>`` (``"linalg.det"``), looked up when called."""
    get = operator.attrgetter(path)

    def call(*args, **kwargs):
        return get(np)(*args, **kwargs)
    call.__name__ = call.__qualname__ = f"numpy.{path}"
    return call


@dataclass(frozen=True)
class Elementwise:
    """An elementwise function of the language.

    ``derivative(E, x, y)`` is phi'(x) as an expression, given the argument ``x``, the
    node ``y = phi(x)`` (to reuse it: tanh' = 1 - y.^2) and the constructors ``E``
    (``mdiff.expr``).  ``numpy`` evaluates it on an array; ``code`` is the array-API
    expression (``{0}`` the argument, ``xp`` the namespace), calling ``helper`` — the
    source of a function ``_<name>(z, xp)`` emitted into generated modules — where the
    array API has no stable kernel.  ``latex`` is a function macro (``\\sin``) or a
    template with ``{0}`` (``\\sqrt{{{0}}}``).  ``domain`` is what the checker samples
    when generic points fall outside it: 'positive' (log, sqrt) or 'bounded'
    (arcsin/arccos); ``zero_preserving``: phi(0) = 0 (phi(0 matrix) folds to 0);
    ``smooth``: False where the derivative jumps (the solver refuses such a term);
    ``sympy``: the SymPy function's name, or None where SymPy has none (the interop
    then raises a named error)."""

    name: str
    derivative: Callable
    numpy: Callable
    code: str
    latex: str
    domain: str | None = None
    zero_preserving: bool = False
    smooth: bool = True
    helper: str | None = None
    sympy: str | None = None
    #: a rewrite made when the node is built, ``(E, x) -> node or None``
    rewrite: Callable | None = None
    #: the matrix function that applies phi to a symmetric matrix's eigenvalues
    #: (V*diag(exp(λ))*V' = expm(S)), where the language has one
    matrix_function: str | None = None
    #: bounds of phi's values (sigmoid: 0 to 1), read by ``expr.value_range``: the code
    #: printer computes X'*diag(v)*X with v >= 0 as a symmetric rank-k update
    values: tuple = (-math.inf, math.inf)

    # --- the interface every record has -------------------------------------------------
    shape = shapes.SAME
    symmetric = "kept"          # phi(S) is symmetric for a symmetric S
    adjoint = jacobian = None   # not linear
    linear_in = 0
    symmetric_code = None       # the same kernel for every argument
    orthonormal = False
    conditioning = None

    @property
    def spelling(self) -> str:
        return self.name

    @property
    def helpers(self) -> tuple:
        """((name, source),): keyed by the helper's own name (``def _sigmoid`` is
        'sigmoid'), so records that share one (silu calls sigmoid's) emit it once."""
        if not self.helper:
            return ()
        return ((self.helper.split("(", 1)[0].removeprefix("def _"), self.helper),)

    def differential(self, E, node, d):
        """d phi(X) = phi'(X) .* dX."""
        return E.hadamard(self.derivative(E, node.args[0], node), d(0))

    def build(self, E, x):
        if self.zero_preserving and E.is_zero(x):
            return x
        return self.rewrite(E, x) if self.rewrite is not None else None


def _one(E, x):
    return E.ones(x.shape)


def _softplus_of_log(E, x):
    """log(1 + exp(z)) is softplus(z) as soon as it is built, so that evaluation,
    generated code and derivatives (sigmoid(z), not exp(z)*sigmoid(-z)) all use the
    overflow-free form."""
    z = _one_plus_exp(x)
    return None if z is None else E.apply("softplus", z)


def _one_plus_exp(x):
    """z where x is 1 + exp(z) (in either order), else None."""
    if x.op != "add" or len(x.args) != 2:
        return None
    one = [t for t in x.args if t.op in ("fill", "num") and t.data == 1]
    ex = [t for t in x.args if t.op == "exp"]
    return ex[0].args[0] if one and ex else None


_SIGMOID_HELPER = '''def _sigmoid(z, xp):
    # NumPy and Dask: SciPy's expit, one overflow-free pass; elsewhere exp(-|z|) on both
    # sides of 0.  Dask maps it over the chunks under a name made from z's: called as a
    # ufunc, Dask names the layer by pickling expit, which has no __module__, so pickle
    # scans sys.modules (0.3-0.6 ms a time, twice a call: more than the rest of a small
    # gradient's graph)
    if xp.__name__.endswith("numpy") and not xp.__name__.startswith("jax"):
        from scipy.special import expit
        return expit(z)
    if xp.__name__.endswith("dask.array") and hasattr(z, "map_blocks"):
        from scipy.special import expit
        return z.map_blocks(expit, dtype=z.dtype, name="expit-" + z.name)
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))'''

_SOFTPLUS_HELPER = '''def _softplus(z, xp):
    return xp.logaddexp(xp.zeros_like(z), z)'''


_SPECIAL_HELPER = '''def _special(z, xp, name):
    # erf and the normal CDF ndtr, which the array API lacks: SciPy's ufuncs on NumPy and
    # Dask (mapped over the chunks), jax.scipy on JAX, torch.special, cupyx on CuPy
    mod = xp.__name__
    if mod.startswith("jax"):
        import jax.scipy.special as special
    elif mod.endswith(("numpy", "dask.array")):
        import scipy.special as special
    elif "torch" in mod:
        import torch.special as special
    elif "cupy" in mod:
        import cupyx.scipy.special as special
    else:
        raise NotImplementedError(f"{name}: {mod} has no kernel for it (SciPy has)")
    return getattr(special, name)(z)'''


def _scipy_special(name: str):
    """SciPy's ufunc ``name``, imported on the first call (import mdiff stays light)."""
    def call(x):
        import scipy.special
        return getattr(scipy.special, name)(x)
    call.__name__ = call.__qualname__ = f"scipy.special.{name}"
    return call


def _normal_density(E, x):
    """exp(-x.^2/2)/sqrt(2*pi), the standard normal density (gelu's derivative)."""
    return E.mul(E.power(E.mul(E.num(2), E.constant("pi")), E.num(E.Rational(-1, 2))),
                 E.apply("exp", E.mul(E.num(E.Rational(-1, 2)), E.power(x, E.num(2)))))


def _d_erf(E, x, y):
    """erf'(x) = 2/sqrt(pi)*exp(-x.^2)."""
    return E.mul(E.num(2), E.power(E.constant("pi"), E.num(E.Rational(-1, 2))),
                 E.apply("exp", E.neg(E.power(x, E.num(2)))))


def _d_gelu(E, x, y):
    """gelu(x) = x .* Phi(x), Phi(x) = (1 + erf(x/sqrt(2)))/2 the normal CDF:
    gelu'(x) = Phi(x) + x .* exp(-x.^2/2)/sqrt(2*pi)."""
    cdf = E.mul(E.num(E.Rational(1, 2)), E.add(_one(E, x), E.apply(
        "erf", E.mul(E.power(E.num(2), E.num(E.Rational(-1, 2))), x))))
    return E.add(cdf, E.hadamard(x, _normal_density(E, x)))


def _expit(x):
    """The logistic function without overflow (no SciPy needed)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


ELEMENTWISE = {op.name: op for op in (
    Elementwise("sin", lambda E, x, y: E.apply("cos", x), _numpy("sin"), "xp.sin({0})", "\\sin",
                zero_preserving=True, sympy="sin", values=(-1, 1)),
    Elementwise("cos", lambda E, x, y: E.neg(E.apply("sin", x)), _numpy("cos"), "xp.cos({0})",
                "\\cos", sympy="cos", values=(-1, 1)),
    Elementwise("tan", lambda E, x, y: E.add(_one(E, x), E.power(y, E.num(2))), _numpy("tan"),
                "xp.tan({0})", "\\tan", zero_preserving=True, sympy="tan"),
    Elementwise("arcsin", lambda E, x, y: E.power(E.sub(_one(E, x), E.power(x, E.num(2))),
                                                  E.num(E.Rational(-1, 2))),
                _numpy("arcsin"), "xp.asin({0})", "\\arcsin", domain="bounded",
                zero_preserving=True, sympy="asin"),
    Elementwise("arccos", lambda E, x, y: E.neg(E.power(
        E.sub(_one(E, x), E.power(x, E.num(2))), E.num(E.Rational(-1, 2)))),
        _numpy("arccos"), "xp.acos({0})", "\\arccos", domain="bounded", sympy="acos"),
    Elementwise("arctan", lambda E, x, y: E.power(E.add(_one(E, x), E.power(x, E.num(2))),
                                                  E.num(-1)),
                _numpy("arctan"), "xp.atan({0})", "\\arctan", zero_preserving=True, sympy="atan"),
    Elementwise("sinh", lambda E, x, y: E.apply("cosh", x), _numpy("sinh"), "xp.sinh({0})",
                "\\sinh", zero_preserving=True, sympy="sinh"),
    Elementwise("cosh", lambda E, x, y: E.apply("sinh", x), _numpy("cosh"), "xp.cosh({0})",
                "\\cosh", sympy="cosh", values=(1, math.inf)),
    Elementwise("tanh", lambda E, x, y: E.sub(_one(E, x), E.power(y, E.num(2))), _numpy("tanh"),
                "xp.tanh({0})", "\\tanh", zero_preserving=True, sympy="tanh", values=(-1, 1)),
    Elementwise("exp", lambda E, x, y: y, _numpy("exp"), "xp.exp({0})", "\\exp", sympy="exp",
                matrix_function="expm", values=(0, math.inf)),
    Elementwise("log", lambda E, x, y: E.power(x, E.num(-1)), _numpy("log"), "xp.log({0})",
                "\\log", domain="positive", sympy="log", rewrite=_softplus_of_log,
                matrix_function="logm"),
    Elementwise("log1p", lambda E, x, y: E.power(E.add(_one(E, x), x), E.num(-1)), _numpy("log1p"),
                "xp.log1p({0})", "\\log\\left(1 + {0}\\right)", domain="positive",
                zero_preserving=True),
    Elementwise("expm1", lambda E, x, y: E.apply("exp", x), _numpy("expm1"), "xp.expm1({0})",
                "\\left(e^{{{0}}} - 1\\right)", zero_preserving=True),
    Elementwise("sqrt", lambda E, x, y: E.mul(E.num(E.Rational(1, 2)), E.power(y, E.num(-1))),
                _numpy("sqrt"), "xp.sqrt({0})", "\\sqrt{{{0}}}", domain="positive",
                zero_preserving=True, sympy="sqrt", matrix_function="sqrtm", values=(0, math.inf)),
    Elementwise("abs", lambda E, x, y: E.apply("sign", x), _numpy("abs"), "xp.abs({0})",
                "\\left| {0} \\right|", zero_preserving=True, smooth=False, sympy="Abs", values=(0, math.inf)),
    # zero almost everywhere, and taken as 0 at the kink (README)
    Elementwise("sign", lambda E, x, y: E.zeros(x.shape), _numpy("sign"), "xp.sign({0})",
                "\\operatorname{{sign}}", zero_preserving=True, smooth=False, sympy="sign", values=(-1, 1)),
    # step(x) = sign(relu(x)), taken as 0 at x = 0
    Elementwise("relu", lambda E, x, y: E.apply("sign", y), lambda x: np.maximum(x, 0.0),
                "xp.where({0} > 0, {0}, xp.zeros_like({0}))", "\\operatorname{{relu}}",
                zero_preserving=True, smooth=False, values=(0, math.inf)),
    Elementwise("sigmoid", lambda E, x, y: E.hadamard(y, E.sub(_one(E, x), y)), _expit,
                "_sigmoid({0}, xp)", "\\sigma", helper=_SIGMOID_HELPER, values=(0, 1)),
    # silu(x) = x .* sigmoid(x) (swish): silu' = s + y .* (1 - s), s = sigmoid(x)
    Elementwise("silu", lambda E, x, y: E.add(
        E.apply("sigmoid", x), E.hadamard(y, E.sub(_one(E, x), E.apply("sigmoid", x)))),
        lambda x: x * _expit(x), "({0} * _sigmoid({0}, xp))", "\\operatorname{{silu}}",
        helper=_SIGMOID_HELPER, zero_preserving=True),
    # softsign(x) = x ./ (1 + |x|): C1 (its derivative 1 ./ (1 + |x|).^2 is continuous)
    Elementwise("softsign", lambda E, x, y: E.power(E.add(_one(E, x), E.apply("abs", x)),
                                                    E.num(-2)),
                lambda x: x / (1 + np.abs(x)), "({0} / (1 + xp.abs({0})))",
                "\\operatorname{{softsign}}", zero_preserving=True, values=(-1, 1)),
    # elu(x) = x for x > 0, exp(x) - 1 else; elu' = exp(min(x, 0)) = exp(-relu(-x))
    Elementwise("elu", lambda E, x, y: E.apply("exp", E.neg(E.apply("relu", E.neg(x)))),
                lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
                "xp.where({0} > 0, {0}, xp.expm1(xp.minimum({0}, xp.zeros_like({0}))))",
                "\\operatorname{{elu}}", zero_preserving=True, values=(-1, math.inf)),
    Elementwise("erf", _d_erf, _scipy_special("erf"), "_special({0}, xp, 'erf')",
                "\\operatorname{{erf}}", zero_preserving=True, sympy="erf", values=(-1, 1),
                helper=_SPECIAL_HELPER),
    # the exact GELU, x .* Phi(x) with Phi the normal CDF (SciPy's ndtr: no cancellation
    # for large negative x, where 1 + erf(x/sqrt(2)) would lose every digit)
    Elementwise("gelu", _d_gelu, lambda x, ndtr=_scipy_special("ndtr"): x * ndtr(x),
                "({0} * _special({0}, xp, 'ndtr'))", "\\operatorname{{GELU}}",
                zero_preserving=True, values=(-0.17, math.inf), helper=_SPECIAL_HELPER),
    Elementwise("softplus", lambda E, x, y: E.apply("sigmoid", x),
                lambda x: np.logaddexp(0.0, x), "_softplus({0}, xp)",
                "\\operatorname{{softplus}}", helper=_SOFTPLUS_HELPER, values=(0, math.inf)),
)}


def latex_of(op: Elementwise, argument: str, paren: Callable[[str], str]) -> str:
    """The LaTeX of ``op`` applied to ``argument`` (already LaTeX): a template, or the
    macro followed by the parenthesised argument."""
    if "{0}" in op.latex:
        return op.latex.format(argument)
    return op.latex.format() + paren(argument)


# --- matrix functions and reductions ------------------------------------------------------

@dataclass(frozen=True)
class Function:
    """A function of one matrix argument (a reduction, ``inv``, ``vec``, ``diag``, ...).

    ``shape``: the shape rule (``shapes.py``).  ``differential(E, node, d)``: the
    differential of ``node``, linear in ``d(0)`` (the argument's differential).
    ``numpy``: a 2-D array to a 2-D array or a float (a scalar result).  ``code``: the
    array-API expression (``{0}`` the argument, ``{rows}``/``{cols}`` the result's sizes;
    a scalar result is a 1×1 array) calling the ``helpers`` — ``(name, source)`` pairs
    emitted into generated modules.  ``latex``: a macro (``\\\\det``), a template with
    ``{0}``, or ``(node, argument (text, prec), tex) -> (text, prec)`` given the LaTeX
    printer's tools.  ``spelling``: the name in the language when it is not ``name``
    (``diag`` reads a vector as ``diagm``, a square matrix as ``diagv``).  ``build(E, x)``:
    a simpler node the constructor returns instead (``tr(eye(n)) = n``), or None.
    ``domain``: what the checker needs of the argument — 'invertible' (well conditioned),
    'spd' (sampled SPD when generic points fail), 'posdet' (a positive determinant at every
    draw).  ``symmetric``: 'always' (the result is symmetric) or 'kept' (for a symmetric
    argument).  ``adjoint(E, node, g)`` and ``jacobian(E, node)``: for a linear function,
    the G_X with <g, f(dX)> = <G_X, dX>, and the M with vec(f(X)) = M vec(X).
    ``sympy``: the SymPy matrix-expression class's name, or None (then the interop says
    SymPy has no such expression).  A function of several arguments takes them in the
    order of its shape rule (``shape.arity``); ``differential`` reads each as ``d(i)``,
    ``numpy`` and ``code`` take them all, and ``adjoint``/``jacobian`` are those of the
    argument ``linear_in`` (``sylvester(A, B, C)`` is linear in C).  ``symmetric_code``:
    the array-API expression used instead of ``code`` where the arguments it factors (all
    but a last, linear one) are symmetric by construction (an eigendecomposition).
    ``orthonormal``: the result has orthonormal columns (eigenvectors, singular
    vectors), which the simplifier uses.  ``conditioning``: see the field."""

    name: str
    shape: shapes.Rule
    differential: Callable
    numpy: Callable
    code: str
    latex: str | Callable
    spelling: str = ""
    build: Callable = lambda E, *args: None
    domain: str | None = None
    smooth: bool = True
    symmetric: str | None = None
    adjoint: Callable | None = None
    jacobian: Callable | None = None
    helpers: tuple = ()
    sympy: str | None = None
    linear_in: int = 0
    symmetric_code: str | None = None
    #: the result's columns are orthonormal (Q'*Q = I; and Q*Q' = I where it is square)
    orthonormal: bool = False
    #: a condition number of the argument's value (arrays, float >= 1): how much a
    #: small change of the argument is amplified; the checker draws points again where
    #: it is large (central differences would mean nothing there)
    conditioning: Callable | None = None
    #: for a linear function, the identity its adjoint applies, as a derivation names it
    #: when it brings a differential to tr(G' dX) (tr: the cyclic trace)
    adjoint_identity: str | None = None

    def __post_init__(self):
        if not self.spelling:
            object.__setattr__(self, "spelling", self.name)


def linear(name: str, shape: shapes.Rule, adjoint: Callable, jacobian: Callable, **parts):
    """A linear function: its differential is itself applied to dX, and the backward and
    Jacobian tables read its adjoint and its vec-Jacobian."""
    spelling = parts.get("spelling") or name
    return Function(name, shape, lambda E, node, d: E.apply(spelling, d(0)),
                    adjoint=adjoint, jacobian=jacobian, **parts)


SUMSQ_HELPER = ("sumsq", '''def _sumsq(z, xp):
    # sum of squares; with NumPy a dot product, which makes no squared temporary
    if xp.__name__.endswith("numpy"):
        return xp.reshape(xp.asarray(xp.vdot(z, z)), (1, 1))
    return xp.reshape(xp.sum(z * z), (1, 1))''')

_LOGDET_HELPER = ("logdet", '''def _logdet(x, xp):
    sign, logabs = xp.linalg.slogdet(x)
    return xp.reshape(xp.where(sign > 0, logabs, xp.nan), (1, 1))''')

_LOGSUMEXP_HELPER = ("logsumexp", '''def _logsumexp(z, xp):
    m = xp.max(z)
    return xp.reshape(m + xp.log(xp.sum(xp.exp(z - m))), (1, 1))''')

_SOFTMAX_HELPER = ("softmax", '''def _softmax(z, xp):
    e = xp.exp(z - xp.max(z, axis=0, keepdims=True))
    return e / xp.sum(e, axis=0, keepdims=True)''')


def _np_inv(x):
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError:
        return np.full(x.shape, np.nan)


def _np_logdet(x):
    sign, logabs = np.linalg.slogdet(x)
    return logabs if sign > 0 else np.nan


def _np_logsumexp(x):
    from scipy.special import logsumexp     # SciPy only where the function is used
    return logsumexp(x)


def _np_softmax(x):
    from scipy.special import softmax
    return softmax(x, axis=0)


def _build_inv(E, x):
    if x.is_scalar:
        return E.power(x, E.num(-1))
    if x.op == "inv":
        return x.args[0]
    if x.op == "eye":
        return x
    return None


def _build_tr(E, x):
    if x.is_scalar:
        return x
    if x.op == "eye":
        return E.dim_scalar(x.rows)
    if x.op == "T":
        return E.apply("tr", x.args[0])
    if x.op == "logm":      # the eigenvalues' principal logarithms sum to log det(X)
        return E.apply("logdet", x.args[0])
    if x.op == "kron" and all(E.same_dim(a.rows, a.cols) for a in x.args):
        # tr(A ⊗ B) = tr(A)*tr(B) here, not in the identity catalogue: the input is
        # differentiated as built, and the Kronecker form's adjoint has no matrix form
        a, b = (E.apply("tr", f) for f in x.args)
        return E.power(a, E.num(2)) if a is b else E.mul(a, b)
    return None


def _build_sum(E, x):
    if x.is_scalar:
        return x
    if x.op == "log" and x.args[0].op == "diagv" and x.args[0].args[0].op == "chol":
        return _half_logdet_of_chol(E, x.args[0].args[0])
    if x.op == "fill":
        return E.mul(E.num(x.data), E.dim_scalar(x.rows * x.cols))
    coef, scalars, chain = E.mul_parts(x)
    if len(chain) == 1 and chain[0].op == "fill" and (coef != 1 or scalars):  # s*matrix(c)
        return E.mul(E.num(coef), *scalars, E.apply("sum", chain[0]))
    if x.op == "softmax":       # each column sums to one
        return E.dim_scalar(x.cols)
    if x.op == "eigvals":       # the eigenvalues sum to the trace
        return E.apply("tr", x.args[0])
    if x.op == "log" and x.args[0].op == "eigvals" and _declared_spd(x.args[0].args[0]):
        return E.apply("logdet", x.args[0].args[0])     # ... and their logs to log det
    if x.op == "svdvals":
        return E.apply("normnuc", x.args[0])
    return None


def _declared_spd(x) -> bool:
    """A variable declared spd: where sum(log(eigvals(S))) is finite exactly where
    logdet(S) is (for other S the log of a negative eigenvalue is not a value)."""
    return x.op == "var" and "spd" in x.props


def _build_norm2(E, x):
    """||x||_2 of a scalar is |x|; the 2-norm of the singular values (of the
    eigenvalues of the symmetric part) is the Frobenius norm (of that part)."""
    if x.is_scalar:
        return E.apply("abs", x)
    if x.op == "svdvals":
        return E.apply("norm2", x.args[0])
    if x.op == "eigvals":
        return E.apply("norm2", symmetric_part(E, x.args[0]))
    return None


def _build_diagm(E, x):
    if x.is_scalar:
        return x
    if x.op == "fill":      # diag(c*1) = c*I
        return E.scale(x.data, E.eye(x.rows))
    return None


def _build_vec(E, x):
    if x.cols == 1:
        return x
    if x.rows == 1:     # the vec of a row is the column of its entries
        return E.transpose(x)
    if x.op == "fill":
        return E.fill(x.data, (x.rows * x.cols, 1))
    return None


def _build_diagv(E, x):
    if x.op == "diagm":
        return x.args[0]
    if x.op == "eye":
        return E.ones((x.rows, 1))
    return None


def triangle(E, x) -> str | None:
    """'diagonal', 'lower' or 'upper' where ``x`` is triangular by construction or
    declaration (never by a numeric test), else None."""
    if x.is_scalar or x.op in ("eye", "diagm", "num") or (x.op == "var" and "diagonal" in x.props):
        return "diagonal"
    if x.op == "var":
        return "lower" if "lower" in x.props else "upper" if "upper" in x.props else None
    if x.op in ("tril", "chol"):
        return "lower"
    if x.op == "triu":
        return "upper"
    if x.op == "T":
        return {"lower": "upper", "upper": "lower"}.get(triangle(E, x.args[0]), triangle(E, x.args[0]))
    if x.op in ("inv", "mpow"):
        return triangle(E, x.args[0])
    if x.op in ("mul", "add"):
        kinds = {triangle(E, a) for a in x.args if not a.is_scalar} - {"diagonal"}
        return "diagonal" if not kinds else kinds.pop() if len(kinds) == 1 and None not in kinds \
            else None
    return None


def _build_triangle(keep: str):
    """tril/triu: a matrix already in the triangle is itself; one in the other triangle
    keeps only its diagonal."""
    def build(E, x):
        kind = triangle(E, x)
        if kind in (keep, "diagonal"):
            return x
        if kind is not None:
            return E.apply("diag", E.apply("diag", x))
        return None
    return build


def _triangle_jacobian(keep: str):
    """vec(tril(X)) = diag(vec(tril(1))) vec(X): a 0/1 mask on the entries."""
    return lambda E, node: E.diag_of_vec(E.apply(keep, E.ones(node.shape)))


def symmetric_part(E, x):
    """(X + X')/2, or X where X is known symmetric: what chol reads of its argument."""
    return x if E.is_symmetric(x) else E.scale(E.Rational(1, 2), E.add(x, E.transpose(x)))


def _d_chol(E, node, d):
    """dL = L*Φ(inv(L)*dS*inv(L)') with dS = (dX + dX')/2 and Φ(Y) the lower triangle of
    Y with its diagonal halved (Murray 2016, "Differentiation of the Cholesky
    decomposition", eq. 10)."""
    inv_l = E.inv(node)
    ds = E.scale(E.Rational(1, 2), E.add(d(0), E.transpose(d(0))))
    y = E.mul(inv_l, ds, E.transpose(inv_l))
    phi = E.sub(E.apply("tril", y), E.scale(E.Rational(1, 2), E.apply("diag", E.apply("diag", y))))
    return E.mul(node, phi)


def _np_chol(x):
    try:
        return np.linalg.cholesky((x + x.T) / 2)
    except np.linalg.LinAlgError:
        return np.full(x.shape, np.nan)


def _build_chol(E, x):
    if x.is_scalar:
        return E.apply("sqrt", x)
    if x.op == "eye":
        return x
    return None


def _half_logdet_of_chol(E, x):
    """log det(L) = log det(S)/2 for L = chol(S) (a positive diagonal): the Gaussian
    process likelihood's 2*sum(log(diag(chol(K)))) is logdet(K)."""
    return E.scale(E.Rational(1, 2), E.apply("logdet", symmetric_part(E, x.args[0])))


def _build_det(E, x):
    if x.is_scalar:
        return x
    if x.op == "expm":      # det(expm(X)) = exp(tr(X))
        return E.apply("exp", E.apply("tr", x.args[0]))
    return None


def _build_logdet(E, x):
    if x.is_scalar:
        return E.apply("log", x)
    if x.op == "chol":
        return _half_logdet_of_chol(E, x)
    if x.op == "expm":      # det(expm(X)) = exp(tr(X))
        return E.apply("tr", x.args[0])
    return None


# --- matrix functions of a general square matrix (sqrtm, expm, logm) -----------------------
#
# Each is a function of the whole matrix, not of its entries, and its differential is an
# operation of the language: dS = sylvester(S, S, dX) for S = sqrtm(X), d expm(X) =
# expm_frechet(X, dX), d logm(X) = logm_frechet(X, dX) (Higham, "Functions of Matrices",
# 2008, ch. 3).  NumPy values come from SciPy (imported only here), through the
# eigendecomposition where the argument is symmetric.

def _symmetric_value(x) -> bool:
    return np.allclose(x, x.T, rtol=0.0, atol=1e-13 * (1.0 + np.abs(x).max()))


def _real_or_nan(y):
    """A real matrix function's value: SciPy returns complex arrays where the principal
    branch is complex (a negative eigenvalue under sqrtm/logm); that is outside the
    domain, not a value."""
    y = np.asarray(y)
    if np.iscomplexobj(y):
        if not np.all(np.isfinite(y)) or np.abs(y.imag).max() > 1e-8 * (1.0 + np.abs(y.real).max()):
            return np.full(y.shape, np.nan)
        y = y.real
    return y


_SPECTRAL = {"sqrtm": (_numpy("sqrt"), lambda w: 0.5 / np.sqrt(w)),
             "expm": (_numpy("exp"), _numpy("exp")),
             "logm": (_numpy("log"), lambda w: 1.0 / w)}


def _np_matrix_function(name: str):
    def value(x):
        if _symmetric_value(x):
            f = _SPECTRAL[name][0]
            w, u = np.linalg.eigh((x + x.T) / 2)
            if name != "expm" and w.min() <= 0:
                return np.full(x.shape, np.nan)
            return (u * f(w)) @ u.T
        from scipy import linalg
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # logm's "may be inaccurate"
            return _real_or_nan(getattr(linalg, name)(x))
    return value


def _np_frechet(name: str):
    """L(X, E): Daleckii–Krein on a symmetric X (the divided differences of f on its
    eigenvalues), else SciPy's expm_frechet or, for logm, the block identity
    f([[X, E], [0, X]]) = [[f(X), L(X, E)], [0, f(X)]] (Higham 2008, thm 3.6)."""
    f, df = _SPECTRAL[name]

    def value(x, e):
        n = x.shape[0]
        if _symmetric_value(x):
            w, u = np.linalg.eigh((x + x.T) / 2)
            if name != "expm" and w.min() <= 0:
                return np.full(x.shape, np.nan)
            fw, gap = f(w), w[:, None] - w[None, :]
            close = np.abs(gap) <= 1e-9 * (1.0 + np.abs(w).max())
            with np.errstate(all="ignore"):
                divided = np.where(close, df((w[:, None] + w[None, :]) / 2),
                                   (fw[:, None] - fw[None, :]) / np.where(close, 1.0, gap))
            return u @ ((u.T @ e @ u) * divided) @ u.T
        if name == "expm":
            from scipy import linalg
            return linalg.expm_frechet(x, e, compute_expm=False)
        block = np.block([[x, e], [np.zeros_like(x), x]])
        return _np_matrix_function(name)(block)[:n, n:]
    return value


def _np_frechet2(name: str):
    """L2(X, E, F) = L([[X, E], [0, X]], [[F, 0], [0, F]])_12: the derivative of the
    block identity for L along F (Higham 2008, §3.2)."""
    first = _np_frechet(name)

    def value(x, e, f):
        n, zero = x.shape[0], np.zeros_like(x)
        return first(np.block([[x, e], [zero, x]]), np.block([[f, zero], [zero, f]]))[:n, n:]
    return value


def _kron_columns(linear, n: int) -> np.ndarray:
    """The matrix M with vec(linear(E)) = M vec(E) on n×n matrices (vec stacks columns)."""
    cols = []
    for k in range(n * n):
        unit = np.zeros(n * n)
        unit[k] = 1.0
        cols.append(np.asarray(linear(unit.reshape(n, n, order="F"))).reshape(-1, order="F"))
    return np.stack(cols, axis=1)


def _np_kron_form(name: str):
    first = _np_frechet(name)
    return lambda x: _kron_columns(lambda e: first(x, e), x.shape[0])


def _np_kron_form2(name: str):
    second = _np_frechet2(name)
    return lambda x, e: _kron_columns(lambda f: second(x, e, f), x.shape[0])


def _np_sylvester(a, b, c):
    """The Y with A*Y + Y*B = C: through the eigendecompositions where A and B are
    symmetric, else SciPy's Bartels–Stewart solver; NaN where A and -B share an
    eigenvalue (no unique solution)."""
    if _symmetric_value(a) and _symmetric_value(b):
        wa, u = np.linalg.eigh((a + a.T) / 2)
        wb, v = np.linalg.eigh((b + b.T) / 2)
        with np.errstate(all="ignore"):
            return u @ ((u.T @ c @ v) / (wa[:, None] + wb[None, :])) @ v.T
    from scipy import linalg
    with np.errstate(all="ignore"):
        try:
            return linalg.solve_sylvester(a, b, c)
        except (np.linalg.LinAlgError, ValueError):
            return np.full(c.shape, np.nan)


def _d_sylvester(E, node, d):
    """Y = sylvester(A, B, C): dA*Y + A*dY + dY*B + Y*dB = dC, so
    dY = sylvester(A, B, dC - dA*Y - Y*dB)."""
    a, b, _ = node.args
    rhs = E.sub(E.sub(d(2), E.mul(d(0), node)), E.mul(node, d(1)))
    return E.apply("sylvester", a, b, rhs)


def _sylvester_jacobian(E, node):
    """vec(Y) = inv(I ⊗ A + B' ⊗ I) vec(C) (Magnus & Neudecker 2019, ch. 2)."""
    a, b, _ = node.args
    return E.inv(E.add(E.kron(E.eye(b.rows), a), E.kron(E.transpose(b), E.eye(a.rows))))


def _build_sylvester(E, a, b, c):
    """A*Y + Y*A = C with C commuting with A is solved by Y = inv(A)*C/2 (the gradient of
    tr(sqrtm(X)) is inv(sqrtm(X))'/2)."""
    if E.is_zero(c):
        return c
    if a.is_scalar and b.is_scalar:
        return E.mul(c, E.power(E.add(a, b), E.num(-1)))
    if a is b and commutes(E, a, c):
        return E.scale(E.Rational(1, 2), E.mul(E.inv(a), c))
    return None


def _sylvester_symmetric(E, node) -> bool:
    """Y' solves B'*Y' + Y'*A' = C', so Y is symmetric where B = A' and C = C'."""
    a, b, c = node.args
    return E.is_symmetric(c) and (b is E.transpose(a) or (a is b and E.is_symmetric(a)))


def _build_sqrtm(E, x):
    if x.is_scalar:
        return E.apply("sqrt", x)
    if x.op == "eye":
        return x
    return None


def _build_expm(E, x):
    if x.is_scalar:
        return E.apply("exp", x)
    if E.is_zero(x):
        return E.eye(x.rows)
    return None


def _build_logm(E, x):
    if x.is_scalar:
        return E.apply("log", x)
    if x.op == "eye":
        return E.zeros(x.shape)
    if x.op == "expm":
        return None     # logm(expm(X)) = X only for eigenvalues in the principal strip
    return None


def commutes(E, x, e) -> bool:
    """Whether ``e`` commutes with ``x`` by construction: a multiple of I, or the same
    matrix as ``x`` up to scalar factors and a common transpose (dX = A*dt for X = A*t;
    (t*A')' and A)."""
    def key(m):
        flipped = m.op == "T"
        m = m.args[0] if flipped else m
        chain = m.args[m.data[1]:] if m.op == "mul" else (m,)
        if len(chain) == 1 and chain[0].op == "T":
            return (not flipped, (chain[0].args[0],))
        return (flipped, tuple(chain))
    chain = key(e)[1]
    return (len(chain) == 1 and chain[0].op == "eye") or key(e) == key(x)


def _build_expm_frechet(E, x, e):
    """L_exp(X, E) = E*expm(X) where E commutes with X (so tr(expm(X)) has gradient
    expm_frechet(X', I) = expm(X)')."""
    if E.is_zero(e):
        return e
    if x.is_scalar or commutes(E, x, e):
        return E.mul(e, E.apply("expm", x))
    return None


def _build_logm_frechet(E, x, e):
    """L_log(X, E) = inv(X)*E where E commutes with X (inv(X) for E = I)."""
    if E.is_zero(e):
        return e
    if x.is_scalar or commutes(E, x, e):
        return E.mul(E.inv(x), e)
    return None


def _beyond(function: str):
    """The third derivatives through expm/logm (and the adjoint or Jacobian of a
    Kronecker form in its direction) are not written yet: a named DiffError, never a
    silent zero."""
    def rule(*_):
        raise DiffError(f"third derivatives through {function} are not in mdiff yet "
                        "(first and second derivatives are)")
    return rule


def _frechet_family(f: str, build_first, domain) -> tuple:
    """The records f's derivatives need, for f = expm or logm (Higham 2008, §3.2-3.6):

    * ``f_frechet(X, E)`` = L(X, E), linear in E, adjoint L(X', G), Kronecker form
      ``f_kron(X)``; d L = L(X, dE) + L2(X, E, dX);
    * ``f_frechet(X, E, F)`` = L2(X, E, F), the second Fréchet derivative, symmetric and
      bilinear in E and F, adjoint in F: L2(X', E', G), Kronecker form ``f_kron(X, E)``;
    * ``f_kron(X)`` (n²×n²) with vec(L(X, E)) = f_kron(X)*vec(E); d f_kron(X) =
      f_kron(X, dX), since L2 is symmetric in its directions;
    * ``f_kron(X, E)`` with vec(L2(X, E, F)) = f_kron(X, E)*vec(F).

    Numbers: L by SciPy or Daleckii-Krein, L2 by the block identity L2(X, E, F) =
    L([[X, E], [0, X]], [[F, 0], [0, F]])_12, a Kronecker form column by column."""
    frechet, kron = f"{f}_frechet", f"{f}_kron"
    beyond = _beyond(f)
    f_code, df_code = _SPECTRAL_CODE[f]
    sub = {"expm": "\\exp", "logm": "\\log"}[f]     # Higham's L_f(X, E) and K_f(X)
    first_tex, second_tex = f"L_{{{{{sub}}}}}", f"L^{{{{(2)}}}}_{{{{{sub}}}}}"
    kron_tex, kron2_tex = f"K_{{{{{sub}}}}}", f"K^{{{{(2)}}}}_{{{{{sub}}}}}"
    helpers = (_MATFUN_HELPER, _FRECHET_HELPER, _FRECHET_SYM_HELPER, _FRECHET2_HELPER,
               _KRON_FORM_HELPER)
    first_sym = f"_frechet_sym({{0}}, {{1}}, xp, {f_code}, {df_code})"

    def d_first(E, node, d):
        x, e = node.args
        return E.add(E.apply(frechet, x, d(1)), E.apply(frechet, x, e, d(0)))

    def d_second(E, node, d):
        x, e, g = node.args
        if not E.is_zero(d(0)):
            beyond()
        return E.add(E.apply(frechet, x, e, d(2)), E.apply(frechet, x, g, d(1)))

    def build_second(E, x, e, g):
        if E.is_zero(e) or E.is_zero(g):
            return E.zeros(x.shape)
        return None

    return (
        Function(frechet, shapes.SQUARE_PAIR, d_first, _np_frechet(f),
                 f"_frechet({{0}}, {{1}}, xp, {f!r})", first_tex, build=build_first,
                 domain=domain, symmetric="kept", linear_in=1,
                 adjoint=lambda E, node, g: E.apply(frechet, E.transpose(node.args[0]), g),
                 jacobian=lambda E, node: E.apply(kron, node.args[0]),
                 helpers=helpers, symmetric_code=first_sym),
        Function(f"{frechet}2", shapes.SQUARE_TRIPLE, d_second, _np_frechet2(f),
                 f"_frechet2({{0}}, {{1}}, {{2}}, xp, {f!r})", second_tex, spelling=frechet,
                 build=build_second, domain=domain, symmetric="kept", linear_in=2,
                 adjoint=lambda E, node, g: E.apply(frechet, E.transpose(node.args[0]),
                                                    E.transpose(node.args[1]), g),
                 jacobian=lambda E, node: E.apply(kron, node.args[0], node.args[1]),
                 helpers=helpers),
        Function(kron, shapes.KRON_FORM, lambda E, node, d: E.apply(kron, node.args[0], d(0)),
                 _np_kron_form(f), f"_kron_form(lambda e: _frechet({{0}}, e, xp, {f!r}), "
                 "{0}.shape[0], xp)", kron_tex,
                 domain=domain, symmetric="kept", helpers=helpers,
                 symmetric_code=f"_kron_form(lambda e: {first_sym.format('{0}', 'e')}, "
                                "{0}.shape[0], xp)"),
        Function(f"{kron}2", shapes.KRON_FORM_PAIR, beyond, _np_kron_form2(f),
                 f"_kron_form(lambda g: _frechet2({{0}}, {{1}}, g, xp, {f!r}), "
                 "{0}.shape[0], xp)", kron2_tex, spelling=kron, domain=domain, linear_in=1, adjoint=beyond, jacobian=beyond,
                 helpers=helpers),
    )


_MATFUN_HELPER = ("matfun", '''def _matfun(x, xp, name):
    # a function of a matrix not known to be symmetric: SciPy on NumPy, jax.scipy on JAX
    # and torch.linalg.matrix_exp; other backends have no kernel
    mod = xp.__name__
    if mod.startswith("jax"):
        import jax.scipy.linalg
        if hasattr(jax.scipy.linalg, name):
            return xp.real(getattr(jax.scipy.linalg, name)(x))
    elif mod.endswith("numpy"):
        import numpy
        import scipy.linalg
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # logm's "may be inaccurate"
            y = getattr(scipy.linalg, name)(numpy.asarray(x))
        if numpy.iscomplexobj(y):
            ok = numpy.abs(y.imag).max() <= 1e-8 * (1.0 + numpy.abs(y.real).max())
            y = y.real if ok else numpy.full(y.shape, numpy.nan)
        return xp.asarray(y)
    elif "torch" in mod and name == "expm":
        import torch
        return torch.linalg.matrix_exp(x)
    raise NotImplementedError(f"{name} of a matrix not known to be symmetric: "
                              f"{mod} has no kernel for it (NumPy/SciPy has)")''')

_FRECHET2_HELPER = ("frechet2", '''def _frechet2(x, e, f, xp, name):
    # the second Frechet derivative L2(X, E, F) = L([[X, E], [0, X]], [[F, 0], [0, F]])_12
    n = x.shape[0]
    zero = xp.zeros_like(x)
    z = xp.concat([xp.concat([x, e], axis=1), xp.concat([zero, x], axis=1)], axis=0)
    d = xp.concat([xp.concat([f, zero], axis=1), xp.concat([zero, f], axis=1)], axis=0)
    return _frechet(z, d, xp, name)[:n, n:]''')

_KRON_FORM_HELPER = ("kron_form", '''def _kron_form(linear, n, xp):
    # the n^2 x n^2 matrix M of a linear map of n x n matrices, vec(linear(E)) = M vec(E),
    # column by column (vec stacks columns)
    unit = xp.eye(n * n)
    cols = [xp.reshape(linear(xp.reshape(unit[k], (n, n)).T).T, (-1,)) for k in range(n * n)]
    return xp.stack(cols, axis=1)''')

_SYMFUN_HELPER = ("symfun", '''def _symfun(x, xp, f):
    # f of a symmetric matrix through its eigendecomposition (stable, any backend)
    w, u = xp.linalg.eigh(x)
    return (u * xp.reshape(f(w), (1, -1))) @ u.T''')

_FRECHET_HELPER = ("frechet", '''def _frechet(x, e, xp, name):
    # L_f(X, E): SciPy's expm_frechet on NumPy, else the block identity
    # f([[X, E], [0, X]]) = [[f(X), L_f(X, E)], [0, f(X)]]
    mod = xp.__name__
    if name == "expm" and mod.endswith("numpy") and not mod.startswith("jax"):
        import numpy
        import scipy.linalg
        return xp.asarray(scipy.linalg.expm_frechet(numpy.asarray(x), numpy.asarray(e),
                                                    compute_expm=False))
    n = x.shape[0]
    block = xp.concat([xp.concat([x, e], axis=1),
                       xp.concat([xp.zeros_like(x), x], axis=1)], axis=0)
    return _matfun(block, xp, name)[:n, n:]''')

_FRECHET_SYM_HELPER = ("frechet_sym", '''def _frechet_sym(x, e, xp, f, df):
    # L_f(X, E) for a symmetric X (Daleckii-Krein): U ((U' E U) .* F) U', F the divided
    # differences of f on the eigenvalues
    w, u = xp.linalg.eigh(x)
    wi, wj = xp.reshape(w, (-1, 1)), xp.reshape(w, (1, -1))
    gap = wi - wj
    close = xp.abs(gap) <= 1e-9 * (1.0 + xp.max(xp.abs(w)))
    divided = xp.where(close, df((wi + wj) / 2),
                       (f(wi) - f(wj)) / xp.where(close, xp.ones_like(gap), gap))
    return u @ ((u.T @ e @ u) * divided) @ u.T''')

_SYLVESTER_HELPER = ("sylvester", '''def _sylvester(a, b, c, xp):
    # the Y with A*Y + Y*B = C: SciPy's Bartels-Stewart solver on NumPy, else the
    # Kronecker system (I ⊗ A + B' ⊗ I) vec(Y) = vec(C)
    mod = xp.__name__
    if mod.endswith("numpy") and not mod.startswith("jax"):
        import numpy
        import scipy.linalg
        return xp.asarray(scipy.linalg.solve_sylvester(numpy.asarray(a), numpy.asarray(b),
                                                       numpy.asarray(c)))
    n, m = c.shape
    i_n, i_m = xp.eye(n, dtype=a.dtype), xp.eye(m, dtype=a.dtype)
    k = xp.reshape(i_m[:, None, :, None] * a[None, :, None, :], (n * m, n * m)) \\
        + xp.reshape(b.T[:, None, :, None] * i_n[None, :, None, :], (n * m, n * m))
    y = xp.linalg.solve(k, xp.reshape(c.T, (-1, 1)))
    return xp.reshape(y, (m, n)).T''')

_SYLVESTER_SYM_HELPER = ("sylvester_sym", '''def _sylvester_sym(a, b, c, xp):
    # A*Y + Y*B = C for symmetric A and B: Y = U ((U' C V) ./ (a_i + b_j)) V'
    wa, u = xp.linalg.eigh(a)
    wb, v = xp.linalg.eigh(b)
    return u @ ((u.T @ c @ v) / (xp.reshape(wa, (-1, 1)) + xp.reshape(wb, (1, -1)))) @ v.T''')

_SPECTRAL_CODE = {"sqrtm": ("xp.sqrt", "lambda w: 0.5 / xp.sqrt(w)"),
                  "expm": ("xp.exp", "xp.exp"),
                  "logm": ("xp.log", "lambda w: 1.0 / w")}


#: How a textbook writes the matrix functions: X^{1/2}, e^{X}; logm stays a name (log X
#: would read as the elementwise log, which mdiff prints \log(X)).
_MATRIX_FUNCTION_LATEX = {
    "sqrtm": lambda node, arg, tex: (tex.sup(arg, "1/2"), tex.POSTFIX),
    "expm": lambda node, arg, tex: (f"e^{{{arg[0]}}}", tex.ATOM),
    "logm": "\\operatorname{{logm}}",
}


def _matrix_function(name: str, differential, build, domain=None) -> "Function":
    f_code, _ = _SPECTRAL_CODE[name]
    return Function(name, shapes.SQUARE, differential, _np_matrix_function(name),
                    f"_matfun({{0}}, xp, {name!r})", _MATRIX_FUNCTION_LATEX[name],
                    build=build, domain=domain, symmetric="kept",
                    helpers=(_MATFUN_HELPER, _SYMFUN_HELPER),
                    symmetric_code=f"_symfun({{0}}, xp, {f_code})")


def _per_entry(E, x):
    """1/size of x, the weight of each entry in mean(x)."""
    return E.power(E.dim_scalar(x.size), E.num(-1))


def _scalar_is(fn):
    """build: on a scalar argument the function is ``fn(E, x)``."""
    return lambda E, x: fn(E, x) if x.is_scalar else None


def _norm_latex(sub):
    def latex(node, arg, tex):
        s = sub(node.args[0])
        return (tex.delims(arg[0], "\\lVert", "\\rVert") + f"_{{{s}}}", tex.ATOM)
    return latex


# --- spectral functions: eigenvalues and singular values (issue 17) ----------------------
#
# eigvals(X) are the eigenvalues of the symmetric part (X + X')/2, ascending, eigvecs(X)
# its orthonormal eigenvectors; svdvals(X) the singular values, descending, svdu(X) and
# svdv(X) the thin SVD's factors (svdu1, svdv1 their first columns).  With V = eigvecs(X),
# λ = eigvals(X) and F = gapinv(λ) (F_ij = 1/(λ_j - λ_i), 0 on the diagonal):
# dλ = diag(V'*dX*V) and dV = V*(F .* (V'*sym(dX)*V)) (Magnus 1985); the SVD's follow
# from those of X'X and XX' (Townsend 2016).  A vector is defined up to its sign: each
# column of eigvecs and svdu has its largest entry positive (svdv follows svdu), a choice
# that is locally constant, so the rules hold.  Eigen- and singular vectors, and every
# derivative through them, need distinct values (and, for the SVD, nonzero ones): closer
# than SPECTRAL_GAP they are an EvaluationError (a ValueError in generated code), never
# an arbitrary basis.

#: Relative distance below which two eigenvalues (singular values) count as repeated, and
#: a singular value as zero: |a - b| <= SPECTRAL_GAP * max(1, largest magnitude).
SPECTRAL_GAP = 1e-8


def _require_gaps(w, what: str, nonzero: bool = False, top: bool = False) -> None:
    """Raise the named EvaluationError where the values ``w`` are repeated (only the
    largest two compared where ``top``) or, ``nonzero``, where the smallest (``top``:
    the largest) is 0."""
    w = np.sort(np.ravel(w))[::-1]
    tol = SPECTRAL_GAP * max(1.0, float(np.abs(w).max(initial=0.0)))
    gaps = -np.diff(w[:2] if top else w)
    if gaps.size and gaps.min() <= tol:
        raise EvaluationError(f"repeated {what} (closer than {SPECTRAL_GAP:g} relative): "
                              "the eigen- or singular vectors, and derivatives through "
                              "them, are not defined there")
    if nonzero and w.size and abs(w[0] if top else w[-1]) <= tol:
        raise EvaluationError("a zero singular value (rank deficiency): the singular "
                              "vectors, and derivatives through them, are not defined there")


def _column_signs(u) -> np.ndarray:
    """+1/-1 per column, making each column's largest-magnitude entry positive."""
    big = u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])]
    return np.where(big < 0, -1.0, 1.0)


def _np_eigvecs(x):
    w, v = np.linalg.eigh((x + x.T) / 2)
    _require_gaps(w, "eigenvalues")
    return v * _column_signs(v)


def _np_svd(part: str):
    def value(x):
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        _require_gaps(s, "singular values", nonzero=True, top=part.endswith("1"))
        sign = _column_signs(u)
        factor = u * sign if part.startswith("svdu") else vt.T * sign
        return factor[:, :1] if part.endswith("1") else factor
    return value


def _np_gapinv(v):
    w = np.ravel(v)
    _require_gaps(w, "eigenvalues or singular values")
    gap = w[None, :] - w[:, None]
    off = ~np.eye(w.size, dtype=bool)
    return np.where(off, 1.0 / np.where(off, gap, 1.0), 0.0)


_SPECTRAL_HELPER = ("spectral", '''def _spectral(x, xp, part):
    # eigenvectors of the symmetric part (part "eigvecs") or thin-SVD factors ("svdu",
    # "svdv"; "svdu1"/"svdv1" the first columns), each column's largest entry positive;
    # repeated (or, for the SVD, zero) values leave them undefined: a ValueError
    if part == "eigvecs":
        w, u = xp.linalg.eigh((x + x.T) / 2)
        w, what = xp.flip(w), "eigenvalues"
    else:
        u, w, vt = xp.linalg.svd(x, full_matrices=False)
        what = "singular values"
    top = part.endswith("1")
    tol = SPECTRAL_GAP * max(1.0, float(xp.max(xp.abs(w))))
    gaps = (w[:-1] - w[1:])[:1] if top else w[:-1] - w[1:]
    if gaps.shape[0] and float(xp.min(gaps)) <= tol:
        raise ValueError(f"repeated {what}: the eigen- or singular vectors, and "
                         "derivatives through them, are not defined there")
    if what != "eigenvalues" and float(w[0] if top else w[-1]) <= tol:
        raise ValueError("a zero singular value (rank deficiency): the singular vectors, "
                         "and derivatives through them, are not defined there")
    first = xp.reshape(xp.arange(u.shape[0]), (-1, 1)) == \\
        xp.reshape(xp.argmax(xp.abs(u), axis=0), (1, -1))     # the first largest entry
    lead = xp.sum(xp.where(first, u, xp.zeros_like(u)), axis=0, keepdims=True)
    sign = xp.where(lead < 0, -xp.ones_like(lead), xp.ones_like(lead))
    factor = vt.T * sign if part.startswith("svdv") else u * sign
    return factor[:, :1] if top else factor''')

_GAPINV_HELPER = ("gapinv", '''def _gapinv(v, xp):
    # F[i, j] = 1/(v[j] - v[i]), 0 on the diagonal; repeated values: a ValueError
    gap = xp.reshape(v, (1, -1)) - xp.reshape(v, (-1, 1))
    off = xp.eye(gap.shape[0]) == 0
    tol = SPECTRAL_GAP * max(1.0, float(xp.max(xp.abs(v))))
    if gap.shape[0] > 1 and float(xp.min(xp.where(off, xp.abs(gap), xp.inf))) <= tol:
        raise ValueError("repeated eigenvalues or singular values: the eigen- or "
                         "singular vectors' derivatives are not defined there")
    return xp.where(off, 1 / xp.where(off, gap, xp.ones_like(gap)), xp.zeros_like(gap))''')

_SPECTRAL_GAP_HELPER = ("SPECTRAL_GAP", f"SPECTRAL_GAP = {SPECTRAL_GAP!r}")


def _spread(w, power: int = 1) -> float:
    """(largest magnitude / smallest gap of the values ``w``)^power, scale-free: the
    derivatives through eigenvectors divide by the gaps (inf where two values
    coincide)."""
    w = np.sort(np.ravel(w))
    gap = np.diff(w).min(initial=np.inf) if w.size > 1 else np.inf
    return float(np.abs(w).max(initial=0.0) / gap) ** power if gap > 0 else np.inf


def _eig_conditioning(x):
    return _spread(np.linalg.eigvalsh((x + x.T) / 2))


def _svd_conditioning(x):
    """The singular values' spread, and their condition number (1/σ terms)."""
    s = np.linalg.svd(x, compute_uv=False)
    return max(_spread(s), float(s[0] / s[-1]) if s[-1] > 0 else np.inf)


def _d_eigvals(E, node, d):
    """dλ = diag(V'*dX*V): dλ_i = v_i'*dX*v_i."""
    v = E.apply("eigvecs", node.args[0])
    return E.apply("diag", E.mul(E.transpose(v), d(0), v))


def _d_eigvecs(E, node, d):
    """dV = V*(F .* (V'*sym(dX)*V)), F = gapinv(λ) (first-order perturbation theory)."""
    x = node.args[0]
    v = E.apply("eigvecs", x)
    p = E.mul(E.transpose(v), symmetric_part(E, d(0)), v)
    return E.mul(v, E.hadamard(E.apply("gapinv", E.apply("eigvals", x)), p))


def _d_svdvals(E, node, d):
    """dσ = diag(U'*dX*V): dσ_i = u_i'*dX*v_i."""
    x = node.args[0]
    return E.apply("diag", E.mul(E.transpose(E.apply("svdu", x)), d(0), E.apply("svdv", x)))


def _svd_factor_differential(E, x, d, left: bool):
    """dU = U*(F .* (dP*S + S*dP')) + (I - U*U')*dX*V*inv(S) with dP = U'*dX*V,
    S = diag(σ), F = gapinv(σ.^2), and dV likewise with X' (Townsend 2016,
    "Differentiating the singular value decomposition"); the projector term vanishes
    where the factor is square."""
    u, v, s = E.apply("svdu", x), E.apply("svdv", x), E.apply("svdvals", x)
    dp, big_s = E.mul(E.transpose(u), d(0), v), E.apply("diag", s)
    if left:
        mine, other, dx = u, v, d(0)
        inner = E.add(E.mul(dp, big_s), E.mul(big_s, E.transpose(dp)))
    else:
        mine, other, dx = v, u, E.transpose(d(0))
        inner = E.add(E.mul(big_s, dp), E.mul(E.transpose(dp), big_s))
    out = E.mul(mine, E.hadamard(E.apply("gapinv", E.power(s, E.num(2))), inner))
    if not E.same_dim(mine.rows, mine.cols):
        projector = E.sub(E.eye(mine.rows), E.mul(mine, E.transpose(mine)))
        out = E.add(out, E.mul(projector, dx, other, E.apply("diag", E.power(s, E.num(-1)))))
    return out


def _d_first_singular(left: bool):
    """d u1 = dU*e1, e1 = U'*u1 written in the language (the first column of dU)."""
    def rule(E, node, d):
        x = node.args[0]
        e1 = E.mul(E.transpose(E.apply("svdu" if left else "svdv", x)), node)
        return E.mul(_svd_factor_differential(E, x, d, left), e1)
    return rule


def _d_normnuc(E, node, d):
    """d||X||_* = tr(V*U'*dX): the gradient U*V' (full rank)."""
    x = node.args[0]
    return E.inner(E.mul(E.apply("svdu", x), E.transpose(E.apply("svdv", x))), d(0))


def _d_normspec(E, node, d):
    """d||X||_2 = u1'*dX*v1: the gradient u1*v1' (a simple largest singular value)."""
    x = node.args[0]
    return E.mul(E.transpose(E.apply("svdu1", x)), d(0), E.apply("svdv1", x))


def _d_gapinv(E, node, d):
    """F_ij = 1/(v_j - v_i): dF = F.^2 .* (dv*1' - 1*dv')."""
    dv, ones = d(0), E.ones((1, node.rows))
    return E.hadamard(E.power(node, E.num(2)),
                      E.sub(E.mul(dv, ones), E.mul(E.transpose(ones), E.transpose(dv))))


def _same_for_transpose(name: str, scalar):
    """f(X') = f(X): eigvals/eigvecs read the symmetric part, which X and X' share, and X
    and X' have the same singular values; ``scalar(E, x)`` is f of a scalar."""
    def build(E, x):
        if x.is_scalar:
            return scalar(E, x)
        return E.apply(name, x.args[0]) if x.op == "T" else None
    return build


def _spectral_norm(name: str):
    """normnuc/normspec of a vector is its 2-norm, of X' that of X."""
    def build(E, x):
        if x.rows == 1 or x.cols == 1:
            return E.apply("norm2", x)
        return E.apply(name, x.args[0]) if x.op == "T" else None
    return build


_SPECTRAL_HELPERS = (_SPECTRAL_GAP_HELPER, _SPECTRAL_HELPER)

SPECTRAL = (
    Function("eigvals", shapes.SQUARE_TO_VECTOR, _d_eigvals,
             lambda x: np.linalg.eigvalsh((x + x.T) / 2).reshape(-1, 1),
             "xp.reshape(xp.linalg.eigvalsh(({0} + {0}.T) / 2), (-1, 1))", "\\lambda",
             build=_same_for_transpose("eigvals", lambda E, x: x)),
    Function("eigvecs", shapes.SQUARE, _d_eigvecs, _np_eigvecs,
             "_spectral({0}, xp, 'eigvecs')", "\\operatorname{{eigvecs}}",
             build=_same_for_transpose("eigvecs", lambda E, x: E.num(1)),
             helpers=_SPECTRAL_HELPERS, orthonormal=True, conditioning=_eig_conditioning),
    Function("gapinv", shapes.VECTOR_TO_SQUARE, _d_gapinv, _np_gapinv, "_gapinv({0}, xp)",
             "\\operatorname{{gapinv}}", helpers=(_SPECTRAL_GAP_HELPER, _GAPINV_HELPER),
             conditioning=lambda v: _spread(v, power=2)),     # its derivative is F.^2
    Function("svdvals", shapes.SINGULAR_VALUES, _d_svdvals,
             lambda x: np.linalg.svd(x, compute_uv=False).reshape(-1, 1),
             "xp.reshape(xp.linalg.svdvals({0}), (-1, 1))", "\\sigma",
             build=_same_for_transpose("svdvals", lambda E, x: E.apply("abs", x))),
    Function("svdu", shapes.SINGULAR_LEFT,
             lambda E, node, d: _svd_factor_differential(E, node.args[0], d, True),
             _np_svd("svdu"), "_spectral({0}, xp, 'svdu')", "\\operatorname{{svdu}}",
             helpers=_SPECTRAL_HELPERS, orthonormal=True, conditioning=_svd_conditioning),
    Function("svdv", shapes.SINGULAR_RIGHT,
             lambda E, node, d: _svd_factor_differential(E, node.args[0], d, False),
             _np_svd("svdv"), "_spectral({0}, xp, 'svdv')", "\\operatorname{{svdv}}",
             helpers=_SPECTRAL_HELPERS, orthonormal=True, conditioning=_svd_conditioning),
    Function("svdu1", shapes.SINGULAR_LEFT_FIRST, _d_first_singular(True), _np_svd("svdu1"),
             "_spectral({0}, xp, 'svdu1')", "\\operatorname{{svdu_1}}",
             helpers=_SPECTRAL_HELPERS, orthonormal=True, conditioning=_svd_conditioning),
    Function("svdv1", shapes.SINGULAR_RIGHT_FIRST, _d_first_singular(False), _np_svd("svdv1"),
             "_spectral({0}, xp, 'svdv1')", "\\operatorname{{svdv_1}}",
             helpers=_SPECTRAL_HELPERS, orthonormal=True, conditioning=_svd_conditioning),
    Function("normnuc", shapes.REDUCE, _d_normnuc,
             lambda x: np.linalg.svd(x, compute_uv=False).sum(),
             "xp.reshape(xp.sum(xp.linalg.svdvals({0})), (1, 1))", _norm_latex(lambda x: "*"),
             build=_spectral_norm("normnuc")),
    Function("normspec", shapes.REDUCE, _d_normspec,
             lambda x: np.linalg.svd(x, compute_uv=False)[0],
             "xp.reshape(xp.max(xp.linalg.svdvals({0})), (1, 1))", _norm_latex(lambda x: "2"),
             build=_spectral_norm("normspec")),
)


def _d_extremum(E, node, d):
    """d max(X) = <ismax(X), dX>: the weights of the entries where X attains its maximum
    (min: ismin).  At a tie of k entries each weighs 1/k, the mean of the one-sided
    derivatives, as max(a, b) takes at a = b (README)."""
    return E.inner(E.apply("is" + node.op, node.args[0]), d(0))


def _np_is_extreme(largest: bool):
    def call(x):
        m = (x == (x.max() if largest else x.min())).astype(float)
        return m / m.sum()
    return call


_IS_EXTREME_HELPER = ("is_extreme", '''def _is_extreme(z, xp, largest):
    # 1/k at each of the k entries where z attains its maximum (minimum), 0 elsewhere
    m = xp.astype(z == (xp.max(z) if largest else xp.min(z)), z.dtype)
    return m / xp.sum(m)''')


def _is_extreme(largest: bool) -> "Function":
    """ismax(X)/ismin(X), the gradient of max(X)/min(X): piecewise constant, so its
    differential is 0 (as sign's is)."""
    name = "ismax" if largest else "ismin"
    return Function(name, shapes.SAME, lambda E, node, d: E.zeros(node.shape),
                    _np_is_extreme(largest), f"_is_extreme({{0}}, xp, {largest})",
                    f"\\operatorname{{{{{name}}}}}", helpers=(_IS_EXTREME_HELPER,),
                    build=_scalar_is(lambda E, x: E.num(1)), smooth=False)


def _d_logsumexp(E, node, d):
    """d lse(X) = <exp(X - lse(X)), dX>  (softmax over all entries)."""
    x = node.args[0]
    if x.cols == 1:
        return E.inner(E.apply("softmax", x), d(0))
    weights = E.mul(E.apply("exp", E.neg(node)), E.apply("exp", x))
    return E.inner(weights, d(0))


def _d_softmax(E, node, d):
    """Column-wise: dS = S .* dX - S .* (1 * 1'(S .* dX)); for a vector s .* dx - s*(s'dx)."""
    s, dx = node, d(0)
    if s.cols == 1:
        return E.sub(E.hadamard(s, dx), E.mul(s, E.mul(E.transpose(s), dx)))
    col_sums = E.mul(E.ones((s.rows, 1)), E.mul(E.ones((1, s.rows)), E.hadamard(s, dx)))
    return E.sub(E.hadamard(s, dx), E.hadamard(s, col_sums))


FUNCTIONS = {f.name: f for f in (
    Function("inv", shapes.SQUARE, lambda E, node, d: E.neg(E.mul(node, d(0), node)),
             _np_inv, "xp.linalg.inv({0})", lambda node, arg, tex: (tex.sup(arg, "-1"), tex.POSTFIX),
             build=_build_inv, domain="invertible", symmetric="kept", sympy="Inverse",
             conditioning=lambda x: float(np.linalg.cond(x)) if x.shape[0] > 1 else 1.0),
    Function("det", shapes.SQUARE_REDUCE,
             lambda E, node, d: E.mul(node, E.apply("tr", E.mul(E.inv(node.args[0]), d(0)))),
             _numpy("linalg.det"), "xp.reshape(xp.linalg.det({0}), (1, 1))", "\\det",
             build=_build_det, domain="spd", sympy="Determinant"),
    Function("logdet", shapes.SQUARE_REDUCE,
             lambda E, node, d: E.apply("tr", E.mul(E.inv(node.args[0]), d(0))),
             _np_logdet, "_logdet({0}, xp)", "\\log\\det", helpers=(_LOGDET_HELPER,),
             build=_build_logdet, domain="posdet"),
    linear("tr", shapes.SQUARE_REDUCE,
           lambda E, node, g: E.mul(g, E.eye(node.args[0].rows)),
           lambda E, node: E.transpose(E.apply("vec", E.eye(node.args[0].rows))),
           numpy=_numpy("trace"), code="xp.reshape(xp.sum(xp.linalg.diagonal({0})), (1, 1))",
           latex="\\operatorname{{tr}}", build=_build_tr, sympy="Trace",
           adjoint_identity="cyclic trace: tr(A*B) = tr(B*A)"),
    linear("sum", shapes.REDUCE,
           lambda E, node, g: E.mul(g, E.ones(node.args[0].shape)),
           lambda E, node: E.ones((1, node.args[0].size)),
           numpy=_numpy("sum"), code="xp.reshape(xp.sum({0}), (1, 1))", latex="\\operatorname{{sum}}",
           build=_build_sum, adjoint_identity="sum(A .* B) = tr(A'*B)"),
    # mean(X) = sum(X)/size: its adjoint spreads g/size over every entry
    linear("mean", shapes.REDUCE,
           lambda E, node, g: E.mul(g, E.ones(node.args[0].shape), _per_entry(E, node.args[0])),
           lambda E, node: E.mul(E.ones((1, node.args[0].size)), _per_entry(E, node.args[0])),
           numpy=_numpy("mean"), code="xp.reshape(xp.mean({0}), (1, 1))",
           latex="\\operatorname{{mean}}", build=_scalar_is(lambda E, x: x)),
    Function("norm1", shapes.REDUCE,
             lambda E, node, d: E.inner(E.apply("sign", node.args[0]), d(0)),
             lambda x: np.abs(x).sum(), "xp.reshape(xp.sum(xp.abs({0})), (1, 1))",
             _norm_latex(lambda x: "1"), build=_scalar_is(lambda E, x: E.apply("abs", x)),
             smooth=False),
    Function("norm2", shapes.REDUCE,
             lambda E, node, d: E.mul(E.inner(node.args[0], d(0)), E.power(node, E.num(-1))),
             lambda x: np.sqrt((x * x).sum()), "xp.sqrt(_sumsq({0}, xp))",
             _norm_latex(lambda x: "2" if (x.rows == 1 or x.cols == 1) else "F"),
             helpers=(SUMSQ_HELPER,), build=_build_norm2),
    # the largest and smallest entry (max(x, y) and min(x, y) are the entrywise Expansions)
    Function("max", shapes.REDUCE, _d_extremum, _numpy("max"), "xp.reshape(xp.max({0}), (1, 1))",
             "\\max", build=_scalar_is(lambda E, x: x), smooth=False),
    Function("min", shapes.REDUCE, _d_extremum, _numpy("min"), "xp.reshape(xp.min({0}), (1, 1))",
             "\\min", build=_scalar_is(lambda E, x: x), smooth=False),
    _is_extreme(largest=True),
    _is_extreme(largest=False),
    Function("logsumexp", shapes.REDUCE, _d_logsumexp, _np_logsumexp, "_logsumexp({0}, xp)",
             "\\operatorname{{logsumexp}}", helpers=(_LOGSUMEXP_HELPER,),
             build=_scalar_is(lambda E, x: x)),
    Function("softmax", shapes.SAME, _d_softmax, _np_softmax, "_softmax({0}, xp)",
             "\\operatorname{{softmax}}", helpers=(_SOFTMAX_HELPER,),
             build=_scalar_is(lambda E, x: E.num(1))),
    linear("vec", shapes.VEC,
           lambda E, node, g: E.unvec(g, node.args[0].shape),
           lambda E, node: E.eye(node.args[0].size),
           numpy=lambda x: x.reshape(-1, 1, order="F"), code="xp.reshape({0}.T, (-1, 1))",
           latex="\\operatorname{{vec}}", build=_build_vec,
           adjoint_identity="vec(A)'*vec(B) = tr(A'*B)"),
    linear("diagm", shapes.DIAG_MATRIX,
           lambda E, node, g: E.apply("diag", g),
           lambda E, node: E.mul(E.diag_of_vec(E.eye(node.rows)),
                                 E.kron(E.ones((node.rows, 1)), E.eye(node.rows))),
           spelling="diag", numpy=lambda v: np.diag(v[:, 0]), code="{0} * xp.eye({rows})",
           latex="\\operatorname{{diag}}", build=_build_diagm, symmetric="always",
           adjoint_identity="diagonal: tr(A*diag(x)) = diag(A)'*x"),
    linear("diagv", shapes.DIAG_VECTOR,
           lambda E, node, g: E.apply("diag", g),
           lambda E, node: E.mul(E.kron(E.ones((1, node.rows)), E.eye(node.rows)),
                                 E.diag_of_vec(E.eye(node.rows))),
           spelling="diag", numpy=lambda x: np.diag(x).reshape(-1, 1).copy(),
           code="xp.reshape(xp.linalg.diagonal({0}), (-1, 1))", latex="\\operatorname{{diag}}",
           build=_build_diagv),
    Function("chol", shapes.SQUARE, _d_chol, _np_chol, "xp.linalg.cholesky(({0} + {0}.T) / 2)",
             "\\operatorname{{chol}}", build=_build_chol, domain="spd"),
    linear("tril", shapes.SQUARE, lambda E, node, g: E.apply("tril", g),
           _triangle_jacobian("tril"), numpy=_numpy("tril"), code="xp.tril({0})",
           latex="\\operatorname{{tril}}", build=_build_triangle("lower")),
    linear("triu", shapes.SQUARE, lambda E, node, g: E.apply("triu", g),
           _triangle_jacobian("triu"), numpy=_numpy("triu"), code="xp.triu({0})",
           latex="\\operatorname{{triu}}", build=_build_triangle("upper")),
    Function("sylvester", shapes.SYLVESTER, _d_sylvester, _np_sylvester,
             "_sylvester({0}, {1}, {2}, xp)", "\\operatorname{{sylvester}}",
             build=_build_sylvester, linear_in=2, symmetric=_sylvester_symmetric,
             adjoint=lambda E, node, g: E.apply("sylvester", E.transpose(node.args[0]),
                                                E.transpose(node.args[1]), g),
             jacobian=_sylvester_jacobian, helpers=(_SYLVESTER_HELPER, _SYLVESTER_SYM_HELPER),
             symmetric_code="_sylvester_sym({0}, {1}, {2}, xp)"),
    _matrix_function("sqrtm", lambda E, node, d: E.apply("sylvester", node, node, d(0)),
                     _build_sqrtm, domain="spectrum"),
    _matrix_function("expm", lambda E, node, d: E.apply("expm_frechet", node.args[0], d(0)),
                     _build_expm),
    _matrix_function("logm", lambda E, node, d: E.apply("logm_frechet", node.args[0], d(0)),
                     _build_logm, domain="spectrum"),
    *_frechet_family("expm", _build_expm_frechet, None),
    *_frechet_family("logm", _build_logm_frechet, "spectrum"),
    *SPECTRAL,
)}

#: Every record, by the op of its nodes.
RECORDS = {**ELEMENTWISE, **FUNCTIONS}


# --- functions the language defines by their expansion into others ----------------------

@dataclass(frozen=True)
class Expansion:
    """A function of the language that is never a node of its own: ``build(E, *args)``
    writes it in the others (its derivative, evaluation and printing are theirs), after
    ``shape`` has checked the arguments."""

    name: str
    shape: shapes.Rule
    build: Callable

    @property
    def spelling(self) -> str:
        return self.name


def _extremum(largest: bool):
    """max(a, b) (``largest``) or min(a, b) entrywise, a number or scalar broadcast:
    (a + b ± |a - b|)/2, so the derivative at ties is the mean of the two sides (abs'(0)
    = 0, as relu'(0) = 0); max(a, 0) = relu(a), min(a, 0) = -relu(-a)."""
    def build(E, a, b):
        if a.is_scalar and not b.is_scalar:
            a = E.mul(a, E.ones(b.shape))
        if b.is_scalar and not a.is_scalar:
            b = E.mul(b, E.ones(a.shape))
        for x, y in ((a, b), (b, a)):
            if E.is_zero(y):
                return E.apply("relu", x) if largest else E.neg(E.apply("relu", E.neg(x)))
        gap = E.apply("abs", E.sub(a, b))
        return E.scale(E.Rational(1, 2), E.add(a, b, gap if largest else E.neg(gap)))
    return build


EXPANSIONS = {f.name: f for f in (
    Expansion("max", shapes.BROADCAST_PAIR, _extremum(largest=True)),
    Expansion("min", shapes.BROADCAST_PAIR, _extremum(largest=False)),
    # leaky_relu(x, a) = relu(x) - a*relu(-x): slope a below 0
    Expansion("leaky_relu", shapes.WITH_SLOPE,
              lambda E, x, a: E.sub(E.apply("relu", x), E.mul(a, E.apply("relu", E.neg(x))))),
)}

#: Names people write for a function of the language, read as it and printed in mdiff's
#: notation (``trace(X)`` is ``tr(X)``); the structural ones, ``transpose``, ``dot`` and
#: ``outer``, ``language/reading.py`` writes as ', * and vec.
ALIASES = {"trace": "tr"}

#: The language's function names, each with the records it reads as (in the order the
#: rules are tried: ``diag`` of a vector, else of a square matrix).
SPELLINGS: dict[str, tuple] = {}
for _record in (*RECORDS.values(), *EXPANSIONS.values()):
    SPELLINGS.setdefault(_record.spelling, ())
    SPELLINGS[_record.spelling] += (_record,)


def reading(spelling: str, algebra, x, nargs: int = 1):
    """The record a call ``spelling(x, ...)`` with ``nargs`` arguments reads as, for a
    first argument of shape ``x`` (``expm_frechet(X, E)`` and ``expm_frechet(X, E, F)``
    are two records, ``diag`` of a vector and of a matrix two more)."""
    records = tuple(r for r in SPELLINGS[spelling] if r.shape.arity == nargs) \
        or SPELLINGS[spelling]
    for record in records[:-1]:
        if record.shape.applies(algebra, x):
            return record
    return records[-1]
