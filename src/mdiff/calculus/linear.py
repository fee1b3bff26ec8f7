"""Linear maps in a differential placeholder: their adjoint and their vec/Kronecker matrix.

A differential produced by ``derivatives.py`` is an expression ``L`` that is linear in
placeholders ``dX`` (``op == "delta"``).  Two readings of the same ``L``:

* ``adjoint(L, G)``: the ``G_X`` with ``tr(G' L) = sum_X tr(G_X' dX)`` — the backward
  (reverse-mode) use, e.g. ``tr(G' A dX B) = tr((A' G B')' dX)``;
* ``vectorize(L, tag)``: the matrix ``M`` with ``vec(L) = M vec(dX)`` — the forward
  (Jacobian) use, e.g. ``vec(A dX B) = (B' ⊗ A) vec(dX)`` (Magnus–Neudecker).

Each table has one entry per linear operation; a placeholder under a non-linear
operation is a ``DiffError``.
"""

from __future__ import annotations

from collections import defaultdict

from ..core import expr as E
from ..core import ops
from .derivatives import inner
from ..errors import DiffError
from ..core.expr import (Expr, add, apply, commutation, eye, hadamard, kron, mul, num, postorder,
                         transpose, unvec)


class _Live:
    """``node in live``: does the node contain a placeholder (cached on the node)."""

    def __contains__(self, node: Expr) -> bool:
        return E.has_placeholder(node)


LIVE = _Live()


# --- adjoint ---------------------------------------------------------------------------

def _adj_mul(e: Expr, g: Expr, live):
    coef, nscal = e.data
    scalars, chain = e.args[:nscal], e.args[nscal:]
    k = _the_live_index(e, live)
    if k < nscal:
        rest = mul(num(coef), *scalars[:k], *scalars[k + 1:], *chain)
        return [(e.args[k], inner(rest, g))]
    j = k - nscal
    left = mul(*chain[:j]) if j else None
    right = mul(*chain[j + 1:]) if j + 1 < len(chain) else None
    factors = [num(coef), *scalars]
    if left is not None:
        factors.append(transpose(left))
    factors.append(g)
    if right is not None:
        factors.append(transpose(right))
    return [(chain[j], mul(*factors))]


def _the_live_index(e, live) -> int:
    idx = [i for i, a in enumerate(e.args) if a in live]
    if len(idx) != 1:
        raise DiffError("internal: a product is not linear in its differential")
    return idx[0]


def _adj_had(e, g, live):
    a, b = e.args
    k = _the_live_index(e, live)
    return [(e.args[k], hadamard(e.args[1 - k], g))]


def _linear_argument(record, e: Expr, live) -> Expr:
    """The argument a registered function is linear in (``sylvester(A, B, C)`` in C); a
    placeholder in another argument means the rule that built ``e`` is wrong."""
    k = record.linear_in
    if any(a in live for i, a in enumerate(e.args) if i != k):
        raise DiffError(f"internal: {e.op} is linear only in argument {k + 1}")
    return e.args[k]


def _adj_generic(e, g, live):
    """Through the Jacobian: vec(G_X) = M' vec(G) for the single placeholder under e."""
    tags = {n.data: n for n in postorder(e) if n.op == "delta"}
    out = []
    for tag, ph in tags.items():
        m = vectorize(e, tag)
        out.append((ph, unvec(mul(transpose(m), apply("vec", g)), ph.shape)))
    return out


def selection(span, size) -> Expr:
    """S with S*X = X[span, :] (eye(size)[span, :]); None where span selects all."""
    return None if span is None else E.index(eye(size), span, None)


def _adj_index(e, g, live):
    """<g, X[R, C]> = <S_R' g S_C, X>: g put back in place, zeros elsewhere."""
    x = e.args[0]
    rows, cols = (selection(s, n) for s, n in zip(e.data, x.shape))
    factors = [f for f in (None if rows is None else transpose(rows), g, cols) if f is not None]
    return [(x, mul(*factors))]


def _block_spans(e):
    """((row span, column span) of each block of a block node, in argument order)."""
    rows, cols = E.block_offsets(e)
    p, q = e.data
    one = E.DIM_ONE
    return [((rows[a] + one, rows[a + 1]), (cols[b] + one, cols[b + 1]))
            for a in range(p) for b in range(q)]


#: The identity each structural adjoint rule applies, as a derivation names it when it
#: brings a differential to tr(G' dX); the registry's linear functions carry theirs
#: (``Function.adjoint_identity``).
ADJOINT_IDENTITY = {
    "T": "transpose: tr(A') = tr(A)",
    "had": "Hadamard: tr(A'*(B .* C)) = tr((A .* B)'*C)",
    "mul": "a scalar is its own trace: a'*B*c = tr(c*a'*B)",
}


def adjoint_identity(e: Expr) -> str | None:
    """The identity the adjoint rule of ``e``'s op applies (None: plain linearity)."""
    record = ops.RECORDS.get(e.op)
    return record.adjoint_identity if record is not None else ADJOINT_IDENTITY.get(e.op)


ADJOINT = {
    "add": lambda e, g, live: [(t, g) for t in e.args],
    "mul": _adj_mul,
    "T": lambda e, g, live: [(e.args[0], transpose(g))],
    "had": _adj_had,
    "unvec": lambda e, g, live: [(e.args[0], apply("vec", g))],
    "index": _adj_index,
    # a block's gradient is its part of g: G[rows of block a, columns of block b]
    "block": lambda e, g, live: [(x, E.index(g, *span)) for x, span in zip(e.args, _block_spans(e))
                                 if x in live],
    "kron": _adj_generic,
    # the linear functions of the registry: their records' adjoints
    **{name: (lambda f: lambda e, g, live: [(_linear_argument(f, e, live), f.adjoint(E, e, g))])(record)
       for name, record in ops.RECORDS.items() if record.adjoint is not None},
}


def adjoint(L: Expr, g: Expr) -> dict:
    """{placeholder tag: G_tag} with tr(g' L) = sum over tags of tr(G_tag' d_tag)."""
    live = LIVE
    out = defaultdict(list)
    stack = [(L, g)]
    while stack:
        e, gg = stack.pop()
        if e not in live:
            continue
        if e.op == "delta":
            out[e.data].append(gg)
            continue
        handler = ADJOINT.get(e.op)
        if handler is None:
            raise DiffError(f"internal: {e.op!r} is not linear in the differential")
        stack.extend(handler(e, gg, live))
    return {tag: add(*gs) for tag, gs in out.items()}


# --- vectorize -------------------------------------------------------------------------------

def _vec_of(x: Expr) -> Expr:
    return apply("vec", x)


def _vz_mul(e: Expr, V, live, size):
    coef, nscal = e.data
    scalars, chain = e.args[:nscal], e.args[nscal:]
    k = _the_live_index(e, live)
    if k < nscal:
        rest = mul(num(coef), *scalars[:k], *scalars[k + 1:], *chain)
        return mul(_vec_of(rest), V(e.args[k]))
    j = k - nscal
    f = chain[j]
    left = mul(*chain[:j]) if j else eye(f.rows)
    right = mul(*chain[j + 1:]) if j + 1 < len(chain) else eye(f.cols)
    c = mul(num(coef), *scalars)
    return mul(c, kron(transpose(right), left), V(f))


def _vz_kron(e: Expr, V, live, size):
    a, b = e.args
    m, n = a.shape
    p, q = b.shape
    perm = kron(kron(eye(n), commutation(q, m)), eye(p))
    terms = []
    if a in live:
        terms.append(mul(perm, kron(eye(m * n), _vec_of(b)), V(a)))
    if b in live:
        terms.append(mul(perm, kron(_vec_of(a), eye(p * q)), V(b)))
    return add(*terms)


def _vz_index(e, V, live, size):
    """vec(X[R, C]) = (S_C ⊗ S_R) vec(X)."""
    x = e.args[0]
    rows, cols = (selection(s, n) or eye(n) for s, n in zip(e.data, x.shape))
    return mul(kron(cols, rows), V(x))


def _vz_block(e, V, live, size):
    """vec(block) = sum over blocks of (S_C ⊗ S_R)' vec(B): each block put in place."""
    terms = []
    for x, spans in zip(e.args, _block_spans(e)):
        if x in live:
            rows, cols = (selection(s, n) or eye(n) for s, n in zip(spans, e.shape))
            terms.append(mul(transpose(kron(cols, rows)), V(x)))
    return add(*terms)


VECTORIZE = {
    "add": lambda e, V, live, size: add(*(V(t) for t in e.args)),
    "mul": _vz_mul,
    "T": lambda e, V, live, size: mul(commutation(e.cols, e.rows), V(e.args[0])),
    "had": lambda e, V, live, size: mul(
        E.diag_of_vec(e.args[1 - _the_live_index(e, live)]), V(e.args[_the_live_index(e, live)])),
    "unvec": lambda e, V, live, size: V(e.args[0]),
    "index": _vz_index,
    "block": _vz_block,
    "kron": _vz_kron,
    # the linear functions of the registry: vec(f(dX)) = M vec(dX), M their records' Jacobian
    **{name: (lambda f: lambda e, V, live, size:
              mul(f.jacobian(E, e), V(_linear_argument(f, e, live))))(record)
       for name, record in ops.RECORDS.items() if record.jacobian is not None},
}


def vectorize(L: Expr, tag) -> Expr:
    """The matrix M (size(L) x size(d_tag)) with vec(L) = M vec(d_tag)."""
    live = LIVE
    not_live = lambda n: n not in live  # noqa: E731 - only subtrees with placeholders
    target = [n for n in postorder(L, done=not_live) if n.op == "delta" and n.data == tag]
    if not target:
        raise DiffError("internal: no such placeholder")
    size = target[0].size
    memo: dict = {}

    def V(x: Expr) -> Expr:
        return memo[id(x)] if x in live else E.zeros((x.size, size))

    for node in postorder(L, done=not_live):
        if node.op == "delta":
            memo[id(node)] = eye(size) if node.data == tag else E.zeros((node.size, size))
        else:
            handler = VECTORIZE.get(node.op)
            if handler is None:
                raise DiffError(f"internal: {node.op!r} is not linear in the differential")
            memo[id(node)] = handler(node, V, live, size)
    return memo[id(L)]
