"""FER2013 in both forms (small files written here), bad data, preprocessing, summary.

Most files here hold images of one constant value (enough for labels and errors); the
pattern tests give every pixel of every image its own value, so that a loader that
transposes, flips or shuffles pixels, or mixes up images, splits or classes, fails."""
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from shared_helpers import as_ordinary_user
from PIL import Image

from fercnn.data import CLASS_NAMES, flip_double, load_fer2013, preprocess, summarize

ROWS = [  # (emotion, Usage, pixel value)
    (0, "Training", 10), (6, "Training", 20), (4, "Training", 30), (3, "PublicTest", 40),
    (6, "PublicTest", 50), (1, "PrivateTest", 60), (5, "PrivateTest", 70), (2, "Training", 80),
]


def _csv(path, rows=ROWS, header="emotion,pixels,Usage", edit=None):
    lines = [header] + [f"{e},{' '.join([str(v)] * 2304)},{u}" for e, u, v in rows]
    if edit:
        lines[edit[0]] = edit[1]
    path.write_text("\n".join(lines) + "\n")
    return path


def _folders(root, rows=ROWS):
    for i, (e, usage, v) in enumerate(rows):
        top = "train" if usage == "Training" else "test"
        d = root / top / CLASS_NAMES[e]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((48, 48), v, np.uint8)).save(d / f"{usage}_{1000 + i}.jpg", quality=100)
    return root


def _check_loaded(data):
    for split, usage in (("train", "Training"), ("val", "PublicTest"), ("test", "PrivateTest")):
        rows = [(e, v) for e, u, v in ROWS if u == usage]
        assert data[f"X_{split}"].dtype == np.uint8 and data[f"X_{split}"].shape == (len(rows), 48, 48)
        assert data[f"y_{split}"].dtype == np.int64
        # each image carries its own label: pair them by pixel value
        by_value = {v: e for e, v in rows}
        for img, label in zip(data[f"X_{split}"], data[f"y_{split}"]):
            value = int(round(img.mean()))
            assert by_value[value] == label, f"{split}: image of value {value} labelled {label}"
    assert data["class_names"] == list(CLASS_NAMES)


def test_csv_form(tmp_path):
    _check_loaded(load_fer2013(_csv(tmp_path / "fer2013.csv"), use_cache=False))


def test_folder_form_and_class_order(tmp_path):
    data = load_fer2013(_folders(tmp_path / "fer2013"), use_cache=False)
    _check_loaded(data)
    # neutral sorts before sad alphabetically, yet must be 6 (and sad 4)
    assert set(data["y_train"]) == {0, 2, 4, 6}


def test_folder_found_through_parent_and_csv_through_folder(tmp_path):
    _folders(tmp_path / "fer2013")
    assert len(load_fer2013(tmp_path, use_cache=False)["y_train"]) == 4
    (tmp_path / "other").mkdir()
    _csv(tmp_path / "other" / "fer2013.csv")
    assert len(load_fer2013(tmp_path / "other", use_cache=False)["y_val"]) == 2


def test_cache_is_used_and_invalidated(tmp_path, monkeypatch):
    import fercnn.data.fer2013 as fer2013

    decoded = []  # each time the image folders are read and decoded
    read_folders = fer2013._read_folders
    monkeypatch.setattr(fer2013, "_read_folders", lambda *a: decoded.append(1) or read_folders(*a))
    root = _folders(tmp_path / "fer2013")
    cache = tmp_path / "cache"
    first = load_fer2013(root, cache_dir=cache)
    files = os.listdir(cache)
    assert len(files) == 1 and len(decoded) == 1
    second = load_fer2013(root, cache_dir=cache)
    assert len(decoded) == 1  # read from the cache, nothing decoded
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(root / "train" / "angry" / "Training_1.jpg")
    third = load_fer2013(root, cache_dir=cache)
    assert len(third["y_train"]) == 5 and len(os.listdir(cache)) == 2 and len(decoded) == 2


@pytest.mark.parametrize("edit,message", [
    ((1, "0," + " ".join(["1"] * 2303) + ",Training"), r"line 2: expected 2304 pixels, got 2303"),
    ((2, "0," + " ".join(["1"] * 2303) + " x,Training"), r"line 3: non-numeric pixel value 'x'"),
    ((3, "0," + " ".join(["1"] * 2303) + " 256,Training"), r"line 4: pixel values must be in 0-255"),
    ((4, "9," + " ".join(["1"] * 2304) + ",Training"), r"line 5: unknown emotion code 9"),
    ((4, "happy," + " ".join(["1"] * 2304) + ",Training"), r"line 5: emotion must be an integer 0-6, got 'happy'"),
    ((5, "3," + " ".join(["1"] * 2304) + ",Validation"), r"line 6: unknown Usage 'Validation'"),
    ((2, "3," + " ".join(["1"] * 2304)), r"line 3: expected 3 fields"),
    ((0, "label,pixels,Usage"), r"line 1: expected the header 'emotion,pixels,Usage'"),
])
def test_csv_errors(tmp_path, edit, message):
    path = _csv(tmp_path / "bad.csv", edit=edit)
    with pytest.raises(ValueError, match=rf"bad.csv: {message}"):
        load_fer2013(path, use_cache=False)


@pytest.mark.parametrize("tail,message", [
    (b"0," + b" ".join([b"1"] * 2303) + b" 99999999999999999999,Training\n",
     r"line 10: non-numeric pixel value '99999999999999999999'; expected whole numbers 0-255"),
    (b"0," + b" ".join([b"1"] * 2303) + b" \xff,Training\n", r"line 10: not UTF-8 text \(invalid start byte at byte "),
    (b'0,"' + b"1 " * 70000 + b'",Training\n', r"line 10: not a readable csv row \(field larger than field limit"),
    (b"0," + b" ".join([b"1"] * 2303) + b" 1\0,Training\n", r"line 10: non-numeric pixel value '1\\x00'"),
])
def test_csv_fields_that_used_to_end_in_a_traceback(tmp_path, tail, message):
    path = _csv(tmp_path / "bad.csv")
    with open(path, "ab") as f:
        f.write(tail)
    with pytest.raises(ValueError, match=rf"bad.csv: {message}"):
        load_fer2013(path, use_cache=False)


def test_a_cache_folder_that_cannot_be_written_is_passed_over(tmp_path):
    path = _csv(tmp_path / "fer2013.csv")
    (tmp_path / "afile").write_text("a file, not a folder")
    with pytest.warns(RuntimeWarning, match=r"cannot write the FER2013 cache .*afile/fer2013_\w+.npz \(.*afile is not a "
                                            r"folder\); going on without it"):
        data = load_fer2013(path, cache_dir=tmp_path / "afile")
    assert len(data["y_train"]) == 4


def test_a_read_only_cache_folder_is_passed_over(tmp_path):
    path = _csv(tmp_path / "fer2013.csv")
    (tmp_path / "ro").mkdir(mode=0o555)
    code = ("import warnings; from fercnn.data import load_fer2013\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            f"    print(len(load_fer2013({str(path)!r})['y_train']))\n"
            "print('|'.join(f'{x.category.__name__}: {x.message}' for x in w))")
    done = subprocess.run([*as_ordinary_user(), sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, FERCNN_CACHE=str(tmp_path / "ro")), timeout=120)
    assert done.returncode == 0, done.stderr
    count, warned = done.stdout.splitlines()
    assert count == "4" and not list((tmp_path / "ro").iterdir())
    assert re.fullmatch(r"RuntimeWarning: cannot write the FER2013 cache .*ro/fer2013_\w+.npz \(Permission denied\); "
                        r"going on without it \(give --cache-dir or FERCNN_CACHE a folder that can be written\)",
                        warned), warned


def test_folder_errors(tmp_path):
    def fresh(name):
        return _folders(tmp_path / name)

    root = fresh("a")
    (root / "train" / "happy2").mkdir()
    with pytest.raises(ValueError, match=r"unknown class folder .*happy2; expected one of"):
        load_fer2013(root, use_cache=False)

    root = fresh("b")
    (root / "train" / "angry" / "Training_9.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"cannot read image .*Training_9.jpg"):
        load_fer2013(root, use_cache=False)

    root = fresh("c")
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(root / "train" / "angry" / "Training_9.jpg")
    with pytest.raises(ValueError, match=r"Training_9.jpg is 48x40, expected 48x48"):
        load_fer2013(root, use_cache=False)

    root = fresh("d")
    (root / "test" / "happy" / "Training_5.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"Training_5.jpg: file names in test/ must start with PublicTest_ or PrivateTest_"):
        load_fer2013(root, use_cache=False)

    root = fresh("e")
    (root / "train" / "surprise").mkdir()
    with pytest.raises(ValueError, match=r"folder is empty: .*train/surprise"):
        load_fer2013(root, use_cache=False)

    _folders(tmp_path / "f", rows=[r for r in ROWS if r[1] == "Training"])
    with pytest.raises(ValueError, match=r"has no test/ folder"):
        load_fer2013(tmp_path / "f", use_cache=False)

    with pytest.raises(ValueError, match=r"path does not exist: .*nowhere"):
        load_fer2013(tmp_path / "nowhere")
    (tmp_path / "g").mkdir()
    with pytest.raises(ValueError, match=r"holds neither fer2013.csv nor train/ and test/"):
        load_fer2013(tmp_path / "g")


def test_hidden_files_are_passed_over(tmp_path):
    root = _folders(tmp_path / "fer2013")
    (root / "train" / ".DS_Store").write_bytes(b"x")
    (root / "train" / "angry" / ".DS_Store").write_bytes(b"x")
    assert len(load_fer2013(root, use_cache=False)["y_train"]) == 4


def test_summary_counts(tmp_path):
    text = summarize(load_fer2013(_csv(tmp_path / "f.csv"), use_cache=False))
    assert text.splitlines()[0].split() == ["class", "train", "val", "test"]
    assert text.splitlines()[7].split() == ["neutral", "1", "1", "0"]
    assert text.splitlines()[-1].split() == ["total", "4", "2", "2"]


def test_preprocess_and_flip(rng):
    X = rng.integers(0, 256, (6, 48, 48)).astype(np.uint8)
    y = np.arange(6)
    Xd, yd = flip_double(X, y)
    np.testing.assert_array_equal(Xd[6:], X[:, :, ::-1])
    np.testing.assert_array_equal(yd, np.r_[y, y])
    out = preprocess({"X_train": X, "y_train": y, "X_val": X[:2], "y_val": y[:2]})
    assert out["X_train"].shape == (12, 1, 48, 48) and out["X_train"].dtype == np.float32
    np.testing.assert_allclose(out["X_train"].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out["mean_image"][0], Xd.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(out["X_val"] + out["mean_image"], X[:2, None].astype(np.float32), atol=1e-4)
    assert preprocess({"X_train": X, "y_train": y}, double_by_flip=False)["X_train"].shape == (6, 1, 48, 48)


def test_csv_from_a_spreadsheet_loads(tmp_path):
    """A byte-order mark before the header and blank lines at the end are the same data."""
    path = _csv(tmp_path / "fer2013.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes() + b"\n\r\n")
    _check_loaded(load_fer2013(path, use_cache=False))


def test_corrupt_cache_is_reported_and_rebuilt(tmp_path):
    root = _folders(tmp_path / "fer2013")
    cache = tmp_path / "cache"
    first = load_fer2013(root, cache_dir=cache)
    (name,) = os.listdir(cache)
    path = cache / name
    path.write_bytes(path.read_bytes()[:100])  # a load killed while writing it, before writes were atomic
    with pytest.warns(RuntimeWarning, match=rf"FER2013 cache .*{name} is corrupt .*rebuilding it"):
        again = load_fer2013(root, cache_dir=cache)
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    assert os.listdir(cache) == [name]  # rebuilt in place, no temporary left behind
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = load_fer2013(root, cache_dir=cache)  # and read back without a word
    np.testing.assert_array_equal(third["X_train"], first["X_train"])


def _pattern(i):
    """Image i of the pattern tests: pixel (r, c) = (5 r + 3 c + 17 i) mod 256. Neither
    symmetric nor transpose-symmetric, and no two images alike."""
    r, c = np.mgrid[:48, :48]
    return ((5 * r + 3 * c + 17 * i) % 256).astype(np.uint8)


PATTERN_ROWS = [(e, u) for e, u, _ in ROWS] + [(3, "Training"), (6, "PrivateTest")]


def _pattern_csv(path):
    lines = ["emotion,pixels,Usage"] + [f"{e},{' '.join(map(str, _pattern(i).reshape(-1)))},{u}"
                                        for i, (e, u) in enumerate(PATTERN_ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _pattern_folders(root):
    for i, (e, usage) in enumerate(PATTERN_ROWS):
        d = root / ("train" if usage == "Training" else "test") / CLASS_NAMES[e]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_pattern(i)).save(d / f"{usage}_{1000 + i}.png")  # lossless, unlike the real .jpg
    return root


@pytest.mark.parametrize("form", ["csv", "folders"])
def test_pattern_images_load_pixel_for_pixel_with_their_labels_and_splits(tmp_path, form):
    path = _pattern_csv(tmp_path / "fer2013.csv") if form == "csv" else _pattern_folders(tmp_path / "fer2013")
    data = load_fer2013(path, use_cache=False)
    for split, usage in (("train", "Training"), ("val", "PublicTest"), ("test", "PrivateTest")):
        want = [(e, _pattern(i)) for i, (e, u) in enumerate(PATTERN_ROWS) if u == usage]
        got = list(zip(data[f"y_{split}"], data[f"X_{split}"]))
        assert len(got) == len(want), split
        if form == "folders":  # read class folder by class folder: the same pairs, in another order
            key = lambda pair: pair[1].tobytes()  # noqa: E731
            want, got = sorted(want, key=key), sorted(got, key=key)
        for k, ((want_label, want_image), (label, image)) in enumerate(zip(want, got)):
            assert label == want_label, f"{split} image {k}: label {label}, expected {want_label}"
            np.testing.assert_array_equal(image, want_image, err_msg=f"{split} image {k}")


def test_flip_double_mirrors_left_to_right():
    X = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)  # one 2x3 image
    Xd, yd = flip_double(X, np.array([5]))
    np.testing.assert_array_equal(Xd, [[[1, 2, 3], [4, 5, 6]], [[3, 2, 1], [6, 5, 4]]])
    np.testing.assert_array_equal(yd, [5, 5])


def test_mean_image_is_the_per_pixel_mean_of_the_training_set():
    X = np.stack([_pattern(i) for i in range(3)])
    y = np.array([0, 1, 2])
    want = (X[0].astype(np.float64) + X[1] + X[2]) / 3
    out = preprocess({"X_train": X, "y_train": y, "X_val": X[1:], "y_val": y[1:]}, double_by_flip=False)
    np.testing.assert_allclose(out["mean_image"][0], want, rtol=1e-6)
    for n in range(3):
        np.testing.assert_allclose(out["X_train"][n, 0], X[n] - want, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(out["X_val"][0, 0], X[1] - want, rtol=1e-6, atol=1e-4)
    doubled = preprocess({"X_train": X, "y_train": y}, double_by_flip=True)["mean_image"][0]
    np.testing.assert_allclose(doubled, (want + want[:, ::-1]) / 2, rtol=1e-6)
    assert not np.allclose(want, want[:, ::-1])  # the pattern is not symmetric: the flip is seen
