"""What a network learned, as in the paper's visualizations: filters, activations, saliency.

    from fercnn import visualize
    visualize.filters(model, "filters.png")                 # first conv layer's filters
    visualize.activations(model, X[:1], "activations.png")  # every conv layer's feature maps
    visualize.saliency(model, X[:8], y[:8], "saliency.png") # |d score_y / d pixel|
    visualize.smoothgrad(model, X[:8], y[:8], "smoothgrad.png", rng=np.random.default_rng(0))
                                                            # saliency averaged over noisy copies

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


def _check_labels(op, model, X, y):
    y = np.asarray(y)
    K = model.spec["num_classes"]
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= K)):
        raise ValueError(f"{op}: y must be ({X.shape[0]},) class indices in [0, {K}), got {y!r}")
    return y


def _input_gradient(model, X, y):
    """d score_y / dX for each image: X (N, C, H, W), y (N,) -> (N, C, H, W), in evaluation mode."""
    dscores = np.zeros((X.shape[0], model.spec["num_classes"]), model.dtype)
    dscores[np.arange(X.shape[0]), y] = 1
    return model.input_gradient(X, dscores)


def saliency(model, X, y, path=None):
    """Saliency maps (Simonyan et al., 2014): |d score_y / d x| per pixel, maximised over
    channels, in evaluation mode. X: (N, C, H, W), y: (N,) class indices -> (N, H, W)."""
    y = _check_labels("saliency", model, X, y)
    maps = np.abs(_input_gradient(model, X, y)).max(axis=1)
    if path is not None:
        _map_figure(model, X, y, maps, path, "saliency")
    return maps


def smoothgrad(model, X, y, path=None, *, n=50, sigma=0.1, rng, batch_size=64):
    """SmoothGrad (Smilkov et al., 2017): the saliency map averaged over ``n`` noisy copies of
    each image. X: (N, C, H, W), y: (N,) class indices -> (N, H, W).

    Each copy is the image plus Gaussian noise of standard deviation ``sigma`` times the
    image's range (its largest value minus its smallest: the paper's "noise level", for
    which it suggests 0.1 to 0.2), drawn from ``rng``, a numpy Generator. The gradient of a
    ReLU network changes abruptly from pixel to pixel and from an input to a nearby one,
    because every ReLU and every max-pool switches at its own place; averaged over nearby
    inputs that speckle evens out, and what stays is where the score depends on the image
    all around it. The paper averages the signed gradient and shows its absolute value;
    averaging the saliency maps, as here, keeps the pixels whose gradient changes sign from
    copy to copy. With sigma=0 every copy is the image itself, and the result is
    ``saliency(model, X, y)``. The copies go through the network ``batch_size`` at a time.
    """
    y = _check_labels("smoothgrad", model, X, y)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"smoothgrad: n must be a positive integer, got {n!r}")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"smoothgrad: sigma must be >= 0, got {sigma!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"smoothgrad: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"smoothgrad: batch_size must be a positive integer, got {batch_size!r}")
    N = X.shape[0]
    maps = np.zeros((N,) + tuple(X.shape[2:]), np.float64)
    for i in range(N):
        scale = model.dtype.type(sigma * float(X[i].max() - X[i].min()))
        for start in range(0, n, batch_size):
            k = min(batch_size, n - start)
            noisy = np.repeat(X[i:i + 1], k, axis=0)
            if sigma > 0:
                noisy += scale * rng.standard_normal(noisy.shape, dtype=model.dtype)
            grads = _input_gradient(model, noisy, np.full(k, y[i]))
            maps[i] += np.abs(grads).max(axis=1).sum(axis=0)
    maps = (maps / n).astype(model.dtype)
    if path is not None:
        _map_figure(model, X, y, maps, path, f"SmoothGrad, n={n}, noise {sigma:g}")
    return maps


def _map_figure(model, X, y, maps, path, what):
    """Three rows: each face with its class, its map, and the map over the face."""
    names = model.class_names or [str(k) for k in range(model.spec["num_classes"])]
    fig = _figure(1.6 * X.shape[0] + 0.4, 5.2)
    axes = fig.subplots(3, X.shape[0], squeeze=False)
    for i in range(X.shape[0]):
        face = X[i].mean(axis=0)
        top = np.percentile(maps[i], 99.5) or 1.0  # a few extreme pixels would darken the rest
        axes[0][i].imshow(face, cmap="gray")
        axes[0][i].set_title(names[int(y[i])], fontsize=8)
        axes[1][i].imshow(maps[i], cmap="hot", vmin=0, vmax=top)
        axes[2][i].imshow(face, cmap="gray")
        axes[2][i].imshow(maps[i], cmap="jet", alpha=0.45, vmin=0, vmax=top)
        for row in axes:
            row[i].set_axis_off()
    fig.suptitle(what, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.88, wspace=0.05, hspace=0.15)
    save_figure(fig, path)
