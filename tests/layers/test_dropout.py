"""Inverted dropout (both faces): the exact keep rule and scale, how precisely p is honoured,
evaluation, the mask in backward.

The rule (README, "The layers"; fercnn.layers.dropout.draw_keep): a call draws one 64-bit key
from the rng; unit j (C order) gets the 16-bit draw unit_draws(key, size)[j], the top bits of
SplitMix64's output at counter key + (j + 1) * step; it is kept when its draw
>= round(p * 65536), and a kept unit is multiplied by 1 / (1 - p). tests/op_registry.py
states it once more on its own (keep_mask), and the tests hold every op that drops units
to that statement.
"""
import numpy as np
import pytest
from op_registry import keep_mask

from fercnn.layers.dropout import unit_draws


@pytest.mark.parametrize("layout", ["C order", "transposed view"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.37, 0.5, 0.8])
def test_keeps_what_the_rule_keeps_and_scales_by_one_over_one_minus_p(ops, p, dt, layout):
    """Units are numbered in C order of x's shape, whatever its memory layout."""
    shape, seed = (37, 23), int(p * 100)
    x = (np.random.default_rng(0).standard_normal(shape) + 5).astype(dt)  # no zeros of its own
    if layout == "transposed view":
        x = np.ascontiguousarray(x.T).T  # the same values, stored column by column
    keep = keep_mask(seed, p, shape)
    out, cache = ops.dropout_forward(x, p, training=True, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(out, np.where(keep, x * dt(1 / (1 - p)), 0))
    dout = np.random.default_rng(1).standard_normal(shape).astype(dt)
    np.testing.assert_array_equal(ops.dropout_backward(dout, cache), np.where(keep, dout * dt(1 / (1 - p)), 0))


def test_the_draws_are_splitmix64s_outputs():
    """SplitMix64's first five outputs from seed 1234567, as listed by the Rosetta Code task
    "Pseudo-random numbers/Splitmix64", cut to their top 16 bits."""
    published = [6457827717110365317, 3203168211198807973, 9817491932198370423,
                 4593380528125082431, 16408922859458223821]
    np.testing.assert_array_equal(unit_draws(np.uint64(1234567), 5), [v >> 48 for v in published])


def test_the_draws_are_uniform_over_all_65536_values():
    """2^22 units' draws under one key: a chi-square test over the 65536 values (65535
    degrees of freedom: mean 65535, standard deviation 362), within 6 deviations. With
    uniform draws a unit is dropped with probability round(p * 65536) / 65536."""
    counts = np.bincount(unit_draws(np.uint64(2026), 1 << 22), minlength=1 << 16)
    expected = (1 << 22) / (1 << 16)
    chi2 = float(np.sum((counts - expected) ** 2) / expected)
    assert abs(chi2 - 65535) < 6 * np.sqrt(2 * 65535), f"chi-square {chi2:.0f}"


@pytest.mark.parametrize("p", [3 / 65536, 1 / 512, 0.1, 0.3, 0.5, 0.75, 0.9, 0.99])
def test_the_threshold_is_round_p_times_65536_and_a_draw_at_it_is_kept(ops, p):
    """A unit is dropped exactly when its draw is below round(p * 65536): units whose draw
    is one below that are dropped, units whose draw equals it are kept. With the draws
    uniform, the probability of a drop is within 1/131072 of p, for any p. (8-bit draws
    would get p = 1/512 wrong by 100%.)"""
    n, seed, threshold = 1 << 20, 3, round(p * 65536)
    draws = unit_draws(np.random.default_rng(seed).integers(0, 1 << 64, dtype=np.uint64), n)
    out, _ = ops.dropout_forward(np.ones(n), p, training=True, rng=np.random.default_rng(seed))
    dropped = out == 0
    assert (draws == threshold - 1).any() and (draws == threshold).any(), "both sides of the threshold occur"
    assert dropped[draws == threshold - 1].all() and not dropped[draws == threshold].any()
    np.testing.assert_array_equal(dropped, draws < threshold)


def test_fraction_dropped_and_expectation(rng):
    """A real Generator: within 5 standard deviations of p, and E[out] = x."""
    import fercnn.layers as layers

    n = 500 * 400
    x = np.ones((500, 400))
    for p in (0.25, 0.5, 0.8, 1 / 512):
        out, _ = layers.dropout_forward(x, p, training=True, rng=rng)
        dropped = np.mean(out == 0)
        sigma = np.sqrt(p * (1 - p) / n)
        assert abs(dropped - p) < 5 * sigma, f"p={p}: dropped {dropped:.5f}, {abs(dropped - p) / sigma:.1f} sigma off"
        assert abs(out.mean() - 1.0) < 5 * sigma / (1 - p), f"p={p}: mean {out.mean():.4f}, expected 1"
        np.testing.assert_allclose(out[out != 0], 1 / (1 - p))


def test_identity_in_eval(ops, rng):
    x = rng.standard_normal((10, 10))
    state = rng.bit_generator.state
    out, cache = ops.dropout_forward(x, 0.7, training=False, rng=rng)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(ops.dropout_backward(np.ones_like(x), cache), np.ones_like(x))
    assert rng.bit_generator.state == state, "evaluation drew random numbers"


@pytest.mark.parametrize("training,p", [(False, 0.7), (True, 0.0), (True, 0.5)])
def test_backward_refuses_a_dout_of_another_shape(ops, rng, training, p):
    """Also when nothing was dropped: the cache keeps x's shape either way."""
    x = rng.standard_normal((4, 5))
    _, cache = ops.dropout_forward(x, p, training=training, rng=rng)
    with pytest.raises(ValueError, match=r"dropout_backward: dout must have shape \(4, 5\), got \(5, 4\)"):
        ops.dropout_backward(rng.standard_normal((5, 4)), cache)


def test_backward_uses_forward_mask(ops, rng):
    x = rng.standard_normal((50, 40)) + 10  # no zeros of its own
    out, cache = ops.dropout_forward(x, 0.5, training=True, rng=rng)
    dout = rng.standard_normal(x.shape)
    dx = ops.dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], 2 * dout[out != 0])


def test_same_seed_same_mask(ops):
    x = np.ones((30, 30), dtype=np.float32)
    a, _ = ops.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(3))
    b, _ = ops.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(3))
    c, _ = ops.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_p_zero_is_identity(ops, rng):
    x = rng.standard_normal((4, 4))
    out, _ = ops.dropout_forward(x, 0.0, training=True, rng=rng)
    np.testing.assert_array_equal(out, x)
