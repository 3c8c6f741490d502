"""A Winograd conv layer in bands of tiles, for a face or a few: transforms, products, pool.

banded(x, Bp, BT, AT, m, bias, pool, relu, out): the layer of fercnn/inference/conv.py's
winograd_conv (winograd_conv_pooled with pool), then + bias and ReLU where asked, on
channels-last arrays:

    x: (N, H, W, C) float32          the layer's input, unpadded (pad = r // 2 is read as 0)
    Bp: (a*a, F // NR, C, NR)        the transformed filters U (a*a, C, F), kernel.pack'ed
    BT: (a, a), AT: (m, a)           the variant's transform matrices, float32
    out: (N, H, W, F), or (N, H // 2, W // 2, F) with pool (m even)

The windows are taken a band at a time, as many rows of tiles (of all N images) as make
at most MR windows, the kernel's one block of rows (one row of tiles at least, in several
blocks where it has more): each band's input transform V (a*a,
windows, C), its products with the filters M (a*a, windows, F) and its output tiles are
small arrays reused from band to band, so they stay in the core's cache, where the NumPy
layer makes each of them at once for the whole map (a few MB at 48 x 48 pixels, read back
from memory after the previous pass's filters pushed them out of the cache). The filters are
read once per band, from the cache on the small layers this runs (fercnn/inference/kernel.py
``takes_banded``). The transforms apply BT (AT) along one side of the window and then the
other, channels innermost, so the compiler vectorises them over the channels.

Compile it only through fercnn/inference/kernel.py: it inlines the product kernel's block
(fercnn/inference/_product_kernel.py), which needs LLVM's SLP vectorizer.
"""
import numpy as np
from numba import njit

from fercnn.inference._product_kernel import MR, _block


@njit(fastmath={'contract'}, nogil=True, cache=True)
def banded(x, Bp, BT, AT, m, bias, pool, relu, out):
    N, H, W, C = x.shape
    T, P, _, NR = Bp.shape
    F = P * NR
    a = BT.shape[0]
    r = a - m + 1
    pad = r // 2
    th, tw = (H + m - 1) // m, (W + m - 1) // m
    rows = max(1, MR // (N * tw))  # tile rows a band takes: N * tw * rows windows, at most MR unless one row is more
    Q = N * tw * rows
    d = np.zeros((a, a, C), np.float32)
    t1 = np.empty((a, a, C), np.float32)
    V = np.empty((T, Q, C), np.float32)
    M = np.empty((T, Q, F), np.float32)
    y1 = np.empty((m, a, F), np.float32)
    Y = np.empty((m, m, F), np.float32)
    for ty0 in range(0, th, rows):
        per_image = tw * min(rows, th - ty0)  # windows of one image in this band
        q_count = N * per_image
        # input transform: V[u*a + v, q] = (BT d BT^T)[u, v] for window q of the band
        for q in range(q_count):
            n, rest = q // per_image, q % per_image
            ty, tx = ty0 + rest // tw, rest % tw
            for i in range(a):
                y = ty * m + i - pad
                for j in range(a):
                    xx = tx * m + j - pad
                    if 0 <= y < H and 0 <= xx < W:
                        for c in range(C):
                            d[i, j, c] = x[n, y, xx, c]
                    else:
                        for c in range(C):
                            d[i, j, c] = 0
            for u in range(a):
                for j in range(a):
                    for c in range(C):
                        t1[u, j, c] = 0
                    for i in range(a):
                        k = BT[u, i]
                        if k != 0:
                            for c in range(C):
                                t1[u, j, c] += k * d[i, j, c]
            for u in range(a):
                for v in range(a):
                    row = V[u * a + v, q]
                    for c in range(C):
                        row[c] = 0
                    for j in range(a):
                        k = BT[v, j]
                        if k != 0:
                            for c in range(C):
                                row[c] += k * t1[u, j, c]
        # products: M[t, :q_count] = V[t, :q_count] @ U[t], one block of rows each
        for t in range(T):
            for i0 in range(0, q_count, MR):  # one block, but for more than MR images' rows of tiles
                for p in range(P):
                    _block(V[:, :q_count], Bp, M[:, :q_count], t, i0, p)
        # output transform, then pool, bias and ReLU, into out
        for q in range(q_count):
            n, rest = q // per_image, q % per_image
            ty, tx = ty0 + rest // tw, rest % tw
            for i in range(m):
                for v in range(a):
                    for f in range(F):
                        y1[i, v, f] = 0
                    for u in range(a):
                        k = AT[i, u]
                        if k != 0:
                            src = M[u * a + v, q]
                            for f in range(F):
                                y1[i, v, f] += k * src[f]
            for i in range(m):
                for j in range(m):
                    for f in range(F):
                        Y[i, j, f] = 0
                    for v in range(a):
                        k = AT[j, v]
                        if k != 0:
                            for f in range(F):
                                Y[i, j, f] += k * y1[i, v, f]
            if pool:
                for i in range(m // 2):
                    y = ty * (m // 2) + i
                    if y >= H // 2:
                        continue
                    for j in range(m // 2):
                        xx = tx * (m // 2) + j
                        if xx >= W // 2:
                            continue
                        dst = out[n, y, xx]
                        for f in range(F):
                            z = max(max(Y[2 * i, 2 * j, f], Y[2 * i, 2 * j + 1, f]),
                                    max(Y[2 * i + 1, 2 * j, f], Y[2 * i + 1, 2 * j + 1, f])) + bias[f]
                            dst[f] = max(z, 0) if relu else z
            else:
                for i in range(m):
                    y = ty * m + i
                    if y >= H:
                        continue
                    for j in range(m):
                        xx = tx * m + j
                        if xx >= W:
                            continue
                        dst = out[n, y, xx]
                        for f in range(F):
                            z = Y[i, j, f] + bias[f]
                            dst[f] = max(z, 0) if relu else z
