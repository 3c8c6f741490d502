"""Input validation shared by the public layer functions.

Every check raises ``ValueError`` naming the function, the argument, what was
expected and what was given. Nothing is broadcast or cast silently.
"""
import numbers

import numpy as np


def check_float_array(op, name, a, *, ndim=None, min_ndim=None):
    """``a`` must be an array of a floating dtype with the given number of dims."""
    if not hasattr(a, "dtype") or not hasattr(a, "ndim"):
        raise ValueError(f"{op}: {name} must be an array, got {type(a).__name__}")
    if a.dtype.kind != "f":
        raise ValueError(f"{op}: {name} must have a floating dtype (float32 or float64), got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got {a.ndim}-D with shape {tuple(a.shape)}")
    if min_ndim is not None and a.ndim < min_ndim:
        raise ValueError(f"{op}: {name} must have at least {min_ndim} dims, got shape {tuple(a.shape)}")


def check_same_dtype(op, **arrays):
    """All named arrays must share one dtype (no silent float64 promotion)."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name}={dt}" for name, dt in dtypes.items())
        raise ValueError(f"{op}: all arrays must share one dtype, got {listed}")


def check_shape(op, name, a, expected):
    """``a.shape`` must equal ``expected`` exactly."""
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{op}: {name} must have shape {tuple(expected)}, got {tuple(a.shape)}")


def check_positive_int(op, name, value, *, minimum=1):
    """``value`` must be an int >= ``minimum`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{op}: {name} must be an integer >= {minimum}, got {value!r}")


def check_probability(op, name, p):
    """A drop probability must be a real number in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (0.0 <= p < 1.0):
        raise ValueError(f"{op}: {name} must be in [0, 1), got {p!r}")


def check_labels(op, y, n, num_classes):
    """``y`` must be an integer array of shape (n,) with values in [0, num_classes)."""
    if not hasattr(y, "dtype") or not hasattr(y, "shape"):
        raise ValueError(f"{op}: y must be an integer array, got {type(y).__name__}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{op}: y must hold integer class labels, got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{op}: y must be 1-D of shape (N,), got shape {tuple(y.shape)}")
    if y.shape[0] != n:
        raise ValueError(f"{op}: scores has N={n} rows but y has {y.shape[0]} labels")
    if n > 0:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{op}: labels must be in [0, {num_classes}), got {bad}")


def check_bool(op, name, value):
    """Flags such as ``training`` must be real bools, not truthy strings."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{op}: {name} must be True or False, got {value!r}")


def check_window_output_size(op, H, W, HH, WW, stride, pad):
    """H_out = (H + 2 * pad - HH) / stride + 1, likewise W_out, for a sliding window
    (a conv kernel, or a pooling window with pad 0). Both must be whole and >= 1."""
    check_positive_int(op, "stride", stride)
    check_positive_int(op, "pad", pad, minimum=0)
    sizes = []
    for name, n, k in (("height", H, HH), ("width", W, WW)):
        span = n + 2 * pad - k
        if span < 0 or span % stride:
            raise ValueError(
                f"{op}: {name} {n} with window {k}, pad {pad}, stride {stride} does not give a whole, "
                f"positive output size: (n + 2*pad - k) / stride + 1 = {span / stride + 1:g}"
            )
        sizes.append(span // stride + 1)
    return tuple(sizes)


def check_conv_args(op, x, w, b, stride, pad):
    """Convolution's arguments: x (N, C, H, W), w (F, C, HH, WW), b (F,), one float dtype,
    whole output sizes. Returns (H_out, W_out)."""
    check_float_array(op, "x", x, ndim=4)
    check_float_array(op, "w", w, ndim=4)
    check_float_array(op, "b", b, ndim=1)
    check_same_dtype(op, x=x, w=w, b=b)
    C, F = x.shape[1], w.shape[0]
    if w.shape[1] != C:
        raise ValueError(f"{op}: x has {C} channels but the filters w expect {w.shape[1]}")
    check_shape(op, "b", b, (F,))
    return check_window_output_size(op, x.shape[2], x.shape[3], w.shape[2], w.shape[3], stride, pad)


def check_dropout_args(op, x, p, training):
    """Dropout's arguments: a float array, p in [0, 1), a real bool."""
    check_float_array(op, "x", x)
    check_probability(op, "p", p)
    check_bool(op, "training", training)


def check_batchnorm_args(op, x, gamma, beta, state, training, momentum, eps):
    """Batchnorm's arguments for x (N, C, ...): gamma and beta (C,) of x's dtype, a state dict,
    momentum in [0, 1], eps > 0, and at least 2 values per feature when training."""
    C = x.shape[1]
    check_float_array(op, "gamma", gamma, ndim=1)
    check_float_array(op, "beta", beta, ndim=1)
    check_shape(op, "gamma", gamma, (C,))
    check_shape(op, "beta", beta, (C,))
    check_same_dtype(op, x=x, gamma=gamma, beta=beta)
    check_bool(op, "training", training)
    if not isinstance(state, dict):
        raise ValueError(f"{op}: state must be a dict for the running statistics, got {type(state).__name__}")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"{op}: momentum must be in [0, 1], got {momentum!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or eps <= 0:
        raise ValueError(f"{op}: eps must be a positive number, got {eps!r}")
    m = x.size // C
    if training and m < 2:
        raise ValueError(f"{op}: training needs at least 2 values per feature to form statistics, got {m}")
