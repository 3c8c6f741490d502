"""2-D convolution (cross-correlation, as in every DL library) via im2col.

The idea in three lines: copy every receptive field of x into one column of a matrix
(im2col), then one matrix product with the filters, reshaped to (F, K), computes every
output value at once. Backward is the same product's gradients, and col2im adds each
column's gradient back to the pixels it came from. The loop version that computes the
same thing one output at a time is ``fercnn.layers.reference.conv_forward_naive``.

For speed the batch is cut into blocks of a few images (fercnn/fast/_workers.py): each
worker thread builds one block's columns and multiplies them, so the column matrix never
exists for the whole batch at once, and backward rebuilds the columns block by block
instead of keeping them from the forward pass.

Layers with stride 1 and 3x3 or 5x5 filters run Winograd's algorithm instead
(fercnn/fast/winograd.py: 2.25x-4x fewer multiplications); fercnn/fast/conv_method.py
decides per layer shape and says how to force either method.
"""
import numpy as np

from fercnn.argcheck import check_conv_args, check_float_array, check_same_dtype, check_shape
from fercnn.fast import _conv_kernels as kernels
from fercnn.fast import conv_method
from fercnn.fast._numpy_only import require_numpy
from fercnn.fast._workers import map_blocks
from fercnn.fast.winograd import winograd_backward, winograd_forward


def conv_forward(x, w, b, *, stride=1, pad=0):
    """Convolve N images with F filters.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H_out, W_out) with
    H_out = (H + 2 * pad - HH) // stride + 1, W_out = (W + 2 * pad - WW) // stride + 1
    (the division must be exact). Zero padding of ``pad`` pixels on every side.
    cache holds x, w, the geometry, the method used (conv_method.choose) and, for
    Winograd, the transformed filters.
    """
    op = "conv_forward"
    H_out, W_out = check_conv_args(op, x, w, b, stride, pad)
    require_numpy(op, x)
    method = conv_method.choose(x.shape[1], w.shape[2], w.shape[3], H_out, W_out, stride)
    x = np.ascontiguousarray(x)
    if x.shape[0] == 0:  # an empty batch: no block of images to hand to the workers
        return np.zeros((0, w.shape[0], H_out, W_out), dtype=x.dtype), (x, w, stride, pad, H_out, W_out, method, None)
    if method == "im2col":
        out, U = _im2col_forward(x, w, b, stride, pad, H_out, W_out), None
    else:
        out, U = winograd_forward(x, w, b, pad, method)
    return out, (x, w, stride, pad, H_out, W_out, method, U)


def _im2col_forward(x, w, b, stride, pad, H_out, W_out):
    N = x.shape[0]
    F, _, HH, WW = w.shape
    w2 = np.ascontiguousarray(w).reshape(F, -1)
    b = np.ascontiguousarray(b)
    P = H_out * W_out
    out = np.empty((N, F, H_out, W_out), dtype=x.dtype)
    out3 = out.reshape(N, F, P)

    def scratch(blocks):  # the first block of a worker's share is its largest
        cols = np.empty((w2.shape[1], (blocks[0][1] - blocks[0][0]) * P), dtype=x.dtype)
        return cols, np.empty((F, cols.shape[1]), dtype=x.dtype)

    def work(blocks, buffers):
        cols, prod = buffers
        for n0, n1 in blocks:
            width = (n1 - n0) * P
            kernels.im2col_block(x, n0, n1, HH, WW, stride, pad, H_out, W_out, cols)
            if n1 - n0 == 1:  # one image: the product is already its (F, P) output
                np.matmul(w2, cols[:, :width], out=out3[n0])
                out3[n0] += b[:, None]
            else:
                np.matmul(w2, cols[:, :width], out=prod[:, :width])
                kernels.block_to_nchw(prod, b, n0, n1, out3)

    map_blocks(work, N, P, scratch=scratch)
    return out


def conv_backward(dout, cache, *, need_dx=True):
    """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,).

    With out = w2 @ cols (w2 = w reshaped to (F, K)): dw2 = dout2 @ cols.T,
    dcols = w2.T @ dout2, and dx = col2im(dcols); db sums dout over N, H_out, W_out.
    The columns are rebuilt here block by block rather than kept from the forward pass
    (that would be K * N * P values: 340 MB for the shallow network's second layer).
    need_dx=False skips dcols and col2im and returns dx=None: the first layer of a
    network has no layer below that needs it.
    A layer whose forward ran Winograd (cache[6]) takes its backward through the Winograd
    domain instead, with the transformed filters the forward pass kept (winograd.py).
    """
    x, w, stride, pad, H_out, W_out, method, U = cache
    N, F = x.shape[0], w.shape[0]
    check_float_array("conv_backward", "dout", dout, ndim=4)
    check_shape("conv_backward", "dout", dout, (N, F, H_out, W_out))
    check_same_dtype("conv_backward", dout=dout, w=w)
    require_numpy("conv_backward", dout)
    if N == 0:  # an empty batch: every sum is empty
        return (np.zeros_like(x) if need_dx else None), np.zeros_like(w), np.zeros(F, dtype=x.dtype)
    if method == "im2col":
        return _im2col_backward(dout, x, w, stride, pad, H_out, W_out, need_dx)
    return winograd_backward(dout, x, w, pad, method, need_dx, U)


def _im2col_backward(dout, x, w, stride, pad, H_out, W_out, need_dx):
    N = x.shape[0]
    F, _, HH, WW = w.shape
    dout3 = np.ascontiguousarray(dout).reshape(N, F, H_out * W_out)
    w2 = np.ascontiguousarray(w).reshape(F, -1)
    P = H_out * W_out
    dx = np.empty_like(x) if need_dx else None

    def scratch(blocks):  # the first block of a worker's share is its largest
        width0 = (blocks[0][1] - blocks[0][0]) * P
        cols = np.empty((w2.shape[1], width0), dtype=x.dtype)
        return cols, np.empty((F, width0), dtype=x.dtype), np.empty_like(cols) if need_dx else None

    def work(blocks, buffers):
        cols, dfnp, dcols = buffers
        dw2 = np.zeros_like(w2)
        db = np.zeros(F, dtype=np.float64)
        for n0, n1 in blocks:
            width = (n1 - n0) * P
            kernels.im2col_block(x, n0, n1, HH, WW, stride, pad, H_out, W_out, cols)
            if n1 - n0 == 1:  # one image: its (F, P) gradient is already the block layout
                d = dout3[n0]
                db += d.sum(axis=1, dtype=np.float64)
            else:
                kernels.nchw_to_block(dout3, n0, n1, dfnp, db)
                d = dfnp[:, :width]
            dw2 += d @ cols[:, :width].T
            if need_dx:
                np.matmul(w2.T, d, out=dcols[:, :width])
                kernels.col2im_block(dcols, n0, n1, HH, WW, stride, pad, H_out, W_out, dx)
        return dw2, db

    parts = map_blocks(work, N, P, scratch=scratch)
    dw = sum(p[0] for p in parts).reshape(w.shape)
    db = sum(p[1] for p in parts).astype(x.dtype)
    return dx, dw, db
