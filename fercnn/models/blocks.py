"""The network as a list of small layer objects, built once from a spec.

Each layer knows its parameters (names, shapes, initial values), its output shape, its
summary rows, its forward and its backward; ConvNet's init, forward, backward and
summary, and the benchmarks' PyTorch mirror (``describe``), all walk the one list
``build_layers(spec)`` returns. A new kind of block is one class here (and one line in
build_layers).

Forward returns (out, cache); backward(dout, cache, params, ctx) returns (dx, grads) with
grads keyed by full parameter names ("conv1.w"). The per-pass settings are a Pass. The ops a
layer calls are fercnn.fast's unless it is built with ``ops=`` (fercnn.models.ops: a module
with fercnn.layers' names, such as an exercise folder's layers.py).
"""
import functools
import math

import numpy as np

from fercnn.models.ops import as_opset
from fercnn.models.spec import hog_dim


class Pass:
    """Settings of one forward/backward pass.

    training: batch statistics and dropout (else running statistics, no dropout);
    rng: the dropout masks' Generator; dropout=False switches dropout off in a training
    pass; bn_momentum: the running statistics' momentum; bn_state: the model's running
    statistics; features: a hybrid's HOG vectors; input_grad: backward also computes the
    first layer's dx; taps: a list that receives each conv block's activation.
    """

    def __init__(self, *, training, rng=None, dropout=True, bn_momentum=0.9, bn_state=None, features=None,
                 input_grad=False, taps=None):
        self.training, self.rng, self.dropout, self.bn_momentum = training, rng, dropout, bn_momentum
        self.bn_state, self.features, self.input_grad, self.taps = bn_state, features, input_grad, taps


@functools.lru_cache(maxsize=1)
def _fast_ops():
    return as_opset(None)


def _ops(ops):
    return _fast_ops() if ops is None else as_opset(ops)


class Layer:
    """What every layer has; a layer overrides what it needs."""

    name = ""

    def init_params(self, weights, dtype):
        """{full parameter name: initial array}; weights(shape, fan_in) draws initial weights
        (ConvNet's weight_init decides how)."""
        return {}

    def init_state(self, dtype):
        """Running statistics this layer keeps between passes, or None."""
        return None


class Conv(Layer):
    """Convolution with stride 1 and "same" padding; no bias when batchnorm follows."""

    def __init__(self, name, channels, filters, kernel, *, bias, first, ops=None):
        self.name, self.C, self.F, self.k, self.bias, self.first = name, channels, filters, kernel, bias, first
        self.ops = _ops(ops)
        self.ops.need("conv_forward", "conv_backward")

    def init_params(self, weights, dtype):
        params = {f"{self.name}.w": weights((self.F, self.C, self.k, self.k), self.C * self.k * self.k)}
        if self.bias:
            params[f"{self.name}.b"] = np.zeros(self.F, dtype)
        return params

    def output_shape(self, shape):
        return (self.F,) + tuple(shape[1:])

    def rows(self, shape):
        n = self.F * self.C * self.k * self.k + (self.F if self.bias else 0)
        return [(self.name, f"conv {self.k}x{self.k}", self.output_shape(shape), n)]

    def forward(self, x, params, ctx):
        b = params[f"{self.name}.b"] if self.bias else np.zeros(self.F, x.dtype)
        return self.ops.conv_forward(x, params[f"{self.name}.w"], b, stride=1, pad=self.k // 2)

    def backward(self, dout, cache, params, ctx):
        # nothing below the first conv layer needs its dx, except a saliency map
        dx, dw, db = self.ops.conv_backward_maybe_dx(dout, cache, not self.first or ctx.input_grad)
        grads = {f"{self.name}.w": dw}
        if self.bias:
            grads[f"{self.name}.b"] = db
        return dx, grads

    def describe(self):
        return {"kind": "conv", "in": self.C, "out": self.F, "kernel": self.k, "bias": self.bias}


class Activation(Layer):
    """(batchnorm) -> ReLU -> (dropout), each as one fused fast op; shape is kept."""

    def __init__(self, name, size, *, batchnorm, dropout, spatial, ops=None):
        self.name, self.size, self.batchnorm, self.p, self.spatial = name, size, batchnorm, dropout, spatial
        self.ops = _ops(ops)
        self.ops.need(*self.ops.activation_names(batchnorm=batchnorm, spatial=spatial, dropout=bool(dropout)))

    def init_params(self, weights, dtype):
        if not self.batchnorm:
            return {}
        return {f"{self.name}.gamma": np.ones(self.size, dtype), f"{self.name}.beta": np.zeros(self.size, dtype)}

    def init_state(self, dtype):
        if not self.batchnorm:
            return None
        return {"running_mean": np.zeros(self.size, dtype), "running_var": np.ones(self.size, dtype)}

    def output_shape(self, shape):
        return tuple(shape)

    def rows(self, shape):
        rows = []
        if self.batchnorm:
            rows.append((self.name, "spatial batchnorm" if self.spatial else "batchnorm", tuple(shape), 2 * self.size))
        rows.append(("", "relu", tuple(shape), 0))
        if self.p:
            rows.append(("", f"dropout p={self.p:g}", tuple(shape), 0))
        return rows

    def forward(self, x, params, ctx):
        p = self.p if ctx.dropout else 0.0
        if not self.batchnorm:  # without dropout this is relu_forward
            out, cache = self.ops.relu_dropout_forward(x, p, training=ctx.training, rng=ctx.rng)
        else:
            out, cache = self.ops.batchnorm_relu_dropout_forward(
                x, params[f"{self.name}.gamma"], params[f"{self.name}.beta"], ctx.bn_state[self.name], p,
                training=ctx.training, rng=ctx.rng, momentum=ctx.bn_momentum)
        if ctx.taps is not None and self.spatial:
            ctx.taps.append(out)
        return out, cache

    def backward(self, dout, cache, params, ctx):
        if not self.batchnorm:
            return self.ops.relu_dropout_backward(dout, cache), {}
        dx, dgamma, dbeta = self.ops.batchnorm_relu_dropout_backward(dout, cache)
        return dx, {f"{self.name}.gamma": dgamma, f"{self.name}.beta": dbeta}

    def describe(self):
        return {"kind": "activation", "size": self.size, "batchnorm": self.batchnorm, "dropout": self.p,
                "spatial": self.spatial}


class Pool(Layer):
    """2x2 max-pooling, stride 2."""

    def __init__(self, ops=None):
        self.ops = _ops(ops)
        self.ops.need("max_pool_forward", "max_pool_backward")

    def output_shape(self, shape):
        C, H, W = shape
        return (C, H // 2, W // 2)

    def rows(self, shape):
        return [("", "max-pool 2x2", self.output_shape(shape), 0)]

    def forward(self, x, params, ctx):
        return self.ops.max_pool_forward(x, size=2, stride=2)

    def backward(self, dout, cache, params, ctx):
        return self.ops.max_pool_backward(dout, cache), {}

    def describe(self):
        return {"kind": "pool"}


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), with a hybrid's HOG vectors (N, hog) appended."""

    def __init__(self, hog):
        self.hog = hog

    def output_shape(self, shape):
        return (math.prod(shape) + self.hog,)

    def rows(self, shape):
        kind = f"flatten + hog({self.hog})" if self.hog else "flatten"
        return [("", kind, self.output_shape(shape), 0)]

    def forward(self, x, params, ctx):
        out = x.reshape(x.shape[0], -1)
        if ctx.features is not None:
            out = np.concatenate([out, ctx.features], axis=1)
        return out, x.shape

    def backward(self, dout, cache, params, ctx):
        # the HOG part of the gradient has no layer to go to
        return np.ascontiguousarray(dout[:, :int(np.prod(cache[1:]))]).reshape(cache), {}

    def describe(self):
        return {"kind": "flatten", "hog": self.hog}


class Affine(Layer):
    """x @ w + b; no bias when batchnorm follows."""

    def __init__(self, name, inputs, units, *, bias, label="affine", ops=None):
        self.name, self.D, self.M, self.bias, self.label = name, inputs, units, bias, label
        self.ops = _ops(ops)
        self.ops.need("affine_forward", "affine_backward")

    def init_params(self, weights, dtype):
        params = {f"{self.name}.w": weights((self.D, self.M), self.D)}
        if self.bias:
            params[f"{self.name}.b"] = np.zeros(self.M, dtype)
        return params

    def output_shape(self, shape):
        return (self.M,)

    def rows(self, shape):
        return [(self.name, self.label, (self.M,), self.D * self.M + (self.M if self.bias else 0))]

    def forward(self, x, params, ctx):
        b = params[f"{self.name}.b"] if self.bias else np.zeros(self.M, x.dtype)
        return self.ops.affine_forward(x, params[f"{self.name}.w"], b)

    def backward(self, dout, cache, params, ctx):
        dx, dw, db = self.ops.affine_backward(dout, cache)
        grads = {f"{self.name}.w": dw}
        if self.bias:
            grads[f"{self.name}.b"] = db
        return dx, grads

    def describe(self):
        return {"kind": "affine", "in": self.D, "out": self.M, "bias": self.bias}


def build_layers(spec, ops=None):
    """The layer list of a normalized spec (fercnn.models.spec.normalize_spec); ops: see
    fercnn.models.ops (None: fercnn.fast)."""
    ops = _ops(ops)
    layers = []
    C, H, W = spec["input_shape"]
    for i, b in enumerate(spec["conv"], 1):
        layers.append(Conv(f"conv{i}", C, b["filters"], b["kernel"], bias=not b["batchnorm"], first=i == 1,
                           ops=ops))
        layers.append(Activation(f"conv{i}", b["filters"], batchnorm=b["batchnorm"], dropout=b["dropout"],
                                 spatial=True, ops=ops))
        if b["pool"]:
            layers.append(Pool(ops))
            H, W = H // 2, W // 2
        C = b["filters"]
    layers.append(Flatten(hog_dim(spec)))
    D = C * H * W + hog_dim(spec)
    for i, b in enumerate(spec["fc"], 1):
        layers.append(Affine(f"fc{i}", D, b["units"], bias=not b["batchnorm"], ops=ops))
        layers.append(Activation(f"fc{i}", b["units"], batchnorm=b["batchnorm"], dropout=b["dropout"],
                                 spatial=False, ops=ops))
        D = b["units"]
    layers.append(Affine("out", D, spec["num_classes"], bias=True, label="affine + softmax", ops=ops))
    return layers


def layer_rows(layers, input_shape):
    """[(layer name, kind, output shape without N, parameter count)] from the input shape alone."""
    shape = tuple(input_shape)
    rows = [("input", "input", shape, 0)]
    for layer in layers:
        rows += layer.rows(shape)
        shape = layer.output_shape(shape)
    return rows
