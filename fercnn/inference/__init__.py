"""Prediction with a trained ConvNet, fast at a batch of one face and in batches.

    from fercnn.inference import predictor_for
    probs = predictor_for(model).predict_proba(model.prepare(faces))   # (N, K)

fercnn.predict (detect_emotions, `fercnn predict`, `fercnn serve`) predicts through this.
model.predict_proba gives the same classes from fercnn.fast's training ops; this is the
network frozen (fercnn/inference/frozen.py): batchnorm folded into the conv and affine
layers, Winograd's filter transform done once instead of in every call, and plain NumPy
and BLAS, so a first prediction compiles no Numba kernel (a fresh install's first
`fercnn predict` used to spend most of its time compiling kernels one photo does not need).
Long-lived processes (`fercnn serve`) switch on compiled kernels for the Winograd layers
of a face or a few (fercnn/inference/kernel.py: ``kernel.enable()``).

What changes with the batch size (N faces):

- **The conv method** (fercnn/inference/conv.py ``choose``): Winograd only where its
  matrix products still get enough columns (windows of all N images). At
  N = 1 the deep network's conv2 runs F(4x4, 5x5) (36 windows), conv3 F(3x3, 3x3) (16),
  and conv4, whose 6x6 maps give the square tiles 4-9 windows, F(3, 3) along the rows only
  (12); from N = 2 on every layer with 8 or more input channels runs a square tile.
  Training's choice (fercnn.fast.conv_method) looks at the layer shape only, which suits
  its batches of 128.
- **Chunks**: the batch goes through the network CHUNK faces at a time at most, so that
  each layer's arrays stay in cache (at 64 faces at once deep conv2's Winograd arrays are
  75 MB, and a face took longer than in chunks of 8).
- **The threads**: below 2 * PARALLEL_FROM faces the whole pass runs on the calling thread
  with BLAS held at one thread. Waking a second thread for the small products of one face
  costs more than it saves, and made a batch of one swing by 10x from run to run on a
  2-core machine. From 2 * PARALLEL_FROM faces on, the chunks are shared among
  min(numba.get_num_threads(), N // PARALLEL_FROM) threads (the knob fercnn's other
  parallel code uses), each running single-threaded BLAS.

A face's probabilities depend on the other faces of its batch only through the size of its
chunk (the conv method, and whether the kernel takes its products): a batch of the same
size gives the same numbers, bit for bit, whatever the thread count.
"""
import contextvars
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fercnn.inference.frozen import fold, forward
from fercnn.inference.saliency import saliency

CHUNK = 8  # faces per pass through the network, at most: its arrays stay in cache
PARALLEL_FROM = 8  # faces per thread, at least

_lock = threading.Lock()
_pool = None
_controller = None
_predictors = weakref.WeakKeyDictionary()


class Predictor:
    """``model`` frozen: its parameters, batchnorm statistics and mean image as they are now.

    A later change to the model is not seen; predictor_for(model) makes a new one when the
    model's arrays have been replaced (as training and load_state_dict do) or its batchnorm
    statistics changed.
    """

    def __init__(self, model):
        if model.hog_dim:
            raise ValueError("inference: this is a hybrid (HOG) model; prediction takes image-only models")
        self.dtype = model.dtype
        self.input_shape = tuple(model.spec["input_shape"])
        self.num_classes = model.spec["num_classes"]
        self.steps = fold(model)

    def _check(self, X):
        if not isinstance(X, np.ndarray) or X.ndim != 4 or X.shape[1:] != self.input_shape or X.dtype != self.dtype:
            got = f"{tuple(X.shape)} {X.dtype}" if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"inference: X must be (N, {', '.join(map(str, self.input_shape))}) {self.dtype}, got {got}")

    def saliency(self, X, y):
        """|d score_y / d X| maximised over channels: X (N, C, H, W), y (N,) class indices ->
        (N, H, W), as fercnn.visualize.saliency computes it (fercnn/inference/saliency.py)."""
        self._check(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],) or y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= self.num_classes)):
            raise ValueError(f"saliency: y must be ({X.shape[0]},) class indices in [0, {self.num_classes}), got {y!r}")
        if X.shape[0] == 0:
            return np.zeros((0,) + self.input_shape[1:], self.dtype)
        with _lock, _blas_one_thread():
            return saliency(self.steps, X, y)

    def scores(self, X):
        """Class scores (N, K) for X: (N, C, H, W) of the model's dtype, as model.prepare gives it."""
        self._check(X)
        if X.shape[0] == 0:
            return np.zeros((0, self.num_classes), self.dtype)
        if X.shape[0] <= CHUNK:
            chunks = [X]
        else:
            bounds = np.linspace(0, X.shape[0], -(-X.shape[0] // CHUNK) + 1).round().astype(int)
            chunks = [X[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        n_threads = min(len(chunks), threads_for(X.shape[0]))
        with _lock, _blas_one_thread():
            if n_threads == 1:
                parts = [forward(self.steps, c) for c in chunks]
                return parts[0] if len(parts) == 1 else np.concatenate(parts)
            # two threads may transform the same filters at once: both get the same U, one is kept.
            # Each worker runs in a copy of the caller's context, so that what the caller set in
            # context variables (fercnn.fast.conv_method.forced, numpy's errstate) holds there too.
            run = lambda share: [forward(self.steps, c) for c in share]  # noqa: E731
            futures = [_worker_pool().submit(contextvars.copy_context().run, run, chunks[t::n_threads])
                       for t in range(1, n_threads)]
            parts = [run(chunks[0::n_threads])] + [f.result() for f in futures]
            return np.concatenate([parts[k % n_threads][k // n_threads] for k in range(len(chunks))])

    def predict_proba(self, X, *, batch_size=256):
        """Class probabilities (N, K) (softmax of the scores), ``batch_size`` faces at a time."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"predict_proba: batch_size must be an integer >= 1, got {batch_size!r}")
        parts = [self.scores(X[s:s + batch_size]) for s in range(0, max(1, X.shape[0]), batch_size)]
        scores = np.concatenate(parts)
        e = np.exp(scores - scores.max(axis=1, keepdims=True)) if len(scores) else scores
        return e / e.sum(axis=1, keepdims=True) if len(scores) else scores


def threads_for(n):
    """Threads a batch of ``n`` faces runs on (see the module docstring)."""
    import numba

    return max(1, min(numba.get_num_threads(), n // PARALLEL_FROM))


def predictor_for(model):
    """The Predictor of ``model``, made on the first call and kept while the model's
    parameter arrays, mean image and batchnorm statistics stay what they were."""
    key = _key(model)
    kept = _predictors.get(model)
    if kept is not None and _same(kept[0], key):
        return kept[1]
    predictor = Predictor(model)
    _predictors[model] = (key, predictor)
    return predictor


def _key(model):
    # the arrays themselves (so their ids cannot be reused while kept) and a copy of the small
    # batchnorm statistics, which training updates in place: their names and shapes, and all
    # their numbers in one array, so that a check is one comparison (it runs on every call)
    names = tuple((layer, k, np.shape(v)) for layer, s in model.bn_state.items() for k, v in s.items())
    numbers = [np.ravel(v) for s in model.bn_state.values() for v in s.values()]
    stats = np.concatenate(numbers).astype(np.float64) if numbers else np.zeros(0)
    return dict(model.params), model.mean_image, names, stats


def _same(a, b):
    params_a, mean_a, names_a, stats_a = a
    params_b, mean_b, names_b, stats_b = b
    return (params_a.keys() == params_b.keys() and all(params_a[k] is params_b[k] for k in params_a)
            and mean_a is mean_b and names_a == names_b and np.array_equal(stats_a, stats_b, equal_nan=True))


def _worker_pool():
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(thread_name_prefix="fercnn-predict")
    return _pool


def _blas_one_thread():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
