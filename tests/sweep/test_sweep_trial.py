"""One trial without Ray: fercnn.sweep.trial's _Trial with a stand-in for Ray Tune's
report/get_checkpoint. The run folder is complete before every report; a trial stopped
at a report (as ASHA stops one) and started again goes on from its checkpoint and ends
where an unbroken trial ends; a finished trial started again reports and does not train.
The recipe here uses the training options beyond the paper's (augmentation, a cosine
schedule, label smoothing, Nesterov momentum)."""
import json
import os
import shutil

import numpy as np
import pytest
from sweep_helpers import tiny_spec

from fercnn.data import CLASS_NAMES, make_synthetic_faces
from fercnn.models import load
from fercnn.sweep import read_spec
from fercnn.sweep.trial import _Trial


class _Stop(Exception):
    """What Tune does to a trial it stops: the trial's thread ends at its report."""


class FakeTune:
    """report() and get_checkpoint() as Ray Tune's function trainables see them."""

    class Checkpoint:
        def __init__(self, data):
            self.data = data

        @classmethod
        def from_directory(cls, path):
            with open(os.path.join(path, "epoch.json")) as f:
                return cls(json.load(f))

    def __init__(self, run_dir, *, seen=None, stop_after=None):
        self.run_dir, self.seen, self.stop_after, self.reports = run_dir, seen, stop_after, []

    def get_checkpoint(self):
        if self.seen is None:
            return None
        tune = self

        class _Saved:
            def as_directory(self):
                import contextlib
                import tempfile

                @contextlib.contextmanager
                def folder():
                    with tempfile.TemporaryDirectory() as d:
                        with open(os.path.join(d, "epoch.json"), "w") as f:
                            json.dump({"epoch": tune.seen}, f)
                        yield d
                return folder()
        return _Saved()

    def report(self, metrics, checkpoint=None):
        with open(os.path.join(self.run_dir, "results.json")) as f:
            written = json.load(f)
        assert written["epochs_run"] >= metrics["epoch"], "reported before the run folder was written"
        assert checkpoint.data["epoch"] == metrics["epoch"]
        self.reports.append(metrics)
        if self.stop_after == metrics["epoch"]:
            raise _Stop()


@pytest.fixture(scope="module")
def raw():
    out = {"class_names": list(CLASS_NAMES)}
    for split, n, seed in (("train", 56, 1), ("val", 28, 2), ("test", 28, 3)):
        out[f"X_{split}"], out[f"y_{split}"] = make_synthetic_faces(n, seed=[0, seed])
    return out


def _config():
    spec = tiny_spec()
    spec["recipe"].update(update_rule="sgd_momentum", nesterov=True, lr_schedule="cosine", warmup_epochs=0.5,
                          augment_shift=2, augment_flip=True, label_smoothing=0.1, epochs=3, bn_recalibration=40)
    recipe = read_spec(spec)["recipe"]
    recipe["lr"] = 0.01
    return {"network": {"conv_blocks": 1, "conv_filters": 2, "conv_pool": "each", "fc_blocks": 0}, "recipe": recipe}


def _run(raw, run_dir, **tune):
    setup = {"out": os.path.dirname(os.path.dirname(run_dir)), "threads": 1, "checkpoint_every": 3,
             "swept": [["recipe", "lr"]]}
    os.makedirs(run_dir, exist_ok=True)
    fake = FakeTune(run_dir, **tune)
    trial = _Trial(os.path.basename(run_dir), run_dir, _config(), setup, raw, fake)
    try:
        trial.run()
    except _Stop:
        pass
    return fake


def test_stopped_at_a_report_and_started_again_ends_as_unbroken(raw, tmp_path):
    whole = str(tmp_path / "a" / "trials" / "trial_000")
    reports = _run(raw, whole).reports
    assert [r["epoch"] for r in reports] == [1, 2, 3]
    results = json.loads((tmp_path / "a" / "trials" / "trial_000" / "results.json").read_text())
    assert results["finished"] and results["swept"] == {"lr": 0.01} and results["epochs_run"] == 3
    model = load(os.path.join(whole, "model.npz"))
    assert model.augmentation["shift"] == 2 and model.augmentation["flip"] and model.label_smoothing == 0.1

    cut = str(tmp_path / "b" / "trials" / "trial_000")
    assert [r["epoch"] for r in _run(raw, cut, stop_after=1).reports] == [1]
    assert not json.loads(open(os.path.join(cut, "results.json")).read())["finished"]
    again = _run(raw, cut, seen=1).reports  # Tune saw epoch 1; the Solver goes on from its checkpoint
    assert [r["epoch"] for r in again] == [2, 3]
    assert [r["val_acc"] for r in again] == [r["val_acc"] for r in reports[1:]]
    a, b = load(os.path.join(whole, "model.npz")), load(os.path.join(cut, "model.npz"))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    history = json.loads(open(os.path.join(cut, "history.json")).read())
    assert [r["checkpoint"] for r in history["resumes"]] == ["epoch001_iter0000004.npz"]


def test_a_finished_trial_started_again_reports_what_tune_missed_and_trains_nothing(raw, tmp_path):
    run_dir = str(tmp_path / "trials" / "trial_000")
    _run(raw, run_dir)
    before = {n: open(os.path.join(run_dir, n), "rb").read() for n in ("results.json", "model.npz", "history.json")}
    shutil.rmtree(os.path.join(run_dir, "checkpoints"))  # nothing to resume from: it must not train
    reports = _run(raw, run_dir, seen=1).reports
    assert [r["epoch"] for r in reports] == [2, 3]
    assert {n: open(os.path.join(run_dir, n), "rb").read() for n in before} == before
