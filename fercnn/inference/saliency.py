"""Saliency maps through the frozen network: |d score_y / d pixel| (Simonyan et al., 2014).

The same maps as fercnn.visualize.saliency (evaluation mode, the maximum over channels),
computed with NumPy from the folded layers instead of fercnn.fast's backward pass, so a
live page's saliency overlay compiles no Numba kernel either. Folding batchnorm does not
change the gradient: it was an affine map with fixed numbers, now inside the layer.

Backward, layer by layer (channels last):
- affine: dx = dout @ w.T;  ReLU: dout where its output was > 0;
- 2x2 max-pool: each window's gradient goes to its first maximum in scan order;
- conv ("same" padding, stride 1): dx is the convolution of dout with the filters turned by
  180 degrees and their input and output channels swapped, im2col_conv again.
"""
import numpy as np

from fercnn.inference.conv import filter_columns, im2col_conv
from fercnn.inference.frozen import max_pool_2x2


def saliency(steps, X, y):
    """X: (N, C, H, W) as model.prepare gives it, y: (N,) class indices -> (N, H, W) maps."""
    x = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
    tape = []
    for step in steps:
        if step == "flatten":
            tape.append(("flatten", x.shape))
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(x.shape[0], -1)
        elif hasattr(step, "w2"):
            z = im2col_conv(x, step.w2, step.b, step.w.shape[2])
            pooled = max_pool_2x2(z) if step.pool else z
            out = np.maximum(pooled, 0) if step.relu else pooled
            tape.append(("conv", step, z, pooled))
            x = out
        else:
            z = x @ step.w + step.b
            out = np.maximum(z, 0) if step.relu else z
            tape.append(("affine", step, z))
            x = out
    dout = np.zeros_like(x)
    dout[np.arange(len(y)), y] = 1
    for record in reversed(tape):
        if record[0] == "flatten":
            N, H, W, C = record[1]
            dout = np.ascontiguousarray(dout.reshape(N, C, H, W).transpose(0, 2, 3, 1))
        elif record[0] == "affine":
            _, step, z = record
            if step.relu:
                dout = dout * (z > 0)
            dout = dout @ step.w.T
        else:
            _, step, z, pooled = record
            if step.relu:
                dout = dout * (pooled > 0)
            if step.pool:
                dout = _max_pool_2x2_backward(dout, z, pooled)
            dout = im2col_conv(dout, _backward_filters(step), np.zeros(step.w.shape[1], dout.dtype), step.w.shape[2])
    return np.abs(dout).max(axis=3)


def _backward_filters(step):
    """The filters of dx = conv(dout): w turned 180 degrees, (F, C) swapped to (C, F)."""
    cached = getattr(step, "_backward_w2", None)
    if cached is None:
        cached = step._backward_w2 = filter_columns(step.w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), step.dtype)
    return cached


def _max_pool_2x2_backward(dout, z, pooled):
    """dout: (N, H//2, W//2, C) -> (N, H, W, C), each window's gradient at its first maximum."""
    dz = np.zeros_like(z)
    taken = np.zeros(pooled.shape, dtype=bool)
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):  # scan order
        H, W = pooled.shape[1] * 2, pooled.shape[2] * 2
        here = (z[:, i:H:2, j:W:2] == pooled) & ~taken
        dz[:, i:H:2, j:W:2] = dout * here
        taken |= here
    return dz
