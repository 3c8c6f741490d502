"""The fast fused batchnorm_relu_dropout_* computes what the three readable ops of
fercnn.layers compute one after another, with the same rng."""
import numpy as np
import pytest

from conftest import assert_grad_close, numeric_grads
from fercnn.fast import batchnorm_relu_dropout_backward, batchnorm_relu_dropout_forward
from fercnn.layers import (
    batchnorm_backward, batchnorm_forward, dropout_backward, dropout_forward, relu_backward, relu_forward,
    spatial_batchnorm_backward, spatial_batchnorm_forward,
)


def separate(x, gamma, beta, state, p, training, seed):
    """The three ops one after another, and a backward through them."""
    bn_fwd, bn_bwd = ((spatial_batchnorm_forward, spatial_batchnorm_backward) if x.ndim == 4
                      else (batchnorm_forward, batchnorm_backward))
    h, c1 = bn_fwd(x, gamma, beta, state, training=training)
    r, c2 = relu_forward(h)
    out, c3 = dropout_forward(r, p, training=training, rng=np.random.default_rng(seed))

    def backward(dout):
        return bn_bwd(relu_backward(dropout_backward(dout, c3), c2), c1)
    return out, backward


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 6, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p,training", [(0.3, True), (0.0, True), (0.5, False)])
def test_same_numbers_as_the_separate_ops(shape, dtype, p, training):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    C = shape[1]
    gamma = rng.uniform(0.5, 1.5, C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    warm = {"running_mean": rng.standard_normal(C).astype(dtype), "running_var": rng.uniform(0.5, 2, C).astype(dtype)}
    s1, s2 = {k: v.copy() for k, v in warm.items()}, {k: v.copy() for k, v in warm.items()}

    out, cache = batchnorm_relu_dropout_forward(x, gamma, beta, s1, p, training=training,
                                                rng=np.random.default_rng(5))
    ref, ref_backward = separate(x, gamma, beta, s2, p, training, 5)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert out.dtype == dtype
    np.testing.assert_array_equal(out == 0, ref == 0)  # the same units dropped or cut by ReLU
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    for k in warm:
        np.testing.assert_allclose(s1[k], s2[k], rtol=tol)
    for name, got, want in zip(("dx", "dgamma", "dbeta"), batchnorm_relu_dropout_backward(dout, cache),
                               ref_backward(dout)):
        assert got.dtype == dtype, name
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max(), err_msg=name)


def test_gradient(rng):
    x = rng.standard_normal((5, 2, 3, 4)) + 0.3
    gamma, beta = rng.uniform(0.5, 1.5, 2), rng.standard_normal(2)
    dout = rng.standard_normal(x.shape)

    def f(x, gamma, beta):
        return batchnorm_relu_dropout_forward(x, gamma, beta, {}, 0.3, training=True, rng=np.random.default_rng(2))[0]
    _, cache = batchnorm_relu_dropout_forward(x, gamma, beta, {}, 0.3, training=True, rng=np.random.default_rng(2))
    for name, got, num in zip(("dx", "dgamma", "dbeta"), batchnorm_relu_dropout_backward(dout, cache),
                              numeric_grads(f, [x, gamma, beta], dout)):
        assert_grad_close(name, got, num, tol=1e-6)


def test_bad_input_named():
    x, g, b = np.zeros((4, 3)), np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match=r"batchnorm_relu_dropout_forward: x must be \(N, D\) or \(N, C, H, W\), got"):
        batchnorm_relu_dropout_forward(np.zeros((4, 3, 2)), g, b, {}, 0.5, training=True, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="batchnorm_relu_dropout_forward: rng must be a numpy.random.Generator"):
        batchnorm_relu_dropout_forward(x, g, b, {}, 0.5, training=True, rng=None)
    with pytest.raises(ValueError, match=r"batchnorm_relu_dropout_forward: p must be in \[0, 1\), got 1"):
        batchnorm_relu_dropout_forward(x, g, b, {}, 1, training=True, rng=np.random.default_rng())
    with pytest.raises(ValueError, match=r"batchnorm_relu_dropout_forward: gamma must have shape \(3,\)"):
        batchnorm_relu_dropout_forward(x, np.ones(4), b, {}, 0.5, training=False)
    _, cache = batchnorm_relu_dropout_forward(x, g, b, {}, 0.0, training=False)
    with pytest.raises(ValueError, match=r"batchnorm_relu_dropout_backward: dout must have shape \(4, 3\)"):
        batchnorm_relu_dropout_backward(np.zeros((4, 2)), cache)
