"""reproduction/sweep_table.py: a sweep folder kept as JSON, and REPRODUCTION.md's table of it."""
import json
import os

import pytest

from reproduction.sweep_table import keep_sweep, sweep_table


def _write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)


def _sweep_folder(root):
    spec = {"data": {"source": "fer2013", "path": "/private/faces", "cache_dir": "/private/cache", "train": 600,
                     "val": 150, "test": 150, "seed": 0},
            "network": {"preset": "deep"}, "recipe": {"batch_size": 128, "flip_double": True, "epochs": 4},
            "search": {"cpus_per_trial": 1}, "early_stopping": {"scheduler": "asha"}}
    _write(os.path.join(root, "spec.json"), spec)
    rows = []
    for k, (val, epochs, status) in enumerate([(0.41, 1, "stopped"), (0.52, 4, "done")]):
        name = f"trial_00{k}"
        rows.append({"trial": name, "network": f"conv 64p x{k + 2}", "swept": {"conv_blocks": k + 2, "lr": 0.01},
                     "parameters": 1000 * (k + 1), "epochs_run": epochs, "epochs": 4, "best_val_acc": val,
                     "test_acc": val - 0.01, "seconds": 30.0 * epochs, "status": status, "val_acc": [val] * epochs})
        _write(os.path.join(root, "trials", name, "trial.json"), {"trial": name})
        _write(os.path.join(root, "trials", name, "results.json"), {})
        _write(os.path.join(root, "trials", name, "node.json"),
               {"starts": [{"hostname": "node-a", "threads": {"numba": 1}}]})
    _write(os.path.join(root, "trials.json"), rows)
    with open(os.path.join(root, "curves.png"), "wb") as f:
        f.write(b"not really a png")


def test_a_sweep_folder_is_kept_without_its_paths_and_tabled_best_first(tmp_path):
    _sweep_folder(tmp_path / "sweep")
    (tmp_path / "figures").mkdir()
    summary = keep_sweep(str(tmp_path / "sweep"), str(tmp_path / "kept.json"), str(tmp_path / "figures"))
    kept = json.loads((tmp_path / "kept.json").read_text())
    assert kept == json.loads(json.dumps(summary))
    assert kept["data"]["path"] is None and kept["data"]["cache_dir"] is None  # no machine's paths in the repo
    assert "/private" not in (tmp_path / "kept.json").read_text()
    assert (tmp_path / "figures" / "sweep_fer2013_curves.png").read_bytes() == b"not really a png"
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["sweep_fer2013_curves.png"]  # no temporaries
    table = sweep_table(kept)
    rows = [line for line in table.splitlines() if line.startswith("| trial_")]
    assert [r.split(" | ")[0] for r in rows] == ["| trial_001", "| trial_000"]  # best validation first
    assert "| 4/4 | 52.0 | 51.0 | 30 | done |" in rows[0]
    assert "| 1/4 | 41.0 | 40.0 | 30 | stopped |" in rows[1]
    assert "2 trials, 5 trial-epochs of 10 steps (the full search without early stopping: 8)" in table
    assert "on 1 machine," in table


def test_a_folder_that_is_not_a_sweep_is_one_message(tmp_path):
    with pytest.raises(SystemExit, match=r"has no trials.json: is it a finished fercnn sweep folder\?"):
        keep_sweep(str(tmp_path), str(tmp_path / "kept.json"), str(tmp_path))
    assert not (tmp_path / "kept.json").exists()


def test_no_sweep_kept_says_so():
    assert "No search of the family on FER2013 has been kept yet" in sweep_table(None)
