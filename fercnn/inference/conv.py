"""Convolution for a frozen network: im2col or Winograd with the filters transformed once.

Both work on channels-last activations (N, H, W, C), the layout a matrix product with the
filters on the right leaves behind, so no layer transposes its output, and the products put
the long side (the filters) where BLAS runs fastest at a batch of one. Stride 1 and "same"
padding (pad = r // 2), as in every conv layer of a ConvNet.

im2col is fercnn.layers.conv's, transposed: every r x r window of the padded input becomes
one row of an (N*H*W, r*r*C) matrix and the layer is one product with the filters as columns.

Winograd F(m x m, r x r) is fercnn.fast.winograd's algorithm written with plain NumPy: the
input is cut into alpha x alpha windows (alpha = m + r - 1) that step by m, and with the
Kronecker products of the transform matrices each transform is one matrix product over all
windows at once:

    V = kron(BT, BT) @ windows      (T, Q, C)    T = alpha^2 positions, Q windows
    M[t] = V[t] @ U[t]^T            (T, Q, F)    U: the filters, transformed when frozen
    Y = kron(AT, AT) @ M            (m*m, Q, F)  the m x m output tile of each window

The filters' transform U = kron(G, G) @ w is computed once per network (fercnn.inference
keeps it), which is what makes Winograd pay at a batch of one face: fercnn.fast transforms
them in every call because training changes them in every step.

``choose`` picks the method for a layer shape and a batch size (module docstring of
fercnn/inference/__init__.py says why).
"""
import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fercnn.fast import conv_method
from fercnn.fast.conv_method import MIN_WINOGRAD_CHANNELS
from fercnn.fast.winograd_transforms import VARIANTS, matrices, tiles

# A Winograd tile is used only where its matrix products get at least this many columns
# (windows of all the batch's images): with fewer, each product is too narrow to run near
# the speed of a wide one, and im2col's single wide product wins.
MIN_COLUMNS = 16


def choose(C, r, H, W, N):
    """'im2col' or the Winograd variant ('f4x3', ...) for a stride-1, same-padded r x r layer
    with C input channels on N images of H x W: among the tiles that fit r and give at least
    MIN_COLUMNS windows over the batch, the one with the fewest multiplications per image
    (windows hanging over the edge count), the smaller on a tie; im2col for fewer than
    MIN_WINOGRAD_CHANNELS input channels or when no tile qualifies.

    FERCNN_CONV and fercnn.fast.conv_method.forced() force a method here too: "im2col";
    "winograd" (the fewest multiplications, however few the columns, whatever C); a
    variant name (that tile where it fits r, else im2col)."""
    method = conv_method.requested()
    if method == "im2col" or (method in VARIANTS and VARIANTS[method][1] != r):
        return "im2col"
    if method in VARIANTS:
        return method
    if method == "auto" and C < MIN_WINOGRAD_CHANNELS:
        return "im2col"
    best, best_cost = "im2col", None
    for name, (m, rr) in sorted(VARIANTS.items(), key=lambda kv: kv[1][0]):
        if rr != r:
            continue
        windows = tiles(H, m) * tiles(W, m)
        cost = windows * (m + r - 1) ** 2
        enough = method == "winograd" or N * windows >= MIN_COLUMNS
        if enough and (best_cost is None or cost < best_cost):
            best, best_cost = name, cost
    return best


@functools.lru_cache(maxsize=None)
def _kron(variant, which, dtype):
    """kron(M, M) of the variant's BT, G or AT, in ``dtype`` (read-only: shared)."""
    BT, G, AT = matrices(*VARIANTS[variant])
    M = {"BT": BT, "G": G, "AT": AT}[which]
    K = np.kron(M, M).astype(dtype)
    K.flags.writeable = False
    return K


def transform_filters(w, variant, dtype):
    """w: (F, C, r, r) float64 -> UT: (T, C, F) of ``dtype`` (U[t] = G w G^T at position t,
    transposed for the products), computed in float64."""
    F, C, r, _ = w.shape
    U = (_kron(variant, "G", np.float64) @ w.reshape(F * C, r * r).T).reshape(-1, F, C)
    return np.ascontiguousarray(U.transpose(0, 2, 1), dtype=dtype)


def filter_columns(w, dtype):
    """w: (F, C, r, r) -> (r*r*C, F): im2col_conv's filters, rows ordered (i, j, c)."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0]), dtype=dtype)


def _padded(x, pad, H_pad, W_pad):
    """x: (N, H, W, C) inside a zero border: (N, H_pad, W_pad, C), x starting at (pad, pad)."""
    N, H, W, C = x.shape
    xp = np.zeros((N, H_pad, W_pad, C), dtype=x.dtype)
    xp[:, pad:pad + H, pad:pad + W] = x
    return xp


def im2col_conv(x, w2, b, r):
    """x: (N, H, W, C), w2: (r*r*C, F) the filters as columns, rows ordered (i, j, c),
    b: (F,) -> (N, H, W, F)."""
    N, H, W, C = x.shape
    pad = r // 2
    xp = _padded(x, pad, H + 2 * pad, W + 2 * pad)
    cols = np.empty((N, H, W, r, r, C), dtype=x.dtype)
    for i in range(r):
        for j in range(r):
            cols[:, :, :, i, j] = xp[:, i:i + H, j:j + W]
    out = cols.reshape(N * H * W, r * r * C) @ w2
    out += b
    return out.reshape(N, H, W, -1)


def winograd_conv(x, UT, b, variant):
    """x: (N, H, W, C), UT: (T, C, F) transformed filters, b: (F,) -> (N, H, W, F)."""
    m, r = VARIANTS[variant]
    alpha = m + r - 1
    N, H, W, C = x.shape
    F = UT.shape[2]
    th, tw = tiles(H, m), tiles(W, m)
    Q = N * th * tw
    xp = _padded(x, r // 2, th * m + r - 1, tw * m + r - 1)
    windows = sliding_window_view(xp, (alpha, alpha), axis=(1, 2))[:, ::m, ::m]  # (N, th, tw, C, a, a)
    d = np.ascontiguousarray(windows).reshape(Q * C, alpha * alpha)
    V = (_kron(variant, "BT", x.dtype) @ d.T).reshape(alpha * alpha, Q, C)
    M = np.matmul(V, UT)  # (T, Q, F)
    Y = (_kron(variant, "AT", x.dtype) @ M.reshape(alpha * alpha, Q * F)).reshape(m, m, N, th, tw, F)
    out = np.empty((N, H, W, F), dtype=x.dtype)
    # pixel (i, j) of window (p, q)'s tile is output pixel (p*m + i, q*m + j); tiles over the edge are cut
    out[...] = Y.transpose(2, 3, 0, 4, 1, 5).reshape(N, th * m, tw * m, F)[:, :H, :W]
    out += b
    return out
