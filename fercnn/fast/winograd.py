"""Convolution by Winograd minimal filtering: fewer multiplications than im2col.

For stride 1 and square 3x3 or 5x5 filters. The output is cut into m x m tiles; each tile
needs an alpha x alpha window of the input (alpha = m + r - 1). In the transformed domain
(fercnn/fast/winograd_transforms.py) a tile's convolution is an elementwise product, and
summing over input channels turns the alpha^2 positions into alpha^2 independent matrix
products:

    U[t] = (G @ w[f, c] @ G.T)[t]           (T, F, C)  filters, once per call
    V[t] = (BT @ d @ BT.T)[t]               (T, C, Q)  Q tiles of a block of images
    M[t] = U[t] @ V[t]                      (T, F, Q)  T = alpha^2 products
    out_tile = AT @ M_tile @ AT.T           (m, m)     per tile and filter

F(4x4, 3x3) does 36 multiplications per 16 outputs where direct convolution does 144 (4x
fewer); F(2x2, 3x3) 16 per 4 (2.25x); F(4x4, 5x5) 64 per 16 (6.25x); F(2x2, 5x5) 36 per 4
(2.8x). The transforms are additions and integer multiples, written out by the generated
kernels in _winograd_kernels.py.

Backward goes through the same domain. With D = the output gradient taken back through
the output transform (AT.T @ dy @ AT per tile):

    dU[t] = D[t] @ V[t].T     ->  dw = G.T @ dU @ G
    dV[t] = U[t].T @ D[t]     ->  dx: each tile's BT.T @ dV @ BT added back where it came from

As in conv.py the batch is cut into blocks of images on the worker threads (their buffers
allocated by the calling thread: see fercnn.fast._workers.map_blocks), and backward
recomputes V instead of keeping it (it is T / m^2 times the input: 2.25x for F(4x4, 3x3)).
Rounding: the transforms add values of different sizes, so float32 error grows with the
tile; tests/fast/test_winograd.py bounds it against float64 direct convolution.
"""
import functools

import numpy as np

from fercnn.fast import _winograd_kernels as kernels
from fercnn.fast._workers import map_blocks
from fercnn.fast.winograd_transforms import VARIANTS, coefficients, matrices, tiles

# A block holds enough images for at least this many tiles (the matrix products' width),
# in a multiple of 8 images (the kernels' loops run over a band of tiles, images
# innermost). 512 rather than 256 since the kernels loop over bands: deep conv2's blocks go
# from 8 to 16 images and conv3's from 32 to 64, 1.05x-1.10x faster forward + backward in
# one process; shallow conv2 (8 images) and deep conv4 (64, half the batch) are unchanged.
MIN_BLOCK_TILES = 512
IMAGES_MULTIPLE = 8


def _block_columns(Q):
    """min_columns for map_blocks: whole multiples of IMAGES_MULTIPLE images of Q tiles."""
    images = -(-max(MIN_BLOCK_TILES, Q) // Q)
    return -(-images // IMAGES_MULTIPLE) * IMAGES_MULTIPLE * Q

_KERNELS = {
    name: tuple(getattr(kernels, f"{kind}_{name}") for kind in ("input", "output", "dout", "dinput"))
    for name in VARIANTS
}


@functools.lru_cache(maxsize=None)
def _kron_G(variant, dtype):
    """K = kron(G, G): (alpha^2, r^2), so that U[t] for one filter is K @ its r^2 taps."""
    m, r = VARIANTS[variant]
    _, G, _ = matrices(m, r)
    K = np.kron(G, G).astype(dtype)
    K.flags.writeable = False
    return K


def filter_transform(w, variant):
    """w: (F, C, r, r) -> U: (T, F, C) = (G @ w[f, c] @ G.T) at each of the T = alpha^2
    positions: one matrix product K @ (all F * C filters as r^2 columns), in w's dtype."""
    F, C = w.shape[:2]
    K = _kron_G(variant, w.dtype)
    return (K @ np.ascontiguousarray(w).reshape(F * C, -1).T).reshape(-1, F, C)


def filter_gradient(dU, variant, F, C):
    """The adjoint of filter_transform: dU: (T, F, C) -> dw: (F, C, r, r) = G.T @ dU @ G,
    in dU's dtype."""
    r = VARIANTS[variant][1]
    K = _kron_G(variant, dU.dtype)
    return (dU.reshape(K.shape[0], -1).T @ K).reshape(F, C, r, r)  # (F*C, r*r): already w's layout


def winograd_forward(x, w, b, pad, variant):
    """x: (N, C, H, W), w: (F, C, r, r), b: (F,), stride 1 -> out: (N, F, H_out, W_out), and
    the transformed filters U: (T, F, C), which backward uses again.

    The arguments are checked by the caller (fercnn.fast.conv.conv_forward)."""
    m, r = VARIANTS[variant]
    input_tiles, output_tiles = _KERNELS[variant][:2]
    N, C, H, W = x.shape
    F = w.shape[0]
    H_out, W_out = H + 2 * pad - r + 1, W + 2 * pad - r + 1
    th, tw = tiles(H_out, m), tiles(W_out, m)
    coef = np.array(coefficients(m, r) or [0], dtype=x.dtype)
    x = np.ascontiguousarray(x)
    U = filter_transform(w, variant)
    b = np.ascontiguousarray(b)
    out = np.empty((N, F, H_out, W_out), dtype=x.dtype)
    Q = th * tw

    def scratch(blocks):  # the first block of a worker's share is its largest
        width = (blocks[0][1] - blocks[0][0]) * Q
        return np.empty((U.shape[0], C, width), dtype=x.dtype), np.empty((U.shape[0], F, width), dtype=x.dtype)

    def work(blocks, buffers):
        V, M = buffers
        for n0, n1 in blocks:
            q = (n1 - n0) * Q
            input_tiles(x, n0, n1, pad, th, tw, coef, V)
            np.matmul(U, V[:, :, :q], out=M[:, :, :q])
            output_tiles(M, b, n0, n1, th, tw, coef, out)

    map_blocks(work, N, Q, min_columns=_block_columns(Q), scratch=scratch)
    return out, U


def winograd_backward(dout, x, w, pad, variant, need_dx=True, U=None):
    """dout: (N, F, H_out, W_out) -> dx (N, C, H, W) or None, dw (F, C, r, r), db (F,).
    U: the forward pass's transformed filters (computed again if not given)."""
    m, r = VARIANTS[variant]
    input_tiles, _, dout_tiles, dinput_tiles = _KERNELS[variant]
    N, C, H, W = x.shape
    F = w.shape[0]
    H_out, W_out = dout.shape[2:]
    th, tw = tiles(H_out, m), tiles(W_out, m)
    coef = np.array(coefficients(m, r) or [0], dtype=x.dtype)
    U = filter_transform(w, variant) if U is None else U
    UT = U.transpose(0, 2, 1)
    dout = np.ascontiguousarray(dout)
    dx = np.empty_like(x) if need_dx else None
    Q = th * tw
    T = U.shape[0]

    def scratch(blocks):  # the first block of a worker's share is its largest
        width = (blocks[0][1] - blocks[0][0]) * Q
        V = np.empty((T, C, width), dtype=x.dtype)
        D = np.empty((T, F, width), dtype=x.dtype)
        dV = np.empty((T, C, width), dtype=x.dtype) if need_dx else None
        # the first block's product is written into dU, later ones into P and added: no
        # temporary of dU's size (26 MB for deep conv4) is allocated per block
        dU = np.empty((T, F, C), dtype=x.dtype)
        P = np.empty_like(dU) if len(blocks) > 1 else None
        return V, D, dV, dU, P

    def work(blocks, buffers):
        V, D, dV, dU, P = buffers
        db = np.zeros(F, dtype=np.float64)
        for k, (n0, n1) in enumerate(blocks):
            q = (n1 - n0) * Q
            input_tiles(x, n0, n1, pad, th, tw, coef, V)
            dout_tiles(dout, n0, n1, th, tw, coef, D, db)
            np.matmul(D[:, :, :q], V[:, :, :q].transpose(0, 2, 1), out=P if k else dU)
            if k:
                dU += P
            if need_dx:
                np.matmul(UT, D[:, :, :q], out=dV[:, :, :q])
                dinput_tiles(dV, n0, n1, pad, th, tw, coef, dx)
        return dU, db

    parts = map_blocks(work, N, Q, min_columns=_block_columns(Q), scratch=scratch)
    dU = parts[0][0]
    for part in parts[1:]:  # in place, in x's dtype: a float64 copy of dU (T*F*C) cost more than its rounding
        dU += part[0]
    dw = filter_gradient(dU, variant, F, C)
    db = sum(p[1] for p in parts).astype(x.dtype)
    return dx, dw, db
