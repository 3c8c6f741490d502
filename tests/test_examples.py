"""The example scripts end to end, in tiny configurations."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, tmp_path, *args):
    out = tmp_path / "out"
    cmd = [sys.executable, os.path.join(ROOT, "examples", script), "--out", str(out), "--quiet",
           "--synthetic-train", "56", "--epochs", "1", "--batch-size", "32", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return out, done.stdout


# the linear run also starts from PyTorch's uniform weights, with a learning rate too small to
# move them, so that the model it writes shows which initialisation it got
@pytest.mark.parametrize("script, args", [("train_shallow.py", ()), ("train_hybrid.py", ()),
                                          ("train_linear.py", ("--weight-init", "uniform", "--lr", "1e-12"))])
def test_example_runs_end_to_end(tmp_path, script, args):
    out, stdout = _run(script, tmp_path, *args)
    for name in ("model.npz", "results.json", "history.json", "per_class_accuracy.txt", "accuracy.png",
                 "confusion.png", "checkpoints/epoch001_iter0000004.npz"):
        assert (out / name).exists(), f"{name} missing; stdout:\n{stdout}"
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["test_accuracy"] <= 1 and np.sum(results["test_confusion"]) == 28
    assert "test accuracy" in stdout and "per-class test accuracy" in stdout

    from fercnn.models import load
    model = load(out / "model.npz")
    assert model.mean_image.shape == (1, 48, 48) and model.class_names[6] == "neutral"
    assert (model.spec["hog"] is not None) == (script == "train_hybrid.py")
    w = model.params["out.w"]
    if args:  # uniform in +-1/sqrt(fan_in) (std 1/sqrt(3 fan_in)), not He's normal (std sqrt(2/fan_in))
        assert results["args"]["weight_init"] == "uniform"
        assert np.abs(w).max() <= 1 / np.sqrt(48 * 48) + 1e-6
        assert abs(w.std() * np.sqrt(3 * 48 * 48) - 1) < 0.05


def test_example_rejects_bad_data_path(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "examples", "train_shallow.py"), "--data", str(tmp_path / "missing")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0
    assert done.returncode == 2 and done.stderr.startswith("error: load_fer2013: path does not exist")
    assert "Traceback" not in done.stderr


def test_evaluate_picks_on_validation_and_reports_test(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for usage, n in (("Training", 42), ("PublicTest", 14), ("PrivateTest", 14)):
        for i in range(n):
            lines.append(f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}")
    csv = tmp_path / "fer2013.csv"
    csv.write_text("\n".join(lines) + "\n")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    out, _ = _run("train_shallow.py", tmp_path, "--data", str(csv), "--epochs", "2", *cache)
    cmd = [sys.executable, os.path.join(ROOT, "examples", "evaluate.py"), "--data", str(csv), *cache,
           "--bn-recalibration", "40", *sorted(str(p) for p in (out / "checkpoints").glob("epoch*.npz"))]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("validation accuracy") == 2  # the checkpoints of epochs 1 and 2
    assert "best on validation: " in done.stdout and "per-class test accuracy" in done.stdout
    bad = subprocess.run(cmd[:-2] + [str(tmp_path / "nope.npz")], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: load: no such file") and "Traceback" not in bad.stderr
    (tmp_path / "cut.npz").write_bytes((out / "model.npz").read_bytes()[:5000])
    cut = subprocess.run(cmd[:-2] + [str(tmp_path / "cut.npz")], capture_output=True, text=True, cwd=tmp_path)
    assert cut.returncode == 2 and cut.stderr.startswith("error: load: ") and "cut.npz is not a complete fercnn file" \
        in cut.stderr and "Traceback" not in cut.stderr


def test_example_rejects_an_unknown_weight_init(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "examples", "train_shallow.py"), "--weight-init", "xavier"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "--weight-init" in done.stderr and "'xavier'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_hybrids_learning_rate_and_reg_follow_its_preset():
    """train_hybrid.py --preset deep runs the deep recipe (lr 0.01, reg 1e-7), not the shallow one's."""
    from fercnn.cli.experiment import PAPER, parse_args

    deep = parse_args("shallow", True, ["--preset", "deep"])
    assert (deep.lr, deep.reg) == (PAPER["deep"]["lr"], PAPER["deep"]["reg"]) == (1e-2, 1e-7)
    shallow = parse_args("shallow", True, [])
    assert (shallow.lr, shallow.reg) == (1e-3, 1e-6)
    given = parse_args("shallow", True, ["--preset", "deep", "--lr", "0.05", "--reg", "0"])
    assert (given.lr, given.reg) == (0.05, 0.0)


def test_training_with_augmentation_a_schedule_and_label_smoothing_resumes(tmp_path):
    """The accuracy options end to end through the training command: recorded in the results
    and the model, and a finished run resumed with them is recognised as the same run."""
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "fercnn.cli", "train", "linear", "--synthetic-train", "70", "--epochs", "2",
            "--batch-size", "16", "--out", str(out), "--quiet", "--augment-flip", "--augment-shift", "2",
            "--augment-rotate", "5", "--augment-erase", "0.3", "--lr-schedule", "plateau", "--plateau-patience", "0",
            "--label-smoothing", "0.1", "--nesterov"]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["args"]["augment_shift"] == 2 and results["args"]["lr_schedule"] == "plateau"
    assert results["args"]["lr_decay"] == 1.0  # the schedule replaces the per-epoch decay
    from fercnn.models import load

    model = load(str(out / "model.npz"))
    assert model.label_smoothing == 0.1 and model.augmentation["shift"] == 2 and model.augmentation["flip"]
    again = subprocess.run(argv + ["--resume"], capture_output=True, text=True)
    assert again.returncode == 0 and "the run had already finished (2 of 2 epochs)" in again.stdout, again.stderr
    other = subprocess.run(argv[:-1] + ["--resume"], capture_output=True, text=True)  # without --nesterov
    assert other.returncode == 2 and "optim_config.nesterov" in other.stderr


def test_nesterov_needs_momentum(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fercnn.cli", "train", "linear", "--synthetic-train", "70",
                           "--epochs", "1", "--out", str(tmp_path / "r"), "--update-rule", "adam", "--nesterov"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == ("error: --nesterov is a form of momentum: it needs --update-rule "
                                                    "sgd_momentum, got adam")
