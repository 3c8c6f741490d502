"""Early stopping by ASHA on the validation accuracy of every epoch, on a folder of faces made
so easy that any trial with a sensible learning rate is right on all of them after one
epoch, and one with a learning rate of 1e-7 stays at chance. One trial at a time, so that
ASHA's decisions do not depend on which trial reports first: the first trial runs to the
end, the hopeless second is stopped after its first epoch, and its folder is still a
complete run folder. Also: two threads per trial, as the spec asks; Optuna's sampler."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from fercnn.data import CLASS_NAMES
from fercnn.models import load
from fercnn.sweep import run


@pytest.fixture(scope="module")
def easy_faces(tmp_path_factory):
    """<class>/<n>.png: noise, with a bright band whose row says the class."""
    root = tmp_path_factory.mktemp("easy")
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASS_NAMES):
        (root / name).mkdir()
        for i in range(25):
            img = rng.integers(60, 120, (48, 48)).astype(np.uint8)
            img[6 * k:6 * k + 6] = 230
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root


def _spec(faces, **changes):
    spec = {"name": "easy",
            "data": {"source": "folder", "path": str(faces), "val_fraction": 0.2, "test_fraction": 0.2},
            "network": {"conv_blocks": 1, "conv_filters": 4, "conv_pool": "each", "fc_blocks": 0},
            "recipe": {"update_rule": "adam", "lr": {"grid": [0.01, 1e-7]}, "batch_size": 32, "epochs": 2,
                       "bn_recalibration": 100},
            "search": {"max_concurrent": 1, "threads_per_trial": 2},
            "early_stopping": {"scheduler": "asha", "grace_period": 1, "reduction_factor": 2}}
    for section, values in changes.items():
        spec[section].update(values)
    return spec


def test_asha_stops_the_hopeless_trial_after_its_first_epoch(ray_env, easy_faces, tmp_path):
    sweep = run(_spec(easy_faces), out=str(tmp_path / "sweep"), cpus=2)
    good, hopeless = sweep.rows
    assert (good["swept"]["lr"], good["status"], good["epochs_run"]) == (0.01, "done", 2)
    assert good["best_val_acc"] == 1.0
    assert (hopeless["swept"]["lr"], hopeless["status"], hopeless["epochs_run"]) == (1e-7, "stopped", 1)
    assert hopeless["best_val_acc"] < 0.5 and len(hopeless["val_acc"]) == 1
    folder = tmp_path / "sweep" / "trials" / hopeless["trial"]
    results = json.loads((folder / "results.json").read_text())
    assert results["stopped_by"] == "asha after epoch 1" and not results["finished"]
    assert load(folder / "model.npz").spec == results["spec"]  # a model file like any other
    assert "stopped: stopped early by the scheduler" in (tmp_path / "sweep" / "table.txt").read_text()
    assert sweep.best["trial"] == good["trial"]
    for r in sweep.rows:  # the threads the spec asked for, not the CPUs'
        starts = json.loads((tmp_path / "sweep" / "trials" / r["trial"] / "node.json").read_text())["starts"]
        assert [s["threads"]["numba"] for s in starts] == [2] and starts[0]["threads"]["env"]["OMP_NUM_THREADS"] == "2"


def test_optunas_sampler_through_ray_tune(ray_env, easy_faces, tmp_path):
    pytest.importorskip("optuna", reason="Optuna is not installed: search.algorithm \"optuna\" cannot run")
    spec = _spec(easy_faces, recipe={"lr": {"loguniform": [1e-4, 1e-2]}, "epochs": 1},
                 search={"algorithm": "optuna", "samples": 3, "threads_per_trial": 1},
                 early_stopping={"scheduler": "none"})
    sweep = run(spec, out=str(tmp_path / "sweep"), cpus=2)
    lrs = [r["swept"]["lr"] for r in sweep.rows]
    assert len(lrs) == 3 and len(set(lrs)) == 3 and all(1e-4 <= lr <= 1e-2 for lr in lrs)
    assert all(r["status"] == "done" for r in sweep.rows)
    assert os.path.exists(tmp_path / "sweep" / "val_acc_vs_lr.png")
