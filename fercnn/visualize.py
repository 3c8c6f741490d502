"""What a network learned, as in the paper's visualizations: filters, activations, saliency.

    from fercnn import visualize
    visualize.filters(model, "filters.png")                 # first conv layer's filters
    visualize.activations(model, X[:1], "activations.png")  # every conv layer's feature maps
    visualize.saliency(model, X[:8], y[:8], "saliency.png") # |d score_y / d pixel|

Each returns its arrays and, given a path, also writes a PNG (atomically).
"""
import numpy as np

from fercnn.plots import save_figure


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def filters(model, path=None):
    """The first conv layer's filters as a grid image: (rows * (k + 1) - 1, cols * (k + 1) - 1)
    floats in [0, 1], each filter scaled to its own range (channels averaged when C > 1)."""
    if "conv1.w" not in model.params:
        raise ValueError("filters: the model has no conv layer")
    w = model.params["conv1.w"].astype(np.float64).mean(axis=1)  # (F, k, k)
    F, k, _ = w.shape
    cols = int(np.ceil(np.sqrt(F)))
    rows = int(np.ceil(F / cols))
    grid = np.ones((rows * (k + 1) - 1, cols * (k + 1) - 1))
    for f in range(F):
        lo, hi = w[f].min(), w[f].max()
        r, c = divmod(f, cols)
        grid[r * (k + 1):r * (k + 1) + k, c * (k + 1):c * (k + 1) + k] = (w[f] - lo) / (hi - lo) if hi > lo else 0.5
    if path is not None:
        fig = _figure(6, 6 * rows / cols)
        ax = fig.subplots()
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"conv1: {F} filters, {k}x{k}")
        save_figure(fig, path)
    return grid


def activations(model, X, path=None, *, max_maps=32):
    """Every conv block's activation (after ReLU, before pooling) for one image.

    X: (1, C, H, W) in the model's dtype, preprocessed as in training. Returns a list of
    (F, H, W) arrays, one per conv block; the PNG shows up to ``max_maps`` maps per block.
    """
    if X.ndim != 4 or X.shape[0] != 1:
        raise ValueError(f"activations: X must be one image of shape (1, C, H, W), got {tuple(X.shape)}")
    maps = [a[0] for a in model.conv_activations(X)]
    if not maps:
        raise ValueError("activations: the model has no conv layer")
    if path is not None:
        shown = [m[:max_maps] for m in maps]
        cols = max(len(m) for m in shown)
        fig = _figure(min(20, 0.6 * cols + 1), 0.8 * len(shown) + 0.5)
        axes = fig.subplots(len(shown), cols, squeeze=False)
        for row, m in enumerate(shown):
            for col in range(cols):
                ax = axes[row][col]
                ax.set_axis_off()
                if col < len(m):
                    ax.imshow(m[col], cmap="viridis", interpolation="nearest")
            axes[row][0].set_title(f"conv{row + 1}", fontsize=7, loc="left")
        save_figure(fig, path)
    return maps


def saliency(model, X, y, path=None):
    """Saliency maps (Simonyan et al., 2014): |d score_y / d x| per pixel, maximised over
    channels, in evaluation mode. X: (N, C, H, W), y: (N,) class indices -> (N, H, W)."""
    y = np.asarray(y)
    K = model.spec["num_classes"]
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= K)):
        raise ValueError(f"saliency: y must be ({X.shape[0]},) class indices in [0, {K}), got {y!r}")
    dscores = np.zeros((X.shape[0], K), model.dtype)
    dscores[np.arange(X.shape[0]), y] = 1
    maps = np.abs(model.input_gradient(X, dscores)).max(axis=1)
    if path is not None:
        names = model.class_names or [str(k) for k in range(K)]
        fig = _figure(2 * X.shape[0], 4.2)
        axes = fig.subplots(2, X.shape[0], squeeze=False)
        for i in range(X.shape[0]):
            axes[0][i].imshow(X[i].mean(axis=0), cmap="gray")
            axes[0][i].set_title(names[int(y[i])], fontsize=8)
            axes[1][i].imshow(maps[i], cmap="hot")
            axes[0][i].set_axis_off()
            axes[1][i].set_axis_off()
        save_figure(fig, path)
    return maps
