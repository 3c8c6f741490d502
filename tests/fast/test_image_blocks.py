"""The blocked, threaded convolution (fercnn/fast/_workers.py) computes the same numbers
however the batch is cut into blocks and however many workers run them, on the im2col path
and on the Winograd path."""
import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from fercnn.fast import _workers, conv_backward, conv_forward, conv_method, winograd
from fercnn.gradient_check import rel_error
from fercnn.layers.reference import conv_backward_naive, conv_forward_naive


@pytest.fixture
def conv_case():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((9, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    out, cache = conv_forward_naive(x, w, b, stride=1, pad=1)
    dout = rng.standard_normal(out.shape)
    return x, w, b, dout, out, conv_backward_naive(dout, cache)


def test_plan_blocks_covers_every_image_once():
    for n, positions, workers in [(128, 2304, 2), (128, 36, 2), (9, 42, 2), (1, 5, 2), (7, 1, 3), (5, 10**6, 1)]:
        blocks = _workers.plan_blocks(n, positions, workers)
        covered = [i for n0, n1 in blocks for i in range(n0, n1)]
        assert covered == list(range(n)), (n, positions, workers, blocks)
        assert len(blocks) >= min(n, workers), "a worker was left without a block"


@pytest.mark.parametrize("method", ["im2col", "f4x3"])
@pytest.mark.parametrize("min_columns", [1, 42, 100, 10**6])  # 1 image a block, 1, ~3, all per worker
@pytest.mark.parametrize("threads", [1, 2])
def test_conv_same_result_for_every_blocking(conv_case, monkeypatch, method, min_columns, threads):
    x, w, b, dout, ref_out, ref_grads = conv_case
    monkeypatch.setattr(_workers, "MIN_BLOCK_COLUMNS", min_columns)
    monkeypatch.setattr(winograd, "MIN_BLOCK_TILES", min_columns)
    monkeypatch.setattr(winograd, "IMAGES_MULTIPLE", 1)  # so that small blocks happen at N = 9
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with conv_method.forced(method):
            out, cache = conv_forward(x, w, b, stride=1, pad=1)
            assert cache[6] == method
            grads = conv_backward(dout, cache)
    finally:
        numba.set_num_threads(before)
    assert rel_error(out, ref_out) < 1e-10
    for name, g, r in zip(("dx", "dw", "db"), grads, ref_grads):
        assert rel_error(g, r) < 1e-10, f"{name} differs by {rel_error(g, r):.2e} (min_columns={min_columns})"


def test_need_dx_false_skips_dx_only(conv_case):
    x, w, b, dout, _, (_, ref_dw, ref_db) = conv_case
    _, cache = conv_forward(x, w, b, stride=1, pad=1)
    dx, dw, db = conv_backward(dout, cache, need_dx=False)
    assert dx is None
    assert rel_error(dw, ref_dw) < 1e-10 and rel_error(db, ref_db) < 1e-10


def test_blas_threads_restored_after_conv(conv_case):
    x, w, b, dout, _, _ = conv_case
    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
    _, cache = conv_forward(x, w, b, stride=1, pad=1)
    conv_backward(dout, cache)
    after = [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
    assert after == before


def test_worker_error_reaches_the_caller(conv_case, monkeypatch):
    def broken(blocks):
        raise RuntimeError("block failed")
    with pytest.raises(RuntimeError, match="block failed"):
        _workers.map_blocks(broken, 8, 10)


@pytest.mark.parametrize("method", ["im2col", "f4x3"])
def test_an_empty_batch_gives_an_empty_output_and_zero_gradients(method):
    """As the readable layer does: out (0, F, H_out, W_out), dx (0, C, H, W), dw and db 0."""
    import fercnn.layers as layers

    x, w, b = np.zeros((0, 8, 12, 12), np.float32), np.ones((4, 8, 3, 3), np.float32), np.ones(4, np.float32)
    want_out, want_cache = layers.conv_forward(x, w, b, pad=1)
    with conv_method.forced(method):
        out, cache = conv_forward(x, w, b, stride=1, pad=1)
    assert out.shape == want_out.shape == (0, 4, 12, 12) and out.dtype == np.float32
    dx, dw, db = conv_backward(np.zeros_like(out), cache)
    want = layers.conv_backward(want_out, want_cache)
    for got, ref in zip((dx, dw, db), want):
        assert got.shape == ref.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, ref)
