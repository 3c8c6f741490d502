"""2-D convolution (cross-correlation, as in every DL library) as one matrix product.

Read ``reference.py`` first: there each output value is a dot product of one window of
the input with one filter. Here every window is copied into one column of a matrix
(im2col), so that all those dot products become one matrix product with the filters
reshaped to rows. Backward is that product's two gradients, and col2im adds each column's
gradient back to the pixels it was copied from.

This is the readable version: it builds the column matrix for the whole batch. Training
runs fercnn.fast.conv_forward, which computes the same convolution in blocks of a few images
on worker threads, with Numba copy kernels, and by Winograd's algorithm where the layer
shape allows (the same numbers up to float rounding; tests/test_ops.py and
tests/fast/test_winograd.py hold them equal).
"""
import numpy as np

from fercnn.argcheck import check_conv_args, check_float_array, check_same_dtype, check_shape


def im2col(x, HH, WW, stride, pad):
    """x: (N, C, H, W) -> cols: (C*HH*WW, N*H_out*W_out).

    Row (c, i, j) holds pixel (i, j) of every window, channel c; column (n, oh, ow) is the
    window of output position (oh, ow) of image n. One strided slice of the padded input
    fills a whole row block at once: for kernel offset (i, j), the windows' pixels are
    x_pad[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride] (H_out x W_out of them).
    """
    N, C, H, W = x.shape
    H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((C, HH, WW, N, H_out, W_out), dtype=x.dtype)
    for i in range(HH):
        for j in range(WW):
            window_pixels = x_pad[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride]
            cols[:, i, j] = window_pixels.transpose(1, 0, 2, 3)  # (C, N, H_out, W_out)
    return cols.reshape(C * HH * WW, N * H_out * W_out)


def col2im(dcols, x_shape, HH, WW, stride, pad):
    """The adjoint of im2col: dcols (C*HH*WW, N*H_out*W_out) -> dx (N, C, H, W).

    Each column entry came from one pixel, so its gradient is added back to that pixel;
    a pixel in several windows collects the sum of their gradients.
    """
    N, C, H, W = x_shape
    H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    d = dcols.reshape(C, HH, WW, N, H_out, W_out)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dcols.dtype)
    for i in range(HH):
        for j in range(WW):
            dx_pad[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride] += d[:, i, j].transpose(1, 0, 2, 3)
    return dx_pad[:, :, pad:pad + H, pad:pad + W]


def conv_forward(x, w, b, *, stride=1, pad=0):
    """Convolve N images with F filters.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H_out, W_out) with
    H_out = (H + 2 * pad - HH) // stride + 1, W_out = (W + 2 * pad - WW) // stride + 1
    (the division must be exact). Zero padding of ``pad`` pixels on every side.
    out = w2 @ cols + b, with w2 = w reshaped to (F, C*HH*WW).
    """
    op = "conv_forward"
    H_out, W_out = check_conv_args(op, x, w, b, stride, pad)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    cols = im2col(x, HH, WW, stride, pad)
    out = w.reshape(F, -1) @ cols + b[:, None]  # (F, N*H_out*W_out)
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x.shape, cols, w, stride, pad)


def conv_backward(dout, cache, *, need_dx=True):
    """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,).

    With out2 = w2 @ cols (out2 = dout's layout (F, N*H_out*W_out)):
    dw2 = dout2 @ cols.T, dcols = w2.T @ dout2, dx = col2im(dcols), db = sum of dout
    over N, H_out, W_out. need_dx=False returns dx=None (a first layer needs no dx).
    """
    x_shape, cols, w, stride, pad = cache
    F, C, HH, WW = w.shape
    N = x_shape[0]
    check_float_array("conv_backward", "dout", dout, ndim=4)
    check_shape("conv_backward", "dout", dout, (N, F) + _out_size(x_shape, HH, WW, stride, pad))
    check_same_dtype("conv_backward", dout=dout, w=w)
    dout2 = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = (dout2 @ cols.T).reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = col2im(w.reshape(F, -1).T @ dout2, x_shape, HH, WW, stride, pad) if need_dx else None
    return dx, dw, db


def _out_size(x_shape, HH, WW, stride, pad):
    _, _, H, W = x_shape
    return (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
