"""Averaging at test time (fercnn.models.tta): the views, and their mean."""
import re

import numpy as np
import pytest

from fercnn.models import ConvNet
from fercnn.models.tta import predict_proba_tta, tta_shift, views


def _model():
    m = ConvNet(conv=[{"filters": 3, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 8, 8), num_classes=4, seed=2)
    return m


def test_the_mean_of_the_image_and_its_mirror():
    m, X = _model(), np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32)
    want = (m.predict_proba(X).astype(np.float64) + m.predict_proba(X[..., ::-1].copy())) / 2
    np.testing.assert_allclose(predict_proba_tta(m, X), want, rtol=1e-6)
    assert predict_proba_tta(m, X).dtype == np.float32
    np.testing.assert_allclose(predict_proba_tta(m, X).sum(axis=1), 1, rtol=1e-6)


def _moved(X, dr, dc):
    """X (N, C, H, W) moved dr rows down and dc columns right, zeros where nothing came from."""
    H, W = X.shape[2:]
    out = np.zeros_like(X)
    out[:, :, max(dr, 0):H + min(dr, 0), max(dc, 0):W + min(dc, 0)] = \
        X[:, :, max(-dr, 0):H + min(-dr, 0), max(-dc, 0):W + min(-dc, 0)]
    return out


def test_a_model_trained_on_shifts_gets_shifted_views():
    m = _model()
    assert tta_shift(m) == 0
    m.augmentation = {"flip": True, "shift": 4, "rotate": 0.0, "scale": 0.0, "erase": 0.0}
    assert tta_shift(m) == 2
    X = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(np.float32)
    v = views(X, 2)
    assert len(v) == 10 and all(a.shape == X.shape for a in v)
    np.testing.assert_array_equal(v[2][:, :, 2:], X[:, :, :-2])  # down by 2, zeros above
    assert (v[2][:, :, :2] == 0).all()
    # every view, built independently: the image and its mirror, each also moved by 2 pixels
    # up, down, left and right with zeros where it came from; each view exactly once
    mirror = X[..., ::-1]
    expected = [X, mirror] + [_moved(a, dr, dc) for dr, dc in ((2, 0), (-2, 0), (0, 2), (0, -2)) for a in (X, mirror)]
    left = list(range(len(v)))
    for k, want in enumerate(expected):
        same = [i for i in left if np.array_equal(v[i], want)]
        assert same, f"expected view {k} is not among views()"
        left.remove(same[0])
    mean = sum(m.predict_proba(a).astype(np.float64) for a in v) / 10
    np.testing.assert_allclose(predict_proba_tta(m, X), mean, rtol=1e-6)


def test_detect_emotions_with_tta_answers_with_probabilities(tmp_path):
    from skimage import data

    from fercnn import detect_emotions
    from fercnn.models import pretrained

    model = pretrained("deep")
    plain = detect_emotions(data.astronaut(), model)
    averaged = detect_emotions(data.astronaut(), model, tta=True)
    assert [f["box"] for f in averaged] == [f["box"] for f in plain] and len(plain) == 1
    assert sum(averaged[0]["emotions"].values()) == pytest.approx(1.0)
    assert averaged[0]["top"] == "happy" and averaged[0]["emotions"] != plain[0]["emotions"]


def test_odd_shifts_round_up_and_hybrids_are_refused():
    m = _model()
    for trained, views_shift in ((1, 1), (3, 2), (4, 2), (5, 3)):
        m.augmentation = {"flip": True, "shift": trained, "rotate": 0.0, "scale": 0.0, "erase": 0.0}
        assert tta_shift(m) == views_shift
    X = np.zeros((2, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="predict_proba_tta: expected an image-only model"):
        predict_proba_tta(m, X, features=np.zeros((2, 5), np.float32))


@pytest.mark.parametrize("augmentation,message", [
    ("shift 4", "augmentation must be a dict of settings or null, got 'shift 4'"),
    ({"shift": 4, "zoom": 2}, "augmentation has unknown settings ['zoom']"),
    ({"shift": -1}, "augmentation: shift must be a whole number of pixels in [0, 24], got -1"),
    ({"shift": "4"}, "augmentation: shift must be a whole number of pixels in [0, 24], got '4'"),
])
def test_a_saved_augmentation_is_checked_when_the_model_is_loaded(tmp_path, augmentation, message):
    from fercnn.models import load

    m = _model()
    m.mean_image = np.zeros((1, 8, 8), np.float32)
    m.augmentation = augmentation
    m.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=re.escape(message)):
        load(tmp_path / "m.npz")
    m.augmentation = {"flip": True, "shift": 4}  # a part of the settings is fine: the rest are off
    m.save(tmp_path / "ok.npz")
    assert load(tmp_path / "ok.npz").augmentation == {"flip": True, "shift": 4}
