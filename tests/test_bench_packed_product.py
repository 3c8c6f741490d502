"""benchmarks/bench_packed_product.py: its kernel gives numpy's product (every row tail of a
block), it stands in for np.matmul only on the filters it was given, and it sees the
Winograd filter products of a real pass."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_packed_product.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_packed_product_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kernel(bench):
    kernel, seconds = bench.build(slp=True)
    assert seconds > 0
    return kernel


@pytest.mark.parametrize("T, M, K, N", [(1, 4, 8, 16), (3, 9, 37, 32), (2, 1, 5, 48), (1, 6, 20, 16),
                                        (5, 12, 96, 64), (2, 7, 11, 32)])  # row tails 0, 1, 1, 2, 0, 3
def test_kernel_is_numpys_product(bench, kernel, T, M, K, N):
    rng = np.random.default_rng(T * 1000 + M)
    A = rng.standard_normal((T, M, K), dtype=np.float32)
    B = rng.standard_normal((T, K, N), dtype=np.float32)
    C = np.full((T, M, N), np.nan, np.float32)  # every entry must be written
    bench.product(kernel, A, bench.pack(B), out=C)
    np.testing.assert_allclose(C, np.matmul(A, B), rtol=1e-5, atol=1e-5 * np.sqrt(K))


def test_shapes_that_do_not_fit_are_refused(bench, kernel):
    B = np.zeros((2, 8, 16), np.float32)
    with pytest.raises(ValueError, match=r"expected A float32 \(2, M, 8\), got \(2, 3, 9\)"):
        bench.product(kernel, np.zeros((2, 3, 9), np.float32), bench.pack(B))
    with pytest.raises(ValueError, match=r"N a multiple of 16, got \(2, 8, 12\)"):
        bench.pack(np.zeros((2, 8, 12), np.float32))


def test_stands_in_only_for_its_filters(bench, kernel):
    rng = np.random.default_rng(1)
    U = rng.standard_normal((2, 24, 32), dtype=np.float32)
    odd = rng.standard_normal((2, 24, 7), dtype=np.float32)  # not a whole panel: numpy's
    A = rng.standard_normal((2, 6, 24), dtype=np.float32)
    stand_in = bench.PackedNumpy(kernel, [U, odd])
    assert set(stand_in.packed) == {id(U)}
    stand_in.seen = []
    np.testing.assert_allclose(stand_in.matmul(A, U), np.matmul(A, U), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(stand_in.matmul(A, odd), np.matmul(A, odd))
    assert [B is U for _, B in stand_in.seen] == [True]
    assert stand_in.zeros is np.zeros  # the rest of numpy passes through


def test_sees_every_winograd_layer_of_a_pass(bench, kernel):
    from fercnn.inference import predictor_for
    from fercnn.models import pretrained

    model = pretrained("deep")
    X = model.prepare(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
    predictor = predictor_for(model)
    seen, stand_in = bench.filter_products(predictor, X, kernel)
    layers = [layer for layer, _, _ in seen]
    winograd = [f"conv{k + 1}" for k, s in enumerate(s for s in predictor.steps if hasattr(s, "U")) if s.U]
    assert layers == winograd and len(layers) >= 2  # deep: conv2 to conv4 at a batch of one
    ms, diff = bench.whole_pass_ms(predictor, X, stand_in, calls=3)
    assert set(ms) == {"numpy", "kernel"} and diff < 1e-3 * np.abs(predictor.scores(X)).max()
