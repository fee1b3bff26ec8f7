"""The symbolic peers: mdiff's problems written for SymPy and tensorgrad.

Each corpus problem is parsed once by mdiff; its typed DAG is then written, node by
node, as what a user of the peer would type:

* **SymPy** — matrix expressions (``MatrixSymbol``, ``Trace``, ``Inverse``,
  ``Determinant``, ``HadamardProduct``, ``ElementwiseApplyFunction``, ...); a 1x1
  matrix used as a scalar is wrapped in ``Trace`` (SymPy keeps ``x.T*A*x`` a 1x1 matrix);
  the derivative is ``expr.diff(X)``.
* **tensorgrad** — named-edge tensors: a matrix has edges ``r`` and ``c``, a column
  vector ``r``, a row vector ``c``, a scalar none; products contract renamed edges; the
  derivative is ``f.grad(X).simplify()``.

A node a peer has no counterpart for (``vec``, ``kron`` as a matrix, the commutation
matrix, a function it lacks) raises :class:`Unsupported`: the problem is counted as
"not expressible", not as a wrong answer.

Answers are checked numerically against mdiff's ``function(layout="tensor")`` at one
random domain-respecting point (``mdiff.numeric.check.sample_point``).  Layouts differ between
tools (SymPy puts the variable's axes first, drops or keeps unit axes), so a peer's
array is accepted when some transposition of its non-unit axes matches mdiff's tensor
``F.shape + X.shape``; for a symmetric (or diagonal) variable the peer's unconstrained
derivative is first projected the way mdiff's convention says (``sym`` / ``diag`` over
the variable's axes), which is what the user of the peer would do by hand.
"""

from __future__ import annotations

import importlib
import itertools
from fractions import Fraction

import numpy as np
import sympy as sp

from mdiff.core import expr as E
from mdiff.core.dims import Dim


class Unsupported(Exception):
    """The peer has no counterpart for a node of the problem."""


class Unevaluated(Exception):
    """The peer answered with an unevaluated derivative."""


def version(module: str) -> str | None:
    """The installed version of a peer, or None (import errors of any kind)."""
    try:
        mod = importlib.import_module(module)
    except Exception:   # a broken install (e.g. a missing torch) counts as missing
        return None
    try:
        from importlib.metadata import version as dist_version
        return dist_version(module)
    except Exception:
        return getattr(mod, "__version__", "installed")


# --------------------------------------------------------------------------------------
# SymPy
# --------------------------------------------------------------------------------------

_T = sp.Dummy("t", real=True)


def _sp_elementwise(name: str):
    t = _T
    table = {
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "arcsin": sp.asin, "arccos": sp.acos,
        "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "exp": sp.exp,
        "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "sign": sp.sign,
        "relu": lambda u: sp.Max(0, u), "sigmoid": lambda u: 1 / (1 + sp.exp(-u)),
        "softplus": lambda u: sp.log(1 + sp.exp(u)),
    }
    fn = table[name]
    return fn, sp.Lambda(t, fn(t))


class SympyWriter:
    """mdiff DAG -> a function that builds the SymPy expression (so building can be
    timed with the derivative, as parsing is timed for mdiff)."""

    def __init__(self, parsed):
        self.parsed = parsed
        self.dims = {}

    def dim(self, d):
        return Dim.of(d).to_sympy()     # dimensions as positive integer symbols

    def builder(self, wrt: str):
        """(build, variable) where build() returns (expr, wrt symbol)."""
        root = self.parsed.expr
        nodes = list(E.postorder(root))
        for node in nodes:   # fail early, outside the timed region
            self._check(node)
        var = self.parsed.variables[wrt]

        def build():
            memo = self._memo = {}
            for node in nodes:
                memo[id(node)] = self._node(node, [memo[id(a)] for a in node.args])
            return memo[id(root)], self._leaf(var)
        return build

    def _check(self, node):
        op = node.op
        if op in ("vec", "unvec", "comm", "dup", "kron", "delta"):
            raise Unsupported(f"SymPy matrix expressions have no {op}")
        if op == "pow" and not node.args[1].is_scalar:
            raise Unsupported("non-scalar exponent")

    def _leaf(self, node):
        if node.is_scalar:
            return sp.Symbol(node.name, real=True)
        return sp.MatrixSymbol(node.name, self.dim(node.rows), self.dim(node.cols))

    @staticmethod
    def scalar(value, node=None):
        """A 1x1 SymPy matrix where a true scalar is needed -> Trace(value)."""
        return sp.Trace(value) if isinstance(value, sp.MatrixExpr) else value

    def _ones(self, node):
        return sp.OneMatrix(self.dim(node.rows), self.dim(node.cols))

    def _sum(self, x, xn):
        """Sum of entries as a user writes it: ones' * x (* ones)."""
        out = sp.OneMatrix(1, self.dim(xn.rows)) * x
        if xn.cols != 1:
            out = out * sp.OneMatrix(self.dim(xn.cols), 1)
        return out

    def _sq_norm(self, x, xn):
        return x.T * x if xn.cols == 1 else sp.Trace(x.T * x)

    def _node(self, node, args):
        """One node.  1x1 results stay 1x1 matrix expressions (``x.T*A*x``) as a SymPy
        user would write them; they become ``Trace(...)`` only where SymPy needs a true
        scalar (inside a matrix product, a function, a sum with scalars)."""
        op = node.op
        if op == "var":
            return self._leaf(node)
        if op == "num":
            return sp.Rational(node.data)
        if op == "dim":
            return self.dim(node.data)
        if op == "fill":
            return sp.Rational(node.data) * self._ones(node)
        if op == "eye":
            return sp.Identity(self.dim(node.rows))
        if op == "add":
            if node.is_scalar and not all(isinstance(a, sp.MatrixExpr) for a in args):
                return sp.Add(*[self.scalar(a) for a in args])
            return sp.MatAdd(*args)
        if op == "mul":
            coef, nscal = node.data
            scalars, chain = args[:nscal], list(args[nscal:])
            mats = [a for a in scalars if isinstance(a, sp.MatrixExpr)]
            out = sp.Rational(coef) * sp.Mul(*[a for a in scalars if not isinstance(a, sp.MatrixExpr)])
            if chain:   # 1x1 factors inside a matrix product become true scalars
                out = out * sp.Mul(*[self.scalar(m) for m in mats])
                return out * (sp.MatMul(*chain) if len(chain) > 1 else chain[0])
            if mats:
                return out * (sp.MatMul(*mats) if len(mats) > 1 else mats[0])
            return out
        if op == "T":
            return args[0].T
        if op == "had":
            return sp.HadamardProduct(*args)
        if op == "pow":
            base, p = args[0], self.scalar(args[1])
            bn = node.args[0]
            if node.is_scalar:
                if bn.op == "norm2" and node.args[1].op == "num" and node.args[1].data == 2:
                    xn = bn.args[0]   # norm2(x)^2 as the user writes it: x.T*x
                    return self._sq_norm(self._rebuild(xn), xn)
                return self.scalar(base) ** p
            return sp.HadamardPower(base, p)
        if op == "mpow":
            return args[0] ** node.data
        if op == "inv":
            return sp.Inverse(args[0])
        if op in E.ELEMENTWISE:
            fn, lam = _sp_elementwise(op)
            if node.is_scalar:
                return fn(self.scalar(args[0]))
            return args[0].applyfunc(lam)
        x, xn = args[0], node.args[0]
        if op == "tr":
            return sp.Trace(x)
        if op == "det":
            return sp.Determinant(x)
        if op == "logdet":
            return sp.log(sp.Determinant(x))
        if op == "norm2":
            return sp.sqrt(self.scalar(self._sq_norm(x, xn)))
        if op == "sum":
            return self._sum(x, xn)
        if op == "norm1":
            return self._sum(x.applyfunc(_sp_elementwise("abs")[1]), xn)
        if op == "logsumexp":
            return sp.log(self.scalar(self._sum(x.applyfunc(_sp_elementwise("exp")[1]), xn)))
        if op == "diagm":
            return sp.DiagMatrix(x)
        if op == "diagv":
            return sp.DiagonalOf(x)
        if op == "softmax":
            ex = x.applyfunc(_sp_elementwise("exp")[1])
            r = self.dim(xn.rows)
            colsum = sp.OneMatrix(r, r) * ex
            return sp.HadamardProduct(ex, colsum.applyfunc(sp.Lambda(_T, 1 / _T)))
        raise Unsupported(f"no SymPy counterpart for {op}")

    def _rebuild(self, node):
        return self._memo[id(node)]


def sympy_numeric(result, point_dims: dict, values: dict):
    """A SymPy derivative at concrete sizes and values -> numpy array (or raise)."""
    dims = {sp.Symbol(s.name, integer=True, positive=True): int(v) for s, v in point_dims.items()}
    r = result.xreplace(dims) if hasattr(result, "xreplace") else result
    if isinstance(r, sp.Basic) and r.has(sp.Derivative):
        raise Unevaluated("unevaluated Derivative")
    mats = sorted(r.atoms(sp.MatrixSymbol), key=str) if isinstance(r, sp.Basic) else []
    scal = sorted((s for s in r.free_symbols if not isinstance(s, sp.MatrixSymbol)
                   and s.name in values), key=str) if isinstance(r, sp.Basic) else []
    args = mats + scal
    vals = [np.asarray(values[s.name], float).reshape(s.shape) if s in mats
            else float(np.asarray(values[s.name]).reshape(())) for s in args]
    try:
        fn = sp.lambdify(args, r, "numpy")
        out = np.asarray(fn(*vals), dtype=float)
        if np.all(np.isfinite(out)):
            return out
    except Exception:
        pass
    sub = {s: (sp.ImmutableMatrix(v) if s in mats else sp.Float(v)) for s, v in zip(args, vals)}
    d = r.xreplace(sub).doit()
    if hasattr(d, "as_explicit"):
        d = d.as_explicit()
    if isinstance(d, sp.MatrixBase):
        return np.array(d.evalf().tolist(), dtype=float)
    if isinstance(d, sp.NDimArray):
        return np.array(d.applyfunc(lambda u: u.evalf()).tolist(), dtype=float)
    return np.asarray(float(d))


# --------------------------------------------------------------------------------------
# tensorgrad
# --------------------------------------------------------------------------------------

class TensorgradWriter:
    """mdiff DAG -> a function that builds the tensorgrad expression."""

    SUPPORTED = {"var", "num", "dim", "fill", "eye", "add", "mul", "T", "had", "pow", "mpow",
                 "inv", "tr", "det", "logdet", "sum", "norm1", "norm2", "logsumexp",
                 "diagm", "diagv", "softmax", "exp", "log", "tanh", "sigmoid", "relu",
                 "abs", "sign", "sqrt", "softplus"}

    def __init__(self, parsed):
        self.parsed = parsed
        import tensorgrad
        import tensorgrad.functions as F
        self.tg, self.F = tensorgrad, F
        self.vars = {}
        self.fixed = {}

    def size(self, d):
        """An edge size: tensorgrad wants a symbol (a fixed size k becomes ``d_k``)."""
        d = Dim.of(d)
        if d.is_Integer:
            self.fixed[sp.Symbol(f"d_{int(d)}")] = int(d)
            return sp.Symbol(f"d_{int(d)}")
        if not d.is_Symbol:
            raise Unsupported(f"tensorgrad edges need a dimension symbol, not {d}")
        return sp.Symbol(d.name)

    def shape_kwargs(self, node):
        return {e: self.size(d) for e, d in zip(("r", "c"), node.shape) if d != 1}

    def builder(self, wrt: str):
        root = self.parsed.expr
        nodes = list(E.postorder(root))
        for node in nodes:
            if node.op not in self.SUPPORTED:
                raise Unsupported(f"no tensorgrad counterpart for {node.op}")
            if node.op == "pow" and node.args[1].op != "num":
                raise Unsupported("tensorgrad powers take a number")
            self.shape_kwargs(node)
        var = self.parsed.variables[wrt]

        def build():
            memo = {}
            for node in nodes:
                memo[id(node)] = self._node(node, [memo[id(a)] for a in node.args])
            return memo[id(root)], self._var(var)
        return build

    def _var(self, node):
        if node.name not in self.vars:
            self.vars[node.name] = self.tg.Variable(node.name, **self.shape_kwargs(node))
        return self.vars[node.name]

    def _const(self, c, node):
        c = Fraction(int(sp.Rational(c).p), int(sp.Rational(c).q))
        shape = self.shape_kwargs(node)
        base = self.tg.Ones(**shape) if shape else self.tg.Product([])
        return base if c == 1 else self.tg.Sum([base], [c])

    @staticmethod
    def _matmul(a, a_cols, b):
        """Matrix product: contract a's column edge with b's row edge."""
        if a_cols == 1:                       # outer product (or scalar times)
            return a @ b
        return a.rename(c="k_") @ b.rename(r="k_")

    def _node(self, node, args):
        op, F, tg = node.op, self.F, self.tg
        if op == "var":
            return self._var(node)
        if op in ("num", "fill"):
            return self._const(node.data, node)
        if op == "dim":
            return F.sum(tg.Ones(z=self.size(node.data)))
        if op == "eye":
            return tg.Delta(self.size(node.rows), "r", "c")
        if op == "add":
            return tg.Sum(args)
        if op == "mul":
            coef, nscal = node.data
            out = None
            for a in args[:nscal]:
                out = a if out is None else out @ a
            acc, acc_cols = None, None
            for a, an in zip(args[nscal:], node.args[nscal:]):
                acc = a if acc is None else self._matmul(acc, acc_cols, a)
                acc_cols = an.cols
            if acc is not None:
                out = acc if out is None else out @ acc
            if out is None:
                out = tg.Product([])
            if coef != 1:
                c = sp.Rational(coef)
                out = tg.Sum([out], [Fraction(int(c.p), int(c.q))])
            return out
        if op == "T":
            x = args[0]
            e = set(x.edges)
            if e == {"r", "c"}:
                return x.rename(r="c", c="r")
            if e == {"r"}:
                return x.rename(r="c")
            if e == {"c"}:
                return x.rename(c="r")
            return x
        if op == "had":
            return args[0] * args[1]
        if op == "pow":
            p = sp.Rational(node.args[1].data)
            return F.pow(args[0], Fraction(int(p.p), int(p.q)) if p.q != 1 else int(p.p))
        if op == "mpow":
            acc = args[0]
            for _ in range(node.data - 1):
                acc = self._matmul(acc, node.cols, args[0])
            return acc
        x = args[0]
        if op == "inv":
            # tensorgrad's inverse over edges {r, c} is the Y with sum_r Y[r,c] X[r,c'] = I,
            # i.e. inv(X)' in matrix terms; the matrix inverse is its transpose
            return F.inverse(x).rename(r="c", c="r") if x.edges else F.pow(x, -1)
        if op in ("exp", "log", "tanh", "sigmoid", "relu", "abs", "sign", "sqrt"):
            return getattr(F, op)(x)
        if op == "softplus":
            return F.log(self._const(1, node) + F.exp(x))
        if op == "tr":
            return F.trace(x)
        if op == "det":
            return F.det(x)
        if op == "logdet":
            return F.log(F.det(x))
        if op == "sum":
            return F.sum(x)
        if op == "norm1":
            return F.sum(F.abs(x))
        if op == "norm2":
            return F.sqrt(F.frobenius2(x))
        if op == "logsumexp":
            return F.log(F.sum(F.exp(x)))
        if op == "diagm":
            return F.diag(x, ["r", "c"])
        if op == "diagv":
            return F.diag(x, ["r"])
        if op == "softmax":
            return F.softmax(x, dim="r")
        raise Unsupported(op)


def tensorgrad_numeric(result, writer: TensorgradWriter, values: dict, dims: dict):
    """Evaluate tensorgrad's derivative -> numpy, axes in the order F.r, F.c, X.r, X.c
    (the variable's edges renamed ``xr``/``xc``; unit axes absent).

    tensorgrad's own evaluators take torch *named* tensors, which the installed torch
    may lack (named tensors are gone from recent torch); so the derivative goes through
    tensorgrad's compiler and the specialised straight-line torch function it generates
    is called with plain tensors in the variables' edge order."""
    import torch
    from tensorgrad.compiler.runtime import compile_to_callable
    prog = compile_to_callable(result)
    sizes = {sp.Symbol(s.name): int(n) for s, n in dims.items()}
    sizes.update(writer.fixed)
    fn = prog.codegen.specialize({s: sizes[s] for s in prog.symbols}, dtype=torch.float64)
    args = []
    for v in prog.vars:
        arr = np.asarray(values[v.name], float)
        arr = arr.reshape([k for k in arr.shape if k != 1])
        mine = [e for e in ("r", "c") if e in writer.vars[v.name].edges]
        theirs = list(v.edges)
        if theirs != mine:
            if sorted(theirs) != sorted(mine):
                raise ValueError(f"variable {v.name} has edges {theirs}")
            arr = arr.T
        args.append(torch.tensor(arr, dtype=torch.float64))
    with torch.no_grad():
        out = fn(*args)[0]
    order = list(prog.outputs[0][1])
    want = [e for e in ("r", "c", "xr", "xc") if e in order]
    if sorted(order) != sorted(want):
        raise ValueError(f"unexpected edges {order}")
    arr = out.detach().numpy()
    return np.transpose(arr, [order.index(e) for e in want]) if want else arr


# --------------------------------------------------------------------------------------
# Comparing with mdiff
# --------------------------------------------------------------------------------------

def project(arr: np.ndarray, x_node, x_axes: int) -> np.ndarray:
    """mdiff's convention for structured variables, applied to a peer's unconstrained
    derivative over its last ``x_axes`` axes (the variable's)."""
    props = x_node.props
    if x_axes != 2:
        return arr
    if "diagonal" in props:
        n = arr.shape[-1]
        return arr * np.eye(n)
    if props & {"symmetric", "spd"}:
        return (arr + np.swapaxes(arr, -1, -2)) / 2
    return arr


def matches(peer: np.ndarray, ref: np.ndarray, x_node, x_axes: int, rtol=1e-6) -> bool:
    """Does some transposition of the peer's non-unit axes equal mdiff's tensor?"""
    peer = np.asarray(peer, float)
    ref = np.asarray(ref, float)
    p = peer.reshape([s for s in peer.shape if s != 1])
    r = ref.reshape([s for s in ref.shape if s != 1])
    if p.size != r.size or p.ndim != r.ndim:
        return False
    scale = max(1.0, float(np.max(np.abs(r))) if r.size else 1.0)
    for perm in itertools.permutations(range(p.ndim)):
        q = np.transpose(p, perm)
        if q.shape != r.shape:
            continue
        # the variable's axes are the last x_axes of mdiff's tensor
        q = project(q, x_node, x_axes) if q.ndim >= x_axes else q
        if np.all(np.isfinite(q)) and np.max(np.abs(q - r), initial=0.0) <= rtol * scale:
            return True
    return False
