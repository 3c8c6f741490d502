"""Numba kernels behind batchnorm (both forms).

They see x as (N, C, L): L = H * W for spatial batchnorm, L = 1 for (N, D) inputs, so one
set of kernels serves both. The outer loop runs over channels with ``prange``; sums are
accumulated in float64 and results stored in the input's dtype. fastmath lets the
compiler reorder (and so vectorise) the sums; with float64 accumulators the effect on
the result is far below float32 resolution.
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, fastmath=True)
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
                out[n, c, i] = g * ((x[n, c, i] - mu) * s) + b
    return out


@njit(parallel=True, cache=True, fastmath=True)
def backward(dout, x, mean, inv_std, gamma, training):
    """dout, x: (N, C, L) -> dx: (N, C, L), dgamma, dbeta: (C,).

    With x_hat = (x - mean) * inv_std:
    training: dx = gamma * inv_std * (dout - dbeta / m - x_hat * dgamma / m);
    eval (constant statistics): dx = gamma * inv_std * dout.
    """
    N, C, L = dout.shape
    dx = np.empty_like(dout)
    dgamma = np.empty(C, dtype=dout.dtype)
    dbeta = np.empty(C, dtype=dout.dtype)
    m = N * L
    for c in prange(C):
        mu, s = mean[c], inv_std[c]
        sb = 0.0
        sg = 0.0
        for n in range(N):
            for i in range(L):
                sb += dout[n, c, i]
                sg += dout[n, c, i] * ((x[n, c, i] - mu) * s)
        dbeta[c] = sb
        dgamma[c] = sg
        scale = gamma[c] * s
        if training:
            mb = sb / m
            mg = sg / m
            for n in range(N):
                for i in range(L):
                    dx[n, c, i] = scale * (dout[n, c, i] - mb - ((x[n, c, i] - mu) * s) * mg)
        else:
            for n in range(N):
                for i in range(L):
                    dx[n, c, i] = scale * dout[n, c, i]
    return dx, dgamma, dbeta
