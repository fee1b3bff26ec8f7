"""The identity catalogue.

``IDENTITIES`` is the one table of named rewrite rules: each line gives the identity,
its source (Matrix Cookbook, Nov 2012, equation numbers; Magnus–Neudecker) and a
rule function that returns the rewritten node or ``None`` when it does not apply.
Every rule is checked numerically in the tests (lhs = rhs at random points) through
the ``example`` text it carries.

For each op the first matching identity fires, so the order of the list is part of
the catalogue.  The constructors in ``core/expr.py`` already keep the light normal form
(flat sums, exact coefficients, no identity factors, no double transposes); the rules
here add the identities, and ``engine.py`` applies them."""

from __future__ import annotations

import functools
from collections import Counter

import math
from fractions import Fraction

from ..core import expr as E
from ..core import ops
from .rules import Identity, pattern
from ..core.expr import (
    Expr,
    add,
    apply,
    coefficient,
    dim_scalar,
    eye,
    fill,
    hadamard,
    kron,
    mul,
    mul_parts,
    num,
    postorder,
    power,
    transpose,
)


# --- helpers ---------------------------------------------------------------------------

def _chain_parts(e: Expr):
    coef, scalars, chain = mul_parts(e)
    return coef, list(scalars), list(chain)


def _remake(coef, scalars, chain) -> Expr:
    return mul(num(coef), *scalars, *chain) if chain or scalars else num(coef)


def _is_ones(e: Expr) -> bool:
    return e.op == "fill" and e.data == 1


def adjacent(rewrite):
    """A product rule from a rewrite of two neighbouring chain factors.  ``rewrite(p, q)``
    returns None, the factors that replace ``p*q``, or ``(extra scalar factors,
    factors)``; an emptied chain becomes the identity."""
    def rule(e: Expr):
        coef, scalars, chain = _chain_parts(e)
        for i in range(len(chain) - 1):
            out = rewrite(chain[i], chain[i + 1])
            if out is None:
                continue
            extra, new = out if isinstance(out, tuple) else ([], out)
            rest = chain[:i] + list(new) + chain[i + 2:]
            if not rest and not e.is_scalar:
                rest = [eye(e.rows)]
            return _remake(coef, scalars + list(extra), rest)
        return None
    rule.__name__, rule.__doc__ = rewrite.__name__, rewrite.__doc__
    return rule


# --- transposes ---------------------------------------------------------------------------

def transpose_of_product(e: Expr):
    x = e.args[0]
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    if not chain:
        return None
    return _remake(coef, scalars, [transpose(c) for c in reversed(chain)])


def _transposes(e: Expr) -> int:
    return sum(n.op == "T" for n in postorder(e))


def transpose_of_sum_of_transposes(e: Expr):
    """(A' + B')' = A + B, transposed factor by factor, where that leaves fewer
    transposes than the standing one and those inside ((y'*A' + c*y')' = A*y + c*y, but
    (D - m*1')' stays whole)."""
    x = e.args[0]
    if x.op != "add":
        return None
    inner = [E.transpose_factors(t) for t in x.args]
    if sum(map(_transposes, inner)) < 1 + sum(map(_transposes, x.args)):
        return add(*inner)
    return None


def _like_key(t: Expr):
    """What like terms share: the scalar factors and the chain, numbers aside (a filled
    constant is like any other of its shape)."""
    coef, scalars, chain = _chain_parts(t)
    if len(chain) == 1 and chain[0].op == "fill":
        return (tuple(scalars), ("fill", chain[0].shape))
    return (tuple(scalars), tuple(chain))


def _spread_terms(t: Expr):
    """The terms a sum inside ``t`` distributes into, for ``t`` = s*(A + B)' (pushed
    transposes), s*(A + B) with scalar factors or a number s, or vec(A + B); else None."""
    coef, scalars, chain = _chain_parts(t)
    if len(chain) != 1:
        return None
    inner = chain[0]
    if inner.op == "T" and inner.args[0].op == "add":
        parts = [E.transpose_factors(u) for u in inner.args[0].args]
    elif inner.op == "vec" and inner.args[0].op == "add":
        parts = [apply("vec", u) for u in inner.args[0].args]
    elif inner.op == "add" and (scalars or coef != 1):
        parts = list(inner.args)
    else:
        return None
    return [_remake(coef * coefficient(p)[0], scalars, [coefficient(p)[1]]) for p in parts]


def distribute_to_meet_like_terms(e: Expr):
    """s*(A + B)', s*(A + B) and vec(A + B) inside a sum are distributed where a term
    of theirs then meets its like term outside: (t*x'*A' - s*x')' + t*A'*x - s*x merges
    to t*A*x + t*A'*x - 2*s*x (the Rayleigh quotient's gradient), c*matrix(1) +
    c*(log(P) - 1) to c*log(P); like terms and common factors then shorten it."""
    terms = list(e.args)
    keys = [_like_key(t) for t in terms]
    for i, t in enumerate(terms):
        spread = _spread_terms(t)
        if spread is None:
            continue
        others = set(keys[:i] + keys[i + 1:])
        if any(_like_key(p) in others for p in spread):
            return add(*terms[:i], *terms[i + 1:], *spread)
    return None


# --- products ----------------------------------------------------------------------------

def _base_exponent(s: Expr):
    if s.op == "pow" and s.args[1].op == "num":
        return s.args[0], s.args[1].data
    return s, Fraction(1)


def combine_scalar_powers(e: Expr):
    """s^a * s^b = s^(a+b) for scalar factors (so det(X)/det(X) cancels)."""
    coef, scalars, chain = _chain_parts(e)
    if len(scalars) < 2:
        return None
    powers: dict = {}
    order = []
    for s in scalars:
        b, k = _base_exponent(s)
        if b not in powers:
            powers[b] = 0
            order.append(b)
        powers[b] += k
    for b in list(order):   # s*sign(s) = abs(s)
        if b.op == "sign" and b.args[0] in powers and powers[b] == 1 and powers[b.args[0]] == 1:
            powers[b] = powers[b.args[0]] = 0
            absval = apply("abs", b.args[0])
            powers[absval] = powers.get(absval, 0) + 1
            if absval not in order:
                order.append(absval)
    if len(order) == len(scalars) and all(powers[b] == 1 for b in order):
        return None
    new = [power(b, num(powers[b])) for b in order if powers[b] != 0]
    if len(new) == len(scalars) and all(x is y for x, y in zip(new, scalars)):
        return None
    return _remake(coef, new, chain)


def _matrix_base(f: Expr):
    """(base, transposed, exponent) of a chain factor: X^k, inv(X)^k, and their transposes."""
    t = False
    if f.op == "T":
        t, f = True, f.args[0]
    k = 1
    if f.op == "mpow":
        f, k = f.args[0], f.data
    if f.op == "inv":
        f, k = f.args[0], -k
    if f.op == "T" and not t:
        t, f = True, f.args[0]
    if f.rows != f.cols or f.is_scalar:
        return None
    return f, t, k


def _matrix_factor(base: Expr, t: bool, k: int) -> Expr:
    m = E.matrix_power(base, k)
    return transpose(m) if t else m


def merge_matrix_powers(e: Expr):
    """X^a*X^b = X^(a+b), inv(X)*X = I, (X^2)'*X' = (X^3)'.  Every run of powers of one
    base merges in one pass, so X*X*...*X costs O(n), not O(n^2)."""
    coef, scalars, chain = _chain_parts(e)
    out: list = []          # (factor, (base, transposed, exponent) or None)
    changed = False
    for f in chain:
        b = _matrix_base(f)
        prev = out[-1][1] if out else None
        if b and prev and prev[0] is b[0] and prev[1] == b[1] \
                and abs(prev[2] + b[2]) <= E.MAX_MATRIX_POWER:
            out.pop()
            base, t, k = b[0], b[1], prev[2] + b[2]
            changed = True
            if k:
                out.append((_matrix_factor(base, t, k), (base, t, k)))
            continue
        out.append((f, b))
    if not changed:
        return None
    rest = [f for f, _ in out]
    if not rest and not e.is_scalar:
        rest = [eye(e.rows)]
    return _remake(coef, scalars, rest)


@adjacent
def orthonormal_columns(p: Expr, q: Expr):
    """Q'*Q = I for a matrix with orthonormal columns by construction (eigenvectors,
    singular vectors: the registry's ``orthonormal`` records), and Q*Q' = I where Q is
    square."""
    def orthonormal(x):
        record = ops.RECORDS.get(x.op)
        return record is not None and record.orthonormal
    if p.op == "T" and p.args[0] is q and orthonormal(q):
        return []
    if q.op == "T" and q.args[0] is p and orthonormal(p) and E.same_dim(p.rows, p.cols):
        return []
    return None


def spectral_theorem(e: Expr):
    """V*diag(f(λ))*V' = f(S) for V = eigvecs(X), λ = eigvals(X), S = (X + X')/2 (the
    spectral theorem): f a power (S^k, inv(S)^k) or an elementwise function with a
    matrix counterpart (exp -> expm, log -> logm, sqrt -> sqrtm)."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 2):
        v, middle, v_t = chain[i:i + 3]
        if v.op != "eigvecs" or middle.op != "diagm" or v_t is not transpose(v):
            continue
        x, f = v.args[0], middle.args[0]
        lam = E.apply("eigvals", x)
        s = ops.symmetric_part(E, x)
        if f is lam:
            value = s
        elif f.op == "pow" and f.args[0] is lam and f.args[1].op == "num" \
                and E.is_whole(f.args[1].data) and abs(f.args[1].data) <= E.MAX_MATRIX_POWER:
            value = E.matrix_power(s, int(f.args[1].data))
        elif f.op in ops.ELEMENTWISE and f.args[0] is lam and ops.ELEMENTWISE[f.op].matrix_function:
            value = apply(ops.ELEMENTWISE[f.op].matrix_function, s)
        else:
            continue
        return _remake(coef, scalars, chain[:i] + [value] + chain[i + 3:])
    return None


def _diagonal_mask(x: Expr) -> bool:
    """diag(vec(eye(n))): the mask of a square matrix's diagonal entries in vec order."""
    return x.op == "diagm" and x.args[0].op == "vec" and x.args[0].args[0].op == "eye"


def _ones_kron_eye(x: Expr, row: bool) -> bool:
    """1 ⊗ I (``row``: 1' ⊗ I) with matching sizes."""
    if x.op != "kron" or x.args[1].op != "eye":
        return False
    ones, eye_n = x.args
    return _is_ones(ones) and (ones.rows == 1 if row else ones.cols == 1) and \
        E.same_dim(ones.size, eye_n.rows)


def _is_embedding(pair, left: bool) -> bool:
    """D' = (1' ⊗ I)*diag(vec(I)) (``left``: vec(M) -> diag(M)) or D = diag(vec(I))*(1 ⊗ I)
    (v -> vec(diag(v)))."""
    a, b = pair
    return (_ones_kron_eye(a, True) and _diagonal_mask(b)) if left else \
        (_diagonal_mask(a) and _ones_kron_eye(b, False))


def _square(x: Expr) -> bool:
    return E.same_dim(x.rows, x.cols)


def _contract_left(k: Expr):
    """D'*(P ⊗ Q) as a matrix product, where one factor is a column: D'*(P ⊗ q) =
    diag(q)*P and D'*(a ⊗ Q) = diag(a)*Q (diag(q*v'*P') = q .* (P*v))."""
    p, q = k.args
    if q.cols == 1 and _square(p) and E.same_dim(q.rows, p.rows):
        return mul(apply("diag", q), p)
    if p.cols == 1 and _square(q) and E.same_dim(p.rows, q.rows):
        return mul(apply("diag", p), q)
    return None


def _contract_right(k: Expr):
    """(P ⊗ Q)*D where one factor is a row: (r ⊗ Q)*D = Q*diag(r') and (P ⊗ r)*D =
    P*diag(r') (Q*diag(v)*r' = Q*(r' .* v))."""
    p, q = k.args
    if p.rows == 1 and _square(q) and E.same_dim(p.cols, q.cols):
        return mul(q, apply("diag", transpose(p)))
    if q.rows == 1 and _square(p) and E.same_dim(q.cols, p.cols):
        return mul(p, apply("diag", transpose(q)))
    return None


def _both_sides(k: Expr):
    """D'*(P ⊗ Q)*D = Q .* P for square P, Q of one size."""
    p, q = k.args
    return hadamard(q, p) if _square(p) and p.shape == q.shape else None


def diagonal_embedding(e: Expr):
    """Contractions of D = diag(vec(I))*(1 ⊗ I), the embedding v -> vec(diag(v)), and its
    transpose D' (vec(M) -> diag(M)) with a Kronecker product: D'*(P ⊗ Q)*D = Q .* P,
    D'*(P ⊗ q) = diag(q)*P, (r ⊗ Q)*D = Q*diag(r'), and so on; a sum between them is
    distributed first.  Hessians through diag(x) then print as Hadamard and diagonal
    products (tr(diag(x)*A*diag(x)*B): A' .* B + A .* B')."""
    coef, scalars, chain = _chain_parts(e)

    def done(start, stop, node):
        return _remake(coef, scalars, chain[:start] + [node] + chain[stop:])

    n = len(chain)
    for i in range(n):
        left = i + 2 < n and _is_embedding(chain[i:i + 2], left=True)
        if left and chain[i + 2].op == "kron":
            k = chain[i + 2]
            if i + 4 < n and _is_embedding(chain[i + 3:i + 5], left=False):
                out = _both_sides(k)
                if out is not None:
                    return done(i, i + 5, out)
            out = _contract_left(k)
            if out is not None:
                return done(i, i + 3, out)
        if left and chain[i + 2].op == "add" and all(
                _first_contracts(t) for t in chain[i + 2].args):
            return done(i, i + 3, add(*(mul(*chain[i:i + 2], t) for t in chain[i + 2].args)))
        if chain[i].op == "kron" and i + 2 < n and _is_embedding(chain[i + 1:i + 3], left=False):
            out = _contract_right(chain[i])
            if out is not None:
                return done(i, i + 3, out)
        if chain[i].op == "add" and i + 2 < n and _is_embedding(chain[i + 1:i + 3], left=False) \
                and all(_last_contracts(t) for t in chain[i].args):
            return done(i, i + 3, add(*(mul(t, *chain[i + 1:i + 3]) for t in chain[i].args)))
    return None


def _first_contracts(t: Expr) -> bool:
    """The term starts with a Kronecker product that D' contracts (alone or with a D)."""
    chain = _chain_parts(t)[2]
    if not chain or chain[0].op != "kron":
        return False
    return _contract_left(chain[0]) is not None or (
        len(chain) >= 3 and _is_embedding(chain[1:3], left=False) and
        _both_sides(chain[0]) is not None)


def _last_contracts(t: Expr) -> bool:
    """The term ends with a Kronecker product that D contracts."""
    chain = _chain_parts(t)[2]
    return bool(chain) and chain[-1].op == "kron" and _contract_right(chain[-1]) is not None


def commuted_kronecker(e: Expr):
    """K(p,m)*(A ⊗ B)*K(n,q) = B ⊗ A for A m×n, B p×q (Magnus & Neudecker 2019, ch. 3,
    thm 9): the commutation matrices around a Kronecker product swap its factors."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 2):
        k1, middle, k2 = chain[i:i + 3]
        if k1.op != "comm" or middle.op != "kron" or k2.op != "comm":
            continue
        a, b = middle.args
        if all(E.same_dim(x, y) for x, y in ((k1.data[0], b.rows), (k1.data[1], a.rows),
                                             (k2.data[0], a.cols), (k2.data[1], b.cols))):
            return _remake(coef, scalars, chain[:i] + [kron(b, a)] + chain[i + 3:])
    return None


def _symmetriser_weight(t: Expr, n):
    """The numeric weight of ``t`` if it is c*eye(n^2) or c*commutation(n, n), else None:
    both act as the identity next to the duplication matrix D(n)."""
    coef, scalars, chain = _chain_parts(t)
    if scalars or len(chain) != 1:
        return None
    m = chain[0]
    if (m.op == "eye" and E.same_dim(m.rows, n * n)) or (
            m.op == "comm" and E.same_dim(m.data[0], n) and E.same_dim(m.data[1], n)):
        return coef
    return None


@adjacent
def commutation_duplication(p: Expr, q: Expr):
    """K(n,n)*D(n) = D(n), so (I + K)*D = 2*D, and D'*K = D' (a symmetric matrix is its
    own transpose: the vech convention's Hessians print D'*H*D, not D'*H*(I + K)*D)."""
    for a, dup, left in ((p, q, True), (q, p, False)):
        d = dup.args[0] if dup.op == "T" else dup
        if d.op != "dup" or (dup.op == "T") == left:
            continue
        terms = a.args if a.op == "add" else (a,)
        weights = [_symmetriser_weight(t, d.data) for t in terms]
        if None in weights:
            continue
        return ([num(sum(weights))], [dup])
    return None


def inverse_of_scaled(e: Expr):
    """inv(c*A) = inv(A)/c for a scalar c; inv(c*A + c*B) = inv(A + B)/c."""
    x = e.args[0]
    if x.op == "mul":
        coef, scalars, chain = _chain_parts(x)
        if chain and (coef != 1 or scalars):
            inner = E.inv(mul(*chain))
            return _remake(1 / coef, [power(s, num(-1)) for s in scalars], [inner])
    if x.op == "add":
        coefs = [coefficient(t)[0] for t in x.args]
        c = coefs[0]
        if c != 1 and all(k == c for k in coefs):
            return E.scale(1 / c, E.inv(add(*(coefficient(t)[1] for t in x.args))))
    return None


def inverse_of_power(e: Expr):
    """inv(X^k) = inv(X)^k."""
    x = e.args[0]
    if x.op != "mpow":
        return None
    return E.matrix_power(E.inv(x.args[0]), x.data)


@adjacent
def ones_product(a: Expr, b: Expr):
    """matrix(a)*matrix(b) = N*a*b*matrix(1) over the inner size N: vector(1)'*vector(1) = N."""
    if not (a.op == "fill" and b.op == "fill"):
        return None
    merged = fill(1, (a.rows, b.cols))
    return [num(a.data * b.data), dim_scalar(a.cols)], [merged] if merged.op == "fill" else []


@adjacent
def sum_as_inner_product(a: Expr, b: Expr):
    """u'*vector(1) = vector(1)'*u = sum(u); u'*(v ./ u) = (v ./ u)'*u = sum(v) (the
    quotient already needs u's entries nonzero)."""
    if a.rows != 1 or b.cols != 1 or a.is_scalar or b.is_scalar:
        return None
    row = a.args[0] if a.op == "T" else a if _is_ones(a) else None   # a = row'
    if row is None or (_is_ones(row) and b.op == "fill"):
        return None
    if _is_ones(b) or _is_ones(row):
        return [apply("sum", row if _is_ones(b) else b)], []
    for u, w in ((row, b), (b, row)):
        v = _numerator_over(w, u)
        if v is not None:
            return [apply("sum", v)], []
    return None


def _numerator_over(w: Expr, u: Expr) -> Expr | None:
    """v where w = v ./ u."""
    if w.op == "had":
        for v, q in (w.args, w.args[::-1]):
            if q.op == "pow" and q.args[0] is u and q.args[1].op == "num" and q.args[1].data == -1:
                return v
    return None


def distribute_before_ones(e: Expr):
    """(A - m*1')*1 = A*1 - N*m: distribute a sum that meets a ones vector when a term
    of the sum ends in a ones row (so vector(1)'*vector(1) = N can apply)."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 1):
        s, o = chain[i], chain[i + 1]
        if s.op == "add" and o.op == "fill":
            if any(_is_ones(_chain_parts(t)[2][-1]) if _chain_parts(t)[2] else False
                   for t in s.args):
                terms = [mul(t, o) for t in s.args]
                return _remake(coef, scalars, chain[:i] + [add(*terms)] + chain[i + 2:])
    return None


@adjacent
def mixed_product(p: Expr, q: Expr):
    """(A ⊗ B)(C ⊗ D) = AC ⊗ BD when the inner sizes fit."""
    if not (p.op == "kron" and q.op == "kron"):
        return None
    (a, b), (c, d) = p.args, q.args
    if a.cols == c.rows and b.cols == d.rows:
        return [kron(mul(a, c), mul(b, d))]
    return None


@adjacent
def kron_vec(k: Expr, v: Expr):
    """(B' ⊗ A)*vec(X) = vec(A*X*B): a Jacobian applied to a vec has a matrix form."""
    if not (k.op == "kron" and v.op == "vec"):
        return None
    (bt, a), x = k.args, v.args[0]
    if bt.cols == x.cols and a.cols == x.rows:
        return [apply("vec", mul(a, x, transpose(bt)))]
    return None


@adjacent
def commutation_vec(k: Expr, v: Expr):
    """K*vec(X) = vec(X') (the definition of the commutation matrix)."""
    if k.op == "comm" and v.op == "vec" and (v.args[0].rows, v.args[0].cols) == k.data:
        return [apply("vec", transpose(v.args[0]))]
    return None


@adjacent
def vec_inner_product(t: Expr, v: Expr):
    """vec(A)'*vec(B) = tr(A'*B)."""
    if not (t.op == "T" and t.args[0].op == "vec" and v.op == "vec"):
        return None
    a, b = t.args[0].args[0], v.args[0]
    if a.shape == b.shape:
        return [apply("tr", mul(transpose(a), b))], []
    return None


@adjacent
def diag_times_vector(d: Expr, w: Expr):
    """diag(v)*w = v .* w."""
    if d.op == "diagm" and w.cols == 1:
        return [hadamard(d.args[0], w)]
    return None


def distribute_coefficient(e: Expr):
    """c*(A + B) = c*A + c*B for a number c (textbook sums keep their coefficients)."""
    coef, scalars, chain = _chain_parts(e)
    if scalars or len(chain) != 1 or chain[0].op != "add" or coef == 1:
        return None
    return add(*(E.scale(coef, t) for t in chain[0].args))


def is_diagonal(e: Expr) -> bool:
    if e.op == "var":
        return "diagonal" in e.props or e.is_scalar
    if e.op in ("eye", "diagm", "num"):
        return True
    if e.op in ("inv", "T", "mpow"):
        return is_diagonal(e.args[0])
    if e.op in ("add", "had"):
        return all(is_diagonal(a) for a in e.args)
    if e.op == "mul":
        return all(is_diagonal(a) for a in e.args)
    return False


def diag_of_diagonal(e: Expr):
    """diag(diag(D)) = D for a diagonal D."""
    x = e.args[0]
    if x.op == "diagv" and is_diagonal(x.args[0]):
        return x.args[0]
    return None


def diag_of_outer(e: Expr):
    """diag(u*v') = u .* v."""
    x = e.args[0]
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    if len(chain) == 2 and chain[0].cols == 1 and chain[1].rows == 1:
        return _remake(coef, scalars, [hadamard(chain[0], transpose(chain[1]))])
    return None


def diag_with_ones(e: Expr):
    """diag(matrix(1)*M) = M'*vector(1) (column sums), diag(M*matrix(1)) = M*vector(1)
    (row sums); a sum with such a term is split first (diag is linear)."""
    x = e.args[0]
    if x.op == "add" and any(_ones_at_an_end(t) for t in x.args):
        return add(*(apply("diag", t) for t in x.args))
    if not _ones_at_an_end(x):
        return None
    coef, scalars, chain = _chain_parts(x)
    if _is_ones(chain[0]):
        rest = mul(*chain[1:])
        return _remake(coef, scalars, [transpose(rest), fill(1, (rest.rows, 1))])
    rest = mul(*chain[:-1])
    return _remake(coef, scalars, [rest, fill(1, (rest.cols, 1))])


def _ones_at_an_end(x: Expr) -> bool:
    chain = _chain_parts(x)[2] if x.op == "mul" else []
    return len(chain) >= 2 and (_is_ones(chain[0]) or _is_ones(chain[-1]))


@adjacent
def diag_product(p: Expr, q: Expr):
    """diag(a)*diag(b) = diag(a .* b)."""
    if p.op == "diagm" and q.op == "diagm":
        return [apply("diag", hadamard(p.args[0], q.args[0]))]
    return None


def vec_hadamard(e: Expr):
    """vec(A) .* vec(B) = vec(A .* B), wherever the two stand in a chain of elementwise
    products (so the chain's order cannot decide whether they meet)."""
    leaves = _had_leaves(e)
    shapes = [b.args[0].shape for b, _ in leaves if b.op == "vec"]
    shape = next((sh for sh in shapes if shapes.count(sh) > 1), None)
    if shape is None:
        return None
    inside = [power(b.args[0], num(k)) for b, k in leaves
              if b.op == "vec" and b.args[0].shape == shape]
    out = apply("vec", functools.reduce(hadamard, inside))
    for b, k in leaves:
        if not (b.op == "vec" and b.args[0].shape == shape):
            out = hadamard(out, power(b, num(k)))
    return out


def trace_of_ones_product(e: Expr):
    """tr(matrix(1)*X) = tr(X*matrix(1)) = sum(X)."""
    x = e.args[0]
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    if len(chain) == 2:
        for i in (0, 1):
            if _is_ones(chain[i]):
                return _remake(coef, scalars, [apply("sum", chain[1 - i])])
    return None


# --- traces ---------------------------------------------------------------------------------

#: The Fréchet derivatives whose adjoint is the same derivative at X' (Higham 2008, §3.6).
_SELF_ADJOINT_FRECHET = ("expm_frechet", "logm_frechet")


def trace_through_frechet(e: Expr):
    """tr(P*L_f(Y, G)) = tr(L_f(Y', P')'*G), taken where L_f(Y', P') folds because P'
    commutes with Y': the gradient of x'*expm(A*t)*x0 in t is x'*A*expm(A*t)*x0, not
    tr(A'*expm_frechet(t*A', x*x0'))."""
    x = e.args[0]
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    if len(chain) != 2:
        return None
    for p, frechet in (chain, chain[::-1]):
        if frechet.op in _SELF_ADJOINT_FRECHET and len(frechet.args) == 2:
            y, g = frechet.args
            if ops.commutes(E, transpose(y), transpose(p)):
                swapped = E.apply(frechet.op, transpose(y), transpose(p))
                return _remake(coef, scalars, [apply("tr", mul(transpose(swapped), g))])
    return None


def trace_cyclic_to_scalar(e: Expr):
    """tr(A*u*v') = v'*A*u: rotate the product so a column vector closes it (shorter)."""
    x = e.args[0]
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    for k, f in enumerate(chain[:-1]):
        if f.cols == 1 and f.rows != 1:
            rotated = chain[k + 1:] + chain[:k + 1]
            return _remake(coef, scalars, rotated)
    return None


def trace_of_sum(e: Expr):
    """tr(A + B) = tr(A) + tr(B)."""
    x = e.args[0]
    if x.op != "add":
        return None
    return add(*(apply("tr", t) for t in x.args))


def sum_of_sum(e: Expr):
    """sum(A + B) = sum(A) + sum(B) where the sum of a term is known without its entries
    (sum(x - sum(x)/n*vector(1)) = 0, sum(softmax(z)) = 1); else sum(A + B) stays one."""
    x = e.args[0]
    if x.op != "add":
        return None
    if all(apply("sum", mul(*_chain_parts(t)[2])).op == "sum" for t in x.args):
        return None
    return add(*(apply("sum", t) for t in x.args))


def trace_pull_scalars(e: Expr):
    """tr(c*A) = c*tr(A)."""
    x = e.args[0]
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    if coef == 1 and not scalars:
        return None
    return _remake(coef, scalars, [apply("tr", mul(*chain))])


# --- sums -------------------------------------------------------------------------------------

def collect_like_terms(e: Expr):
    """a*X + b*X = (a + b)*X, exact rational coefficients."""
    seen: dict = {}
    order = []
    for t in e.args:
        c, rest = coefficient(t)
        if rest in seen:
            seen[rest] += c
        else:
            seen[rest] = c
            order.append(rest)
    if len(order) == len(e.args):
        return None
    return add(*[E.scale(seen[r], r) for r in order if seen[r] != 0]) if any(
        seen[r] != 0 for r in order) else E.zeros(e.shape)


def _split_last(t: Expr):
    coef, scalars, chain = _chain_parts(t)
    if len(chain) < 2:
        return None
    return chain[-1], _remake(coef, scalars, chain[:-1])


def _split_first(t: Expr):
    coef, scalars, chain = _chain_parts(t)
    if len(chain) < 2:
        return None
    return chain[0], _remake(coef, scalars, chain[1:])


def kron_distributive(e: Expr):
    """A ⊗ B + A ⊗ C = A ⊗ (B + C), and B ⊗ A + C ⊗ A = (B + C) ⊗ A."""
    for side in (0, 1):
        groups: dict = {}
        for t in e.args:
            if t.op == "kron":
                groups.setdefault(t.args[side], []).append(t)
        for common, terms in groups.items():
            if len(terms) < 2:
                continue
            inner = add(*(t.args[1 - side] for t in terms))
            merged = kron(common, inner) if side == 0 else kron(inner, common)
            used = {id(t) for t in terms}
            others = [t for t in e.args if id(t) not in used]
            return add(merged, *others) if others else merged
    return None


def power_of_diagonal(e: Expr):
    """diag(u)^k = diag(u.^k)."""
    x = e.args[0]
    if x.op == "diagm":
        return apply("diag", power(x.args[0], num(e.data)))
    return None


def sum_of_diagonals(e: Expr):
    """diag(a) - diag(b) = diag(a - b): the diagonal matrices of a sum merged."""
    diagonal, others = [], []
    for t in e.args:
        coef, scalars, chain = _chain_parts(t)
        if len(chain) == 1 and chain[0].op == "diagm":
            diagonal.append(_remake(coef, scalars, [chain[0].args[0]]))
        else:
            others.append(t)
    if len(diagonal) < 2:
        return None
    return add(apply("diag", add(*diagonal)), *others)


def kron_absorbs_identity(e: Expr):
    """I ⊗ M + c*I = I ⊗ (M + c*I) and M ⊗ I + c*I = (M + c*I) ⊗ I, reading the larger
    identity as a Kronecker product of identities (the multi-output ridge system
    eye(p) ⊗ (A'*A) + c*eye(m*p), which then inverts and contracts to a matrix form)."""
    eyes = [t for t in e.args if [f.op for f in _chain_parts(t)[2]] == ["eye"]]
    krons = [(k, side) for k in e.args if k.op == "kron" for side in (0, 1)
             if k.args[side].op == "eye"]
    if len(eyes) != 1 or len(krons) != 1:     # one reading only: term order cannot matter
        return None
    (k, side), t = krons[0], eyes[0]
    coef, scalars, chain = _chain_parts(t)
    if not E.same_dim(chain[0].rows, k.rows):
        return None
    other = k.args[1 - side]
    inner = add(other, _remake(coef, scalars, [eye(other.rows)]))
    merged = kron(k.args[0], inner) if side == 0 else kron(inner, k.args[1])
    return add(merged, *(u for u in e.args if u is not k and u is not t))


def _factor_common(e: Expr, vectors_only: bool):
    """Terms sharing a last (or first) chain factor are merged: A*X + B*X = (A + B)*X."""
    for split, side in ((_split_last, "right"), (_split_first, "left")):
        groups: dict = {}
        for t in e.args:
            s = split(t)
            if s is None:
                continue
            f, rest = s
            # a common vector, or any common factor of vector parts (X'*u + X'*v)
            if not vectors_only or coefficient(rest)[1].op == "diagm" or (
                    (f.cols == 1 or rest.rows == 1) if side == "right"
                    else (f.rows == 1 or rest.cols == 1)):
                groups.setdefault(f, []).append((t, rest))
        for f, items in groups.items():
            if len(items) < 2:
                continue
            merged = add(*(r for _, r in items))
            new = mul(merged, f) if side == "right" else mul(f, merged)
            used = {id(t) for t, _ in items}
            others = [t for t in e.args if id(t) not in used]
            return add(new, *others) if others else new
    return None


def factor_common_vector(e: Expr):
    """A*x + B*x = (A + B)*x for a common column vector x (and x'*A + x'*B = x'*(A + B)),
    M*u + M*v = M*(u + v) for vectors u, v (a gradient X'*a - X'*b), and
    diag(u)*M + diag(v)*M = (diag(u) + diag(v))*M, which merges to diag(u + v)*M."""
    return _factor_common(e, vectors_only=True)


def factor_common_scalar(e: Expr):
    """c*A + c*B = c*(A + B) for a scalar factor c (not a number) of every term, with a
    number that every term shares (2*c*A + 2*c*B = 2*c*(A + B))."""
    parts = [_chain_parts(t) for t in e.args]
    counts = [Counter(map(id, p[1])) for p in parts]
    common = []
    for f in parts[0][1]:       # with multiplicity: s*s*B + s*A shares one s
        if all(c[id(f)] > 0 for c in counts):
            common.append(f)
            for c in counts:
                c[id(f)] -= 1
    if not common:
        return None
    shared = parts[0][0] if all(p[0] == parts[0][0] for p in parts) else 1
    rest = []
    for coef, scalars, chain in parts:
        left = list(scalars)
        for c in common:
            left.remove(c)
        rest.append(_remake(coef / shared, left, chain))
    return mul(num(shared), *common, add(*rest))


def _leafish(t: Expr) -> bool:
    t = coefficient(t)[1]
    return not t.args or (t.op == "T" and not t.args[0].args)


def sort_terms(e: Expr):
    """A canonical order of the terms of a sum: positive terms first, products before
    plain symbols (W*x + b, A*x - b), then structurally."""
    key = [(bool(coefficient(t)[0] < 0), _leafish(t), t.sort_key()) for t in e.args]
    order = sorted(range(len(e.args)), key=lambda i: key[i])
    if order == list(range(len(e.args))):
        return None
    return Expr("add", tuple(e.args[i] for i in order), None, e.shape)


# --- elementwise ---------------------------------------------------------------------------------

#: Largest elementwise subtree (nodes) handed to the rational normal form, its most
#: atoms and the largest total degree of its numerator and denominator before expansion:
#: ``cancel`` multiplies out, and (a + b + ... )^k with many atoms grows without bound.
MAX_RATIONAL_NODES = 60
MAX_RATIONAL_ATOMS = 8
MAX_RATIONAL_DEGREE = 8


def _sympy():
    """SymPy, imported where an elementwise expression has a division to cancel, not
    with mdiff (start-up: issue 19)."""
    import sympy
    return sympy


def _occurrences(r) -> int:
    """How many atoms (with repetition) ``r`` is written with."""
    sp = _sympy()
    return sum(1 for a in sp.preorder_traversal(r) if a.is_Symbol)


def _degree(r) -> int:
    """An upper bound of the total degree of ``r`` written over one denominator."""
    if r.is_Atom:
        return 0 if r.is_Number else 1
    if r.is_Pow:
        return _degree(r.base) * max(1, abs(int(r.exp)))
    if r.is_Mul or r.is_Add:
        return sum(_degree(a) for a in r.args)     # a sum over one denominator: at most
    return 1


def _rational_parts(e: Expr, shape, atoms: dict, budget: list):
    """``e`` as a SymPy rational function of atoms (non-elementwise subexpressions and
    scalars, each a symbol), over entries of arrays of ``shape``; None past the budget."""
    sp = _sympy()
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if e.op == "fill" and e.shape == shape:
        return sp.Rational(e.data)
    if e.op == "num":
        return sp.Rational(e.data)
    if e.shape == shape or e.is_scalar:
        if e.op == "had":
            parts = [_rational_parts(a, shape, atoms, budget) for a in e.args]
            return None if None in parts else sp.Mul(*parts)
        if e.op == "add":
            parts = [_rational_parts(a, shape, atoms, budget) for a in e.args]
            return None if None in parts else sp.Add(*parts)
        if e.op == "pow" and e.args[1].op == "num" and E.is_whole(e.args[1].data):
            base = _rational_parts(e.args[0], shape, atoms, budget)
            return None if base is None else base ** int(e.args[1].data)
        if e.op == "sqrt":      # sqrt(u)^2 = u where sqrt(u) is a value
            base = _rational_parts(e.args[0], shape, atoms, budget)
            return None if base is None else sp.sqrt(base)
        if e.op == "mul":
            coef, scalars, chain = _chain_parts(e)
            if len(chain) <= 1 and (scalars or coef != 1):
                parts = [_rational_parts(f, shape, atoms, budget) for f in scalars + chain]
                return None if None in parts else sp.Rational(coef) * sp.Mul(*parts)
    key = id(e)
    if key not in atoms:
        atoms[key] = (sp.Symbol(f"a{len(atoms)}", commutative=True), e)
    return atoms[key][0]


def _from_rational(r, shape, by_symbol: dict) -> Expr:
    """The mdiff node of a SymPy rational function of atoms, entrywise over ``shape``
    (a part whose atoms are all scalars is a scalar, broadcast where it meets arrays)."""
    sp = _sympy()
    if r.free_symbols and all(by_symbol[a].is_scalar for a in r.free_symbols):
        shape = (1, 1)
    if r.is_Number:
        return fill(sp.Rational(r), shape) if shape != (1, 1) else num(sp.Rational(r))
    if r.is_Symbol:
        return by_symbol[r]
    if r.is_Add:
        terms = [_from_rational(t, shape, by_symbol) for t in r.args]
        return add(*(mul(t, fill(1, shape)) if t.is_scalar and shape != (1, 1) else t
                     for t in terms))
    if r.is_Pow:
        base = _from_rational(r.base, shape, by_symbol)
        if r.exp == sp.Rational(1, 2):
            return apply("sqrt", base)
        return power(base, num(sp.Rational(r.exp)))
    if r.is_Mul:
        coef, factors = r.as_coeff_mul()
        nodes = [_from_rational(f, shape, by_symbol) for f in factors]
        arrays = [n for n in nodes if not n.is_scalar]
        scalars = [n for n in nodes if n.is_scalar]
        body = arrays[0] if arrays else None
        for a in arrays[1:]:
            body = hadamard(body, a)
        out = mul(num(sp.Rational(coef)), *scalars, *([body] if body is not None else []))
        return out if body is not None or shape == (1, 1) else mul(out, fill(1, shape))
    raise ValueError(f"not a rational function: {r}")


def _has_division(e: Expr, shape) -> bool:
    """A negative power inside the elementwise part of ``e`` (not below its atoms: a
    deep network's gradient has one elementwise layer per node, looked at once)."""
    stack, seen = [e], 0
    while stack and seen < MAX_RATIONAL_NODES:
        n = stack.pop()
        seen += 1
        if n.op == "pow" and n.shape == shape and n.args[1].op == "num" and n.args[1].data < 0:
            return True
        if n.op in ("had", "add", "pow") or (n.op == "mul" and n.shape == shape):
            stack.extend(n.args)
    return False


@functools.lru_cache(maxsize=4096)      # nodes are interned: passes and derivatives share it
def elementwise_rational(e: Expr):
    """An elementwise expression with a division, as a rational function of its atoms
    put over one denominator and cancelled (SymPy's ``cancel``), where that prints
    shorter: p .* (-(y ./ p) - (y - 1) ./ (1 - p)) .* (1 - p) = p - y (the binary
    cross-entropy's gradient)."""
    if e.is_scalar or not _has_division(e, e.shape):
        return None
    atoms: dict = {}
    r = _rational_parts(e, e.shape, atoms, [MAX_RATIONAL_NODES])
    if r is None:
        return None
    if len(atoms) > MAX_RATIONAL_ATOMS:
        return None
    sp = _sympy()
    by_symbol = {sym: node for sym, node in atoms.values()}
    # cancel expands numerator and denominator, so only where their degree is small;
    # where it does not shorten, together puts the terms over one denominator without
    # expanding (1/sqrt(u) - v/sqrt(u)^3 = (u - v)/u^(3/2), kept whole)
    cancelled = sp.cancel(r) if _degree(r) <= MAX_RATIONAL_DEGREE else r
    if _occurrences(cancelled) >= _occurrences(r):
        cancelled = sp.together(r)
    if _occurrences(cancelled) >= _occurrences(r):
        return None     # nothing cancelled: the other rules keep their own order
    try:
        out = _from_rational(cancelled, e.shape, by_symbol)
    except (ValueError, TypeError):
        return None
    if out.is_scalar:       # a constant or scalar result still fills e's shape
        out = mul(out, fill(1, e.shape))
    if out is e or len(str(out)) >= len(str(e)):
        return None
    return out


def _shared_coefficient(x: Expr):
    """(c, x/c) for the largest number c != 1 that divides every coefficient of the sum
    ``x`` into integers (1/2*A - 3/2*B = 1/2*(A - 3*B); negative where every term is),
    else None."""
    if x.op != "add":
        return None
    coefs = [coefficient(t)[0] for t in x.args]
    shared = Fraction(math.gcd(*(c.numerator for c in coefs)),
                      math.lcm(*(c.denominator for c in coefs)))
    if all(c < 0 for c in coefs):
        shared = -shared
    if shared == 1:
        return None
    return shared, add(*(E.scale(c / shared, coefficient(t)[1]) for c, t in zip(coefs, x.args)))


def _strip_coef(x: Expr):
    """(coefficient, scalar factors or None, the rest) of a Hadamard operand."""
    shared = _shared_coefficient(x)
    if shared is not None:      # (1/2*A - 1/2*B) .* C = 1/2*((A - B) .* C)
        return shared[0], None, shared[1]
    c, rest = coefficient(x)
    if x.op == "mul":
        coef, scalars, chain = _chain_parts(x)
        if scalars and chain:
            return coef, mul(*scalars), mul(*chain)
    return c, None, rest


def hadamard_pull_scalars(e: Expr):
    """(c*A) .* B = c*(A .* B) for any scalar c (one canonical place for scalars, so
    the order of the operands cannot matter); A .* (s*matrix(1)) = s*A."""
    a, b = e.args
    ca, sa, ra = _strip_coef(a)
    cb, sb, rb = _strip_coef(b)
    if ca == 1 and cb == 1 and sa is None and sb is None:
        return None
    s = [x for x in (sa, sb) if x is not None]
    return mul(num(ca * cb), *s, hadamard(ra, rb))


def hadamard_powers(e: Expr):
    """X.^a .* X.^b = X.^(a+b) (and X .* X = X.^2)."""
    (ba, ka), (bb, kb) = (_base_exponent(x) for x in e.args)
    if ba is not bb or ba.op == "had":     # a product's factors are collected one by one
        return None
    return power(ba, num(ka + kb))


def _had_key(x: Expr):
    """Order of elementwise factors: sums last (y.^2 .* s .* (1 - s)); among alike
    factors the taller first, so the backward sweep of a chain of elementwise functions
    (each step multiplies by a shallower factor) appends to a shared prefix instead of
    rebuilding the chain at every step (k^2 nodes for k steps)."""
    head, children, shape, digest = x.sort_key()
    return (x.op == "add", head, -x.height, children, shape, digest)


@functools.lru_cache(maxsize=1024)
def _had_leaves(e: Expr) -> tuple:
    """(base, exponent) of each elementwise factor; an integer power of a Hadamard
    product counts as powers of its factors ((a .* b).^2 = a.^2 .* b.^2).  Remembered:
    two rules read it for every node of a chain."""
    stack, out = [(e, Fraction(1))], []
    while stack:
        x, k = stack.pop()
        b, j = _base_exponent(x)
        if b.op == "had" and j.denominator == 1:
            stack.extend((a, k * j) for a in reversed(b.args))
        else:
            out.append((b, k * j))
    E.charge_work(len(out))     # called on every level of a long chain
    return tuple(out)


def _leads_negative(x: Expr) -> bool:
    first = x.args[0] if x.op == "add" else x
    coef = mul_parts(first)[0] if first.op in ("mul", "num") else 1
    return bool(coef < 0) or (first.op == "fill" and first.data < 0)




def hadamard_collect(e: Expr):
    """Products of several elementwise factors in one order, equal bases as powers:
    y .* (s .* y) = y.^2 .* s (Hadamard products are associative and commutative)."""
    powers: dict = {}
    order = []
    for b, k in _had_leaves(e):
        if b not in powers:
            powers[b] = 0
            order.append(b)
        powers[b] += k
    # b and -b (a negated sum is distributed: -(x.^2 + 1) is -x.^2 - 1) are one base:
    # (-b).^k = (-1)^k b.^k for an integer k; the base kept is the one whose first term
    # is not negated (x.^2 + 1, whichever of the two the input had), so only bases that
    # lead with a negated term are looked at
    negative = False
    for b in [b for b in order if _leads_negative(b)]:     # only these can be dropped
        nb = E.add(*(E.neg(t) for t in b.args)) if b.op == "add" else E.neg(b)
        if nb is b or nb not in powers or not powers[b] or not powers[nb] \
                or _leads_negative(nb):
            continue
        if not (E.is_whole(powers[b]) and E.is_whole(powers[nb])):
            continue
        negative ^= bool(int(powers[b]) % 2)
        powers[nb] += powers[b]
        powers[b] = 0
    factors = sorted((b if powers[b] == 1 else power(b, num(powers[b]))
                      for b in order if powers[b] != 0), key=_had_key)
    if not factors:
        return E.neg(E.ones(e.shape)) if negative else E.ones(e.shape)
    if negative:
        factors[0] = E.neg(factors[0])
    out = factors[0]
    for x in factors[1:]:
        out = hadamard(out, x)
    return None if out is e else out


def sigmoid_form(e: Expr):
    """exp(z) .* (1 + exp(z)).^(-1) = sigmoid(z), and exp(z) .* sigmoid(-z) = sigmoid(z)."""
    a, b = e.args
    for x, y in ((a, b), (b, a)):
        if x.op == "exp" and y.op == "sigmoid" and y.args[0] is E.neg(x.args[0]):
            return apply("sigmoid", x.args[0])
        if x.op == "exp" and y.op == "pow" and y.args[1].op == "num" and y.args[1].data == -1:
            base = y.args[0]
            if base.op == "add" and len(base.args) == 2 and x in base.args:
                other = base.args[0] if base.args[1] is x else base.args[1]
                if other.op == "fill" and other.data == 1:
                    return apply("sigmoid", x.args[0])
    return None


def scalar_sigmoid_form(e: Expr):
    """exp(t)*sigmoid(-t) = sigmoid(t) among a product's scalar factors (exp(t) overflows
    where sigmoid(-t) underflows: inf*0)."""
    coef, scalars, chain = _chain_parts(e)
    for i, x in enumerate(scalars):
        if x.op != "exp":
            continue
        for j, y in enumerate(scalars):
            if y.op == "sigmoid" and y.args[0] is E.neg(x.args[0]):
                rest = [f for k, f in enumerate(scalars) if k not in (i, j)]
                return _remake(coef, rest + [apply("sigmoid", x.args[0])], chain)
    return None


def reciprocal_sigmoid(e: Expr):
    """(1 + exp(-z)).^(-1) = sigmoid(z)."""
    base, p = e.args
    if not (p.op == "num" and p.data == -1 and base.op == "add" and len(base.args) == 2):
        return None
    one = [t for t in base.args if t.op in ("fill", "num") and t.data == 1]
    ex = [t for t in base.args if t.op == "exp"]
    if one and ex:
        return apply("sigmoid", E.neg(ex[0].args[0]))
    return None


# --- vec / unvec ------------------------------------------------------------------------------------

def linear_pull_scalars(e: Expr):
    """vec, diag and transposes are linear: f(c*A) = c*f(A); diag(A') = diag(A)."""
    x = e.args[0]
    if e.op == "diagv" and x.op == "T":
        return apply("diag", x.args[0])
    if x.op == "add":       # f(c*A + c*B) = c*f(A + B): a number every term shares
        shared = _shared_coefficient(x)
        if shared is None:
            return None
        c, inner = shared
        return E.scale(c, apply("diag", inner) if e.op in ("diagm", "diagv")
                       else apply(e.op, inner))
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    if not chain or (coef == 1 and not scalars):
        return None
    inner = mul(*chain)
    return _remake(coef, scalars, [apply("diag", inner) if e.op in ("diagm", "diagv")
                                   else apply(e.op, inner)])


def unvec_linear(e: Expr):
    """unvec is linear: unvec(a*u + b*v) = a*unvec(u) + b*unvec(v)."""
    v = e.args[0]
    if v.op == "add":
        return add(*(E.unvec(t, e.shape) for t in v.args))
    if v.op == "mul":
        coef, scalars, chain = _chain_parts(v)
        if len(chain) == 1 and (coef != 1 or scalars):
            return _remake(coef, scalars, [E.unvec(chain[0], e.shape)])
    return None


def pull_sum_coefficient(e: Expr):
    """2*(1/2*A - 3/2*B)*C = (A - 3*B)*C: the number every term of a sum factor shares
    (``_shared_coefficient``) moves to a longer product (a lone c*(B + C) keeps its
    numbers distributed)."""
    coef, scalars, chain = _chain_parts(e)
    if len(chain) < 2 and not scalars:
        return None
    for i, f in enumerate(chain):
        shared = _shared_coefficient(f)
        if shared is not None:
            return _remake(coef * shared[0], scalars, chain[:i] + [shared[1]] + chain[i + 1:])
    return None


def factor_common_matrix(e: Expr):
    """A*X + B*X = (A + B)*X for any common last (or first) factor (solutions only)."""
    return _factor_common(e, vectors_only=False)


FACTORING = Identity("common matrix factor", "A*X + B*X = (A + B)*X", "algebra", "add",
                     factor_common_matrix, "A*X + B*X")


#: The identity catalogue: one named line per identity, with its source.  A local
#: identity is a ``pattern`` in mdiff's notation (``rules.py``); an n-ary or cost-guarded
#: one is a rule function above.  Order is semantics: for each op the first identity
#: that matches a node rewrites it, and the node is simplified again, so an identity
#: listed before another for the same op wins where both match (the transpose and
#: inverse identities come first, before products are merged; like terms are
#: collected before a common factor is pulled out; the canonical term order is last
#: among the sums).
IDENTITIES = [
    Identity("transpose of a product", "(A*B)' = B'*A'", "Cookbook (5)", "T",
             transpose_of_product, "(A*B)'"),
    Identity("transpose of a sum of transposes", "(A' + B')' = A + B", "Cookbook (4)", "T",
             transpose_of_sum_of_transposes, "(A' + B')'"),
    pattern("transpose of a Kronecker product", "(A ⊗ B)' = A' ⊗ B'", "Cookbook (507)", "T"),
    pattern("inverse of a transpose", "inv(X') = inv(X)'", "Cookbook (3)", "inv"),
    pattern("hyperbolic tangent", "sinh(X) .* cosh(X).^(-1) = tanh(X)", "definition", "had"),
    Identity("powers of a scalar", "s^a*s^b = s^(a+b)", "algebra", "mul",
             combine_scalar_powers, "det(X)*inv(X)/det(X)"),
    Identity("distribute a number", "c*(A + B) = c*A + c*B", "algebra", "mul",
             distribute_coefficient, "2*(A + B)"),
    Identity("matrix powers", "X^a*X^b = X^(a+b), inv(X)*X = I", "Cookbook (1)", "mul",
             merge_matrix_powers, "X: matrix(n,n); X^2*X*inv(X)'*X'"),
    Identity("orthonormal columns", "Q'*Q = I (and Q*Q' = I for a square Q) for Q = eigvecs(X), "
             "svdu(X), svdv(X)", "definition", "mul", orthonormal_columns,
             "svdu(X)'*svdu(X)*A"),
    Identity("spectral theorem", "eigvecs(X)*diag(f(eigvals(X)))*eigvecs(X)' = f(S), "
             "S = (X + X')/2, f a power, exp, log or sqrt", "Magnus & Neudecker 2019, ch. 1",
             "mul", spectral_theorem, "A*eigvecs(X)*diag(eigvals(X).^(-2))*eigvecs(X)'"),
    Identity("diagonal embedding", "D'*(P ⊗ Q)*D = Q .* P for D = diag(vec(I))*(1 ⊗ I)",
             "Magnus & Neudecker 2019, ch. 3", "mul", diagonal_embedding,
             "A: matrix(n,n); B: matrix(n,n); (vector(1, n)' ⊗ eye(n))*diag(vec(eye(n)))*"
             "(A ⊗ B)*diag(vec(eye(n)))*(vector(1, n) ⊗ eye(n))"),
    Identity("commuted Kronecker product", "K(p,m)*(A ⊗ B)*K(n,q) = B ⊗ A",
             "Magnus & Neudecker 2019, ch. 3", "mul", commuted_kronecker,
             "A: matrix(m,n); B: matrix(p,q); commutation(p, m)*(A ⊗ B)*commutation(n, q)"),
    Identity("commutation and duplication", "K*D = D, (I + K)*D = 2*D, D'*K = D'",
             "Magnus & Neudecker 2019, ch. 3, §8", "mul", commutation_duplication,
             "(eye(n^2) + commutation(n, n))*duplication(n)"),
    Identity("inverse of a scaled matrix", "inv(c*A) = inv(A)/c", "Cookbook (1)", "inv",
             inverse_of_scaled, "inv(2*A)"),
    pattern("inverse of a Kronecker product", "inv(A ⊗ B) = inv(A) ⊗ inv(B)", "Cookbook (509)",
            "inv", declarations="A: matrix(n,n); B: matrix(m,m)"),
    Identity("inverse of a power", "inv(X^k) = inv(X)^k", "Cookbook (1)", "inv",
             inverse_of_power, "inv(X^3)"),
    Identity("diagonal of a diagonal", "diag(diag(D)) = D for diagonal D", "definition", "diagm",
             diag_of_diagonal, "L: matrix(n,n) diagonal; diag(diag(inv(L)))"),
    Identity("diagonal of an outer product", "diag(u*v') = u .* v", "definition", "diagv",
             diag_of_outer, "diag(u*v')"),
    Identity("diagonal with ones", "diag(matrix(1)*M) = M'*vector(1), diag(M*matrix(1)) = M*vector(1)",
             "definition", "diagv", diag_with_ones,
             "x: vector(n); A: matrix(n,n); diag(matrix(1)*diag(x)*A' + A'*diag(x)*matrix(1))"),
    Identity("product of diagonals", "diag(a)*diag(b) = diag(a .* b)", "definition", "mul",
             diag_product, "diag(u)*diag(v)"),
    Identity("vec of a Hadamard product", "vec(A) .* vec(B) = vec(A .* B)", "definition", "had",
             vec_hadamard, "vec(A) .* vec(B)"),
    pattern("vec of an elementwise power", "vec(A).^c = vec(A.^c)", "definition", "pow",
            where=lambda b: b["c"].op == "num", example="vec(A).^3"),
    Identity("trace of ones", "tr(matrix(1)*X) = sum(X)", "definition", "tr",
             trace_of_ones_product, "X: matrix(n,m); tr(matrix(1)*X)"),
    Identity("common coefficient of a sum factor", "2*(1/2*A - 1/2*B)*C = (A - B)*C",
             "algebra", "mul", pull_sum_coefficient, "2*(1/2*A - 1/2*B)*C"),
    Identity("ones times ones", "vector(1)'*vector(1) = N", "definition", "mul",
             ones_product, "x: vector(N); vector(1)'*vector(1)*x"),
    Identity("sum as an inner product", "u'*vector(1) = sum(u), u'*(v ./ u) = sum(v)",
             "definition", "mul", sum_as_inner_product,
             "u: vector(n); v: vector(n); A: matrix(n,n); A*u*u'*vector(1) + A*u*(v ./ u)'*u"),
    Identity("distribute before ones", "(A - m*vector(1)')*vector(1) = A*vector(1) - N*m",
             "algebra", "mul", distribute_before_ones,
             "D: matrix(p,N); m: vector(p); (D - m*vector(1)')*vector(1)"),
    Identity("mixed product", "(A ⊗ B)*(C ⊗ D) = (A*C) ⊗ (B*D)", "Cookbook (508)", "mul",
             mixed_product, "A: matrix(n,n); B: matrix(m,m); C: matrix(n,n); D: matrix(m,m); (A ⊗ B)*(C ⊗ D)"),
    Identity("vec of a product", "(B' ⊗ A)*vec(X) = vec(A*X*B)", "Cookbook (520)", "mul",
             kron_vec, "A: matrix(n,n); B: matrix(m,m); X: matrix(n,m); (B' ⊗ A)*vec(X)"),
    Identity("commutation", "K*vec(X) = vec(X')", "Magnus–Neudecker ch. 3, §7", "mul",
             commutation_vec, ""),
    Identity("vec inner product", "vec(A)'*vec(B) = tr(A'*B)", "Cookbook (521)", "mul",
             vec_inner_product, "vec(A)'*vec(B)"),
    Identity("diagonal times vector", "diag(v)*w = v .* w", "definition", "mul",
             diag_times_vector, "diag(v)*w"),
    Identity("trace through a Fréchet derivative", "tr(P*L(Y, G)) = tr(L(Y', P')'*G)",
             "Higham 2008, §3.6", "tr", trace_through_frechet,
             "t: scalar; tr(A'*expm_frechet(t*A', B))"),
    Identity("cyclic trace to a scalar", "tr(A*u*v') = v'*A*u", "Cookbook (16)", "tr",
             trace_cyclic_to_scalar, "tr(A*u*v')"),
    Identity("trace of a sum", "tr(A + B) = tr(A) + tr(B)", "Cookbook (14)", "tr",
             trace_of_sum, "tr(A + B)"),
    Identity("sum of a sum", "sum(A + B) = sum(A) + sum(B), where a term's sum is known",
             "linearity", "sum", sum_of_sum, "x: vector(n); sum(x - sum(x)/n*vector(1))"),
    Identity("trace of a scaled matrix", "tr(c*A) = c*tr(A)", "linearity", "tr",
             trace_pull_scalars, "tr(c*A)"),
    Identity("sum distributed to meet like terms", "(A + B)' + C = A' + B' + C, s*(A + B) + "
             "C = s*A + s*B + C, where a term meets a like one of C", "Cookbook (4)", "add",
             distribute_to_meet_like_terms,
             "x: vector(n); t: scalar; (t*A*x + B*x)' - t*x'*A'"),
    Identity("like terms", "a*X + b*X = (a + b)*X", "algebra", "add",
             collect_like_terms, "2*A + 3*A - A"),
    Identity("power of a diagonal matrix", "diag(u)^k = diag(u.^k)", "definition", "mpow",
             power_of_diagonal, "u: vector(n); diag(u)^3"),
    Identity("sum of diagonal matrices", "diag(a) - diag(b) = diag(a - b)", "linearity",
             "add", sum_of_diagonals, "a: vector(n); b: vector(n); diag(a) - 2*diag(b)"),
    Identity("identity as a Kronecker product", "I ⊗ M + c*I = I ⊗ (M + c*I)",
             "Cookbook (503)", "add", kron_absorbs_identity,
             "M: matrix(m,m); eye(p) ⊗ M + c*eye(m*p)"),
    Identity("Kronecker distributive", "A ⊗ B + A ⊗ C = A ⊗ (B + C)", "Cookbook (503)", "add",
             kron_distributive, "A ⊗ B + A ⊗ C"),
    Identity("common scalar factor", "c*A + c*B = c*(A + B)", "algebra", "add",
             factor_common_scalar, "c*A + c*B"),
    Identity("common vector factor", "A*x + B*x = (A + B)*x", "algebra", "add",
             factor_common_vector, "A*x + B*x"),
    Identity("canonical term order", "sums in one order", "convention", "add",
             sort_terms, "B + A"),
    Identity("elementwise rational normal form", "p .* (a ./ p) = a, cancelled over one "
             "denominator", "algebra", "had", elementwise_rational,
             "p: vector(n); y: vector(n); p .* (-(y ./ p) - (y - 1) ./ (1 - p)) .* (1 - p)"),
    Identity("elementwise rational normal form", "a ./ p + b ./ p = (a + b) ./ p", "algebra",
             "add", elementwise_rational, "p: vector(n); y: vector(n); y ./ p - 1 ./ p"),
    Identity("scalars out of Hadamard", "(c*A) .* B = c*(A .* B)", "algebra", "had",
             hadamard_pull_scalars, "(c*A) .* B"),
    Identity("Hadamard powers", "X.^a .* X.^b = X.^(a+b)", "algebra", "had",
             hadamard_powers, "X .* X.^2"),
    Identity("Hadamard products collected",
             "A .* B = B .* A, (A .* B) .* C = A .* (B .* C), y .* y = y.^2",
             "Cookbook (517)-(518)", "had", hadamard_collect, "y .* (s .* y)"),
    Identity("logistic function of a scalar", "exp(t)*sigmoid(-t) = sigmoid(t)", "definition",
             "mul", scalar_sigmoid_form, "exp(a)*sigmoid(-a)*x"),
    Identity("logistic function", "exp(z) .* (1 + exp(z)).^(-1) = sigmoid(z)", "definition",
             "had", sigmoid_form, "exp(z) .* (1 + exp(z)).^(-1)"),
    Identity("logistic reciprocal", "(1 + exp(-z)).^(-1) = sigmoid(z)", "definition", "pow",
             reciprocal_sigmoid, "(1 + exp(-z)).^(-1)"),
    Identity("vec is linear", "vec(c*A) = c*vec(A)", "linearity", "vec",
             linear_pull_scalars, "vec(2*A)"),
    Identity("diag is linear", "diag(c*A) = c*diag(A); diag(A') = diag(A)", "linearity",
             "diagv", linear_pull_scalars, "X: matrix(n,n); diag(2*X')"),
    Identity("diag of a scaled vector", "diag(c*v) = c*diag(v)", "linearity", "diagm",
             linear_pull_scalars, "diag(2*v)"),
    Identity("unvec is linear", "unvec(a*u + b*v) = a*unvec(u) + b*unvec(v)", "linearity",
             "unvec", unvec_linear, ""),
]

def distribute_product(e: Expr):
    """A*(B + C)*D = A*B*D + A*C*D (expansion; used by the solver, not for printing)."""
    coef, scalars, chain = _chain_parts(e)
    for i, f in enumerate(chain):
        if f.op == "add" and len(chain) > 1:
            terms = [mul(*chain[:i], t, *chain[i + 1:]) for t in f.args]
            return _remake(coef, scalars, [add(*terms)])
    return None


EXPANSION = Identity("distribute a product", "A*(B + C)*D = A*B*D + A*C*D", "algebra", "mul",
                     distribute_product, "A*(B + C)")


def _by_op(identities) -> dict:
    table: dict[str, list] = {}
    for ident in identities:
        table.setdefault(ident.op, []).append(ident)
    return table


RULES_BY_OP = _by_op(IDENTITIES)
#: Expanded normal form (sums of products) for the solver: factoring rules left out.
EXPAND_RULES_BY_OP = _by_op(
    [i for i in IDENTITIES if i.rule not in (factor_common_vector, kron_distributive,
                                              factor_common_scalar)]
    + [EXPANSION])


#: Factored normal form for printing solutions: common matrix factors pulled out.
FACTOR_RULES_BY_OP = _by_op(IDENTITIES + [FACTORING])
