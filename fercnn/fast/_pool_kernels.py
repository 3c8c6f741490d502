"""Numba kernels behind max_pool_forward / max_pool_backward.

The forward records, for every window, the flat index (h * W + w) of its first maximum
(scan order row by row; later equal values do not replace it; a NaN is the maximum, the
rule of _rules.replaces_max). Backward sends each upstream gradient to exactly that
pixel. Outer loops run over (image, channel) pairs with ``prange``; each pair owns its
slice of the output, so there are no races.
"""
import numpy as np
from numba import njit, prange

from fercnn.fast._rules import replaces_max


@njit(parallel=True, cache=True)
def max_pool_forward(x, size, stride, H_out, W_out):
    """x: (N, C, H, W) -> out: (N, C, H_out, W_out), argmax: same shape, int32 flat index."""
    N, C, H, W = x.shape
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    argmax = np.empty((N, C, H_out, W_out), dtype=np.int32)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(H_out):
            h0 = oh * stride
            for ow in range(W_out):
                w0 = ow * stride
                best = x[n, c, h0, w0]
                best_i = h0 * W + w0
                for i in range(size):
                    for j in range(size):
                        v = x[n, c, h0 + i, w0 + j]
                        if replaces_max(v, best):
                            best = v
                            best_i = (h0 + i) * W + w0 + j
                out[n, c, oh, ow] = best
                argmax[n, c, oh, ow] = best_i
    return out, argmax


@njit(parallel=True, cache=True)
def max_pool_forward_2x2(x, H_out, W_out):
    """max_pool_forward for size 2, stride 2: the same out and argmax, 3-8x faster.

    x: (N, C, H, W) -> out, argmax: (N, C, H_out, W_out), H_out <= H // 2, W_out <= W // 2.
    The window is written out as three compare-and-selects in scan order (the same
    replaces_max rule), with no branch and no loop inside it, so the loop over a row's
    windows vectorises.
    """
    N, C, H, W = x.shape
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    argmax = np.empty((N, C, H_out, W_out), dtype=np.int32)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(H_out):
            top, bottom = x[n, c, 2 * oh], x[n, c, 2 * oh + 1]
            out_row, argmax_row = out[n, c, oh], argmax[n, c, oh]
            i00 = 2 * oh * W  # flat index of the window's top-left pixel, for ow = 0
            for ow in range(W_out):
                i = i00 + 2 * ow
                best, best_i = top[2 * ow], i
                v = top[2 * ow + 1]
                r = replaces_max(v, best)
                best, best_i = (v, i + 1) if r else (best, best_i)
                v = bottom[2 * ow]
                r = replaces_max(v, best)
                best, best_i = (v, i + W) if r else (best, best_i)
                v = bottom[2 * ow + 1]
                r = replaces_max(v, best)
                best, best_i = (v, i + W + 1) if r else (best, best_i)
                out_row[ow] = best
                argmax_row[ow] = best_i
    return out, argmax


@njit(parallel=True, cache=True)
def max_pool_backward(dout, argmax, H, W):
    """dout, argmax: (N, C, H_out, W_out) -> dx: (N, C, H, W), zero except at the maxima."""
    N, C, H_out, W_out = dout.shape
    dx = np.empty((N, C, H, W), dtype=dout.dtype)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        flat = dx[n, c].reshape(H * W)
        flat[:] = 0  # zeroed by the thread that fills it, while it is in cache
        for oh in range(H_out):
            for ow in range(W_out):
                flat[argmax[n, c, oh, ow]] += dout[n, c, oh, ow]
    return dx
