"""Numba kernels behind conv_forward / conv_backward.

Layout: a column matrix ``cols`` of shape (K, N * P) with K = C * HH * WW rows (one per
filter tap) and one column per output position, P = H_out * W_out, images side by side.
Then the whole convolution is a single matrix product w.reshape(F, K) @ cols -> (F, N * P).

Each kernel runs its outer loop over (image, channel) pairs with ``prange``; every pair
writes a disjoint slice of the output, so there are no races. Kernels compile lazily on
first call (one specialisation per dtype) and are cached on disk (cache=True).
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def im2col(x, HH, WW, stride, pad, H_out, W_out):
    """x: (N, C, H, W) -> cols: (C * HH * WW, N * H_out * W_out), zeros where padded."""
    N, C, H, W = x.shape
    P = H_out * W_out
    cols = np.empty((C * HH * WW, N * P), dtype=x.dtype)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for i in range(HH):
            for j in range(WW):
                row = (c * HH + i) * WW + j
                for oh in range(H_out):
                    h = oh * stride - pad + i
                    dst = n * P + oh * W_out
                    if h < 0 or h >= H:
                        for ow in range(W_out):
                            cols[row, dst + ow] = 0
                        continue
                    for ow in range(W_out):
                        w = ow * stride - pad + j
                        if 0 <= w < W:
                            cols[row, dst + ow] = x[n, c, h, w]
                        else:
                            cols[row, dst + ow] = 0
    return cols


@njit(parallel=True, cache=True)
def col2im(dcols, N, C, H, W, HH, WW, stride, pad, H_out, W_out):
    """dcols: (C * HH * WW, N * H_out * W_out) -> dx: (N, C, H, W).

    The adjoint of im2col: every column entry is added back to the pixel it was copied
    from, so a pixel shared by several windows collects the sum of their gradients.
    """
    P = H_out * W_out
    dx = np.empty((N, C, H, W), dtype=dcols.dtype)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        dx[n, c] = 0  # zeroed by the thread that fills it, while it is in cache
        for i in range(HH):
            for j in range(WW):
                row = (c * HH + i) * WW + j
                for oh in range(H_out):
                    h = oh * stride - pad + i
                    if h < 0 or h >= H:
                        continue
                    src = n * P + oh * W_out
                    for ow in range(W_out):
                        w = ow * stride - pad + j
                        if 0 <= w < W:
                            dx[n, c, h, w] += dcols[row, src + ow]
    return dx


@njit(parallel=True, cache=True)
def fnp_to_nchw(out_fnp, b, N, H_out, W_out):
    """(F, N * P) product plus bias b: (F,) -> (N, F, H_out, W_out), in one pass."""
    F = out_fnp.shape[0]
    P = H_out * W_out
    out = np.empty((N, F, H_out, W_out), dtype=out_fnp.dtype)
    flat = out.reshape(N, F, P)
    for nf in prange(N * F):
        n = nf // F
        f = nf % F
        bias = b[f]
        for p in range(P):
            flat[n, f, p] = out_fnp[f, n * P + p] + bias
    return out


@njit(parallel=True, cache=True)
def nchw_to_fnp(dout):
    """(N, F, H_out, W_out) -> (F, N * H_out * W_out), the layout of the product."""
    N, F, H_out, W_out = dout.shape
    P = H_out * W_out
    flat = dout.reshape(N, F, P)
    out = np.empty((F, N * P), dtype=dout.dtype)
    for nf in prange(N * F):
        n = nf // F
        f = nf % F
        for p in range(P):
            out[f, n * P + p] = flat[n, f, p]
    return out
