"""Known answers: small cases worked out by hand, for every op and update rule.

Each case calls an op module by fercnn.layers' names (fercnn.layers, fercnn.fast, or a
learner's layers.py) and returns (what, got, want) triples; tests/exercises/test_known_answers.py
holds fercnn's ops to them, and ``fercnn exercises check`` a learner's. A case is split into
its forward part and its backward part (which gets what the forward part carried), so that a
wrong answer is charged to the function that gave it.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Known:
    """label: what the case is; forward(ops) -> (triples, carry); backward(ops, carry) ->
    triples, or None; tol: relative tolerance (against the largest magnitude of want); tags:
    the case's configuration, as fercnn.exercises.checks.case_tags gives a registry case's."""
    label: str
    forward: Callable
    backward: Optional[Callable] = None
    tol: float = 1e-9
    tags: dict = field(default_factory=dict)


# ---- affine, relu ----

def _affine_forward(ops):
    x = np.arange(8.0).reshape(2, 2, 2)
    w = 0.1 * np.arange(12.0).reshape(4, 3)
    out, cache = ops.affine_forward(x, w, np.array([1.0, 2.0, 3.0]))
    return [("out", out, [[5.2, 6.8, 8.4], [12.4, 15.6, 18.8]])], cache


def _affine_backward(ops, cache):
    dx, dw, db = ops.affine_backward(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]]), cache)
    return [("dx", dx, [[[0.0, 0.3], [0.6, 0.9]], [[-0.1, -0.1], [-0.1, -0.1]]]),
            ("dw", dw, [[0, 4, -4], [1, 5, -5], [2, 6, -6], [3, 7, -7]]),
            ("db", db, [1.0, 1.0, -1.0])]


def _relu_forward(ops):
    out, cache = ops.relu_forward(np.array([[-2.0, -0.5, 0.5, 3.0]]))
    return [("out", out, [[0.0, 0.0, 0.5, 3.0]])], cache


def _relu_backward(ops, cache):
    return [("dx", ops.relu_backward(np.array([[1.0, 2.0, 3.0, 4.0]]), cache), [[0.0, 0.0, 3.0, 4.0]])]


# ---- convolution (a filter that is not symmetric, so that a flipped kernel shows) ----

_W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # top-left minus bottom-right


def _conv_forward(ops):
    x = np.arange(9.0).reshape(1, 1, 3, 3)  # rows 0 1 2 / 3 4 5 / 6 7 8
    x[0, 0, 0, 1] = 10.0  # only the window at (0, 1) sees it in its top-left corner, (0, 0) in its top-right
    out, cache = ops.conv_forward(x, _W, np.array([0.5]))
    return [("out", out, [[[[-3.5, 5.5], [-3.5, -3.5]]]])], cache


def _conv_backward(ops, cache):
    dx, dw, db = ops.conv_backward(np.array([[[[1.0, 0.0], [0.0, 0.0]]]]), cache)[:3]
    return [("dx", dx, [[[[1.0, 0, 0], [0, -1.0, 0], [0, 0, 0]]]]),
            ("dw", dw, [[[[0.0, 10.0], [3.0, 4.0]]]]),  # the window at (0, 0)
            ("db", db, [1.0])]


def _conv_stride_pad_forward(ops):
    """The same image, a 3x3 filter with 1 at its top-left and 2 at its bottom-right, stride 2,
    pad 1: out[i, j] = x_pad[2i, 2j] + 2 x_pad[2i + 2, 2j + 2], and most of those are padding."""
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0], w[0, 0, 2, 2] = 1.0, 2.0
    out, cache = ops.conv_forward(np.arange(9.0).reshape(1, 1, 3, 3), w, np.array([0.25]), stride=2, pad=1)
    return [("out", out, [[[[8.25, 0.25], [0.25, 4.25]]]])], cache


def _conv_stride_pad_backward(ops, cache):
    dx, dw, db = ops.conv_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)[:3]
    # only pixel (1, 1) was read (by windows (0, 0) and (1, 1)): 2 * 1 + 1 * 4
    return [("dx", dx, [[[[0.0, 0, 0], [0, 6.0, 0], [0, 0, 0]]]]),
            ("dw", dw, [[[[16.0, 29.0, 12.0], [30.0, 54.0, 22.0], [8.0, 13.0, 4.0]]]]),
            ("db", db, [10.0])]


# ---- max-pooling ----

def _pool_forward(ops):
    x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0]]]])
    out, cache = ops.max_pool_forward(x)
    return [("out", out, [[[[5.0, 8.0]]]])], cache


def _pool_backward(ops, cache):
    dx = ops.max_pool_backward(np.array([[[[10.0, 20.0]]]]), cache)
    return [("dx", dx, [[[[0.0, 10.0, 0.0, 0.0], [0.0, 0.0, 20.0, 0.0]]]])]


# ---- batchnorm ----

def _bn_train_forward(ops):
    """Two examples: mean (2, 4), biased variance (1, 4); gamma (1, 2), beta (0, 1)."""
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    state = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
    out, cache = ops.batchnorm_forward(x, np.array([1.0, 2.0]), np.array([0.0, 1.0]), state, training=True)
    x_hat = (x - [2.0, 4.0]) / np.sqrt(np.array([1.0, 4.0]) + 1e-5)
    return [("out", out, x_hat * [1.0, 2.0] + [0.0, 1.0]),
            ("running_mean", state["running_mean"], [0.2, 0.4]),            # 0.9 * 0 + 0.1 * mean
            ("running_var", state["running_var"], [1.0, 1.3])], cache        # 0.9 * 1 + 0.1 * var


def _bn_train_backward(ops, cache):
    """dout = (1, 0) in both features: dbeta = 1, dgamma = -1 / std; dx sums to 0 per feature."""
    dx, dgamma, dbeta = ops.batchnorm_backward(np.array([[1.0, 1.0], [0.0, 0.0]]), cache)
    std = np.sqrt(np.array([1.0, 4.0]) + 1e-5)
    x_hat = np.array([[-1.0, -1.0], [1.0, 1.0]]) * np.array([1.0, 2.0]) / std
    want_dgamma = -x_hat[1]  # sum of dout * x_hat = x_hat[0] = -x_hat[1]
    m = 2.0
    want_dx = np.array([1.0, 2.0]) / std * (np.array([[1.0, 1.0], [0.0, 0.0]]) - 1 / m - x_hat * want_dgamma / m)
    return [("dx", dx, want_dx), ("dgamma", dgamma, want_dgamma), ("dbeta", dbeta, [1.0, 1.0])]


def _bn_eval_forward(ops):
    state = {"running_mean": np.array([1.0, 2.0]), "running_var": np.array([4.0, 9.0])}
    x = np.array([[3.0, 2.0], [1.0, 8.0], [0.0, -1.0]])
    out, cache = ops.batchnorm_forward(x, np.array([2.0, 3.0]), np.array([0.5, -0.5]), state, training=False)
    want = np.array([2.0, 3.0]) * (x - [1.0, 2.0]) / np.sqrt(np.array([4.0, 9.0]) + 1e-5) + [0.5, -0.5]
    return [("out", out, want), ("running_mean", state["running_mean"], [1.0, 2.0]),  # evaluation leaves them
            ("running_var", state["running_var"], [4.0, 9.0])], cache


def _bn_eval_backward(ops, cache):
    dx, dgamma, dbeta = ops.batchnorm_backward(np.ones((3, 2)), cache)
    return [("dx", dx, np.ones((3, 2)) * np.array([2.0, 3.0]) / np.sqrt(np.array([4.0, 9.0]) + 1e-5))]


def _spatial_bn_forward(ops):
    """One channel of 2 images of 1x2 pixels, values 0, 2 / 4, 6: mean 3, variance 5."""
    x = np.array([[[[0.0, 2.0]]], [[[4.0, 6.0]]]])
    state = {}
    out, cache = ops.spatial_batchnorm_forward(x, np.array([1.0]), np.array([0.0]), state, training=True)
    return [("out", out, (x - 3.0) / np.sqrt(5.0 + 1e-5)),
            ("running_mean", state.get("running_mean"), [0.3]), ("running_var", state.get("running_var"), [1.4])], \
        cache


def _spatial_bn_backward(ops, cache):
    """dout = 1 everywhere: it moves every value together, which changes no normalised value."""
    dx, dgamma, dbeta = ops.spatial_batchnorm_backward(np.ones((2, 1, 1, 2)), cache)
    return [("dx", dx, np.zeros((2, 1, 1, 2))), ("dgamma", dgamma, [0.0]), ("dbeta", dbeta, [4.0])]


# ---- dropout ----

def _dropout_eval_forward(ops):
    x = np.array([[1.0, -2.0], [3.0, 4.0]])
    out, cache = ops.dropout_forward(x, 0.5, training=False, rng=np.random.default_rng(0))
    return [("out", out, x)], cache


def _dropout_eval_backward(ops, cache):
    return [("dx", ops.dropout_backward(np.array([[1.0, 2.0], [3.0, 4.0]]), cache), [[1.0, 2.0], [3.0, 4.0]])]


def _dropout_p0_forward(ops):
    x = np.array([[1.0, -2.0, 3.0]])
    out, cache = ops.dropout_forward(x, 0.0, training=True, rng=np.random.default_rng(0))
    return [("out", out, x)], cache


# ---- losses ----

def _softmax_uniform(ops):
    loss, dscores = ops.softmax_loss(np.zeros((5, 7)), np.arange(5))
    return [("loss", loss, np.log(7.0)), ("dscores", dscores, (np.full((5, 7), 1 / 7) - np.eye(5, 7)) / 5)], None


def _softmax_hand(ops):
    scores = np.array([[0.0, np.log(3.0)], [np.log(2.0), np.log(2.0)]])
    loss, dscores = ops.softmax_loss(scores, np.array([1, 0]))
    # row 0: p = (1/4, 3/4), true class 1; row 1: p = (1/2, 1/2), true class 0
    return [("loss", loss, -(np.log(0.75) + np.log(0.5)) / 2),
            ("dscores", dscores, np.array([[0.25, -0.25], [-0.5, 0.5]]) / 2)], None


def _softmax_huge(dtype):
    def case(ops):
        scores = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=dtype)
        loss, dscores = ops.softmax_loss(scores, np.array([1, 1]))
        # first row: wrong by 2e4, second: right; the mean is 1e4
        return [("loss", loss, 1e4), ("dscores", dscores, np.array([[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]]))], None
    return case


def _svm_hand(ops):
    scores = np.array([[3.0, 1.0, 2.5], [0.0, 2.0, 2.0]])
    loss, dscores = ops.svm_loss(scores, np.array([0, 2]))
    # row 0: margins max(0, 1-3+1)=0, max(0, 2.5-3+1)=0.5; row 1: max(0, 0-2+1)=0, max(0, 2-2+1)=1
    return [("loss", loss, 0.75), ("dscores", dscores, np.array([[-1, 0, 1], [0, 1, -1]]) / 2)], None


KNOWN = {  # registry function -> cases
    "affine": [Known("affine of x (2, 2, 2), hand computed", _affine_forward, _affine_backward)],
    "relu": [Known("relu, hand computed", _relu_forward, _relu_backward)],
    "conv": [Known("conv 2x2 on a 3x3 image, hand computed", _conv_forward, _conv_backward,
                   tags={"stride": 1, "pad": 0, "N": 1, "dtype": "float64"}),
             Known("conv 3x3 stride 2 pad 1, hand computed", _conv_stride_pad_forward, _conv_stride_pad_backward,
                   tags={"stride": 2, "pad": 1, "N": 1, "dtype": "float64"})],
    "max_pool": [Known("max-pool 2x2, hand computed", _pool_forward, _pool_backward)],
    "batchnorm": [Known("batchnorm training, two examples", _bn_train_forward, _bn_train_backward),
                  Known("batchnorm evaluation, running statistics", _bn_eval_forward, _bn_eval_backward)],
    "spatial_batchnorm": [Known("spatial batchnorm, one channel", _spatial_bn_forward, _spatial_bn_backward)],
    "dropout": [Known("dropout in evaluation is the identity", _dropout_eval_forward, _dropout_eval_backward),
                Known("dropout with p = 0 is the identity", _dropout_p0_forward)],
    "softmax_loss": [Known("softmax of equal scores: log K", _softmax_uniform),
                     Known("softmax, hand computed", _softmax_hand),
                     Known("softmax of scores +-1e4, float64", _softmax_huge(np.float64)),
                     Known("softmax of scores +-1e4, float32", _softmax_huge(np.float32), tol=1e-6)],
    "svm_loss": [Known("svm, hand computed", _svm_hand)],
}
