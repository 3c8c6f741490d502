"""Fill docs/REPRODUCTION.md's tables and figures from the FER2013 run folders.

    python reproduction/report.py --runs ~/fercnn-runs

Reads, for each of the three recipe runs (shallow_fer2013, deep_fer2013, hybrid_fer2013
under --runs), its results.json when it has finished, else the history its checkpoints
keep (a run still going: its validation curve so far, no test figures).

The hybrid recipe run may also be in hybrid_shallow_fer2013, the training command's
default name for it. Improvements on the recipe are runs of their own, in folders named
``<network>_<tag>_fer2013`` (e.g. ``shallow_nodecay_fer2013``, trained with
``--lr-decay 1``). Each gets its own row under the recipe rows, labelled once it has
finished with the options in which its results.json differs from the finished recipe
run's (or, before that one finishes, from the training command's defaults); they never
replace a recipe row. Writes:

- docs/reproduction/curves.png: validation accuracy per epoch beside the PyTorch reference;
- docs/reproduction/confusion_<run>.png: the normalised test confusion matrix of each
  finished recipe run;
- the blocks of docs/REPRODUCTION.md between ``<!-- begin:NAME -->`` and
  ``<!-- end:NAME -->`` markers (the prose around them is written by hand), and the
  results block of README.md.

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
EXTRA = re.compile(r"^(shallow|deep|hybrid)_(.+)_fer2013$")
# options that say where and how a run was kept, or that act only on data other than FER2013
BOOKKEEPING = {"data", "out", "resume", "checkpoint_every", "quiet", "time_limit", "cache_dir", "detect_faces",
               "min_face", "val_fraction", "test_fraction", "synthetic_train"}
# where each recipe run may be: <network>_fer2013, or the name the training command gives by
# default (runs/hybrid_shallow_fer2013 for the hybrid)
RECIPE_FOLDERS = {"shallow": ("shallow_fer2013",), "deep": ("deep_fer2013",),
                  "hybrid": ("hybrid_fer2013", "hybrid_shallow_fer2013")}
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


def read_runs(folder):
    """({network: run} of the recipe runs, [(network, tag, run)] of the improvements) under folder."""
    runs = {}
    for name in RUNS:
        for run in (read_run(os.path.join(folder, entry)) for entry in RECIPE_FOLDERS[name]):
            if run is not None:
                runs[name] = run
                break
    recipe_folders = {entry for entries in RECIPE_FOLDERS.values() for entry in entries}
    extras = []
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
        m = EXTRA.match(entry)
        if (m and entry not in recipe_folders and os.path.isdir(os.path.join(folder, entry))
                and (run := read_run(os.path.join(folder, entry)))):
            extras.append((m.group(1), m.group(2), run))
    return runs, extras


def run_options(results):
    """A finished run's training options from its results.json: "args" without the
    bookkeeping, and the run's real length (args has epochs None where the last command,
    a resume, kept the run's own)."""
    options = {k: v for k, v in results["args"].items() if k not in BOOKKEEPING}
    options["epochs"] = results["epochs"]
    return options


def recipe_options(network, recipe_run=None):
    """The recipe's options: the finished recipe run's own, else the training command's
    defaults (35 epochs on FER2013)."""
    if recipe_run is not None and recipe_run["finished"]:
        return run_options(recipe_run["results"])
    from fercnn.cli.experiment import build_parser

    hog = network == "hybrid"
    defaults = vars(build_parser("shallow" if hog else network, hog).parse_args([]))
    return {**{k: v for k, v in defaults.items() if k not in BOOKKEEPING}, "epochs": 35}


def recipe_changes(options, recipe):
    """What a run's options change from the recipe's, as command-line options: e.g.
    "--conv-dropout 0.25, --lr-decay 1"."""
    changed = [f"--{key.replace('_', '-')}" + ("" if value is True else f" {value:g}" if isinstance(value, float)
                                                 else f" {value}")
               for key, value in sorted(options.items()) if recipe.get(key) != value]
    return ", ".join(changed) or "the recipe's options"


def extra_label(network, tag, run, recipe_run=None):
    if run["finished"]:
        how = recipe_changes(run_options(run["results"]), recipe_options(network, recipe_run))
    else:
        how = f"'{tag}', unfinished"
    return f"{network}: {how} (improvement, chosen on validation)"


def pct(x):
    return "" if x is None else f"{100 * x:.1f}"


def cell(pair):
    return " / ".join("–" if v is None else f"{v:.1f}" for v in pair)


def figures(run, epochs=None):
    """(fercnn's cell, status) of one run for the results table; epochs: the length it is
    meant to have, where known."""
    if run is None:
        return "–", "not started"
    if run["finished"]:
        r = run["results"]
        return (f"**{pct(r['val_accuracy'])} / {pct(r['test_accuracy'])}**",
                f"{r['epochs_run']} of {r['epochs']} epochs, best epoch {r['best_epoch']}")
    h = run["history"]
    if not h["val_acc"]:  # no epoch finished yet: no validation figure at all
        return "–", "unfinished: no epoch done yet"
    done = f"{h['epochs_run']} of {epochs}" if epochs else str(h["epochs_run"])
    return (f"{pct(h['best_val_acc'])} / –",
            f"unfinished: {done} epochs done (validation so far, best epoch {h['best_epoch']})")


def results_table(runs, reference, extras=()):
    rows = ["| network | paper (val / test) | seed report | PyTorch reference | fercnn | fercnn status |",
            "|---|---|---|---|---|---|"]
    for name in RUNS:
        ref = reference.get(REFERENCE_RUN[name]) if REFERENCE_RUN[name] else None
        ref_cell = cell((100 * ref["val"], 100 * ref["test"])) if ref else "–"
        ours, status = figures(runs.get(name), 35)
        rows.append(f"| {name} | {cell(PAPER[name])} | {cell(SEED[name])} | {ref_cell} | {ours} | {status} |")
    for network, tag, run in extras:
        ours, status = figures(run)
        rows.append(f"| {extra_label(network, tag, run, runs.get(network))} | | | | {ours} | {status} |")
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


def runs_table(runs, extras=()):
    rows = ["| run | epochs | training time | resumed | resumed at (epoch, iteration) |", "|---|---|---|---|---|"]
    named = [(name, runs[name]) for name in RUNS if name in runs]
    for name, run in named + [(f"{network}_{tag}", run) for network, tag, run in extras]:
        h = run["history"]
        at = ", ".join(f"({r['epoch']}, {r['iteration']})" for r in h["resumes"]) or "–"
        rows.append(f"| {name} | {h['epochs_run']}{'' if run['finished'] else ' (unfinished)'} | "
                    f"{h['train_seconds'] / 3600:.1f} h | {len(h['resumes'])} times | {at} |")
    return "\n".join(rows)


def plot_curves(runs, reference, path, extras=()):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fercnn.plots import save_figure

    fig = Figure(figsize=(12, 3.8))
    FigureCanvasAgg(fig)
    for ax, name in zip(fig.subplots(1, 3, sharey=True), RUNS):
        run = runs.get(name)
        if run is not None and run["history"]["val_acc"]:
            h = run["history"]
            epochs = np.arange(1, len(h["val_acc"]) + 1)
            ax.plot(epochs, 100 * np.array(h["train_acc"]), "o-", ms=3, label="fercnn train (1,000 drawn)")
            ax.plot(epochs, 100 * np.array(h["val_acc"]), "o-", ms=3, label="fercnn validation")
        for network, tag, extra in extras:
            if network == name and extra["history"]["val_acc"]:
                curve = extra["history"]["val_acc"]
                ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), ".:", label=f"validation, {tag}")
        if name == "hybrid" and runs.get("shallow") and runs["shallow"]["history"]["val_acc"]:
            curve = runs["shallow"]["history"]["val_acc"]  # the hybrid's target: within 1 point of shallow
            ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), ":", color="gray",
                    label="fercnn shallow validation")
        if REFERENCE_RUN[name]:
            curve = reference[REFERENCE_RUN[name]]["val_curve"]
            ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), "k--", lw=1, label="PyTorch validation")
        ax.set(title=name, xlabel="epoch", xlim=(0, 36))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8, loc="lower right")
        if run is None or not run["history"]["val_acc"]:
            ax.text(18, 50, "not run yet" if run is None else "no epoch done yet", ha="center", color="gray")
    fig.axes[0].set_ylabel("accuracy (%)")
    fig.tight_layout()
    save_figure(fig, path)


def fill(doc, blocks, where="docs/REPRODUCTION.md"):
    """``doc`` with the text between each block's begin/end markers replaced."""
    for name, text in blocks.items():
        pattern = re.compile(rf"(<!-- begin:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
        if not pattern.search(doc):
            raise ValueError(f"report: {where} has no <!-- begin:{name} --> ... <!-- end:{name} --> block")
        doc = pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), doc)
    return doc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default=os.path.expanduser("~/fercnn-runs"), help="folder holding <network>_fer2013/")
    p.add_argument("--reference", default=os.path.join(ROOT, "..", "shared", "reference", "pytorch_fer2013_runs.json"))
    p.add_argument("--doc", default=os.path.join(ROOT, "docs", "REPRODUCTION.md"))
    p.add_argument("--readme", default=os.path.join(ROOT, "README.md"), help="its results block gets the same table")
    args = p.parse_args(argv)
    with open(args.reference) as f:
        reference = json.load(f)
    runs, extras = read_runs(args.runs)
    if not runs and not extras:
        raise SystemExit(f"report: no run folders (<network>_fer2013) in {args.runs}")
    blocks = {"results": results_table(runs, reference, extras),
              "per-class": per_class_table(runs.get("deep"), reference), "runs": runs_table(runs, extras)}
    # both documents filled before anything is written: a missing block changes no file
    with open(args.doc) as f:
        doc = fill(f.read(), blocks, args.doc)
    with open(args.readme) as f:
        readme = fill(f.read(), {"results": blocks["results"]}, args.readme)
    figures_dir = os.path.join(os.path.dirname(args.doc), "reproduction")
    plot_curves(runs, reference, os.path.join(figures_dir, "curves.png"), extras)
    from fercnn.plots import plot_confusion

    for name, run in runs.items():
        if run["finished"]:
            plot_confusion(np.array(run["results"]["test_confusion"]), list(CLASS_NAMES),
                           os.path.join(figures_dir, f"confusion_{name}.png"), title=f"{name}: test (PrivateTest)")
    write_text(args.doc, doc)
    write_text(args.readme, readme)
    for text in blocks.values():
        print(text + "\n")
    print(f"wrote {args.doc}, the results block of {args.readme} and {figures_dir}/")


if __name__ == "__main__":
    main()
