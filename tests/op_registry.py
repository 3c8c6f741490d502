"""The registry of every op (fercnn/exercises/registry.py: OPS, run_forward, ...), and what
only the tests add to it: each op in PyTorch (TORCH), the dropout rule stated on its own
(keep_mask), and the bad inputs with the message each must give (ERRORS).

The checks that walk OPS are fercnn.exercises.checks, shared with ``fercnn exercises
check``: tests/test_ops.py runs them on fercnn's ops, tests/test_torch.py holds the ops to
PyTorch.
"""
import numpy as np

from fercnn.exercises.registry import (  # noqa: F401  (re-exported for the tests)
    FUNCTIONS,
    OPS,
    run_backward,
    run_forward,
    spread_values,
    upstream,
)

KEEP_LEVELS = 1 << 16  # dropout's rule, stated here on its own: 16-bit draws, kept when draw >= round(p * 65536)


def keep_mask(seed, p, shape):
    """The units dropout keeps, from np.random.default_rng(seed), by the documented rule.

    The call draws one uniform 64-bit key from the rng. Unit j (C order) gets as its 16-bit
    draw the top 16 bits of SplitMix64's output at counter key + (j + 1) * 0x9E3779B97F4A7C15,
    modulo 2^64, and is kept when that draw is at least round(p * 65536). Written here
    apart from fercnn, in Python integers, so that a test holds fercnn to the rule.
    """
    n = int(np.prod(shape))
    key = int(np.random.default_rng(seed).integers(0, 1 << 64, dtype=np.uint64))
    return np.array([splitmix64(key + (j + 1) * 0x9E3779B97F4A7C15) >> 48 >= round(p * KEEP_LEVELS)
                     for j in range(n)], dtype=bool).reshape(shape)


def splitmix64(z):
    """SplitMix64's output mix of the counter z (Python integers, modulo 2^64)."""
    full = (1 << 64) - 1
    z &= full
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & full
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & full
    return z ^ (z >> 31)


# ---- each op in PyTorch ----

def _affine_torch(torch, x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, None


def _conv_torch(torch, x, w, b, *, stride, pad):
    return torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad), None


def _pool_torch(torch, x, *, size, stride):
    return torch.nn.functional.max_pool2d(x, size, stride), None


def _bn_torch(torch, x, gamma, beta, *, state, training, momentum=0.9, eps=1e-5):
    """torch's batch_norm, its running statistics mapped to fercnn's convention.

    fercnn: running = momentum * running + (1 - momentum) * batch, var the biased batch
    variance. torch: running = (1 - m) * running + m * batch with m its momentum, so
    m = 1 - fercnn's momentum; and torch's running_var takes the unbiased batch variance,
    which is turned back into the biased one here (times (n - 1) / n).
    """
    rm0, rv0 = (torch.tensor(state[k]) for k in ("running_mean", "running_var"))
    rm, rv = rm0.clone(), rv0.clone()
    out = torch.nn.functional.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=1 - momentum, eps=eps)
    if training:
        n = x.numel() // x.shape[1]
        unbiased = (rv - momentum * rv0) / (1 - momentum)
        rv = momentum * rv0 + (1 - momentum) * unbiased * (n - 1) / n
    return out, {"running_mean": rm, "running_var": rv}


def _dropped(torch, h, p, training, seed):
    """h * keep / (1 - p) in torch, keep by the rule (keep_mask); the identity without dropout."""
    if not training or p == 0:
        return h
    return h * torch.tensor(keep_mask(seed, p, tuple(h.shape)), dtype=h.dtype) / (1 - p)


def _dropout_torch(torch, x, *, p, training, seed):
    return _dropped(torch, x, p, training, seed), None


def _relu_dropout_torch(torch, x, *, p, training, seed):
    return _dropped(torch, torch.relu(x), p, training, seed), None


def _bn_relu_dropout_torch(torch, x, gamma, beta, *, state, training, momentum, p, seed):
    h, stats = _bn_torch(torch, x, gamma, beta, state=state, training=training, momentum=momentum)
    return _dropped(torch, torch.relu(h), p, training, seed), stats


def _softmax_torch(torch, scores, *, y):
    return torch.nn.functional.cross_entropy(scores, torch.tensor(y)), None


def _svm_torch(torch, scores, *, y):
    # torch divides the hinge sum by the number of classes too
    return torch.nn.functional.multi_margin_loss(scores, torch.tensor(y)) * scores.shape[1], None


# function -> torch(torch, *tensors, **settings) -> (out, running statistics or None): the op in
# PyTorch, the statistics converted to fercnn's convention
TORCH = {
    "affine": _affine_torch,
    "relu": lambda torch, x: (torch.relu(x), None),
    "conv": _conv_torch,
    "max_pool": _pool_torch,
    "batchnorm": _bn_torch,
    "spatial_batchnorm": _bn_torch,
    "dropout": _dropout_torch,
    "relu_dropout": _relu_dropout_torch,
    "batchnorm_relu_dropout": _bn_relu_dropout_torch,
    "softmax_loss": _softmax_torch,
    "svm_loss": _svm_torch,
}


# ---- bad input and the message that must come out, per function (both faces) ----

_x4, _w4, _b4 = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3)), np.zeros(4)
_x2, _g3, _b3 = np.zeros((4, 3)), np.ones(3), np.zeros(3)


def _rng():
    return np.random.default_rng(0)


ERRORS = {  # function -> [(call(ops), the message)]; each message starts with the function's name
    "conv": [
        (lambda ops: ops.conv_forward(np.zeros((3, 8, 8)), _w4, _b4), r"conv_forward: x must be 4-D, got 3-D"),
        (lambda ops: ops.conv_forward(_x4, np.zeros((4, 2, 3, 3)), _b4),
         r"conv_forward: x has 3 channels but the filters w expect 2"),
        (lambda ops: ops.conv_forward(_x4, _w4, np.zeros(5)), r"conv_forward: b must have shape \(4,\), got \(5,\)"),
        (lambda ops: ops.conv_forward(_x4, _w4, _b4, stride=2),
         r"conv_forward: height 8 with window 3, pad 0, stride 2 does not give a whole"),
        (lambda ops: ops.conv_forward(_x4, np.zeros((4, 3, 11, 11)), _b4),
         r"conv_forward: height 8 with window 11, pad 0, stride 1 does not give a whole, positive output size"),
        (lambda ops: ops.conv_forward(_x4, _w4, _b4, stride=0), r"conv_forward: stride must be an integer >= 1, got 0"),
        (lambda ops: ops.conv_forward(_x4, _w4, _b4, pad=-1), r"conv_forward: pad must be an integer >= 0, got -1"),
        (lambda ops: ops.conv_forward(_x4, _w4, _b4, pad=1.5), r"conv_forward: pad must be an integer >= 0, got 1.5"),
        (lambda ops: ops.conv_forward(_x4.astype(int), _w4, _b4),
         r"conv_forward: x must have a floating dtype .* got int64"),
        (lambda ops: ops.conv_forward(_x4.astype(np.float32), _w4, _b4),
         r"conv_forward: all arrays must share one dtype, got x=float32, w=float64"),
    ],
    "max_pool": [
        (lambda ops: ops.max_pool_forward(np.zeros((2, 3, 7, 8))),
         r"max_pool_forward: height 7 with window 2, pad 0, stride 2 does not give a whole"),
        (lambda ops: ops.max_pool_forward(_x4, size=0), r"max_pool_forward: size must be an integer >= 1, got 0"),
        (lambda ops: ops.max_pool_forward(np.zeros((8, 8))), r"max_pool_forward: x must be 4-D, got 2-D"),
    ],
    "affine": [
        (lambda ops: ops.affine_forward(np.zeros((2, 6)), np.zeros((5, 3)), np.zeros(3)),
         r"affine_forward: x flattens to D=6 features per example but w has 5 rows"),
        (lambda ops: ops.affine_forward(np.zeros((2, 6)), np.zeros((6, 3)), np.zeros(4)),
         r"affine_forward: b must have shape \(3,\), got \(4,\)"),
        (lambda ops: ops.affine_forward(np.zeros(6), np.zeros((6, 3)), np.zeros(3)),
         r"affine_forward: x must have at least 2 dims"),
    ],
    "relu": [
        (lambda ops: ops.relu_forward([1.0, -1.0]), r"relu_forward: x must be an array, got list"),
        (lambda ops: ops.relu_forward(np.arange(3)), r"relu_forward: x must have a floating dtype .* got int64"),
    ],
    "dropout": [
        (lambda ops: ops.dropout_forward(np.zeros(3), 1.0, training=True, rng=_rng()),
         r"dropout_forward: p must be in \[0, 1\), got 1.0"),
        (lambda ops: ops.dropout_forward(np.zeros(3), -0.1, training=True, rng=_rng()),
         r"dropout_forward: p must be in \[0, 1\), got -0.1"),
        (lambda ops: ops.dropout_forward(np.zeros(3), 0.5, training="yes", rng=_rng()),
         r"dropout_forward: training must be True or False, got 'yes'"),
        (lambda ops: ops.dropout_forward(np.zeros(3), 0.5, training=True, rng=3),
         r"dropout_forward: rng must be a numpy.random.Generator, got int"),
    ],
    "relu_dropout": [
        (lambda ops: ops.relu_dropout_forward(np.zeros(3), 1.5, training=True, rng=_rng()),
         r"relu_dropout_forward: p must be in \[0, 1\), got 1.5"),
        (lambda ops: ops.relu_dropout_forward(np.zeros(3), 0.5, training=True, rng=3),
         r"relu_dropout_forward: rng must be a numpy.random.Generator, got int"),
    ],
    "batchnorm": [
        (lambda ops: ops.batchnorm_forward(_x2, np.ones(2), _b3, {}, training=True),
         r"batchnorm_forward: gamma must have shape \(3,\), got \(2,\)"),
        (lambda ops: ops.batchnorm_forward(_x2, _g3, _b3, {}, training=True, momentum=1.5),
         r"batchnorm_forward: momentum must be in \[0, 1\], got 1.5"),
        (lambda ops: ops.batchnorm_forward(np.zeros((1, 3)), _g3, _b3, {}, training=True),
         r"batchnorm_forward: training needs at least 2 values per feature"),
        (lambda ops: ops.batchnorm_forward(_x2, _g3, _b3, None, training=True),
         r"batchnorm_forward: state must be a dict"),
        (lambda ops: ops.batchnorm_forward(_x2, _g3, _b3, {}, training=True, eps=0),
         r"batchnorm_forward: eps must be a positive number, got 0"),
    ],
    "spatial_batchnorm": [
        (lambda ops: ops.spatial_batchnorm_forward(_x2, _g3, _b3, {}, training=True),
         r"spatial_batchnorm_forward: x must be 4-D"),
        (lambda ops: ops.spatial_batchnorm_forward(np.zeros((2, 3, 4, 4)), np.ones(4), _b3, {}, training=False),
         r"spatial_batchnorm_forward: gamma must have shape \(3,\), got \(4,\)"),
    ],
    "batchnorm_relu_dropout": [
        (lambda ops: ops.batchnorm_relu_dropout_forward(np.zeros((4, 3, 2)), _g3, _b3, {}, 0.5, training=True,
                                                        rng=_rng()),
         r"batchnorm_relu_dropout_forward: x must be \(N, D\) or \(N, C, H, W\), got"),
        (lambda ops: ops.batchnorm_relu_dropout_forward(_x2, _g3, _b3, {}, 0.5, training=True, rng=None),
         r"batchnorm_relu_dropout_forward: rng must be a numpy.random.Generator"),
        (lambda ops: ops.batchnorm_relu_dropout_forward(_x2, _g3, _b3, {}, 1, training=True, rng=_rng()),
         r"batchnorm_relu_dropout_forward: p must be in \[0, 1\), got 1"),
        (lambda ops: ops.batchnorm_relu_dropout_forward(_x2, np.ones(4), _b3, {}, 0.5, training=False),
         r"batchnorm_relu_dropout_forward: gamma must have shape \(3,\)"),
    ],
}
for _loss in ("softmax_loss", "svm_loss"):
    ERRORS[_loss] = [
        (lambda ops, f=_loss, s=s, y=y: getattr(ops, f)(s, y), f"{_loss}: {message}") for s, y, message in [
            (np.zeros((3, 4)), np.array([0, 1, 4]), r"labels must be in \[0, 4\), got 4"),
            (np.zeros((3, 4)), np.array([0, -1, 2]), r"labels must be in \[0, 4\), got -1"),
            (np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]), r"y must hold integer class labels, got dtype float64"),
            (np.zeros((3, 4)), np.array([0, 1]), r"scores has N=3 rows but y has 2 labels"),
            (np.zeros((3, 4)), np.array([[0, 1, 2]]), r"y must be 1-D"),
            (np.zeros(4), np.array([0]), r"scores must be 2-D, got 1-D"),
            (np.zeros((0, 4)), np.array([], dtype=int), r"scores must hold at least one example"),
            (np.zeros((3, 4), dtype=np.int32), np.array([0, 1, 2]), r"scores must have a floating dtype"),
        ]]
