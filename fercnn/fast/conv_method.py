"""Which algorithm a convolution layer runs: im2col + matrix product, or Winograd.

``choose(C, HH, WW, H_out, W_out, stride)`` decides per layer shape. Winograd
(fercnn/fast/winograd.py) needs stride 1 and square 3x3 or 5x5 filters; among its tile
sizes the one with the fewest multiplications for this output size wins (the last row of
tiles may hang over the edge and be wasted), the smaller tile on a tie because its
transforms are cheaper and its rounding smaller. A layer with fewer than
MIN_WINOGRAD_CHANNELS input channels stays on im2col: with one channel (the first layer
of the paper's networks) the matrix products are tiny and the transforms would dominate
(NNPACK found the same for 3-channel inputs).

For tests and benchmarks the choice can be forced, for the whole process or a block of
code:

    FERCNN_CONV=im2col python ...            # auto (default, also when empty), im2col, winograd,
                                             # f2x3, f3x3, f4x3, f2x5, f4x5
    with fercnn.fast.conv_method.forced("im2col"): ...   # this thread, this block

"winograd" uses Winograd wherever it applies, whatever the channel count, with the tile
chosen as above; a tile name forces that tile on the layers whose filter size it fits
and im2col elsewhere. The method a layer ran is kept in its cache, so backward follows it.
"""
import contextlib
import contextvars
import os

from fercnn.fast.winograd_transforms import VARIANTS, tiles

MIN_WINOGRAD_CHANNELS = 8

METHODS = ("auto", "im2col", "winograd", *VARIANTS)

# None: read FERCNN_CONV. A context variable, so that forced() in one thread leaves the
# convolutions of other threads alone.
_forced = contextvars.ContextVar("fercnn_conv_method", default=None)


def requested():
    """The method asked for in this thread now: forced()'s, else FERCNN_CONV's, else "auto"."""
    return _current()


def _current():
    method = _forced.get()
    if method is not None:
        return method
    method = os.environ.get("FERCNN_CONV", "") or "auto"
    if method not in METHODS:
        raise ValueError(f"conv_forward: conv method must be one of {', '.join(METHODS)}, got {method!r} "
                         "(from the FERCNN_CONV environment variable)")
    return method


@contextlib.contextmanager
def forced(method):
    """Run every convolution this thread starts inside the block with ``method`` (one of
    METHODS)."""
    if method not in METHODS:
        raise ValueError(f"conv_method.forced: conv method must be one of {', '.join(METHODS)}, got {method!r}")
    token = _forced.set(method)
    try:
        yield
    finally:
        _forced.reset(token)


def _fewest_multiplications(r, H_out, W_out):
    def cost(name):
        m, _ = VARIANTS[name]
        alpha = m + r - 1
        return tiles(H_out, m) * tiles(W_out, m) * alpha * alpha, alpha
    fits = [name for name, (_, rr) in VARIANTS.items() if rr == r]
    return min(fits, key=cost) if fits else None


def choose(C, HH, WW, H_out, W_out, stride):
    """'im2col' or a Winograd tile name ('f4x3', ...) for this layer shape."""
    method = _current()
    if method == "im2col" or stride != 1 or HH != WW:
        return "im2col"
    if method in VARIANTS:
        return method if VARIANTS[method][1] == HH else "im2col"
    best = _fewest_multiplications(HH, H_out, W_out)
    if best is None or (method == "auto" and C < MIN_WINOGRAD_CHANNELS):
        return "im2col"
    return best
