"""Float32 error of every convolution method on the paper's conv layers (batch 4).

    python benchmarks/winograd_error.py

For each layer with more than one input channel: im2col and every Winograd tile that fits,
in float32, against float64 im2col on the same He-scaled weights; prints the worst of
out, dx, dw and db as max |error| / max |float64 value|. tests/fast/test_winograd.py
asserts the bounds (1e-5 for f2x3, 1e-4 for the larger tiles); this prints the values.
"""
import numpy as np

from fercnn.fast import conv_backward, conv_forward, conv_method
from fercnn.fast.winograd_transforms import VARIANTS

LAYERS = [("shallow conv2", 32, 64, 3, 48), ("deep conv2", 64, 128, 5, 24),
          ("deep conv3", 128, 512, 3, 12), ("deep conv4", 512, 512, 3, 6)]


def main():
    rng = np.random.default_rng(3)
    for name, C, F, r, H in LAYERS:
        x = rng.standard_normal((4, C, H, H))
        w = rng.standard_normal((F, C, r, r)) * np.sqrt(2.0 / (C * r * r))
        b = rng.standard_normal(F) * 0.1
        with conv_method.forced("im2col"):
            ref, cache = conv_forward(x, w, b, pad=r // 2)
            dout = rng.standard_normal(ref.shape)
            ref_grads = conv_backward(dout, cache)
        f32 = [a.astype(np.float32) for a in (x, w, b, dout)]
        for method in ["im2col"] + [v for v, (_, rr) in VARIANTS.items() if rr == r]:
            with conv_method.forced(method):
                out, cache = conv_forward(*f32[:3], pad=r // 2)
                grads = conv_backward(f32[3], cache)
            worst = max(np.abs(a.astype(np.float64) - e).max() / np.abs(e).max()
                        for a, e in zip((out, *grads), (ref, *ref_grads)))
            print(f"{name:<14} {method:<7} {worst:.1e}")


if __name__ == "__main__":
    main()
