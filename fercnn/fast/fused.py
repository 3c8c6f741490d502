"""Batchnorm -> ReLU -> dropout as one op, the tail of every block of the paper's networks.

The three ops one after another write two intermediate arrays of x's size and read them
back; on a CPU whose cores wait on memory, those passes cost more than the arithmetic.
This op reads x once and writes the output and a one-byte mask once; its backward folds
the mask into batchnorm's backward. It computes the same numbers as the three separate
ops with the same rng (tests/test_fast_ops.py checks this against the readable ops of
fercnn.layers, which are the ones to read for how each step works).
"""
import numpy as np

from fercnn.argcheck import check_bool, check_float_array, check_probability, check_shape
from fercnn.fast import _bn_kernels as kernels
from fercnn.fast._numpy_only import require_numpy
from fercnn.fast.batchnorm import check_statistics_args, statistics
from fercnn.layers.dropout import draw_keep


def batchnorm_relu_dropout_forward(x, gamma, beta, state, p, *, training, rng=None, momentum=0.9, eps=1e-5):
    """dropout(relu(batchnorm(x))) for x: (N, D) or (N, C, H, W) -> out: x's shape.

    Batchnorm as batchnorm_forward for (N, D) and spatial_batchnorm_forward for
    (N, C, H, W) (same gamma, beta, state, momentum, eps); dropout as dropout_forward
    (p, rng; no dropout when p == 0 or not training, and then rng may be None).
    """
    op = "batchnorm_relu_dropout_forward"
    check_float_array(op, "x", x)
    if x.ndim not in (2, 4):
        raise ValueError(f"{op}: x must be (N, D) or (N, C, H, W), got shape {tuple(x.shape)}")
    check_probability(op, "p", p)
    check_bool(op, "training", training)
    # every check before the draws (a refused call leaves rng as it was), and the draws, which
    # check rng, before the running statistics change
    check_statistics_args(op, x, gamma, beta, state, training, momentum, eps)
    if training and p > 0:
        key, threshold, scale = draw_keep(op, p, rng)
    else:
        key, threshold, scale = np.uint64(0), 0, 1.0  # threshold 0: every unit kept
    x3, mean, inv_std = statistics(op, x, gamma, beta, state, training, momentum, eps)
    out, mask = kernels.normalize_relu_dropout(x3, mean, inv_std, gamma, beta, key, threshold, scale)
    return out.reshape(x.shape), (x3, mean.copy(), inv_std, gamma, training, x.shape, mask, scale)


def batchnorm_relu_dropout_backward(dout, cache):
    """dout: x's shape -> dx: x's shape, dgamma, dbeta: (C,) (or (D,))."""
    x3, mean, inv_std, gamma, training, shape, mask, scale = cache
    op = "batchnorm_relu_dropout_backward"
    check_float_array(op, "dout", dout)
    check_shape(op, "dout", dout, shape)
    require_numpy(op, dout)
    dout3 = np.ascontiguousarray(dout).reshape(x3.shape)
    dx, dgamma, dbeta = kernels.backward(dout3, x3, mean, inv_std, gamma, training, mask, scale)
    return dx.reshape(shape), dgamma, dbeta
