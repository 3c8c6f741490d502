"""Training on a folder of your own faces: layouts, splits, face detection, errors, end to end."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from fercnn.data import is_fer2013
from fercnn.data.folders import load_image_folder
from fercnn.data.synthetic import make_synthetic_faces

CLASSES = ("grin", "frown", "calm")


def _faces(root, per_class=10, seed=0):
    """Drawn faces as PNGs, half 48x48 grayscale, half 96x96 RGB, in root/<class>/."""
    X, y = make_synthetic_faces(per_class * 7, seed=seed)
    for k, name in enumerate(CLASSES):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(X[y == [3, 4, 6][k]][:per_class]):
            im = Image.fromarray(img)
            if i % 2:
                im = im.resize((96, 96)).convert("RGB")
            im.save(d / f"{name}_{i}.png")
    return root


def test_one_folder_is_split_stratified_and_seeded(tmp_path):
    root = _faces(tmp_path / "faces", per_class=20)
    data = load_image_folder(root, val_fraction=0.2, test_fraction=0.1, seed=3)
    assert data["class_names"] == sorted(CLASSES) and not is_fer2013(root)
    for split, per_class in (("train", 14), ("val", 4), ("test", 2)):
        assert data[f"X_{split}"].shape == (3 * per_class, 48, 48) and data[f"X_{split}"].dtype == np.uint8
        assert np.bincount(data[f"y_{split}"]).tolist() == [per_class] * 3
    again = load_image_folder(root, val_fraction=0.2, test_fraction=0.1, seed=3)
    np.testing.assert_array_equal(again["X_val"], data["X_val"])
    other = load_image_folder(root, val_fraction=0.2, test_fraction=0.1, seed=4)
    assert not np.array_equal(other["X_val"], data["X_val"])
    # every image lands in exactly one split
    total = sum(len(data[f"y_{s}"]) for s in ("train", "val", "test"))
    assert total == 60


def test_train_val_test_layout(tmp_path):
    for split, seed in (("train", 0), ("val", 1)):
        _faces(tmp_path / "faces" / split, per_class=4, seed=seed)
    data = load_image_folder(tmp_path / "faces")
    assert [len(data[f"y_{s}"]) for s in ("train", "val", "test")] == [12, 12, 0]
    _faces(tmp_path / "faces" / "test", per_class=2, seed=2)
    assert len(load_image_folder(tmp_path / "faces")["y_test"]) == 6


def test_face_detection_lists_images_without_a_face(tmp_path):
    root = tmp_path / "faces"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(skdata.astronaut()).save(root / name / f"astronaut{i}.jpg")
    Image.fromarray(np.full((200, 200), 90, np.uint8)).save(root / "a" / "wall.png")
    with pytest.warns(RuntimeWarning, match=r"no face found in 1 image\(s\), left out: .*a/wall.png"):
        data = load_image_folder(root, detect=True, val_fraction=0.3, test_fraction=0.0)
    assert len(data["y_train"]) + len(data["y_val"]) == 4 and data["no_face"] == [str(root / "a" / "wall.png")]


def _three_classes(root, per_class=3):
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((48, 48), i * 40, np.uint8)).save(root / name / f"{i}.png")
    return root


def _empty_class(root):
    for f in os.listdir(root / "grin"):
        os.remove(root / "grin" / f)


def _one_class(root):
    for name in ("frown", "calm"):
        for f in os.listdir(root / name):
            os.remove(root / name / f)
        (root / name).rmdir()


@pytest.mark.parametrize("spoil,message", [
    (_empty_class, r"faces/grin: class folder with no images"),
    (_one_class, r"found one class \(grin\); a classifier needs at least two class folders"),
    (lambda r: (r / "calm" / "notes.txt").write_text("hello"), r"calm/notes.txt: cannot read it as an image"),
    (lambda r: (r / "calm" / "3.png").write_bytes(b"\x89PNG cut"), r"calm/3.png: cannot read it as an image"),
    (lambda r: (r / "calm" / "more").mkdir(), r"calm/more: a folder inside class folder"),
    (lambda r: (r / "README").write_text("x"), r"faces/README: expected only class folders"),
])
def test_folder_errors(tmp_path, spoil, message):
    root = _three_classes(tmp_path / "faces")
    load_image_folder(root, val_fraction=0.34, test_fraction=0.0)  # fine before
    spoil(root)
    with pytest.raises(ValueError, match=message):
        load_image_folder(root, val_fraction=0.34, test_fraction=0.0)


def _rename(root, old, new):
    os.rename(root / old, root / new)


@pytest.mark.parametrize("name", ["calm\nand happy", "tab\there", "bell\a"])
def test_a_class_name_with_a_control_character_is_refused(tmp_path, name):
    root = _three_classes(tmp_path / "faces")
    _rename(root, "calm", name)
    with pytest.raises(ValueError, match=rf"faces: class folder {re.escape(repr(name))} has a newline or another "
                                         r"control character in its name; rename it"):
        load_image_folder(root, val_fraction=0.34, test_fraction=0.0)


def test_hidden_folders_are_named_when_passed_over(tmp_path):
    root = _three_classes(tmp_path / "faces")
    _rename(root, "calm", "...")
    (root / "grin" / ".DS_Store").write_bytes(b"not an image")  # a hidden file: passed over without a word
    with pytest.warns(RuntimeWarning, match=r"faces: passing over hidden folder\(s\) \['...'\]: names starting with "
                                            r"'\.' are not read as classes or splits") as caught:
        data = load_image_folder(root, val_fraction=0.34, test_fraction=0.0)
    assert data["class_names"] == ["frown", "grin"] and len(caught) == 1


def test_an_image_over_the_pixel_limit_is_refused_by_name(tmp_path):
    root = _three_classes(tmp_path / "faces")
    with pytest.raises(ValueError, match=r"faces/calm/0.png: the image is 48x48 = 2,304 pixels; the limit is 2,000 "):
        load_image_folder(root, val_fraction=0.34, test_fraction=0.0, max_pixels=2000)


def test_layout_errors(tmp_path):
    _faces(tmp_path / "f" / "train", per_class=2)
    with pytest.raises(ValueError, match=r"has train/ but no val/"):
        load_image_folder(tmp_path / "f")
    with pytest.raises(ValueError, match=r"no such folder"):
        load_image_folder(tmp_path / "missing")
    _faces(tmp_path / "small", per_class=1)
    with pytest.raises(ValueError, match=r"1 image\(s\) cannot be split into train, val \(0.15\) and test \(0.15\)"):
        load_image_folder(tmp_path / "small", val_fraction=0.15, test_fraction=0.15)
    with pytest.raises(ValueError, match=r"val_fraction \+ test_fraction must be below 1"):
        load_image_folder(tmp_path / "small", val_fraction=0.5, test_fraction=0.5)


def test_train_on_your_faces_and_predict_with_their_names(tmp_path):
    root = _faces(tmp_path / "my_faces", per_class=12)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fercnn.cli", "train", "shallow", "--data", str(root), "--out", str(out),
           "--epochs", "1", "--batch-size", "16", "--quiet", "--val-fraction", "0.25", "--test-fraction", "0.25"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"data: your faces from {root}" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert np.sum(results["test_confusion"]) == 9 and len(results["test_confusion"]) == 3
    pred = subprocess.run([sys.executable, "-m", "fercnn.cli", "predict", "--model", str(out / "model.npz"),
                           "--no-detect", "--json", str(root / "grin" / "grin_1.png")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert pred.returncode == 0, pred.stderr
    (face,) = json.loads(pred.stdout)[0]["faces"]
    assert list(face["emotions"]) == sorted(CLASSES) and face["top"] in CLASSES
    assert face["box"] == [0, 0, 96, 96]


def test_which_folders_are_fer2013(tmp_path):
    fer = tmp_path / "kaggle"
    for top, prefix in (("train", "Training"), ("test", "PublicTest")):
        (fer / top / "happy").mkdir(parents=True)
        Image.fromarray(np.zeros((48, 48), np.uint8)).save(fer / top / "happy" / f"{prefix}_1.jpg")
    (tmp_path / "csv" / "fer2013").mkdir(parents=True)
    (tmp_path / "csv" / "fer2013" / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    mine = _faces(tmp_path / "mine" / "train", per_class=2)
    _faces(tmp_path / "mine" / "val", per_class=2)
    _faces(tmp_path / "mine" / "test", per_class=2)
    assert is_fer2013(fer) and is_fer2013(tmp_path / "csv") and is_fer2013(tmp_path / "csv" / "fer2013" / "fer2013.csv")
    assert is_fer2013(tmp_path / "nowhere")  # load_fer2013 says what is wrong with it
    (tmp_path / "empty").mkdir()
    assert not is_fer2013(mine.parent) and not is_fer2013(mine) and not is_fer2013(tmp_path / "empty")
    (mine.parent / "test").rename(tmp_path / "elsewhere")
    assert not is_fer2013(mine.parent)  # train/ and val/ only
