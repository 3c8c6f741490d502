"""The example scripts' --resume, --checkpoint-every and option checks, end to end.

The linear preset keeps these quick; the bit-for-bit guarantee itself is tested on
networks with batchnorm and dropout in test_resume.py and test_resume_kill.py."""
import json
import os
import subprocess
import sys

import pytest
from shared_helpers import one_error_line

from fercnn.models import load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "train_linear.py")


def _run(tmp_path, *args):
    cmd = [sys.executable, SCRIPT, "--out", str(tmp_path / "out"), "--quiet", "--synthetic-train", "140", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)




def test_resume_finished_longer_and_refused(tmp_path):
    first = _run(tmp_path, "--epochs", "2", "--checkpoint-every", "5")
    assert first.returncode == 0, first.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["epochs_run"] == 2 and results["resumes"] == []

    again = _run(tmp_path, "--epochs", "2")
    one_error_line(again, 2, "out holds a finished run (results.json, model.npz); give --overwrite to replace it, "
                              "--resume to continue it")

    finished = _run(tmp_path, "--resume")  # the run's own 2 epochs, not the default 8
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "the run had already finished (2 of 2 epochs)" in finished.stdout

    other = _run(tmp_path, "--resume", "--lr", "0.5")
    one_error_line(other, 2, "is a run with optim_config.learning_rate=1e-05, but this run has "
                              "optim_config.learning_rate=0.5")

    longer = _run(tmp_path, "--resume", "--epochs", "3")
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert "resumed from" in longer.stdout + longer.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["epochs_run"] == 3 and [r["epoch"] for r in results["resumes"]] == [2]
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert len(history["val_acc"]) == 3 and len(history["resumes"]) == 1


def test_resume_without_a_checkpoint(tmp_path):
    one_error_line(_run(tmp_path, "--resume"), 2, "resume: no checkpoint in")


@pytest.mark.parametrize("args,message", [
    (["--lr", "-1"], "argument --lr: must be > 0, got -1"),
    (["--lr", "nan"], "argument --lr: expected a finite number, got 'nan'"),
    (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["--epochs", "two"], "argument --epochs: expected an integer, got 'two'"),
    (["--lr-decay", "1.5"], "argument --lr-decay: must be in (0, 1], got 1.5"),
    (["--momentum", "1"], "argument --momentum: must be in [0, 1), got 1"),
    (["--batch-size", "1"], "argument --batch-size: must be >= 2, got 1"),
    (["--reg", "-0.1"], "argument --reg: must be >= 0, got -0.1"),
    (["--checkpoint-every", "0"], "argument --checkpoint-every: must be >= 1, got 0"),
    (["--time-limit", "0"], "argument --time-limit: must be > 0, got 0"),
    (["--early-stop", "0"], "argument --early-stop: must be >= 1, got 0"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_bad_options(tmp_path, args, message):
    one_error_line(_run(tmp_path, *args), 2, message)
    assert not (tmp_path / "out").exists()  # nothing was started


def test_dropout_options_are_checked(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "examples", "train_shallow.py"), "--conv-dropout", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    one_error_line(done, 2, "argument --conv-dropout: must be in [0, 1), got 1")


def test_diverging_run_ends_in_one_line_and_keeps_its_last_good_checkpoint(tmp_path):
    done = _run(tmp_path, "--lr", "1e30", "--checkpoint-every", "1")
    one_error_line(done, 1, "Solver: loss became")
    assert "Lower the learning rate" in done.stderr
    checkpoints = sorted(n for n in os.listdir(tmp_path / "out" / "checkpoints") if n.endswith(".npz"))
    assert checkpoints == ["epoch001_iter0000001.npz"]  # the loss was finite after iteration 1 only
    load(tmp_path / "out" / "checkpoints" / checkpoints[-1])  # complete and readable


def test_early_stop_ends_the_run_and_says_so_in_its_results(tmp_path):
    # a learning rate too small to change a prediction: epoch 1 stays the best
    done = _run(tmp_path, "--epochs", "20", "--early-stop", "2", "--update-rule", "sgd", "--lr", "1e-30")
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["stopped_early"] and results["epochs_run"] == 3 and results["best_epoch"] == 1
    assert results["args"]["early_stop"] == 2 and results["epochs"] == 20
    again = _run(tmp_path, "--epochs", "20", "--early-stop", "2", "--update-rule", "sgd", "--lr", "1e-30", "--resume")
    assert again.returncode == 0 and "the run had already finished (3 of 20 epochs)" in again.stdout, again.stdout


def test_keep_epochs_keeps_the_checkpoints_fercnn_average_reads(tmp_path):
    from fercnn.cli.average import epoch_ends

    done = _run(tmp_path, "--epochs", "5", "--keep-epochs", "3", "--checkpoint-every", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    epochs, paths = epoch_ends(str(tmp_path / "out"), 3, "test")
    assert epochs == [3, 4, 5] and [os.path.basename(p)[:8] for p in paths] == ["epoch003", "epoch004", "epoch005"]
    assert all(load(p).params for p in paths)
    with pytest.raises(ValueError, match=r"lacks epoch00[12]_iter"):
        epoch_ends(str(tmp_path / "out"), 5, "test")
