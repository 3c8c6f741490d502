"""fercnn.inference.memory.resident: a copy on aligned memory advised for huge pages, equal to
the array it copies, or the array itself where that does not apply."""
import gc
import mmap

import numpy as np
import pytest

from fercnn.inference import Predictor
from fercnn.inference.memory import HUGE_PAGE, MIN_BYTES, resident
from fercnn.models import ConvNet

linux_only = pytest.mark.skipif(not hasattr(mmap, "MADV_HUGEPAGE"), reason="no MADV_HUGEPAGE on this system")


@linux_only
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_array_is_copied_to_aligned_memory_of_its_own(rng, dtype):
    a = rng.standard_normal((3, 700, 257)).astype(dtype)  # not a whole number of huge pages
    got = resident(a)
    assert got is not a and got.shape == a.shape and got.dtype == a.dtype and got.flags.c_contiguous
    assert got.ctypes.data % HUGE_PAGE == 0
    assert np.array_equal(got, a) and not np.shares_memory(got, a)
    got[0, 0, 0] += 1  # writable, and the original is not touched
    assert got[0, 0, 0] != a[0, 0, 0]
    base = got  # the copy holds its mapping: it is freed with the copy, not before
    while not isinstance(base, mmap.mmap):
        base = base.base if isinstance(base, np.ndarray) else base.obj  # array -> ... -> memoryview -> mmap
    assert not base.closed and len(base) >= got.nbytes + HUGE_PAGE
    part = got[1, 5:7].copy()
    view = got[1, 5:7]
    del got, base
    gc.collect()
    assert np.array_equal(view, part)  # a slice alone keeps the mapping alive


def test_where_huge_pages_cannot_be_asked_for_the_array_stays(rng, monkeypatch):
    big = np.zeros(MIN_BYTES // 4, np.float32)
    objects = np.empty(MIN_BYTES // 8 + 1, dtype=object)
    assert resident(objects) is objects
    monkeypatch.delattr(mmap, "MADV_HUGEPAGE", raising=False)  # as on macOS and Windows
    assert resident(big) is big


def test_small_arrays_stay_where_they_are(rng):
    a = np.zeros(MIN_BYTES // 8 - 1)
    assert resident(a) is a


@linux_only
def test_the_frozen_network_keeps_its_large_weights_on_their_own_pages(rng):
    model = ConvNet(conv=[{"filters": 64, "kernel": 3, "pool": True}], fc=[{"units": 300}],
                    input_shape=(1, 16, 16), num_classes=7, dtype=np.float32, seed=0)
    model.mean_image = rng.uniform(0, 255, (1, 16, 16)).astype(np.float32)
    X = model.prepare(rng.integers(0, 256, (2, 16, 16), dtype=np.uint8))
    predictor = Predictor(model)
    fc1 = predictor.steps[2]
    assert fc1.w.nbytes >= MIN_BYTES and fc1.w.ctypes.data % HUGE_PAGE == 0  # 64*8*8 x 300 float32
    np.testing.assert_allclose(predictor.predict_proba(X), model.predict_proba(X), rtol=1e-4, atol=1e-6)
