"""The rules the fast kernels share, each written once as a small Numba function.

The kernels in _elementwise_kernels.py and _bn_kernels.py call these inside their loops;
``inline="always"`` puts the body in place at compile time, so a rule costs no call.
The readable ops in fercnn.layers state the same rules in NumPy.
"""
from numba import njit


@njit(inline="always")
def relu_passes(v):
    """Whether ReLU lets v (and its gradient) through: v > 0, and NaN too, as np.maximum keeps NaN."""
    return not (v <= 0)


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
