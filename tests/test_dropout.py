import numpy as np
import pytest

from conftest import assert_grad_close, numeric_grads, spread_values
from fercnn.fast import relu_dropout_backward, relu_dropout_forward
from fercnn.layers import dropout_backward, dropout_forward, relu_backward, relu_forward


def test_identity_in_eval(rng):
    x = rng.standard_normal((10, 10))
    out, cache = dropout_forward(x, 0.7, training=False, rng=rng)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(np.ones_like(x), cache), np.ones_like(x))


def test_fraction_dropped_and_expectation(rng):
    x = np.ones((500, 400))
    for p in (0.25, 0.5, 0.8):
        out, _ = dropout_forward(x, p, training=True, rng=rng)
        dropped = np.mean(out == 0)
        assert abs(dropped - p) < 0.01, f"p={p}: dropped {dropped:.4f}"
        assert abs(out.mean() - 1.0) < 0.02, f"p={p}: mean {out.mean():.4f}, expected 1"
        np.testing.assert_allclose(out[out != 0], 1 / (1 - p))


def test_backward_uses_forward_mask(rng):
    x = rng.standard_normal((50, 40)) + 10  # no zeros of its own
    out, cache = dropout_forward(x, 0.5, training=True, rng=rng)
    dout = rng.standard_normal(x.shape)
    dx = dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], 2 * dout[out != 0])


def test_same_seed_same_mask():
    x = np.ones((30, 30), dtype=np.float32)
    a, _ = dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(3))
    b, _ = dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(3))
    c, _ = dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_p_zero_is_identity(rng):
    x = rng.standard_normal((4, 4))
    out, _ = dropout_forward(x, 0.0, training=True, rng=rng)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p,training", [(0.3, True), (0.0, True), (0.5, False)])
def test_relu_dropout_equals_relu_then_dropout(dtype, p, training):
    x = np.random.default_rng(3).standard_normal((6, 5, 7, 4)).astype(dtype)
    dout = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    fused, fcache = relu_dropout_forward(x, p, training=training, rng=np.random.default_rng(9))
    r, rcache = relu_forward(x)
    two, dcache = dropout_forward(r, p, training=training, rng=np.random.default_rng(9))
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused, two)
    dx = relu_dropout_backward(dout, fcache)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, relu_backward(dropout_backward(dout, dcache), rcache))


def test_relu_dropout_gradient(rng):
    x = spread_values(rng, (4, 3, 5))  # no value at ReLU's kink
    dout = rng.standard_normal(x.shape)
    _, cache = relu_dropout_forward(x, 0.4, training=True, rng=np.random.default_rng(5))
    (num,) = numeric_grads(lambda x: relu_dropout_forward(x, 0.4, training=True, rng=np.random.default_rng(5))[0],
                           [x], dout)
    assert_grad_close("dx", relu_dropout_backward(dout, cache), num)


def test_relu_dropout_rejects_bad_input():
    with pytest.raises(ValueError, match=r"relu_dropout_forward: p must be in \[0, 1\), got 1.5"):
        relu_dropout_forward(np.zeros(3), 1.5, training=True, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="relu_dropout_forward: rng must be a numpy.random.Generator, got int"):
        relu_dropout_forward(np.zeros(3), 0.5, training=True, rng=3)


def test_relu_and_relu_dropout_keep_nan():
    x = np.array([np.nan, -1.0, 2.0])
    assert np.isnan(relu_forward(x)[0][0])
    out, _ = relu_dropout_forward(x, 1e-9, training=True, rng=np.random.default_rng(0))
    assert np.isnan(out[0]) and out[1] == 0
