"""Fill docs/REPRODUCTION.md's tables and figures from the FER2013 run folders.

    python reproduction/report.py --runs ~/fercnn-runs

Reads, for each of the three recipe runs (shallow_fer2013, deep_fer2013, hybrid_fer2013
under --runs), its results.json when it has finished, else the history its checkpoints
keep (a run still going: its validation curve so far, no test figures). Writes:

- docs/reproduction/curves.png: validation accuracy per epoch beside the PyTorch reference;
- docs/reproduction/confusion_<run>.png: the normalised test confusion matrix of each
  finished run;
- the blocks of docs/REPRODUCTION.md between ``<!-- begin:NAME -->`` and
  ``<!-- end:NAME -->`` markers (the prose around them is written by hand).

Nothing here chooses anything on test: each run's best epoch was chosen on validation by
the Solver, and test is read from its report.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fercnn.data_utils import CLASS_NAMES  # noqa: E402
from fercnn.fileio import write_text  # noqa: E402
from fercnn.metrics import per_class_accuracy  # noqa: E402

RUNS = ("shallow", "deep", "hybrid")
PAPER = {"shallow": (55.0, 54.0), "deep": (65.0, 64.0), "hybrid": (None, None)}  # "about"; HOG "changes little"
SEED = {"shallow": (53.0, 52.9), "deep": (60.2, 62.8), "hybrid": (None, None)}
REFERENCE_RUN = {"shallow": "shallow_sgdm_lr1e-3_reg1e-6", "deep": "deep_sgdm_lr1e-2_reg1e-7", "hybrid": None}
PAPER_DEEP_PER_CLASS = {"angry": 53, "disgust": 70, "fear": 46, "happy": 80.5, "sad": 63, "surprise": 62.5,
                        "neutral": 51.5}


def read_run(folder):
    """{"finished": bool, "history": dict, "results": dict or None} of one run folder, or None."""
    results_path = os.path.join(folder, "results.json")
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
        with open(os.path.join(folder, "history.json")) as f:
            return {"finished": True, "history": json.load(f), "results": results}
    history_path = os.path.join(folder, "checkpoints", "history.json")
    if os.path.exists(history_path):
        with open(history_path) as f:
            return {"finished": False, "history": json.load(f), "results": None}
    return None


def pct(x):
    return "" if x is None else f"{100 * x:.1f}"


def cell(pair):
    return " / ".join("–" if v is None else f"{v:.1f}" for v in pair)


def results_table(runs, reference):
    rows = ["| network | paper (val / test) | seed report | PyTorch reference | fercnn | fercnn status |",
            "|---|---|---|---|---|---|"]
    for name in RUNS:
        ref = reference.get(REFERENCE_RUN[name]) if REFERENCE_RUN[name] else None
        ref_cell = cell((100 * ref["val"], 100 * ref["test"])) if ref else "–"
        run = runs.get(name)
        if run is None:
            ours, status = "–", "not started"
        elif run["finished"]:
            r = run["results"]
            ours = f"**{pct(r['val_accuracy'])} / {pct(r['test_accuracy'])}**"
            status = f"{r['epochs_run']} of {r['epochs']} epochs, best epoch {r['best_epoch']}"
        else:
            h = run["history"]
            ours = f"{pct(h['best_val_acc'])} / –"
            status = f"running: {h['epochs_run']} of 35 epochs done (validation so far, best epoch {h['best_epoch']})"
        rows.append(f"| {name} | {cell(PAPER[name])} | {cell(SEED[name])} | {ref_cell} | {ours} | {status} |")
    return "\n".join(rows)


def per_class_table(run, reference):
    ref = reference[REFERENCE_RUN["deep"]]["per_class_test"]
    cm = np.array(run["results"]["test_confusion"]) if run and run["finished"] else None
    acc = per_class_accuracy(cm) if cm is not None else None
    rows = ["| class | paper | PyTorch reference | fercnn | test images |", "|---|---|---|---|---|"]
    for k, name in enumerate(CLASS_NAMES):
        ours = f"{100 * acc[k]:.1f}" if cm is not None else "–"
        n = str(int(cm[k].sum())) if cm is not None else "–"
        rows.append(f"| {name} | {PAPER_DEEP_PER_CLASS[name]} | {100 * ref[name]:.1f} | {ours} | {n} |")
    return "\n".join(rows)


def runs_table(runs):
    rows = ["| run | epochs | training time | resumed | resumed at (epoch, iteration) |", "|---|---|---|---|---|"]
    for name in RUNS:
        run = runs.get(name)
        if run is None:
            continue
        h = run["history"]
        at = ", ".join(f"({r['epoch']}, {r['iteration']})" for r in h["resumes"]) or "–"
        rows.append(f"| {name} | {h['epochs_run']}{'' if run['finished'] else ' (running)'} | "
                    f"{h['train_seconds'] / 3600:.1f} h | {len(h['resumes'])} times | {at} |")
    return "\n".join(rows)


def plot_curves(runs, reference, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fercnn.plots import save_figure

    fig = Figure(figsize=(12, 3.8))
    FigureCanvasAgg(fig)
    for ax, name in zip(fig.subplots(1, 3, sharey=True), RUNS):
        run = runs.get(name)
        if run is not None:
            h = run["history"]
            epochs = np.arange(1, len(h["val_acc"]) + 1)
            ax.plot(epochs, 100 * np.array(h["train_acc"]), "o-", ms=3, label="fercnn train (1,000 drawn)")
            ax.plot(epochs, 100 * np.array(h["val_acc"]), "o-", ms=3, label="fercnn validation")
        if REFERENCE_RUN[name]:
            curve = reference[REFERENCE_RUN[name]]["val_curve"]
            ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), "k--", lw=1, label="PyTorch validation")
        ax.set(title=name, xlabel="epoch", xlim=(0, 36))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8, loc="lower right")
        else:
            ax.text(18, 50, "not run yet", ha="center", color="gray")
    fig.axes[0].set_ylabel("accuracy (%)")
    fig.tight_layout()
    save_figure(fig, path)


def fill(doc, blocks):
    """``doc`` with the text between each block's begin/end markers replaced."""
    for name, text in blocks.items():
        pattern = re.compile(rf"(<!-- begin:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
        if not pattern.search(doc):
            raise ValueError(f"report: docs/REPRODUCTION.md has no <!-- begin:{name} --> ... <!-- end:{name} --> block")
        doc = pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), doc)
    return doc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default=os.path.expanduser("~/fercnn-runs"), help="folder holding <network>_fer2013/")
    p.add_argument("--reference", default=os.path.join(ROOT, "..", "shared", "reference", "pytorch_fer2013_runs.json"))
    p.add_argument("--doc", default=os.path.join(ROOT, "docs", "REPRODUCTION.md"))
    args = p.parse_args(argv)
    with open(args.reference) as f:
        reference = json.load(f)
    runs = {name: run for name in RUNS if (run := read_run(os.path.join(args.runs, f"{name}_fer2013")))}
    figures = os.path.join(os.path.dirname(args.doc), "reproduction")
    plot_curves(runs, reference, os.path.join(figures, "curves.png"))
    from fercnn.plots import plot_confusion

    for name, run in runs.items():
        if run["finished"]:
            plot_confusion(np.array(run["results"]["test_confusion"]), list(CLASS_NAMES),
                           os.path.join(figures, f"confusion_{name}.png"), title=f"{name}: test (PrivateTest)")
    with open(args.doc) as f:
        doc = f.read()
    blocks = {"results": results_table(runs, reference), "per-class": per_class_table(runs.get("deep"), reference),
              "runs": runs_table(runs)}
    write_text(args.doc, fill(doc, blocks))
    for text in blocks.values():
        print(text + "\n")
    print(f"wrote {args.doc} and {figures}/")


if __name__ == "__main__":
    main()
