"""Numba kernels behind batchnorm (both forms).

They see x as (N, C, L): L = H * W for spatial batchnorm, L = 1 for (N, D) inputs, so one
set of kernels serves both. The outer loop runs over channels with ``prange``; sums are
accumulated in float64 and results stored in the input's dtype. fastmath lets the
compiler reorder (and so vectorise) the sums; with float64 accumulators the effect on
the result is far below float32 resolution. It is every fastmath flag but "nnan" and
"ninf": with those the compiler may assume there is no NaN or inf, and a NaN could come
out as a number (see the NaN rule in _rules.py).
"""
import numpy as np
from numba import njit, prange

from fercnn.fast._rules import batchnorm_dx, kept, masked, normalized, relu_passes, standardized

FASTMATH = {"reassoc", "contract", "arcp", "nsz", "afn"}  # fastmath=True less nnan and ninf


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def batch_stats(x):
    """x: (N, C, L) -> mean, biased var: (C,) each, two passes for accuracy."""
    N, C, L = x.shape
    mean = np.empty(C, dtype=x.dtype)
    var = np.empty(C, dtype=x.dtype)
    m = N * L
    for c in prange(C):
        s = 0.0
        for n in range(N):
            for i in range(L):
                s += x[n, c, i]
        mu = s / m
        q = 0.0
        for n in range(N):
            for i in range(L):
                d = x[n, c, i] - mu
                q += d * d
        mean[c] = mu
        var[c] = q / m
    return mean, var


@njit(parallel=True, cache=True)
def normalize(x, mean, inv_std, gamma, beta):
    """x: (N, C, L) -> out = gamma * x_hat + beta with x_hat = (x - mean) * inv_std.

    x_hat is not stored: backward recomputes it from x, which costs less than writing
    and reading back a second array of x's size.
    """
    N, C, L = x.shape
    out = np.empty_like(x)
    for c in prange(C):
        mu, s, g, b = mean[c], inv_std[c], gamma[c], beta[c]
        for n in range(N):
            for i in range(L):
                out[n, c, i] = normalized(x[n, c, i], mu, s, g, b)
    return out


@njit(parallel=True, cache=True)
def normalize_relu_dropout(x, mean, inv_std, gamma, beta, key, threshold, scale):
    """normalize, then ReLU, then dropout, in one pass: x: (N, C, L) -> out: (N, C, L) and
    the uint8 mask (N, C, L) of the units the gradient passes through.

    Unit j (flat index over (N, C, L)) is dropped when threshold > 0 and its draw under key
    (np.uint64) is below threshold (_rules.kept); kept units that are positive (or NaN)
    come out times scale, dropped ones times 0. The
    arithmetic is that of normalize, relu_forward and dropout_forward, so the numbers are the same.
    """
    N, C, L = x.shape
    out = np.empty_like(x)
    mask = np.empty((N, C, L), dtype=np.uint8)
    s_drop = x.dtype.type(scale)
    zero = x.dtype.type(0)
    for c in prange(C):
        mu, s, g, b = mean[c], inv_std[c], gamma[c], beta[c]
        for n in range(N):
            j0 = (n * C + c) * L
            for i in range(L):
                v = normalized(x[n, c, i], mu, s, g, b)
                k = kept(key, j0 + i, threshold)
                passes = relu_passes(v)
                mask[n, c, i] = k and passes
                out[n, c, i] = masked(v if passes else zero, k, s_drop)
    return out, mask


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def backward(dout, x, mean, inv_std, gamma, training, mask, scale):
    """dout, x: (N, C, L) -> dx: (N, C, L), dgamma, dbeta: (C,).

    With x_hat = (x - mean) * inv_std and m = N * L values per channel:
    training: dx = gamma * inv_std * (dout - dbeta / m - x_hat * dgamma / m);
    eval (constant statistics): dx = gamma * inv_std * dout.
    mask: an empty array, or (N, C, L) uint8 for the fused op: then the gradient that
    reaches batchnorm is dout * scale where mask, else 0 (through dropout and ReLU), and
    it is formed on the fly instead of being written out.
    """
    N, C, L = dout.shape
    dx = np.empty_like(dout)
    dgamma = np.empty(C, dtype=dout.dtype)
    dbeta = np.empty(C, dtype=dout.dtype)
    with_mask = mask.size > 0
    s_drop = dout.dtype.type(scale)
    m = N * L
    for c in prange(C):
        mu, s = mean[c], inv_std[c]
        sb = 0.0
        sg = 0.0
        for n in range(N):
            for i in range(L):
                d = masked(dout[n, c, i], mask[n, c, i], s_drop) if with_mask else dout[n, c, i]
                sb += d
                sg += d * standardized(x[n, c, i], mu, s)
        dbeta[c] = sb
        dgamma[c] = sg
        scale_c = gamma[c] * s
        mb = sb / m
        mg = sg / m
        for n in range(N):
            for i in range(L):
                d = masked(dout[n, c, i], mask[n, c, i], s_drop) if with_mask else dout[n, c, i]
                dx[n, c, i] = batchnorm_dx(d, standardized(x[n, c, i], mu, s), scale_c, mb, mg, training)
    return dx, dgamma, dbeta
