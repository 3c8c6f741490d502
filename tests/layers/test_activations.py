"""ReLU: the rule at and around the kink, by hand (both faces; the registry checks the rest)."""
import numpy as np


def test_hand_computed(ops):
    x = np.array([[-2.0, -0.0, 0.0, 1e-300, 3.0]])
    out, cache = ops.relu_forward(x)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 0.0, 1e-300, 3.0]])
    # the gradient passes where x > 0 only: at 0 (either sign) it is 0
    dx = ops.relu_backward(np.array([[1.0, 2.0, 3.0, 4.0, 5.0]]), cache)
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 0.0, 4.0, 5.0]])


def test_forward_does_not_change_its_input(ops, rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    ops.relu_forward(x)
    np.testing.assert_array_equal(x, before)
