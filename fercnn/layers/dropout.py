"""Inverted dropout: drop units at random in training, scale the kept ones by 1 / (1 - p)."""
import numpy as np

from fercnn.argcheck import check_dropout_args, check_float_array, check_shape

LEVELS = 1 << 16  # masks come from 16-bit uniform draws: p is applied in steps of 1/65536

# SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014):
# its counter step (2^64 / golden ratio, odd) and the two multipliers of its output mix.
# The fast kernels compile these in (fercnn/fast/_rules.py) and Numba's cache does not see
# a change here: after changing them, delete fercnn/fast/__pycache__.
STEP = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)


def draw_keep(op, p, rng):
    """What a dropout mask is drawn from: (key, threshold, scale).

    key: one uniform 64-bit draw (np.uint64) from rng, the only draw a call makes; unit j
    of the input (C order) then gets the 16-bit draw unit_draws(key, size)[j]. A unit is
    kept when its draw >= threshold = round(p * 65536), so it is dropped with probability
    round(p * 65536) / 65536, within 1/131072 of p, and a kept unit is scaled by
    scale = 1 / (1 - p). Every op that drops units draws through here, readable or fast,
    so that with the same rng they drop the same units.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{op}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    key = np.uint64(rng.integers(0, 1 << 64, dtype=np.uint64))
    return key, int(round(p * LEVELS)), 1.0 / (1.0 - p)


def unit_draws(key, size):
    """key: np.uint64, size -> (size,) uint16: the 16-bit draws of units 0 .. size-1.

    Unit j's draw is the top 16 bits of SplitMix64's output at counter key + (j + 1) * STEP
    (arithmetic modulo 2^64): z -> (z ^ z >> 30) * MIX1 -> (z ^ z >> 27) * MIX2 -> z ^ z >> 31.
    The mix spreads every bit of the counter over every bit of the output, so the draws of
    neighbouring units are independent-looking uniform numbers (the sequence is SplitMix64's
    own, which passes the BigCrush statistical tests). A draw depends only on key and j, so
    the Numba kernels compute each unit's draw where they use it, on every thread, instead
    of drawing an array of them one after another (fercnn.fast._rules.unit_draw).
    """
    z = np.uint64(key) + np.arange(1, size + 1, dtype=np.uint64) * STEP  # uint64 arrays wrap modulo 2^64
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(48)).astype(np.uint16)


def dropout_forward(x, p, *, training, rng):
    """Drop each unit with probability p and scale the kept ones by 1 / (1 - p).

    x: any shape -> out: same shape. Because kept units are scaled at training time
    ("inverted" dropout), E[out] = x, and evaluation (training=False) is the identity.
    rng: numpy.random.Generator (see draw_keep). cache = (keep mask, scale, x's shape), so
    backward passes exactly the units forward kept; the mask is None when nothing was
    dropped (evaluation, or p = 0).
    """
    check_dropout_args("dropout_forward", x, p, training)
    if not training or p == 0:
        return x, (None, 1.0, x.shape)
    key, threshold, scale = draw_keep("dropout_forward", p, rng)
    keep = (unit_draws(key, x.size) >= threshold).reshape(x.shape)
    out = x * (x.dtype.type(scale) * keep)
    return out, (keep, scale, x.shape)


def dropout_backward(dout, cache):
    """dout: shape of x -> dx: same shape.

    out = x * scale * keep is linear in x with a fixed mask, so dx = dout * scale * keep:
    dropped units get no gradient. Without a mask (nothing dropped) the op was the identity.
    """
    keep, scale, shape = cache
    check_float_array("dropout_backward", "dout", dout)
    check_shape("dropout_backward", "dout", dout, shape)
    if keep is None:
        return dout
    return dout * (dout.dtype.type(scale) * keep)
