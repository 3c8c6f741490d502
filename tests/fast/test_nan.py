"""NaN and inf go through every face of ReLU and dropout alike: the readable ops, the fast
ones and the fused ones. The rule (fercnn.fast._rules): ReLU lets NaN through, forward and
backward; masks multiply, so no op turns a NaN into a number."""
import numpy as np
import pytest

import fercnn.fast as fast
import fercnn.layers as readable

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0

SPECIAL = [np.nan, -np.inf, np.inf, -1.5, 0.0, 2.5]


def _with_specials(rng, shape, dtype):
    """Random values with NaN, +-inf, a negative, 0 and a positive in the first places."""
    a = rng.standard_normal(shape)
    flat = a.reshape(-1)
    flat[:len(SPECIAL)] = SPECIAL
    return a.astype(dtype)


def _same(got, want, what):
    assert got.dtype == want.dtype, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN in other places")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_faces_agree_on_nan(dtype):
    rng = np.random.default_rng(0)
    x = _with_specials(rng, (4, 6), dtype)
    dout = _with_specials(rng, (4, 6), dtype)[::-1].copy()  # NaN gradients at other units than NaN inputs
    outs, dxs = [], []
    for ops in (readable, fast):
        out, cache = ops.relu_forward(x)
        outs.append(out)
        dxs.append(ops.relu_backward(dout, cache))
    _same(outs[1], outs[0], "relu forward")
    _same(dxs[1], dxs[0], "relu backward")
    assert np.isnan(outs[0].flat[0]) and outs[0].flat[1] == 0 and outs[0].flat[2] == np.inf
    assert dxs[0].flat[0] == dout.flat[0]  # the gradient passes where x is NaN
    assert np.isnan(dxs[0][np.isnan(dout)]).all()  # a NaN gradient stays NaN, even where ReLU blocks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.0, 0.5])
def test_dropout_and_relu_dropout_faces_agree_on_nan(dtype, p):
    rng = np.random.default_rng(1)
    x = _with_specials(rng, (6, 8), dtype)
    dout = _with_specials(rng, (6, 8), dtype)[::-1].copy()
    results = {}
    for name, ops in (("readable", readable), ("fast", fast)):
        out, cache = ops.dropout_forward(x, p, training=True, rng=np.random.default_rng(7))
        results[name] = out, ops.dropout_backward(dout, cache)
    # relu then dropout, as two readable ops, and as the fused fast op
    r, rcache = readable.relu_forward(x)
    d, dcache = readable.dropout_forward(r, p, training=True, rng=np.random.default_rng(7))
    results["relu+dropout"] = d, readable.relu_backward(readable.dropout_backward(dout, dcache), rcache)
    out, cache = fast.relu_dropout_forward(x, p, training=True, rng=np.random.default_rng(7))
    results["relu_dropout"] = out, fast.relu_dropout_backward(dout, cache)
    for what in ("fast", "relu_dropout"):
        want = results["readable" if what == "fast" else "relu+dropout"]
        _same(results[what][0], want[0], f"{what} forward")
        _same(results[what][1], want[1], f"{what} backward")
    assert np.isnan(results["readable"][0].flat[0])  # NaN stays NaN, dropped or kept


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(12, 4), (3, 4, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_relu_dropout_agrees_with_the_readable_ops_on_nan(dtype, shape, training):
    """Training: a NaN in x makes its channel's batch statistics, and so all of it, NaN.
    Evaluation: the statistics are constant, so the NaN stays at its unit, dx too."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 0] = np.nan
    dout = rng.standard_normal(shape).astype(dtype)
    dout[1, 2] = np.nan  # channel 2: a NaN gradient, at a unit that is dropped or not
    C = shape[1]
    gamma, beta = rng.uniform(0.5, 1.5, C).astype(dtype), rng.standard_normal(C).astype(dtype)
    bn = "spatial_batchnorm" if len(shape) == 4 else "batchnorm"
    h, c1 = getattr(readable, f"{bn}_forward")(x, gamma, beta, {}, training=training)
    r, c2 = readable.relu_forward(h)
    want, c3 = readable.dropout_forward(r, 0.4, training=training, rng=np.random.default_rng(3))
    grads = getattr(readable, f"{bn}_backward")(
        readable.relu_backward(readable.dropout_backward(dout, c3), c2), c1)
    got, cache = fast.batchnorm_relu_dropout_forward(x, gamma, beta, {}, 0.4, training=training,
                                                     rng=np.random.default_rng(3))
    _same(got, want, "forward")
    for name, g, w in zip(("dx", "dgamma", "dbeta"), fast.batchnorm_relu_dropout_backward(dout, cache), grads):
        _same(g, w, name)
    assert np.isnan(got[:, 0]).all() == training and not np.isnan(got[:, 1]).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size,stride", [(2, 2), (3, 1)])
def test_max_pool_faces_agree_on_nan(dtype, size, stride):
    """A window's first NaN is its maximum (np.argmax's rule), in every face; the gradient goes there."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two NaN in one window: the first in scan order wins
    x[1, 2, 3, 3] = np.inf
    x[1, 1, 4, 5] = np.nan  # last place of a window
    dout = rng.standard_normal(readable.max_pool_forward(x, size=size, stride=stride)[0].shape).astype(dtype)
    results = []
    for ops in (readable, fast):
        out, cache = ops.max_pool_forward(x, size=size, stride=stride)
        results.append((out, ops.max_pool_backward(dout, cache)))
    _same(results[1][0], results[0][0], "max-pool forward")
    _same(results[1][1], results[0][1], "max-pool backward")
    assert np.isnan(results[0][0][0, 0, 0, 0]) and np.isnan(results[0][0][1, 1]).any()
    if size == stride:  # one window holds both NaN: the first took the gradient
        assert results[0][1][0, 0, 0, 1] != 0 and results[0][1][0, 0, 1, 0] == 0
