"""Every op returns the dtype it was given: float32 stays float32, float64 stays float64."""
import numpy as np
import pytest

from conftest import spread_values
from fercnn.layers import (
    affine_backward, affine_forward, batchnorm_backward, batchnorm_forward, batchnorm_relu_dropout_backward,
    batchnorm_relu_dropout_forward, conv_backward, conv_forward, dropout_backward, dropout_forward, max_pool_backward,
    max_pool_forward, relu_backward, relu_dropout_backward, relu_dropout_forward, relu_forward, softmax_loss,
    spatial_batchnorm_backward, spatial_batchnorm_forward, svm_loss,
)


def _run_all(dt, rng):
    """Forward and backward of every op in dtype dt; yields (name, array or scalar)."""
    x4 = spread_values(rng, (2, 3, 6, 6)).astype(dt)
    x2 = rng.standard_normal((4, 5)).astype(dt)
    w4 = rng.standard_normal((2, 3, 3, 3)).astype(dt)
    b2 = rng.standard_normal(2).astype(dt)
    out, c = conv_forward(x4, w4, b2, pad=1)
    yield "conv out", out
    yield from (("conv grad", g) for g in conv_backward(out, c))
    out, c = max_pool_forward(x4)
    yield "pool out", out
    yield "pool dx", max_pool_backward(out, c)
    out, c = affine_forward(x2, rng.standard_normal((5, 3)).astype(dt), np.zeros(3, dt))
    yield "affine out", out
    yield from (("affine grad", g) for g in affine_backward(out, c))
    out, c = relu_forward(x2)
    yield "relu out", out
    yield "relu dx", relu_backward(out, c)
    for training in (True, False):
        state = {}
        out, c = batchnorm_forward(x2, np.ones(5, dt), np.zeros(5, dt), state, training=training)
        yield "bn out", out
        yield from (("bn grad", g) for g in batchnorm_backward(out, c))
        yield from (("bn state", v) for v in state.values())
        out, c = spatial_batchnorm_forward(x4, np.ones(3, dt), np.zeros(3, dt), {}, training=training)
        yield "sbn out", out
        yield from (("sbn grad", g) for g in spatial_batchnorm_backward(out, c))
    out, c = dropout_forward(x2, 0.3, training=True, rng=rng)
    yield "dropout out", out
    yield "dropout dx", dropout_backward(out, c)
    out, c = relu_dropout_forward(x4, 0.3, training=True, rng=rng)
    yield "relu_dropout out", out
    yield "relu_dropout dx", relu_dropout_backward(out, c)
    for x in (x2, x4):
        state = {}
        out, c = batchnorm_relu_dropout_forward(x, np.ones(x.shape[1], dt), np.zeros(x.shape[1], dt), state, 0.3,
                                                training=True, rng=rng)
        yield "bn_relu_dropout out", out
        yield from (("bn_relu_dropout grad", g) for g in batchnorm_relu_dropout_backward(out, c))
        yield from (("bn_relu_dropout state", v) for v in state.values())
    for loss_fn in (softmax_loss, svm_loss):
        loss, ds = loss_fn(x2, np.array([0, 1, 2, 3]))
        yield f"{loss_fn.__name__} loss", np.asarray(loss)
        yield f"{loss_fn.__name__} dscores", ds


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_every_op_keeps_dtype(rng, dt):
    results = list(_run_all(dt, rng))
    assert len(results) > 30
    for name, a in results:
        assert a.dtype == dt, f"{name}: expected {np.dtype(dt)}, got {a.dtype}"
