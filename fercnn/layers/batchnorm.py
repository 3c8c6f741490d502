"""Batch normalisation (Ioffe & Szegedy, 2015), and its spatial form for conv layers.

Forward, per feature: x_hat = (x - mean) / sqrt(var + eps), out = gamma * x_hat + beta.
Training uses the batch's mean and (biased) variance and updates the running averages in
``state``; evaluation uses the running averages, so a single image gets the same answer
in any batch.

Spatial batchnorm normalises each channel of (N, C, H, W) over N, H and W together: it is
batchnorm on the (N*H*W, C) matrix of the channel values, which is how it is written here.
"""

import numpy as np

from fercnn.argcheck import check_batchnorm_args, check_float_array, check_shape


def batchnorm_forward(x, gamma, beta, state, *, training, momentum=0.9, eps=1e-5):
    """x: (N, D), gamma: (D,), beta: (D,) -> out: (N, D).

    state: dict holding running_mean / running_var (D,); created as 0 / 1 on first use,
    updated in place while training as running = momentum * running + (1 - momentum) * batch,
    read when not training. cache holds what backward needs: x_hat, gamma, 1 / std.
    """
    check_float_array("batchnorm_forward", "x", x, ndim=2)
    return _forward("batchnorm_forward", x, gamma, beta, state, training, momentum, eps)


def _forward(op, x, gamma, beta, state, training, momentum, eps):
    check_batchnorm_args(op, x, gamma, beta, state, training, momentum, eps)
    dt = x.dtype.type
    if "running_mean" not in state:
        state["running_mean"] = np.zeros(x.shape[1], dtype=x.dtype)
        state["running_var"] = np.ones(x.shape[1], dtype=x.dtype)
    if training:
        mean, var = x.mean(axis=0), x.var(axis=0)
        state["running_mean"] *= dt(momentum)
        state["running_mean"] += dt(1 - momentum) * mean
        state["running_var"] *= dt(momentum)
        state["running_var"] += dt(1 - momentum) * var
    else:
        mean, var = state["running_mean"], state["running_var"]
    inv_std = dt(1) / np.sqrt(var + dt(eps))
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, training)


def batchnorm_backward(dout, cache):
    """dout: (N, D) -> dx: (N, D), dgamma: (D,), dbeta: (D,).

    dbeta = sum of dout and dgamma = sum of dout * x_hat, over the batch.
    In evaluation the statistics are constants and out is elementwise affine in x:
    dx = gamma / std * dout. In training the mean and variance depend on every x in the
    batch, which gives dx three terms: the direct path through x_hat, the path through the
    mean (remove the batch average of dout) and the path through the variance (remove the
    part of dout along x_hat). With m examples:
        dx = gamma / std * (dout - dbeta / m - x_hat * dgamma / m)
    """
    x_hat, gamma, inv_std, training = cache
    check_float_array("batchnorm_backward", "dout", dout, ndim=2)
    check_shape("batchnorm_backward", "dout", dout, x_hat.shape)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    if not training:
        return gamma * inv_std * dout, dgamma, dbeta
    m = dout.dtype.type(dout.shape[0])
    dx = gamma * inv_std * (dout - dbeta / m - x_hat * (dgamma / m))
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, state, *, training, momentum=0.9, eps=1e-5):
    """x: (N, C, H, W), gamma: (C,), beta: (C,) -> out: (N, C, H, W), statistics per channel.

    Moves channels last, (N, C, H, W) -> (N*H*W, C), and calls batchnorm_forward.
    """
    check_float_array("spatial_batchnorm_forward", "x", x, ndim=4)
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = _forward("spatial_batchnorm_forward", rows, gamma, beta, state, training, momentum, eps)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), (cache, x.shape)


def spatial_batchnorm_backward(dout, cache):
    """dout: (N, C, H, W) -> dx: (N, C, H, W), dgamma: (C,), dbeta: (C,)."""
    inner, shape = cache
    check_float_array("spatial_batchnorm_backward", "dout", dout, ndim=4)
    check_shape("spatial_batchnorm_backward", "dout", dout, shape)
    N, C, H, W = shape
    drows, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, C), inner)
    return drows.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
