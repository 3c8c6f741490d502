"""Where the commands write: never over an input, never over a finished run unless told,
never into the data, never two runs into one folder, and a folder that cannot be written
is found before any work. Each refusal is one 'error:' line and exit status 2."""
import fcntl
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from shared_helpers import as_ordinary_user, one_error_line
from PIL import Image

from fercnn.cli.outputs import LOCK_NAME
from fercnn.models import ConvNet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fercnn(*args, cwd, timeout=300, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "fercnn.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


def _train(tmp_path, *args, out="out", timeout=300, prefix=()):
    """A quick linear run on synthetic faces (8 epochs of 140 faces unless args say otherwise)."""
    return _fercnn("train", "linear", "--out", out, "--quiet", "--synthetic-train", "140", *args, cwd=tmp_path,
                   timeout=timeout, prefix=prefix)




def _face_model(path):
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 48, 48), num_classes=7)
    model.mean_image = np.full((1, 48, 48), 100, np.float32)
    model.save(path)
    return path


# predict --out


def test_predict_out_never_replaces_an_input_photo(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(d / "photo.png")
    before = (d / "photo.png").read_bytes()
    _face_model(tmp_path / "m.npz")
    done = _fercnn("predict", "--out", "d", "d/photo.png", "--model", "m.npz", "--no-detect", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (d / "photo.png").read_bytes() == before  # the input, untouched
    assert done.stderr.splitlines() == ["note: d/photo.png is one of the inputs, so d/photo.png drawn is d/photo_2.png"]
    with Image.open(d / "photo_2.png") as im:
        assert im.size == (48, 48) and im.mode == "RGB"
    # also when the input is named through a link whose drawing would land on the real file
    (tmp_path / "other").mkdir()
    os.symlink(d / "photo.png", tmp_path / "other" / "photo.png")
    done = _fercnn("predict", "--out", "d", "other/photo.png", "--model", "m.npz", "--no-detect", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["note: d/photo.png is one of the inputs, so other/photo.png drawn is d/photo_2.png"]
    assert (d / "photo.png").read_bytes() == before


@pytest.mark.parametrize("command", [["predict", "x.png"], ["train", "linear"], ["visualize", "--model", "m.npz"]])
def test_an_empty_out_is_refused(tmp_path, command):
    done = _fercnn(*command, "--out", "", cwd=tmp_path)
    one_error_line(done, 2, "argument --out: expected a folder, got ''")
    assert not (tmp_path / "runs").exists()


def test_predict_finds_an_unwritable_out_before_reading_anything(tmp_path):
    (tmp_path / "afile").write_text("x")
    done = _fercnn("predict", "missing.png", "--model", "missing.npz", "--out", "afile/drawn", cwd=tmp_path)
    one_error_line(done, 2, "fercnn predict: cannot write to afile/drawn (Not a directory)")


def test_visualize_never_writes_over_an_input(tmp_path):
    _face_model(tmp_path / "m.npz")
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(tmp_path / "filters.png")
    before = (tmp_path / "filters.png").read_bytes()
    done = _fercnn("visualize", "--model", "m.npz", "--out", ".", "--no-detect", "filters.png", cwd=tmp_path)
    one_error_line(done, 2, "fercnn visualize: ./filters.png is one of the inputs, and --out would write over it")
    assert (tmp_path / "filters.png").read_bytes() == before


# train --out


def test_a_finished_run_is_refused_unless_overwrite(tmp_path):
    first = _train(tmp_path, "--epochs", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    out = tmp_path / "out"
    for f in os.listdir(out / "checkpoints"):  # a finished run whose checkpoints/ was removed
        os.remove(out / "checkpoints" / f)
    os.rmdir(out / "checkpoints")
    kept = {f: (out / f).read_bytes() for f in ("model.npz", "results.json")}
    again = _train(tmp_path, "--epochs", "1", "--seed", "3")
    one_error_line(again, 2, "fercnn train linear: out holds a finished run (results.json, model.npz); give "
                              "--overwrite to replace it, --resume to continue it")
    assert again.stdout == ""  # refused before the data was made
    assert {f: (out / f).read_bytes() for f in kept} == kept
    both = _train(tmp_path, "--overwrite", "--resume")
    one_error_line(both, 2, "--resume continues the run in --out and --overwrite replaces it; give one")
    fresh = _train(tmp_path, "--epochs", "1", "--seed", "3", "--overwrite")
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "--overwrite: removed the earlier run's results.json, model.npz, history.json" in fresh.stdout
    assert json.loads((out / "results.json").read_text())["args"]["seed"] == 3


def test_a_run_with_checkpoints_is_refused_before_the_data_is_loaded(tmp_path):
    assert _train(tmp_path, "--epochs", "1").returncode == 0
    os.remove(tmp_path / "out" / "results.json")  # an unfinished run: checkpoints only
    os.remove(tmp_path / "out" / "model.npz")
    again = _train(tmp_path, "--epochs", "1")
    one_error_line(again, 2, "out/checkpoints already holds checkpoints of a run; continue it with --resume, "
                              "replace it with --overwrite, or give another --out")
    assert again.stdout == ""


def _own_faces(root):
    for k, name in enumerate(("grin", "frown")):
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((48, 48), 40 * k + 10 * i, np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("out", ["faces/run", "faces", "faces/grin/../run"])
def test_out_inside_the_data_is_refused_before_training(tmp_path, out):
    root = _own_faces(tmp_path / "faces")
    listing = sorted(str(p) for p in root.rglob("*"))
    done = _train(tmp_path, "--data", "faces", out=out)
    one_error_line(done, 2, f"fercnn train linear: --out {out} lies inside --data faces; the run's files would "
                             "become part of the data")
    assert done.stdout == "" and sorted(str(p) for p in root.rglob("*")) == listing


def test_an_unwritable_out_is_found_before_the_data_is_loaded(tmp_path):
    (tmp_path / "afile").write_text("x")
    done = _train(tmp_path, out="afile/run")
    one_error_line(done, 2, "fercnn train linear: cannot write to afile/run (Not a directory)")
    assert done.stdout == ""
    done = _train(tmp_path, out="afile")
    one_error_line(done, 2, "fercnn train linear: --out afile is a file, not a folder")


def test_a_read_only_out_is_found_before_the_data_is_loaded(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    done = _train(tmp_path, out="ro", prefix=as_ordinary_user())
    one_error_line(done, 2, "fercnn train linear: cannot write to ro (Permission denied)")
    assert done.stdout == ""


def test_two_runs_on_one_out_the_second_is_refused(tmp_path):
    first = subprocess.Popen([sys.executable, "-m", "fercnn.cli", "train", "linear", "--out", "out", "--quiet",
                              "--synthetic-train", "140", "--epochs", "10000"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "out" / LOCK_NAME
        deadline = time.time() + 120
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.time() < deadline, "the first run did not take its lock"
            time.sleep(0.2)
        second = _train(tmp_path, "--epochs", "1")
        one_error_line(second, 2, f"fercnn train linear: another run (process {first.pid}) is writing to out; wait "
                                   "for it to end or give another --out")
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()
        first.wait()
    # a killed run leaves its lock file, but not its lock: the folder can be resumed
    with open(tmp_path / "out" / LOCK_NAME, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.parametrize("command", [["predict", "x.png"], ["visualize", "--out", "pics"]])
def test_a_model_name_that_is_neither_a_file_nor_shipped(tmp_path, command):
    done = _fercnn(*command, "--model", "VGG", cwd=tmp_path)
    one_error_line(done, 2, "--model VGG: no such file, and not a shipped model's name (expected one of vgg, deep, "
                            "or a model file)")
    assert not (tmp_path / "pics").exists() or os.listdir(tmp_path / "pics") == []


@pytest.mark.parametrize("command,message", [
    (["summary", "m.npz", "--hog"], "--hog builds a preset's hybrid (shallow, deep, vgg, linear); m.npz is a saved "
                                    "model, whose summary shows whether it is one"),
    (["visualize", "--model", "m.npz", "--out", "pics", "--noise", "0"],
     "--noise sets SmoothGrad's noise: give --smoothgrad N with it"),
    (["predict", "--no-detect", "face.png", "clip.mp4"], "--no-detect takes each photo as one face crop, and videos "
                                                         "are always searched for faces: clip.mp4 is a video"),
])
def test_an_option_that_would_be_ignored_is_refused(tmp_path, command, message):
    _face_model(tmp_path / "m.npz")
    done = _fercnn(*command, cwd=tmp_path)
    one_error_line(done, 2, message)
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # nothing written


@pytest.mark.parametrize("command", [["predict", "x.png"], ["visualize", "--out", "pics"]])
def test_a_model_of_other_images_is_refused_even_with_no_face_to_give_it(tmp_path, command):
    small = ConvNet(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 32, 32), num_classes=7)
    small.mean_image = np.full((1, 32, 32), 100, np.float32)
    small.save(tmp_path / "small.npz")
    done = _fercnn(*command, "--model", "small.npz", cwd=tmp_path)
    one_error_line(done, 2, "--model small.npz takes images of shape (1, 32, 32); faces are given to it as 48x48 "
                            "grayscale crops (1, 48, 48)")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / "small.npz"]  # nothing written
