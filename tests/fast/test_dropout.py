"""fercnn/fast/dropout.py: dropout drops the units the readable one drops, bit for bit, and
the fused relu_dropout is relu then dropout, bit for bit, by the same rule; NaN passes."""
import numpy as np
import pytest
from op_registry import keep_mask

import fercnn.fast as fast
import fercnn.layers as layers


def test_dropout_drops_the_same_units_bit_for_bit():
    x = np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32)
    a, _ = layers.dropout_forward(x, 0.37, training=True, rng=np.random.default_rng(5))
    b, _ = fast.dropout_forward(x, 0.37, training=True, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p,training", [(0.3, True), (0.0, True), (0.5, False)])
def test_relu_dropout_equals_relu_then_dropout(dtype, p, training):
    x = np.random.default_rng(3).standard_normal((6, 5, 7, 4)).astype(dtype)
    dout = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    fused, fcache = fast.relu_dropout_forward(x, p, training=training, rng=np.random.default_rng(9))
    r, rcache = layers.relu_forward(x)
    two, dcache = layers.dropout_forward(r, p, training=training, rng=np.random.default_rng(9))
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused, two)
    dx = fast.relu_dropout_backward(dout, fcache)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, layers.relu_backward(layers.dropout_backward(dout, dcache), rcache))


def test_relu_dropout_keeps_what_the_rule_keeps():
    x = np.random.default_rng(1).standard_normal((40, 25))
    out, cache = fast.relu_dropout_forward(x, 0.45, training=True, rng=np.random.default_rng(8))
    passes = keep_mask(8, 0.45, x.shape) & (x > 0)
    np.testing.assert_array_equal(out, np.where(passes, x * (1 / 0.55), 0))
    dout = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_array_equal(fast.relu_dropout_backward(dout, cache), np.where(passes, dout * (1 / 0.55), 0))


def test_relu_and_relu_dropout_keep_nan():
    x = np.array([np.nan, -1.0, 2.0])
    assert np.isnan(layers.relu_forward(x)[0][0]) and np.isnan(fast.relu_forward(x)[0][0])
    out, _ = fast.relu_dropout_forward(x, 1e-9, training=True, rng=np.random.default_rng(0))
    assert np.isnan(out[0]) and out[1] == 0 and out[2] == 2.0 * (1 / (1 - 1e-9))
