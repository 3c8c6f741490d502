"""Models of common mistakes: for a registry case (fercnn.exercises.diagnose.Context), what
an op with one thing done wrong returns, and the sentence that names the mistake.

MODELS maps (registry function, result name) to models; each is context -> (result, sentence),
or (None, '') where it does not apply to the case. fercnn.exercises.diagnose.explain tries
them on a wrong result before any pattern.
"""
import numpy as np

import fercnn.layers as layers


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
