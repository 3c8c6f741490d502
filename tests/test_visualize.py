"""Filters, activations and saliency maps: values checked, not only shapes."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from fercnn import visualize
from fercnn.gradient_check import eval_numerical_gradient
from fercnn.layers import conv_forward, spatial_batchnorm_forward
from fercnn.models import ConvNet


def _model(dtype=np.float64):
    model = ConvNet(conv=[{"filters": 3, "kernel": 3, "batchnorm": True, "dropout": 0.3, "pool": True},
                          {"filters": 4, "kernel": 3, "batchnorm": True}],
                    fc=[{"units": 6, "batchnorm": True, "dropout": 0.5}], input_shape=(1, 8, 8), num_classes=3,
                    seed=2, dtype=dtype)
    rng = np.random.default_rng(0)
    for layer, stats in model.bn_state.items():  # running statistics away from 0 / 1
        stats["running_mean"] = rng.standard_normal(stats["running_mean"].shape).astype(dtype)
        stats["running_var"] = (rng.random(stats["running_var"].shape) + 0.5).astype(dtype)
    return model


def test_saliency_is_the_input_gradient_of_the_class_score():
    model = _model()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 1, 8, 8))
    y = np.array([2, 0])
    maps = visualize.saliency(model, X, y)
    assert maps.shape == (2, 8, 8)
    for i in range(2):
        def score(x, i=i):
            return model.loss(x[None])[0, y[i]]
        num = eval_numerical_gradient(score, X[i].copy())
        np.testing.assert_allclose(maps[i], np.abs(num[0]), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"saliency: y must be \(2,\) class indices in \[0, 3\)"):
        visualize.saliency(model, X, np.array([0, 3]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_smoothgrad_without_noise_is_the_saliency(dtype):
    model = _model(dtype)
    X = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(dtype)
    y = np.array([2, 0, 1])
    plain = visualize.saliency(model, X, y)
    smooth = visualize.smoothgrad(model, X, y, n=3, sigma=0.0, rng=np.random.default_rng(5))
    assert smooth.shape == plain.shape == (3, 8, 8) and smooth.dtype == plain.dtype == dtype
    # the copies go through the network in a batch of their own: the same sums, split otherwise
    np.testing.assert_allclose(smooth, plain, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=0)


def test_smoothgrad_is_the_mean_saliency_of_the_noisy_copies():
    model = _model()
    X = np.random.default_rng(1).standard_normal((2, 1, 8, 8))
    y = np.array([1, 2])
    n, sigma = 5, 0.2
    smooth = visualize.smoothgrad(model, X, y, n=n, sigma=sigma, rng=np.random.default_rng(7), batch_size=2)
    rng = np.random.default_rng(7)  # the same draws, image by image, in batches of 2
    for i in range(2):
        scale = sigma * (X[i].max() - X[i].min())
        noisy = np.concatenate([X[i] + scale * rng.standard_normal((k, 1, 8, 8)) for k in (2, 2, 1)])
        want = visualize.saliency(model, noisy, np.full(n, y[i])).mean(axis=0)
        np.testing.assert_allclose(smooth[i], want, rtol=1e-10)
    again = visualize.smoothgrad(model, X, y, n=n, sigma=sigma, rng=np.random.default_rng(7), batch_size=2)
    np.testing.assert_array_equal(again, smooth)
    assert not np.allclose(smooth, visualize.saliency(model, X, y))


def test_smoothgrad_refuses_bad_arguments():
    model = _model()
    X = np.zeros((2, 1, 8, 8))
    y = np.array([0, 1])
    rng = np.random.default_rng(0)
    for kwargs, message in (({"n": 0, "rng": rng}, r"smoothgrad: n must be a positive integer, got 0"),
                            ({"sigma": -0.1, "rng": rng}, r"smoothgrad: sigma must be >= 0, got -0.1"),
                            ({"rng": 0}, r"smoothgrad: rng must be a numpy.random.Generator .*got int"),
                            ({"batch_size": 0, "rng": rng}, r"smoothgrad: batch_size must be a positive integer")):
        with pytest.raises(ValueError, match=message):
            visualize.smoothgrad(model, X, y, **kwargs)
    with pytest.raises(ValueError, match=r"smoothgrad: y must be \(2,\) class indices in \[0, 3\)"):
        visualize.smoothgrad(model, X, np.array([0, 3]), rng=rng)


def test_filters_grid():
    model = _model()
    grid = visualize.filters(model)
    assert grid.shape == (2 * 4 - 1, 2 * 4 - 1)  # 3 filters on a 2x2 grid of 3x3 cells
    w = model.params["conv1.w"][1, 0]
    np.testing.assert_allclose(grid[0:3, 4:7], (w - w.min()) / (w.max() - w.min()))
    assert grid.min() == 0 and grid.max() == 1
    np.testing.assert_array_equal(grid[4:7, 4:7], 1)  # the empty fourth cell


def test_activations_are_the_first_block_outputs():
    model = _model()
    X = np.random.default_rng(2).standard_normal((1, 1, 8, 8))
    maps = visualize.activations(model, X)
    assert [m.shape for m in maps] == [(3, 8, 8), (4, 4, 4)]
    conv, _ = conv_forward(X, model.params["conv1.w"], np.zeros(3), pad=1)
    bn, _ = spatial_batchnorm_forward(conv, model.params["conv1.gamma"], model.params["conv1.beta"],
                                      {k: v.copy() for k, v in model.bn_state["conv1"].items()}, training=False)
    np.testing.assert_allclose(maps[0], np.maximum(bn, 0)[0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"one image of shape \(1, C, H, W\), got \(2, 1, 8, 8\)"):
        visualize.activations(model, np.zeros((2, 1, 8, 8)))


def test_pngs_are_written(tmp_path):
    model = _model(np.float32)
    X = np.random.default_rng(3).standard_normal((2, 1, 8, 8)).astype(np.float32)
    visualize.filters(model, tmp_path / "f.png")
    visualize.activations(model, X[:1], tmp_path / "a.png")
    visualize.saliency(model, X, np.array([0, 1]), tmp_path / "s.png")
    visualize.smoothgrad(model, X, np.array([0, 1]), tmp_path / "g.png", n=4, rng=np.random.default_rng(0))
    for name in ("f.png", "a.png", "s.png", "g.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and min(im.size) > 50


def test_visualize_command(tmp_path):
    model = ConvNet(conv=[{"filters": 4, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 8}],
                    input_shape=(1, 48, 48), num_classes=7, seed=0)
    model.mean_image = np.full((1, 48, 48), 100, np.float32)
    model.save(tmp_path / "model.npz")
    Image.fromarray(skdata.astronaut()).save(tmp_path / "astronaut.jpg")
    cmd = [sys.executable, "-m", "fercnn.cli", "visualize", "--model", "model.npz", "--out", "pics", "astronaut.jpg"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path / "pics")) == ["activations.png", "filters.png", "saliency.png"]
    smooth = cmd[:7] + ["smooth", "--smoothgrad", "4", "--noise", "0.15", "--seed", "3", "astronaut.jpg"]
    done = subprocess.run(smooth, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path / "smooth")) == ["activations.png", "filters.png", "saliency.png",
                                                        "smoothgrad.png"]
    done = subprocess.run(cmd + ["--smoothgrad", "0"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and "--smoothgrad: must be >= 1, got 0" in done.stderr
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(tmp_path / "blank.png")
    done = subprocess.run(cmd[:-1] + ["blank.png"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and done.stderr.strip() == "error: blank.png: no face found (use --no-detect for a face crop)"
    # a photo that fails leaves --out as it was: nothing is written before every photo is read
    fresh = cmd[:7] + ["fresh", "blank.png"]
    done = subprocess.run(fresh, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and "no face found" in done.stderr
    assert not (tmp_path / "fresh").exists() or os.listdir(tmp_path / "fresh") == []
