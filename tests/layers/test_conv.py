"""Convolution (both faces) against the loops of fercnn/layers/reference.py; im2col and col2im
as each other's adjoint; the first layer's skipped dx. The hand-computed cases are in
fercnn/exercises/known.py (tests/exercises/test_known_answers.py)."""
import numpy as np
import pytest
from op_registry import spread_values

from fercnn.gradient_check import rel_error
from fercnn.layers.conv import col2im, im2col
from fercnn.layers.reference import conv_backward_naive, conv_forward_naive


@pytest.mark.parametrize("trial", range(8))
def test_conv_matches_reference(ops, trial):
    rng = np.random.default_rng(trial)
    k = int(rng.choice([1, 3, 5]))
    stride = int(rng.integers(1, 3))
    pad = int(rng.integers(0, 3))
    N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
    # H, W such that (H + 2 pad - k) is a positive multiple of the stride: whole output sizes
    H, W = (k - 2 * pad + stride * int(v) for v in rng.integers(max(1, (2 * pad - k) // stride + 2), 7, size=2))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, k, k))
    b = rng.standard_normal(F)
    out, cache = ops.conv_forward(x, w, b, stride=stride, pad=pad)
    ref, ref_cache = conv_forward_naive(x, w, b, stride=stride, pad=pad)
    assert out.shape == ref.shape
    assert rel_error(out, ref) < 1e-10, f"forward differs: {rel_error(out, ref):.2e}"
    dout = rng.standard_normal(out.shape)
    for name, g, r in zip(("dx", "dw", "db"), ops.conv_backward(dout, cache), conv_backward_naive(dout, ref_cache)):
        assert rel_error(g, r) < 1e-10, f"{name} differs: {rel_error(g, r):.2e}"


def test_conv_float32_matches_reference(ops, rng):
    x = spread_values(rng, (2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out, _ = ops.conv_forward(x, w, b, pad=1)
    ref, _ = conv_forward_naive(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), pad=1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("k,stride,pad", [(3, 1, 1), (5, 2, 2), (3, 2, 0)])
def test_col2im_is_the_adjoint_of_im2col(rng, k, stride, pad):
    """<im2col(x), c> = <x, col2im(c)> for every x and c: col2im sends each column entry back
    to the very pixel im2col copied it from."""
    shape = (2, 3, 7, 9)
    x = rng.standard_normal(shape)
    cols = im2col(x, k, k, stride, pad)
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * col2im(c, shape, k, k, stride, pad)), rtol=1e-12)


def test_first_layer_skips_dx(ops):
    x, w, b = np.ones((2, 1, 5, 5)), np.ones((3, 1, 3, 3)), np.zeros(3)
    out, cache = ops.conv_forward(x, w, b, pad=1)
    dx, dw, db = ops.conv_backward(np.ones_like(out), cache, need_dx=False)
    assert dx is None and dw.shape == w.shape and db.shape == (3,)
    _, dw_full, db_full = ops.conv_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)
