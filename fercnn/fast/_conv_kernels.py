"""Numba kernels behind conv_forward / conv_backward, working on one block of images.

A block is images n0..n1-1 of the batch, G = n1 - n0 of them. Its column matrix ``cols``
has shape (K, G * P): K = C * HH * WW rows (one per filter tap), one column per output
position, P = H_out * W_out, the block's images side by side. The block's convolution is
then one matrix product w.reshape(F, K) @ cols -> (F, G * P).

The kernels are serial and release the GIL (nogil=True): conv.py runs one block per
worker thread, so two blocks are converted at once on two cores while every buffer stays
small enough to sit in cache. They compile lazily on first call (one specialisation per
dtype) and are cached on disk (cache=True).
"""
import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def im2col_block(x, n0, n1, HH, WW, stride, pad, H_out, W_out, cols):
    """x: (N, C, H, W) -> fills cols: (C * HH * WW, >= (n1 - n0) * P) for images n0..n1-1.

    Column g * P + oh * W_out + ow of row (c, i, j) holds x[n0 + g, c, oh * stride - pad + i,
    ow * stride - pad + j], or 0 where that falls in the padding. Each channel is first
    copied into a zero-bordered buffer, so the copy loops need no bounds tests.
    """
    _, C, H, W = x.shape
    P = H_out * W_out
    Wp = W + 2 * pad
    xp = np.zeros((H + 2 * pad) * Wp, dtype=x.dtype)  # the border stays 0
    for g in range(n1 - n0):
        n = n0 + g
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    xp[(h + pad) * Wp + pad + w] = x[n, c, h, w]
            for i in range(HH):
                for j in range(WW):
                    row = (c * HH + i) * WW + j
                    for oh in range(H_out):
                        src = (oh * stride + i) * Wp + j
                        dst = g * P + oh * W_out
                        if stride == 1:  # the common case, a contiguous run the compiler vectorises
                            for ow in range(W_out):
                                cols[row, dst + ow] = xp[src + ow]
                        else:
                            for ow in range(W_out):
                                cols[row, dst + ow] = xp[src + ow * stride]


@njit(nogil=True, cache=True)
def col2im_block(dcols, n0, n1, HH, WW, stride, pad, H_out, W_out, dx):
    """The adjoint of im2col_block: dcols: (K, >= G * P) -> dx[n0:n1] of dx: (N, C, H, W).

    Every column entry is added back to the pixel it was copied from, so a pixel shared by
    several windows collects the sum of their gradients; the sums go to a zero-bordered
    buffer whose border (the padding's gradient) is dropped. dx[n0:n1] is overwritten.
    """
    _, C, H, W = dx.shape
    P = H_out * W_out
    Wp = W + 2 * pad
    dxp = np.empty((H + 2 * pad) * Wp, dtype=dx.dtype)
    for g in range(n1 - n0):
        n = n0 + g
        for c in range(C):
            dxp[:] = 0
            for i in range(HH):
                for j in range(WW):
                    row = (c * HH + i) * WW + j
                    for oh in range(H_out):
                        dst = (oh * stride + i) * Wp + j
                        src = g * P + oh * W_out
                        if stride == 1:
                            for ow in range(W_out):
                                dxp[dst + ow] += dcols[row, src + ow]
                        else:
                            for ow in range(W_out):
                                dxp[dst + ow * stride] += dcols[row, src + ow]
            for h in range(H):
                for w in range(W):
                    dx[n, c, h, w] = dxp[(h + pad) * Wp + pad + w]


@njit(nogil=True, cache=True)
def block_to_nchw(out_fnp, b, n0, n1, out):
    """Block product (F, >= G * P) plus bias b: (F,) -> out[n0:n1] of out: (N, F, P)."""
    F, P = out.shape[1], out.shape[2]
    for g in range(n1 - n0):
        for f in range(F):
            bias = b[f]
            for p in range(P):
                out[n0 + g, f, p] = out_fnp[f, g * P + p] + bias


@njit(nogil=True, cache=True)
def nchw_to_block(dout, n0, n1, dout_fnp, db):
    """dout[n0:n1] of dout: (N, F, P) -> dout_fnp: (F, >= G * P); adds the sums over images
    and positions to db: (F,) (float64, so the bias gradient does not lose digits)."""
    F, P = dout.shape[1], dout.shape[2]
    for g in range(n1 - n0):
        for f in range(F):
            s = 0.0
            for p in range(P):
                v = dout[n0 + g, f, p]
                dout_fnp[f, g * P + p] = v
                s += v
            db[f] += s
