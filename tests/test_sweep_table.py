"""reproduction/sweep_table.py and report.py --sweep: a finished sweep folder kept as JSON,
and REPRODUCTION.md's table of it."""
import json
import os
from datetime import datetime, timezone

import pytest

from reproduction import report
from reproduction.sweep_table import keep_sweep, read_sweep, sweep_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START = datetime(2027, 1, 15, 8, tzinfo=timezone.utc).timestamp()  # the trials' start in node.json


def _write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)


def _sweep_folder(root, statuses=("stopped", "done")):
    """A sweep folder as fercnn sweep leaves it: a grid of two conv depths, one sample each."""
    spec = {"data": {"source": "fer2013", "path": "/private/faces", "cache_dir": "/private/cache", "train": 600,
                     "val": 150, "test": 150, "seed": 0},
            "network": {"preset": "deep", "conv_blocks": {"grid": [2, 3]}},
            "recipe": {"batch_size": 128, "flip_double": True, "epochs": 4},
            "search": {"samples": 1, "cpus_per_trial": 1, "threads_per_trial": 1},
            "early_stopping": {"scheduler": "asha"}}
    _write(os.path.join(root, "spec.json"), spec)
    rows = []
    for k, (val, epochs, status) in enumerate(zip((0.41, 0.52), (1, 4), statuses)):
        name = f"trial_00{k}"
        rows.append({"trial": name, "network": f"conv 64p x{k + 2} | fc 256", "swept": {"conv_blocks": k + 2},
                     "parameters": 1000 * (k + 1), "epochs_run": epochs, "epochs": 4, "best_val_acc": val,
                     "test_acc": val - 0.01, "seconds": 30.0 * epochs, "status": status, "val_acc": [val] * epochs})
        _write(os.path.join(root, "trials", name, "trial.json"), {"trial": name})
        _write(os.path.join(root, "trials", name, "results.json"), {})
        os.utime(os.path.join(root, "trials", name, "results.json"), (START + 3600, START + 3600))
        _write(os.path.join(root, "trials", name, "node.json"),
               {"starts": [{"hostname": "node-a", "time": "2027-01-15T08:00:00+00:00", "threads": {"numba": 1}}]})
    _write(os.path.join(root, "trials.json"), rows)
    with open(os.path.join(root, "curves.png"), "wb") as f:
        f.write(b"not really a png")


def test_a_sweep_folder_is_kept_without_its_paths_and_tabled_best_first(tmp_path):
    _sweep_folder(tmp_path / "sweep")
    (tmp_path / "figures").mkdir()
    summary = read_sweep(str(tmp_path / "sweep"))
    keep_sweep(summary, str(tmp_path / "sweep"), str(tmp_path / "kept.json"), str(tmp_path / "figures"))
    kept = json.loads((tmp_path / "kept.json").read_text())
    assert kept == json.loads(json.dumps(summary))
    assert kept["data"]["path"] is None and kept["data"]["cache_dir"] is None  # no machine's paths in the repo
    assert "/private" not in (tmp_path / "kept.json").read_text()
    assert (tmp_path / "figures" / "sweep_fer2013_curves.png").read_bytes() == b"not really a png"
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["sweep_fer2013_curves.png"]  # no temporaries
    assert kept["wall_seconds"] == 3600  # from the first start (node.json) to the last results.json
    table = sweep_table(kept)
    lines = table.splitlines()
    assert lines[0] == "| trial | network | conv_blocks | parameters | epochs | validation | test | s / epoch | status |"
    assert lines[1].count("|---") == 9
    rows = [line for line in lines if line.startswith("| trial_")]
    assert rows[0] == "| trial_001 | conv 64p x3 \\| fc 256 | 3 | 2,000 | 4/4 | 52.0 | 51.0 | 30 | done |"
    assert rows[1] == "| trial_000 | conv 64p x2 \\| fc 256 | 2 | 1,000 | 1/4 | 41.0 | 40.0 | 30 | stopped |"
    assert "2 trials, 5 trial-epochs of 10 steps (the full search without early stopping: 8)" in table
    assert "on 1 machine, 1 CPU and 1 thread a trial." in table


def test_a_folder_that_is_not_a_sweep_is_one_message(tmp_path):
    with pytest.raises(SystemExit, match=r"has no trials.json: is it a finished fercnn sweep folder\?"):
        read_sweep(str(tmp_path))


def test_a_search_that_has_not_ended_is_refused(tmp_path):
    _sweep_folder(tmp_path, statuses=("done", "unfinished"))
    with pytest.raises(SystemExit, match=r"has not ended: expected 2 ended trials, got 1 \(continue it with "
                                         r"fercnn sweep SPEC --out .* --resume\)"):
        read_sweep(str(tmp_path))


def test_no_sweep_kept_says_so():
    assert "No search of the family on FER2013 has been kept yet" in sweep_table(None)


def _documents(tmp_path, blocks):
    doc, readme = tmp_path / "docs" / "REPRODUCTION.md", tmp_path / "README.md"
    doc.parent.mkdir()
    doc.write_text("# report\n" + "".join(f"<!-- begin:{n} -->\nold\n<!-- end:{n} -->\n" for n in blocks))
    readme.write_text("# readme\n<!-- begin:results -->\n<!-- end:results -->\n")
    return doc, readme


def test_report_keeps_a_sweep_only_with_write_and_only_when_every_block_is_there(tmp_path, capsys):
    _sweep_folder(tmp_path / "sweep")
    summary = tmp_path / "kept.json"
    argv = ["--sweep", str(tmp_path / "sweep"), "--sweep-summary", str(summary),
            "--summary", os.path.join(ROOT, "reproduction", "runs.json")]
    doc, readme = _documents(tmp_path, ("results", "per-class", "runs", "past-the-paper", "ablation"))  # no sweep block
    with pytest.raises(ValueError, match="has no <!-- begin:sweep-fer2013 -->"):
        report.main(argv + ["--doc", str(doc), "--readme", str(readme), "--write"])
    assert not summary.exists() and not (doc.parent / "reproduction").exists()  # nothing written
    (tmp_path / "docs").rename(tmp_path / "old")
    doc, readme = _documents(tmp_path, ("results", "per-class", "runs", "past-the-paper", "sweep-fer2013", "ablation"))
    report.main(argv + ["--doc", str(doc), "--readme", str(readme)])  # printed only
    assert "| trial_001 | conv 64p x3 \\| fc 256 |" in capsys.readouterr().out and not summary.exists()
    (doc.parent / "reproduction").mkdir()
    report.main(argv + ["--doc", str(doc), "--readme", str(readme), "--write"])
    assert json.loads(summary.read_text())["trials"][0]["trial"] == "trial_000"
    assert "| trial_001 | conv 64p x3 \\| fc 256 |" in doc.read_text()
    assert (doc.parent / "reproduction" / "sweep_fer2013_curves.png").exists()
