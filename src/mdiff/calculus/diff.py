"""The chain rule over the DAG: gradients by one backward sweep, Jacobians forward.

* ``gradients(f, names)``: for a scalar ``f``, the adjoint ``G`` of every node is
  accumulated from its parents in reverse topological order, each node visited once:
  symbolic backpropagation, linear in the size of the DAG.  At a node the rule's
  differential, with placeholders for the arguments, is transposed by
  ``linear.adjoint``.
* ``differential(F, names)``: the forward differential ``dF`` as an expression in
  placeholders ``dX``; ``jacobian`` vectorises it (``linear.vectorize``).

Structured variables are projected afterwards (DESIGN §3): symmetric -> sym(G),
diagonal -> the diagonal of G.
"""

from __future__ import annotations

from ..core import expr as E
from .derivatives import CONSTANT_LEAVES
from .derivatives import differential as rule_differential
from ..errors import DiffError
from ..core.expr import Expr, add, placeholder, postorder
from .linear import adjoint, vectorize


def _dependents(root: Expr, names: set) -> set:
    """ids of nodes that depend on any variable in ``names``."""
    out = set()
    for node in postorder(root):
        if (node.op == "var" and node.name in names) or any(id(a) in out for a in node.args):
            out.add(id(node))
    return out


def gradients(f: Expr, variables: dict[str, Expr], trace: list | None = None) -> dict[str, Expr]:
    """Unprojected gradients of scalar ``f`` wrt each variable (same shape as it).
    With ``trace``, each visited node appends (node, its differential with the
    arguments' differentials as placeholders, the adjoint G at the node, the
    contributions sent to its arguments) — the derivation shown by ``steps``."""
    if not f.is_scalar:
        raise DiffError("a gradient needs a scalar function; use the Jacobian")
    names = set(variables)
    live = _dependents(f, names)
    order = list(postorder(f))
    pending: dict[int, list] = {id(f): [E.num(1)]}
    grads: dict[str, list] = {n: [] for n in names}
    for node in reversed(order):
        key = id(node)
        if key not in live or key not in pending:
            continue
        g = add(*pending.pop(key))
        if node.op == "var":
            grads[node.name].append(g)
            continue
        tags = {}

        def d(i, node=node, tags=tags):
            a = node.args[i]
            if id(a) not in live:
                return E.zeros(a.shape)
            tag = ("arg", i)
            tags[tag] = a
            return placeholder(tag, a.shape)

        L = rule_differential(node, d)
        contributions = adjoint(L, g)
        for tag, contribution in contributions.items():
            pending.setdefault(id(tags[tag]), []).append(contribution)
        if trace is not None:
            trace.append((node, L, g, {id(tags[t]): (tags[t], c) for t, c in contributions.items()}))
    return {n: (add(*gs) if gs else E.zeros(variables[n].shape)) for n, gs in grads.items()}


def differential(f: Expr, variables: dict[str, Expr]) -> Expr:
    """dF with a placeholder ``d<name>`` for each variable (forward, DAG-shared)."""
    names = set(variables)
    live = _dependents(f, names)
    memo: dict[int, Expr] = {}
    for node in postorder(f):
        if id(node) not in live:
            memo[id(node)] = E.zeros(node.shape)
        elif node.op == "var":
            memo[id(node)] = placeholder(node.name, node.shape)
        elif node.op in CONSTANT_LEAVES:
            memo[id(node)] = E.zeros(node.shape)
        else:
            memo[id(node)] = rule_differential(node, lambda i, node=node: memo[id(node.args[i])])
    return memo[id(f)]


def jacobian(f: Expr, var: Expr) -> Expr:
    """d vec(F) / d vec(X)' as a matrix expression (size F x size X)."""
    dF = differential(f, {var.name: var})
    if E.is_zero(dF) or not E.has_placeholder(dF):
        return E.zeros((f.size, var.size))
    return vectorize(dF, var.name)


# --- structured variables -----------------------------------------------------------------

def structure_of(var: Expr) -> str:
    props = var.props
    if "diagonal" in props:
        return "diagonal"
    if props & {"lower", "upper"} and not var.is_scalar:
        return "lower" if "lower" in props else "upper"
    if props & {"symmetric", "spd"} and not var.is_scalar:
        return "symmetric"
    return "general"


CONVENTIONS = {
    "general": "gradient G with df = tr(G' dX) (same shape as X); Jacobian d vec(F)/d vec(X)'",
    "symmetric": "symmetric X: the symmetric G = sym(G_unconstrained) with df = tr(G dX) for "
                 "every symmetric dX; Jacobians times P = (I + K)/2",
    "diagonal": "diagonal X: G projected onto diagonal matrices",
    "lower": "lower triangular X: G projected onto lower triangular matrices (tril(G))",
    "upper": "upper triangular X: G projected onto upper triangular matrices (triu(G))",
}

#: The projection onto a triangular variable's triangle.
TRIANGLE = {"lower": "tril", "upper": "triu"}


def project_gradient(g: Expr, var: Expr) -> Expr:
    kind = structure_of(var)
    if kind == "symmetric":
        return E.scale(E.Rational(1, 2), add(g, E.transpose(g)))
    if kind == "diagonal":
        return E.apply("diag", E.apply("diag", g))
    if kind in TRIANGLE:
        return E.apply(TRIANGLE[kind], g)
    return g


def project_jacobian(j: Expr, var: Expr) -> Expr:
    kind = structure_of(var)
    n = var.rows
    if kind == "symmetric":
        p = E.scale(E.Rational(1, 2), add(E.eye(n * n), E.commutation(n, n)))
        return E.mul(j, p)
    if kind == "diagonal":
        return E.mul(j, E.apply("diag", E.apply("vec", E.eye(n))))
    if kind in TRIANGLE:
        return E.mul(j, E.diag_of_vec(E.apply(TRIANGLE[kind], E.ones((n, n)))))
    return j
