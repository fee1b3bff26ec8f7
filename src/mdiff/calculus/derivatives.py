"""The table of differentials: one rule per operation (Magnus–Neudecker).

A rule ``rule(node, d)`` returns the differential of ``node`` as an expression that is
linear in ``d(i)``, the differentials of its arguments (placeholders or zeros).  The
engine (``diff.py``) reads both uses off the same rule: the backward sweep transposes
the linear map (``linear.adjoint``) and the Jacobian vectorises it
(``linear.vectorize``).  The rules of the structural operations are here; a function of
the language brings its rule in its record (``ops.py``).  An operation without a rule is
a ``DiffError`` naming it, never a silent zero.
"""

from __future__ import annotations

from collections import Counter

from ..core import expr as E
from ..core import ops
from ..errors import DiffError
from ..core.expr import Expr, add, apply, hadamard, mul, num, power, transpose


inner = E.inner


def _registered(node, d):
    """The one rule of the registry's functions: the node's record's differential, handed
    the constructors (for an elementwise function, phi'(X) .* dX)."""
    return ops.RECORDS[node.op].differential(E, node, d)


# --- the rules ---------------------------------------------------------------------------

def _add(node, d):
    return add(*(d(i) for i in range(len(node.args))))


def _mul(node, d):
    """d(c * F1 * ... * Fk) = c * sum_i F1 ... dFi ... Fk; a scalar factor s repeated m
    times counts once, as d(s^m) = m s^(m-1) ds (c*c*...*c stays one term)."""
    coef, nscal = node.data
    scalars = node.args[:nscal]
    repeats = Counter(scalars)
    done = set()
    terms = []
    for i, a in enumerate(node.args):
        m = repeats[a] if i < nscal else 1
        if m > 1 and a in done:         # a repeat already counted
            continue
        done.add(a)
        di = d(i)
        if E.is_zero(di):
            continue
        if m > 1:
            rest = [s for s in scalars if s is not a] + list(node.args[nscal:])
            terms.append(mul(num(coef * m), power(a, num(m - 1)), di, *rest))
        else:
            factors = node.args[:i] + (di,) + node.args[i + 1:]
            terms.append(mul(num(coef), *factors))
    return add(*terms) if terms else E.zeros(node.shape)


def _had(node, d):
    a, b = node.args
    return add(hadamard(d(0), b), hadamard(a, d(1)))


def _pow(node, d):
    """d(X.^p) = p X.^(p-1) .* dX + log(X) .* X.^p dp."""
    x, p = node.args
    terms = []
    if not E.is_zero(d(0)):
        terms.append(hadamard(mul(p, power(x, add(p, num(-1)))), d(0)))
    if not E.is_zero(d(1)):
        terms.append(mul(d(1), hadamard(apply("log", x), node)))
    return add(*terms) if terms else E.zeros(node.shape)


def _mpow(node, d):
    """d(X^k) = sum_{i<k} X^i dX X^(k-1-i)."""
    x, k = node.args[0], node.data
    return add(*(mul(E.matrix_power(x, i), d(0), E.matrix_power(x, k - 1 - i))
                 for i in range(k)))


def _kron(node, d):
    a, b = node.args
    return add(E.kron(d(0), b), E.kron(a, d(1)))


#: op -> rule(node, d) giving the differential of node, linear in d(0), d(1), ...
DIFFERENTIALS = {
    "add": _add,
    "mul": _mul,
    "had": _had,
    "pow": _pow,
    "mpow": _mpow,
    "T": lambda node, d: transpose(d(0)),
    "kron": _kron,
    "unvec": lambda node, d: E.unvec(d(0), node.shape),
    "index": lambda node, d: E.index(d(0), *node.data),
    "block": lambda node, d: E.block([[d(a * node.data[1] + b) for b in range(node.data[1])]
                                      for a in range(node.data[0])]),
    # every function of the registry: its record's differential
    **{name: _registered for name in ops.RECORDS},
}

#: Leaves: constants have differential zero; variables are handled by the engine.
CONSTANT_LEAVES = ("num", "const", "dim", "fill", "eye", "comm", "dup")


def differential(node: Expr, d) -> Expr:
    rule = DIFFERENTIALS.get(node.op)
    if rule is None:
        raise DiffError(f"no differentiation rule for {node.op!r}")
    return rule(node, d)
