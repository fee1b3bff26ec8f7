"""Typed expression nodes: immutable, hash-consed, with symbolic shapes.

Every node is an ``Expr(op, args, data, shape)``.  Nodes are interned: building the
same structure twice returns the same object, so equality is identity, hashing is
O(1), shared subexpressions are shared, and caches keyed by node are cheap.  A deep
network is a DAG, never an exponential tree.

Shapes are ``(rows, cols)`` pairs of SymPy expressions (``shapes.py``).  A scalar is
1x1, a vector n x 1; everything is two-dimensional inside mdiff and only the evaluation
layer turns vectors into 1-D arrays (DESIGN §3).

The constructors below (``add``, ``mul``, ``transpose``, ...) are the only way to
build nodes.  They keep a light normal form that every later stage relies on:
sums are flat and drop zeros, products are ``coef * scalars * chain`` with exact
rational coefficients and scalar factors in a canonical order, double transposes and
transposes of symmetric matrices vanish, identity factors disappear.  Deeper
rewriting (identities with names) belongs to the simplifier (``simplify/``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import math
import sys
import threading
import weakref
from fractions import Fraction
from typing import Iterable, Iterator

from . import ops, shapes
from .dims import Dim
from .shapes import dim_symbol, dim_text, fmt_dim, fmt_shape, same_dim  # noqa: F401 - E.<name>
from ..errors import LimitError, ShapeError

#: The printers, by kind ('text', 'latex'), registered by their modules when imported
#: (printing depends on the core, not back): ``fn(node, names)``.
_PRINTERS: dict = {}


def register_printer(kind: str, fn) -> None:
    """``printed(kind, ...)`` prints with ``fn`` (``str(node)`` with the 'text' one)."""
    _PRINTERS[kind] = fn


#: The module that registers each printer, imported on first use (import mdiff stays light).
_PRINTER_MODULES = {"text": "mdiff.printing.text", "latex": "mdiff.printing.latex"}


def _printer(kind: str):
    if kind not in _PRINTERS:
        importlib.import_module(_PRINTER_MODULES[kind])
    return _PRINTERS[kind]


def printed(kind: str, node: "Expr", names: dict | None = None) -> str:
    """``node`` printed by the registered printer of ``kind``, with ``names`` (node ->
    name) for let-bound subexpressions."""
    return _printer(kind)(node, names)

#: Exact coefficients are Fractions (SymPy only at the interop boundary, DESIGN §1).
Rational = Fraction
ONE = Fraction(1)
#: The size 1, and the shape of a scalar.
DIM_ONE = Dim.of(1)
SCALAR_SHAPE = (DIM_ONE, DIM_ONE)


def rational(value) -> Fraction:
    """An exact number from an int, a Fraction, a constant size or a SymPy rational."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, Dim):
        value = value.constant
        if value is None:
            raise ValueError("a size with dimensions is not a number")
    return Fraction(value)


def as_float(value) -> float:
    """The float nearest an exact number; ±inf past the float range (as SymPy gave)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def is_whole(value) -> bool:
    """Is the exact number ``value`` an integer?"""
    return rational(value).denominator == 1

#: Elementwise functions of the language (one argument, same shape out): the registry's.
ELEMENTWISE = tuple(ops.ELEMENTWISE)
#: Functions of one matrix argument that return a scalar (the registry's reductions).
REDUCTIONS = tuple(name for name, f in ops.FUNCTIONS.items()
                   if f.shape in (shapes.REDUCE, shapes.SQUARE_REDUCE))

#: Properties a declaration may give a variable.
PROPERTIES = ("symmetric", "spd", "diagonal", "lower", "upper", "positive")


#: New nodes plus their operands one top-level operation (a derivative, a simplification)
#: may create.  Real problems stay far below it (a 128-layer MLP gradient: ~8,000);
#: past it an input such as a 44,000-factor product would take hours.
MAX_NEW_NODES = 200_000
#: Python frames allowed under ``bounded_work`` (nesting is capped at 1000 by the parser).
RECURSION_LIMIT = 20_000


class _Work(threading.local):
    """The budget of the operation running in this thread (None: no budget)."""
    limit = None
    used = 0


_WORK = _Work()
_RECURSION = {"active": 0, "saved": None}
_RECURSION_LOCK = threading.Lock()


@contextlib.contextmanager
def raised_recursion_limit(limit: int = RECURSION_LIMIT):
    """The interpreter's recursion limit at least ``limit`` while any operation (in any
    thread) runs; the old limit comes back when the last one ends."""
    with _RECURSION_LOCK:
        if _RECURSION["active"] == 0:
            _RECURSION["saved"] = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_RECURSION["saved"], limit))
        _RECURSION["active"] += 1
    try:
        yield
    finally:
        with _RECURSION_LOCK:
            _RECURSION["active"] -= 1
            if _RECURSION["active"] == 0:
                sys.setrecursionlimit(_RECURSION["saved"])


@contextlib.contextmanager
def bounded_work(limit: int = MAX_NEW_NODES):
    """Run a top-level operation within the work limits: at most ``limit`` new nodes, and
    a RecursionError (too deep to process) becomes a LimitError.  Nested uses share the
    outermost budget."""
    if _WORK.limit is not None:
        yield
        return
    _WORK.used, _WORK.limit = 0, limit
    try:
        with raised_recursion_limit():
            yield
    except RecursionError:
        raise LimitError("the expression is nested too deeply to process") from None
    finally:
        _WORK.limit = None


def charge_work(units: int) -> None:
    """Count work that creates no nodes (a rule scanning a long chain) against the
    running operation's budget, so repeated scans end in a LimitError, not a hang."""
    if _WORK.limit is not None:
        _WORK.used += units
        if _WORK.used > _WORK.limit:
            raise LimitError(f"the work grows past {_WORK.limit:,} expression "
                             "nodes and operands (mdiff's work limit); "
                             "differentiate a smaller piece")


def within_work_limits(fn):
    """Decorator: ``fn`` runs under ``bounded_work``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with bounded_work():
            return fn(*args, **kwargs)
    return wrapper


class Expr:
    """An immutable, interned expression node."""

    __slots__ = ("op", "args", "data", "shape", "is_scalar", "height", "_skey", "_sym",
                 "_delta", "__weakref__")
    _interned: "weakref.WeakValueDictionary[tuple, Expr]" = weakref.WeakValueDictionary()

    def __new__(cls, op: str, args: tuple = (), data=None, shape=SCALAR_SHAPE):
        if type(shape[0]) is not Dim or type(shape[1]) is not Dim:
            shape = (Dim.of(shape[0]), Dim.of(shape[1]))
        key = (op, args, data, shape)
        node = cls._interned.get(key)
        if node is None:
            if _WORK.limit is not None:     # hot path: no call outside an operation
                charge_work(1 + len(args))
            node = object.__new__(cls)
            object.__setattr__(node, "op", op)
            object.__setattr__(node, "args", args)
            object.__setattr__(node, "data", data)
            object.__setattr__(node, "shape", shape)
            object.__setattr__(node, "is_scalar", shape[0] == 1 and shape[1] == 1)
            object.__setattr__(node, "height", 1 + max((a.height for a in args), default=0))
            object.__setattr__(node, "_skey", None)
            object.__setattr__(node, "_sym", None)
            object.__setattr__(node, "_delta", None)
            cls._interned[key] = node
        return node

    def __setattr__(self, name, value):
        raise AttributeError("Expr nodes are immutable")

    def __reduce__(self):
        return (Expr, (self.op, self.args, self.data, self.shape))

    # --- shape ---------------------------------------------------------------
    @property
    def rows(self):
        return self.shape[0]

    @property
    def cols(self):
        return self.shape[1]

    @property
    def is_vector(self) -> bool:
        return self.shape[1] == 1 and not self.is_scalar

    @property
    def kind(self) -> str:
        return "scalar" if self.is_scalar else "vector" if self.is_vector else "matrix"

    @property
    def size(self):
        return self.shape[0] * self.shape[1]

    # --- structure -----------------------------------------------------------
    @property
    def name(self) -> str:
        """Name of a variable node."""
        return self.data[0]

    @property
    def props(self) -> frozenset:
        return self.data[1] if self.op == "var" else frozenset()

    def sort_key(self):
        """A deterministic structural key (stable across runs, unlike ``hash``).

        It compares the node itself and the heads of its children, then a digest of the
        whole structure: bounded depth, so comparing two deep keys never recurses deeply
        (a nested-tuple key would, in C, for a 2000-layer network)."""
        if self._skey is None:
            for node in postorder(self, done=lambda n: n._skey is not None):
                if node._skey is None:
                    head = (OP_RANK.get(node.op, 99), node.op, _data_key(node.data))
                    digest = hashlib.blake2b(repr((head, tuple(map(dim_text, node.shape)), tuple(
                        a._skey[-1] for a in node.args))).encode(), digest_size=8).hexdigest()
                    children = tuple(a._skey[0] + (a._skey[-1],) for a in node.args)
                    object.__setattr__(node, "_skey", (head, children,
                                                       tuple(map(dim_text, node.shape)), digest))
        return self._skey

    def __repr__(self) -> str:
        return f"Expr({str(self)!r})"

    def __str__(self) -> str:
        # the text printer registers itself (printing depends on expr, not back)
        return _printer("text")(self)


OP_RANK = {"num": 0, "const": 1, "dim": 1, "fill": 2, "eye": 3, "var": 4}


def _data_key(data):
    if data is None:
        return ""
    if isinstance(data, tuple):     # None inside (an index's ':') compares as ()
        return tuple(() if d is None else _data_key(d) for d in data)
    if isinstance(data, frozenset):
        return tuple(sorted(map(str, data)))
    return str(data)


def postorder(root: Expr, done=None) -> Iterator[Expr]:
    """Every node of the DAG once, children before parents (iterative).  Nodes for
    which ``done(node)`` holds are neither yielded nor entered (work already done)."""
    seen = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        if id(node) in seen or (done is not None and done(node)):
            continue
        seen.add(id(node))
        stack.append((node, True))
        for a in reversed(node.args):
            if id(a) not in seen:
                stack.append((a, False))


def free_vars(root: Expr) -> dict[str, Expr]:
    """Variables of an expression by name, in first-seen order."""
    out: dict[str, Expr] = {}
    for node in postorder(root):
        if node.op == "var":
            out.setdefault(node.name, node)
    return out


def data_dims(node: Expr) -> set:
    """The dimension symbols a node's data names besides its shape: a size used as a
    scalar (``N``), the index names of a part (``x[i]``, ``X[1:m, :]``)."""
    if node.op == "dim":
        return set(node.data.free_symbols)
    if node.op == "index":
        return {s for span in node.data if span is not None for d in span for s in d.free_symbols}
    return set()


def free_dims(root: Expr) -> set:
    out = set()
    for node in postorder(root):
        for d in node.shape:
            out |= Dim.of(d).free_symbols
        out |= data_dims(node)
    return out


def depends_on(root: Expr, names: Iterable[str]) -> bool:
    names = set(names)
    return any(n.op == "var" and n.name in names for n in postorder(root))


# --- shape checks --------------------------------------------------------------

def require_same_shape(what: str, a: Expr, b: Expr) -> None:
    if not (same_dim(a.rows, b.rows) and same_dim(a.cols, b.cols)):
        raise ShapeError(f"{what}: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} differ")


# --- leaves ------------------------------------------------------------------

def var(name: str, shape=SCALAR_SHAPE, props: Iterable[str] = ()) -> Expr:
    return Expr("var", (), (name, frozenset(props)), tuple(map(Dim.of, shape)))


def num(value) -> Expr:
    return Expr("num", (), rational(value))


#: Named constants of the language, by name: an undeclared ``pi`` reads as one (erf's
#: derivative is 2/sqrt(pi)*exp(-x.^2)).
CONSTANTS = {"pi": math.pi}


def constant(name: str) -> Expr:
    """The named constant ``name`` (a key of ``CONSTANTS``), a scalar leaf."""
    if name not in CONSTANTS:
        raise ValueError(f"no constant named {name!r}")
    return Expr("const", (), name)


def dim_scalar(d) -> Expr:
    """A dimension used as a scalar value (``N`` in ``-N/2*logdet(S)``)."""
    d = Dim.of(d)
    if d.is_number:
        return num(d.constant)
    if d.is_Symbol:
        return Expr("dim", (), d)
    terms = []
    for mono, coef in d.terms.items():
        factors = [num(coef)]
        for atom, k in mono:
            if not isinstance(atom, str):
                raise ShapeError(f"cannot use dimension {d} as a scalar")
            factors.append(power(Expr("dim", (), dim_symbol(atom)), num(k)))
        terms.append(mul(*factors))
    return add(*terms)


def fill(value, shape) -> Expr:
    shape = tuple(map(Dim.of, shape))
    if shape == SCALAR_SHAPE:
        return num(value)
    return Expr("fill", (), rational(value), shape)


def zeros(shape) -> Expr:
    return fill(0, shape)


def ones(shape) -> Expr:
    return fill(1, shape)


def eye(n) -> Expr:
    n = Dim.of(n)
    if n == 1:
        return num(1)
    return Expr("eye", (), None, (n, n))


def commutation(m, n) -> Expr:
    """K with vec(A') = K vec(A) for an m x n matrix A."""
    m, n = Dim.of(m), Dim.of(n)
    if m == 1 or n == 1:
        return eye(m * n)
    return Expr("comm", (), (m, n), (m * n, m * n))


def duplication(n) -> Expr:
    """D with vec(S) = D vech(S) for a symmetric n x n S (Magnus–Neudecker ch. 3, §8)."""
    n = Dim.of(n)
    return Expr("dup", (), n, (n * n, n * (n + 1) / 2))


def placeholder(tag, shape) -> Expr:
    """The differential ``d(tag)``: a linear argument for the derivative engine."""
    return Expr("delta", (), tag, tuple(shape))


# --- predicates ----------------------------------------------------------------

def has_placeholder(e: Expr) -> bool:
    """Does ``e`` contain a differential placeholder?  Cached on every node, so asking
    about a deep forward subexpression costs nothing the second time."""
    if e._delta is None:
        for node in postorder(e, done=lambda n: n._delta is not None):
            object.__setattr__(node, "_delta",
                               node.op == "delta" or any(a._delta for a in node.args))
    return e._delta


def is_zero(e: Expr) -> bool:
    return e.op in ("num", "fill") and e.data == 0


def is_one(e: Expr) -> bool:
    return e.op == "num" and e.data == 1


UNBOUNDED = (-math.inf, math.inf)


def _interval_product(a: tuple, b: tuple) -> tuple:
    corners = [0.0 if 0 in (x, y) else x * y for x in a for y in b]   # 0 * inf = 0 here
    return (min(corners), max(corners))


def value_range(root: Expr) -> tuple:
    """(lo, hi) bounding every entry of ``root`` by construction — sigmoid(z) in (0, 1),
    squares and exp(.) at least 0, sums and products of those — else (-inf, inf).  The
    code printer reads it: X'*diag(v)*X with v >= 0 is a symmetric rank-k update."""
    memo: dict = {}
    for e in postorder(root):
        args = [memo[id(a)] for a in e.args]
        out = UNBOUNDED
        if e.op in ("num", "fill"):
            out = (float(e.data), float(e.data))
        elif e.op == "const":
            out = (CONSTANTS[e.data],) * 2
        elif e.op in ops.ELEMENTWISE:
            out = ops.ELEMENTWISE[e.op].values
        elif e.op in ("T", "vec", "unvec", "index"):
            out = args[0]
        elif e.op == "block":
            out = (min(a[0] for a in args), max(a[1] for a in args))
        elif e.op == "add":
            out = (sum(a[0] for a in args), sum(a[1] for a in args))
        elif e.op == "had" or (e.op == "mul" and len(e.args) - e.data[1] <= 1):
            out = (1.0, 1.0) if e.op == "had" else (float(e.data[0]), float(e.data[0]))
            for a in args:
                out = _interval_product(out, a)
        elif e.op == "pow" and e.args[1].op == "num":
            k, (lo, hi) = e.args[1].data, args[0]
            if k.denominator == 1 and k.numerator % 2 == 0 and k > 0:
                out = (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)) ** k, max(abs(lo), abs(hi)) ** k)
            elif lo >= 0 and k > 0:
                out = (lo ** float(k), hi ** float(k))
            elif lo > 0 and k < 0:
                out = (0.0 if hi == math.inf else hi ** float(k), lo ** float(k))
        memo[id(e)] = out
    return memo[id(root)]


def is_symmetric(e: Expr) -> bool:
    """Known symmetric by construction or declaration (never by numeric test)."""
    if e._sym is None:
        object.__setattr__(e, "_sym", bool(e.is_scalar or (e.rows == e.cols and _symmetric(e))))
    return e._sym


def _symmetric(e: Expr) -> bool:
    if e.op == "var":
        return bool(e.props & {"symmetric", "spd", "diagonal"}) or e.is_scalar
    if e.op in ("eye", "num", "comm"):
        return e.op != "comm" or e.data[0] == e.data[1]
    if e.op == "fill":
        return e.rows == e.cols
    record = ops.RECORDS.get(e.op)
    if record is not None and record.symmetric is not None:
        if callable(record.symmetric):
            return record.symmetric(_CONSTRUCTORS, e)
        return record.symmetric == "always" or all(map(is_symmetric, e.args))
    if e.op in ("mpow", "pow"):
        return is_symmetric(e.args[0])
    if e.op == "add":   # every term symmetric, or the terms closed under transposition
        terms = {id(t) for t in e.args}
        return all(is_symmetric(t) for t in e.args) or (
            {id(transpose(t)) for t in e.args} == terms) or (
            {id(transpose_factors(t)) for t in e.args} == terms)
    if e.op == "mul":
        chain = mul_chain(e)
        if not chain:
            return True
        if len(chain) == 1:
            return is_symmetric(chain[0])
        # A*A' and A'*A, and palindromes like A*S*A'
        n = len(chain)
        for i in range(n // 2):
            if chain[i] is not transpose(chain[n - 1 - i]):
                return False
        return n % 2 == 0 or is_symmetric(chain[n // 2])
    if e.op in ("had", "kron"):
        return all(is_symmetric(a) for a in e.args)
    return False


def transpose_factors(t: Expr) -> Expr:
    """t' with the transpose taken factor by factor ((c*P*A)' = c*A'*P for a symmetric P):
    P*A + A'*P is seen to be symmetric, and the simplifier pushes transposes into sums."""
    if t.op != "mul":
        return transpose(t)
    coef, nscal = t.data
    return mul(num(coef), *t.args[:nscal], *(transpose(f) for f in reversed(t.args[nscal:])))


# --- products ------------------------------------------------------------------

def mul_parts(e: Expr):
    """(coef, scalar factors, chain factors) of a node seen as a product."""
    if e.op == "num":
        return e.data, (), ()
    if e.op == "mul":
        coef, nscal = e.data
        return coef, e.args[:nscal], e.args[nscal:]
    if e.is_scalar:
        return ONE, (e,), ()
    return ONE, (), (e,)


def mul_chain(e: Expr):
    return mul_parts(e)[2]


def coefficient(e: Expr):
    """(rational coefficient, the rest) of a term: ``-2*A*x`` -> (-2, A*x)."""
    if e.op == "num":
        return e.data, num(1)
    if e.op == "fill" and e.data != 1 and e.data != 0:
        return e.data, fill(1, e.shape)
    if e.op == "mul":
        coef, nscal = e.data
        if coef != 1:
            return coef, _make_mul(ONE, e.args[:nscal], e.args[nscal:], e.shape)
    return ONE, e


def _scalar_order(s: Expr):
    reciprocal = s.op == "pow" and s.args[1].op == "num" and bool(s.args[1].data < 0)
    return (reciprocal, s.sort_key())


def _as_scalar_factor(coef, scalars, chain):
    """Fold the chain of a 1x1 product into a single scalar factor."""
    if chain:
        scalars = scalars + (_make_mul(ONE, (), chain, SCALAR_SHAPE),)
    return coef, scalars


def _make_mul(coef, scalars, chain, shape) -> Expr:
    coef = rational(coef)
    if coef == 0:
        return zeros(shape)
    scalars = tuple(sorted(scalars, key=_scalar_order))
    if not scalars and not chain:
        return num(coef)
    if coef == 1 and len(scalars) + len(chain) == 1:
        return (scalars + tuple(chain))[0]
    if not scalars and len(chain) == 1 and chain[0].op == "fill":
        return fill(coef * chain[0].data, shape)
    return Expr("mul", scalars + tuple(chain), (coef, len(scalars)), tuple(shape))


def mul(*factors: Expr) -> Expr:
    """Left-to-right product with the language's semantics: a 1x1 factor scales,
    otherwise factors chain as a matrix product (inner dimensions must agree).
    One pass, one node: long products cost O(n log n), not O(n^2)."""
    if not factors:
        return num(1)
    if len(factors) == 1:
        return factors[0]
    coef, sc, ch = mul_parts(factors[0])
    scalars, chain = list(sc), list(ch)
    acc_scalar = factors[0].is_scalar
    for b in factors[1:]:
        cb, sb, chb = mul_parts(b)
        if acc_scalar or b.is_scalar:
            if acc_scalar and chain:
                scalars.append(_make_mul(ONE, (), tuple(chain), SCALAR_SHAPE))
                chain = []
            if b.is_scalar and chb:
                sb = sb + (_make_mul(ONE, (), chb, SCALAR_SHAPE),)
                chb = ()
            acc_scalar = acc_scalar and b.is_scalar
        else:
            left = chain[-1]
            if not same_dim(left.cols, b.rows):
                rows = chain[0].rows
                raise ShapeError(
                    f"matrix product: {fmt_shape((rows, left.cols))} times {fmt_shape(b.shape)} "
                    f"(inner dimensions {fmt_dim(left.cols)} and {fmt_dim(b.rows)} differ)")
            acc_scalar = chain[0].rows == 1 and b.cols == 1
        coef *= cb
        scalars.extend(sb)
        chain.extend(chb)
    shape = (chain[0].rows, chain[-1].cols) if chain else SCALAR_SHAPE
    if any(is_zero(s) for s in scalars) or any(is_zero(c) for c in chain):
        return zeros(shape)
    if len(chain) > 1:   # identity factors vanish inside a chain
        chain = [c for c in chain if c.op != "eye"] or chain[:1]
    folded = []
    for s in scalars:
        if s.op == "num":
            coef *= s.data
        else:
            folded.append(s)
    return _make_mul(coef, tuple(folded), tuple(chain), shape)


def _mul2(a: Expr, b: Expr) -> Expr:
    return mul(a, b)


def scale(c, e: Expr) -> Expr:
    return _mul2(num(c), e)


def neg(e: Expr) -> Expr:
    return scale(-1, e)


# --- sums ------------------------------------------------------------------------

def add(*terms: Expr) -> Expr:
    """Flat sum; zeros dropped, numeric constants folded (all shapes equal)."""
    if not terms:
        raise ValueError("empty sum")
    shape = terms[0].shape
    flat: list = []
    const = None
    const_at = None
    for t in terms:
        require_same_shape("sum", terms[0], t)
        parts = t.args if t.op == "add" else (t,)
        for p in parts:
            if is_zero(p):
                continue
            if p.op in ("num", "fill"):
                if const is None:
                    const, const_at = p.data, len(flat)
                else:
                    const += p.data
                continue
            flat.append(p)
    if const is not None and const != 0:
        flat.insert(const_at, fill(const, shape))
    if not flat:
        return zeros(shape)
    if len(flat) == 1:
        return flat[0]
    return Expr("add", tuple(flat), None, shape)


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


# --- structural operations ---------------------------------------------------------

def transpose(e: Expr) -> Expr:
    if e.op == "T":
        return e.args[0]
    if e.op == "fill":
        return fill(e.data, (e.cols, e.rows))
    if is_symmetric(e):
        return e
    if e.op == "index" and is_symmetric(e.args[0]):     # S[i, :]' = S[:, i]
        return index(e.args[0], e.data[1], e.data[0])
    return Expr("T", (e,), None, (e.cols, e.rows))


def hadamard(a: Expr, b: Expr) -> Expr:
    if a.is_scalar or b.is_scalar:
        return _mul2(a, b)
    require_same_shape("elementwise product", a, b)
    if is_zero(a) or is_zero(b):
        return zeros(a.shape)
    for x, y in ((a, b), (b, a)):
        if x.op == "fill":
            return scale(x.data, y)
    (ca, ra), (cb, rb) = coefficient(a), coefficient(b)
    if ca != 1 or cb != 1:      # (c*A) .* B = c*(A .* B): -p ./ q reads back as printed
        return scale(ca * cb, hadamard(ra, rb))
    return Expr("had", (a, b), None, a.shape)


def ediv(a: Expr, b: Expr) -> Expr:
    """Elementwise division ``a ./ b`` (a scalar divisor divides every entry)."""
    if b.is_scalar:
        return _mul2(a, power(b, num(-1)))
    if a.is_scalar:
        a = fill(1, b.shape) if is_one(a) else _mul2(a, fill(1, b.shape))
    require_same_shape("elementwise division", a, b)
    if b.op == "fill":
        return scale(1 / b.data, a)
    # a ./ b is a .* b.^(-1): one elementwise product, so powers and cancellations meet
    return hadamard(a, power(b, num(-1)))


MAX_FOLD_EXPONENT = 64
#: Largest |k| of a matrix power X^k the parser reads and the simplifier writes.
MAX_MATRIX_POWER = 256


def power(base: Expr, exponent: Expr) -> Expr:
    """Elementwise power ``base .^ exponent`` with a scalar exponent."""
    if not exponent.is_scalar:      # x.^y, a.^x: exp(y .* log(x)), for x > 0
        if not base.is_scalar:
            require_same_shape("elementwise power", base, exponent)
        return apply("exp", hadamard(exponent, apply("log", base)))
    if exponent.op == "num":
        p = exponent.data
        if p == 1:
            return base
        if p == 0:
            return ones(base.shape)
        whole = p.denominator == 1
        if base.op in ("num", "fill") and whole and abs(p) <= MAX_FOLD_EXPONENT:
            digits = max(len(str(base.data.numerator)), len(str(base.data.denominator)))
            if not (base.data == 0 and p < 0) and abs(p) * digits <= 2000:
                return fill(base.data ** p, base.shape)
        if base.op == "pow" and whole:
            return power(base.args[0], _mul2(base.args[1], exponent))
        if base.op == "mul" and base.is_scalar and whole and base.data[0] != 1:
            # (c*s)^p = c^p * s^p keeps coefficients exact and outside
            coef, nscal = base.data
            rest = _make_mul(ONE, base.args[:nscal], base.args[nscal:], base.shape)
            if abs(p) <= MAX_FOLD_EXPONENT:
                return _mul2(num(coef ** p), power(rest, exponent))
    return Expr("pow", (base, exponent), None, base.shape)


def matrix_power(x: Expr, k: int) -> Expr:
    if x.is_scalar:
        return power(x, num(k))
    if not same_dim(x.rows, x.cols):
        raise ShapeError(f"matrix power of a non-square {fmt_shape(x.shape)} matrix")
    if k == 0:
        return eye(x.rows)
    if k == 1:
        return x
    if k == -1:
        return inv(x)
    if k < 0:
        return matrix_power(inv(x), -k)
    return Expr("mpow", (x,), int(k), x.shape)


def kron(a: Expr, b: Expr) -> Expr:
    if a.is_scalar or b.is_scalar:
        return _mul2(a, b)
    if is_zero(a) or is_zero(b):
        return zeros((a.rows * b.rows, a.cols * b.cols))
    if a.op == "eye" and b.op == "eye":
        return eye(a.rows * b.rows)
    return Expr("kron", (a, b), None, (a.rows * b.rows, a.cols * b.cols))


class _KnownShapes:
    """The shape algebra of built nodes (``shapes.ShapeAlgebra``): sizes are known, so
    a rule checks them."""

    @staticmethod
    def square(shape, what):
        if not same_dim(shape[0], shape[1]):
            raise ShapeError(f"{what} needs a square matrix, not {fmt_shape(shape)}")

    @staticmethod
    def is_column(shape):
        return shape[1] == 1

    @staticmethod
    def times(a, b):
        return a * b

    @staticmethod
    def is_scalar(shape):
        return shape[0] == 1 and shape[1] == 1

    @staticmethod
    def scalar(shape, message):
        if not (shape[0] == 1 and shape[1] == 1):
            raise ShapeError(f"{message}, not {fmt_shape(shape)}")

    @staticmethod
    def equal(a, b, what):
        if not same_dim(a, b):
            raise ShapeError(f"{what} needs sizes that agree, not {fmt_dim(a)} and {fmt_dim(b)}")


KNOWN_SHAPES = _KnownShapes()


def inv(x: Expr) -> Expr:
    return apply("inv", x)


def apply(fn: str, *args: Expr) -> Expr:
    """A function of the language applied to its arguments: its record's shape rule
    checks them, its ``build`` may return a simpler node (``tr(eye(n)) = n``)."""
    try:
        record = ops.reading(fn, KNOWN_SHAPES, args[0].shape, len(args)) if fn in ops.SPELLINGS \
            else ops.RECORDS[fn]
    except KeyError:
        raise ValueError(f"no function {fn!r}") from None
    if len(args) != record.shape.arity:
        raise ValueError(f"{fn} takes {record.shape.arity} argument(s), got {len(args)}")
    shape = record.shape.infer_all(KNOWN_SHAPES, tuple(a.shape for a in args), record.spelling)
    built = record.build(_CONSTRUCTORS, *args)
    if built is not None:
        return built
    return Expr(record.name, args, None, tuple(map(Dim.of, shape)))


def diag_of_vec(x: Expr) -> Expr:
    """diag(vec(x)): the matrix that multiplies vec(Y) entrywise by vec(x)."""
    return apply("diag", apply("vec", x)) if x.size != 1 else x


def inner(a: Expr, b: Expr) -> Expr:
    """<a, b> = tr(a' b) = sum(a .* b), written the way a person would."""
    if a.is_scalar:
        return mul(a, b)
    if a.cols == 1:
        return mul(transpose(a), b)
    return apply("tr", mul(transpose(a), b))


def unvec(v: Expr, shape) -> Expr:
    """Inverse of vec: a (r*c) x 1 vector laid out as an r x c matrix (columns)."""
    shape = tuple(map(Dim.of, shape))
    if shape[1] == 1:
        return v
    if shape[0] == 1:       # the row whose vec is v
        return transpose(v)
    if v.op == "vec" and v.args[0].shape == shape:
        return v.args[0]
    if v.op == "fill":
        return fill(v.data, shape)
    return Expr("unvec", (v,), None, shape)


# --- indexing and block matrices ------------------------------------------------------

def _span(span, size):
    """A row or column selection in normal form: None (all of them) or (first, last),
    1-based and inclusive, as sizes (Dim: 2, an index name i, m + 1)."""
    if span is None:
        return None
    first, last = Dim.of(span[0]), Dim.of(span[1])
    return None if first == DIM_ONE and last == size else (first, last)


def span_size(span, size):
    """How many rows (columns) ``span`` selects of ``size``."""
    return size if span is None else span[1] - span[0] + DIM_ONE


def index(x: Expr, rows=None, cols=None) -> Expr:
    """``x[rows, cols]``: each None (every row or column) or (first, last), 1-based and
    inclusive — ``x[i]`` of a vector is (i, i), None; ``X[:, j]`` None, (j, j)."""
    rows, cols = _span(rows, x.rows), _span(cols, x.cols)
    if rows is None and cols is None:
        return x
    shape = (span_size(rows, x.rows), span_size(cols, x.cols))
    if x.op == "T":                             # X'[i, j] = X[j, i]
        return transpose(index(x.args[0], cols, rows))
    if x.op == "fill":
        return fill(x.data, shape)
    if x.op == "index":                         # a part of a part: offsets add
        inner_rows, inner_cols = x.data

        def within(outer, inner):
            if outer is None or inner is None:
                return inner if outer is None else outer
            return (inner[0] + outer[0] - DIM_ONE, inner[0] + outer[1] - DIM_ONE)
        return index(x.args[0], within(rows, inner_rows), within(cols, inner_cols))
    if x.op == "eye" and rows is not None and cols is not None:
        if rows == cols:                        # a diagonal block of I is I
            return eye(shape[0])
        if _disjoint(rows, cols):
            return zeros(shape)
    if x.op == "block":
        part = _block_part(x, rows, cols)
        if part is not None:
            return part
    # a part of a product, a sum, an entrywise function: the parts of its arguments
    # ((A*B)[i, :] = A[i, :]*B, sigmoid(W*x)[i] = sigmoid(W[i, :]*x))
    if x.op == "mul" and len(x.args) > x.data[1]:
        coef, nscal = x.data
        chain = list(x.args[nscal:])
        if len(chain) == 1:
            chain = [index(chain[0], rows, cols)]
        else:
            chain[0], chain[-1] = index(chain[0], rows, None), index(chain[-1], None, cols)
        return mul(num(coef), *x.args[:nscal], *chain)
    if x.op == "add":
        return add(*(index(t, rows, cols) for t in x.args))
    if x.op == "had":
        return hadamard(*(index(t, rows, cols) for t in x.args))
    if x.op in ops.ELEMENTWISE or x.op == "pow":    # pow's exponent is a scalar
        return rebuild(x, (index(x.args[0], rows, cols), *x.args[1:]))
    return Expr("index", (x,), (rows, cols), shape)


def block_offsets(e: Expr) -> tuple:
    """(row offsets, column offsets) of a block matrix's grid: block (a, b) starts at row
    rows[a] + 1 and column cols[b] + 1; the last offsets are the whole sizes."""
    grid = block_grid(e)
    rows, cols = [Dim.of(0)], [Dim.of(0)]
    for row in grid:
        rows.append(rows[-1] + row[0].rows)
    for x in grid[0]:
        cols.append(cols[-1] + x.cols)
    return rows, cols


def _disjoint(a, b) -> bool:
    """Do the spans a and b (numbers) share no index?"""
    ends = (a[0], a[1], b[0], b[1])
    if not all(d.is_number for d in ends):
        return False
    return a[1].constant < b[0].constant or b[1].constant < a[0].constant


def _block_part(e: Expr, rows, cols):
    """The blocks of ``e`` that (rows, cols) selects when it follows the grid's lines
    (G[1:m, 1:n] of [A, B; C, D] is A, its rows 1:m are [A, B]), else None."""
    offsets = block_offsets(e)
    picked = []
    for span, starts, total in ((rows, offsets[0], e.rows), (cols, offsets[1], e.cols)):
        span = span or (DIM_ONE, total)
        first = [k for k in range(len(starts) - 1) if starts[k] + DIM_ONE == span[0]]
        last = [k for k in range(len(starts) - 1) if starts[k + 1] == span[1]]
        if not first or not last or first[0] > last[0]:
            return None
        picked.append(range(first[0], last[0] + 1))
    grid = block_grid(e)
    return block([[grid[a][b] for b in picked[1]] for a in picked[0]])


def block(grid) -> Expr:
    """The block matrix ``[A, B; C, D]`` of a grid (a list of block rows, each a list of
    blocks): the blocks of a block row share their rows, those of a block column their
    columns (a ShapeError names the block that does not fit)."""
    p, q = len(grid), len(grid[0])
    for a, row in enumerate(grid):
        if len(row) != q:
            raise ShapeError(f"block row {a + 1} has {len(row)} blocks, block row 1 has {q}")
        for b, x in enumerate(row):
            if not same_dim(x.rows, row[0].rows):
                raise ShapeError(f"block ({a + 1}, {b + 1}) has {fmt_dim(x.rows)} rows, "
                                 f"block ({a + 1}, 1) has {fmt_dim(row[0].rows)}")
            if not same_dim(x.cols, grid[0][b].cols):
                raise ShapeError(f"block ({a + 1}, {b + 1}) has {fmt_dim(x.cols)} columns, "
                                 f"block (1, {b + 1}) has {fmt_dim(grid[0][b].cols)}")
    if p == 1 and q == 1:
        return grid[0][0]
    flat = tuple(x for row in grid for x in row)
    rows = sum((row[0].rows for row in grid[1:]), grid[0][0].rows)
    cols = sum((x.cols for x in grid[0][1:]), grid[0][0].cols)
    if all(x.op == "fill" and x.data == flat[0].data for x in flat):
        return fill(flat[0].data, (rows, cols))
    return Expr("block", flat, (p, q), (Dim.of(rows), Dim.of(cols)))


def block_grid(e: Expr) -> list:
    """The grid of a block node: a list of block rows."""
    p, q = e.data
    return [list(e.args[a * q:(a + 1) * q]) for a in range(p)]


# --- rebuilding --------------------------------------------------------------------

#: How to rebuild a node of each op from new arguments (used by substitution and the
#: simplifier, so a rebuilt node is renormalised by the constructors above).
def rebuild(e: Expr, args: tuple) -> Expr:
    op = e.op
    if not e.args:
        return e
    if args == e.args:
        return e
    if op == "add":
        return add(*args)
    if op == "mul":
        return _mul2(num(e.data[0]), mul(*args))
    if op == "T":
        return transpose(args[0])
    if op == "had":
        return hadamard(*args)
    if op == "pow":
        return power(*args)
    if op == "mpow":
        return matrix_power(args[0], e.data)
    if op == "kron":
        return kron(*args)
    if op == "unvec":
        return unvec(args[0], e.shape)
    if op == "index":
        return index(args[0], *e.data)
    if op == "block":
        q = e.data[1]
        return block([list(args[k:k + q]) for k in range(0, len(args), q)])
    return apply(ops.RECORDS[op].spelling, *args)


def substitute(root: Expr, mapping: dict) -> Expr:
    """Replace nodes (keys) by nodes (values) everywhere, bottom-up, iteratively."""
    memo: dict[int, Expr] = {}
    for node in postorder(root):
        if node in mapping:
            memo[id(node)] = mapping[node]
        elif node.args:
            memo[id(node)] = rebuild(node, tuple(memo[id(a)] for a in node.args))
        else:
            memo[id(node)] = node
    return memo[id(root)]


def count_nodes(root: Expr, limit: int | None = None) -> int:
    n = 0
    for _ in postorder(root):
        n += 1
        if limit is not None and n > limit:
            raise LimitError(f"expression has more than {limit} distinct nodes")
    return n


#: The node constructors, as the registry's records are handed them (``E``).
_CONSTRUCTORS = sys.modules[__name__]
