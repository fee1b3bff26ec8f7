"""The identity catalogue and the rewriting that applies it to a fixed point.

``IDENTITIES`` is the one table of named rewrite rules: each line gives the identity,
its source (Matrix Cookbook, Nov 2012, equation numbers; Magnus–Neudecker) and a
rule function that returns the rewritten node or ``None`` when it does not apply.
Every rule is checked numerically in the tests (lhs = rhs at random points) through
the ``example`` text it carries.

``simplify`` rewrites bottom-up: children first, then the rules of the node's op
until none applies.  A rewritten node is simplified again (its new children too),
with a global step budget so that no input can make it loop.  The constructors in
``expr.py`` already keep the light normal form (flat sums, exact coefficients,
no identity factors, no double transposes); the rules here add the identities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from . import expr as E
from .expr import (Expr, add, apply, coefficient, dim_scalar, eye, fill, hadamard, is_zero,
                   kron, mul, mul_parts, num, postorder, power, rebuild, transpose)

MAX_REWRITES = 20000


@dataclass(frozen=True)
class Identity:
    name: str
    statement: str
    source: str
    op: str                  # the op of the node the rule looks at
    rule: Callable           # Expr -> Expr | None
    example: str             # an input on which the rule fires (for the numeric tests)


# --- helpers ---------------------------------------------------------------------------

def _chain_parts(e: Expr):
    coef, scalars, chain = mul_parts(e)
    return coef, list(scalars), list(chain)


def _remake(coef, scalars, chain) -> Expr:
    return mul(num(coef), *scalars, *chain) if chain or scalars else num(coef)


def _is_ones(e: Expr) -> bool:
    return e.op == "fill" and e.data == 1


# --- transposes ---------------------------------------------------------------------------

def transpose_of_product(e: Expr):
    x = e.args[0]
    if x.op != "mul":
        return None
    coef, scalars, chain = _chain_parts(x)
    if not chain:
        return None
    return _remake(coef, scalars, [transpose(c) for c in reversed(chain)])


def transpose_of_kron(e: Expr):
    x = e.args[0]
    if x.op != "kron":
        return None
    return kron(transpose(x.args[0]), transpose(x.args[1]))


def inverse_of_transpose(e: Expr):
    x = e.args[0]
    if x.op != "T":
        return None
    return transpose(E.inv(x.args[0]))


def transpose_of_sum_of_transposes(e: Expr):
    """(A' + B')' = A + B: only when it removes every transpose (keeps (D - m*1')' whole)."""
    x = e.args[0]
    if x.op != "add":
        return None
    inner = [transpose(t) for t in x.args]
    if sum(t.op == "T" for t in inner) < sum(t.op == "T" for t in x.args) and \
            all(t.op != "T" for t in inner):
        return add(*inner)
    return None


# --- products ----------------------------------------------------------------------------

def _base_exponent(s: Expr):
    if s.op == "pow" and s.args[1].op == "num":
        return s.args[0], s.args[1].data
    return s, sp.Integer(1)


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
    if len(order) == len(scalars):
        return None
    new = [power(b, num(powers[b])) for b in order if powers[b] != 0]
    return _remake(coef, new, chain)


def ones_product(e: Expr):
    """matrix(a)*matrix(b) = N*a*b*matrix(1) over the inner size N: vector(1)'*vector(1) = N."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 1):
        a, b = chain[i], chain[i + 1]
        if a.op == "fill" and b.op == "fill":
            n = a.cols
            merged = fill(1, (a.rows, b.cols))
            extra = [dim_scalar(n)]
            c = coef * a.data * b.data
            return _remake(c, scalars + extra, chain[:i] + ([merged] if merged.op == "fill" else []) + chain[i + 2:])
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


def mixed_product(e: Expr):
    """(A ⊗ B)(C ⊗ D) = AC ⊗ BD when the inner sizes fit."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 1):
        p, q = chain[i], chain[i + 1]
        if p.op == "kron" and q.op == "kron":
            a, b = p.args
            c, d = q.args
            if a.cols == c.rows and b.cols == d.rows:
                return _remake(coef, scalars, chain[:i] + [kron(mul(a, c), mul(b, d))] + chain[i + 2:])
    return None


def kron_vec(e: Expr):
    """(B' ⊗ A)*vec(X) = vec(A*X*B): a Jacobian applied to a vec has a matrix form."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 1):
        k, v = chain[i], chain[i + 1]
        if k.op == "kron" and v.op == "vec":
            bt, a = k.args
            x = v.args[0]
            if bt.cols == x.cols and a.cols == x.rows:
                return _remake(coef, scalars, chain[:i] + [apply("vec", mul(a, x, transpose(bt)))] + chain[i + 2:])
    return None


def commutation_vec(e: Expr):
    """K*vec(X) = vec(X') (the definition of the commutation matrix)."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 1):
        k, v = chain[i], chain[i + 1]
        if k.op == "comm" and v.op == "vec":
            x = v.args[0]
            if (x.rows, x.cols) == k.data:
                return _remake(coef, scalars, chain[:i] + [apply("vec", transpose(x))] + chain[i + 2:])
    return None


def vec_inner_product(e: Expr):
    """vec(A)'*vec(B) = tr(A'*B)."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 1):
        t, v = chain[i], chain[i + 1]
        if t.op == "T" and t.args[0].op == "vec" and v.op == "vec":
            a, b = t.args[0].args[0], v.args[0]
            if a.shape == b.shape:
                return _remake(coef, scalars + [apply("tr", mul(transpose(a), b))],
                               chain[:i] + chain[i + 2:])
    return None


def diag_times_vector(e: Expr):
    """diag(v)*w = v .* w."""
    coef, scalars, chain = _chain_parts(e)
    for i in range(len(chain) - 1):
        d, w = chain[i], chain[i + 1]
        if d.op == "diagm" and w.cols == 1:
            return _remake(coef, scalars, chain[:i] + [hadamard(d.args[0], w)] + chain[i + 2:])
    return None


def distribute_coefficient(e: Expr):
    """c*(A + B) = c*A + c*B for a number c (textbook sums keep their coefficients)."""
    coef, scalars, chain = _chain_parts(e)
    if scalars or len(chain) != 1 or chain[0].op != "add" or coef == 1:
        return None
    return add(*(E.scale(coef, t) for t in chain[0].args))


# --- traces ---------------------------------------------------------------------------------

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


def factor_common_vector(e: Expr):
    """A*x + B*x = (A + B)*x for a common column vector x (and x'*A + x'*B = x'*(A + B))."""
    for split, side in ((_split_last, "right"), (_split_first, "left")):
        groups: dict = {}
        for t in e.args:
            s = split(t)
            if s is None:
                continue
            f, rest = s
            if (side == "right" and f.cols == 1) or (side == "left" and f.rows == 1):
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

def _strip_coef(x: Expr):
    c, rest = coefficient(x)
    if x.op == "mul":
        coef, scalars, chain = _chain_parts(x)
        if scalars and chain and len(chain) == 1 and _is_ones(chain[0]):
            return coef, mul(*scalars), chain[0]
    return c, None, rest


def hadamard_pull_scalars(e: Expr):
    """(c*A) .* B = c*(A .* B); A .* (s*matrix(1)) = s*A."""
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
    if ba is not bb:
        return None
    return power(ba, num(ka + kb))


def hadamard_sort(e: Expr):
    a, b = e.args
    if b.sort_key() < a.sort_key():
        return Expr("had", (b, a), None, e.shape)
    return None


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


#: The identity catalogue: one named line per identity, with its source.
IDENTITIES = [
    Identity("transpose of a product", "(A*B)' = B'*A'", "Cookbook (5)", "T",
             transpose_of_product, "(A*B)'"),
    Identity("transpose of a sum of transposes", "(A' + B')' = A + B", "Cookbook (4)", "T",
             transpose_of_sum_of_transposes, "(A' + B')'"),
    Identity("transpose of a Kronecker product", "(A ⊗ B)' = A' ⊗ B'", "Cookbook (507)", "T",
             transpose_of_kron, "(A ⊗ B)'"),
    Identity("inverse of a transpose", "inv(X') = inv(X)'", "Cookbook (3)", "inv",
             inverse_of_transpose, "inv(X')"),
    Identity("powers of a scalar", "s^a*s^b = s^(a+b)", "algebra", "mul",
             combine_scalar_powers, "det(X)*inv(X)/det(X)"),
    Identity("distribute a number", "c*(A + B) = c*A + c*B", "algebra", "mul",
             distribute_coefficient, "2*(A + B)"),
    Identity("ones times ones", "vector(1)'*vector(1) = N", "definition", "mul",
             ones_product, "x: vector(N); vector(1)'*vector(1)*x"),
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
    Identity("cyclic trace to a scalar", "tr(A*u*v') = v'*A*u", "Cookbook (16)", "tr",
             trace_cyclic_to_scalar, "tr(A*u*v')"),
    Identity("trace of a sum", "tr(A + B) = tr(A) + tr(B)", "Cookbook (14)", "tr",
             trace_of_sum, "tr(A + B)"),
    Identity("trace of a scaled matrix", "tr(c*A) = c*tr(A)", "linearity", "tr",
             trace_pull_scalars, "tr(c*A)"),
    Identity("like terms", "a*X + b*X = (a + b)*X", "algebra", "add",
             collect_like_terms, "2*A + 3*A - A"),
    Identity("common vector factor", "A*x + B*x = (A + B)*x", "algebra", "add",
             factor_common_vector, "A*x + B*x"),
    Identity("canonical term order", "sums in one order", "convention", "add",
             sort_terms, "B + A"),
    Identity("scalars out of Hadamard", "(c*A) .* B = c*(A .* B)", "algebra", "had",
             hadamard_pull_scalars, "(2*A) .* B"),
    Identity("Hadamard powers", "X.^a .* X.^b = X.^(a+b)", "algebra", "had",
             hadamard_powers, "X .* X.^2"),
    Identity("Hadamard order", "A .* B = B .* A", "Cookbook (517)", "had",
             hadamard_sort, "B .* A"),
    Identity("logistic function", "exp(z) .* (1 + exp(z)).^(-1) = sigmoid(z)", "definition",
             "had", sigmoid_form, "exp(z) .* (1 + exp(z)).^(-1)"),
    Identity("logistic reciprocal", "(1 + exp(-z)).^(-1) = sigmoid(z)", "definition", "pow",
             reciprocal_sigmoid, "(1 + exp(-z)).^(-1)"),
    Identity("unvec is linear", "unvec(a*u + b*v) = a*unvec(u) + b*unvec(v)", "linearity",
             "unvec", unvec_linear, ""),
]

RULES_BY_OP: dict[str, list] = {}
for _ident in IDENTITIES:
    RULES_BY_OP.setdefault(_ident.op, []).append(_ident)


class Simplifier:
    """Applies the catalogue to a fixed point; records which identities fired."""

    def __init__(self, budget: int = MAX_REWRITES):
        self.memo: dict = {}
        self.budget = budget
        self.applied: list[str] = []

    def __call__(self, root: Expr) -> Expr:
        for node in postorder(root):
            if node in self.memo:
                continue
            new = rebuild(node, tuple(self.memo[a] for a in node.args)) if node.args else node
            out = self._fixpoint(new)
            self.memo[node] = out
            self.memo.setdefault(out, out)
        return self.memo[root]

    def _fixpoint(self, e: Expr) -> Expr:
        if e in self.memo:
            return self.memo[e]
        while self.budget > 0:
            for ident in RULES_BY_OP.get(e.op, ()):
                out = ident.rule(e)
                if out is not None and out is not e:
                    self.budget -= 1
                    if ident.name not in self.applied and ident.name != "canonical term order":
                        self.applied.append(ident.name)
                    e = self(out) if out.args else out
                    break
            else:
                return e
        return e


def simplify(root: Expr) -> Expr:
    """The expression rewritten with the identity catalogue until nothing applies."""
    from .parser import deep_recursion
    with deep_recursion():
        return Simplifier()(root)
