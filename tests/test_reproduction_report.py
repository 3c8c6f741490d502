"""reproduction/report.py: run folders to docs/REPRODUCTION.md's tables."""
import importlib.util
import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("report", os.path.join(ROOT, "reproduction", "report.py"))
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)

REFERENCE = {
    "shallow_sgdm_lr1e-3_reg1e-6": {"val": 0.561, "test": 0.570, "val_curve": [0.4, 0.5],
                                    "per_class_test": {}},
    "deep_sgdm_lr1e-2_reg1e-7": {"val": 0.643, "test": 0.650, "val_curve": [0.43, 0.49],
                                 "per_class_test": {n: 0.5 for n in report.CLASS_NAMES}},
}


def _history(epochs, resumes=()):
    return {"loss": [1.0] * 10, "train_acc": [0.5] * epochs, "val_acc": [0.4 + 0.01 * e for e in range(epochs)],
            "epoch_iterations": list(range(1, epochs + 1)), "best_val_acc": 0.4 + 0.01 * (epochs - 1),
            "best_epoch": epochs, "epochs_run": epochs, "stopped_early": False, "train_seconds": 7200.0,
            "resumes": [{"epoch": e, "iteration": 100 * e} for e in resumes]}


def _runs(tmp_path):
    """A finished deep run and a shallow one still going."""
    deep = tmp_path / "deep_fer2013"
    deep.mkdir()
    cm = np.diag([10, 2, 5, 20, 8, 9, 11]) + 1
    (deep / "results.json").write_text(json.dumps({
        "epochs": 35, "epochs_run": 35, "best_epoch": 30, "val_accuracy": 0.641, "test_accuracy": 0.6523,
        "test_confusion": cm.tolist(), "resumes": [{}], "train_seconds": 1.0}))
    (deep / "history.json").write_text(json.dumps(_history(35, resumes=(3,))))
    (tmp_path / "shallow_fer2013" / "checkpoints").mkdir(parents=True)
    (tmp_path / "shallow_fer2013" / "checkpoints" / "history.json").write_text(json.dumps(_history(4)))
    return cm


def test_tables_from_finished_and_running_runs(tmp_path):
    cm = _runs(tmp_path)
    runs = {n: r for n in report.RUNS if (r := report.read_run(str(tmp_path / f"{n}_fer2013")))}
    assert set(runs) == {"deep", "shallow"} and runs["deep"]["finished"] and not runs["shallow"]["finished"]
    table = report.results_table(runs, REFERENCE).splitlines()
    assert table[2].startswith("| shallow | 55.0 / 54.0 | 53.0 / 52.9 | 56.1 / 57.0 | 43.0 / – | running: 4 of 35")
    assert table[3].startswith("| deep | 65.0 / 64.0 | 60.2 / 62.8 | 64.3 / 65.0 | **64.1 / 65.2** | 35 of 35")
    assert table[4].startswith("| hybrid |") and "not started" in table[4]
    per_class = report.per_class_table(runs["deep"], REFERENCE).splitlines()
    disgust = per_class[3].split(" | ")
    assert disgust[0] == "| disgust" and disgust[1] == "70" and disgust[3] == f"{100 * 3 / cm[1].sum():.1f}"
    assert report.runs_table(runs).splitlines()[2] == "| shallow | 4 (running) | 2.0 h | 0 times | – |"


def test_fill_replaces_only_the_marked_blocks():
    doc = "intro\n<!-- begin:a -->\nold\n<!-- end:a -->\nmiddle\n<!-- begin:b -->\n<!-- end:b -->\nend\n"
    assert report.fill(doc, {"a": "new", "b": "x\ny"}) == (
        "intro\n<!-- begin:a -->\nnew\n<!-- end:a -->\nmiddle\n<!-- begin:b -->\nx\ny\n<!-- end:b -->\nend\n")
    with pytest.raises(ValueError, match="has no <!-- begin:c --> ... <!-- end:c --> block"):
        report.fill(doc, {"c": "z"})


def test_the_document_has_every_block(tmp_path):
    with open(os.path.join(ROOT, "docs", "REPRODUCTION.md")) as f:
        doc = f.read()
    filled = report.fill(doc, {"results": "R", "per-class": "P", "runs": "U"})
    assert filled.count("\nR\n") == filled.count("\nP\n") == filled.count("\nU\n") == 1
