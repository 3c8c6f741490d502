"""Numba kernel behind fercnn.fast.augment.warp: the batched warp of fercnn.data.augment,
one image per ``prange`` iteration, each output pixel read from its source by bilinear
interpolation (0 outside), the four taps summed in the readable warp's order."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def warp(x, flip, cos, sin, shift):
    """x: (N, C, H, W); flip (N,) bool; cos, sin: (N,) cos(angle) / zoom and sin(angle) / zoom;
    shift: (N, 2) int64 -> out: (N, C, H, W) of x's dtype."""
    N, C, H, W = x.shape
    out = np.zeros_like(x)
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    for n in prange(N):
        for i in range(H):
            r = i - shift[n, 0] - cy
            for j in range(W):
                c = j - shift[n, 1] - cx
                src_r = cos[n] * r - sin[n] * c + cy
                src_c = sin[n] * r + cos[n] * c + cx
                if flip[n]:
                    src_c = (W - 1) - src_c
                r0 = np.floor(src_r)
                c0 = np.floor(src_c)
                fr = x.dtype.type(src_r - r0)
                fc = x.dtype.type(src_c - c0)
                ir, ic = int(r0), int(c0)
                for ch in range(C):
                    acc = zero
                    for dr in range(2):
                        rr = ir + dr
                        wr = fr if dr else one - fr
                        for dc in range(2):
                            cc = ic + dc
                            w = wr * (fc if dc else one - fc)
                            if 0 <= rr < H and 0 <= cc < W:
                                acc += w * x[n, ch, rr, cc]
                            else:
                                acc += w * zero
                    out[n, ch, i, j] = acc
    return out
