"""The rules the fast kernels share, each written once as a small Numba function.

The kernels in _elementwise_kernels.py and _bn_kernels.py call these inside their loops;
``inline="always"`` puts the body in place at compile time, so a rule costs no call.
The readable ops in fercnn.layers state the same rules in NumPy.

NaN: no op hides one. ReLU lets NaN through (a max keeps NaN), forward and backward; the
dropout mask and the gradient's gates multiply instead of selecting, so a NaN or inf under
a 0 of the mask stays non-finite (0 * NaN is NaN), as in the readable ops, which multiply too.
"""
from numba import njit


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
def kept(draw, threshold):
    """Whether dropout keeps a unit whose 16-bit draw is ``draw`` (see fercnn.layers.dropout.draw_keep)."""
    return draw >= threshold


@njit(inline="always")
def standardized(v, mean, inv_std):
    """Batchnorm's x_hat = (v - mean) / std."""
    return (v - mean) * inv_std


@njit(inline="always")
def normalized(v, mean, inv_std, gamma, beta):
    """Batchnorm's output gamma * x_hat + beta."""
    return gamma * standardized(v, mean, inv_std) + beta
