"""Numerical gradient checks (float64, random upstream gradient) of every backward pass."""
import numpy as np
import pytest

from conftest import assert_grad_close, numeric_grads, spread_values
from fercnn.gradient_check import eval_numerical_gradient
from fercnn.layers import (
    affine_backward, affine_forward, batchnorm_backward, batchnorm_forward, conv_backward, conv_forward,
    dropout_backward, dropout_forward, max_pool_backward, max_pool_forward, relu_backward, relu_forward,
    softmax_loss, spatial_batchnorm_backward, spatial_batchnorm_forward, svm_loss,
)


def test_affine(rng):
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    out, cache = affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    got = affine_backward(dout, cache)
    want = numeric_grads(lambda x, w, b: affine_forward(x, w, b)[0], [x, w, b], dout)
    for name, g, n in zip(("dx", "dw", "db"), got, want):
        assert_grad_close(name, g, n)


def test_relu(rng):
    x = rng.standard_normal((5, 7))
    x[np.abs(x) < 0.05] = 0.5  # away from the kink
    out, cache = relu_forward(x)
    dout = rng.standard_normal(out.shape)
    (num,) = numeric_grads(lambda x: relu_forward(x)[0], [x], dout)
    assert_grad_close("dx", relu_backward(dout, cache), num)


@pytest.mark.parametrize("stride,pad,k,shape", [
    (1, 0, 1, (2, 3, 5, 6)),
    (1, 1, 3, (2, 3, 5, 7)),
    (2, 1, 3, (2, 2, 7, 9)),
    (1, 2, 5, (2, 2, 6, 5)),
    (2, 2, 5, (1, 3, 7, 9)),
    (2, 0, 3, (2, 2, 7, 5)),
])
def test_conv(rng, stride, pad, k, shape):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((3, shape[1], k, k))
    b = rng.standard_normal(3)
    out, cache = conv_forward(x, w, b, stride=stride, pad=pad)
    dout = rng.standard_normal(out.shape)
    got = conv_backward(dout, cache)
    want = numeric_grads(lambda x, w, b: conv_forward(x, w, b, stride=stride, pad=pad)[0], [x, w, b], dout)
    for name, g, n in zip(("dx", "dw", "db"), got, want):
        assert_grad_close(f"conv {name}", g, n)


@pytest.mark.parametrize("size,stride,shape", [(2, 2, (2, 3, 6, 8)), (3, 1, (2, 2, 5, 6)), (3, 2, (1, 2, 7, 5))])
def test_max_pool(rng, size, stride, shape):
    x = spread_values(rng, shape)
    out, cache = max_pool_forward(x, size=size, stride=stride)
    dout = rng.standard_normal(out.shape)
    (num,) = numeric_grads(lambda x: max_pool_forward(x, size=size, stride=stride)[0], [x], dout)
    assert_grad_close("dx", max_pool_backward(dout, cache), num)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(rng, training):
    x = 3 * rng.standard_normal((8, 5)) + 2
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    state = {"running_mean": rng.standard_normal(5), "running_var": rng.random(5) + 0.5}

    def fwd(x, gamma, beta):
        return batchnorm_forward(x, gamma, beta, dict((k, v.copy()) for k, v in state.items()),
                                 training=training)[0]

    out, cache = batchnorm_forward(x, gamma, beta, dict(state), training=training)
    dout = rng.standard_normal(out.shape)
    got = batchnorm_backward(dout, cache)
    want = numeric_grads(fwd, [x, gamma, beta], dout)
    for name, g, n in zip(("dx", "dgamma", "dbeta"), got, want):
        assert_grad_close(f"bn {name}", g, n)


@pytest.mark.parametrize("training", [True, False])
def test_spatial_batchnorm(rng, training):
    x = 2 * rng.standard_normal((3, 4, 3, 5)) - 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    state = {"running_mean": rng.standard_normal(4), "running_var": rng.random(4) + 0.5}

    def fwd(x, gamma, beta):
        return spatial_batchnorm_forward(x, gamma, beta, dict((k, v.copy()) for k, v in state.items()),
                                         training=training)[0]

    out, cache = spatial_batchnorm_forward(x, gamma, beta, dict(state), training=training)
    dout = rng.standard_normal(out.shape)
    got = spatial_batchnorm_backward(dout, cache)
    want = numeric_grads(fwd, [x, gamma, beta], dout)
    for name, g, n in zip(("dx", "dgamma", "dbeta"), got, want):
        assert_grad_close(f"sbn {name}", g, n)


def test_dropout(rng):
    x = rng.standard_normal((6, 10))
    seed = 7
    out, cache = dropout_forward(x, 0.4, training=True, rng=np.random.default_rng(seed))
    dout = rng.standard_normal(out.shape)
    # the same seed redraws the same mask, so the function is deterministic in x
    (num,) = numeric_grads(
        lambda x: dropout_forward(x, 0.4, training=True, rng=np.random.default_rng(seed))[0], [x], dout)
    assert_grad_close("dx", dropout_backward(dout, cache), num)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_losses(rng, loss_fn):
    scores = rng.standard_normal((9, 7))
    y = rng.integers(0, 7, size=9)
    _, dscores = loss_fn(scores, y)
    num = eval_numerical_gradient(lambda s: loss_fn(s, y)[0], scores)
    assert_grad_close(loss_fn.__name__, dscores, num)
