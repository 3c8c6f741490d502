"""The rules the fast kernels share, each written once as a small Numba function.

The kernels in _elementwise_kernels.py and _bn_kernels.py call these inside their loops;
``inline="always"`` puts the body in place at compile time, so a rule costs no call.
The readable ops in fercnn.layers state the same rules in NumPy.

NaN: no op hides one. ReLU lets NaN through (a max keeps NaN), forward and backward; the
dropout mask and the gradient's gates multiply instead of selecting, so a NaN or inf under
a 0 of the mask stays non-finite (0 * NaN is NaN), as in the readable ops, which multiply too.
Max-pooling takes a window's first NaN as its maximum, as np.argmax does.
"""
import numpy as np
from numba import njit

from fercnn.layers.dropout import MIX1, MIX2, STEP


@njit(inline="always")
def relu_passes(v):
    """Whether ReLU lets v (and its gradient) through: v > 0, and NaN too, as np.maximum keeps NaN.
    Backward asks it of ReLU's output, which passes exactly where the input did."""
    return not (v <= 0)


@njit(inline="always")
def masked(v, mask, scale):
    """v * scale where mask (a 0/1 flag) is 1, else 0, as a product: NaN and inf in v stay
    non-finite under a 0 (the dropout mask, ReLU's gradient gate)."""
    return v * (scale * mask)


@njit(inline="always")
def unit_draw(key, j):
    """Unit j's 16-bit dropout draw under key (np.uint64): fercnn.layers.dropout.unit_draws(key, size)[j]."""
    z = np.uint64(key) + np.uint64(j + 1) * STEP  # all uint64: an int64 key would be promoted to float64
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    z = z ^ (z >> np.uint64(31))
    return np.int64(z >> np.uint64(48))  # int64, as threshold: no mixed-sign comparison


@njit(inline="always")
def kept(key, j, threshold):
    """Whether dropout keeps unit j under key and threshold (see fercnn.layers.dropout.draw_keep)."""
    return threshold == 0 or unit_draw(key, j) >= threshold


@njit(inline="always")
def standardized(v, mean, inv_std):
    """Batchnorm's x_hat = (v - mean) / std."""
    return (v - mean) * inv_std


@njit(inline="always")
def normalized(v, mean, inv_std, gamma, beta):
    """Batchnorm's output gamma * x_hat + beta."""
    return gamma * standardized(v, mean, inv_std) + beta


@njit(inline="always")
def batchnorm_dx(d, x_hat, scale, mean_d, mean_d_x_hat, training):
    """Batchnorm's dx for one unit, scale = gamma / std. Training: the batch statistics depend
    on the unit, so scale * (d - mean(d) - x_hat * mean(d * x_hat)); evaluation: constant
    statistics, scale * d, where a NaN or inf in x (x_hat) does not reach dx."""
    return scale * (d - mean_d - x_hat * mean_d_x_hat) if training else scale * d


@njit(inline="always")
def replaces_max(v, best):
    """Whether v replaces best, the maximum of a window so far in scan order: v is greater, or
    v is NaN; nothing replaces a NaN. So the first NaN wins, as in np.argmax, and else the
    first of equal maxima."""
    return best == best and not (v <= best)
