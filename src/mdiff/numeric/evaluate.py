"""Numeric evaluation of an expression DAG with numpy (DESIGN §3 layouts).

One table, ``NUMPY``, maps every op to a function of 2-D float arrays (a function of
the language brings its own, in its record); evaluation
visits each shared node once, children first, without recursion.  Inputs and outputs
follow the user-facing layout: scalars are floats, vectors 1-D arrays, matrices 2-D.
"""

from __future__ import annotations

import numpy as np

from ..core import ops
from ..errors import EvaluationError
from ..core.expr import (CONSTANTS, Expr, as_float, block_grid, fmt_shape, free_dims, free_vars,
                         postorder)
from ..core.shapes import as_dim, dim_symbol


def _commutation(m: int, n: int) -> np.ndarray:
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1.0
    return k


def _duplication(n: int) -> np.ndarray:
    """vec(S) = D vech(S); vech stacks the lower triangle column by column."""
    d = np.zeros((n * n, n * (n + 1) // 2))
    k = 0
    for j in range(n):
        for i in range(j, n):
            d[i + j * n, k] = d[j + i * n, k] = 1.0
            k += 1
    return d


def _scalar(x: np.ndarray) -> float:
    return x[0, 0]


class _Diag:
    """diag(v) kept as its vector: multiplying by it scales rows or columns."""

    __slots__ = ("v",)

    def __init__(self, v: np.ndarray):
        self.v = v[:, 0]


class _Kron:
    """A ⊗ B kept as its factors: (A ⊗ B)*vec(X) is vec(B*X*A')."""

    __slots__ = ("a", "b")

    def __init__(self, a: np.ndarray, b: np.ndarray):
        self.a, self.b = a, b

    def dense(self):
        return np.kron(self.a, self.b)


def _times(acc, c):
    """acc @ c where either side may be a structured _Diag or _Kron."""
    if isinstance(acc, _Kron) and not isinstance(c, np.ndarray):
        acc = acc.dense()
    if isinstance(c, _Diag):
        return acc * c.v[None, :] if not isinstance(acc, _Diag) else _Diag((acc.v * c.v)[:, None])
    if isinstance(acc, _Diag):
        return acc.v[:, None] * (c.dense() if isinstance(c, _Kron) else c)
    if isinstance(acc, _Kron):
        a, b = acc.a, acc.b
        if isinstance(c, _Kron):
            return np.kron(a, b) @ c.dense()
        cols = c.shape[1]
        # (A ⊗ B) [vec(X1) ... vec(Xk)] = [vec(B X1 A') ...]
        xs = c.reshape(b.shape[1], a.shape[1], cols, order="F")
        out = np.einsum("ij,jlk,ml->imk", b, xs, a)
        return out.reshape(a.shape[0] * b.shape[0], cols, order="F")
    if isinstance(c, _Kron):
        return acc @ c.dense()
    return acc @ c


def _mul(e: Expr, *xs):
    coef, nscal = e.data
    out = as_float(coef)
    for s in xs[:nscal]:
        out = out * _scalar(s)
    chain = xs[nscal:]
    if not chain:
        return np.array([[out]])
    acc = chain[0]
    for c in chain[1:]:
        acc = _times(acc, c)
    if isinstance(acc, _Diag):
        acc = np.diag(acc.v)
    elif isinstance(acc, _Kron):
        acc = acc.dense()
    return out * acc


def _from_record(record):
    """A registered function on 2-D arrays; a scalar result becomes a 1x1 array."""
    def impl(e, *xs):
        out = record.numpy(*xs)
        return out if np.ndim(out) == 2 else np.array([[out]], dtype=float)
    return impl


#: op -> numpy implementation taking (node, *argument values) -> 2-D array.
NUMPY = {
    "add": lambda e, *xs: sum(xs[1:], xs[0]),
    "mul": _mul,
    "had": lambda e, a, b: a * b,
    "pow": lambda e, a, p: np.power(a, _scalar(p)),
    "mpow": lambda e, x: np.linalg.matrix_power(x, e.data),
    "T": lambda e, x: x.T,
    "kron": lambda e, a, b: np.kron(a, b),
    "unvec": None,  # needs the node's numeric shape: handled in evaluate()
    # every function of the registry: its record's numpy implementation
    **{name: _from_record(record) for name, record in ops.RECORDS.items()},
}


#: Explicit limits on what an evaluation may allocate (reported as EvaluationError).
MAX_DIMENSION = 10**7
MAX_ENTRIES = 10**9


def _dim_value(name, v) -> int:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise EvaluationError(f"dimension {name} must be a positive integer, got {v!r}") from None
    if not np.isfinite(f) or f != int(f) or not 1 <= f <= MAX_DIMENSION:
        raise EvaluationError(
            f"dimension {name} must be an integer from 1 to {MAX_DIMENSION}, got {v!r}")
    return int(f)


class Env:
    """Numeric values for the variables and dimensions of one evaluation.

    ``variables`` are those that may be given (they fix dimensions); ``required``
    (default: all of them) must be.  Other keywords are dimension sizes (``N=5``)
    when they name a dimension, and are otherwise ignored.
    """

    def __init__(self, values: dict, variables: dict[str, Expr], dims: dict | None = None,
                 required=None, dim_names=()):
        self.dims: dict = {}
        for k, v in (dims or {}).items():
            sym = dim_symbol(k if isinstance(k, str) else k.name)
            self.dims[sym] = _dim_value(k, v)
        self.arrays: dict[str, np.ndarray] = {}
        required = set(variables) if required is None else set(required)
        for name, node in variables.items():
            if name not in values:
                if name in required:
                    raise EvaluationError(f"missing a value for {name} ({fmt_shape(node.shape)})")
                continue
            self.arrays[name] = self._take(name, node, values[name])
        known_dims = {str(s) for v in variables.values() for d in v.shape
                      for s in as_dim(d).free_symbols} | set(dim_names)
        for name, v in values.items():
            if name not in variables and (name in known_dims or name in (dims or {})):
                sym = dim_symbol(name)
                n = _dim_value(name, v)
                if self.dims.setdefault(sym, n) != n:
                    raise EvaluationError(f"dimension {name} is {self.dims[sym]}, not {n}")

    def _take(self, name: str, node: Expr, value) -> np.ndarray:
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError, OverflowError):
            raise EvaluationError(f"{name} must be numeric") from None
        if node.is_scalar:
            if arr.size != 1:
                raise EvaluationError(f"{name} is a scalar, got shape {arr.shape}")
            arr = arr.reshape(1, 1)
        elif node.is_vector:
            if arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            if arr.ndim != 2 or arr.shape[1] != 1:
                raise EvaluationError(f"{name} is a vector, got shape {arr.shape}")
        elif arr.ndim != 2:
            raise EvaluationError(f"{name} is a matrix, got shape {arr.shape}")
        for d, n in zip(node.shape, arr.shape):
            self.bind(d, n, name)
        return arr

    def bind(self, d, n: int, name: str = "") -> None:
        d = as_dim(d)
        if d.is_Symbol and d not in self.dims:
            self.dims[d] = n
            return
        have = self.dim(d)
        if have is not None and have != n:
            raise EvaluationError(
                f"{name}: dimension {d} is {have} elsewhere but {n} here")

    def dim(self, d) -> int | None:
        d = as_dim(d)
        if d.is_Integer:
            return int(d)
        if d.is_Symbol:
            return self.dims.get(d)
        try:
            v = d.xreplace({s: self.dims[s] for s in d.free_symbols})
        except KeyError:
            return None
        return int(v)

    def need(self, d) -> int:
        v = self.dim(d)
        if v is None:
            missing = sorted(str(s) for s in as_dim(d).free_symbols if s not in self.dims)
            raise EvaluationError(
                f"dimension {', '.join(missing)} is not fixed by any input: pass it as a "
                f"keyword, e.g. {missing[0]}=3")
        return v

    def span(self, span, size: int, axis: int) -> slice:
        """The slice of a 1-based inclusive (first, last) span (None: all) of ``size``
        entries; one outside them is an EvaluationError, never a silent truncation."""
        if span is None:
            return slice(None)
        first, last = (self.need(d) for d in span)
        if not 1 <= first <= last <= size:
            what = "rows" if axis == 0 else "columns"
            at = f"{first}" if first == last else f"{first}:{last}"
            raise EvaluationError(f"index {at} is outside the {size} {what} (1 to {size})")
        return slice(first - 1, last)

    def shape(self, node: Expr) -> tuple[int, int]:
        out = tuple(self.need(d) for d in node.shape)
        if out[0] * out[1] > MAX_ENTRIES:
            raise EvaluationError(f"a {out[0]}×{out[1]} array is beyond the limit of "
                                  f"{MAX_ENTRIES} entries")
        return out


def evaluate(root: Expr, env: Env) -> np.ndarray:
    """The value of ``root`` as a 2-D array (each shared node computed once)."""
    return evaluate_nodes(root, env)[id(root)]


def evaluate_nodes(root: Expr, env: Env) -> dict:
    """id(node) -> value for every node of ``root`` (what a check inspects: the
    arguments of ``inv``); diag/Kronecker factors of products may be kept structured."""
    try:
        return _evaluate(root, env)
    except MemoryError:
        raise EvaluationError("out of memory evaluating the expression") from None


def _structured(root: Expr) -> set:
    """ids of diag(v) and A ⊗ B nodes used only as factors of longer products: they are
    never materialised (row/column scaling; (A ⊗ B)*vec(X) as vec(B*X*A'))."""
    inside, elsewhere = set(), set()
    for node in postorder(root):
        if node.op == "mul" and len(node.args) - node.data[1] > 1:
            nscal = node.data[1]
            for a in node.args[nscal:]:
                inside.add(id(a))
            for a in node.args[:nscal]:
                elsewhere.add(id(a))
        else:
            for a in node.args:
                elsewhere.add(id(a))
    elsewhere.add(id(root))
    return inside - elsewhere


def _evaluate(root: Expr, env: Env) -> np.ndarray:
    val: dict[int, np.ndarray] = {}
    lazy = _structured(root)
    with np.errstate(all="ignore"):
        for node in postorder(root):
            op = node.op
            if id(node) in lazy and op == "diagm":
                val[id(node)] = _Diag(val[id(node.args[0])])
                continue
            if id(node) in lazy and op == "kron":
                val[id(node)] = _Kron(val[id(node.args[0])], val[id(node.args[1])])
                continue
            if op == "var":
                out = env.arrays[node.name]
            elif op == "num":
                out = np.array([[as_float(node.data)]])
            elif op == "dim":
                out = np.array([[float(env.need(node.data))]])
            elif op == "const":
                out = np.array([[CONSTANTS[node.data]]])
            elif op == "fill":
                out = np.full(env.shape(node), as_float(node.data))
            elif op == "eye":
                out = np.eye(env.shape(node)[0])
            elif op == "comm":
                m, n = env.need(node.data[0]), env.need(node.data[1])
                if (m * n) ** 2 > MAX_ENTRIES:
                    raise EvaluationError("commutation matrix beyond the size limit")
                out = _commutation(m, n)
            elif op == "dup":
                out = _duplication(env.need(node.data))
            elif op == "index":
                x = val[id(node.args[0])]
                out = x[tuple(env.span(s, n, i) for i, (s, n) in enumerate(zip(node.data, x.shape)))]
            elif op == "block":
                out = np.block([[val[id(x)] for x in row] for row in block_grid(node)])
            elif op == "unvec":
                out = val[id(node.args[0])].reshape(env.shape(node), order="F")
            elif op == "delta":
                raise EvaluationError("a differential placeholder cannot be evaluated")
            else:
                impl = NUMPY.get(op)
                if impl is None:
                    raise EvaluationError(f"no numpy evaluation for the operation {op!r}")
                out = impl(node, *(val[id(a)] for a in node.args))
            val[id(node)] = out
    return val


def to_user_layout(node: Expr, arr: np.ndarray):
    """2-D internal value -> float for scalars, 1-D for vectors, 2-D for matrices."""
    if node.is_scalar:
        return float(arr[0, 0])
    if node.is_vector:
        return arr[:, 0].copy()
    return arr


def make_function(root: Expr, variables: dict[str, Expr] | None = None):
    """A numpy callable ``f(**values)`` of the expression (vars by keyword)."""
    variables = free_vars(root) if variables is None else variables
    names = tuple(variables)

    required = set(free_vars(root))
    dim_names = {str(s) for s in free_dims(root)}

    def f(**values):
        env = Env(values, variables, required=required, dim_names=dim_names)
        return to_user_layout(root, evaluate(root, env))

    f.__doc__ = f"Evaluate the expression; keyword arguments: {', '.join(names) or '(none)'}."
    f.variables = names
    f.dims = tuple(sorted(str(s) for s in free_dims(root)))
    return f
