"""The real FER2013, when it is on this machine (skipped otherwise: users don't ship it).

Looked for at $FER2013_PATH (csv or unpacked folders), else the archive
../shared/data/fer2013.tar.xz beside the repository, unpacked into a temporary folder.
"""
import os
import tarfile

import numpy as np
import pytest

from fercnn.data import load_fer2013

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHIVE = os.path.join(ROOT, "..", "shared", "data", "fer2013.tar.xz")
# train / PublicTest / PrivateTest per class, from the data's README
COUNTS = {
    "angry": (3995, 467, 491), "disgust": (436, 56, 55), "fear": (4097, 496, 528), "happy": (7215, 895, 879),
    "sad": (4830, 653, 594), "surprise": (3171, 415, 416), "neutral": (4965, 607, 626),
}


@pytest.fixture(scope="module")
def fer2013(tmp_path_factory):
    path = os.environ.get("FER2013_PATH")
    if not path:
        if not os.path.exists(ARCHIVE):
            pytest.skip("FER2013 not present (set FER2013_PATH or put the archive in ../shared/data)")
        path = tmp_path_factory.mktemp("fer")
        with tarfile.open(ARCHIVE) as tar:
            tar.extractall(path, filter="data")
    return load_fer2013(path, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.fer2013
def test_split_sizes_and_class_counts(fer2013):
    d = fer2013
    assert (len(d["y_train"]), len(d["y_val"]), len(d["y_test"])) == (28709, 3589, 3589)
    for k, name in enumerate(d["class_names"]):
        got = tuple(int(np.sum(d[f"y_{s}"] == k)) for s in ("train", "val", "test"))
        assert got == COUNTS[name], f"{name}: got {got}, expected {COUNTS[name]}"
    assert d["X_train"].shape == (28709, 48, 48) and d["X_train"].dtype == np.uint8
    assert 100 < d["X_train"].mean() < 160  # real faces, not blank images


@pytest.mark.fer2013
@pytest.mark.parametrize("name", ["deep", "vgg"])
def test_each_shipped_model_scores_what_it_reports(fer2013, name):
    """The test accuracy reported for fercnn.models.pretrained(name), one view and averaged at
    test time where its provenance has that, is measured from the shipped file
    (reproduction/ship_model.py); this measures it again, to within 0.1 point."""
    from fercnn.models import pretrained, shipped
    from fercnn.models.tta import predict_proba_tta

    if name not in shipped.available():
        pytest.skip(f"this checkout ships no {name} model yet")
    model = pretrained(name)
    X = model.prepare(fer2013["X_test"])
    acc = float(np.mean(model.predict(X) == fer2013["y_test"]))
    assert abs(acc - model.provenance["test_accuracy"]) <= 0.001, (acc, model.provenance["test_accuracy"])
    if "test_accuracy_tta" in model.provenance:
        acc = float(np.mean(predict_proba_tta(model, X).argmax(axis=1) == fer2013["y_test"]))
        assert abs(acc - model.provenance["test_accuracy_tta"]) <= 0.001, (acc, model.provenance["test_accuracy_tta"])
