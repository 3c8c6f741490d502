"""Max pooling (both faces) against the loops of fercnn/layers/reference.py, and where tied
maxima send their gradient. The hand-computed case is in fercnn/exercises/known.py."""
import numpy as np
import pytest

from fercnn.layers.reference import max_pool_backward_naive, max_pool_forward_naive


@pytest.mark.parametrize("size,stride,shape", [
    (2, 2, (3, 4, 8, 6)), (3, 3, (2, 3, 9, 6)), (3, 1, (2, 2, 7, 5)), (2, 1, (1, 3, 4, 5)), (4, 2, (2, 2, 8, 10)),
])
def test_pool_matches_reference(ops, size, stride, shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    out, cache = ops.max_pool_forward(x, size=size, stride=stride)
    ref, ref_cache = max_pool_forward_naive(x, size=size, stride=stride)
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(ops.max_pool_backward(dout, cache), max_pool_backward_naive(dout, ref_cache), rtol=1e-12)


def test_pool_ties_go_to_first_max_only(ops):
    x = np.ones((1, 1, 2, 4))
    x[0, 0, 1, 3] = 1.0  # every window is a four-way tie
    out, cache = ops.max_pool_forward(x)
    dx = ops.max_pool_backward(np.array([[[[2.0, 3.0]]]]), cache)
    want = np.zeros_like(x)
    want[0, 0, 0, 0] = 2.0
    want[0, 0, 0, 2] = 3.0
    np.testing.assert_array_equal(dx, want)
