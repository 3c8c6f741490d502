"""reproduction/ship_model.py: a finished run becomes a shipped file whose figures, plain and
averaged at test time, are measured from the file itself; unfinished runs and other networks
are refused."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIP = os.path.join(ROOT, "reproduction", "ship_model.py")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny FER2013 CSV and a one-epoch deep run on it: (csv, run folder)."""
    tmp = tmp_path_factory.mktemp("ship")
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for usage, n in (("Training", 42), ("PublicTest", 14), ("PrivateTest", 14)):
        lines += [f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}" for i in range(n)]
    csv = tmp / "fer2013.csv"
    csv.write_text("\n".join(lines) + "\n")
    run = tmp / "run"
    done = subprocess.run([sys.executable, "-m", "fercnn.cli", "train", "deep", "--data", str(csv), "--epochs", "1",
                           "--batch-size", "32", "--bn-recalibration", "40", "--augment-flip", "--augment-shift", "2",
                           "--out", str(run), "--quiet", "--cache-dir", str(tmp / "cache")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return csv, run


def _ship(*args):
    return subprocess.run([sys.executable, SHIP, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_a_finished_run_ships_with_the_figures_of_the_file(finished, tmp_path):
    from fercnn.data import load_fer2013
    from fercnn.metrics import confusion_matrix
    from fercnn.models import shipped
    from fercnn.models.tta import predict_proba_tta, tta_shift

    csv, run = finished
    out = tmp_path / "deep.npz"
    done = _ship(run, "--data", csv, "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "averaged at test time: validation" in done.stdout and done.stdout.count("per-class test accuracy") == 2
    model = shipped.load_shipped(str(out))
    p = model.provenance
    assert p["args"]["augment_shift"] == 2 and p["args"]["lr"] == 0.01 and p["epochs"] == 1
    assert p["args"]["no_flip_double"] is False and "out" not in p["args"]  # every option, no paths
    assert tta_shift(model) == 1  # the averaged views include shifts: the run trained on them
    raw = load_fer2013(str(csv))
    for split in ("val", "test"):
        X = model.prepare(raw[f"X_{split}"])
        plain, averaged = model.predict(X), predict_proba_tta(model, X).argmax(axis=1)
        assert (p[f"{split}_accuracy"], p[f"{split}_accuracy_tta"]) == (np.mean(plain == raw[f"y_{split}"]),
                                                                        np.mean(averaged == raw[f"y_{split}"]))
        if split == "test":
            assert p["test_confusion"] == confusion_matrix(raw["y_test"], plain, 7).tolist()
            assert p["test_confusion_tta"] == confusion_matrix(raw["y_test"], averaged, 7).tolist()
    assert not list(tmp_path.glob(".*verifying"))  # the trial file is gone


def test_an_unfinished_run_or_another_network_is_refused(finished, tmp_path):
    csv, run = finished
    cut = tmp_path / "cut"
    cut.mkdir()
    for name in ("model.npz", "history.json"):
        (cut / name).write_bytes((run / name).read_bytes())
    results = json.loads((run / "results.json").read_text())
    (cut / "results.json").write_text(json.dumps(dict(results, epochs=3)))
    done = _ship(cut, "--data", csv, "--out", tmp_path / "x.npz")
    assert done.returncode == 1 and "ran 1 of 3 epochs; ship finished runs only" in done.stderr
    other = _ship(run, "--data", csv, "--out", tmp_path / "x.npz", "--name", "vgg")
    assert other.returncode == 1 and "the run's network is not the vgg network" in other.stderr
    (cut / "results.json").write_text(json.dumps(dict(results, args=dict(results["args"], train_limit=30))))
    part = _ship(cut, "--data", csv, "--out", tmp_path / "x.npz")
    assert part.returncode == 1 and "trained on the first 30 Training images only" in part.stderr
    assert not (tmp_path / "x.npz").exists()


def test_average_last_ships_the_average_fercnn_average_makes(finished, tmp_path):
    import shutil

    from fercnn.cli.average import main as average
    from fercnn.models import load, shipped
    from fercnn.train.checkpoint import checkpoint_name

    csv, run = finished
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    ck = copy / "checkpoints"
    for old in ck.glob("*.npz"):
        old.unlink()
    history = json.loads((ck / "history.json").read_text())
    history["epoch_iterations"] = [2, 4, 6]  # as if three epochs had ended, each checkpoint kept
    (ck / "history.json").write_text(json.dumps(history))
    model = load(str(run / "model.npz"))
    rng = np.random.default_rng(3)
    for e, it in enumerate(history["epoch_iterations"], 1):
        for w in model.params.values():
            w += rng.normal(0, 0.01, w.shape).astype(w.dtype)
        model.save(str(ck / checkpoint_name(e, it)))
    out = tmp_path / "deep.npz"
    done = _ship(copy, "--data", csv, "--out", out, "--average-last", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    shipped_model = shipped.load_shipped(str(out))
    assert shipped_model.provenance["averaged_epochs"] == [2, 3]
    assert average(["--data", str(csv), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "avg.npz"),
                    "--last-epochs", "2", str(copy)]) == 0
    by_command = shipped.rounded(load(str(tmp_path / "avg.npz")))
    for k, w in by_command.params.items():
        np.testing.assert_array_equal(shipped_model.params[k], w)
    for layer, state in by_command.bn_state.items():
        for stat, v in state.items():
            np.testing.assert_allclose(shipped_model.bn_state[layer][stat], v, rtol=1e-5, atol=1e-6)
    (ck / checkpoint_name(1, 2)).unlink()  # pruned, as a run without --keep-epochs does
    missing = _ship(copy, "--data", csv, "--out", tmp_path / "x.npz", "--average-last", "3")
    assert missing.returncode == 1 and missing.stderr.startswith("error: ship_model: --last-epochs 3: ")
    assert "lacks epoch001_iter0000002.npz" in missing.stderr and "Traceback" not in missing.stderr
