"""benchmarks/bench_packed_product.py: its kernel gives numpy's product (rows that do not fill
a block included), and it stands in for np.matmul only on the filters it was given."""
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
def products(bench):
    kernel, seconds = bench.build(slp=True)
    assert seconds > 0
    return kernel


@pytest.mark.parametrize("T, M, K, N", [(1, 4, 8, 16), (3, 9, 37, 32), (2, 1, 5, 48), (5, 12, 96, 64)])
def test_kernel_is_numpys_product(bench, products, T, M, K, N):
    rng = np.random.default_rng(T * 1000 + M)
    A = rng.standard_normal((T, M, K), dtype=np.float32)
    B = rng.standard_normal((T, K, N), dtype=np.float32)
    C = np.full((T, M, N), np.nan, np.float32)  # every entry must be written
    products(A, bench.pack(B), C)
    np.testing.assert_allclose(C, np.matmul(A, B), rtol=1e-5, atol=1e-5 * np.sqrt(K))


def test_stands_in_only_for_its_filters(bench, products):
    rng = np.random.default_rng(1)
    U = rng.standard_normal((2, 24, 32), dtype=np.float32)
    odd = rng.standard_normal((2, 24, 7), dtype=np.float32)  # not a whole panel: numpy's
    A = rng.standard_normal((2, 6, 24), dtype=np.float32)
    stand_in = bench.PackedNumpy(products, [U, odd])
    assert set(stand_in.packed) == {id(U)}
    stand_in.seen = []
    np.testing.assert_allclose(stand_in.matmul(A, U), np.matmul(A, U), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(stand_in.matmul(A, odd), np.matmul(A, odd))
    stand_in.on = False
    np.testing.assert_array_equal(stand_in.matmul(A, U), np.matmul(A, U))
    assert [B is U for _, B in stand_in.seen] == [True, True]
    assert stand_in.zeros is np.zeros  # the rest of numpy passes through
