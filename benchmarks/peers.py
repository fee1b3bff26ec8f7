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
random domain-respecting point (``mdiff.check.sample_point``).  Layouts differ between
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

from mdiff import expr as E


class Unsupported(Exception):
    """The peer has no counterpart for a node of the problem."""


def version(module: str) -> str | None:
    """The installed version of a peer, or None (import errors of any kind)."""
    try:
        mod = importlib.import_module(module)
    except Exception:   # a broken install (e.g. a missing torch) counts as missing
        return None
    return getattr(mod, "__version__", "installed")


# --------------------------------------------------------------------------------------
# SymPy
# --------------------------------------------------------------------------------------

_T = sp.Dummy("t")


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
        d = sp.sympify(d)
        return d.xreplace({s: sp.Symbol(s.name, integer=True, positive=True)
                           for s in d.free_symbols})

    def builder(self, wrt: str):
        """(build, variable) where build() returns (expr, wrt symbol)."""
        root = self.parsed.expr
        nodes = list(E.postorder(root))
        for node in nodes:   # fail early, outside the timed region
            self._check(node)
        var = self.parsed.variables[wrt]

        def build():
            memo = {}
            for node in nodes:
                memo[id(node)] = self._node(node, [memo[id(a)] for a in node.args])
            return self.scalar(memo[id(root)], root), memo.get(id(var)) or self._leaf(var)
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

    def scalar(self, value, node):
        """A 1x1 SymPy matrix used as a scalar -> Trace(value)."""
        if node.is_scalar and isinstance(value, sp.MatrixExpr):
            return sp.Trace(value)
        return value

    def _ones(self, node):
        return sp.OneMatrix(self.dim(node.rows), self.dim(node.cols))

    def _node(self, node, args):
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
            return sp.Add(*[self.scalar(a, n) for a, n in zip(args, node.args)]) \
                if node.is_scalar else sp.MatAdd(*args)
        if op == "mul":
            coef, nscal = node.data
            scalars = [self.scalar(a, n) for a, n in zip(args[:nscal], node.args[:nscal])]
            chain = args[nscal:]
            out = sp.Rational(coef) * sp.Mul(*scalars)
            if chain:
                m = sp.MatMul(*chain) if len(chain) > 1 else chain[0]
                if node.is_scalar:
                    return out * sp.Trace(m)
                return out * m
            return out
        if op == "T":
            return args[0].T
        if op == "had":
            return sp.HadamardProduct(*args)
        if op == "pow":
            base, p = args[0], self.scalar(args[1], node.args[1])
            if node.is_scalar:
                return self.scalar(base, node.args[0]) ** p
            return sp.HadamardPower(base, p)
        if op == "mpow":
            return args[0] ** node.data
        if op == "inv":
            return sp.Inverse(args[0])
        if op in E.ELEMENTWISE:
            fn, lam = _sp_elementwise(op)
            if node.is_scalar:
                return fn(self.scalar(args[0], node.args[0]))
            return args[0].applyfunc(lam)
        x, xn = args[0], node.args[0]
        if op == "tr":
            return sp.Trace(x)
        if op == "det":
            return sp.Determinant(x)
        if op == "logdet":
            return sp.log(sp.Determinant(x))
        if op in ("sum", "norm1", "norm2", "logsumexp"):
            if op == "norm2":
                return sp.sqrt(sp.Trace(x.T * x))
            inner = {"sum": x, "norm1": x.applyfunc(_sp_elementwise("abs")[1]),
                     "logsumexp": x.applyfunc(_sp_elementwise("exp")[1])}[op]
            total = sp.Trace(sp.OneMatrix(self.dim(xn.cols), self.dim(xn.rows)) * inner)
            return sp.log(total) if op == "logsumexp" else total
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


def sympy_numeric(result, point_dims: dict, values: dict):
    """A SymPy derivative at concrete sizes and values -> numpy array (or raise)."""
    dims = {sp.Symbol(s.name, integer=True, positive=True): int(v) for s, v in point_dims.items()}
    r = result.xreplace(dims) if hasattr(result, "xreplace") else result
    if isinstance(r, sp.Basic) and r.has(sp.Derivative):
        raise ValueError("unevaluated Derivative in the answer")
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

    @staticmethod
    def edges(node):
        out = []
        if node.rows != 1:
            out.append("r")
        if node.cols != 1:
            out.append("c")
        return out

    def size(self, d):
        d = sp.sympify(d)
        if not d.is_Symbol:
            raise Unsupported(f"tensorgrad edges need a plain dimension symbol, not {d}")
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

    def _matmul(self, a, an, b, bn):
        F = self.F
        if an.cols == 1:                      # outer product (or scalar times)
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
            chain_nodes = node.args[nscal:]
            acc, accn = None, None
            for a, an in zip(args[nscal:], chain_nodes):
                if acc is None:
                    acc, accn = a, an
                else:
                    acc = self._matmul(acc, accn, a, an)
                    accn = E.Expr("shape", (), None, (accn.rows, an.cols))
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
                acc = self._matmul(acc, node, args[0], node)
            return acc
        x = args[0]
        if op == "inv":
            return F.inverse(x) if x.edges else F.pow(x, -1)
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


def tensorgrad_numeric(result, variables: dict, values: dict, dims: dict):
    """Evaluate tensorgrad's derivative -> numpy, axes in the order F.r, F.c, X.r, X.c
    (the variable's edges renamed ``xr``/``xc``; unit axes absent)."""
    import torch
    from tensorgrad.extras.evaluate import evaluate
    tvals = {}
    for name, v in variables.items():
        arr = np.asarray(values[name], float)
        names = [e for e in ("r", "c") if e in v.edges]
        arr = arr.reshape([s for s in arr.shape if s != 1]) if names else arr.reshape(())
        t = torch.tensor(arr, dtype=torch.float64)
        tvals[v] = t.rename(*names) if names else t
    tdims = {sp.Symbol(s.name): int(n) for s, n in dims.items()}
    out = evaluate(result, tvals, tdims)
    names = list(out.names) if out.dim() else []
    want = [e for e in ("r", "c", "xr", "xc") if e in names]
    if set(names) != set(want):
        raise ValueError(f"unexpected edges {names}")
    out = out.align_to(*want) if want else out
    return out.rename(None).detach().numpy()


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
