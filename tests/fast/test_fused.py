"""fercnn/fast/fused.py: batchnorm -> ReLU -> dropout in one op. What every op shares (fused
equals the readable ops one after another, gradients, dtypes, PyTorch, errors) is in
tests/test_ops.py and tests/test_torch.py; here, what is the fused op's own contract."""
import numpy as np
import pytest
from op_registry import keep_mask

import fercnn.fast as fast


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 6, 5)])
def test_drops_what_the_rule_drops_after_relu(shape):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    C = shape[1]
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    h, _ = fast.batchnorm_relu_dropout_forward(x, gamma, beta, {}, 0.0, training=True)  # batchnorm, ReLU
    out, cache = fast.batchnorm_relu_dropout_forward(x, gamma, beta, {}, 0.4, training=True,
                                                     rng=np.random.default_rng(6))
    np.testing.assert_array_equal(out, np.where(keep_mask(6, 0.4, shape), h * (1 / 0.6), 0))


def test_no_dropout_needs_no_rng():
    """Without dropout (evaluation, or p == 0) nothing is drawn, and rng may be None."""
    x = np.random.default_rng(0).standard_normal((6, 3))
    state = {}
    out, _ = fast.batchnorm_relu_dropout_forward(x, np.ones(3), np.zeros(3), state, 0.0, training=True)
    assert (out >= 0).all() and (out > 0).any()
    out, _ = fast.batchnorm_relu_dropout_forward(x, np.ones(3), np.zeros(3), state, 0.5, training=False)
    assert (out >= 0).all() and (out > 0).any()


def test_running_statistics_are_updated_in_place():
    state = {}
    x = np.random.default_rng(1).standard_normal((5, 2, 3, 3))
    fast.batchnorm_relu_dropout_forward(x, np.ones(2), np.zeros(2), state, 0.0, training=True)
    rm, rv = state["running_mean"], state["running_var"]
    fast.batchnorm_relu_dropout_forward(x + 3, np.ones(2), np.zeros(2), state, 0.0, training=True)
    assert state["running_mean"] is rm and state["running_var"] is rv
    np.testing.assert_allclose(rm, 0.9 * 0.1 * x.mean(axis=(0, 2, 3)) + 0.1 * (x + 3).mean(axis=(0, 2, 3)))
