"""Faces in photos: reading, grayscale, detection, cropping, detect_emotions and `fercnn predict`."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

import fercnn
from fercnn.data import CLASS_NAMES
from fercnn.data.faces import crop_face, detect_faces, read_image, to_gray
from fercnn.models import ConvNet

# the astronaut's face in skimage.data.astronaut() (512x512): columns about 175-275, rows 60-165
FACE_CENTRE = (225, 112)


def _model(num_classes=7, names=CLASS_NAMES):
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 8}],
                    input_shape=(1, 48, 48), num_classes=num_classes, seed=0)
    model.mean_image = np.full((1, 48, 48), 100, np.float32)
    model.class_names = list(names)
    return model


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(skdata.astronaut()).save(d / "astronaut.jpg", quality=95)
    Image.fromarray(np.full((480, 640), 128, np.uint8)).save(d / "blank.png")
    (d / "notes.jpg").write_text("not an image")
    face = skdata.astronaut()[60:165, 175:275]
    Image.fromarray(face).resize((48, 48)).convert("L").save(d / "crop48.png")
    model = _model()
    model.save(d / "model.npz")
    return d


@pytest.mark.parametrize("side,fmt", [(320, "PNG"), (480, "JPEG"), (512, "JPEG"), (640, "PNG"), (800, "JPEG")])
def test_one_face_in_the_astronaut_at_any_size(side, fmt):
    import io
    buffer = io.BytesIO()
    Image.fromarray(skdata.astronaut()).resize((side, side)).save(buffer, format=fmt)
    photo = np.asarray(Image.open(buffer))
    boxes = detect_faces(to_gray(photo))
    assert len(boxes) == 1, boxes
    x, y, w, h = boxes[0]
    cx, cy = (v * side / 512 for v in FACE_CENTRE)
    assert x < cx < x + w and y < cy < y + h and 60 <= w * 512 / side <= 140 and w == h


def test_the_helmet_in_a_large_astronaut_is_left_out_by_min_face():
    """The documented limit (docs/usage.md, Limits): in the astronaut fitted into 1600x1200 the
    cascade also finds the helmet, about a third of the face's size; --min-face 120 leaves it out."""
    photo = np.full((1200, 1600, 3), 128, np.uint8)
    photo[:, 200:1400] = np.asarray(Image.fromarray(skdata.astronaut()).resize((1200, 1200)))
    boxes = detect_faces(to_gray(photo), min_face=120)
    assert len(boxes) == 1, boxes
    x, y, w, h = boxes[0]
    cx, cy = 200 + FACE_CENTRE[0] * 1200 / 512, FACE_CENTRE[1] * 1200 / 512
    assert x < cx < x + w and y < cy < y + h


def test_nested_boxes_are_one_face():
    from fercnn.data.faces import merge_nested
    assert merge_nested([(30, 30, 40, 40), (0, 0, 100, 100), (200, 0, 50, 50)]) == [(0, 0, 100, 100), (200, 0, 50, 50)]


def test_no_face_in_a_blank_image():
    assert detect_faces(np.full((480, 640), 128.0)) == []
    assert detect_faces(np.zeros((30, 30))) == []  # smaller than the smallest face searched
    with pytest.raises(ValueError, match=r"min_face must be an integer >= 24 pixels .*got 10"):
        detect_faces(np.zeros((100, 100)), min_face=10)


def test_to_gray_and_crop():
    rgb = skdata.astronaut()
    g = to_gray(rgb)
    assert g.shape == (512, 512) and g.dtype == np.float64 and 0 <= g.min() and g.max() <= 255
    want = np.asarray(Image.fromarray(rgb).convert("L"), np.float64)
    assert np.abs(g - want).max() <= 1.0  # Pillow's luma, up to its rounding
    np.testing.assert_allclose(to_gray(rgb / 255.0), g)
    np.testing.assert_allclose(to_gray(np.dstack([rgb, np.full((512, 512), 255, np.uint8)])), g)
    for bad in (np.zeros((4, 4, 2)), np.zeros(5), np.array([["a"]])):
        with pytest.raises(ValueError, match=r"to_gray: expected an \(H, W\), \(H, W, 3\) or \(H, W, 4\) image"):
            to_gray(bad)
    crop = crop_face(g, (175, 60, 100, 100))
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    edge = crop_face(g, (480, 480, 100, 100))  # clipped at the border, still 48x48
    assert edge.shape == (48, 48)
    with pytest.raises(ValueError, match=r"box \(600, 0, 10, 10\) lies outside the 512x512 image"):
        crop_face(g, (600, 0, 10, 10))


def test_read_image_errors(photos, tmp_path):
    with pytest.raises(ValueError, match=r"notes.jpg: cannot read it as an image"):
        read_image(photos / "notes.jpg")
    with pytest.raises(ValueError, match=r"missing.png: no such file"):
        read_image(tmp_path / "missing.png")
    assert read_image(photos / "blank.png").shape == (480, 640)
    assert read_image(photos / "astronaut.jpg").shape == (512, 512, 3)


def test_detect_emotions():
    model = _model()
    faces = fercnn.detect_emotions(skdata.astronaut(), model=model)
    assert len(faces) == 1
    face = faces[0]
    assert set(face) == {"box", "emotions", "top"} and len(face["box"]) == 4
    assert all(isinstance(v, int) for v in face["box"])
    assert list(face["emotions"]) == list(CLASS_NAMES)
    assert sum(face["emotions"].values()) == pytest.approx(1.0, abs=1e-9)
    assert face["top"] == max(face["emotions"], key=face["emotions"].get)
    # the probabilities are the model's on the crop, with its mean image subtracted (through
    # fercnn.inference: batchnorm folded into the layers, so equal up to float32 rounding)
    from fercnn.data.faces import crop_face as crop
    X = crop(to_gray(skdata.astronaut()), face["box"]).astype(np.float32)[None, None] - model.mean_image
    np.testing.assert_allclose(list(face["emotions"].values()), model.predict_proba(X)[0], rtol=1e-4, atol=1e-7)
    assert fercnn.detect_emotions(np.zeros((200, 200), np.uint8), model=model) == []
    whole = fercnn.detect_emotions(np.zeros((60, 80), np.uint8), model=model, detect=False)
    assert [f["box"] for f in whole] == [[0, 0, 80, 60]]
    # without model=: the shipped model, or one error where none ships (tests/test_shipped.py)


def _predict(*args, cwd):
    cmd = [sys.executable, "-m", "fercnn.cli", "predict", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_predict_json_field_by_field(photos, tmp_path):
    done = _predict("astronaut.jpg", "blank.png", "notes.jpg", "--model", "model.npz", "--json", cwd=photos)
    assert done.returncode == 1, done.stderr  # one photo could not be read
    entries = json.loads(done.stdout)
    assert [e["image"] for e in entries] == ["astronaut.jpg", "blank.png", "notes.jpg"]  # as given, in order
    astronaut, blank, notes = entries
    assert set(astronaut) == {"image", "faces"} and len(astronaut["faces"]) == 1
    face = astronaut["faces"][0]
    assert set(face) == {"box", "emotions", "top"}
    x, y, w, h = face["box"]
    assert x < FACE_CENTRE[0] < x + w and y < FACE_CENTRE[1] < y + h
    assert list(face["emotions"]) == list(CLASS_NAMES)
    assert all(0 <= p <= 1 for p in face["emotions"].values())
    assert sum(face["emotions"].values()) == pytest.approx(1.0, abs=1e-9)
    assert face["top"] == max(face["emotions"], key=face["emotions"].get)
    assert blank == {"image": "blank.png", "faces": []}
    assert notes["faces"] == [] and "notes.jpg: cannot read it as an image" in notes["error"]
    err = done.stderr.splitlines()
    assert "note: no face found in blank.png" in err
    assert [line for line in err if line.startswith("error:")] == [f"error: {notes['error']}"]


def test_predict_table_no_detect_and_out(photos, tmp_path):
    done = _predict("crop48.png", "--model", "model.npz", "--no-detect", "--out", tmp_path / "drawn", cwd=photos)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "crop48.png: 1 face" and lines[1].split()[:5] == ["box", "(x,", "y,", "w,", "h)"]
    assert lines[2].startswith("  0, 0, 48, 48")
    probs = [float(v) for v in lines[2].split()[5:]]
    assert len(probs) == 7 and sum(probs) == pytest.approx(1.0, abs=7 * 0.0005)  # printed to 3 decimals
    assert lines[2].split()[4] == CLASS_NAMES[int(np.argmax(probs))]
    with Image.open(tmp_path / "drawn" / "crop48.png") as im:
        assert im.size == (48, 48)


def test_predict_errors(photos):
    (photos / "cut.npz").write_bytes((photos / "model.npz").read_bytes()[:300])
    done = _predict("astronaut.jpg", "--model", "cut.npz", cwd=photos)
    assert done.returncode == 2 and "cut.npz is not a complete fercnn file" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = _predict("astronaut.jpg", "--model", "model.npz", "--min-face", "8", cwd=photos)
    assert done.returncode == 2 and "argument --min-face: must be >= 24, got 8" in done.stderr


def test_console_command_is_installed(photos):
    exe = os.path.join(os.path.dirname(sys.executable), "fercnn")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "predict" in done.stdout and "gradcheck" in done.stdout
    for command in ("train", "evaluate", "predict", "summary", "gradcheck", "visualize"):
        done = subprocess.run([exe, command, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.startswith(f"usage: fercnn {command}"), (command, done.stderr)
    done = subprocess.run([exe, "fly"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: fercnn: unknown command 'fly'")


def _sideways_jpeg(path, mode):
    """A 64 wide, 48 high JPEG tagged EXIF orientation 6: viewers turn it 90 degrees clockwise
    to 48 wide, 64 high. Its left half is dark, so the turn shows in the pixels."""
    stored = np.full((48, 64), 230, np.uint8)
    stored[:, :32] = 20
    im = Image.fromarray(stored) if mode == "L" else Image.fromarray(np.dstack([stored] * 3))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(path, quality=95, exif=exif)
    return path


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_read_image_turns_a_photo_upright_by_its_exif_orientation(tmp_path, mode):
    from PIL import ImageOps
    path = _sideways_jpeg(tmp_path / "sideways.jpg", mode)
    image = read_image(path)
    assert image.shape[:2] == (64, 48)
    with Image.open(path) as im:
        upright = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(image, upright)
    gray = to_gray(image)
    assert gray[:32].mean() < 60 < 200 < gray[32:].mean()  # the dark half is now the top


def test_predict_out_draws_on_the_upright_photo_it_read_once(tmp_path, capsys, monkeypatch):
    import PIL.Image

    from fercnn.cli.predict import main
    _sideways_jpeg(tmp_path / "sideways.jpg", "RGB")
    _model().save(tmp_path / "model.npz")
    opened, real_open = [], PIL.Image.open
    monkeypatch.setattr(PIL.Image, "open", lambda fp, *a, **kw: opened.append(str(fp)) or real_open(fp, *a, **kw))
    status = main([str(tmp_path / "sideways.jpg"), "--model", str(tmp_path / "model.npz"), "--no-detect", "--json",
                   "--out", str(tmp_path / "drawn")])
    assert status == 0
    assert opened == [str(tmp_path / "sideways.jpg")]  # decoded once, for both the faces and the drawing
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["faces"][0]["box"] == [0, 0, 48, 64]
    with real_open(tmp_path / "drawn" / "sideways.png") as im:
        assert im.size == (48, 64)  # the box covers the drawn photo exactly
        assert im.getpixel((47, 63))[0] > 200 and im.getpixel((47, 63))[1] < 100  # its red edge, bottom right


def test_detect_faces_near_finds_the_face_around_a_hint():
    from fercnn.data.faces import detect_faces, detect_faces_near

    gray = to_gray(skdata.astronaut())
    (box,) = detect_faces(gray)
    x, y, w, h = box
    (near,) = detect_faces_near(gray, [(x + 8, y - 6, w, h)])
    assert max(abs(a - b) for a, b in zip(near, box)) <= 12
    assert detect_faces_near(gray, [(0, 400, 60, 60)]) == []  # nothing around the hint
