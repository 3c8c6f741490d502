"""fercnn.inference: the frozen network predicts what model.predict_proba predicts, with every
conv method, at every batch size and thread count, and compiles no Numba kernel."""
import json
import subprocess
import sys

import numba
import numpy as np
import pytest

from fercnn.fast import conv_method
from fercnn.fast.winograd_transforms import VARIANTS
from fercnn.inference import Predictor, predictor_for
from fercnn.inference.conv import (ROWS, choose, filter_columns, im2col_conv, im2col_conv_pooled, pools_in_tile,
                                   transform_filters, transform_filters_rows, winograd_conv, winograd_conv_pooled,
                                   winograd_rows_conv)
from fercnn.inference.frozen import max_pool_2x2
from fercnn.models import ConvNet, pretrained

METHODS = ["auto", "im2col", "winograd", "f2x3", "f3x3", "f4x3", "f2x5", "f4x5"]


def _net(rng, *, dtype=np.float64, batchnorm=True, side=14):
    """A small network of every block kind, with batchnorm statistics that are not 0 and 1;
    after the pool its maps are odd and not square (side / 2 x side / 2 + 2)."""
    model = ConvNet(conv=[{"filters": 4, "kernel": 3, "batchnorm": batchnorm, "pool": True},
                          {"filters": 9, "kernel": 5, "batchnorm": batchnorm, "dropout": 0.3},
                          {"filters": 10, "kernel": 3, "batchnorm": False}],
                    fc=[{"units": 12, "batchnorm": batchnorm, "dropout": 0.5}, {"units": 6}],
                    input_shape=(1, side, side + 4), num_classes=5, dtype=dtype, seed=3)
    for state in model.bn_state.values():
        state["running_mean"] = rng.standard_normal(state["running_mean"].shape).astype(dtype)
        state["running_var"] = rng.uniform(0.5, 2.0, state["running_var"].shape).astype(dtype)
    for key in model.params:
        if key.endswith((".gamma", ".beta", ".b")):
            model.params[key] = rng.uniform(0.5, 1.5, model.params[key].shape).astype(dtype)
    model.mean_image = rng.uniform(0, 255, (1, side, side + 4)).astype(dtype)
    return model


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [1, 3, 17])
def test_frozen_equals_predict_proba_in_float64(rng, method, n):
    model = _net(rng)
    X = model.prepare(rng.integers(0, 256, (n, 14, 18), dtype=np.uint8))
    predictor = Predictor(model)
    with conv_method.forced(method):
        got = predictor.predict_proba(X)
    np.testing.assert_allclose(got, model.predict_proba(X), rtol=1e-10, atol=1e-13)
    # the method forced is the one that ran: the Winograd variants whose filters were made
    ran = {variant for step in predictor.steps if step != "flatten" and hasattr(step, "U") for variant in step.U}
    if method == "im2col":
        assert ran == set()
    elif method in VARIANTS:
        assert ran == {method}  # every layer whose filter size it fits (the others: im2col)
    elif method == "winograd":
        assert ran and ran <= set(VARIANTS)  # wherever a tile fits, the first layer's one channel too


def test_frozen_without_batchnorm(rng):
    model = _net(rng, batchnorm=False, side=10)
    X = model.prepare(rng.integers(0, 256, (5, 10, 14), dtype=np.uint8))
    np.testing.assert_allclose(Predictor(model).predict_proba(X), model.predict_proba(X), rtol=1e-10, atol=1e-13)
    assert Predictor(model).predict_proba(X[:0]).shape == (0, 5)


@pytest.mark.parametrize("n", [1, 2, 9, 40])
def test_the_shipped_network_in_float32(rng, n):
    model = pretrained("deep")
    X = model.prepare(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8))
    got = predictor_for(model).predict_proba(X)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict_proba(X), atol=2e-5)


def test_the_conv_method_follows_the_batch_size():
    # the deep network's conv layers: (C, r, side) -> the method at 1, 2, 4 and 64 faces
    # (a chunk of 3 faces is a photo with three)
    want = {(1, 3, 48): ["im2col"] * 5, (64, 5, 24): ["f4x5"] * 5, (128, 3, 12): ["f3x3", "f4x3", "f4x3", "f4x3", "f4x3"],
            (512, 3, 6): ["f3x3-1d", "f2x3", "f2x3", "f3x3", "f3x3"]}
    for (C, r, side), methods in want.items():
        assert [choose(C, r, side, side, n) for n in (1, 2, 3, 4, 64)] == methods, (C, r, side)
    # never more multiplications than im2col: a map one pixel wide
    assert choose(64, 3, 12, 1, 1) == "im2col"
    with conv_method.forced("im2col"):
        assert choose(512, 3, 6, 6, 64) == "im2col"
    with conv_method.forced("winograd"):
        assert choose(512, 3, 6, 6, 1) == "f3x3"
    with conv_method.forced("f2x5"):
        assert choose(512, 3, 6, 6, 1) == "im2col" and choose(64, 5, 24, 24, 1) == "f2x5"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("shape", [(1, 6, 6, 9), (2, 7, 11, 8), (3, 5, 4, 10)])
def test_winograd_along_the_rows_equals_im2col_in_float64(rng, variant, shape):
    # maps that m does not divide (tiles hang over the edge) and that are not square
    r = VARIANTS[variant][1]
    x = rng.standard_normal(shape)
    w = rng.standard_normal((5, shape[3], r, r))
    b = rng.standard_normal(5)
    want = im2col_conv(x, filter_columns(w, np.float64), b, r)
    U = transform_filters_rows(w, variant + ROWS, np.float64)
    np.testing.assert_allclose(winograd_rows_conv(x, U, b, variant + ROWS), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(winograd_rows_conv(x, U, None, variant + ROWS), want - b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 3])
def test_a_network_on_winograd_along_the_rows_in_float64(rng, n):
    # every conv layer (_net's 3x3 and 5x5 ones) on a row-only tile, 2 and 4 outputs wide
    model = _net(rng)
    X = model.prepare(rng.integers(0, 256, (n, 14, 14 + 4), dtype=np.uint8))
    for m in (2, 4):
        predictor = Predictor(model)
        convs = [step for step in predictor.steps if step != "flatten" and hasattr(step, "w2")]
        for step in convs:
            step.method = lambda x, step=step: f"f{m}x{step.w.shape[2]}{ROWS}"
        np.testing.assert_allclose(predictor.predict_proba(X), model.predict_proba(X), rtol=1e-10, atol=1e-13)
        assert {step.w.shape[2] for step in convs} == {3, 5}
        assert all(list(step.U) == [f"f{m}x{step.w.shape[2]}{ROWS}"] for step in convs)  # each ran its row tile


def test_same_batch_same_numbers_whatever_the_threads(rng):
    model = pretrained("deep")
    X = model.prepare(rng.integers(0, 256, (37, 48, 48), dtype=np.uint8))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = predictor_for(model).predict_proba(X)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = predictor_for(model).predict_proba(X)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, two)
    assert np.array_equal(one, predictor_for(model).predict_proba(X))


def test_predictor_for_keeps_one_until_the_model_changes(rng):
    model = _net(rng)
    first = predictor_for(model)
    assert predictor_for(model) is first
    model.params["fc2.w"] = model.params["fc2.w"] * 2  # training replaces arrays
    second = predictor_for(model)
    assert second is not first
    model.bn_state["conv1"]["running_mean"] += 1  # and updates batchnorm statistics in place
    third = predictor_for(model)
    assert third is not second
    X = model.prepare(rng.integers(0, 256, (2, 14, 18), dtype=np.uint8))
    np.testing.assert_allclose(third.predict_proba(X), model.predict_proba(X), rtol=1e-10, atol=1e-13)


def test_errors(rng):
    hybrid = ConvNet(conv=[{"filters": 2}], fc=[], hog=True)
    with pytest.raises(ValueError, match="hybrid"):
        Predictor(hybrid)
    model = _net(rng)
    with pytest.raises(ValueError, match=r"inference: X must be \(N, 1, 14, 18\) float64, got \(2, 1, 14, 14\) float64"):
        Predictor(model).predict_proba(np.zeros((2, 1, 14, 14)))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        Predictor(model).predict_proba(np.zeros((2, 1, 14, 18)), batch_size=0)


def test_a_prediction_compiles_no_numba_kernel(tmp_path):
    code = (
        "import json, sys, numba\n"
        "from skimage import data\n"
        "import fercnn\n"
        "faces = fercnn.detect_emotions(data.astronaut())\n"
        "compiled = [f'{name}.{k}' for name, mod in list(sys.modules.items()) if name.startswith('fercnn')\n"
        "            for k, v in vars(mod).items() if isinstance(v, numba.core.dispatcher.Dispatcher) and v.signatures]\n"
        "print(json.dumps({'faces': len(faces), 'compiled': compiled}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"faces": 1, "compiled": []}


@pytest.mark.parametrize("n", [1, 4])
def test_saliency_equals_visualize_saliency(rng, n):
    from fercnn.visualize import saliency

    model = _net(rng)
    X = model.prepare(rng.integers(0, 256, (n, 14, 18), dtype=np.uint8))
    y = rng.integers(0, 5, n)
    np.testing.assert_allclose(Predictor(model).saliency(X, y), saliency(model, X, y), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match=r"saliency: y must be \(1,\) class indices in \[0, 5\)"):
        Predictor(model).saliency(X[:1], [5])


def test_saliency_of_the_shipped_network(rng):
    from fercnn.visualize import saliency

    model = pretrained("deep")
    X = model.prepare(rng.integers(0, 256, (2, 48, 48), dtype=np.uint8))
    y = np.array([3, 0])
    want = saliency(model, X, y)
    got = predictor_for(model).saliency(X, y)
    # float32: the two sum in different orders (and fercnn.fast's order changes with the thread
    # count), so a max-pool or ReLU near a tie can send a little gradient another way. Over 20
    # drawn pairs of faces the largest difference was 0.9% of the map's maximum, the lowest
    # correlation 0.99999; a wrong backward step differs by far more. Exactness is the float64
    # test's (test_saliency_equals_visualize_saliency).
    np.testing.assert_allclose(got, want, atol=0.03 * want.max())
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.9999


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 8, 8, 9), (2, 7, 11, 8), (3, 6, 5, 10), (2, 3, 5, 8)])
def test_pooling_inside_the_conv_equals_pooling_after_it(rng, shape, dtype):
    # odd sizes (the last row or column is not pooled), tiles over the edge, a map 3 rows high
    x = rng.standard_normal(shape).astype(dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for r, variants in ((3, ["f2x3", "f4x3"]), (5, ["f2x5", "f4x5"])):
        w = rng.standard_normal((6, shape[3], r, r))
        b = rng.standard_normal(6).astype(dtype)
        w2 = filter_columns(w, dtype)
        want = max_pool_2x2(im2col_conv(x, w2, None, r))
        got = im2col_conv_pooled(x, w2, b, r)
        assert got.shape == want.shape == (shape[0], shape[1] // 2, shape[2] // 2, 6) and got.dtype == dtype
        np.testing.assert_allclose(got, want + b, rtol=tol, atol=tol)
        for variant in variants:
            assert pools_in_tile(variant)
            U = transform_filters(w, variant, dtype)
            # the same tiles pooled before or after they are put in place: the same numbers
            np.testing.assert_array_equal(winograd_conv_pooled(x, U, b, variant),
                                          max_pool_2x2(winograd_conv(x, U, None, variant)) + b, err_msg=variant)
            np.testing.assert_allclose(winograd_conv_pooled(x, U, None, variant), want, rtol=tol * 100,
                                       atol=tol * 100, err_msg=variant)


def test_a_nan_wins_the_pool_inside_the_conv_as_after_it(rng):
    x = rng.standard_normal((1, 8, 8, 8))
    x[0, 3, 4, 2] = np.nan
    w = rng.standard_normal((4, 8, 3, 3))
    w2 = filter_columns(w, np.float64)
    want = max_pool_2x2(im2col_conv(x, w2, None, 3))
    assert 0 < np.isnan(want).sum() < want.size
    np.testing.assert_array_equal(np.isnan(im2col_conv_pooled(x, w2, None, 3)), np.isnan(want))
    U = transform_filters(w, "f2x3", np.float64)
    np.testing.assert_array_equal(winograd_conv_pooled(x, U, None, "f2x3"),
                                  max_pool_2x2(winograd_conv(x, U, None, "f2x3")))  # NaN where it is NaN


def test_only_square_tiles_of_even_m_pool_inside():
    assert [v for v in sorted(VARIANTS) if pools_in_tile(v)] == ["f2x3", "f2x5", "f4x3", "f4x5"]
    assert not pools_in_tile("f2x3" + ROWS)
    x, U = np.zeros((1, 6, 6, 8)), np.zeros((25, 8, 4))
    with pytest.raises(ValueError, match="expected a square tile of even m, got 'f3x3'"):
        winograd_conv_pooled(x, U, None, "f3x3")
