"""The 2x2, stride-2 max-pool kernel (every pool of the paper's networks) gives exactly the
generic kernel's out and argmax: ties, NaN, inf, odd sizes and sizes that leave a row or
column out. Both are checked against the readable op elsewhere (test_ops, test_nan)."""
import numpy as np
import pytest

from fercnn.fast import _pool_kernels as kernels
from fercnn.fast import max_pool_forward


def _inputs(rng, shape, dtype):
    """Small whole numbers (many ties inside windows), with NaN and +-inf sprinkled in."""
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    flat = x.reshape(-1)
    places = rng.choice(flat.size, size=max(3, flat.size // 20), replace=False)
    flat[places] = rng.choice([np.nan, np.inf, -np.inf], size=places.size)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 6, 6), (1, 2, 5, 7), (3, 1, 2, 2), (2, 4, 48, 48), (1, 1, 3, 9)])
def test_2x2_kernel_is_the_generic_kernel(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    x = _inputs(rng, shape, dtype)
    H_out, W_out = shape[2] // 2, shape[3] // 2
    want_out, want_argmax = kernels.max_pool_forward(x, 2, 2, H_out, W_out)
    got_out, got_argmax = kernels.max_pool_forward_2x2(x, H_out, W_out)
    assert got_out.dtype == want_out.dtype and got_argmax.dtype == want_argmax.dtype
    np.testing.assert_array_equal(got_out, want_out)  # NaN equal to NaN in the same places
    np.testing.assert_array_equal(got_argmax, want_argmax)


def test_every_place_of_a_window_can_be_the_maximum():
    """One window per case: the maximum (or the first NaN) in each of the four places, and
    ties, which the first in scan order wins."""
    cases = {
        (5, 1, 1, 1): 0, (1, 5, 1, 1): 1, (1, 1, 5, 1): 2, (1, 1, 1, 5): 3,
        (2, 2, 2, 2): 0, (1, 3, 3, 1): 1, (0, 0, 3, 3): 2,
        (np.nan, 9, 9, 9): 0, (1, 2, np.nan, np.nan): 2, (1, 2, 3, np.nan): 3, (-np.inf,) * 4: 0,
    }
    x = np.array([np.reshape(c, (2, 2)) for c in cases], dtype=np.float32)[:, None]  # (cases, 1, 2, 2)
    _, argmax = kernels.max_pool_forward_2x2(x, 1, 1)
    # place k of a 2x2 image is row k // 2, column k % 2: flat index (k // 2) * 2 + k % 2 = k
    np.testing.assert_array_equal(argmax.reshape(-1), list(cases.values()))


def test_the_public_op_takes_the_2x2_kernel_for_size_2_stride_2(monkeypatch):
    """max_pool_forward(size=2, stride=2) runs max_pool_forward_2x2, other windows the
    generic kernel: a kernel that is never called would be tested for nothing."""
    calls = []
    for name in ("max_pool_forward", "max_pool_forward_2x2"):
        real = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))
    x = np.zeros((1, 1, 4, 4), np.float32)
    max_pool_forward(x, size=2, stride=2)
    max_pool_forward(x, size=2, stride=1)
    max_pool_forward(x, size=3, stride=1)
    assert calls == ["max_pool_forward_2x2", "max_pool_forward", "max_pool_forward"]
