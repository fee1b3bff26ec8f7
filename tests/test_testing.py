"""mdiff.testing: users' hand-written derivatives checked against mdiff's."""

import numpy as np
import pytest

from mdiff.testing import assert_gradient, assert_hessian, assert_jacobian


def test_right_gradient_passes():
    assert_gradient(lambda A, x: (A + A.T) @ x, "x'*A*x", wrt="x")
    assert_gradient(lambda A, X, B: A.T @ B.T, "tr(A*X*B)", wrt="X")
    assert_gradient(lambda S: np.linalg.inv(S), "logdet(S)", wrt="S",
                    symbols={"S": "matrix(n,n) spd"})


def test_wrong_gradient_fails_with_a_useful_message():
    with pytest.raises(AssertionError) as info:
        assert_gradient(lambda A, x: 2 * A @ x, "x'*A*x", wrt="x")
    msg = str(info.value)
    assert "largest difference" in msg and "(A + A')*x" in msg and "point:" in msg


def test_wrong_shape_is_reported():
    with pytest.raises(AssertionError, match="shape"):
        assert_gradient(lambda A, x: np.zeros(7), "x'*A*x", wrt="x")


def test_jacobian_and_hessian():
    assert_jacobian(lambda A, X, B: np.kron(B.T, A), "A*X*B", wrt="X")
    assert_jacobian(lambda A, X, B: np.einsum("ik,lj->ijkl", A, B), "A*X*B", wrt="X",
                    layout="tensor")

    def logistic_hessian(X, y, w):
        s = 1 / (1 + np.exp(y * (X @ w)))
        return X.T @ ((y ** 2 * s * (1 - s))[:, None] * X)

    assert_hessian(logistic_hessian, "sum(log(1 + exp(-y .* (X*w))))", wrt="w")
    with pytest.raises(AssertionError):
        assert_hessian(lambda X, y, w: X.T @ X, "sum(log(1 + exp(-y .* (X*w))))", wrt="w")


def test_function_with_kwargs_gets_dimensions():
    def grad(**v):
        return v["D"] @ np.ones(v["N"]) - v["N"] * v["m"]
    assert_gradient(grad, "D: matrix(p,N); m: vector(p); -1/2*norm2(D - m*vector(1)')^2",
                    wrt="m")
