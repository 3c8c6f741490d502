"""Files written by fercnn before its modules were grouped into packages (tests/fixtures/v1,
made by tests/fixtures/v1/make.py at the commit it names) load, resume bit for bit and
predict as they did."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fercnn.data import hog_features, make_synthetic_faces, preprocess
from fercnn.models import ConvNet, load
from fercnn.train import Solver

V1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "v1")


class make:
    """The recipe of tests/fixtures/v1/make.py (written with the module names of its time),
    restated with today's: the network, data and Solver options the fixtures were made with."""
    CONV = [{"filters": 4, "kernel": 3, "batchnorm": True, "pool": True, "dropout": 0.2},
            {"filters": 4, "kernel": 3, "batchnorm": True, "pool": True, "dropout": 0.2}]
    FC = [{"units": 8, "batchnorm": True, "dropout": 0.3}]
    hog_features = staticmethod(hog_features)

    @staticmethod
    def data(hog):
        raw = {}
        for split, n, seed in (("train", 64, 1), ("val", 21, 2)):
            raw[f"X_{split}"], raw[f"y_{split}"] = make_synthetic_faces(n, seed=[0, seed])
        d = preprocess(raw, double_by_flip=False)
        if hog:
            for split in ("train", "val"):
                d[f"features_{split}"] = hog_features(raw[f"X_{split}"]).astype(np.float32)
        return d

    @staticmethod
    def model(hog):
        return ConvNet(conv=make.CONV, fc=make.FC, hog={} if hog else None, reg=1e-3, seed=5)

    @staticmethod
    def solver(m, d, folder, epochs):
        return Solver(m, d, optim_config={"learning_rate": 0.02}, lr_decay=0.9, batch_size=16, num_epochs=epochs,
                      seed=3, num_train_samples=None, checkpoint_dir=folder, checkpoint_every=3,
                      bn_recalibration=32, verbose=False)

    @staticmethod
    def fixed_input():
        return np.random.default_rng(11).integers(0, 256, size=(5, 48, 48), dtype=np.uint8)


def _expected(name):
    with open(os.path.join(V1, "expected_probs.json")) as f:
        return np.array(json.load(f)[name])


@pytest.mark.parametrize("name", ["solver_run/uninterrupted.npz", "hybrid_run/uninterrupted.npz", "cli_run/model.npz"])
def test_old_model_files_predict_as_before(name):
    m = load(os.path.join(V1, name))
    features = make.hog_features(make.fixed_input()).astype(np.float32) if m.hog_dim else None
    got = m.predict_proba(m.prepare(make.fixed_input()), features=features)
    np.testing.assert_array_equal(got, _expected(name).astype(got.dtype))


@pytest.mark.parametrize("name,hog", [("solver_run", False), ("hybrid_run", True)])
def test_old_checkpoints_resume_bit_for_bit(tmp_path, name, hog):
    """A run killed at iteration 6 by the old code, resumed by today's, ends exactly where the
    old code's uninterrupted run ended: parameters, batchnorm statistics and histories."""
    folder = tmp_path / "checkpoints"
    shutil.copytree(os.path.join(V1, name, "checkpoints"), folder)
    m = make.model(hog)
    s = make.solver(m, make.data(hog), str(folder), 3)
    s.train(resume=True)
    assert s.resumed_from == "epoch002_iter0000006.npz"
    want = load(os.path.join(V1, name, "uninterrupted.npz"))
    assert sorted(m.params) == sorted(want.params)
    for k in want.params:
        np.testing.assert_array_equal(m.params[k], want.params[k], err_msg=k)
    for layer, stats in want.bn_state.items():
        for stat, v in stats.items():
            np.testing.assert_array_equal(m.bn_state[layer][stat], v, err_msg=f"{layer}/{stat}")
    with open(os.path.join(V1, name, "uninterrupted_history.json")) as f:
        old = json.load(f)
    now = s.history()
    for key in ("loss", "train_acc", "val_acc", "epoch_iterations", "best_val_acc", "best_epoch", "epochs_run"):
        assert now[key] == old[key], key


def test_old_cli_run_folder_is_finished_and_kept(tmp_path):
    """`fercnn train ... --resume` on a finished run folder of the old code trains nothing and
    leaves its results as they were."""
    out = tmp_path / "cli_run"
    shutil.copytree(os.path.join(V1, "cli_run"), out)
    before = (out / "results.json").read_bytes()
    run = subprocess.run([sys.executable, "-m", "fercnn.cli", "train", "linear", "--synthetic-train", "70", "--epochs",
                          "2", "--batch-size", "16", "--out", str(out), "--quiet", "--resume"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "the run had already finished (2 of 2 epochs)" in run.stdout
    assert (out / "results.json").read_bytes() == before
