"""Batch normalisation for (N, D) and (N, C, H, W) inputs, as Numba kernels (readable and
derived: fercnn.layers.batchnorm).

Both public forms share one implementation (the kernels in _bn_kernels.py, which see x as
(N, C, L)): statistics are taken over every axis but the feature axis, i.e. over N for
(N, D) and over N, H, W for (N, C, H, W) ("spatial" batchnorm), so spatial BN equals BN on
the (N*H*W, C) reshape without the transpose.
"""

import numpy as np

from fercnn.argcheck import check_batchnorm_args, check_float_array, check_shape
from fercnn.fast import _bn_kernels as kernels
from fercnn.fast._numpy_only import require_numpy

_NO_MASK = np.zeros((0, 0, 0), np.uint8)  # backward's mask argument when there is no dropout/ReLU to fold in


def batchnorm_forward(x, gamma, beta, state, *, training, momentum=0.9, eps=1e-5):
    """Normalise each of D features by batch (training) or running (eval) statistics.

    x: (N, D), gamma: (D,), beta: (D,) -> out: (N, D), out = gamma * x_hat + beta with
    x_hat = (x - mean) / sqrt(var + eps).
    state: dict holding running_mean / running_var (D,); created as 0 / 1 on first use,
    updated in place while training as running = momentum * running + (1 - momentum) * batch
    (var is the biased batch variance), read when not training.
    """
    check_float_array("batchnorm_forward", "x", x, ndim=2)
    return _forward("batchnorm_forward", x, gamma, beta, state, training, momentum, eps)


def batchnorm_backward(dout, cache):
    """dout: (N, D) -> dx: (N, D), dgamma: (D,), dbeta: (D,)."""
    return _backward("batchnorm_backward", dout, cache)


def spatial_batchnorm_forward(x, gamma, beta, state, *, training, momentum=0.9, eps=1e-5):
    """Batchnorm with per-channel statistics over N, H and W.

    x: (N, C, H, W), gamma: (C,), beta: (C,) -> out: (N, C, H, W). state as in
    batchnorm_forward, with running statistics of shape (C,).
    """
    check_float_array("spatial_batchnorm_forward", "x", x, ndim=4)
    return _forward("spatial_batchnorm_forward", x, gamma, beta, state, training, momentum, eps)


def spatial_batchnorm_backward(dout, cache):
    """dout: (N, C, H, W) -> dx: (N, C, H, W), dgamma: (C,), dbeta: (C,)."""
    return _backward("spatial_batchnorm_backward", dout, cache)


def _forward(op, x, gamma, beta, state, training, momentum, eps):
    x3, mean, inv_std = statistics(op, x, gamma, beta, state, training, momentum, eps)
    out = kernels.normalize(x3, mean, inv_std, gamma, beta)
    # the cache keeps x itself (not a copy) and a copy of the statistics used, since the
    # running ones change in place
    return out.reshape(x.shape), (x3, mean.copy(), inv_std, gamma, training, x.shape)


def check_statistics_args(op, x, gamma, beta, state, training, momentum, eps):
    """The checks statistics() makes, for a caller that must make them before its own work."""
    check_batchnorm_args(op, x, gamma, beta, state, training, momentum, eps)
    require_numpy(op, x, gamma, beta)


def statistics(op, x, gamma, beta, state, training, momentum, eps):
    """Check batchnorm's arguments; return x as (N, C, L), the mean and 1 / std to use.

    Training: the batch's statistics, and the running ones in ``state`` are updated.
    Eval: the running statistics. Shared by batchnorm and the fused op in fused.py.
    """
    check_statistics_args(op, x, gamma, beta, state, training, momentum, eps)
    C = x.shape[1]
    dt = x.dtype.type
    if "running_mean" not in state:
        state["running_mean"] = np.zeros(C, dtype=x.dtype)
        state["running_var"] = np.ones(C, dtype=x.dtype)
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], C, -1)  # (N, C, L): L = H * W, or 1 for (N, D)
    if training:
        mean, var = kernels.batch_stats(x3)
        rm, rv = state["running_mean"], state["running_var"]
        rm *= dt(momentum)
        rm += dt(1 - momentum) * mean
        rv *= dt(momentum)
        rv += dt(1 - momentum) * var
    else:
        mean, var = state["running_mean"], state["running_var"]
    inv_std = (dt(1) / np.sqrt(var + dt(eps))).astype(x.dtype, copy=False)
    return x3, mean, inv_std


def _backward(op, dout, cache):
    x3, mean, inv_std, gamma, training, shape = cache
    check_float_array(op, "dout", dout)
    check_shape(op, "dout", dout, shape)
    require_numpy(op, dout)
    # dbeta = sum(dout), dgamma = sum(dout * x_hat) over every axis but the feature axis.
    # In eval mode out is an elementwise affine map of x: dx = gamma / std * dout.
    # In training mean and var depend on every x in the batch, so dx has three terms:
    # the direct path through x_hat, the path through the mean (removes the average of
    # dout) and the path through the variance (removes dout's projection on x_hat).
    # With m values per feature: dx = gamma/std * (dout - dbeta/m - x_hat * dgamma/m).
    dout3 = np.ascontiguousarray(dout).reshape(x3.shape)
    dx, dgamma, dbeta = kernels.backward(dout3, x3, mean, inv_std, gamma, training, _NO_MASK, 1.0)
    return dx.reshape(shape), dgamma, dbeta
