"""ConvNet: the paper's network family, as a list of layer objects built from a spec.

    [Conv-(SBN)-ReLU-(Dropout)-(Max-pool)] x M - [Affine-(BN)-ReLU-(Dropout)] x N - Affine-Softmax

fercnn.models.blocks builds the list once; initialisation, the forward pass (which keeps
each layer's cache), the backward pass (the list in reverse) and summary() walk it.
"""
import numpy as np

from fercnn.argcheck import check_positive_int
from fercnn.data.augment import Augmentation
from fercnn.data.preprocess import prepare_input
from fercnn.fast import add_scaled
from fercnn.models.blocks import Pass, build_layers, layer_rows
from fercnn.models.budget import check_spec
from fercnn.models.io import model_entries, save_model
from fercnn.models.ops import as_opset
from fercnn.models.spec import hog_dim, normalize_spec

WEIGHT_INITS = ("he", "uniform")


class ConvNet:
    """A [conv]xM - [fc]xN - softmax classifier built from a spec (see fercnn.models.spec).

    params: dict of arrays keyed "conv1.w", "conv1.gamma", "conv1.beta", ..., "fc1.w",
    "fc1.b", ..., "out.w", "out.b". bn_state: {"conv1": {"running_mean", "running_var"}, ...}.
    A layer followed by batchnorm has no bias: the mean subtraction would cancel it, and
    beta plays its part. Biases and betas start at 0, gammas at 1, and the weights of a layer
    with fan_in inputs per output as weight_init says:

    - "he" (the default, as in CS231n): normal with std sqrt(2 / fan_in);
    - "uniform": uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)], std 1/sqrt(3 fan_in), PyTorch's
      default for conv and linear layers (the PyTorch reference runs of docs/REPRODUCTION.md).

    ops: the module whose functions the layers call (its conv_forward, ..., softmax_loss);
    None is fercnn.fast. Any module with fercnn.layers' names and contracts will do:
    fercnn.layers itself, or your own layers.py (``fercnn exercises``; fercnn.models.ops).
    """

    def __init__(self, *, conv=(), fc=(), input_shape=(1, 48, 48), num_classes=7, hog=None,
                 reg=0.0, dtype=np.float32, seed=0, weight_init="he", label_smoothing=0.0, ops=None):
        self.spec = normalize_spec(input_shape=input_shape, num_classes=num_classes, conv=conv, fc=fc, hog=hog)
        if float(reg) < 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        self.reg = float(reg)
        if isinstance(label_smoothing, bool) or not 0 <= float(label_smoothing) < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = int(seed)
        if weight_init not in WEIGHT_INITS:
            raise ValueError(f"weight_init must be one of {', '.join(WEIGHT_INITS)}, got {weight_init!r}")
        init_rng = np.random.default_rng([self.seed, 0])
        self.dropout_rng = np.random.default_rng([self.seed, 1])
        self.params, self.bn_state = {}, {}
        self.mean_image, self.class_names = None, None
        self.augmentation = None  # the training run's augmentation settings (a dict), where it had any

        def weights(shape, fan_in):
            if weight_init == "he":
                return (init_rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(self.dtype)
            bound = 1.0 / np.sqrt(fan_in)
            return init_rng.uniform(-bound, bound, shape).astype(self.dtype)

        check_spec(self.spec, "ConvNet")  # before a single weight is allocated
        self.ops = as_opset(ops)
        self.ops.need("softmax_loss")
        self.layers = build_layers(self.spec, self.ops)
        for layer in self.layers:  # in order: the weights draw from init_rng one after another
            self.params.update(layer.init_params(weights, self.dtype))
            state = layer.init_state(self.dtype)
            if state is not None:
                self.bn_state[layer.name] = state

    @property
    def has_batchnorm(self):
        """Whether any layer keeps batchnorm running statistics (recalibrate_batchnorm has work)."""
        return bool(self.bn_state)

    def state_dict(self):
        """(meta, arrays): everything that describes the network now, as fercnn.train.Solver
        keeps it (fercnn/train/contract.py). meta is JSON: spec, reg, dtype, seed, class_names,
        format, and "rng", the state of the dropout masks' generator; arrays are "param/<name>",
        "bn/<layer>/<stat>" and "mean_image" (when set): the model's own arrays, not copies."""
        meta, arrays = model_entries(self)
        meta["rng"] = self.dropout_rng.bit_generator.state
        return meta, arrays

    def load_state_dict(self, meta, arrays, *, where="load_state_dict"):
        """Take the state ``state_dict`` gave (of this network, or read from its file): every
        parameter (float16 ones read back as the model's dtype where meta says
        param_storage="float16"), every batchnorm statistic (copied: they are updated in place),
        and, where present, the mean image, class names and dropout generator state. One
        ValueError starting with ``where`` names what is missing or of the wrong shape."""
        storage = meta.get("param_storage")
        if storage not in (None, "float16"):
            raise ValueError(f"{where} stores its parameters as {storage!r}; expected float16 or the model's dtype")
        params = {}
        for key, now in self.params.items():
            arr = arrays.get(f"param/{key}")
            if arr is None:
                raise ValueError(f"{where} lacks parameter {key}")
            if storage == "float16" and arr.dtype == np.float16:  # a shipped file (fercnn.models.shipped)
                arr = arr.astype(self.dtype)
            if arr.shape != now.shape or arr.dtype != self.dtype:
                raise ValueError(f"{where}: {key} is {arr.shape} {arr.dtype}, the spec wants {now.shape} {self.dtype}")
            params[key] = arr
        bn_state = {}
        for layer, state in self.bn_state.items():
            bn_state[layer] = {}
            for stat, now in state.items():
                arr = arrays.get(f"bn/{layer}/{stat}")
                if arr is None or arr.shape != now.shape:
                    raise ValueError(f"{where} lacks batchnorm statistic {layer}/{stat} of shape {now.shape}")
                bn_state[layer][stat] = np.array(arr)
        names = meta.get("class_names")
        K = self.spec["num_classes"]
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise ValueError(f"{where}: class_names must be a list of strings, got {names!r}")
        if names is not None and len(names) != K:
            raise ValueError(f"{where} has {len(names)} class names {names} for its {K} outputs; "
                             f"a model needs one name per output")
        if names is not None and len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{where} names classes {twice} more than once: {names}")
        self.params, self.bn_state = params, bn_state
        if "mean_image" in arrays:
            self.mean_image = arrays["mean_image"]
        if "class_names" in meta:
            self.class_names = names
        if "augmentation" in meta:
            self.augmentation = _augmentation(meta["augmentation"], where)
        if "rng" in meta:
            self.dropout_rng.bit_generator.state = meta["rng"]

    def nonfinite(self):
        """[(name, number of NaN or infinite values)] of the model's arrays that hold any:
        parameters, batchnorm statistics, the mean image. [] for a model that can predict."""
        _, arrays = self.state_dict()
        counts = [(k, int(np.size(a) - np.count_nonzero(np.isfinite(a)))) for k, a in arrays.items()]
        return [(k, n) for k, n in counts if n]

    @property
    def hog_dim(self):
        """Length of the HOG vector this model expects as ``features`` (0: none)."""
        return hog_dim(self.spec)

    def prepare(self, images):
        """Images as this network takes them, the preprocessing it was trained with: uint8
        (N, H, W) (or (N, C, H, W)) -> (N, C, H, W) of its dtype, its mean image subtracted."""
        if self.mean_image is None:
            raise ValueError("model: it has no mean image, so its input cannot be prepared; set model.mean_image "
                             "to the training set's (fercnn.data.preprocess returns it; the training scripts save it)")
        images = np.asarray(images)
        want = tuple(self.spec["input_shape"])
        got = images.shape[1:] if images.ndim == 4 else (1, *images.shape[1:]) if images.ndim == 3 else None
        if got != want:
            forms = f"(N, {want[1]}, {want[2]}) or (N, 1, {want[1]}, {want[2]})" if want[0] == 1 else \
                f"(N, {want[0]}, {want[1]}, {want[2]}) (the network takes {want[0]} channels)"
            raise ValueError(f"model: images must be {forms}, got shape {images.shape}")
        return prepare_input(images, self.mean_image, self.dtype)

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

    def _forward(self, X, features, training, rng, *, dropout=True, bn_momentum=0.9, taps=None, input_grad=False):
        """Scores (N, K) and the per-layer caches that _backward walks in reverse.

        dropout=False turns dropout off in a training-mode pass; bn_momentum is the
        batchnorm layers' running-statistics momentum (see recalibrate_batchnorm); taps,
        a list, receives each conv block's activation.
        """
        ctx = Pass(training=training, rng=rng, dropout=dropout, bn_momentum=bn_momentum, bn_state=self.bn_state,
                   features=features, taps=taps, input_grad=input_grad)
        caches, out = [], X
        for layer in self.layers:
            out, cache = layer.forward(out, self.params, ctx)
            caches.append(cache)
        return out, (ctx, caches)

    def loss(self, X, y=None, *, features=None, rng=None):
        """Without y: class scores (N, K) in eval mode (running BN statistics, no dropout).

        With y: a training-mode pass (batch statistics, dropout masks drawn from ``rng``,
        default the model's own seeded generator) and ``(loss, grads)``, grads keyed like
        params. loss = mean softmax cross-entropy (against labels smoothed by label_smoothing)
        + 0.5 * reg * sum of squared weights.
        X: (N, C, H, W) of the model's dtype; features: (N, hog_dim) for a hybrid model.
        """
        self._check_input(X, features)
        if y is None:
            return self._forward(X, features, False, None)[0]
        scores, record = self._forward(X, features, True, self.dropout_rng if rng is None else rng)
        # smoothing is passed only when used: a learner's own softmax_loss (ops=) may not take it
        smoothing = {"smoothing": self.label_smoothing} if self.label_smoothing else {}
        loss, dout = self.ops.softmax_loss(scores, y, **smoothing)
        grads, _ = self._backward(record, dout)
        reg = self.dtype.type(self.reg)
        for key, w in self.params.items():
            if key.endswith(".w"):
                loss = loss + reg / 2 * np.vdot(w, w)
                g = grads[key] = np.ascontiguousarray(grads[key])  # so that the flat view below is not a copy
                add_scaled(g.reshape(-1), w.reshape(-1), reg)  # g += reg * w, in place
        return self.dtype.type(loss), grads

    def _backward(self, record, dout):
        """Walk the layers in reverse: (grads keyed like params, dX, or None unless the
        forward pass asked for the input gradient)."""
        ctx, caches = record
        grads = {}
        for layer, cache in zip(reversed(self.layers), reversed(caches)):
            dout, g = layer.backward(dout, cache, self.params, ctx)
            grads.update(g)
        return grads, dout if ctx.input_grad else None

    def input_gradient(self, X, dscores, *, features=None):
        """d(sum(scores * dscores)) / dX in evaluation mode (running batchnorm statistics, no
        dropout): X (N, C, H, W), dscores (N, K) -> (N, C, H, W). Parameters are unchanged."""
        self._check_input(X, features)
        scores, record = self._forward(X, features, False, None, input_grad=True)
        if dscores.shape != scores.shape:
            raise ValueError(f"input_gradient: dscores must have shape {scores.shape}, got {dscores.shape}")
        return self._backward(record, np.ascontiguousarray(dscores, dtype=self.dtype))[1]

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
        rows = layer_rows(self.layers, self.spec["input_shape"])
        lines = [f"{'layer':<8}{'op':<26}{'output shape':<18}{'params':>12}", "-" * 64]
        for name, kind, shape, n in rows:
            lines.append(f"{name:<8}{kind:<26}{str(shape):<18}{n:>12,}")
        lines.append("-" * 64)
        lines.append(f"total parameters: {sum(r[3] for r in rows):,} ({self.dtype})")
        return "\n".join(lines)

    def save(self, path):
        """Write spec, params, BN running statistics, mean image and class names to one .npz."""
        save_model(self, path)


def _augmentation(config, where):
    """A saved model's augmentation settings (what it was trained with; test-time averaging
    reads them), checked as a run's options are: None, or a dict Augmentation accepts."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise ValueError(f"{where}: augmentation must be a dict of settings or null, got {config!r}")
    known = Augmentation().config()
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(f"{where}: augmentation has unknown settings {unknown}; expected some of {sorted(known)}")
    try:
        Augmentation(**config)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    return config
