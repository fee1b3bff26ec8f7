"""Index (Einstein) notation for derivatives that have no matrix form.

A third or higher derivative is computed as a matrix: the Jacobian of the vec of the
previous derivative, ``d vec(T_{k-1})/d vec(X_k)'``.  Its Kronecker, vec and diag
structure only encodes which index goes where, so it is translated here into a sum of
products of entries (``A[i,a]``, ``(A*x)[i]``), Kronecker deltas and scalars.  The
indices on the left of the printed equation are free; every other index is summed.

Translation: ``terms(e, rows, cols)`` reads an ``m x n`` node with its row index split
into a group of indices (the first varies fastest, as in ``vec``) and likewise its
column index.  Structural nodes (``⊗``, ``vec``, ``unvec``, ``diag``, ``eye``, ``K``,
products, sums) distribute the groups over their operands; anything else is an entry
of a matrix printed in matrix notation.  A node whose groups cannot be split (a
Kronecker factor that straddles two indices) raises ``NotIndexable``; the caller then
prints the matrix form.  ``evaluate_terms`` evaluates the result with ``einsum``, so
the printed notation itself is checked numerically (tests/test_indexed.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import count, islice, permutations, product as cartesian

import math
from fractions import Fraction

import numpy as np

from ..core import expr as E
from ..numeric.evaluate import Env, evaluate
from ..core.dims import Dim
from ..core.expr import Expr
from ..core.shapes import as_dim
from ..simplify.engine import simplify

#: Names of the free indices, in order (then i1, i2, ...; none a variable's name).
FREE_NAMES = ("i", "j", "k", "l", "p", "q", "r", "s")
#: Names of the summed indices, in order of first use within a term (then a1, a2, ...).
SUMMED_NAMES = ("a", "b", "c", "d", "e", "f", "g", "h")
#: Most terms the translation expands to (else the matrix form is printed), and most
#: that are searched pairwise for entries to merge (A[i,k] + A[k,i]).
MAX_TERMS = 2_000
MAX_MERGED_TERMS = 400
#: Most indices in one term (the derivative's own plus summed ones) that are named.
MAX_INDICES = 256
#: Index splits that may fail, in all, before a derivative is printed in matrix form instead.
MAX_LAYOUT_TRIES = 256
#: Operations translated structurally; any other node is an entry of a matrix.
STRUCTURAL = frozenset({"add", "mul", "T", "kron", "vec", "unvec", "diagm", "diagv", "eye",
                        "fill", "comm", "had", "num"})


class NotIndexable(Exception):
    """The node's index groups cannot be distributed over its operands."""


@dataclass(frozen=True)
class Index:
    name: str
    dim: object     # a SymPy dimension


@dataclass(frozen=True)
class Factor:
    """``entry``: ``expr[row, col]`` (an index is None where that side has size 1);
    ``delta``: δ[row, col]; ``ones``: the all-ones vector, 1[row]."""

    kind: str
    row: Index | None
    col: Index | None = None
    expr: Expr | None = None
    power: int = 1

    def indices(self):
        return tuple(i for i in (self.row, self.col) if i is not None)

    def relabelled(self, mapping: dict) -> "Factor":
        """All indices renamed at once (a swap a <-> b stays a swap)."""
        row, col = mapping.get(self.row, self.row), mapping.get(self.col, self.col)
        if self.kind == "delta" and _name_key(col) < _name_key(row):
            row, col = col, row     # δ is symmetric: δ[j,i] is δ[i,j]
        return Factor(self.kind, row, col, self.expr, self.power)


@dataclass(frozen=True)
class Term:
    """``coef * scalars * factors`` (scalars: 1x1 expressions in matrix notation)."""

    coef: Fraction
    scalars: tuple = ()
    factors: tuple = ()

    def times(self, other: "Term") -> "Term":
        return Term(self.coef * other.coef, self.scalars + other.scalars,
                    self.factors + other.factors)


def _layout(e: Expr, side: int) -> list | None:
    """The sizes of the index group a node's rows (side 0) or columns (1) split into,
    fastest first: ``A ⊗ B`` has B's then A's, ``vec(M)`` M's rows then its columns.
    None where the node does not fix the order (``eye(m*n)`` is eye(n) ⊗ eye(m) and
    eye(m) ⊗ eye(n) alike)."""
    op = e.op
    if op == "T":
        return _layout(e.args[0], 1 - side)
    if op == "kron":
        return _joined(_layout(e.args[1], side), _layout(e.args[0], side))
    if op == "vec" and side == 0:
        return _joined(_layout(e.args[0], 0), _layout(e.args[0], 1))
    if op == "mul":
        chain = E.mul_chain(e)
        if chain:
            return _layout(chain[0] if side == 0 else chain[-1], side)
    if op in ("add", "had") and not e.is_scalar:
        return next((g for g in (_layout(a, side) for a in e.args) if g is not None), None)
    if op == "diagm" or (op == "diagv" and side == 0):
        return _layout(e.args[0], 0)
    if op == "diagv":
        return []
    if op == "comm":
        m, n = e.data
        return _joined(_factors(n), _factors(m)) if side == 0 else _joined(_factors(m), _factors(n))
    dim = e.shape[side]
    if op in ("eye", "fill"):      # eye(m*n) = eye(n) ⊗ eye(m): one index per factor
        return _factors(dim)
    return [] if as_dim(dim) == 1 else [dim]


def _inner_layouts(left: Expr, right: Expr, sizes: tuple) -> list[list]:
    """How the inner size of ``left*right`` may split into indices: as either neighbour
    splits it; where neither fixes the order, into indices of the free indices' sizes
    (``m*n``, ``m*n`` for a vector(m*n) variable), each order of its symbol factors,
    and one compound index."""
    known = [g for g in (_layout(left, 1), _layout(right, 0)) if g is not None]
    if known:
        return [known[0]] + [g for g in known[1:] if g != known[0]]
    dim = as_dim(left.cols)
    powers = [[d] * k for d in dict.fromkeys(sizes) for k in range(1, 9) if d ** k == dim]
    orders = [list(p) for p in dict.fromkeys(islice(permutations(_dims_of(dim)), 24))]
    return [list(g) for g in dict.fromkeys(map(tuple, powers + orders + [[dim]]))]


def _joined(first: list | None, then: list | None) -> list | None:
    return None if first is None or then is None else first + then


def _factors(dim) -> list | None:
    """One index per symbol factor of a size, or None where their order is open."""
    dims = _dims_of(dim)
    return dims if len(set(dims)) <= 1 else None


def _dims_of(dim) -> list:
    """A size as a list of symbol factors (``n**2`` -> [n, n]); 1 -> []."""
    out = []
    for f in as_dim(dim).factors():
        base, k = f.base_exp()
        if f == 1:
            continue
        out.extend([base] * k)
    return sorted(out, key=str)


def _name_key(i: Index) -> tuple:
    return (len(i.name), i.name)


def _size(group) -> object:
    return math.prod((i.dim for i in group), start=Dim.of(1))


def _split(group: tuple, first) -> tuple[tuple, tuple]:
    """The leading indices of ``group`` whose sizes multiply to ``first``, and the rest."""
    for cut in range(len(group) + 1):
        if _size(group[:cut]) == as_dim(first):
            return group[:cut], group[cut:]
    raise NotIndexable(f"no split of {[i.dim for i in group]} at {first}")


def _single(group: tuple, dim) -> Index | None:
    """The one index of a group of size ``dim`` (None for size 1)."""
    if not group:
        if as_dim(dim) == 1:
            return None
        raise NotIndexable("an index is missing")
    if len(group) == 1:
        return group[0]
    raise NotIndexable("an entry would need a compound index")


class _Translator:
    def __init__(self, sizes=()):
        self._fresh = count(1)
        self.failures = 0
        self.sizes = tuple(sizes)     # the free indices' sizes: likely inner splits

    def fresh(self, dims: list) -> tuple:
        return tuple(Index(f"_{next(self._fresh)}", d) for d in dims)

    def terms(self, e: Expr, rows: tuple, cols: tuple) -> list[Term]:
        if _size(rows) != as_dim(e.rows) or _size(cols) != as_dim(e.cols):
            raise NotIndexable("index groups of the wrong size")
        op = e.op
        if op == "num":
            return [Term(E.rational(e.data))]
        if e.is_scalar:
            coef, rest = E.coefficient(e)
            return [Term(E.rational(coef), () if rest.op == "num" else (rest,))]
        if op == "fill":
            return [Term(E.rational(e.data), (), tuple(Factor("ones", i) for i in rows + cols))]
        if op == "pow" and _small_power(e) and _fits(rows, e.rows) and _fits(cols, e.cols):
            base = self.terms(e.args[0], rows, cols)
            if len(base) == 1 and len(base[0].factors) == 1 and not base[0].scalars:
                t, f = base[0], base[0].factors[0]
                return [Term(t.coef ** e.args[1].data, (),
                             (Factor(f.kind, f.row, f.col, f.expr, int(e.args[1].data)),))]
        if _plain(e) and op != "had" and _fits(rows, e.rows) and _fits(cols, e.cols) and \
                not _has_outer_product(e):
            return [self.entry(e, rows, cols)]
        if op == "add":
            return [t for a in e.args for t in self.terms(a, rows, cols)]
        if op == "T":
            return self.terms(e.args[0], cols, rows)
        if op == "had":     # (u .* v)[i] = u[i]*v[i]
            return _products(self.terms(e.args[0], rows, cols), self.terms(e.args[1], rows, cols))
        if op == "mul":
            return self.product(e, rows, cols)
        if op == "kron":
            a, b = e.args
            rb, ra = _split(rows, b.rows)
            cb, ca = _split(cols, b.cols)
            return _products(self.terms(a, ra, ca), self.terms(b, rb, cb))
        if op == "vec":
            m = e.args[0]
            r, c = _split(rows, m.rows)
            return self.terms(m, r, c)
        if op == "unvec":
            return self.terms(e.args[0], rows + cols, ())
        if op == "diagm":
            return _products(self.terms(e.args[0], rows, ()), [_deltas(rows, cols)])
        if op == "diagv":
            return self.terms(e.args[0], rows, rows)
        if op == "eye":
            return [_deltas(rows, cols)]
        if op == "comm":    # K(m,n)*vec(A) = vec(A') for an m x n matrix A
            m, n = e.data
            r_n, r_m = _split(rows, n)
            c_m, c_n = _split(cols, m)
            return [_deltas(r_n, c_n).times(_deltas(r_m, c_m))]
        raise NotIndexable(op)

    def entry(self, e: Expr, rows: tuple, cols: tuple) -> Term:
        return _entry(e, _single(rows, e.rows), _single(cols, e.cols))

    def product(self, e: Expr, rows: tuple, cols: tuple) -> list[Term]:
        """A chain: runs of plain factors stay one entry (``(A*x)[i]``); structural
        factors and outer products (inner size 1) are split, with summed indices.  Where
        neither neighbour fixes how an inner size splits, the possible splits are tried."""
        coef, scalars, chain = E.mul_parts(e)
        segments = _segments([g for f in chain for g in _outer_ones(f)])
        options = [_inner_layouts(left[-1], right[0], self.sizes)
                   for left, right in zip(segments, segments[1:])]
        for inner in islice(cartesian(*options), MAX_LAYOUT_TRIES):
            if self.failures > MAX_LAYOUT_TRIES:
                break
            groups = [rows] + [self.fresh(dims) for dims in inner] + [cols]
            try:
                out = [Term(E.rational(coef), tuple(scalars))]
                for k, seg in enumerate(segments):
                    part = seg[0] if len(seg) == 1 else E.mul(*seg)
                    out = _products(out, self.terms(part, groups[k], groups[k + 1]))
                return out
            except NotIndexable:
                self.failures += 1
        raise NotIndexable("no split of the inner sizes fits this product")


@functools.lru_cache(maxsize=4096)
def _simplified(e: Expr) -> Expr:
    """simplify, remembered: the same products and sums recur across many terms."""
    return simplify(e)


def _entry(e: Expr, row: Index | None, col: Index | None) -> Term:
    """``e[row, col]``; a transpose reads as swapped indices and a row vector as its
    transpose, so entries are of matrices and column vectors as written."""
    coef, e = E.coefficient(e)
    if e.op == "T" or (row is None and col is not None):
        e, row, col = _simplified(E.transpose(e)), col, row
        c, e = E.coefficient(e)
        coef *= c
    return Term(E.rational(coef), (), (Factor("entry", row, col, e),))


def _has_outer_product(e: Expr) -> bool:
    """A product (or a sum with one) that splits into factors with separate indices: an
    inner size 1, or a constant matrix (an outer product of ones) in the chain."""
    if e.op == "add":
        return any(_has_outer_product(t) for t in e.args)
    chain = E.mul_chain(e) if e.op == "mul" else ()
    return any(f.rows == 1 for f in chain[1:]) or any(len(_outer_ones(f)) == 2 for f in chain)


def _outer_ones(f: Expr) -> list:
    """A constant matrix c*ones(m, n) as the outer product c*ones(m)*ones(n)', so the
    factors either side read as ``(A'*vector(1))[i]*(A'*vector(1))[j]``."""
    if f.op == "fill" and f.rows != 1 and f.cols != 1:
        return [E.fill(f.data, (f.rows, 1)), E.fill(1, (1, f.cols))]
    return [f]


def _segments(chain) -> list[list]:
    """Runs of plain factors joined by inner sizes other than 1."""
    out: list[list] = []
    for f in chain:
        if out and _plain(f) and _plain(out[-1][-1]) and f.rows != 1:
            out[-1].append(f)
        else:
            out.append([f])
    return out


#: Operations that make an entry of a matrix-notation expression unless its operands
#: carry index structure.
_COMPOSITE = frozenset({"add", "mul", "T", "had"})


def _plain(e: Expr) -> bool:
    """No index structure: an entry of it prints in matrix notation (``(A*x)[i]``)."""
    if e.is_scalar or e.op == "fill" or e.op not in STRUCTURAL:
        return True
    return e.op in _COMPOSITE and all(_plain(a) for a in e.args)


def _small_power(e: Expr) -> bool:
    """An elementwise power x.^k (integer k from -9 to 9, not 0 or 1): x[i]^k."""
    k = e.args[1]
    return k.op == "num" and k.data.denominator == 1 and -9 <= k.data <= 9 and k.data not in (0, 1)


def _fits(group: tuple, dim) -> bool:
    return len(group) <= 1 and (len(group) == 1 or as_dim(dim) == 1)


def _products(xs: list[Term], ys: list[Term]) -> list[Term]:
    if len(xs) * len(ys) > MAX_TERMS:
        raise NotIndexable(f"more than {MAX_TERMS} terms")
    return [x.times(y) for x, y in cartesian(xs, ys)]


def _deltas(rows: tuple, cols: tuple) -> Term:
    if len(rows) != len(cols) or any(r.dim != c.dim for r, c in zip(rows, cols)):
        raise NotIndexable("a delta between index groups of different structure")
    return Term(Fraction(1), (), tuple(Factor("delta", r, c) for r, c in zip(rows, cols)))


# --- simplification of a term ------------------------------------------------------------


def _contract(term: Term, free: frozenset) -> Term:
    """Contract deltas over summed indices (each summed index joins the other end of its
    delta, free ends win); then drop ones vectors and δ[a,a] (both are 1 entry-wise): a
    summed index that no other factor mentions sums 1 to its size."""
    joined: dict[Index, Index] = {}

    def end(i: Index) -> Index:
        while i in joined:
            i = joined[i]
        return i

    for f in term.factors:
        if f.kind == "delta":
            a, b = end(f.row), end(f.col)
            if a != b and not (a in free and b in free):
                old, new = (b, a) if b not in free else (a, b)
                joined[old] = new
    factors = [Factor(f.kind, f.row and end(f.row), f.col and end(f.col), f.expr, f.power)
               for f in term.factors]
    mentioned = {i for f in factors for i in f.indices()}
    kept = tuple(f for f in factors
                 if f.kind == "entry" or (f.kind == "delta" and f.row != f.col))
    left = {i for f in kept for i in f.indices()}
    sizes = tuple(E.dim_scalar(i.dim) for i in sorted(mentioned - left - free,
                                                        key=lambda i: i.name))
    return Term(term.coef, term.scalars + sizes, kept)


def _on_diagonal(term: Term, free: tuple) -> Term:
    """Beside δ[i,j] of two free indices the other factors may use either: they use the
    earlier one, ``x[j]*δ[i,j]`` -> ``x[i]*δ[i,j]``, so that equal terms look equal."""
    factors = list(term.factors)
    for n in range(len(factors)):
        f = factors[n]
        if f.kind == "delta" and f.row != f.col and f.row in free and f.col in free:
            keep, drop = sorted((f.row, f.col), key=free.index)
            factors = [g if m == n else g.relabelled({drop: keep}) for m, g in enumerate(factors)]
    kept = tuple(f for f in factors if not (f.kind == "delta" and f.row == f.col))
    return Term(term.coef, term.scalars, kept)


def _fuse(term: Term, free: frozenset) -> Term:
    """Contractions back into matrix products where that is all they are: a summed
    index in exactly two plain entries, ``A[i,a]*x[a]`` -> ``(A*x)[i]``, or in one,
    ``A[a,i]`` -> ``(A'*vector(1))[i]``."""
    factors = list(term.factors)
    coef, scalars = term.coef, term.scalars
    changed = True
    while changed:
        changed = False
        summed = {i for f in factors for i in f.indices()} - free
        for a in sorted(summed, key=lambda i: i.name):
            users = [n for n, f in enumerate(factors) if a in f.indices()]
            if len(users) not in (1, 2) or any(
                    factors[n].kind != "entry" or factors[n].power != 1
                    or factors[n].row == factors[n].col for n in users):
                continue
            f, g = (factors[n] for n in users) if len(users) == 2 else (
                factors[users[0]], Factor("entry", a, None, E.ones((a.dim, 1))))
            left, row = (f.expr, f.row) if f.col == a else (E.transpose(f.expr), f.col)
            right, col = (g.expr, g.col) if g.row == a else (E.transpose(g.expr), g.row)
            fused = _simplified(E.mul(left, right))
            factors = [h for n, h in enumerate(factors) if n not in users]
            if fused.is_scalar:
                c, rest = E.coefficient(fused)
                coef, scalars = coef * c, scalars + (() if rest.op == "num" else (rest,))
            else:
                t = _entry(fused, row, col)
                coef *= t.coef
                factors += t.factors
            changed = True
            break
    return Term(coef, scalars, tuple(factors))


def _merge(terms: list[Term]) -> list[Term]:
    """Terms equal but for one entry over the same indices add their matrices:
    ``A[i,k]*y[j] + A[k,i]*y[j]`` -> ``(A + A')[i,k]*y[j]``."""
    out: list[Term] = []
    for t in terms:
        for n, u in enumerate(out):
            merged = _merged(u, t)
            if merged is not None:
                out[n] = merged
                break
        else:
            out.append(t)
    return out


def _merged(u: Term, t: Term) -> Term | None:
    if u.coef != t.coef or u.scalars != t.scalars or len(u.factors) != len(t.factors):
        return None
    for p, f in enumerate(u.factors):
        if f.kind != "entry" or f.power != 1:
            continue
        rest = u.factors[:p] + u.factors[p + 1:]
        for q, g in enumerate(t.factors):
            if g.kind != "entry" or g.power != 1 or t.factors[:q] + t.factors[q + 1:] != rest:
                continue
            if (g.row, g.col) == (f.row, f.col):
                other = g.expr
            elif (g.row, g.col) == (f.col, f.row) and None not in (f.row, f.col):
                other = E.transpose(g.expr)
            else:
                continue
            total = _entry(_simplified(E.add(f.expr, other)), f.row, f.col)
            return Term(u.coef * total.coef, u.scalars, rest + total.factors)
    return None


def _canonical(term: Term, free: tuple, summed_names: list) -> Term:
    """Equal entries multiplied into powers; summed indices renamed a, b, c... in order
    of appearance; factors sorted."""
    powers: dict[Factor, int] = {}
    for f in term.factors:
        base = Factor(f.kind, f.row, f.col, f.expr)
        powers[base] = powers.get(base, 0) + f.power
    merged = [Factor(f.kind, f.row, f.col, f.expr, k if f.kind == "entry" else 1)
              for f, k in powers.items()]
    factors = sorted(merged, key=lambda f: (f.kind != "entry", _factor_key(f, free)))
    names = {}
    for f in factors:
        for i in f.indices():
            if i not in free and i not in names:
                if len(names) >= len(summed_names):
                    raise NotIndexable("too many summed indices")
                names[i] = Index(summed_names[len(names)], i.dim)
    factors = [g.relabelled(names) for g in factors]
    factors = sorted(factors, key=lambda f: (f.kind != "entry", _factor_key(f, free)))
    coef, scalars = _scalar_product(term.coef, term.scalars)
    return Term(coef, scalars, tuple(factors))


def _scalar_product(coef, scalars: tuple) -> tuple:
    """The scalar factors as one simplified product: ``c*c^3`` -> ``c^4``."""
    if len(scalars) > 1:
        c, scalars, chain = E.mul_parts(_simplified(E.mul(*scalars)))
        coef *= c
        scalars += ((E.mul(*chain),) if chain else ())
    return coef, tuple(sorted(scalars, key=lambda s: s.sort_key()))


def _factor_key(f: Factor, free: tuple):
    def pos(i):
        return (0, free.index(i)) if i in free else (1, i.name)
    return (f.expr.sort_key() if f.expr is not None else (), f.kind,
            tuple(pos(i) for i in f.indices()), f.power)


def _collect(terms: list[Term]) -> list[Term]:
    """Equal products (after canonical renaming) added up; zero terms dropped."""
    coefs: dict[tuple, Fraction] = {}
    first: dict[tuple, Term] = {}
    for t in terms:
        key = (t.scalars, t.factors)
        coefs[key] = coefs.get(key, 0) + t.coef
        first.setdefault(key, t)
    return [Term(coefs[k], t.scalars, t.factors) for k, t in first.items() if coefs[k] != 0]


@dataclass(frozen=True)
class IndexForm:
    """``lhs[free] = sum of terms``; ``groups``: the free indices of each variable."""

    free: tuple
    groups: tuple
    terms: tuple


def _index_names(preferred: tuple, stem: str, taken: set) -> list:
    """Index names that no variable of the expression has (``a[a]`` would confuse)."""
    numbered = (f"{stem}{k}" for k in range(1, 10**6))
    return [n for n in preferred if n not in taken] + \
        list(islice((n for n in numbered if n not in taken), MAX_INDICES))


def index_form(e: Expr, variables: list[Expr]) -> IndexForm:
    """Index notation of ``e = d vec(T)/d vec(X_k)'`` where T is the derivative wrt
    ``variables[:-1]``, each variable contributing its row then column index."""
    taken = {v.name for v in E.postorder(e) if v.op == "var"} | {v.name for v in variables}
    names = iter(_index_names(FREE_NAMES, "i", taken))
    groups = [tuple(Index(next(names), d) for d in v.shape if d != 1) for v in variables]
    rows = tuple(i for g in groups[:-1] for i in g)
    cols = groups[-1]
    free = rows + cols
    if not free:
        raise NotIndexable("all variables are scalars: the derivative is a scalar")
    raw = _Translator(i.dim for i in free).terms(e, rows, cols)
    fs = frozenset(free)
    summed = _index_names(SUMMED_NAMES, "a", taken)
    terms = _collect([_canonical(_fuse(_on_diagonal(_contract(t, fs), free), fs), free, summed)
                      for t in raw])
    for _ in range(len(terms) if len(terms) <= MAX_MERGED_TERMS else 0):
        merged = _collect([_canonical(t, free, summed) for t in _merge(terms)])
        if merged == terms:
            break
        terms = merged
    return IndexForm(free, tuple(groups), tuple(terms))


# --- numeric evaluation (the check of the printed form) -------------------------------------


def evaluate_terms(form: IndexForm, env: Env) -> np.ndarray:
    """The tensor the notation denotes, by einsum: shape = sizes of the free indices."""
    free_letters = {i: _letter(k) for k, i in enumerate(form.free)}
    target = "".join(free_letters.values())
    out = np.zeros(tuple(env.need(i.dim) for i in form.free))
    for t in form.terms:
        letters = dict(free_letters)
        scale = E.as_float(t.coef)
        for s in t.scalars:
            scale *= float(np.asarray(evaluate(s, env)).reshape(-1)[0])
        operands, subs = [], []
        for f in t.factors:
            for i in f.indices():
                letters.setdefault(i, _letter(len(letters)))
            operands.append(_factor_value(f, env))
            subs.append("".join(letters[i] for i in f.indices()))
        for i in form.free:    # a free index no factor mentions: constant along it
            if not any(i in f.indices() for f in t.factors):
                operands.append(np.ones(env.need(i.dim)))
                subs.append(letters[i])
        spec = ",".join(subs) + "->" + target
        out = out + scale * (np.einsum(spec, *operands) if operands else 1.0)
    return out


def _letter(k: int) -> str:
    return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[k]


def _factor_value(f: Factor, env: Env) -> np.ndarray:
    if f.kind == "delta":
        return np.eye(env.need(f.row.dim))
    value = np.asarray(evaluate(f.expr, env), dtype=float).reshape(
        env.need(f.expr.rows), env.need(f.expr.cols)) ** f.power
    if f.row is None and f.col is None:
        return value[0, 0]
    if f.row is None:
        return value[0, :]
    if f.col is None:
        return value[:, 0]
    return value
