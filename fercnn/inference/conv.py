"""Convolution for a frozen network: im2col or Winograd with the filters transformed once.

Both work on channels-last activations (N, H, W, C), the layout a matrix product with the
filters on the right leaves behind, so no layer transposes its output, and the products put
the long side (the filters) where BLAS runs fastest at a batch of one. Stride 1 and "same"
padding (pad = r // 2), as in every conv layer of a ConvNet.

im2col is fercnn.layers.conv's, transposed: every r x r window of the padded input becomes
one row of an (N*H*W, r*r*C) matrix and the layer is one product with the filters as columns.

Winograd F(m x m, r x r) is fercnn.fast.winograd's algorithm written with plain NumPy: the
input is cut into alpha x alpha windows d (alpha = m + r - 1) that step by m, gathered with
the window's pixel first, so that each transform is a product by a small matrix on the left,
once per axis of the window, over all windows and channels at once:

    V = BT d B                      (a, a, Q, C)   Q windows, C channels; a = alpha
    M[t] = V[t] @ U[t]              (T, Q, F)      T = a*a positions; U: the filters, transformed once
    Y = AT M A                      (m, m, Q, F)   the m x m output tile of each window

Applying BT along one axis and then the other (separable) costs 2 * a^3 multiplications per
window and channel, where the single product with kron(BT, BT) costs a^4 (4x more for the
8 x 8 windows of F(4x4, 5x5)). The filters' transform U = G w G^T is computed once per network
and variant, the first time a layer runs that variant (fercnn.inference keeps it), which is
what makes Winograd pay at a batch of one face:
fercnn.fast transforms them in every call because training changes them in every step.

Winograd along the rows only ("-1d" variants, e.g. "f3x3-1d"): the one-dimensional F(m, r)
on each row's m-wide tiles, while the r rows a filter spans are gathered side by side, as
im2col does. Each window is then r rows of alpha pixels, and each of the alpha products
multiplies N*H*tiles windows by r*C rows of filters:

    V = BT d                        (a, Q, r*C)    d: the window, its pixel across the row first
    M[u] = V[u] @ U[u]              (a, Q, F)      U = w G^T along the filter's rows, made when frozen
    Y = AT M                        (m, Q, F)

On a map of several rows it costs more multiplications than the square tile, but gives each
product more windows, each with r times the channels, which is what the deep network's last
conv layer needs at a batch of one face: its 6 x 6 maps leave the square tiles 4 to 9
windows, where F(3, 3) along the rows gets 12 and needs 180 multiplications per output
channel and input channel, against im2col's 324 (`python benchmarks/bench_predict.py
--per-layer` times every method on every layer).

``choose`` picks the method for a layer shape and a batch size (module docstring of
fercnn/inference/__init__.py says why).
"""
import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from fercnn.fast import conv_method
from fercnn.fast.conv_method import MIN_WINOGRAD_CHANNELS
from fercnn.fast.winograd_transforms import VARIANTS, matrices, tiles
from fercnn.inference import kernel

ROWS = "-1d"  # the suffix of the row-only variants: "f3x3-1d" is F(3, 3) along each row

# A Winograd tile is used only where its matrix products get at least this many columns
# (windows of all the batch's images): with fewer, each product is too narrow to run near
# the speed of a wide one, and im2col's single wide product wins. A row-only tile's products
# multiply r times the channels, and get by with fewer windows: on the deep network's
# 512-channel 6 x 6 layer at a batch of one (2-core AMD EPYC), F(3, 3) along the rows with 12
# windows beat im2col by 13%, where the square F(2x2, 3x3) with 9 lost by 15%.
MIN_COLUMNS = 16
MIN_ROW_COLUMNS = 12

# Where fercnn.inference.kernel is on and takes a variant's products, their multiplications
# count this much of NumPy's (its partial row block counted whole) and the least columns do
# not apply: on the 12 x 12 layers at a batch of one face (2-core AMD EPYC, one thread) the
# kernel's F(4x4, 3x3), 9 windows padded to a block of 12, took 1.53 ms on the deep network's
# conv3 against 1.91 for NumPy's F(3x3, 3x3) with 16 (vgg's conv5: 0.58 against 0.70, conv6:
# 1.63 against 1.89), where counting multiplications alone would keep F(3x3, 3x3).
KERNEL_COST = 0.7


def choose(C, r, H, W, N, F=None, dtype=None):
    """'im2col' or the Winograd variant ('f4x3', 'f3x3-1d', ...) for a stride-1, same-padded
    r x r layer with C input channels on N images of H x W: among the square tiles that fit r
    and give at least MIN_COLUMNS windows over the batch, and the row-only ones that give at
    least MIN_ROW_COLUMNS, the one with the fewest multiplications per image (windows hanging
    over the edge count) if it has fewer than im2col, the smaller tile on a tie, square before
    row-only; im2col for fewer than MIN_WINOGRAD_CHANNELS input channels or when no tile
    qualifies. Where fercnn.inference.kernel is on (and no method is forced), a variant whose
    products it takes (F filters of ``dtype``: kernel.fits) qualifies whatever its windows,
    its cost as KERNEL_COST says.

    FERCNN_CONV and fercnn.fast.conv_method.forced() force a method here too: "im2col";
    "winograd" (the fewest multiplications, however few the columns, whatever C); a
    square variant's name (that tile where it fits r, else im2col)."""
    method = conv_method.requested()
    if method == "im2col" or (method in VARIANTS and VARIANTS[method][1] != r):
        return "im2col"
    if method in VARIANTS:
        return method
    if method == "auto" and C < MIN_WINOGRAD_CHANNELS:
        return "im2col"
    best, best_cost = "im2col", (None if method == "winograd" else H * W * r * r)
    compiled = method == "auto" and kernel.ready()
    for name, (m, rr) in sorted(VARIANTS.items(), key=lambda kv: kv[1][0]):
        if rr != r:
            continue
        a = m + r - 1
        square = tiles(H, m) * tiles(W, m)
        rows = H * tiles(W, m)
        for variant, windows, cost, least in ((name, square, square * a * a, MIN_COLUMNS),
                                              (name + ROWS, rows, rows * a * r, MIN_ROW_COLUMNS)):
            enough = method == "winograd" or N * windows >= least
            if compiled and kernel.fits(N * windows, F, dtype):
                enough, cost = True, KERNEL_COST * cost * kernel.padded_rows(N * windows) / (N * windows)
            if enough and (best_cost is None or cost < best_cost):
                best, best_cost = variant, cost
    return best


def windows(variant, N, H, W):
    """The rows of each of ``variant``'s filter products on N images of H x W: windows of
    all the images (a row-only variant's windows are each row's tiles)."""
    m = VARIANTS[variant[:-len(ROWS)] if variant.endswith(ROWS) else variant][0]
    return N * (H if variant.endswith(ROWS) else tiles(H, m)) * tiles(W, m)


def _filter_products(V, U, packed):
    """V: (T, Q, K) @ U: (T, K, F) -> (T, Q, F): NumPy's matmul, or with ``packed`` (U as
    fercnn.inference.kernel.pack gives it) the compiled kernel."""
    return np.matmul(V, U) if packed is None else kernel.product(V, packed)


@functools.lru_cache(maxsize=None)
def _matrices(variant, dtype):
    """The variant's BT and AT in ``dtype`` (read-only: shared)."""
    BT, _, AT = matrices(*VARIANTS[variant])
    out = BT.astype(dtype), AT.astype(dtype)
    for M in out:
        M.flags.writeable = False
    return out


def transform_filters(w, variant, dtype):
    """w: (F, C, r, r) float64 -> U: (T, C, F) of ``dtype``, U[u*a + v] = (G w G^T)[u, v]
    with the channels as rows for the products, computed in float64."""
    G = matrices(*VARIANTS[variant])[1]
    a = G.shape[0]
    U = np.einsum("ui,fcij,vj->uvcf", G, w, G).reshape(a * a, w.shape[1], w.shape[0])
    return np.ascontiguousarray(U, dtype=dtype)


def transform_filters_rows(w, variant, dtype):
    """w: (F, C, r, r) float64 -> U: (a, r*C, F) of ``dtype`` for the row-only ``variant``
    ("f3x3-1d"): U[u, (i, c)] = (w[:, c, i, :] G^T)[u], computed in float64."""
    F, C, r, _ = w.shape
    G = matrices(*VARIANTS[variant[:-len(ROWS)]])[1]
    U = np.einsum("uj,fcij->uicf", G, w).reshape(G.shape[0], r * C, F)
    return np.ascontiguousarray(U, dtype=dtype)


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
    b: (F,) or None (no bias) -> (N, H, W, F)."""
    N, H, W, C = x.shape
    pad = r // 2
    xp = _padded(x, pad, H + 2 * pad, W + 2 * pad)
    # cols[n, y, x, i, j] = xp[n, y + i, x + j]: a view of xp, copied once by the reshape
    sN, sH, sW, sC = xp.strides
    cols = as_strided(xp, (N, H, W, r, r, C), (sN, sH, sW, sH, sW, sC), writeable=False)
    out = cols.reshape(N * H * W, r * r * C) @ w2
    if b is not None:
        out += b
    return out.reshape(N, H, W, w2.shape[1])


def larger_of_four(a, b, c, d):
    """The 2x2 max-pool's rule, elementwise over its four pixels (a NaN wins, as in fercnn.fast's
    pool); every pool of fercnn.inference goes through it, so all give the same numbers."""
    return np.maximum(np.maximum(a, b), np.maximum(c, d))


def im2col_conv_pooled(x, w2, b, r):
    """max_pool_2x2(im2col_conv(x, w2, None, r)) + b (b: (F,) or None), equal up to rounding
    (the product's rows come in another order): (N, H, W, C) -> (N, H // 2, W // 2, F). The
    rows are ordered (di, dj, n, y, x) for output pixel (2y + di, 2x + dj), so that the pool
    is the larger of four contiguous blocks; the last row and column of an odd map are not
    computed."""
    N, H, W, C = x.shape
    F = w2.shape[1]
    pad = r // 2
    xp = _padded(x, pad, H + 2 * pad, W + 2 * pad)
    H, W = H // 2, W // 2
    sN, sH, sW, sC = xp.strides
    cols = as_strided(xp, (2, 2, N, H, W, r, r, C), (sH, sW, sN, 2 * sH, 2 * sW, sH, sW, sC), writeable=False)
    out = (cols.reshape(4 * N * H * W, r * r * C) @ w2).reshape(4, N * H * W, F)
    out = larger_of_four(*out)
    if b is not None:
        out += b
    return out.reshape(N, H, W, F)


def pools_in_tile(variant):
    """Whether winograd_conv_pooled takes ``variant``: a square tile of even m, whose 2x2
    pooling windows never straddle two tiles."""
    return not variant.endswith(ROWS) and VARIANTS[variant][0] % 2 == 0


def _winograd_tiles(x, U, variant, packed=None):
    """The output tiles of winograd_conv: Y (m, m, N, th, tw, F), pixel (i, j) of window
    (p, q)'s tile being output pixel (p*m + i, q*m + j)."""
    m, r = VARIANTS[variant]
    a = m + r - 1
    BT, AT = _matrices(variant, x.dtype)
    N, H, W, C = x.shape
    F = U.shape[2]
    th, tw = tiles(H, m), tiles(W, m)
    Q = N * th * tw
    xp = _padded(x, r // 2, th * m + r - 1, tw * m + r - 1)
    # d[i, j, n, p, q] = the C channels of pixel (i, j) of window (p, q): xp[n, p*m + i, q*m + j]
    # (a view of xp, copied once by the reshape: one NumPy call where slicing took a^2)
    sN, sH, sW, sC = xp.strides
    d = as_strided(xp, (a, a, N, th, tw, C), (sH, sW, sN, m * sH, m * sW, sC), writeable=False)
    V = np.matmul(BT, (BT @ d.reshape(a, -1)).reshape(a, a, Q * C))  # BT along i, then along j
    M = _filter_products(V.reshape(a * a, Q, C), U, packed)  # (T, Q, F)
    Y = np.matmul(AT, (AT @ M.reshape(a, -1)).reshape(m, a, Q * F))  # (m, m, Q*F)
    return Y.reshape(m, m, N, th, tw, F)


def _placed(Y, H, W, b):
    """Tiles Y (m, m, N, th, tw, F) put in place, cut to (N, H, W, F), plus b (or None)."""
    m, _, N, th, tw, F = Y.shape
    out = np.empty((N, H, W, F), dtype=Y.dtype)
    out[...] = Y.transpose(2, 3, 0, 4, 1, 5).reshape(N, th * m, tw * m, F)[:, :H, :W]  # tiles over the edge are cut
    if b is not None:
        out += b
    return out


def winograd_conv(x, U, b, variant, packed=None):
    """x: (N, H, W, C), U: (T, C, F) transformed filters, b: (F,) or None (no bias) -> (N, H, W, F);
    with ``packed`` (U packed for fercnn.inference.kernel) its products run in the kernel."""
    return _placed(_winograd_tiles(x, U, variant, packed), x.shape[1], x.shape[2], b)


def winograd_conv_pooled(x, U, b, variant, packed=None):
    """max_pool_2x2(winograd_conv(x, U, None, variant)) + b, bit for bit (b: (F,) or None):
    (N, H, W, C) -> (N, H // 2, W // 2, F), pooled inside each output tile before the tiles
    are put in place; for the variants where pools_in_tile."""
    if not pools_in_tile(variant):
        raise ValueError(f"winograd_conv_pooled: expected a square tile of even m, got {variant!r}")
    Y = _winograd_tiles(x, U, variant, packed)
    m = Y.shape[0]
    Y = Y.reshape(m // 2, 2, m // 2, 2, *Y.shape[2:])  # pixel (2i + di, 2j + dj) of each tile
    Y = larger_of_four(Y[:, 0, :, 0], Y[:, 0, :, 1], Y[:, 1, :, 0], Y[:, 1, :, 1])
    return _placed(Y, x.shape[1] // 2, x.shape[2] // 2, b)


def winograd_rows_conv(x, U, b, variant, packed=None):
    """x: (N, H, W, C), U: (a, r*C, F) from transform_filters_rows, b: (F,) or None (no bias)
    -> (N, H, W, F); with ``packed`` (U packed for fercnn.inference.kernel) its products run
    in the kernel."""
    square = variant[:-len(ROWS)]  # the square tile of the same F(m, r): its matrices
    m, r = VARIANTS[square]
    a = m + r - 1
    BT, AT = _matrices(square, x.dtype)
    N, H, W, C = x.shape
    F = U.shape[2]
    tw = tiles(W, m)
    Q = N * H * tw
    xp = _padded(x, r // 2, H + r - 1, tw * m + r - 1)
    # d[k, n, y, q, i] = the C channels of xp[n, y + i, q*m + k]: pixel k across window (y, q)'s
    # row, filter row i
    sN, sH, sW, sC = xp.strides  # a view of xp, copied once by the reshape
    d = as_strided(xp, (a, N, H, tw, r, C), (sW, sN, sH, m * sW, sH, sC), writeable=False)
    V = (BT @ d.reshape(a, -1)).reshape(a, Q, r * C)
    M = _filter_products(V, U, packed)  # (a, Q, F)
    Y = (AT @ M.reshape(a, -1)).reshape(m, N, H, tw, F)
    out = np.empty((N, H, W, F), dtype=x.dtype)
    # pixel l of window (y, q)'s tile is output pixel (y, q*m + l); tiles over the edge are cut
    out[...] = Y.transpose(1, 2, 3, 0, 4).reshape(N, H, tw * m, F)[:, :, :W]
    if b is not None:
        out += b
    return out
