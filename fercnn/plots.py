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


def plot_emotions_over_time(rows, class_names, path, *, title="", max_faces=4):
    """Each class's probability against time, one panel per face (the ``max_faces`` seen in
    most frames): ``rows`` as fercnn.video.analyze_video returns them."""
    counts = {}
    for r in rows:
        counts[r["face"]] = counts.get(r["face"], 0) + 1
    faces = sorted(counts, key=lambda f: (-counts[f], f))[:max_faces] or [None]
    fig = Figure(figsize=(9, 2.4 * len(faces) + 0.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(faces), 1, squeeze=False)[:, 0]
    for ax, face in zip(axes, faces):
        mine = [r for r in rows if r["face"] == face]
        for name in class_names:
            ax.plot([r["time"] for r in mine], [r["emotions"][name] for r in mine], marker=".", label=name)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(f"face {face}" if face is not None else "no face found")
        ax.grid(alpha=0.3)
    axes[0].set_title(title)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    save_figure(fig, path)


def draw_faces(image, faces, labels=None):
    """A PIL RGB image of ``image`` (an array as read_image gives it) with each face's box
    and label drawn (default label: its top emotion and that probability)."""
    from PIL import Image, ImageDraw

    a = np.asarray(image)
    if a.dtype != np.uint8:  # 16-bit or float grayscale, scaled to 0..255 by read_image
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    im = Image.fromarray(a).convert("RGB")
    pen = ImageDraw.Draw(im)
    thick = max(2, round(min(im.size) / 200))
    for k, face in enumerate(faces):
        x, y, w, h = face["box"]
        label = labels[k] if labels is not None else f"{face['top']} {face['emotions'][face['top']]:.2f}"
        pen.rectangle([x, y, x + w - 1, y + h - 1], outline=(255, 40, 40), width=thick)
        tx, ty = x, max(0, y - 12 - thick)
        pen.rectangle(pen.textbbox((tx, ty), label), fill=(255, 40, 40))
        pen.text((tx, ty), label, fill=(255, 255, 255))
    return im
