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
from numba import njit


@njit(nogil=True, cache=True, inline="always")
def _valid_columns(j, W, W_out, stride, pad):
    """The output columns ow whose input column ow * stride - pad + j lies inside 0..W-1."""
    lo = 0 if j >= pad else (pad - j + stride - 1) // stride
    last = W - 1 + pad - j  # ow * stride <= last
    hi = min(W_out, last // stride + 1) if last >= 0 else 0
    return lo, max(lo, hi)


@njit(nogil=True, cache=True)
def im2col_block(x, n0, n1, HH, WW, stride, pad, H_out, W_out, cols):
    """x: (N, C, H, W) -> fills cols: (C * HH * WW, >= (n1 - n0) * P) for images n0..n1-1.

    Column g * P + oh * W_out + ow of row (c, i, j) holds x[n0 + g, c, oh * stride - pad + i,
    ow * stride - pad + j], or 0 where that falls in the padding.
    """
    _, C, H, W = x.shape
    P = H_out * W_out
    for g in range(n1 - n0):
        n = n0 + g
        for c in range(C):
            for i in range(HH):
                for j in range(WW):
                    row = (c * HH + i) * WW + j
                    lo, hi = _valid_columns(j, W, W_out, stride, pad)
                    for oh in range(H_out):
                        h = oh * stride - pad + i
                        dst = g * P + oh * W_out
                        if h < 0 or h >= H:
                            cols[row, dst:dst + W_out] = 0
                            continue
                        cols[row, dst:dst + lo] = 0
                        for ow in range(lo, hi):
                            cols[row, dst + ow] = x[n, c, h, ow * stride - pad + j]
                        cols[row, dst + hi:dst + W_out] = 0


@njit(nogil=True, cache=True)
def col2im_block(dcols, n0, n1, HH, WW, stride, pad, H_out, W_out, dx):
    """The adjoint of im2col_block: dcols: (K, >= G * P) -> dx[n0:n1] of dx: (N, C, H, W).

    Every column entry is added back to the pixel it was copied from, so a pixel shared by
    several windows collects the sum of their gradients. dx[n0:n1] is overwritten.
    """
    _, C, H, W = dx.shape
    P = H_out * W_out
    for g in range(n1 - n0):
        n = n0 + g
        for c in range(C):
            dx[n, c] = 0
            for i in range(HH):
                for j in range(WW):
                    row = (c * HH + i) * WW + j
                    lo, hi = _valid_columns(j, W, W_out, stride, pad)
                    for oh in range(H_out):
                        h = oh * stride - pad + i
                        if h < 0 or h >= H:
                            continue
                        src = g * P + oh * W_out
                        for ow in range(lo, hi):
                            dx[n, c, h, ow * stride - pad + j] += dcols[row, src + ow]


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
