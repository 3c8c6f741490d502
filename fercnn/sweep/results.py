"""What a sweep leaves beside its trials' run folders: the table (table.txt, trials.json), the
best trial's model (best_model.npz) and the figures (val_acc_vs_parameters.png,
val_acc_vs_<key>.png for each swept key, curves.png). All of it is read from the run
folders, which are the sweep's record: a table written after --resume holds every trial."""
import json
import os

from fercnn.fileio import atomic_write, write_json, write_text
from fercnn.sweep.plots import plot_curves, plot_vs_parameters, plot_vs_value
from fercnn.sweep.spec import grid_size, swept

STATUS = {
    "done": "ran all its epochs",
    "stopped": "stopped early by the scheduler",
    "diverged": "its loss became NaN or infinite",
    "unfinished": "the search was stopped before the trial ended; --resume continues it",
    "error": "failed (see its log.txt and Ray Tune's error.txt)",
}


class Sweep:
    """The outcome of fercnn.sweep.run: ``rows`` (one dict per trial), ``best`` (the row of the
    best validation accuracy, or None), ``complete`` (every trial ended), ``out``, ``table``."""

    def __init__(self, out, rows, best, complete, table):
        self.out, self.rows, self.best, self.complete, self.table = out, rows, best, complete, table

    def __repr__(self):
        return f"Sweep({self.out!r}: {len(self.rows)} trials, best {self.best and self.best['trial']})"


def _read(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def mark_stopped(folder, by):
    """Note in a trial's results.json that the scheduler stopped it (``by``: "asha after epoch 2")."""
    path = os.path.join(folder, "results.json")
    results = _read(path)
    if results is not None and not results.get("finished"):
        results["stopped_by"] = by
        write_json(path, results, indent=1)


def collect(out, *, errors=()):
    """One row per trial folder in out/trials, in trial order."""
    rows = []
    folder = os.path.join(out, "trials")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        trial = _read(os.path.join(folder, name, "trial.json"))
        if trial is None:
            continue
        res = _read(os.path.join(folder, name, "results.json")) or {}
        if res.get("diverged"):
            status = "diverged"
        elif res.get("finished"):
            status = "done"
        elif res.get("stopped_by"):
            status = "stopped"
        elif name in errors:
            status = "error"
        else:
            status = "unfinished"
        history = _read(os.path.join(folder, name, "history.json")) or {}
        rows.append({"trial": name, "network": trial["network"], "swept": trial["swept"],
                     "parameters": trial["parameters"], "epochs_run": res.get("epochs_run", 0),
                     "epochs": trial["config"]["recipe"]["epochs"], "best_val_acc": res.get("val_accuracy"),
                     "test_acc": res.get("test_accuracy"), "seconds": res.get("train_seconds"), "status": status,
                     "val_acc": history.get("val_acc", [])})
    return rows


def _text(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def table(rows, keys, *, seconds=True):
    """The table as text: trial, network in a few words, each swept value, parameters, epochs
    run, best validation accuracy, training seconds (seconds=False leaves them out: they
    differ between two runs of the same search), status."""
    head = ["trial", "network"] + list(keys) + ["parameters", "epochs", "best val"] + \
        (["seconds"] if seconds else []) + ["status"]
    lines = []
    for r in rows:
        cells = [r["trial"], r["network"]] + [_text(r["swept"].get(k)) for k in keys] + \
            [f"{r['parameters']:,}", f"{r['epochs_run']}/{r['epochs']}",
             "-" if r["best_val_acc"] is None else f"{r['best_val_acc']:.4f}"]
        if seconds:
            cells.append("-" if r["seconds"] is None else f"{r['seconds']:.1f}")
        lines.append(cells + [r["status"]])
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(c) for c in lines])


def best_row(rows):
    scored = [r for r in rows if r["best_val_acc"] is not None]
    return max(scored, key=lambda r: r["best_val_acc"]) if scored else None  # the first of equals


def finish(spec, out, grid, *, say=print):
    """After Tuner.fit: write the table, copy the best model, draw the figures; returns a
    Sweep. The search is complete when every trial it makes has ended (done, stopped,
    diverged or failed); one that was interrupted (Ctrl-C) has trials unfinished or not
    yet made."""
    errors = {os.path.basename(os.path.normpath(r.path)): str(r.error) for r in grid if r.error is not None}
    rows = collect(out, errors=errors)
    ended = [r for r in rows if r["status"] != "unfinished"]
    complete = len(ended) >= grid_size(spec)
    return write_outputs(spec, out, rows, complete=complete, say=say)


def write_outputs(spec, out, rows, *, complete=True, say=print):
    keys = [k for _, k, _ in swept(spec)]
    text = table(rows, keys)
    best = best_row(rows)
    notes = []
    if best is not None:
        with open(os.path.join(out, "trials", best["trial"], "model.npz"), "rb") as src, \
                atomic_write(os.path.join(out, "best_model.npz")) as dst:
            dst.write(src.read())
        test = "" if best["test_acc"] is None else f", test {best['test_acc']:.4f}"
        notes.append(f"best: {best['trial']} (validation {best['best_val_acc']:.4f}{test}), {best['network']}; "
                     f"its model is {os.path.join(out, 'best_model.npz')}")
    statuses = sorted({r["status"] for r in rows} - {"done"})
    notes += [f"{s}: {STATUS[s]}" for s in statuses]
    if not complete:
        notes.append("the search did not end: continue it with --resume")
    write_text(os.path.join(out, "table.txt"), text + "\n\n" + "\n".join(notes) + "\n")
    write_json(os.path.join(out, "trials.json"), rows, indent=1)
    plot_vs_parameters(rows, os.path.join(out, "val_acc_vs_parameters.png"))
    for key in keys:
        plot_vs_value(rows, key, os.path.join(out, f"val_acc_vs_{key}.png"))
    plot_curves(rows, os.path.join(out, "curves.png"))
    say(text)
    for n in notes:
        say(n)
    say(f"wrote {out}/: table.txt, trials.json, best_model.npz, val_acc_vs_*.png, curves.png; "
        f"the trials' run folders are in {os.path.join(out, 'trials')}/")
    return Sweep(out, rows, best, complete, text)
