"""Float32 error of each convolution method on the paper's conv layers, against float64.

Shared by tests/fast/test_winograd.py (which bounds it) and benchmarks/winograd_error.py
(which prints it), so both measure the same layers in the same way.
"""
import numpy as np

from fercnn.fast import conv_method
from fercnn.fast.conv import conv_backward, conv_forward
from fercnn.fast.winograd_transforms import VARIANTS

# the paper's conv layers with more than one input channel: name, C, F, r, H (= W)
PAPER_LAYERS = [("shallow conv2", 32, 64, 3, 48), ("deep conv2", 64, 128, 5, 24),
                ("deep conv3", 128, 512, 3, 12), ("deep conv4", 512, 512, 3, 6)]


def relative_error(a, ref):
    """max |a - ref| / max |ref|: the error as a fraction of the layer's output scale."""
    return float(np.abs(a.astype(np.float64) - ref).max() / np.abs(ref).max())


def float32_errors(C, F, r, H, *, batch=4, seed=3):
    """{method: {"out", "dx", "dw", "db": relative error}} for im2col and every Winograd tile
    of r x r filters, each run in float32 on a (batch, C, H, H) input with He-scaled weights
    (as in training), against the im2col path in float64 on the same numbers."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, C, H, H))
    w = rng.standard_normal((F, C, r, r)) * np.sqrt(2.0 / (C * r * r))
    b = rng.standard_normal(F) * 0.1
    with conv_method.forced("im2col"):
        ref, cache = conv_forward(x, w, b, pad=r // 2)
        dout = rng.standard_normal(ref.shape)
        expected = (ref, *conv_backward(dout, cache))
    f32 = [a.astype(np.float32) for a in (x, w, b, dout)]
    errors = {}
    for method in ["im2col"] + [v for v, (_, rr) in VARIANTS.items() if rr == r]:
        with conv_method.forced(method):
            out, cache = conv_forward(*f32[:3], pad=r // 2)
            got = (out, *conv_backward(f32[3], cache))
        if any(a.dtype != np.float32 for a in got):
            raise TypeError(f"{method}: float32 inputs gave {[str(a.dtype) for a in got]}")
        errors[method] = {k: relative_error(a, e) for k, a, e in zip(("out", "dx", "dw", "db"), got, expected)}
    return errors
