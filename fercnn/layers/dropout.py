"""Inverted dropout."""
import numpy as np

from fercnn.backend import get_array_module
from fercnn.layers._checks import check_bool, check_float_array, check_probability, check_shape


def dropout_forward(x, p, *, training, rng):
    """Drop each unit with probability p and scale the kept ones by 1 / (1 - p).

    x: any shape -> out: same shape. Because kept units are scaled at training time
    ("inverted" dropout), E[out] = x and evaluation is the identity.
    rng: numpy.random.Generator that draws the mask; the mask (already scaled) is the
    cache, so backward applies exactly the units that forward kept.
    """
    check_float_array("dropout_forward", "x", x)
    check_probability("dropout_forward", "p", p)
    check_bool("dropout_forward", "training", training)
    if not training or p == 0:
        return x, None
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"dropout_forward: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    xp = get_array_module(x)
    keep = rng.random(x.shape, dtype=x.dtype) >= p
    mask = xp.asarray(keep, dtype=x.dtype)
    mask *= x.dtype.type(1.0 / (1.0 - p))
    return x * mask, mask


def dropout_backward(dout, cache):
    """dout: shape of x -> dx = dout * mask (identity when forward dropped nothing)."""
    mask = cache
    check_float_array("dropout_backward", "dout", dout)
    if mask is None:
        return dout
    check_shape("dropout_backward", "dout", dout, mask.shape)
    return dout * mask
