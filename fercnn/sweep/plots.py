"""A sweep's figures: best validation accuracy against parameter count and against each swept
value, and every trial's validation accuracy per epoch. Rows are those of fercnn.sweep.results."""
import numbers

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fercnn.plots import save_figure


def _figure():
    fig = Figure(figsize=(6.5, 4.5))
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _scored(rows):
    return [r for r in rows if r["best_val_acc"] is not None]


def _label_points(ax, xs, ys, rows):
    for x, y, r in zip(xs, ys, rows):
        ax.annotate(r["trial"].split("_")[-1], (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)


def plot_vs_parameters(rows, path):
    """Best validation accuracy of each trial against its network's parameter count (log scale)."""
    fig, ax = _figure()
    rows = _scored(rows)
    xs, ys = [r["parameters"] for r in rows], [r["best_val_acc"] for r in rows]
    ax.scatter(xs, ys, c=["C3" if r["status"] == "stopped" else "C0" for r in rows])
    _label_points(ax, xs, ys, rows)
    if xs and min(xs) > 0:
        ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="best validation accuracy",
           title="validation accuracy against network size (red: stopped early)")
    fig.tight_layout()
    save_figure(fig, path)


def _numeric(values):
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)


def plot_vs_value(rows, key, path):
    """Best validation accuracy against one swept value: a scatter for numbers (log x when they
    span two decades), one column per value otherwise (bools, names, lists)."""
    fig, ax = _figure()
    rows = _scored(rows)
    values = [r["swept"][key] for r in rows]
    ys = [r["best_val_acc"] for r in rows]
    if _numeric(values):
        xs = [float(v) for v in values]
        if xs and min(xs) > 0 and max(xs) / min(xs) >= 100:
            ax.set_xscale("log")
        elif all(isinstance(v, numbers.Integral) for v in values) and len(set(values)) <= 12:
            ax.set_xticks(sorted(set(xs)), [str(v) for v in sorted(set(values))])
    else:
        names = sorted({str(v) for v in values})
        xs = [names.index(str(v)) for v in values]
        ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 4 else 0)
    ax.scatter(xs, ys, c=["C3" if r["status"] == "stopped" else "C0" for r in rows])
    _label_points(ax, xs, ys, rows)
    ax.set(xlabel=key, ylabel="best validation accuracy",
           title=f"validation accuracy against {key} (red: stopped early)")
    fig.tight_layout()
    save_figure(fig, path)


def plot_curves(rows, path):
    """Validation accuracy after every epoch, one line per trial."""
    fig, ax = _figure()
    for r in rows:
        if r["val_acc"]:
            ax.plot(np.arange(1, len(r["val_acc"]) + 1), r["val_acc"], "o-", ms=3, lw=1,
                    label=r["trial"] + (" (stopped)" if r["status"] == "stopped" else ""))
    if 0 < len(rows) <= 16:
        ax.legend(fontsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel="validation accuracy", title="every trial's validation accuracy")
    fig.tight_layout()
    save_figure(fig, path)
