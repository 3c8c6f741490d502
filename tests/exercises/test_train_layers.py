"""fercnn train shallow --layers DIR: the network trains on fercnn's readable layers copied
into an exercise folder, beside fercnn's own run, and reports both; functions that do not
pass the grader stop it first, in one error line."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import solved
from shared_helpers import one_error_line

from fercnn.exercises.stubs import start


def _train(tmp_path, folder, *options):
    cmd = [sys.executable, "-m", "fercnn.cli", "train", "shallow", "--layers", folder, "--out", str(tmp_path / "out"),
           *options]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)


def test_fercnns_readable_layers_train_beside_fercnns_own(tmp_path):
    folder = solved.write(str(tmp_path / "ex"))
    done = _train(tmp_path, folder, "--synthetic-train", "14", "--epochs", "3", "--batch-size", "14",
                  "--bn-recalibration", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "14 of 14 functions pass" in out
    assert "settings (both runs): 14 training faces (flip-doubled to 28), 3 epochs, batch 14," in out
    assert "update rule: yours (optim.py's sgd_momentum)" in out
    assert "yours   epoch 3:" in out and "fercnn's epoch 3:" in out and "nan" not in out
    assert "    3  " in out  # the epoch table's last row
    assert "Your dropout drops the units fercnn's does" in out
    for name in ("validation", "test"):
        assert f"{name} accuracy (best epoch's parameters): yours " in out
    with open(tmp_path / "out" / "comparison.json") as f:
        results = json.load(f)
    assert results["same_dropout_masks"] is True
    a, b = np.array(results["yours"]["loss_history"]), np.array(results["fercnn"]["loss_history"])
    assert len(a) == len(b) == 6  # 3 epochs of 28 / 14
    # the same masks and weights: the first losses differ by float32 summation order only
    assert abs(a[0] - b[0]) < 1e-4 * abs(b[0]), (a[0], b[0])
    assert np.max(np.abs(a - b)) < 0.05, (a, b)
    # a second comparison into the same --out does not replace the first's unasked
    again = _train(tmp_path, folder, "--synthetic-train", "14", "--epochs", "1", "--batch-size", "14")
    one_error_line(again, 2, f"train shallow --layers: {tmp_path / 'out' / 'comparison.json'} exists (an earlier "
                             "comparison); give another --out, or --overwrite to replace it")
    assert json.loads((tmp_path / "out" / "comparison.json").read_text()) == results
    replaced = _train(tmp_path, folder, "--synthetic-train", "14", "--epochs", "1", "--batch-size", "14", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert len(json.loads((tmp_path / "out" / "comparison.json").read_text())["fercnn"]["loss_history"]) == 2


def test_layers_that_do_not_pass_stop_it_in_one_error_line(tmp_path):
    folder = str(tmp_path / "ex")
    start(folder)
    done = _train(tmp_path, folder)
    assert done.returncode == 2
    assert "conv_forward                      -  not started" in done.stdout
    assert done.stderr.startswith("error: train shallow --layers: affine_forward, affine_backward, softmax_loss,")
    assert len(done.stderr.splitlines()) == 1
    assert not os.path.exists(tmp_path / "out")


def test_resume_cannot_be_combined_with_layers(tmp_path):
    done = _train(tmp_path, str(tmp_path), "--resume")
    assert done.returncode == 2
    assert done.stderr == "error: train shallow --layers: --resume cannot be combined with --layers (a comparison " \
                          "runs from the start, in one go)\n"


def test_every_training_option_the_comparison_would_ignore_is_refused():
    from fercnn.cli.experiment import build_parser
    from fercnn.exercises.train import REFUSED, apply_defaults

    honoured = {"--seed", "--reg", "--weight-init", "--conv-dropout", "--fc-dropout", "--lr", "--momentum",
                "--lr-decay", "--batch-size", "--epochs", "--bn-recalibration", "--synthetic-train", "--no-flip-double"}
    data_and_output = {"-h", "--help", "--layers", "--data", "--detect-faces", "--min-face", "--max-pixels",
                       "--val-fraction", "--test-fraction", "--train-limit", "--cache-dir", "--out", "--overwrite",
                       "--quiet"}
    parser = build_parser("shallow", False)
    options = {o for a in parser._actions for o in a.option_strings}
    # a new option of `fercnn train` is honoured by the comparison, or refused with --layers
    assert options - data_and_output - honoured - set(REFUSED) == set()
    for option in REFUSED:
        with pytest.raises(ValueError, match=f"train shallow --layers: {option} cannot be combined with --layers"):
            apply_defaults(parser.parse_args(["--layers", "ex"]), ["--layers", "ex", option])


def test_the_comparison_averages_each_epochs_losses():
    from fercnn.exercises.train import comparison_text

    def run(losses, seconds):
        return {"loss_history": losses, "epoch_iterations": [2, 4, 6], "val_acc_history": [0.2, 0.3, 0.4],
                "accuracy": {"val": 0.4, "test": 0.35}, "seconds": seconds}
    text = comparison_text(run([3, 1, 2, 2, 1.5, 0.5], 30.0), run([3, 1, 2, 2.5, 1.5, 0.5], 10.0), True)
    lines = text.splitlines()
    assert lines[1].split() == ["1", "2.0000", "2.0000", "0.200", "0.200"]
    assert lines[2].split() == ["2", "2.0000", "2.2500", "0.300", "0.300"]
    assert lines[3].split() == ["3", "1.0000", "1.0000", "0.400", "0.400"]
    assert "largest difference 0.5000 (iteration 4), last 0.0000" in text
    assert "test accuracy (best epoch's parameters): yours 0.350, fercnn's 0.350 (+0.0 points)" in text
    assert "time: yours 30 s, fercnn's 10 s (3.0x)" in text



def test_train_in_python_reads_layers_from_the_command_line(tmp_path, monkeypatch):
    """fercnn.cli.experiment.main(preset) with argv None reads sys.argv, --layers included."""
    from fercnn.cli.experiment import main

    start(str(tmp_path / "ex"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train", "--layers", "ex", "--out", str(tmp_path / "out")])
    with pytest.raises(ValueError, match=r"affine_forward, .* of ex do not pass `fercnn exercises check` yet"):
        main("shallow")
