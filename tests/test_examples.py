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


@pytest.mark.parametrize("script", ["train_shallow.py", "train_hybrid.py", "train_linear.py"])
def test_example_runs_end_to_end(tmp_path, script):
    out, stdout = _run(script, tmp_path)
    for name in ("model.npz", "results.json", "history.json", "per_class_accuracy.txt", "accuracy.png",
                 "confusion.png", "checkpoints/epoch_001.npz"):
        assert (out / name).exists(), f"{name} missing; stdout:\n{stdout}"
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["test_accuracy"] <= 1 and np.sum(results["test_confusion"]) == 28
    assert "test accuracy" in stdout and "per-class test accuracy" in stdout

    from fercnn.models import load
    model = load(out / "model.npz")
    assert model.mean_image.shape == (1, 48, 48) and model.class_names[6] == "neutral"
    assert (model.spec["hog"] is not None) == (script == "train_hybrid.py")


def test_example_rejects_bad_data_path(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "examples", "train_shallow.py"), "--data", str(tmp_path / "missing")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0
    assert done.returncode == 2 and done.stderr.startswith("error: load_fer2013: path does not exist")
    assert "Traceback" not in done.stderr
