"""Kind and shape inference (DESIGN §1 'Shapes', §2 'Kinds of undeclared names')."""

import pytest

import mdiff
from mdiff.core import expr as E


def V(p, name):
    return p.variables[name]


def n_(name):
    return E.dim_symbol(name)


# --- inference from the expression ------------------------------------------------------

def test_quadratic_form_infers_square_matrix_and_vector():
    p = mdiff.parse("x'*A*x")
    x, A = V(p, "x"), V(p, "A")
    assert x.is_vector and A.kind == "matrix"
    assert A.shape == (x.rows, x.rows)
    assert p.expr.is_scalar


def test_affine_layer_makes_bias_a_vector():
    p = mdiff.parse("W1*x + b1")
    W1, x, b1 = V(p, "W1"), V(p, "x"), V(p, "b1")
    assert b1.is_vector
    assert b1.rows == W1.rows
    assert W1.cols == x.rows
    assert p.expr.shape == b1.shape


def test_b_in_least_squares_is_a_vector():
    p = mdiff.parse("A*x - b")
    assert V(p, "b").is_vector
    assert V(p, "b").rows == V(p, "A").rows


def test_bilinear_form_of_inverse_is_scalar():
    p = mdiff.parse("u'*inv(X)*v")
    assert p.expr.is_scalar
    X = V(p, "X")
    assert X.rows == X.cols == V(p, "u").rows == V(p, "v").rows


def test_undeclared_a_b_are_scalars_so_result_is_matrix():
    p = mdiff.parse("a'*inv(X)*b")
    assert V(p, "a").is_scalar and V(p, "b").is_scalar
    assert p.expr.kind == "matrix"
    assert p.expr.shape == V(p, "X").shape


def test_declaration_wins_over_first_letter():
    p = mdiff.parse("a: vector(n); b: vector(n); a'*inv(X)*b")
    assert p.expr.is_scalar
    assert V(p, "a").shape == (n_("n"), 1)
    assert V(p, "X").shape == (n_("n"), n_("n"))


def test_declaration_wins_over_inference():
    # with x declared scalar, x'*A*x is a scalar times A
    p = mdiff.parse("x: scalar; x'*A*x")
    assert V(p, "x").is_scalar
    assert p.expr.kind == "matrix"


def test_declared_numeric_dimensions_propagate():
    p = mdiff.parse("A: matrix(2,3); A*x")
    assert V(p, "x").shape == (3, 1)
    assert p.expr.shape == (2, 1)
    p = mdiff.parse("x: vector(3); A*x")
    assert V(p, "A").cols == 3


def test_symbols_argument_declares():
    p = mdiff.parse("x'*A*x", symbols={"A": "matrix(4,4)"})
    assert V(p, "x").shape == (4, 1)


def test_transpose_and_outer_products():
    p = mdiff.parse("x'*A")
    assert p.expr.shape == (1, V(p, "A").cols)
    assert p.expr.kind == "matrix"            # a 1×n row is not a vector
    p = mdiff.parse("x*y'")
    assert p.expr.shape == (V(p, "x").rows, V(p, "y").rows)
    p = mdiff.parse("X'*X")
    X = V(p, "X")
    assert p.expr.shape == (X.cols, X.cols)


def test_kron_and_vec_shapes():
    p = mdiff.parse("kron(A, B)")
    A, B = V(p, "A"), V(p, "B")
    assert p.expr.shape == (A.rows * B.rows, A.cols * B.cols)
    p = mdiff.parse("A: matrix(2,3); vec(A)'*y")
    assert V(p, "y").shape == (6, 1)
    assert p.expr.is_scalar
    p = mdiff.parse("vec(X)'*vec(Y)")
    assert V(p, "X").shape == V(p, "Y").shape


def test_functions_and_reductions_shapes():
    p = mdiff.parse("diag(x)*A")
    assert V(p, "A").rows == V(p, "x").rows
    p = mdiff.parse("tr(X)")
    assert V(p, "X").rows == V(p, "X").cols
    p = mdiff.parse("sum(X) + norm2(x) + logsumexp(y)")
    assert p.expr.is_scalar
    p = mdiff.parse("softmax(X)")
    assert p.expr.shape == V(p, "X").shape


def test_elementwise_ops_unify_shapes():
    p = mdiff.parse("x .* y ./ z")
    assert V(p, "x").shape == V(p, "y").shape == V(p, "z").shape
    p = mdiff.parse("A .* B")
    assert V(p, "A").shape == V(p, "B").shape


def test_scalar_times_anything():
    p = mdiff.parse("a*x + y")
    assert V(p, "a").is_scalar
    assert V(p, "x").shape == V(p, "y").shape


# --- broadcasting --------------------------------------------------------------------------

def test_number_literal_broadcasts():
    p = mdiff.parse("1 - y.^2")
    assert p.expr.shape == V(p, "y").shape
    assert p.expr.is_vector
    p = mdiff.parse("x: vector(3); 2 + x")
    assert p.expr.shape == (3, 1)
    p = mdiff.parse("1 - A")
    assert p.expr.shape == V(p, "A").shape
    p = mdiff.parse("x: vector(3); -0.5 + x")
    assert p.expr.shape == (3, 1)


def test_fraction_literal_broadcasts():
    p = mdiff.parse("x + 1/2")
    assert p.expr is mdiff.parse("x + 0.5").expr


def test_declared_scalar_does_not_broadcast():
    with pytest.raises(mdiff.ShapeError) as info:
        mdiff.parse("c: scalar; x: vector(n); c + x")
    err = info.value
    assert err.line == 1 and err.column == len("c: scalar; x: vector(n); c ") + 1   # '+'
    assert "scalar" in err.message and "vector" in err.message
    with pytest.raises(mdiff.ShapeError):
        mdiff.parse("c: scalar; x - c", {"x": "vector(n)"})
    with pytest.raises(mdiff.ShapeError):
        mdiff.parse("x'*x + A*x")


def test_a_term_added_to_a_scalar_is_a_scalar():
    """A lowercase name that is a vector only by its first letter becomes a scalar where
    the expression adds it (or a product with it) to a scalar (issue 14)."""
    for name in ("lam", "mu", "nu", "rho", "sigma"):
        p = mdiff.parse(f"norm2(A*x - b)^2 + {name}*norm2(x)^2")
        assert p.variables[name].is_scalar and p.variables["x"].is_vector
        assert p.assumed == ()                  # forced by the expression: not announced
    assert mdiff.parse("c: scalar; c + x").variables["x"].is_scalar


def test_a_capital_stays_a_matrix():
    """y - X*beta: beta (a scalar by its first letter) would make X one column; it is
    read as a vector instead, and that choice is reported (DESIGN §2)."""
    p = mdiff.parse("(y - X*beta)'*(y - X*beta)")
    assert p.variables["beta"].is_vector and not p.variables["X"].is_vector
    assert p.assumptions() == ["beta: vector(m)"]
    q = mdiff.parse("H = tanh(W1*X + b1*vector(1)'); sum(H)")
    assert q.variables["b1"].is_vector and q.variables["W1"].rows != 1
    assert q.assumptions() == ["b1: vector(n)"]
    r = mdiff.diff("(y - X*beta)'*(y - X*beta)", wrt="beta")
    assert str(r) == "-2*X'*(y - X*beta)" and r.kinds["beta"] == "vector(m)"
    assert r.to_dict()["assumed"] == ["beta: vector(m)"]
    # an uncontested first letter is not announced
    assert mdiff.parse("x'*A*x").assumed == () and mdiff.parse("a'*inv(X)*b").assumed == ()


def test_scalar_valued_expression_does_not_broadcast():
    with pytest.raises(mdiff.ShapeError):
        mdiff.parse("x: vector(n); det(A) + x")


def test_named_scalar_broadcast_spelled_out_works():
    p = mdiff.parse("c: scalar; c*vector(1) + x")
    assert p.expr.is_vector
    assert V(p, "c").is_scalar


def test_ones_inner_product_is_scalar():
    p = mdiff.parse("vector(1)'*vector(1)")
    assert p.expr.is_scalar
    p = mdiff.parse("x'*vector(1)")
    assert p.expr.is_scalar


def test_vector_fill_sized_from_context():
    p = mdiff.parse("x: vector(5); x + vector(2)")
    assert p.expr.shape == (5, 1)
    p = mdiff.parse("A: matrix(2,3); A .* matrix(4)")
    assert p.expr.shape == (2, 3)
    p = mdiff.parse("A: matrix(2,3); A*vector(1)")
    assert p.expr.shape == (2, 1)


def test_eye_sized_from_context():
    p = mdiff.parse("A: matrix(3,3); A + eye")
    assert p.expr.shape == (3, 3)


# --- shape errors -----------------------------------------------------------------------------

SHAPE_ERRORS = [
    # text, the operator's 1-based column, fragments that must appear in the message
    ("A: matrix(2,3); B: matrix(4,5); A*B", 34, ["2×3", "4×5"]),
    ("A: matrix(2,3); B: matrix(4,5); A+B", 34, ["2×3", "4×5"]),
    ("A: matrix(2,3); B: matrix(4,5); A - B", 35, ["2×3", "4×5"]),
    ("A: matrix(2,3); B: matrix(4,5); A .* B", 35, ["2×3", "4×5"]),
    ("A: matrix(2,3); B: matrix(4,5); A ⊙ B", 35, ["2×3", "4×5"]),
    ("A: matrix(2,3); B: matrix(4,5); A ./ B", 35, ["2×3", "4×5"]),
    ("A: matrix(n,n); B: matrix(m,m); A+B", 34, ["n×n", "m×m"]),
    ("x: vector(n); y: vector(m); x'*y", 31, ["vector(m)", "n"]),
    ("x: vector(n); y: vector(m); x+y", 30, ["vector(n)", "vector(m)"]),
    ("x: vector(n); X: matrix(n,n); X - x", 33, ["n×n", "vector(n)"]),
    ("A: matrix(2,3); B: matrix(4,5); x'*A + B", 38, ["1×3", "4×5"]),
]


@pytest.mark.parametrize("text, column, fragments", SHAPE_ERRORS)
def test_shape_error_names_both_shapes_and_points_at_operator(text, column, fragments):
    with pytest.raises(mdiff.ShapeError) as info:
        mdiff.parse(text)
    err = info.value
    assert err.line == 1
    assert err.column == column
    for frag in fragments:
        assert frag in err.message, (frag, err.message)
    # the caret sits under the operator
    lines = str(err).splitlines()
    src, caret = lines[-2], lines[-1]
    assert caret.strip() == "^"
    assert src[caret.index("^")] in "*+-.⊙/"


def test_shape_error_on_second_line():
    text = "A: matrix(2,3)\nB: matrix(4,5)\nA*B"
    with pytest.raises(mdiff.ShapeError) as info:
        mdiff.parse(text)
    assert (info.value.line, info.value.column) == (3, 2)
    assert "    A*B\n     ^" in str(info.value)


@pytest.mark.parametrize("text", [
    "A: matrix(n,m); inv(A)",
    "A: matrix(n,m); det(A)",
    "A: matrix(n,m); logdet(A)",
    "A: matrix(n,m); tr(A)",
    "A: matrix(n,m); diag(A)",
    "A: matrix(n,m); A^2",
    "A: matrix(2,3); eye + A",
    "a/x",
    "A/B",
    "A^0.5",
    "x^y",
    "x: vector(2); y: vector(3); x.^y",
    "vector(x)",
    "matrix(A)",
    "eye(2.5)",
])
def test_other_shape_errors(text):
    with pytest.raises(mdiff.ShapeError) as info:
        mdiff.parse(text)
    assert info.value.line == 1 and info.value.column >= 1


def test_square_function_error_names_shape():
    with pytest.raises(mdiff.ShapeError) as info:
        mdiff.parse("A: matrix(n,m); inv(A)")
    assert "n×m" in info.value.message


# --- declarations that contradict themselves --------------------------------------------------

@pytest.mark.parametrize("prop", ["symmetric", "spd", "diagonal"])
def test_structured_declaration_of_non_square_matrix_is_an_error(prop):
    with pytest.raises(mdiff.DeclarationError) as info:
        mdiff.parse(f"A: matrix(2,3) {prop}; A")
    assert "square" in info.value.message
    with pytest.raises(mdiff.DeclarationError):
        mdiff.parse(f"A: matrix(n,m) {prop}; x'*A*y")
    with pytest.raises(mdiff.DeclarationError):
        mdiff.parse("A", {"A": f"matrix(2,3) {prop}"})


def test_non_square_symmetric_declaration_rejected_even_if_unused():
    with pytest.raises(mdiff.DeclarationError):
        mdiff.parse("A: matrix(2,3) symmetric; x")


def test_structured_vector_declaration_is_an_error():
    with pytest.raises(mdiff.DeclarationError):
        mdiff.parse("x: vector(n) symmetric; x")


def test_wrong_number_of_dimensions_is_an_error():
    for text in ("x: vector(n,m); x", "A: matrix(n); A", "c: scalar(n); c"):
        with pytest.raises(mdiff.DeclarationError):
            mdiff.parse(text)


def test_declared_shape_conflict_with_use():
    with pytest.raises(mdiff.ShapeError):
        mdiff.parse("A: matrix(2,3); x: vector(2); A*x")


# --- Parsed.symbols() / describe_shapes() -------------------------------------------------------

def test_symbols_lists_every_variable_in_order():
    p = mdiff.parse("x'*A*x")
    assert p.symbols() == {"x": "vector(n)", "A": "matrix(n,n)"}
    assert p.describe_shapes() == "x: vector(n), A: matrix(n,n)"


def test_symbols_keep_declared_names_and_properties():
    p = mdiff.parse("S: matrix(k,k) spd; x: vector(k) positive; c: scalar; c*x'*S*x")
    sym = p.symbols()
    assert sym["S"] == "matrix(k,k) spd"
    assert sym["x"] == "vector(k) positive"
    assert sym["c"] == "scalar"
    assert "S: matrix(k,k) spd" in p.describe_shapes()


def test_symbols_are_valid_declarations():
    for text in ("W1*x + b1", "A: matrix(n,n) symmetric; x'*A*x", "u'*inv(X)*v",
                 "a'*inv(X)*b", "A: matrix(2,3); A*x"):
        p = mdiff.parse(text)
        q = mdiff.parse(text, None)
        assert p.symbols() == q.symbols()
        # every entry reads back as a declaration of the same kind and shape
        for name, spec in p.symbols().items():
            r = mdiff.parse(name, {name: spec})
            assert r.variables[name].shape == p.variables[name].shape
            assert r.variables[name].props == p.variables[name].props


def test_symbols_of_kron_context_are_valid_declarations():
    p = mdiff.parse("A ⊗ B*C")
    for name, spec in p.symbols().items():
        r = mdiff.parse(name, {name: spec})
        assert r.variables[name].shape == p.variables[name].shape


def test_shape_property_and_kind():
    p = mdiff.parse("A*x")
    assert p.shape == p.expr.shape
    assert p.expr.kind == "vector"
    assert mdiff.parse("x'*x").expr.kind == "scalar"
    assert mdiff.parse("x*x'").expr.kind == "matrix"


def test_dims_are_symbols():
    p = mdiff.parse("A: matrix(n,m); A*x")
    assert set(p.dims) == {n_("n"), n_("m")}
    assert all(d.is_Symbol for d in p.dims)


@pytest.mark.parametrize("text, shapes", [
    ("tr(X ⊗ X)", {"X": "matrix(n,n)"}),                        # ?1^2 = ?2^2: X is square
    ("A: matrix(m,m); tr(kron(A, X))", {"X": "matrix(n,n)"}),   # ?1*m = ?2*m: cancel m
    ("A: matrix(m,m); tr(kron(X, A))", {"X": "matrix(n,n)"}),
])
def test_sizes_are_positive_so_powers_and_common_factors_cancel(text, shapes):
    p = mdiff.parse(text)
    for name, spec in shapes.items():
        assert p.symbols()[name] == spec


def test_an_underdetermined_kronecker_trace_says_so():
    with pytest.raises(mdiff.ShapeError, match="tr needs a square matrix"):
        mdiff.parse("A: matrix(m,p); tr(kron(A, X))")
