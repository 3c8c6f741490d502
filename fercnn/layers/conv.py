"""2-D convolution (cross-correlation, as in every DL library) via im2col.

The idea in three lines: copy every receptive field of x into one column of a matrix
(im2col), then one matrix product with the filters, reshaped to (F, K), computes every
output value at once. Backward is the same product's gradients, and col2im adds each
column's gradient back to the pixels it came from. The loop version that computes the
same thing one output at a time is ``fercnn.layers.reference.conv_forward_naive``.
"""
import numpy as np

from fercnn.layers import _conv_kernels as kernels
from fercnn.layers._checks import check_float_array, check_same_dtype, check_shape, check_window_output_size
from fercnn.layers._numpy_only import require_numpy


def conv_forward(x, w, b, *, stride=1, pad=0):
    """Convolve N images with F filters.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H_out, W_out) with
    H_out = (H + 2 * pad - HH) // stride + 1, W_out = (W + 2 * pad - WW) // stride + 1
    (the division must be exact). Zero padding of ``pad`` pixels on every side.
    cache holds x's shape, w, the column matrix cols: (C * HH * WW, N * H_out * W_out)
    and the geometry.
    """
    op = "conv_forward"
    check_float_array(op, "x", x, ndim=4)
    check_float_array(op, "w", w, ndim=4)
    check_float_array(op, "b", b, ndim=1)
    check_same_dtype(op, x=x, w=w, b=b)
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"{op}: x has {C} channels but the filters w expect {Cw}")
    check_shape(op, "b", b, (F,))
    H_out, W_out = check_window_output_size(op, H, W, HH, WW, stride, pad)
    require_numpy(op, x)

    x = np.ascontiguousarray(x)
    cols = kernels.im2col(x, HH, WW, stride, pad, H_out, W_out)
    out_fnp = w.reshape(F, -1) @ cols
    out = kernels.fnp_to_nchw(out_fnp, np.ascontiguousarray(b), N, H_out, W_out)
    return out, (x.shape, w, cols, stride, pad, H_out, W_out)


def conv_backward(dout, cache):
    """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,).

    With out = w2 @ cols (w2 = w reshaped to (F, K)): dw2 = dout2 @ cols.T,
    dcols = w2.T @ dout2, and dx = col2im(dcols); db sums dout over N, H_out, W_out.
    """
    (N, C, H, W), w, cols, stride, pad, H_out, W_out = cache
    F, _, HH, WW = w.shape
    check_float_array("conv_backward", "dout", dout, ndim=4)
    check_shape("conv_backward", "dout", dout, (N, F, H_out, W_out))
    require_numpy("conv_backward", dout)
    dout_fnp = kernels.nchw_to_fnp(np.ascontiguousarray(dout))
    db = dout_fnp.sum(axis=1)
    w2 = w.reshape(F, -1)
    dw = (dout_fnp @ cols.T).reshape(w.shape)
    dcols = w2.T @ dout_fnp
    dx = kernels.col2im(dcols, N, C, H, W, HH, WW, stride, pad, H_out, W_out)
    return dx, dw, db
