"""What a wrong output looks like: the common mistakes, recognised on purpose.

structure(): what a result must be before its numbers mean anything (an array of the input's
dtype and the right shape, finite). explain(): the result against the right one, tried
against models of common mistakes (fercnn's readable op with one thing done wrong: a flipped
kernel, a missing bias, the unbiased variance, ...), then against patterns (a constant
factor such as N, a transpose, zeros, an error confined to the padded border). Each returns
the sentence the grader prints after the relative error; docs/exercises.md lists them.
"""
from dataclasses import dataclass
from typing import Any

import numpy as np

import fercnn.layers as layers

NAMED, PATTERN = 2, 1  # how sure a diagnosis is: a mistake model matched, or only a pattern


@dataclass
class Context:
    """op: the registry Op; what: "out", "dx", "running_var", ...; inputs, settings: the
    case (float64); dtype: the dtype it ran in; dout: the upstream gradient (backward);
    side: "forward" or "backward"; models: try the mistake models (they need a registry case)."""
    op: Any
    what: str
    inputs: list
    settings: dict
    dtype: Any
    dout: Any
    side: str
    models: bool = True


def close(a, b, tol=1e-6):
    """a and b equal up to tol of b's largest magnitude (shapes must match)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not np.isfinite(a).all():
        return False
    return bool(np.max(np.abs(a - b), initial=0.0) <= tol * max(1e-12, float(np.max(np.abs(b), initial=0.0))))


def structure(what, got, want, context):
    """'' when got is an array of want's shape in the input's dtype; otherwise what is wrong."""
    if got is None:
        if what == "db":
            return f"db is None: the bias gradient is missing ({_db_rule(context)})"
        return f"{what} is None"
    if not hasattr(got, "shape") and not np.isscalar(got):
        return f"{what} is a {type(got).__name__}, expected an array"
    got_a = np.asarray(got)
    if got_a.shape != want.shape:
        if got_a.ndim == 2 and got_a.shape == want.shape[::-1]:
            return (f"{what} has shape {got_a.shape}, expected {want.shape}: it is transposed"
                    + (" (x.T @ dout, not dout.T @ x)" if what == "dw" else ""))
        return f"{what} has shape {got_a.shape}, expected {want.shape}" + _shape_hint(what, got_a.shape, context)
    if got_a.dtype.kind != "f":
        return f"{what} has dtype {got_a.dtype}, expected {np.dtype(context.dtype).name}"
    if got_a.dtype != np.dtype(context.dtype):
        return (f"{what} is {got_a.dtype} for {np.dtype(context.dtype).name} inputs: a constant or buffer of "
                f"another dtype (create arrays with dtype=x.dtype, scalars as x.dtype.type(...))")
    if not np.isfinite(got_a).all() and np.isfinite(want).all():
        if context.op.function == "softmax_loss":
            return (f"{what} is not finite: exp() overflows on large scores; subtract each row's max "
                    f"before exponentiating")
        return f"{what} holds inf or nan"
    return ""


def _db_rule(context):
    return "db sums dout over N, H_out and W_out" if context.op.function == "conv" else "db sums dout over the batch"


def _shape_hint(what, shape, context):
    s = context.settings
    if context.op.function == "conv" and what == "out" and len(shape) == 4:
        x, w = context.inputs[0], context.inputs[1]
        H, HH = x.shape[2], w.shape[2]
        if s.get("pad") and shape[2] == (H - HH) // s["stride"] + 1:
            return ": the output size of pad 0 (the zero padding is missing)"
        if s.get("stride", 1) > 1 and shape[2] == H + 2 * s["pad"] - HH + 1:
            return ": the output size of stride 1 (the stride is ignored)"
    if what == "dx" and context.settings.get("pad") == 0 and len(shape) == 4 and 0 in shape:
        return ": empty when pad = 0 (x_pad[:, :, pad:-pad] is x_pad[:, :, 0:0]; slice pad:pad + H)"
    return ""


def explain(what, got, want, context):
    """(sentence, strength) for a wrong result of the right shape and dtype; ('', 0) if nothing
    is recognised."""
    for model in MODELS.get((context.op.function, what), ()) if context.models else ():
        try:
            alternative, sentence = model(context)
        except Exception:  # a model that does not apply to this case (shapes, settings)
            continue
        if alternative is not None and np.shape(alternative) == np.shape(got) and close(got, alternative, 1e-5):
            return sentence, NAMED
    return _patterns(what, np.asarray(got, np.float64), np.asarray(want, np.float64), context)


def _factors(context):
    """Named factors a result is commonly off by, for this op."""
    x = context.inputs[0]
    N = x.shape[0] if np.ndim(x) else 1
    factors = {"N": N}
    if context.op.function == "spatial_batchnorm":
        factors = {"N*H*W": N * x.shape[2] * x.shape[3], "N": N, "H*W": x.shape[2] * x.shape[3]}
    p = context.settings.get("p")
    if p:
        factors.update({"1 / (1 - p)": 1 / (1 - p), "1 - p": 1 - p})
    return factors


def _patterns(what, got, want, context):
    if not np.any(want):
        return "", 0
    if not np.any(got):
        if what == "db":
            return f"db is all zeros: the bias gets no gradient ({_db_rule(context)})", NAMED
        return f"{what} is all zeros", PATTERN
    c = float(np.vdot(got, want) / np.vdot(want, want))
    if close(got, c * want, 1e-6):
        if abs(c + 1) < 1e-6:
            return f"{what} has the wrong sign", NAMED
        for name, f in _factors(context).items():
            if f != 1 and abs(c - f) < 1e-6 * f:
                return f"{what} off by a factor of {name} ({name} times the right value)", NAMED
            if f != 1 and abs(c - 1 / f) < 1e-6 / f:
                return (f"{what} off by a factor of {name} (1/{name} of the right value"
                        + ("; sum over the batch, do not average)" if what in ("dgamma", "dbeta", "dw", "db")
                           else ")"), NAMED)
        return f"{what} is {c:.3g} times the right value", PATTERN
    if got.ndim == 2 and got.shape == got.shape[::-1] and close(got, want.T):
        return f"{what} is transposed", NAMED
    if got.ndim == 4 and close(got, want.transpose(0, 1, 3, 2)):
        return f"{what} is transposed in its last two axes (kernel rows and columns swapped)", NAMED
    if got.ndim == 4 and close(got, want[:, :, ::-1, ::-1]):
        return f"{what} is flipped (kernel rows and columns reversed)", NAMED
    if context.op.function == "conv" and what == "dx" and context.settings.get("pad") and context.models:
        border = padded_border(context)
        off = ~np.isclose(got, want, rtol=1e-6, atol=1e-9 * float(np.abs(want).max()))
        if off.any() and (~border).any() and not (off & ~border).any():
            return ("dx wrong only at the padded border (the pixels the windows reaching into the zero "
                    "padding cover): those windows' gradients are missing or misplaced"), NAMED
    return "", 0


def padded_border(context):
    """Boolean mask (x's shape) of the pixels some window overlapping the zero padding covers."""
    x, w = context.inputs[0], context.inputs[1]
    stride, pad = context.settings["stride"], context.settings["pad"]
    HH, WW = w.shape[2:]
    inside = np.ones((1, 1) + x.shape[2:])
    cols = layers.conv.im2col(inside, HH, WW, stride, pad)  # 0 where a window pixel is padding
    touches = (cols.min(axis=0) == 0).astype(np.float64)    # per window: does it reach the padding
    covered = layers.conv.col2im(np.broadcast_to(touches, cols.shape).copy(), inside.shape, HH, WW, stride, pad)
    return np.broadcast_to(covered[0, 0] > 0, x.shape)


# ---- models of common mistakes: context -> (what the mistaken op returns, the sentence) ----

def _conv_flipped(c):
    x, w, b = c.inputs
    out, _ = layers.conv_forward(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, stride=c.settings["stride"],
                                 pad=c.settings["pad"])
    return out, "out is a true convolution (the kernel flipped): fercnn, like every DL library, computes " \
                "the cross-correlation sum(x_pad[window] * w[f])"


def _conv_no_bias(c):
    x, w, b = c.inputs
    return layers.conv_forward(x, w, np.zeros_like(b), stride=c.settings["stride"], pad=c.settings["pad"])[0], \
        "out is missing the bias b"


def _affine_no_bias(c):
    x, w, b = c.inputs
    return x.reshape(x.shape[0], -1) @ w, "out is missing the bias b"


def _pool_average(c):
    x = c.inputs[0]
    s, k = c.settings["stride"], c.settings["size"]
    H_out, W_out = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    windows = [x[:, :, i:i + s * H_out:s, j:j + s * W_out:s] for i in range(k) for j in range(k)]
    return np.mean(windows, axis=0), "out averages each window: max-pooling takes its largest value"


def _pool_spread(c):
    x = c.inputs[0]
    s, k = c.settings["stride"], c.settings["size"]
    H_out, W_out = c.dout.shape[2:]
    dx = np.zeros_like(x)
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + s * H_out:s, j:j + s * W_out:s] += c.dout
    return dx, "dx sends dout to every pixel of the window: it goes to the window's max only"


def _relu_gate_dout(c):
    return c.dout * (c.dout > 0), "dx is gated by dout > 0: gate it by x > 0 (the forward's input)"


def _relu_no_gate(c):
    return c.dout, "dx passes the gradient where x < 0 too: gate it by x > 0"


def _bn_axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _bn_per(x, v):
    return v if x.ndim == 2 else v[None, :, None, None]


def _bn_stats(c):
    x, gamma, beta = c.inputs
    axes = _bn_axes(x)
    return x, gamma, beta, axes, x.mean(axis=axes), x.var(axis=axes)


def _bn_out(x, gamma, beta, mean, var, eps=1e-5, sqrt_first=False):
    std = np.sqrt(_bn_per(x, var)) + eps if sqrt_first else np.sqrt(_bn_per(x, var) + eps)
    return _bn_per(x, gamma) * (x - _bn_per(x, mean)) / std + _bn_per(x, beta)


def _bn_unbiased_normalisation(c):
    x, gamma, beta, axes, mean, var = _bn_stats(c)
    m = x.size // x.shape[1]
    if not c.settings["training"]:
        return None, ""
    return _bn_out(x, gamma, beta, mean, var * m / (m - 1)), \
        "normalises with the unbiased variance (ddof=1): batchnorm divides by m, not m - 1"


def _bn_eps_outside(c):
    x, gamma, beta, axes, mean, var = _bn_stats(c)
    if not c.settings["training"]:
        mean, var = c.settings["state"]["running_mean"], c.settings["state"]["running_var"]
    return _bn_out(x, gamma, beta, mean, var, sqrt_first=True), "eps is added outside the square root: " \
                                                                 "use sqrt(var + eps)"


def _bn_eval_uses_batch(c):
    if c.settings["training"]:
        return None, ""
    x, gamma, beta, axes, mean, var = _bn_stats(c)
    return _bn_out(x, gamma, beta, mean, var), \
        "evaluation (training=False) uses the batch's mean and variance: use running_mean and running_var"


def _bn_train_uses_running(c):
    if not c.settings["training"]:
        return None, ""
    x, gamma, beta = c.inputs
    s = c.settings["state"]
    return _bn_out(x, gamma, beta, s["running_mean"], s["running_var"]), \
        "training normalises with the running statistics: training uses the batch's mean and variance"


def _bn_per_pixel(c):
    x, gamma, beta = c.inputs
    if x.ndim != 4 or not c.settings["training"]:
        return None, ""
    mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)
    return gamma[None, :, None, None] * (x - mean) / np.sqrt(var + 1e-5) + beta[None, :, None, None], \
        "statistics per channel and pixel, over N only: spatial batchnorm takes them per channel over N, H and W"


def _bn_running(c, *, var_scale=1.0, swap=False):
    x, gamma, beta, axes, mean, var = _bn_stats(c)
    if not c.settings["training"]:
        return None
    mom = c.settings.get("momentum", 0.9)
    keep, new = (1 - mom, mom) if swap else (mom, 1 - mom)
    s = c.settings["state"]
    return {"running_mean": keep * s["running_mean"] + new * mean,
            "running_var": keep * s["running_var"] + new * var * var_scale}[c.what]


def _bn_running_unbiased(c):
    x = c.inputs[0]
    m = x.size // x.shape[1]
    return _bn_running(c, var_scale=m / (m - 1)), \
        "running_var uses the unbiased variance (ddof=1); fercnn's running_var averages the biased one"


def _bn_running_swapped(c):
    return _bn_running(c, swap=True), \
        f"{c.what} swaps momentum and 1 - momentum: running = momentum * running + (1 - momentum) * batch"


def _bn_running_not_updated(c):
    if not c.settings["training"]:
        return None, ""
    return c.settings["state"][c.what], f"{c.what} is not updated while training"


def _bn_running_updated_in_eval(c):
    if c.settings["training"]:
        return None, ""
    x, gamma, beta, axes, mean, var = _bn_stats(c)
    mom, s = c.settings.get("momentum", 0.9), c.settings["state"]
    batch = {"running_mean": mean, "running_var": var}[c.what]
    return mom * s[c.what] + (1 - mom) * batch, \
        f"evaluation (training=False) updates {c.what}: the running statistics change only in training"


def _bn_dx_parts(c, *, mean_term=True, var_term=True):
    x, gamma, beta = c.inputs
    if not c.settings["training"]:
        return None
    axes = _bn_axes(x)
    m = x.size // x.shape[1]
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv_std = 1 / np.sqrt(_bn_per(x, var) + 1e-5)
    x_hat = (x - _bn_per(x, mean)) * inv_std
    dout = c.dout
    dx = dout.copy()
    if mean_term:
        dx = dx - _bn_per(x, dout.sum(axis=axes)) / m
    if var_term:
        dx = dx - x_hat * _bn_per(x, (dout * x_hat).sum(axis=axes)) / m
    return _bn_per(x, gamma) * inv_std * dx


def _bn_dx_direct_only(c):
    return _bn_dx_parts(c, mean_term=False, var_term=False), \
        "dx = gamma / std * dout: the paths through the batch mean and variance are missing"


def _bn_dx_no_mean(c):
    return _bn_dx_parts(c, mean_term=False), "dx is missing the path through the mean (- dbeta / m)"


def _bn_dx_no_var(c):
    return _bn_dx_parts(c, var_term=False), "dx is missing the path through the variance (- x_hat * dgamma / m)"


def _bn_dx_eval_as_training(c):
    if c.settings["training"]:
        return None, ""
    x, gamma, beta = c.inputs
    axes = _bn_axes(x)
    m = x.size // x.shape[1]
    s = c.settings["state"]
    inv_std = 1 / np.sqrt(_bn_per(x, s["running_var"]) + 1e-5)
    x_hat = (x - _bn_per(x, s["running_mean"])) * inv_std
    dout = c.dout
    dx = dout - _bn_per(x, dout.sum(axis=axes)) / m - x_hat * _bn_per(x, (dout * x_hat).sum(axis=axes)) / m
    return _bn_per(x, gamma) * inv_std * dx, \
        "in evaluation dx uses the training formula: there the statistics are constants, dx = gamma / std * dout"


def _softmax_probs(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _softmax_no_onehot(c):
    scores, y = c.inputs[0], c.settings["y"]
    return c.dout * _softmax_probs(scores) / len(y), "dscores lacks the - 1 at the true class"


def _svm_counts_true_class(c):
    scores, y = c.inputs[0], c.settings["y"]
    loss, _ = layers.svm_loss(scores, y)
    return loss + 1.0, "the loss counts the true class's own margin (1 per example): sum over j != y_i only"


def _softmax_loss_sum(c):
    scores, y = c.inputs[0], c.settings["y"]
    loss, _ = layers.softmax_loss(scores, y)
    return loss * len(y), "the loss is summed over the batch: take the mean (divide by N)"


MODELS = {
    ("conv", "out"): (_conv_flipped, _conv_no_bias),
    ("affine", "out"): (_affine_no_bias,),
    ("max_pool", "out"): (_pool_average,),
    ("max_pool", "dx"): (_pool_spread,),
    ("relu", "dx"): (_relu_gate_dout, _relu_no_gate),
    ("softmax_loss", "dscores"): (_softmax_no_onehot,),
    ("softmax_loss", "loss"): (_softmax_loss_sum,),
    ("svm_loss", "loss"): (_svm_counts_true_class,),
}
for _family in ("batchnorm", "spatial_batchnorm"):
    MODELS[(_family, "out")] = (_bn_unbiased_normalisation, _bn_eps_outside, _bn_eval_uses_batch,
                                _bn_train_uses_running) + ((_bn_per_pixel,) if _family == "spatial_batchnorm" else ())
    MODELS[(_family, "running_var")] = (_bn_running_unbiased, _bn_running_swapped, _bn_running_not_updated,
                                        _bn_running_updated_in_eval)
    MODELS[(_family, "running_mean")] = (_bn_running_swapped, _bn_running_not_updated, _bn_running_updated_in_eval)
    MODELS[(_family, "dx")] = (_bn_dx_direct_only, _bn_dx_no_mean, _bn_dx_no_var, _bn_dx_eval_as_training)


def across_cases(side, outcomes):
    """(sentence, strong) when the failures of one side share a configuration the passing cases
    lack (stride 2, overlapping windows, padding, evaluation, a batch of one, float32), else
    ('', False). strong: it outranks a mistake named in one case (a wrong stride also shows
    as a border pattern in that case)."""
    failed = [o for o in outcomes if not o.ok and not o.waits and o.exc is None and o.side == side and o.tags]
    passed = [o for o in outcomes if o.ok and o.side == side and o.tags]
    if not failed or not passed:
        return "", False
    word = "forward" if side == "forward" else "backward"
    rules = [
        (lambda t: t.get("stride", 1) > 1, f"{word} does not handle stride 2 (stride 1 passes)", True),
        (lambda t: "size" in t and t.get("stride", 0) < t["size"],
         f"{word} is wrong only where windows overlap (stride < size): overlapping windows' gradients add up",
         True),
        (lambda t: t.get("pad", 0) > 0, f"{word} is wrong only with padding (pad 0 passes)", False),
        (lambda t: t.get("training") is False, f"{word} is wrong only in evaluation (training=False)", False),
        (lambda t: t.get("training") is True, f"{word} is wrong only in training", False),
        (lambda t: t.get("batch_of_one") or t.get("N") == 1, f"{word} is wrong only for a batch of one (N = 1)",
         False),
        (lambda t: t.get("dtype") == "float32", f"{word} is wrong only in float32", False),
    ]
    for applies, sentence, strong in rules:
        if all(applies(o.tags) for o in failed) and any(not applies(o.tags) for o in passed):
            return sentence, strong
    return "", False
