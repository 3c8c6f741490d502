"""A ConvNet frozen for prediction: batchnorm folded into the layers, the filters transformed once.

In evaluation batchnorm is an affine map per channel with fixed numbers,
out = gamma * (z - running_mean) / sqrt(running_var + eps) + beta, so it folds into the
conv or affine layer z = w * x + b before it: w' = w * s, b' = (b - running_mean) * s + beta,
s = gamma / sqrt(running_var + eps) per output channel. Dropout is the identity. What is left
is conv -> (max-pool) -> ReLU per conv block (ReLU after the pool: max and ReLU commute, and
the pooled map is 4x smaller) and affine -> ReLU per FC block.
"""
import numpy as np

from fercnn.inference import kernel
from fercnn.inference.conv import (ROWS, choose, filter_columns, im2col_conv, im2col_conv_pooled, larger_of_four,
                                   pools_in_tile, transform_filters, transform_filters_rows, windows, winograd_conv,
                                   winograd_conv_pooled, winograd_rows_conv)
from fercnn.inference.memory import resident
from fercnn.models.blocks import Activation, Affine, Conv, Flatten, Pool

BN_EPS = 1e-5  # every batchnorm layer of a ConvNet uses the fused op's default eps


class ConvStep:
    """conv (im2col or Winograd, by batch size) -> (2x2 max-pool) -> bias -> (ReLU), on (N, H, W, C).
    im2col and Winograd's square tiles of even m pool inside the conv (fercnn/inference/conv.py)."""

    def __init__(self, w, b, dtype):
        self.dtype = dtype
        self.pool = self.relu = False
        self._set(w.astype(np.float64), b.astype(np.float64))

    def _set(self, w, b):
        self.w, self.b = w, b.astype(self.dtype)  # w float64 (F, C, r, r): transformed on demand
        self.w2 = filter_columns(w, self.dtype)
        self.U = {}  # variant -> transformed filters, made on first use
        self.packed = {}  # variant -> U packed for fercnn.inference.kernel, made on its first use

    def fold(self, scale, shift):
        """Fold out = scale * z + shift (per output channel) into the filters and bias."""
        self._set(self.w * scale[:, None, None, None], self.b.astype(np.float64) * scale + shift)

    def settle(self):
        """Move the im2col filters to huge pages (fercnn/inference/memory.py), once folded;
        each Winograd variant's go there when they are made."""
        self.w2 = resident(self.w2)

    def _filters(self, method, x=None):
        """The Winograd variant's transformed filters (made on first use), and where the
        kernel is on and takes this layer's products at x's batch size, the same packed for
        it (else None: NumPy's products)."""
        if method not in self.U:
            rows = method.endswith(ROWS)
            self.U[method] = resident((transform_filters_rows if rows else transform_filters)(self.w, method, self.dtype))
        U = self.U[method]
        if x is None or not kernel.ready() or not kernel.fits(windows(method, *x.shape[:3]), U.shape[2], U.dtype):
            return U, None
        return U, self._pack(U, method)

    def _pack(self, U, method):
        """U packed for fercnn.inference.kernel, made on first use."""
        if method not in self.packed:
            self.packed[method] = resident(kernel.pack(U))
        return self.packed[method]

    def method(self, x):
        N, H, W, C = x.shape
        return choose(C, self.w.shape[2], H, W, N, self.w.shape[0], self.dtype)

    def __call__(self, x):
        method = self.method(x)
        N, H, W, _ = x.shape
        if (kernel.ready() and kernel.takes_banded(method, N, H, W, self.b.shape[0], self.dtype)
                and (not self.pool or pools_in_tile(method))):
            return kernel.banded_conv(x, self._pack(self._filters(method)[0], method), method, self.b,
                                      pool=self.pool, relu=self.relu)
        b = None if self.pool else self.b  # the bias is added after the pool: max(z + b) = max(z) + b
        rows = method.endswith(ROWS)
        # im2col and the square tiles of even m pool as they put their output together
        fused = self.pool and (method == "im2col" or (not rows and pools_in_tile(method)))
        if method == "im2col":
            out = (im2col_conv_pooled if fused else im2col_conv)(x, self.w2, b, self.w.shape[2])
        else:
            U, packed = self._filters(method, x)
            conv = winograd_rows_conv if rows else winograd_conv_pooled if fused else winograd_conv
            out = conv(x, U, b, method, packed)
        if self.pool:
            if not fused:
                out = max_pool_2x2(out)
            out += self.b
        if self.relu:
            np.maximum(out, 0, out=out)
        return out


class AffineStep:
    """x @ w + b -> (ReLU), on (N, D)."""

    def __init__(self, w, b, dtype):
        self.w, self.b = w.astype(dtype), b.astype(dtype)
        self.relu = False

    def fold(self, scale, shift):
        """Fold out = scale * z + shift (per unit) into the weights and bias."""
        self.w = (self.w.astype(np.float64) * scale[None, :]).astype(self.w.dtype)
        self.b = (self.b.astype(np.float64) * scale + shift).astype(self.b.dtype)

    def settle(self):
        """Move the weights to huge pages (fercnn/inference/memory.py), once folded."""
        self.w = resident(self.w)

    def __call__(self, x):
        out = x @ self.w
        out += self.b
        if self.relu:
            np.maximum(out, 0, out=out)
        return out


def max_pool_2x2(x):
    """(N, H, W, C) -> (N, H // 2, W // 2, C): the larger of four strided views (a NaN wins,
    as in fercnn.fast's pool)."""
    H, W = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    return larger_of_four(x[:, 0:H:2, 0:W:2], x[:, 0:H:2, 1:W:2], x[:, 1:H:2, 0:W:2], x[:, 1:H:2, 1:W:2])


def fold(model):
    """The model's layers as steps: a list of ConvStep, "flatten" and AffineStep."""
    steps = []
    for layer in model.layers:
        p = model.params
        if isinstance(layer, Conv):
            b = p[f"{layer.name}.b"] if layer.bias else np.zeros(layer.F)
            steps.append(ConvStep(p[f"{layer.name}.w"], b, model.dtype))
        elif isinstance(layer, Affine):
            b = p[f"{layer.name}.b"] if layer.bias else np.zeros(layer.M)
            steps.append(AffineStep(p[f"{layer.name}.w"], b, model.dtype))
        elif isinstance(layer, Activation):
            if layer.batchnorm:
                state = model.bn_state[layer.name]
                scale = p[f"{layer.name}.gamma"].astype(np.float64) / np.sqrt(
                    state["running_var"].astype(np.float64) + BN_EPS)
                steps[-1].fold(scale, p[f"{layer.name}.beta"] - state["running_mean"].astype(np.float64) * scale)
            steps[-1].relu = True
        elif isinstance(layer, Pool):
            steps[-1].pool = True
        elif isinstance(layer, Flatten):
            if layer.hog:
                raise ValueError("inference: this is a hybrid (HOG) model; prediction takes image-only models")
            steps.append("flatten")
        else:
            raise ValueError(f"inference: no frozen form of layer {type(layer).__name__}")
    for step in steps:
        if step != "flatten":
            step.settle()
    return steps


def forward(steps, X):
    """Class scores (N, K) for X: (N, C, H, W), the model's input as model.prepare gives it."""
    x = np.ascontiguousarray(X.transpose(0, 2, 3, 1))  # channels last: (N, H, W, C)
    for step in steps:
        if step == "flatten":  # in the model's order, (C, H, W)
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(x.shape[0], -1)
        else:
            x = step(x)
    return x
