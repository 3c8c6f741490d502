"""fercnn.inference.kernel: the generated file is what its generator writes, the compiled
kernel gives NumPy's products, a prediction through it gives the NumPy path's probabilities,
it runs only once enabled and where it fits, and a kernel that fails its check stays off."""
from pathlib import Path

import numpy as np
import pytest

from fercnn.inference import Predictor, kernel
from fercnn.inference.conv import choose
from fercnn.models import pretrained
from tools.product_kernel_codegen import kernel_source

KERNEL_FILE = Path(__file__).resolve().parents[2] / "fercnn" / "inference" / "_product_kernel.py"


@pytest.fixture
def enabled():
    kernel.enable()
    yield kernel
    kernel.disable()


def test_the_kernel_file_is_what_the_generator_writes():
    assert KERNEL_FILE.read_text(encoding="utf-8") == kernel_source(), (
        "fercnn/inference/_product_kernel.py is stale: run python tools/product_kernel_codegen.py")


@pytest.mark.parametrize("T, M, K, N", [(1, 12, 64, 8), (3, 9, 37, 32), (2, 1, 5, 48), (5, 12, 1536, 16),
                                        (2, 13, 11, 24), (1, 30, 20, 16)])  # one block, partial, several
def test_the_kernel_is_numpys_product(enabled, T, M, K, N):
    rng = np.random.default_rng(T * 1000 + M)
    A = rng.standard_normal((T, M, K), dtype=np.float32)
    B = rng.standard_normal((T, K, N), dtype=np.float32)
    got = kernel.product(A, kernel.pack(B))
    assert got.shape == (T, M, N) and got.dtype == np.float32
    np.testing.assert_allclose(got, np.matmul(A, B), rtol=1e-5, atol=1e-5 * np.sqrt(K))


@pytest.mark.parametrize("variant, N, H, W, pool", [
    ("f4x3", 1, 48, 48, True), ("f4x5", 1, 24, 24, False), ("f4x3", 3, 12, 12, True),  # the shipped layers'
    ("f2x3", 1, 13, 9, False), ("f3x3", 1, 13, 9, False), ("f4x3", 1, 13, 9, False),  # edges cut, bands
    ("f2x5", 1, 13, 9, False), ("f4x5", 1, 13, 9, False), ("f3x3", 2, 7, 16, False),  # of 1 to 12 tile rows
    ("f4x3", 2, 7, 16, False), ("f4x5", 2, 7, 16, False), ("f2x3", 1, 9, 20, True), ("f4x3", 1, 11, 9, True),
    ("f4x3", 1, 9, 49, True), ("f2x3", 3, 5, 10, False)])  # a row of tiles longer than a block
def test_a_banded_layer_is_the_numpy_layer(enabled, variant, N, H, W, pool):
    from fercnn.fast.winograd_transforms import VARIANTS
    from fercnn.inference import conv

    m, r = VARIANTS[variant]
    rng = np.random.default_rng(H * W + N)
    C, F = 6, 16
    x = rng.standard_normal((N, H, W, C), dtype=np.float32)
    U = conv.transform_filters(rng.standard_normal((F, C, r, r)), variant, np.float32)
    b = rng.standard_normal(F, dtype=np.float32)
    want = conv.winograd_conv_pooled(x, U, b, variant) if pool else conv.winograd_conv(x, U, b, variant)
    for relu in (False, True):
        got = kernel.banded_conv(x, kernel.pack(U), variant, b, pool=pool, relu=relu)
        np.testing.assert_allclose(got, np.maximum(want, 0) if relu else want, rtol=1e-5, atol=2e-5 * np.abs(want).max())


def test_bad_operands_are_refused_saying_what_was_wrong(enabled):
    with pytest.raises(ValueError, match=r"expected float32 \(T, K, N\) with N a multiple of 8, got \(2, 8, 12\) float32"):
        kernel.pack(np.zeros((2, 8, 12), np.float32))
    with pytest.raises(ValueError, match=r"got \(2, 8, 16\) float64"):
        kernel.pack(np.zeros((2, 8, 16)))
    Bp = kernel.pack(np.zeros((2, 8, 16), np.float32))
    with pytest.raises(ValueError, match=r"expected A float32 \(2, M, 8\), got \(2, 3, 9\) float32"):
        kernel.product(np.zeros((2, 3, 9), np.float32), Bp)


def test_it_runs_only_once_enabled_and_then_is_a_switch():
    kernel.disable()
    assert not kernel.ready() and kernel.status()["status"] in ("off", "compiling")
    thread = kernel.enable(background=True)
    disabled_while_compiling = thread is not None and thread.is_alive()
    kernel.disable()  # while it compiles (or at once, if it was compiled before): it stays off
    if thread is not None:
        thread.join()
    assert not kernel.ready() and kernel.status()["status"] == "off", disabled_while_compiling
    kernel.enable()
    try:
        assert kernel.ready() and kernel.status()["status"] == "ready" and kernel.status()["seconds"] > 0
        kernel.disable()
        assert kernel.enable(background=True) is None or not kernel.enable(background=True).is_alive()
        assert kernel.ready()  # switched back on at once: no second compile or check
    finally:
        kernel.disable()


def test_a_product_needs_the_kernel_compiled(monkeypatch):
    monkeypatch.setattr(kernel, "_compiled", None)
    with pytest.raises(RuntimeError, match=r"not compiled \(kernel.enable\(\)\)"):
        kernel.product(np.zeros((1, 2, 8), np.float32), kernel.pack(np.zeros((1, 8, 8), np.float32)))


def test_what_it_takes():
    assert [m for m in range(0, 40) if kernel.takes_rows(m)] == list(range(1, 13))
    # a band is a row of tiles of every image at least: 12 tiles of 4 pixels cover 48
    assert kernel.takes_banded("f4x3", 1, 48, 48, 64, np.float32) and kernel.takes_banded("f4x5", 2, 5, 24, 8, np.float32)
    assert not kernel.takes_banded("f4x3", 1, 48, 49, 64, np.float32) and not kernel.takes_banded("f4x3", 3, 6, 20, 8, np.float32)
    assert not kernel.takes_banded("f3x3-1d", 1, 6, 6, 64, np.float32) and not kernel.takes_banded("f4x3", 1, 6, 6, 12, np.float32)
    assert not kernel.takes_banded("f4x3", 1, 6, 6, 64, np.float64)
    assert kernel.fits(12, 512, np.float32) and kernel.fits(9, 512, np.float32)
    assert not kernel.fits(12, 512, np.float64) and not kernel.fits(12, 12, np.float32)
    assert not kernel.fits(16, 512, np.float32)


def test_choose_prefers_its_tiles_on_twelve_pixel_maps_only_while_it_is_on(enabled):
    def choices(F=512, dtype=np.float32):
        return [choose(128, 3, 12, 12, 1, F, dtype), choose(512, 3, 6, 6, 1, F, dtype),
                choose(64, 3, 48, 48, 1, F, dtype), choose(128, 3, 12, 12, 2, F, dtype)]
    on = choices()
    # filters it does not take (float64, or not a whole panel of 8): the choice it makes off
    others = [choices(dtype=np.float64), choices(F=500), [choose(128, 3, 12, 12, 1)]]
    kernel.disable()
    off = choices()
    # F(4x4, 3x3) gives a 12 x 12 map 9 windows, one block of the kernel's, where NumPy needs 16
    assert on == ["f4x3", "f3x3-1d", "f4x3", "f4x3"] and off == ["f3x3", "f3x3-1d", "f4x3", "f4x3"]
    assert others == [off, off, ["f3x3"]]


@pytest.mark.parametrize("name", ["deep", "vgg"])
def test_a_face_through_the_kernel_gets_the_numpy_paths_probabilities(name, enabled):
    model = pretrained(name)
    faces = np.random.default_rng(5).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    kernel.disable()
    want = [Predictor(model).predict_proba(model.prepare(faces[i:i + 1])) for i in range(3)]
    kernel.enable()
    predictor = Predictor(model)
    got = [predictor.predict_proba(model.prepare(faces[i:i + 1])) for i in range(3)]
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(want), rtol=0, atol=1e-4)
    # every Winograd layer ran in the kernels, on filters packed once: the square tiles in bands,
    # the 6 x 6 layers' F(3, 3) along the rows through the product kernel
    x = np.ascontiguousarray(model.prepare(faces[:1]).transpose(0, 2, 3, 1))
    ran, packed = [], []
    for step in predictor.steps:
        if hasattr(step, "packed"):
            ran.append(step.method(x))
            packed.append(list(step.packed))
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(1, -1) if step == "flatten" else step(x)
    assert packed == [[] if method == "im2col" else [method] for method in ran]
    assert ran == (["im2col", "f4x5", "f4x3", "f3x3-1d"] if name == "deep"
                   else ["im2col"] + ["f4x3"] * 5 + ["f3x3-1d"] * 2)
    # three faces still fit it on the 6 x 6 layers (F(4x4, 3x3): 4 windows a face); eight do not:
    # NumPy's products, the same numbers as without it, bit for bit
    three, eight = model.prepare(faces), model.prepare(np.concatenate([faces, faces, faces[:2]]))
    on = predictor.predict_proba(three), predictor.predict_proba(eight)
    kernel.disable()
    np.testing.assert_allclose(on[0], Predictor(model).predict_proba(three), rtol=0, atol=1e-4)
    np.testing.assert_array_equal(on[1], Predictor(model).predict_proba(eight))


def test_a_kernel_that_fails_its_check_stays_off_and_says_why(monkeypatch):
    kernel.disable()
    monkeypatch.setattr(kernel, "_check", lambda products: "its product is off by 3 from NumPy's")
    monkeypatch.setattr(kernel, "_compiled", None)  # as in a process that has not compiled them
    monkeypatch.setattr(kernel, "_wanted", False)  # and, when they come back, not switched on
    monkeypatch.setitem(kernel._state, "status", "off")
    try:
        with pytest.raises(RuntimeError, match="inference kernel: off, its product is off by 3 from NumPy's"):
            kernel.enable()
        assert not kernel.ready() and kernel.status()["status"] == "failed"
        kernel.enable(background=True)  # in the background it does not raise, and does not retry
        assert not kernel.ready() and kernel.status()["status"] == "failed"
    finally:
        kernel._state.update(status="off", reason=None)


def test_its_check_finds_a_wrong_banded_layer():
    def zeros(x, Bp, BT, AT, m, bias, pool, relu, out):
        out[...] = 0
    assert "is off by" in kernel._check_banded(zeros)


def test_its_check_finds_a_wrong_product():
    def wrong(A, Bp, C):
        C[...] = 0
    assert "is off by" in kernel._check(wrong)
    assert kernel._check(lambda A, Bp, C: None) is not None  # nothing written: NaN stays, caught
