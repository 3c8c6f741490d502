import numpy as np
import pytest

from fercnn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse, rel_error


def test_numerical_gradient_of_known_function(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(eval_numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2, rtol=1e-8)


def test_numerical_gradient_array(rng):
    x = rng.standard_normal(5)
    dout = rng.standard_normal(5)
    np.testing.assert_allclose(eval_numerical_gradient_array(np.sin, x, dout), np.cos(x) * dout, rtol=1e-8)


def test_sparse_check_flags_a_wrong_gradient(rng):
    x = rng.standard_normal((20, 20))
    good = grad_check_sparse(lambda v: np.sum(v ** 2), x, 2 * x, num_checks=5, rng=rng)
    bad = grad_check_sparse(lambda v: np.sum(v ** 2), x, 2.1 * x, num_checks=5, rng=rng)
    assert good.max() < 1e-8
    assert bad.min() > 1e-3


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0
    assert rel_error([1.0], [3.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.ones(2), np.ones(3))
