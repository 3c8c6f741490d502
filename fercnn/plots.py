"""Figures of a training run: accuracy over iterations and the normalised confusion matrix.

Uses matplotlib's object API (no pyplot), so it works without a display.
"""
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fercnn.fileio import atomic_write


def save_figure(fig, path, *, dpi=100):
    """Write ``fig`` to ``path`` atomically, in the format its extension names (.png, .pdf, ...)."""
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    with atomic_write(path) as f:
        fig.savefig(f, format=fmt, dpi=dpi)


def plot_history(history, path):
    """Training loss and train/validation accuracy against iterations, saved to ``path``."""
    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], lw=0.6)
    ax1.set(xlabel="iteration", ylabel="training loss", title="loss")
    its = history["epoch_iterations"]
    ax2.plot(its, history["train_acc"], "o-", label="train")
    ax2.plot(its, history["val_acc"], "o-", label="validation")
    ax2.set(xlabel="iteration", ylabel="accuracy", title="accuracy")
    ax2.legend()
    fig.tight_layout()
    save_figure(fig, path)


def plot_confusion(cm, class_names, path, *, title="normalised confusion matrix"):
    """Row-normalised confusion matrix (true class per row), values printed in each cell."""
    totals = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
    fig = Figure(figsize=(6, 5.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    for i in ticks:
        for j in ticks:
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black",
                    fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    save_figure(fig, path)
