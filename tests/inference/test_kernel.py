"""fercnn.inference.kernel: the generated file is what its generator writes, the compiled
kernel gives NumPy's products, a prediction through it gives the NumPy path's probabilities,
it runs only once enabled and where it fits, and a kernel that fails its check stays off."""
import threading
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


def test_bad_operands_are_refused_saying_what_was_wrong(enabled):
    with pytest.raises(ValueError, match=r"expected float32 \(T, K, N\) with N a multiple of 8, got \(2, 8, 12\) float32"):
        kernel.pack(np.zeros((2, 8, 12), np.float32))
    with pytest.raises(ValueError, match=r"got \(2, 8, 16\) float64"):
        kernel.pack(np.zeros((2, 8, 16)))
    Bp = kernel.pack(np.zeros((2, 8, 16), np.float32))
    with pytest.raises(ValueError, match=r"expected A float32 \(2, M, 8\), got \(2, 3, 9\) float32"):
        kernel.product(np.zeros((2, 3, 9), np.float32), Bp)


def test_it_runs_only_once_enabled():
    kernel.disable()
    assert not kernel.ready() and kernel.status()["status"] == "off"
    with pytest.raises(RuntimeError, match=r"not enabled \(kernel.enable\(\)\)"):
        kernel.product(np.zeros((1, 2, 8), np.float32), kernel.pack(np.zeros((1, 8, 8), np.float32)))
    thread = kernel.enable(background=True)
    assert isinstance(thread, threading.Thread)
    thread.join()
    try:
        assert kernel.ready() and kernel.status()["status"] == "ready" and kernel.status()["seconds"] > 0
    finally:
        kernel.disable()


def test_what_it_takes():
    assert [m for m in range(0, 40) if kernel.takes_rows(m)] == list(range(1, 13))
    assert kernel.fits(12, 1536, 512, np.float32) and kernel.fits(9, 128, 512, np.float32)
    assert not kernel.fits(12, 1536, 512, np.float64) and not kernel.fits(12, 64, 12, np.float32)
    assert not kernel.fits(16, 128, 512, np.float32)


def test_choose_prefers_its_tiles_on_twelve_pixel_maps_only_while_it_is_on(enabled):
    on = [choose(128, 3, 12, 12, 1), choose(512, 3, 6, 6, 1), choose(64, 3, 48, 48, 1), choose(128, 3, 12, 12, 2)]
    kernel.disable()
    off = [choose(128, 3, 12, 12, 1), choose(512, 3, 6, 6, 1), choose(64, 3, 48, 48, 1), choose(128, 3, 12, 12, 2)]
    # F(4x4, 3x3) gives a 12 x 12 map 9 windows, one block of the kernel's, where NumPy needs 16
    assert on == ["f4x3", "f3x3-1d", "f4x3", "f4x3"] and off == ["f3x3", "f3x3-1d", "f4x3", "f4x3"]


@pytest.mark.parametrize("name", ["deep", "vgg"])
def test_a_face_through_the_kernel_gets_the_numpy_paths_probabilities(name, enabled):
    model = pretrained(name)
    faces = np.random.default_rng(5).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    kernel.disable()
    want = [Predictor(model).predict_proba(model.prepare(faces[i:i + 1])) for i in range(3)]
    kernel.enable()
    predictor = Predictor(model)
    got = [predictor.predict_proba(model.prepare(faces[i:i + 1])) for i in range(3)]
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(want), rtol=0, atol=1e-5)
    # the 12 x 12 and 6 x 6 layers ran their products in the kernel, on filters packed once
    packed = [method for step in predictor.steps if hasattr(step, "packed") for method in step.packed]
    assert packed.count("f3x3-1d") == (1 if name == "deep" else 2) and packed.count("f4x3") == (1 if name == "deep" else 2)
    # three faces still fit it on the 6 x 6 layers (F(4x4, 3x3): 4 windows a face); eight do not:
    # NumPy's products, the same numbers as without it, bit for bit
    three, eight = model.prepare(faces), model.prepare(np.concatenate([faces, faces, faces[:2]]))
    on = predictor.predict_proba(three), predictor.predict_proba(eight)
    kernel.disable()
    np.testing.assert_allclose(on[0], Predictor(model).predict_proba(three), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(on[1], Predictor(model).predict_proba(eight))


def test_a_kernel_that_fails_its_check_stays_off_and_says_why(monkeypatch):
    kernel.disable()
    monkeypatch.setattr(kernel, "_check", lambda products: "its product is off by 3 from NumPy's")
    monkeypatch.setitem(kernel._state, "status", "off")
    try:
        with pytest.raises(RuntimeError, match="inference kernel: off, its product is off by 3 from NumPy's"):
            kernel.enable()
        assert not kernel.ready() and kernel.status()["status"] == "failed"
        kernel.enable(background=True)  # in the background it does not raise, and does not retry
        assert not kernel.ready() and kernel.status()["status"] == "failed"
    finally:
        kernel._state.update(status="off", reason=None)


def test_its_check_finds_a_wrong_product():
    def wrong(A, Bp, C):
        C[...] = 0
    assert "is off by" in kernel._check(wrong)
    assert kernel._check(lambda A, Bp, C: None) is not None  # nothing written: NaN stays, caught
