"""Four tiny trials on the synthetic faces, on a Ray started on this machine (the local_sweep
fixture): the table, the best model, the figures, ordinary run folders that fercnn's model
loader and `fercnn evaluate` read, trials side by side with one thread each, and no Ray
process left behind."""
import json
import os

import numpy as np
import pytest

from fercnn.cli.evaluate import main as evaluate
from fercnn.models import load


def test_the_table_the_best_model_and_the_figures(local_sweep):
    out = local_sweep.out
    print(f"local sweep: {local_sweep.wall_seconds:.0f} s")
    rows = local_sweep.rows
    assert [r["trial"] for r in rows] == ["trial_000", "trial_001", "trial_002", "trial_003"]
    assert [(r["swept"]["conv_blocks"], r["swept"]["lr"]) for r in rows] == [(1, 0.003), (2, 0.003), (1, 0.01),
                                                                           (2, 0.01)]
    assert all(r["status"] == "done" and r["epochs_run"] == 3 and len(r["val_acc"]) == 3 for r in rows)
    assert rows[0]["network"] == "conv 4p 3x3 BN drop 0.1" and rows[1]["network"] == "conv 4p-8p 3x3 BN drop 0.1"
    lines = local_sweep.table.splitlines()
    assert lines[0].split() == ["trial", "network", "conv_blocks", "lr", "parameters", "epochs", "best", "val",
                                "seconds", "status"]
    assert len(lines) == 6 and lines[2].startswith("trial_000  conv 4p 3x3 BN drop 0.1")
    with open(os.path.join(out, "table.txt"), encoding="utf-8") as f:
        written = f.read()
    assert written.startswith(local_sweep.table + "\n\nbest: ")
    best = local_sweep.best
    assert best["best_val_acc"] == max(r["best_val_acc"] for r in rows)
    copied, trained = load(os.path.join(out, "best_model.npz")), load(os.path.join(out, "trials", best["trial"],
                                                                                    "model.npz"))
    assert all(np.array_equal(copied.params[k], trained.params[k]) for k in trained.params)
    for png in ("val_acc_vs_parameters.png", "val_acc_vs_conv_blocks.png", "val_acc_vs_lr.png", "curves.png"):
        with open(os.path.join(out, png), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
    with open(os.path.join(out, "trials.json"), encoding="utf-8") as f:
        assert json.load(f) == rows


def test_every_trial_is_an_ordinary_run_folder(local_sweep, tmp_path):
    for r in local_sweep.rows:
        folder = os.path.join(local_sweep.out, "trials", r["trial"])
        for name in ("model.npz", "results.json", "history.json", "trial.json", "node.json", "log.txt",
                     "accuracy.png", "confusion.png", "per_class_accuracy.txt"):
            assert os.path.isfile(os.path.join(folder, name)), (r["trial"], name)
        assert any(n.startswith("epoch003_") for n in os.listdir(os.path.join(folder, "checkpoints")))
        with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
        assert results["finished"] and results["epochs_run"] == 3 and results["val_accuracy"] == r["best_val_acc"]
        model = load(os.path.join(folder, "model.npz"))
        assert model.spec == results["spec"] and sum(p.size for p in model.params.values()) == r["parameters"]
    # fercnn evaluate scores them like any model (here on a made-up FER2013 of 14 + 9 + 7 faces)
    rng = np.random.default_rng(0)
    rows = [(i % 7, "Training") for i in range(14)] + [(i % 7, "PublicTest") for i in range(9)] + \
        [(i % 7, "PrivateTest") for i in range(7)]
    csv = tmp_path / "fer2013.csv"
    csv.write_text("\n".join(["emotion,pixels,Usage"] + [f"{e},{' '.join(map(str, rng.integers(0, 256, 2304)))},{u}"
                                                          for e, u in rows]) + "\n")
    models = [os.path.join(local_sweep.out, "trials", r["trial"], "model.npz") for r in local_sweep.rows]
    assert evaluate(["--data", str(csv), "--cache-dir", str(tmp_path / "cache"), *models]) == 0


def test_trials_ran_side_by_side_with_the_threads_set(local_sweep):
    starts = []
    for r in local_sweep.rows:
        with open(os.path.join(local_sweep.out, "trials", r["trial"], "node.json"), encoding="utf-8") as f:
            starts += json.load(f)["starts"]
    assert len(starts) == 4 and len({s["pid"] for s in starts}) == 4  # a process per trial
    for s in starts:
        assert s["threads"]["numba"] == 1 and s["threads"]["blas"] in ([1], [])
        assert s["threads"]["env"] == {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                                       "MKL_NUM_THREADS": "1"}
    # two CPUs, one per trial: the first two trials ran at the same time
    with open(os.path.join(local_sweep.out, "trials", "trial_000", "log.txt"), encoding="utf-8") as f:
        assert "threads {'numba': 1" in f.read()
    spans = []
    for name in ("trial_000", "trial_001"):
        with open(os.path.join(local_sweep.out, "tune", name, "result.json"), encoding="utf-8") as f:
            results = [json.loads(line) for line in f if line.strip()]
        spans.append((results[0]["timestamp"] - results[0]["time_total_s"], results[-1]["timestamp"]))
    assert spans[0][0] <= spans[1][1] and spans[1][0] <= spans[0][1], spans


def test_ray_is_stopped_afterwards(local_sweep):
    assert local_sweep.left_running == []
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
