"""benchmarks/bench_kernel.py: it sees every Winograd filter product of a real pass, with the
shapes the kernel is used on at a batch of one face."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_kernel.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_kernel_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sees_every_winograd_product_of_a_pass(bench):
    from fercnn.inference import Predictor, kernel
    from fercnn.models import pretrained

    model = pretrained("deep")
    X = model.prepare(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
    kernel.enable()
    try:
        predictor = Predictor(model)
        seen = bench.pass_products(predictor, X)
    finally:
        kernel.disable()
    # deep at a batch of one: conv2 F(4x4, 5x5) with 36 rows (NumPy's), conv3 F(4x4, 3x3) with 9
    # and conv4 F(3, 3) along the rows with 12 (the kernel's)
    assert [(layer, A.shape[1]) for layer, A, _ in seen] == [("conv2", 36), ("conv3", 9), ("conv4", 12)]
    assert [kernel.fits(A.shape[1], A.shape[2], U.shape[2], U.dtype) for _, A, U in seen] == [False, True, True]
    ms = bench.alternating_ms({"a": lambda: None, "b": lambda: None}, rounds=2, calls=2)
    assert set(ms) == {"a", "b"} and all(v >= 0 for v in ms.values())
