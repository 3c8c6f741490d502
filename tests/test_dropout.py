import numpy as np

from fercnn.layers import dropout_backward, dropout_forward


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
