"""Winograd convolution (fercnn/fast/winograd.py): the transform matrices, the generated
kernels, float64 agreement with the reference loops, float32 error bounds on the paper's
shapes, gradient checks, the per-layer choice, and a network trained on either path."""
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numba
import numpy as np
import pytest

from fercnn import models
from fercnn.fast import conv_backward, conv_forward, conv_method
from fercnn.fast.winograd_transforms import VARIANTS, exact_matrices
from fercnn.gradient_check import eval_numerical_gradient_array
from fercnn.layers.reference import conv_backward_naive, conv_forward_naive
from tools.conv_accuracy import PAPER_LAYERS, float32_errors
from tools.conv_accuracy import relative_error as _relative
from tools.winograd_codegen import kernel_source

KERNELS_FILE = Path(__file__).parents[2] / "fercnn" / "fast" / "_winograd_kernels.py"


def test_generated_kernels_are_what_the_generator_writes():
    assert KERNELS_FILE.read_text(encoding="utf-8") == kernel_source(), (
        "fercnn/fast/_winograd_kernels.py is stale: run python tools/winograd_codegen.py")


@pytest.mark.parametrize("variant", VARIANTS)
def test_matrices_compute_correlation_exactly(variant):
    """AT @ ((G @ g) * (BT @ d)) == the m outputs of correlating d with g, in exact arithmetic."""
    m, r = VARIANTS[variant]
    BT, G, AT = exact_matrices(m, r)
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = [Fraction(int(v)) for v in rng.integers(-9, 10, m + r - 1)]
        g = [Fraction(int(v)) for v in rng.integers(-9, 10, r)]
        Gg = [sum(G[k][j] * g[j] for j in range(r)) for k in range(m + r - 1)]
        Bd = [sum(BT[k][j] * d[j] for j in range(m + r - 1)) for k in range(m + r - 1)]
        y = [sum(AT[i][k] * Gg[k] * Bd[k] for k in range(m + r - 1)) for i in range(m)]
        assert y == [sum(d[i + j] * g[j] for j in range(r)) for i in range(m)]


def _case(rng, r, dtype=np.float64):
    pad = int(rng.integers(0, r))  # 0 .. r-1
    # N up to 19: with 2 workers and blocks of 8 images, several blocks per worker and a
    # smaller last one
    N, C, F = int(rng.choice([1, 2, 3, 17, 19])), int(rng.integers(1, 6)), int(rng.integers(1, 5))
    H, W = (int(v) for v in rng.integers(r - 2 * pad + 1, 14, size=2))
    H, W = max(H, r - 2 * pad), max(W, r - 2 * pad)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, r, r)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b, pad


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("trial", range(6))
def test_each_tile_matches_the_reference_loops_in_float64(variant, trial):
    """Random shapes, sizes that are and are not multiples of the tile, pads 0 .. r-1."""
    rng = np.random.default_rng(100 + trial)
    x, w, b, pad = _case(rng, VARIANTS[variant][1])
    with conv_method.forced(variant):
        out, cache = conv_forward(x, w, b, pad=pad)
        assert cache[6] == variant
        dout = rng.standard_normal(out.shape)
        grads = conv_backward(dout, cache)
    ref, ref_cache = conv_forward_naive(x, w, b, pad=pad)
    # relative to the largest value: some filter taps see only padding, so their exact
    # gradient is 0 and Winograd's is a rounding error of 1e-15
    assert _relative(out, ref) < 1e-12, f"{variant} forward: {_relative(out, ref):.2e}"
    for name, g, gr in zip(("dx", "dw", "db"), grads, conv_backward_naive(dout, ref_cache)):
        assert g.dtype == np.float64
        assert _relative(g, gr) < 1e-12, f"{variant} {name}: {_relative(g, gr):.2e}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_numerically(variant):
    rng = np.random.default_rng(7)
    r = VARIANTS[variant][1]
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((2, 3, r, r))
    b = rng.standard_normal(2)
    pad = r // 2
    with conv_method.forced(variant):
        out, cache = conv_forward(x, w, b, pad=pad)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = conv_backward(dout, cache)
    # Differences of the loops' forward: Winograd's own float64 forward rounds at about 1e-14
    # of its output, which the 1e-5 step would magnify past the tolerance; that forward is
    # held to the loops in the test above.
    for name, arr, analytic in (("x", x, dx), ("w", w, dw), ("b", b, db)):
        numeric = eval_numerical_gradient_array(lambda _: conv_forward_naive(x, w, b, pad=pad)[0], arr, dout)
        err = np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric)
        assert err < 1e-8, f"{variant} d{name}: relative error {err:.2e}"


# Float32 bounds of the issue: 1e-5 for F(2x2, 3x3), 1e-4 for the larger tiles.
BOUND = {"f2x3": 1e-5, "f3x3": 1e-4, "f4x3": 1e-4, "f2x5": 1e-4, "f4x5": 1e-4}


@pytest.mark.parametrize("name,C,F,r,H", PAPER_LAYERS)
def test_float32_error_on_the_paper_shapes(name, C, F, r, H):
    """Every tile that fits the layer, forward and both gradients, against float64 direct
    convolution (the im2col path in float64) on He-scaled weights, as in training (batch
    cut to 4 images to keep the test short). Two workers where the machine has two
    threads, so that dw includes the sum of the workers' float32 parts."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        errors = float32_errors(C, F, r, H)
    finally:
        numba.set_num_threads(before)
    tiles = [v for v, (_, rr) in VARIANTS.items() if rr == r]
    assert set(errors) == {"im2col", *tiles}
    for variant in tiles:
        worst = max(errors[variant].values())
        assert worst <= BOUND[variant], f"{name} {variant}: float32 errors {errors[variant]} exceed {BOUND[variant]}"
    assert max(errors["im2col"].values()) < 1e-5  # the measure itself: direct convolution's float32 rounding


@pytest.mark.parametrize("args,expected", [
    ((1, 3, 3, 48, 48, 1), "im2col"),   # first layers: one input channel
    ((32, 3, 3, 48, 48, 1), "f4x3"),    # shallow conv2
    ((64, 5, 5, 24, 24, 1), "f4x5"),    # deep conv2: 6x6 tiles of 4, 2304 products per filter and channel (f2x5: 5184)
    ((64, 5, 5, 2, 2, 1), "f2x5"),      # one tile: 36 products, f4x5's would be 64
    ((128, 3, 3, 12, 12, 1), "f4x3"),   # deep conv3
    ((512, 3, 3, 6, 6, 1), "f3x3"),     # deep conv4: 2x2 tiles of 3 fit 6 exactly
    ((32, 3, 3, 48, 48, 2), "im2col"),  # stride 2
    ((32, 3, 5, 48, 44, 1), "im2col"),  # not square
    ((32, 1, 1, 48, 48, 1), "im2col"),  # 1x1: no tile fits
])
def test_choice_per_layer_shape(args, expected, monkeypatch):
    monkeypatch.delenv("FERCNN_CONV", raising=False)
    assert conv_method.choose(*args) == expected


def test_forcing_a_method():
    with conv_method.forced("im2col"):
        assert conv_method.choose(512, 3, 3, 6, 6, 1) == "im2col"
    with conv_method.forced("winograd"):
        assert conv_method.choose(1, 3, 3, 48, 48, 1) == "f4x3"
    with conv_method.forced("f2x3"):
        assert conv_method.choose(1, 3, 3, 48, 48, 1) == "f2x3"
        assert conv_method.choose(64, 5, 5, 24, 24, 1) == "im2col"  # f2x3 does not fit 5x5
    with pytest.raises(ValueError, match=r"conv method must be one of auto, im2col, winograd.*got 'fast'"):
        with conv_method.forced("fast"):
            pass


def test_bad_environment_variable_is_one_clear_error():
    code = ("import numpy as np; from fercnn.fast import conv_forward;"
            "conv_forward(np.ones((1, 8, 6, 6)), np.ones((2, 8, 3, 3)), np.ones(2), pad=1)")
    env = dict(os.environ, FERCNN_CONV="winograd4")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "got 'winograd4' (from the FERCNN_CONV environment variable)" in proc.stderr


def _train(method, steps=4):
    """A few SGD steps of a small network, every conv layer on the given method; returns the
    losses, the parameters and the methods the conv layers ran."""
    model = models.ConvNet(
        input_shape=(1, 16, 16), num_classes=7, dtype=np.float32, seed=0,
        conv=[{"filters": 8, "kernel": 3, "batchnorm": True}, {"filters": 16, "kernel": 3, "pool": True},
              {"filters": 16, "kernel": 5, "pool": True}],
        fc=[{"units": 32, "batchnorm": True}])
    rng = np.random.default_rng(1)
    X = rng.standard_normal((16, 1, 16, 16)).astype(np.float32)
    y = rng.integers(0, 7, 16)
    losses, ran = [], []
    spy = conv_forward_spy(ran)
    with conv_method.forced(method), spy:
        for _ in range(steps):
            loss, grads = model.loss(X, y)
            losses.append(loss)
            for k in model.params:
                model.params[k] -= np.float32(0.05) * grads[k]
    return np.array(losses), model.params, ran


class conv_forward_spy:
    """Records the method of every fast conv_forward call made through the network's layers."""

    def __init__(self, ran):
        self.ran = ran

    def __enter__(self):
        import fercnn.fast as fast
        import fercnn.fast.conv as fast_conv
        # the layers reach fercnn.fast's functions through the model's OpSet (fercnn/models/ops.py),
        # which looks each one up in the package when it is called
        self.fast, self.original = fast, fast.conv_forward

        def recording(*args, **kwargs):
            out, cache = fast_conv.conv_forward(*args, **kwargs)
            self.ran.append(cache[6])
            return out, cache
        fast.conv_forward = recording

    def __exit__(self, *exc):
        self.fast.conv_forward = self.original


def test_training_on_winograd_follows_im2col():
    loss_w, params_w, ran_w = _train("winograd")
    loss_i, params_i, ran_i = _train("im2col")
    assert ran_w[:3] == ["f4x3", "f4x3", "f4x5"], ran_w[:3]
    assert set(ran_i) == {"im2col"}
    assert loss_w[-1] < loss_w[0], f"training did not lower the loss: {loss_w}"
    np.testing.assert_allclose(loss_w, loss_i, rtol=1e-5, err_msg="losses of the two paths drift apart")
    for k in params_i:
        np.testing.assert_allclose(params_w[k], params_i[k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pad_and_every_size_remainder_matches_the_reference_loops(variant, monkeypatch):
    """Each pad 0..r-1 and each H, W from the smallest valid size to two tiles more (every
    remainder of the output size mod m), in float64; blocks of one image or the default,
    so that the last block is sometimes smaller."""
    m, r = VARIANTS[variant]
    rng = np.random.default_rng(sum(map(ord, variant)))
    from fercnn.fast import winograd
    default = winograd.MIN_BLOCK_TILES
    for pad in range(r):
        low = max(1, r - 2 * pad)
        for H in range(low, low + 2 * m + 2):
            for W in (low, low + m - 1, low + 2 * m + 1):
                monkeypatch.setattr(winograd, "MIN_BLOCK_TILES", int(rng.choice([default, 1])))
                N, C, F = int(rng.choice([1, 9, 19])), int(rng.integers(1, 4)), int(rng.integers(1, 4))
                x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, r, r)), rng.standard_normal(F)
                with conv_method.forced(variant):
                    out, cache = conv_forward(x, w, b, pad=pad)
                    dout = rng.standard_normal(out.shape)
                    got = (out, *conv_backward(dout, cache))
                ref, ref_cache = conv_forward_naive(x, w, b, pad=pad)
                for name, a, e in zip(("out", "dx", "dw", "db"), got, (ref, *conv_backward_naive(dout, ref_cache))):
                    assert _relative(a, e) < 1e-12, f"{variant} pad {pad} {(N, C, H, W)} F {F} {name}: {_relative(a, e):.1e}"
