"""The identity catalogue and the simplifier: every identity holds numerically, the
simplifier keeps values, is idempotent, ignores term order, and the textbook forms
print as a careful person would write them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdiff
from mdiff.numeric.check import compare_exprs
from mdiff.simplify.identities import IDENTITIES
from mdiff.simplify.engine import Simplifier, simplify


@pytest.mark.parametrize("ident", [i for i in IDENTITIES if i.example], ids=lambda i: i.name)
def test_identity_holds_numerically_and_fires(ident):
    p = mdiff.parse(ident.example)
    s = Simplifier()
    out = s(p.expr)
    assert ident.name in s.applied or ident.name == "canonical term order"
    cmp = compare_exprs(p.expr, out, p.variables, points=3, seed=1)
    assert cmp.equal, (ident.name, str(out), cmp)


def test_every_pattern_compiles_to_the_op_it_is_listed_under():
    from mdiff.simplify.rules import Pattern
    patterns = [i for i in IDENTITIES if isinstance(i.rule, Pattern)]
    assert len(patterns) >= 4
    for ident in patterns:
        lhs, rhs, variables = ident.rule.compile()
        assert lhs.op == ident.op, ident.name
        assert ident.example.endswith(ident.statement.split(" = ")[0]) or ident.rule.where


def test_a_pattern_matches_structure_and_kinds_not_names():
    from mdiff.simplify.rules import Pattern
    rule = Pattern("vec(A).^c = vec(A.^c)")
    p = mdiff.parse("vec(X*Y).^t", {"t": "scalar"})
    assert str(rule(p.expr)) == "vec((X*Y).^t)"
    scalar_only = Pattern("exp(c) = exp(c)")
    assert scalar_only(mdiff.parse("exp(X)").expr) is None
    assert scalar_only(mdiff.parse("exp(t)", {"t": "scalar"}).expr) is not None
    same = Pattern("A .* A = A.^2")
    assert same(mdiff.parse("X .* Y").expr) is None
    assert str(same(mdiff.parse("X .* X").expr)) == "X.^2"


def test_every_identity_has_a_source_and_statement():
    for ident in IDENTITIES:
        assert ident.source and ident.statement and ident.name


def test_commutation_identity():
    # K*vec(X) = vec(X'): the Jacobian of X' applied to vec(X)
    r = mdiff.diff("X'", wrt="X", symbols={"X": "matrix(3,2)"})
    k = r.function()()
    x = np.arange(6.0).reshape(3, 2)
    assert np.allclose(k @ x.reshape(-1, order="F"), x.T.reshape(-1, order="F"))


TEXTBOOK = [
    ("tr(A*X*B)", "X", None, "A'*B'"),
    ("x'*A*x", "x", None, "(A + A')*x"),
    ("x'*A*x", "x", {"A": "matrix(n,n) symmetric"}, "2*A*x"),
    ("log(det(X))", "X", None, "inv(X)'"),
    ("u'*inv(X)*v", "X", None, "-inv(X)'*u*v'*inv(X)'"),
    ("norm2(A*x - b)^2", "x", None, "2*A'*(A*x - b)"),
    ("A*X*B", "X", None, "B' ⊗ A"),
    ("logsumexp(x)", "x", None, "softmax(x)"),
    ("det(X)", "X", None, "det(X)*inv(X)'"),
    ("a*x", "a", None, "x"),
    ("vec(X)'*vec(X)", "X", None, "2*X"),
    ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); "
     "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))", "m", None,
     "inv(S)*(D*vector(1) - N*m)"),
]


@pytest.mark.parametrize("text,wrt,symbols,expected", TEXTBOOK, ids=lambda v: str(v)[:30])
def test_textbook_forms(text, wrt, symbols, expected):
    r = mdiff.diff(text, wrt=wrt, symbols=symbols)
    shown = r.kron() if r.form == "jacobian" else str(r)
    assert shown == expected
    assert r.check(seed=2).ok


def test_any_term_order_for_tr_AXtBX():
    r = mdiff.diff("tr(A*X'*B*X)", wrt="X")
    assert sorted(str(r).split(" + ")) == sorted(["B*X*A", "B'*X*A'"])


def test_gaussian_covariance_gradient_is_textbook():
    text = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); "
            "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))")
    r = mdiff.diff(text, wrt="S")
    assert str(r) == "t1 = D - m*vector(1)'; 1/2*inv(S)*t1*t1'*inv(S) - 1/2*N*inv(S)"
    hand = "-N/2*inv(S) + 1/2*inv(S)*(D - m*vector(1)')*(D - m*vector(1)')'*inv(S)"
    assert mdiff.against(r, hand).equal


def test_mlp_prints_backpropagation_with_named_terms():
    text = "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2"
    r = mdiff.diff(text, wrt="W1")
    assert str(r) == ("y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); "
                      "(W2'*((1 - y2.^2) .* (y2 - y)) .* (1 - y1.^2))*x'")
    # the printed result parses back to the same value
    back = mdiff.parse(str(r), r.f.symbols())
    assert compare_exprs(back.expr, r.expr, {**back.variables, **r.f.variables}).equal


def _mlp(layers: int) -> str:
    lines = ["h1 = tanh(W1*x + b1)"] + [f"h{i} = tanh(W{i}*h{i-1} + b{i})"
                                         for i in range(2, layers + 1)]
    return "; ".join(lines) + f"; 1/2*norm2(h{layers} - y)^2"


def test_printed_mlp_gradient_grows_linearly():
    sizes = [len(str(mdiff.diff(_mlp(L), wrt="W1"))) for L in (4, 8, 16)]
    # doubling the depth roughly doubles the text (never quadruples it)
    assert sizes[1] < 2.5 * sizes[0] and sizes[2] < 2.5 * sizes[1]


def test_deep_result_parses_back():
    r = mdiff.diff(_mlp(24), wrt="W1")
    back = mdiff.parse(str(r), r.f.symbols())
    assert back.expr.shape == r.expr.shape
    assert compare_exprs(back.expr, r.expr, {**back.variables, **r.f.variables},
                         points=2).equal


# --- properties -------------------------------------------------------------------

TERMS = ["A*x", "B*x", "A'*x", "2*A*x", "-A*x", "x", "1/2*x", "B'*A*x", "(A + B)*x",
         "A*A*x", "x .* x", "exp(x)", "-B*x"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(TERMS), min_size=1, max_size=5), st.randoms())
def test_simplify_keeps_value_is_idempotent_and_ignores_order(terms, rnd):
    decl = "A: matrix(n,n); B: matrix(n,n); x: vector(n); "
    p = mdiff.parse(decl + " + ".join(terms))
    once = simplify(p.expr)
    assert simplify(once) is once
    assert compare_exprs(p.expr, once, p.variables, points=2).equal
    shuffled = list(terms)
    rnd.shuffle(shuffled)
    q = mdiff.parse(decl + " + ".join(shuffled))
    assert str(simplify(q.expr)) == str(once)


def test_a_rewrite_loop_is_reported_with_its_rules():
    """Two identities that undo each other end in a LimitError naming them, not in
    "nested too deeply"."""
    from mdiff.core import expr as E
    from mdiff.simplify.identities import Identity
    from mdiff.simplify.engine import Simplifier

    def swap(e):
        a = e.args[0]
        return E.apply("tr", E.mul(*reversed(a.args))) if a.op == "mul" else None

    rules = {"tr": [Identity("cyclic there", "tr(A*B) = tr(B*A)", "test", "tr", swap, "tr(A*B)"),
                    Identity("cyclic back", "tr(B*A) = tr(A*B)", "test", "tr", swap, "tr(B*A)")]}
    p = mdiff.parse("tr(A*B)")
    with pytest.raises(mdiff.LimitError, match="loops.*cyclic there"):
        Simplifier(rules=rules)(p.expr)


def test_shared_coefficients_stay_exact_rationals():
    """The largest rational divisor of a sum's coefficients is exact (1/6, not a float's
    binary fraction), in gradients and in products."""
    from mdiff.simplify.engine import simplify_fully
    assert str(simplify_fully(mdiff.parse("(1/2*A + 1/3*B)*C").expr)[0]) == "1/6*(2*B + 3*A)*C"
    assert str(mdiff.diff("1/3*x'*A*x - 1/3*b'*x", wrt="x")) == "1/3*(A + A')*x - 1/3*b"
    assert str(mdiff.diff("1/6*x'*A*x + 1/4*x'*x", wrt="x")) == "1/6*(A + A')*x + 1/2*x"


def test_kronecker_identity_absorption_ignores_term_order():
    from mdiff.simplify.engine import simplify_fully
    a = mdiff.parse("M: matrix(n,n); M ⊗ eye(n) + eye(n) ⊗ M + eye(n^2)").expr
    b = mdiff.parse("M: matrix(n,n); eye(n) ⊗ M + M ⊗ eye(n) + eye(n^2)").expr
    assert simplify_fully(a)[0] is simplify_fully(b)[0]


@pytest.mark.parametrize("text, wrt, expected", [
    # a transposed sum is pushed through where that leaves fewer transposes
    ("x'*A*y + x'*y", "x", "A*y + y"),
    ("x'*A*y + (x'*y)^2", "x", "A*y + 2*(x'*y)*y"),
    # sum(A + B) meets sums known without their entries: the centred vector sums to 0
    ("x: vector(n); norm2(x - sum(x)/n*vector(1))^2", "x", "2*x - 2*sum(x)*vector(1)/n"),
    # sqrt(u)^2 = u in the elementwise rational normal form (the pseudo-Huber Hessian)
    ("sum(sqrt(1 + (A*x - b).^2))", "x", "A'*diag(((A*x - b).^2 + 1).^(-3/2))*A"),
    # a number times a Hadamard quotient prints without parentheses and reads back
    ("-sum(p .* log(q))", "q", "-p ./ q"),
])
def test_textbook_mechanisms(text, wrt, expected):
    r = mdiff.hessian(text, wrt) if "sqrt" in text else mdiff.diff(text, wrt)
    assert str(r) == expected
    assert mdiff.against(r, expected).equal
    assert mdiff.parse(str(r), r.f.symbols()).expr is r.expr


def test_transposed_sum_kept_where_distributing_adds_transposes():
    """(D - m*vector(1)')' stays whole: distributed it is D' - vector(1)*m'."""
    from mdiff.simplify.engine import simplify_fully
    e = mdiff.parse("D: matrix(n,p); m: vector(n); (D - m*vector(1)')'").expr
    assert str(simplify_fully(e)[0]) == "(D - m*vector(1)')'"


def test_sum_of_softmax_is_the_number_of_columns():
    from mdiff.simplify.engine import simplify_fully
    assert str(simplify_fully(mdiff.parse("x: vector(n); sum(softmax(x) + x)").expr)[0]) == "sum(x) + 1"
    assert str(simplify_fully(mdiff.parse("Z: matrix(n,p); sum(softmax(Z))").expr)[0]) == "tr(eye(p))"  # p, named by nothing else
