"""Every differentiation rule and every function of the language is exercised by the
derivative table (tests/derivative_cases.py), whose cases test_cookbook.py verifies by
finite differences.  Adding a rule to ``mdiff.derivatives.DIFFERENTIALS`` (or a function
to the language) without adding a case makes this file fail."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mdiff
from mdiff.core import expr as E
from mdiff.calculus.derivatives import DIFFERENTIALS
from mdiff.language.inference import FUNCTION_ARITY
from mdiff.language import Parsed

from derivative_cases import CASES



def ops_of(case) -> set:
    p = mdiff.parse(case.text, case.symbols)
    return {node.op for node in E.postorder(p.expr)}


OPS_BY_CASE = {case.id: ops_of(case) for case in CASES}
ALL_OPS = set().union(*OPS_BY_CASE.values())


def cases_with(op):
    return [cid for cid, ops in OPS_BY_CASE.items() if op in ops]


#: Operations that only results print: the Kronecker forms of expm/logm's Fréchet
#: derivatives (printed Jacobians and Hessians).  An input using one could not be
#: differentiated (that is a third derivative of expm/logm, issue 16);
#: test_registry.KRON_FORMS checks that results print them, numerically.
PRINTED_ONLY = {"expm_kron", "expm_kron2", "logm_kron", "logm_kron2"}


def test_every_rule_has_a_case():
    missing = sorted(op for op in DIFFERENTIALS if op not in ALL_OPS | PRINTED_ONLY)
    assert not missing, f"rules without a case in derivative_cases.py: {missing}"


# The functions of the language, as the ops they become after parsing (DESIGN §2).
LANGUAGE_OPS = (
    [(f, f) for f in E.ELEMENTWISE]
    + [(f, f) for f in E.REDUCTIONS]
    + [("inv", "inv"), ("diag (vector -> matrix)", "diagm"), ("diag (matrix -> vector)", "diagv"),
       ("vec", "vec"), ("softmax", "softmax"), ("kron / ⊗", "kron"), ("unvec", "unvec"),
       ("commutation", "comm"), ("duplication", "dup"),
       ("elementwise and scalar power .^ ^", "pow"), ("matrix power ^", "mpow"),
       ("transpose", "T"), ("Hadamard .* ⊙", "had"), ("elementwise division ./ (read as .* with .^(-1))", "pow"),
       ("matrix and scalar product *", "mul"), ("sum and difference", "add")]
)


@pytest.mark.parametrize("name,op", LANGUAGE_OPS, ids=[n for n, _ in LANGUAGE_OPS])
def test_every_function_of_the_language_has_a_case(name, op):
    assert cases_with(op), f"no derivative case uses {name} (op {op!r})"


def test_every_elementwise_function_and_reduction_has_a_rule():
    for f in E.ELEMENTWISE + E.REDUCTIONS:
        assert f in DIFFERENTIALS, f


@pytest.mark.parametrize("fn", sorted(set(FUNCTION_ARITY) - PRINTED_ONLY))
def test_every_function_name_is_written_in_a_case(fn):
    pattern = re.compile(rf"(?<![\w]){re.escape(fn)}\s*\(")
    assert any(pattern.search(c.text) for c in CASES), f"no case text calls {fn}(...)"


@pytest.mark.parametrize("token", ["'", "ᵀ", "*", ".*", "⊙", "./", ".^", "^", "⊗", "/", "-", "+"])
def test_every_operator_is_written_in_a_case(token):
    assert any(token in c.text for c in CASES), f"no case text uses {token!r}"


def test_bare_eye_and_declared_properties_are_used():
    assert any(re.search(r"eye(?!\s*\()", c.text) for c in CASES)
    specs = " ".join(" ".join((c.symbols or {}).values()) for c in CASES)
    for prop in E.PROPERTIES:
        assert prop in specs, prop


# --- the internal op, tested directly ---------------------------------------------------

def _parsed(expr, variables):
    return Parsed(expr, "<built>", variables, {}, tuple(sorted(E.free_dims(expr), key=str)))


def test_unvec_rule_gradient_and_jacobian():
    """unvec(A*vec(X)) built by the engine's constructor (as a Jacobian turned into a
    gradient makes it) and differentiated."""
    n = E.dim_symbol("n")
    X = E.var("X", (n, n))
    A = E.var("A", (n * n, n * n))
    U = E.var("U", (n, n))
    F = E.unvec(E.mul(A, E.apply("vec", X)), (n, n))
    assert F.op == "unvec"
    # Jacobian of the matrix function: d vec(F)/d vec(X)' = A
    jac = mdiff.diff(_parsed(F, {"X": X, "A": A}), wrt="X")
    assert jac.form == "jacobian"
    assert jac.check(seed=0).ok and jac.check(seed=1).ok
    rng = np.random.default_rng(0)
    a, x = rng.standard_normal((9, 9)), rng.standard_normal((3, 3))
    np.testing.assert_allclose(jac.function()(A=a, X=x), a, rtol=1e-12)
    # gradient of a scalar through it: tr(U' unvec(A vec X)) -> unvec(A' vec U)
    f = E.apply("tr", E.mul(E.transpose(U), F))
    grad = mdiff.diff(_parsed(f, {"U": U, "A": A, "X": X}), wrt="X")
    assert grad.form == "gradient"
    assert grad.check(seed=0).ok and grad.check(seed=1).ok
    u = rng.standard_normal((3, 3))
    want = (a.T @ u.reshape(-1, order="F")).reshape((3, 3), order="F")
    np.testing.assert_allclose(grad.function()(A=a, X=x, U=u), want, rtol=1e-12)
