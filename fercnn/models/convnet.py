"""ConvNet: the paper's network family, composed from the layer functions.

    [Conv-(SBN)-ReLU-(Dropout)-(Max-pool)] x M - [Affine-(BN)-ReLU-(Dropout)] x N - Affine-Softmax

The forward pass records one (kind, layer name, cache) entry per op; the backward pass
walks that record in reverse and calls each op's backward. No layer has a hand-written
chain of its own.
"""
import numpy as np

from fercnn.checks import check_positive_int
from fercnn.fast import (
    add_scaled, affine_backward, affine_forward, batchnorm_relu_dropout_backward, batchnorm_relu_dropout_forward,
    conv_backward, conv_forward, max_pool_backward, max_pool_forward, relu_dropout_backward, relu_dropout_forward,
    softmax_loss,
)
from fercnn.models.io import save_model
from fercnn.models.spec import hog_dim, layer_shapes, normalize_spec

# kind -> (backward function, names of the parameters its gradients belong to)
_BACKWARD = {
    "conv": (conv_backward, ("w", "b")),
    "affine": (affine_backward, ("w", "b")),
    "bn_relu_dropout": (batchnorm_relu_dropout_backward, ("gamma", "beta")),
    "relu_dropout": (relu_dropout_backward, ()),
    "pool": (max_pool_backward, ()),
}


class ConvNet:
    """A [conv]xM - [fc]xN - softmax classifier built from a spec (see fercnn.models.spec).

    params: dict of arrays keyed "conv1.w", "conv1.gamma", "conv1.beta", ..., "fc1.w",
    "fc1.b", ..., "out.w", "out.b". bn_state: {"conv1": {"running_mean", "running_var"}, ...}.
    A layer followed by batchnorm has no bias: the mean subtraction would cancel it, and
    beta plays its part. Weights are He-initialised (std sqrt(2 / fan_in)), biases and
    betas 0, gammas 1.
    """

    def __init__(self, *, conv=(), fc=(), input_shape=(1, 48, 48), num_classes=7, hog=None,
                 reg=0.0, dtype=np.float32, seed=0):
        self.spec = normalize_spec(input_shape=input_shape, num_classes=num_classes, conv=conv, fc=fc, hog=hog)
        if float(reg) < 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        self.reg = float(reg)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = int(seed)
        init_rng = np.random.default_rng([self.seed, 0])
        self.dropout_rng = np.random.default_rng([self.seed, 1])
        self.params, self.bn_state = {}, {}
        self.mean_image, self.class_names = None, None

        def he(shape, fan_in):
            return (init_rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(self.dtype)

        C = self.spec["input_shape"][0]
        for i, b in enumerate(self.spec["conv"], 1):
            F, k = b["filters"], b["kernel"]
            self.params[f"conv{i}.w"] = he((F, C, k, k), C * k * k)
            if b["batchnorm"]:
                self._add_bn(f"conv{i}", F)
            else:
                self.params[f"conv{i}.b"] = np.zeros(F, self.dtype)
            C = F
        D = next(shape[0] for _, kind, shape, _ in layer_shapes(self.spec) if kind.startswith("flatten"))
        for i, b in enumerate(self.spec["fc"], 1):
            self.params[f"fc{i}.w"] = he((D, b["units"]), D)
            if b["batchnorm"]:
                self._add_bn(f"fc{i}", b["units"])
            else:
                self.params[f"fc{i}.b"] = np.zeros(b["units"], self.dtype)
            D = b["units"]
        K = self.spec["num_classes"]
        self.params["out.w"] = he((D, K), D)
        self.params["out.b"] = np.zeros(K, self.dtype)

    def _add_bn(self, name, size):
        self.params[f"{name}.gamma"] = np.ones(size, self.dtype)
        self.params[f"{name}.beta"] = np.zeros(size, self.dtype)
        self.bn_state[name] = {"running_mean": np.zeros(size, self.dtype), "running_var": np.ones(size, self.dtype)}

    @property
    def hog_dim(self):
        """Length of the HOG vector this model expects as ``features`` (0: none)."""
        return hog_dim(self.spec)

    def _check_input(self, X, features):
        want = tuple(self.spec["input_shape"])
        if not isinstance(X, np.ndarray) or X.ndim != 4 or X.shape[1:] != want:
            got = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"model: X must have shape (N, {', '.join(map(str, want))}), got {got}")
        if X.dtype != self.dtype:
            raise ValueError(f"model: X has dtype {X.dtype} but the model's parameters are {self.dtype}")
        if self.hog_dim:
            if features is None:
                raise ValueError(f"model: this hybrid model needs features=(N, {self.hog_dim}) HOG vectors")
            if features.shape != (X.shape[0], self.hog_dim) or features.dtype != self.dtype:
                raise ValueError(f"model: features must be ({X.shape[0]}, {self.hog_dim}) {self.dtype}, "
                                 f"got {tuple(features.shape)} {features.dtype}")
        elif features is not None:
            raise ValueError("model: features were given but this model has no HOG input (spec hog=None)")

    def _forward(self, X, features, training, rng, *, dropout=True, bn_momentum=0.9, taps=None):
        """Scores (N, K) and the record of caches that backward walks in reverse.

        dropout=False turns dropout off in a training-mode pass; bn_momentum is the
        batchnorm layers' running-statistics momentum (see recalibrate_batchnorm); taps,
        a list, receives each conv block's activation.
        """
        p, record = self.params, []
        out = X
        for i, b in enumerate(self.spec["conv"], 1):
            name = f"conv{i}"
            out, c = conv_forward(out, p[f"{name}.w"], self._bias(name, b["filters"]), stride=1, pad=b["kernel"] // 2)
            record.append(("conv", name, c))
            out = self._activation(name, out, b, training, rng, record, dropout, bn_momentum)
            if taps is not None:
                taps.append(out)
            if b["pool"]:
                out, c = max_pool_forward(out, size=2, stride=2)
                record.append(("pool", None, c))
        conv_shape = out.shape
        out = out.reshape(out.shape[0], -1)
        if features is not None:
            out = np.concatenate([out, features], axis=1)
        record.append(("flatten", None, conv_shape))
        for i, b in enumerate(self.spec["fc"], 1):
            name = f"fc{i}"
            out, c = affine_forward(out, p[f"{name}.w"], self._bias(name, b["units"]))
            record.append(("affine", name, c))
            out = self._activation(name, out, b, training, rng, record, dropout, bn_momentum)
        scores, c = affine_forward(out, p["out.w"], p["out.b"])
        record.append(("affine", "out", c))
        return scores, record

    def _bias(self, name, size):
        """The layer's bias, or zeros for a layer whose batchnorm makes a bias redundant."""
        b = self.params.get(f"{name}.b")
        return np.zeros(size, self.dtype) if b is None else b

    def _activation(self, name, out, block, training, rng, record, dropout, bn_momentum):
        """(batchnorm) -> ReLU -> (dropout) of a block, each as one fused op."""
        p_drop = block["dropout"] if dropout else 0.0
        if block["batchnorm"]:
            out, c = batchnorm_relu_dropout_forward(out, self.params[f"{name}.gamma"], self.params[f"{name}.beta"],
                                                    self.bn_state[name], p_drop, training=training, rng=rng,
                                                    momentum=bn_momentum)
            record.append(("bn_relu_dropout", name, c))
        else:  # without dropout this is relu_forward
            out, c = relu_dropout_forward(out, p_drop, training=training, rng=rng)
            record.append(("relu_dropout", None, c))
        return out

    def loss(self, X, y=None, *, features=None, rng=None):
        """Without y: class scores (N, K) in eval mode (running BN statistics, no dropout).

        With y: a training-mode pass (batch statistics, dropout masks drawn from ``rng``,
        default the model's own seeded generator) and ``(loss, grads)``, grads keyed like
        params. loss = mean softmax cross-entropy + 0.5 * reg * sum of squared weights.
        X: (N, C, H, W) of the model's dtype; features: (N, hog_dim) for a hybrid model.
        """
        self._check_input(X, features)
        if y is None:
            return self._forward(X, features, False, None)[0]
        scores, record = self._forward(X, features, True, self.dropout_rng if rng is None else rng)
        loss, dout = softmax_loss(scores, y)
        grads, _ = self._backward(record, dout)
        reg = self.dtype.type(self.reg)
        for key, w in self.params.items():
            if key.endswith(".w"):
                loss = loss + reg / 2 * np.vdot(w, w)
                g = grads[key] = np.ascontiguousarray(grads[key])  # so that the flat view below is not a copy
                add_scaled(g.reshape(-1), w.reshape(-1), reg)  # g += reg * w, in place
        return self.dtype.type(loss), grads

    def _backward(self, record, dout, *, input_grad=False):
        """Walk the forward record in reverse: (grads keyed like params, dX or None).

        The first conv layer skips its dx unless input_grad (nothing below it needs it in
        training; saliency maps do). A flatten takes the conv part of a hybrid's gradient.
        """
        grads = {}
        for depth, (kind, name, cache) in reversed(list(enumerate(record))):
            if kind == "flatten":
                conv_dim = int(np.prod(cache[1:]))
                dout = np.ascontiguousarray(dout[:, :conv_dim]).reshape(cache)
                continue
            backward, names = _BACKWARD[kind]
            if depth == 0 and kind == "conv" and not input_grad:
                result = backward(dout, cache, need_dx=False)
            else:
                result = backward(dout, cache)
            if names:
                dout = result[0]
                for pname, g in zip(names, result[1:]):
                    if f"{name}.{pname}" in self.params:  # not the bias of a layer before batchnorm
                        grads[f"{name}.{pname}"] = g
            else:
                dout = result
        return grads, dout if input_grad else None

    def input_gradient(self, X, dscores, *, features=None):
        """d(sum(scores * dscores)) / dX in evaluation mode (running batchnorm statistics, no
        dropout): X (N, C, H, W), dscores (N, K) -> (N, C, H, W). Parameters are unchanged."""
        self._check_input(X, features)
        scores, record = self._forward(X, features, False, None)
        if dscores.shape != scores.shape:
            raise ValueError(f"input_gradient: dscores must have shape {scores.shape}, got {dscores.shape}")
        return self._backward(record, np.ascontiguousarray(dscores, dtype=self.dtype), input_grad=True)[1]

    def conv_activations(self, X, *, features=None):
        """The output of every conv block's ReLU (before pooling) in evaluation mode:
        a list of (N, F, H, W) arrays, one per conv block."""
        self._check_input(X, features)
        taps = []
        self._forward(X, features, False, None, taps=taps)
        return taps

    def recalibrate_batchnorm(self, X, *, features=None, batch_size=128):
        """Recompute every batchnorm layer's running statistics from X, with dropout off.

        Training-mode passes collect the running statistics while dropout is on, but in
        evaluation dropout is off, so the layers after a dropout see inputs of a smaller
        variance than their statistics describe (the "variance shift" of dropout before
        batchnorm). This replaces the running mean and variance by the average of the
        batch statistics of X (typically a few thousand training images) in batches of
        batch_size, each computed exactly as in training but without dropout. Parameters
        are not touched. Returns the number of batches used.
        """
        self._check_input(X, features)
        if not self.bn_state:
            return 0
        check_positive_int("recalibrate_batchnorm", "batch_size", batch_size, minimum=2)
        starts = [s for s in range(0, X.shape[0], batch_size) if X.shape[0] - s >= 2]  # batchnorm needs 2
        if not starts:
            raise ValueError(f"recalibrate_batchnorm: need at least 2 images, got {X.shape[0]}")
        for k, s in enumerate(starts):
            f = None if features is None else features[s:s + batch_size]
            # momentum k / (k + 1): after batch k the running values are the mean over batches 0..k
            self._forward(X[s:s + batch_size], f, True, None, dropout=False, bn_momentum=k / (k + 1))
        return len(starts)

    def predict_proba(self, X, *, features=None, batch_size=256):
        """Class probabilities (N, K), evaluated ``batch_size`` images at a time."""
        self._check_input(X, features)
        probs = []
        for s in range(0, X.shape[0], batch_size):
            f = None if features is None else features[s:s + batch_size]
            scores = self._forward(X[s:s + batch_size], f, False, None)[0]
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs.append(e / e.sum(axis=1, keepdims=True))
        return np.concatenate(probs) if probs else np.zeros((0, self.spec["num_classes"]), self.dtype)

    def predict(self, X, *, features=None, batch_size=256):
        """Predicted labels (N,) int64."""
        return self.predict_proba(X, features=features, batch_size=batch_size).argmax(axis=1).astype(np.int64)

    def summary(self):
        """Table of layer, output shape and parameter count, from the input shape alone."""
        rows = layer_shapes(self.spec)
        lines = [f"{'layer':<8}{'op':<26}{'output shape':<18}{'params':>12}", "-" * 64]
        for name, kind, shape, n in rows:
            lines.append(f"{name:<8}{kind:<26}{str(shape):<18}{n:>12,}")
        lines.append("-" * 64)
        lines.append(f"total parameters: {sum(r[3] for r in rows):,} ({self.dtype})")
        return "\n".join(lines)

    def save(self, path):
        """Write spec, params, BN running statistics, mean image and class names to one .npz."""
        save_model(self, path)
