"""Slow, readable loop versions of convolution and max pooling.

Read these first: they compute each output value straight from its definition. The
library's live ops (``conv.py``, ``pooling.py``) compute the same numbers with im2col and
Numba kernels; the tests hold the two against each other. Nothing in the library calls
this module to do work.
"""
import numpy as np


def conv_forward_naive(x, w, b, *, stride=1, pad=0):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H_out, W_out).

    out[n, f, i, j] = sum over c, di, dj of x_pad[n, c, i*stride + di, j*stride + dj]
    * w[f, c, di, dj], plus b[f].
    """
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, stride, pad)


def conv_backward_naive(dout, cache):
    """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,).

    Each output value is a dot product of one window with one filter, so its gradient
    dout[n, f, i, j] flows to that window (times w[f]) and to w[f] (times the window).
    """
    x, w, stride, pad = cache
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    g = dout[n, f, i, j]
                    dw[f] += g * x_pad[n, :, hs:hs + HH, ws:ws + WW]
                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += g * w[f]
    H, W = x.shape[2:]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, *, size=2, stride=2):
    """x: (N, C, H, W) -> out: (N, C, H_out, W_out), H_out = (H - size) // stride + 1."""
    N, C, H, W = x.shape
    H_out = (H - size) // stride + 1
    W_out = (W - size) // stride + 1
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size].max()
    return out, (x, size, stride)


def max_pool_backward_naive(dout, cache):
    """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W); each gradient goes to the first max."""
    x, size, stride = cache
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + di, j * stride + dj] += dout[n, c, i, j]
    return dx
