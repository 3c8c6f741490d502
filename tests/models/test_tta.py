"""Averaging at test time (fercnn.models.tta): the views, and their mean."""
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
