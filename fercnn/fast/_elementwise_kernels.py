"""Numba kernels for the elementwise passes of ReLU and dropout (and the L2 term's in-place add).

Each works on flat, contiguous arrays with ``prange`` and returns arrays of the input's
dtype: one pass over memory instead of numpy's temporaries, and branch-free bodies
(multiply by the 0/1 mask) that the compiler vectorises.
"""
import numpy as np
from numba import njit, prange

from fercnn.fast._rules import kept, masked, relu_passes


@njit(parallel=True, cache=True)
def relu_forward(x):
    """out = max(x, 0) (flat array)."""
    out = np.empty_like(x)
    zero = x.dtype.type(0)
    for i in prange(x.size):
        out[i] = x[i] if relu_passes(x[i]) else zero
    return out


@njit(parallel=True, cache=True)
def relu_backward(dout, out):
    """dx = dout where out > 0 or NaN, else 0 (flat arrays of equal size)."""
    dx = np.empty_like(dout)
    one = dout.dtype.type(1)
    for i in prange(dout.size):
        dx[i] = masked(dout[i], relu_passes(out[i]), one)
    return dx


@njit(parallel=True, cache=True)
def dropout_forward(x, key, threshold, scale):
    """Keep x[i] (times scale) where unit i's draw under key is >= threshold (_rules.kept);
    return out and the uint8 keep mask."""
    out = np.empty_like(x)
    keep = np.empty(x.size, dtype=np.uint8)
    s = x.dtype.type(scale)
    for i in prange(x.size):
        k = kept(key, i, threshold)
        keep[i] = k
        out[i] = masked(x[i], k, s)
    return out, keep


@njit(parallel=True, cache=True)
def relu_dropout_forward(x, key, threshold, scale):
    """ReLU then dropout in one pass: out[i] = max(x[i], 0) * scale where unit i is kept,
    else 0 (times 0: NaN stays NaN); the uint8 mask is 1 where the gradient passes (kept, and
    x[i] > 0 or NaN)."""
    out = np.empty_like(x)
    keep = np.empty(x.size, dtype=np.uint8)
    s = x.dtype.type(scale)
    zero = x.dtype.type(0)
    for i in prange(x.size):
        k = kept(key, i, threshold)
        passes = relu_passes(x[i])
        keep[i] = k and passes
        out[i] = masked(x[i] if passes else zero, k, s)
    return out, keep


@njit(parallel=True, cache=True)
def dropout_backward(dout, keep, scale):
    """dx = dout * scale where the unit was kept, else 0."""
    dx = np.empty_like(dout)
    s = dout.dtype.type(scale)
    for i in prange(dout.size):
        dx[i] = masked(dout[i], keep[i], s)
    return dx


@njit(parallel=True, cache=True)
def add_scaled(y, x, a):
    """y += a * x in place (flat arrays of equal size), with no temporary for a * x."""
    s = y.dtype.type(a)
    for i in prange(y.size):
        y[i] += s * x[i]
