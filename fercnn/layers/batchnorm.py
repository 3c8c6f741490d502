"""Batch normalisation (Ioffe & Szegedy, 2015) for (N, D) and (N, C, H, W) inputs.

Both public forms share one implementation: statistics are taken over every axis but
the feature axis, i.e. over N for (N, D) and over N, H, W for (N, C, H, W) ("spatial"
batchnorm), so spatial BN equals BN on the (N*H*W, C) reshape without the transpose.
"""
import numbers

from fercnn.backend import get_array_module
from fercnn.layers._checks import check_bool, check_float_array, check_same_dtype, check_shape


def batchnorm_forward(x, gamma, beta, state, *, training, momentum=0.9, eps=1e-5):
    """Normalise each of D features by batch (training) or running (eval) statistics.

    x: (N, D), gamma: (D,), beta: (D,) -> out: (N, D), out = gamma * x_hat + beta with
    x_hat = (x - mean) / sqrt(var + eps).
    state: dict holding running_mean / running_var (D,); created as 0 / 1 on first use,
    updated in place while training as running = momentum * running + (1 - momentum) * batch
    (var is the biased batch variance), read when not training.
    """
    check_float_array("batchnorm_forward", "x", x, ndim=2)
    return _forward("batchnorm_forward", x, gamma, beta, state, training, momentum, eps, axes=(0,))


def batchnorm_backward(dout, cache):
    """dout: (N, D) -> dx: (N, D), dgamma: (D,), dbeta: (D,)."""
    return _backward("batchnorm_backward", dout, cache)


def spatial_batchnorm_forward(x, gamma, beta, state, *, training, momentum=0.9, eps=1e-5):
    """Batchnorm with per-channel statistics over N, H and W.

    x: (N, C, H, W), gamma: (C,), beta: (C,) -> out: (N, C, H, W). state as in
    batchnorm_forward, with running statistics of shape (C,).
    """
    check_float_array("spatial_batchnorm_forward", "x", x, ndim=4)
    return _forward("spatial_batchnorm_forward", x, gamma, beta, state, training, momentum, eps, axes=(0, 2, 3))


def spatial_batchnorm_backward(dout, cache):
    """dout: (N, C, H, W) -> dx: (N, C, H, W), dgamma: (C,), dbeta: (C,)."""
    return _backward("spatial_batchnorm_backward", dout, cache)


def _forward(op, x, gamma, beta, state, training, momentum, eps, *, axes):
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

    xp = get_array_module(x)
    dt = x.dtype.type
    if "running_mean" not in state:
        state["running_mean"] = xp.zeros(C, dtype=x.dtype)
        state["running_var"] = xp.ones(C, dtype=x.dtype)
    bshape = (1, C) + (1,) * (x.ndim - 2)

    if training:
        mean = x.mean(axis=axes)
        xc = x - mean.reshape(bshape)
        var = (xc * xc).mean(axis=axes)
        rm, rv = state["running_mean"], state["running_var"]
        rm *= dt(momentum)
        rm += dt(1 - momentum) * mean
        rv *= dt(momentum)
        rv += dt(1 - momentum) * var
    else:
        xc = x - state["running_mean"].reshape(bshape)
        var = state["running_var"]
    inv_std = (dt(1) / xp.sqrt(var + dt(eps))).astype(x.dtype, copy=False)
    x_hat = xc
    x_hat *= inv_std.reshape(bshape)
    out = x_hat * gamma.reshape(bshape)
    out += beta.reshape(bshape)
    return out, (x_hat, gamma, inv_std, axes, bshape, training)


def _backward(op, dout, cache):
    x_hat, gamma, inv_std, axes, bshape, training = cache
    check_float_array(op, "dout", dout)
    check_shape(op, "dout", dout, x_hat.shape)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    scale = (gamma * inv_std).reshape(bshape)
    if not training:
        # Running statistics are constants: out is an elementwise affine map of x.
        return dout * scale, dgamma, dbeta
    # In training mean and var depend on every x in the batch, so dx has three terms:
    # the direct path through x_hat, the path through the mean (removes the average of
    # dout) and the path through the variance (removes dout's projection on x_hat).
    # With m values per feature: dx = gamma/std * (dout - dbeta/m - x_hat * dgamma/m).
    m = dout.dtype.type(dout.size // dout.shape[1])
    dx = x_hat * (dgamma / m).reshape(bshape)
    dx += (dbeta / m).reshape(bshape)
    xp = get_array_module(dout)
    dx = xp.subtract(dout, dx, out=dx)
    dx *= scale
    return dx, dgamma, dbeta
