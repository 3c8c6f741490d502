"""Inverted dropout: drop units at random in training, scale the kept ones by 1 / (1 - p)."""
import numpy as np

from fercnn.checks import check_dropout_args, check_float_array, check_shape

LEVELS = 1 << 16  # masks come from 16-bit uniform draws: p is applied in steps of 1/65536


def draw_keep(op, p, rng, size):
    """The random draws behind a dropout mask: (draws: (size,) uint16, threshold, scale).

    A unit is kept when its draw >= threshold = round(p * 65536), so it is dropped with
    probability round(p * 65536) / 65536, within 1/131072 of p, and a kept unit is scaled by
    scale = 1 / (1 - p). Every op that drops units draws through here, readable or fast,
    so that with the same rng they drop the same units.

    The draws are uniform 64-bit integers cut into four 16-bit ones each, lowest bits first
    (units 4i .. 4i+3 from word i): twice as fast as drawing 16-bit integers one at a time.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{op}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    words = rng.integers(0, 1 << 64, size=-(-size // 4), dtype=np.uint64)
    # "<": lowest bits first on any machine; then native byte order, which the Numba kernels need
    draws = words.astype("<u8", copy=False).view("<u2")[:size].astype(np.uint16, copy=False)
    return draws, int(round(p * LEVELS)), 1.0 / (1.0 - p)


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
    draws, threshold, scale = draw_keep("dropout_forward", p, rng, x.size)
    keep = (draws >= threshold).reshape(x.shape)
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
