"""The sweep's table is read from the trials' run folders: each trial's status, the table's
columns, the best model, and whether the search ended. No Ray needed: the folders are
written here by hand, as trials leave them."""
import json

import numpy as np
import pytest
from PIL import Image
from sweep_helpers import tiny_spec

from fercnn.data import CLASS_NAMES
from fercnn.models import ConvNet
from fercnn.sweep import read_spec
from fercnn.sweep.data import load_faces
from fercnn.sweep.results import collect, mark_stopped, table, write_outputs


def _trial(out, number, lr, results=None, val_acc=()):
    folder = out / "trials" / f"trial_{number:03d}"
    folder.mkdir(parents=True)
    config = {"network": {"conv_blocks": 1}, "recipe": {"lr": lr, "epochs": 3}}
    (folder / "trial.json").write_text(json.dumps({"trial": folder.name, "network": "conv 4p 3x3", "parameters": 1234,
                                                   "swept": {"conv_blocks": 1, "lr": lr}, "config": config}))
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
        (folder / "history.json").write_text(json.dumps({"val_acc": list(val_acc)}))
        model = ConvNet(conv=[], fc=[], input_shape=(1, 48, 48), num_classes=7, seed=number)
        model.mean_image, model.class_names = np.zeros((1, 48, 48), np.float32), list(CLASS_NAMES)
        model.save(folder / "model.npz")
    return folder


def _results(epochs_run, val, **more):
    return {"epochs_run": epochs_run, "val_accuracy": val, "test_accuracy": val - 0.01, "train_seconds": 2.5,
            "finished": False, **more}


def test_each_trial_gets_its_status_and_the_best_is_copied(tmp_path):
    _trial(tmp_path, 0, 0.01, _results(3, 0.5, finished=True), [0.3, 0.4, 0.5])
    stopped = _trial(tmp_path, 1, 0.001, _results(1, 0.2), [0.2])
    _trial(tmp_path, 2, 0.1, _results(1, 0.15, finished=True, diverged="loss became nan"), [0.15])
    _trial(tmp_path, 3, 0.003, _results(2, 0.6), [0.5, 0.6])  # killed: no mark of the scheduler
    _trial(tmp_path, 4, 0.03)  # started, no epoch ended
    mark_stopped(str(stopped), "asha after epoch 1")
    rows = collect(str(tmp_path), errors={"trial_004": "boom"})
    assert [r["status"] for r in rows] == ["done", "stopped", "diverged", "unfinished", "error"]
    assert json.loads((stopped / "results.json").read_text())["stopped_by"] == "asha after epoch 1"
    spec = read_spec(tiny_spec())
    sweep = write_outputs(spec, str(tmp_path), rows, complete=False, say=lambda *a: None)
    assert sweep.best["trial"] == "trial_003" and (tmp_path / "best_model.npz").read_bytes() == \
        (tmp_path / "trials" / "trial_003" / "model.npz").read_bytes()
    lines = (tmp_path / "table.txt").read_text().splitlines()
    assert lines[0].split() == ["trial", "network", "conv_blocks", "lr", "parameters", "epochs", "best", "val",
                                "seconds", "status"]
    assert lines[3].split() == ["trial_001", "conv", "4p", "3x3", "1", "0.001", "1,234", "1/3", "0.2000", "2.5",
                                "stopped"]
    assert lines[6].split()[-4:] == ["0/3", "-", "-", "error"]
    assert "the search did not end: continue it with --resume" in lines
    assert "stopped: stopped early by the scheduler" in lines
    assert "seconds" not in table(rows, ["lr"], seconds=False)


def test_a_trial_that_ran_all_its_epochs_is_not_marked_stopped(tmp_path):
    done = _trial(tmp_path, 0, 0.01, _results(3, 0.5, finished=True), [0.3, 0.4, 0.5])
    mark_stopped(str(done), "asha after epoch 3")
    assert "stopped_by" not in json.loads((done / "results.json").read_text())


def test_subsets_of_a_folder_are_drawn_from_every_class(tmp_path):
    for name in CLASS_NAMES:
        (tmp_path / name).mkdir()
        for i in range(10):
            Image.fromarray(np.full((48, 48), 20 * i, np.uint8)).save(tmp_path / name / f"{i}.png")
    data = {"source": "folder", "path": str(tmp_path), "train": 21, "val": None, "test": None, "seed": 0,
            "cache_dir": None, "detect_faces": False, "min_face": 48, "val_fraction": 0.2, "test_fraction": 0.2}
    raw = load_faces(data)
    assert len(raw["y_train"]) == 21 and len(set(raw["y_train"].tolist())) >= 5  # not the first classes only
    again = load_faces(data)
    assert np.array_equal(raw["X_train"], again["X_train"])  # the same subset every time
    with pytest.raises(ValueError, match="is not FER2013"):
        load_faces(dict(data, source="fer2013"))
