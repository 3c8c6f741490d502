"""Every op returns the dtype it was given: float32 stays float32, float64 stays float64."""
import numpy as np
import pytest

from conftest import spread_values


def _run_all(ops, dt, rng):
    """Forward and backward of every op in dtype dt; yields (name, array or scalar)."""
    x4 = spread_values(rng, (2, 3, 6, 6)).astype(dt)
    x2 = rng.standard_normal((4, 5)).astype(dt)
    w4 = rng.standard_normal((2, 3, 3, 3)).astype(dt)
    b2 = rng.standard_normal(2).astype(dt)
    out, c = ops.conv_forward(x4, w4, b2, pad=1)
    yield "conv out", out
    yield from (("conv grad", g) for g in ops.conv_backward(out, c))
    out, c = ops.max_pool_forward(x4)
    yield "pool out", out
    yield "pool dx", ops.max_pool_backward(out, c)
    out, c = ops.affine_forward(x2, rng.standard_normal((5, 3)).astype(dt), np.zeros(3, dt))
    yield "affine out", out
    yield from (("affine grad", g) for g in ops.affine_backward(out, c))
    out, c = ops.relu_forward(x2)
    yield "relu out", out
    yield "relu dx", ops.relu_backward(out, c)
    for training in (True, False):
        state = {}
        out, c = ops.batchnorm_forward(x2, np.ones(5, dt), np.zeros(5, dt), state, training=training)
        yield "bn out", out
        yield from (("bn grad", g) for g in ops.batchnorm_backward(out, c))
        yield from (("bn state", v) for v in state.values())
        out, c = ops.spatial_batchnorm_forward(x4, np.ones(3, dt), np.zeros(3, dt), {}, training=training)
        yield "sbn out", out
        yield from (("sbn grad", g) for g in ops.spatial_batchnorm_backward(out, c))
    out, c = ops.dropout_forward(x2, 0.3, training=True, rng=rng)
    yield "dropout out", out
    yield "dropout dx", ops.dropout_backward(out, c)
    for loss_fn in (ops.softmax_loss, ops.svm_loss):
        loss, ds = loss_fn(x2, np.array([0, 1, 2, 3]))
        yield f"{loss_fn.__name__} loss", np.asarray(loss)
        yield f"{loss_fn.__name__} dscores", ds
    if not hasattr(ops, "relu_dropout_forward"):  # the fused ops are fast-only
        return
    out, c = ops.relu_dropout_forward(x4, 0.3, training=True, rng=rng)
    yield "relu_dropout out", out
    yield "relu_dropout dx", ops.relu_dropout_backward(out, c)
    for x in (x2, x4):
        state = {}
        out, c = ops.batchnorm_relu_dropout_forward(x, np.ones(x.shape[1], dt), np.zeros(x.shape[1], dt), state, 0.3,
                                                training=True, rng=rng)
        yield "bn_relu_dropout out", out
        yield from (("bn_relu_dropout grad", g) for g in ops.batchnorm_relu_dropout_backward(out, c))
        yield from (("bn_relu_dropout state", v) for v in state.values())


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_every_op_keeps_dtype(ops, rng, dt):
    results = list(_run_all(ops, dt, rng))
    assert len(results) > 30
    for name, a in results:
        assert a.dtype == dt, f"{name}: expected {np.dtype(dt)}, got {a.dtype}"
