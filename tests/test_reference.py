"""The fast conv and pool (im2col + Numba) against the readable reference loops."""
import numpy as np
import pytest

from conftest import spread_values
from fercnn.gradient_check import rel_error
from fercnn.layers.reference import (
    conv_backward_naive, conv_forward_naive, max_pool_backward_naive, max_pool_forward_naive,
)


@pytest.mark.parametrize("trial", range(8))
def test_conv_matches_reference(ops, trial):
    rng = np.random.default_rng(trial)
    k = int(rng.choice([1, 3, 5]))
    stride = int(rng.integers(1, 3))
    pad = int(rng.integers(0, 3))
    N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
    # pick H, W so that (H + 2 pad - k) is divisible by the stride
    H = k - 2 * pad + stride * int(rng.integers(max(0, (2 * pad - k) // stride + 1), 6))
    W = k - 2 * pad + stride * int(rng.integers(max(0, (2 * pad - k) // stride + 1), 6))
    H, W = max(H, 1), max(W, 1)
    if (H + 2 * pad - k) % stride or H + 2 * pad < k or W + 2 * pad < k or (W + 2 * pad - k) % stride:
        pytest.skip("shape draw gives no whole output size")
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, k, k))
    b = rng.standard_normal(F)
    out, cache = ops.conv_forward(x, w, b, stride=stride, pad=pad)
    ref, ref_cache = conv_forward_naive(x, w, b, stride=stride, pad=pad)
    assert rel_error(out, ref) < 1e-10, f"forward differs: {rel_error(out, ref):.2e}"
    dout = rng.standard_normal(out.shape)
    for name, g, r in zip(("dx", "dw", "db"), ops.conv_backward(dout, cache), conv_backward_naive(dout, ref_cache)):
        assert rel_error(g, r) < 1e-10, f"{name} differs: {rel_error(g, r):.2e}"


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


def test_conv_float32_matches_reference(ops, rng):
    x = spread_values(rng, (2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out, _ = ops.conv_forward(x, w, b, pad=1)
    ref, _ = conv_forward_naive(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), pad=1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
