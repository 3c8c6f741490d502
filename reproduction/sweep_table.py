"""The search of the paper's family on FER2013 in docs/REPRODUCTION.md, from its summary.

    python reproduction/report.py --sweep ~/fercnn-runs/sweep_fer2013 --write

reads a finished ``fercnn sweep examples/sweep_fer2013.toml`` folder and keeps what the
page needs in reproduction/sweep_fer2013.json (committed: the sweep's folder lives outside
the repository). The block ``sweep-fer2013`` of REPRODUCTION.md is written from that file
only, so that ``report.py --check`` holds on a fresh clone.
"""
import json
import os
from datetime import datetime

from fercnn.fileio import atomic_write, write_json
from fercnn.sweep.spec import grid_size

# the sweep's figures, copied beside the page
FIGURES = {"curves.png": "sweep_fer2013_curves.png", "val_acc_vs_parameters.png": "sweep_fer2013_parameters.png"}


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_sweep(folder):
    """The summary of a finished sweep folder: its data and recipe, each trial's row
    (trials.json) with the nodes it ran on, and the wall time from the first trial's start
    (node.json) to the last trial's results.json (its modification time: keep a folder before
    copying it elsewhere). A search stopped before its end is refused: --resume it first."""
    trials_json = os.path.join(folder, "trials.json")
    if not os.path.isfile(trials_json):
        raise SystemExit(f"report: {folder} has no trials.json: is it a finished fercnn sweep folder?")
    spec = _read(os.path.join(folder, "spec.json"))
    rows = _read(trials_json)
    planned = grid_size(spec)
    unfinished = [r["trial"] for r in rows if r["status"] == "unfinished"]
    if unfinished or len(rows) < planned:
        raise SystemExit(f"report: the search in {folder} has not ended: expected {planned} ended trials, got "
                         f"{len(rows) - len(unfinished)} (continue it with fercnn sweep SPEC --out {folder} --resume)")
    starts, ends = [], []
    for row in rows:
        trial = os.path.join(folder, "trials", row["trial"])
        node = _read(os.path.join(trial, "node.json"))
        row["hosts"] = sorted({s["hostname"] for s in node["starts"]})
        row["threads"] = sorted({s["threads"]["numba"] for s in node["starts"]})
        starts += [datetime.fromisoformat(s["time"]).timestamp() for s in node["starts"]]
        ends.append(os.path.getmtime(os.path.join(trial, "results.json")))
    return {"about": "The search of examples/sweep_fer2013.toml, kept by reproduction/report.py --sweep DIR --write "
                     "from the sweep's trials.json, spec.json and the trials' node.json.",
            "data": spec["data"] | {"path": None, "cache_dir": None}, "search": spec["search"],
            "early_stopping": spec["early_stopping"], "recipe": spec["recipe"], "network": spec["network"],
            "wall_seconds": round(max(ends) - min(starts)), "trials": rows}


def keep_sweep(summary, folder, summary_path, figures_dir):
    """Write the summary of a sweep folder (read_sweep's) and copy its figures."""
    write_json(summary_path, summary, indent=1)
    for name, target in FIGURES.items():
        src = os.path.join(folder, name)
        if os.path.exists(src):
            with open(src, "rb") as f, atomic_write(os.path.join(figures_dir, target)) as out:
                out.write(f.read())


def _pct(x):
    return "–" if x is None else f"{100 * x:.1f}"


def sweep_table(summary):
    """The table of the trials, best validation accuracy first (a column per swept value), and
    one line on the search."""
    if summary is None:
        return "No search of the family on FER2013 has been kept yet (reproduction/sweep_fer2013.json)."
    rows = sorted(summary["trials"], key=lambda r: -(r["best_val_acc"] or 0))
    keys = list(rows[0]["swept"]) if rows else []
    d, recipe, search = summary["data"], summary["recipe"], summary["search"]
    images = 2 * d["train"] if recipe["flip_double"] else d["train"]
    steps = -(-images // recipe["batch_size"])
    lines = ["| " + " | ".join(["trial", "network", *keys, "parameters", "epochs", "validation", "test", "s / epoch",
                               "status"]) + " |", "|---" * (len(keys) + 8) + "|"]
    for r in rows:
        network = r["network"].replace("|", "\\|")  # the conv part | the FC part, inside a table cell
        per_epoch = "–" if not r["seconds"] or not r["epochs_run"] else f"{r['seconds'] / r['epochs_run']:.0f}"
        swept = [_value(r["swept"].get(k)) for k in keys]
        lines.append("| " + " | ".join([r["trial"], network, *swept, f"{r['parameters']:,}",
                                        f"{r['epochs_run']}/{r['epochs']}", _pct(r["best_val_acc"]),
                                        _pct(r["test_acc"]), per_epoch, r["status"]]) + " |")
    epochs = sum(r["epochs_run"] for r in rows)
    hosts = len({h for r in rows for h in r["hosts"]})
    wall = summary["wall_seconds"]
    lines += ["", f"{len(rows)} trials, {epochs} trial-epochs of {steps} steps (the full search without early "
                  f"stopping: {sum(r['epochs'] for r in rows)}); {d['train']:,} Training faces"
                  f"{' (flip-doubled)' if recipe['flip_double'] else ''}, {d['val']:,} PublicTest, "
                  f"{d['test']:,} PrivateTest; wall time {wall / 3600:.2f} h on {hosts} "
                  f"machine{'s' if hosts > 1 else ''}, {search['cpus_per_trial']} CPU and "
                  f"{search['threads_per_trial']} thread{'s' if search['threads_per_trial'] > 1 else ''} a trial."]
    return "\n".join(lines)


def _value(v):
    return f"{v:.4f}" if isinstance(v, float) else str(v)
