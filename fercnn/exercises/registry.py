"""One registry of every op, readable (fercnn.layers) and fast (fercnn.fast).

Each entry says how to build inputs for one op in one configuration, how to call its
forward and backward, and which inputs its gradients are of. The properties every op must
have are checks that walk this list (fercnn.exercises.checks): the project's tests run them
on fercnn's own ops (tests/test_ops.py: numerical gradient, dtype kept, fast equal to
readable; tests/test_torch.py: against PyTorch), and ``fercnn exercises check`` runs the
same checks on a learner's layers.py. A new op is one entry here, and every one of those
checks covers it.

Inputs are built off kinks and ties by construction, so a gradient check cannot pass or
fail by the seed's luck: ReLU and pooling get distinct values on a grid that stays clear of
0; the fused batchnorm-ReLU puts each channel's ReLU threshold in the middle of a wide gap
between its normalised values; the SVM's scores sit on a grid whose differences stay at
least 0.01 away from its margin of 1.
"""
import itertools
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


def spread_values(rng, shape, *, gap=0.01):
    """Distinct values (i - n/2 + 1/2) * gap, shuffled: every two differ by a multiple of gap
    and none is within gap / 2 of 0 (no pooling ties, no ReLU kinks)."""
    n = int(np.prod(shape))
    return rng.permutation((np.arange(n) - n / 2 + 0.5) * gap).reshape(shape)


@dataclass(frozen=True)
class Op:
    """One op in one configuration.

    label: what test ids and failure messages call it.
    function: the op's name in fercnn.layers / fercnn.fast ("conv" for conv_forward/_backward).
    grads: the gradients backward returns, in order; gradient k is of inputs[k].
    build(rng) -> (inputs, settings): float64 input arrays (the checked ones) and the other
        arguments. settings may hold "state" (batchnorm's running statistics, copied for every
        call) and "seed" (every call gets a fresh np.random.default_rng(seed) as rng, so the
        forward is a function of the inputs).
    forward(ops, *inputs, **settings) -> (out, cache), with ops = fercnn.layers or fercnn.fast
        (or any module with their names: an exercise folder's layers.py).
    backward(ops, dout, cache) -> tuple of gradients.
    faces: the modules that have the op. A fast-only (fused) op has readable, the same
        (forward, backward) written with the readable ops of fercnn.layers one after another.
    """
    label: str
    function: str
    grads: tuple
    build: Callable
    forward: Callable
    backward: Callable
    faces: tuple = ("layers", "fast")
    readable: Optional[tuple] = None


def prepare(settings, dtype):
    """Keyword arguments for one call: running statistics copied to dtype, a fresh rng."""
    kw = dict(settings)
    if "state" in kw:
        kw["state"] = {k: np.array(v, dtype=dtype) for k, v in kw["state"].items()}
    if "seed" in kw:
        kw["rng"] = np.random.default_rng(kw.pop("seed"))
    return kw


def run_forward(op, ops, inputs, settings, dtype, *, readable=False):
    """(out, cache, state after the call) of op's forward from module ops, inputs cast to dtype."""
    forward = op.readable[0] if readable and op.readable else op.forward
    kw = prepare(settings, dtype)
    out, cache = forward(ops, *[np.asarray(a, dtype=dtype) for a in inputs], **kw)
    return out, cache, kw.get("state")


def run_backward(op, ops, dout, cache, *, readable=False):
    backward = op.readable[1] if readable and op.readable else op.backward
    grads = backward(ops, dout, cache)
    return grads if isinstance(grads, tuple) else (grads,)


def upstream(out, dtype, seed=99):
    """A random upstream gradient shaped like out (a scalar for a loss)."""
    return np.asarray(np.random.default_rng(seed).standard_normal(np.shape(out)), dtype=dtype)


# ---- input builders: random shapes from rng, values off kinks and ties ----

def _dims(rng, n, lo=2, hi=5):
    return tuple(int(v) for v in rng.integers(lo, hi + 1, size=n))


def _affine_inputs(x_ndim):
    def build(rng):
        shape = _dims(rng, x_ndim)
        D, M = int(np.prod(shape[1:])), int(rng.integers(2, 6))
        return [rng.standard_normal(shape), rng.standard_normal((D, M)), rng.standard_normal(M)], {}
    return build


def _relu_inputs(rng):
    return [spread_values(rng, _dims(rng, 3))], {}


def _conv_inputs(k, stride, pad, channels=(1, 3), outputs=(2, 4), batch=3):
    def build(rng):
        N, F = _dims(rng, 2, 1, batch)
        C = int(rng.integers(channels[0], channels[1] + 1))
        H, W = ((v - 1) * stride + k - 2 * pad for v in _dims(rng, 2, *outputs))  # whole output sizes
        return [rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, k, k)), rng.standard_normal(F)], \
            {"stride": stride, "pad": pad}
    return build


def _pool_inputs(size, stride):
    def build(rng):
        N, C = _dims(rng, 2, 1, 3)
        H, W = ((v - 1) * stride + size for v in _dims(rng, 2, 1, 3))
        return [spread_values(rng, (N, C, H, W))], {"size": size, "stride": stride}
    return build


def _bn_state(rng, C):
    return {"running_mean": rng.standard_normal(C), "running_var": rng.uniform(0.5, 2.0, C)}


def _bn_inputs(ndim, training, momentum=0.9):
    def build(rng):
        shape = _dims(rng, 4, 2, 4) if ndim == 4 else (int(rng.integers(6, 12)), int(rng.integers(2, 6)))
        C = shape[1]
        x = rng.standard_normal(shape) + 0.5
        settings = {"state": _bn_state(rng, C), "training": training, "momentum": momentum}
        return [x, rng.uniform(0.5, 1.5, C) * rng.choice([-1, 1], C), rng.standard_normal(C)], settings
    return build


def _normalised(x, settings, eps=1e-5):
    """x_hat as batchnorm computes it (batch or running statistics), by the plain formula."""
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    if settings["training"]:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    else:
        c = (slice(None),) + (None,) * (x.ndim - 2)
        mean, var = settings["state"]["running_mean"][c], settings["state"]["running_var"][c]
    return (x - mean) / np.sqrt(var + eps)


def _bn_relu_inputs(ndim, p, training):
    """x, gamma, beta where no unit's gamma * x_hat + beta is near ReLU's kink: each channel's
    beta is minus the middle of the widest gap between its gamma * x_hat values, among the
    middle half of them (so about as many units pass ReLU as are cut)."""
    def build(rng):
        shape = _dims(rng, 4, 2, 4) if ndim == 4 else (int(rng.integers(8, 14)), int(rng.integers(2, 6)))
        C = shape[1]
        per_channel = (slice(None),) + (None,) * (ndim - 2)
        x = spread_values(rng, shape, gap=4 / np.prod(shape)) + rng.standard_normal(C)[per_channel]
        settings = {"state": _bn_state(rng, C), "training": training, "seed": 5, "momentum": 0.8}
        gamma = rng.uniform(0.5, 1.5, C)
        scaled = gamma[per_channel] * _normalised(x, settings)
        beta = np.empty(C)
        for c in range(C):
            v = np.sort(scaled[:, c].reshape(-1))
            lo, hi = len(v) // 4, max(len(v) * 3 // 4, len(v) // 4 + 2)
            i = lo + int(np.argmax(np.diff(v[lo:hi])))
            beta[c] = -(v[i] + v[i + 1]) / 2
        pre = scaled + beta[per_channel]
        assert np.abs(pre).min() > 1e-3, "inputs too close to ReLU's kink"
        return [x, gamma, beta], dict(settings, p=p)
    return build


def _dropout_inputs(p, training, relu=False):
    def build(rng):
        shape = _dims(rng, 3)
        x = spread_values(rng, shape) if relu else rng.standard_normal(shape)
        return [x], {"p": p, "training": training, "seed": 7}
    return build


def _loss_inputs(svm):
    def build(rng):
        N, K = int(rng.integers(4, 10)), int(rng.integers(3, 8))
        # SVM: scores 0.03 apart, so s_j - s_y + 1 (a multiple of 0.03, plus 1) is >= 0.01 from the hinge
        scores = spread_values(rng, (N, K), gap=0.03) if svm else rng.standard_normal((N, K))
        return [scores], {"y": rng.integers(0, K, N)}
    return build


def _bn_forward(ops, x, gamma, beta, *, state, training, momentum=0.9):
    fn = ops.spatial_batchnorm_forward if x.ndim == 4 else ops.batchnorm_forward
    return fn(x, gamma, beta, state, training=training, momentum=momentum)


def _relu_dropout_readable(ops, x, *, p, training, rng):
    """ReLU, then dropout: the readable ops one after another."""
    h, c1 = ops.relu_forward(x)
    out, c2 = ops.dropout_forward(h, p, training=training, rng=rng)
    return out, (c1, c2)


def _relu_dropout_readable_backward(ops, dout, cache):
    c1, c2 = cache
    return ops.relu_backward(ops.dropout_backward(dout, c2), c1)


def _bn_relu_dropout_readable(ops, x, gamma, beta, *, state, training, momentum, p, rng):
    """Batchnorm (spatial for 4-D x), ReLU, dropout: the readable ops one after another."""
    h, c1 = _bn_forward(ops, x, gamma, beta, state=state, training=training, momentum=momentum)
    out, c2 = _relu_dropout_readable(ops, h, p=p, training=training, rng=rng)
    return out, (x.ndim, c1, c2)


def _bn_relu_dropout_readable_backward(ops, dout, cache):
    ndim, c1, c2 = cache
    bn_backward = ops.spatial_batchnorm_backward if ndim == 4 else ops.batchnorm_backward
    return bn_backward(_relu_dropout_readable_backward(ops, dout, c2), c1)


CONV_GEOMETRIES = [(1, 1, 0), (3, 1, 0), (3, 1, 1), (5, 1, 2), (3, 2, 0), (3, 2, 1), (5, 2, 2), (1, 2, 0)]
POOL_GEOMETRIES = [(2, 2), (3, 3), (3, 1), (2, 1), (3, 2), (4, 2)]  # (size, stride): stride < size overlaps


def _ops():
    bn = ("dx", "dgamma", "dbeta")
    ops = [
        Op("affine (N, D)", "affine", ("dx", "dw", "db"), _affine_inputs(2),
           lambda ops, x, w, b: ops.affine_forward(x, w, b), lambda ops, d, c: ops.affine_backward(d, c)),
        Op("affine (N, d1, d2)", "affine", ("dx", "dw", "db"), _affine_inputs(3),
           lambda ops, x, w, b: ops.affine_forward(x, w, b), lambda ops, d, c: ops.affine_backward(d, c)),
        Op("relu", "relu", ("dx",), _relu_inputs,
           lambda ops, x: ops.relu_forward(x), lambda ops, d, c: ops.relu_backward(d, c)),
    ]
    ops += [Op(f"conv {k}x{k} stride {s} pad {p}", "conv", ("dx", "dw", "db"), _conv_inputs(k, s, p),
               lambda ops, x, w, b, *, stride, pad: ops.conv_forward(x, w, b, stride=stride, pad=pad),
               lambda ops, d, c: ops.conv_backward(d, c))
            for k, s, p in CONV_GEOMETRIES]
    # 8 channels or more: fercnn.fast runs Winograd here (fercnn/fast/conv_method.py), im2col above
    ops += [Op(f"conv {k}x{k} stride 1 pad {p}, 8-10 channels", "conv", ("dx", "dw", "db"),
               _conv_inputs(k, 1, p, channels=(8, 10)),
               lambda ops, x, w, b, *, stride, pad: ops.conv_forward(x, w, b, stride=stride, pad=pad),
               lambda ops, d, c: ops.conv_backward(d, c))
            for k, p in ((3, 1), (5, 2))]
    # an image large enough to have pixels that no window reaching into the padding covers
    ops.append(Op("conv 3x3 stride 1 pad 1, a 7-9 pixel image", "conv", ("dx", "dw", "db"),
                  _conv_inputs(3, 1, 1, channels=(1, 2), outputs=(7, 9), batch=2),
                  lambda ops, x, w, b, *, stride, pad: ops.conv_forward(x, w, b, stride=stride, pad=pad),
                  lambda ops, d, c: ops.conv_backward(d, c)))
    ops += [Op(f"max-pool {size}x{size} stride {stride}", "max_pool", ("dx",), _pool_inputs(size, stride),
               lambda ops, x, *, size, stride: ops.max_pool_forward(x, size=size, stride=stride),
               lambda ops, d, c: ops.max_pool_backward(d, c))
            for size, stride in POOL_GEOMETRIES]
    for training in (True, False):
        momentum = 0.8 if training else 0.9
        ops += [
            Op(f"batchnorm training={training}", "batchnorm", bn, _bn_inputs(2, training, momentum),
               _bn_forward, lambda ops, d, c: ops.batchnorm_backward(d, c)),
            Op(f"spatial batchnorm training={training}", "spatial_batchnorm", bn, _bn_inputs(4, training, momentum),
               _bn_forward, lambda ops, d, c: ops.spatial_batchnorm_backward(d, c)),
        ]
    for p, training in ((0.3, True), (0.0, True), (0.5, False)):
        ops += [
            Op(f"dropout p={p} training={training}", "dropout", ("dx",), _dropout_inputs(p, training),
               lambda ops, x, *, p, training, rng: ops.dropout_forward(x, p, training=training, rng=rng),
               lambda ops, d, c: ops.dropout_backward(d, c)),
            Op(f"relu+dropout p={p} training={training}", "relu_dropout", ("dx",),
               _dropout_inputs(p, training, relu=True),
               lambda ops, x, *, p, training, rng: ops.relu_dropout_forward(x, p, training=training, rng=rng),
               lambda ops, d, c: ops.relu_dropout_backward(d, c), faces=("fast",),
               readable=(_relu_dropout_readable, _relu_dropout_readable_backward)),
        ]
    for ndim, (p, training) in itertools.product((2, 4), ((0.3, True), (0.0, True), (0.5, False))):
        ops.append(Op(
            f"batchnorm+relu+dropout {ndim}-D p={p} training={training}", "batchnorm_relu_dropout", bn,
            _bn_relu_inputs(ndim, p, training),
            lambda ops, x, g, b, *, state, training, momentum, p, rng: ops.batchnorm_relu_dropout_forward(
                x, g, b, state, p, training=training, rng=rng, momentum=momentum),
            lambda ops, d, c: ops.batchnorm_relu_dropout_backward(d, c), faces=("fast",),
            readable=(_bn_relu_dropout_readable, _bn_relu_dropout_readable_backward)))
    # a loss's "out" is the loss and its "cache" dscores: the gradient of loss * dout is dout * dscores
    ops += [
        Op("softmax loss", "softmax_loss", ("dscores",), _loss_inputs(svm=False),
           lambda ops, s, *, y: ops.softmax_loss(s, y), lambda ops, d, c: (d * c,)),
        Op("svm loss", "svm_loss", ("dscores",), _loss_inputs(svm=True),
           lambda ops, s, *, y: ops.svm_loss(s, y), lambda ops, d, c: (d * c,)),
    ]
    return ops


OPS = _ops()
FUNCTIONS = sorted({op.function for op in OPS})
