"""Affine layer: a case small enough to compute by hand (both faces; the registry checks the rest)."""
import numpy as np


def test_hand_computed(ops):
    x = np.array([[[1.0], [2.0]], [[0.0], [-1.0]]])  # (N=2, 2, 1): flattens to D=2
    w = np.array([[1.0, 0.0, 2.0], [3.0, -1.0, 0.5]])  # (D=2, M=3)
    b = np.array([0.5, 0.0, -1.0])
    out, cache = ops.affine_forward(x, w, b)
    np.testing.assert_array_equal(out, [[7.5, -2.0, 2.0], [-2.5, 1.0, -1.5]])
    dout = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    dx, dw, db = ops.affine_backward(dout, cache)
    np.testing.assert_array_equal(dx, [[[1.0], [3.0]], [[2.0], [-1.5]]])  # dout @ w.T, in x's shape
    np.testing.assert_array_equal(dw, [[1.0, 0.0, 0.0], [2.0, -2.0, -1.0]])  # x2.T @ dout
    np.testing.assert_array_equal(db, [1.0, 2.0, 1.0])
