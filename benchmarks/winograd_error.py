"""Float32 error of every convolution method on the paper's conv layers (batch 4).

    python benchmarks/winograd_error.py

For each layer with more than one input channel: im2col and every Winograd tile that fits,
in float32, against float64 im2col on the same He-scaled weights; prints the worst of
out, dx, dw and db as max |error| / max |float64 value|. tests/fast/test_winograd.py
asserts the bounds (1e-5 for f2x3, 1e-4 for the larger tiles); this prints the values.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository: tools/

from tools.conv_accuracy import PAPER_LAYERS, float32_errors  # noqa: E402


def main():
    for name, C, F, r, H in PAPER_LAYERS:
        for method, errors in float32_errors(C, F, r, H).items():
            print(f"{name:<14} {method:<7} {max(errors.values()):.1e}")


if __name__ == "__main__":
    main()
