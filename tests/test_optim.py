import numpy as np
import pytest

from fercnn.optim import adam, get_rule, rmsprop, sgd, sgd_momentum

w = np.array([1.0, -2.0, 3.0])
dw = np.array([0.5, 0.25, -1.0])


def test_sgd():
    nw, _ = sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(nw, [0.95, -2.025, 3.1])


def test_sgd_momentum_two_steps():
    c = {"learning_rate": 0.1, "momentum": 0.9}
    w1, c = sgd_momentum(w, dw, c)
    np.testing.assert_allclose(c["velocity"], [-0.05, -0.025, 0.1])
    np.testing.assert_allclose(w1, [0.95, -2.025, 3.1])
    w2, c = sgd_momentum(w1, dw, c)  # v = 0.9 * v - 0.1 * dw
    np.testing.assert_allclose(c["velocity"], [-0.095, -0.0475, 0.19])
    np.testing.assert_allclose(w2, [0.855, -2.0725, 3.29])


def test_nesterov():
    c = {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}
    w1, c = sgd_momentum(w, dw, c)
    # v = -0.1 dw; w <- w + 0.9 v - 0.1 dw = w - 0.19 dw
    np.testing.assert_allclose(w1, w - 0.19 * dw)


def test_rmsprop():
    c = {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-8}
    w1, c = rmsprop(w, dw, c)
    cache = 0.1 * dw ** 2
    np.testing.assert_allclose(c["cache"], cache)
    np.testing.assert_allclose(w1, w - 0.01 * dw / (np.sqrt(cache) + 1e-8))


def test_adam_first_step_moves_by_learning_rate():
    w1, c = adam(w, dw, {"learning_rate": 0.01})
    # bias correction makes the first step lr * sign(dw) (up to epsilon)
    np.testing.assert_allclose(w1, w - 0.01 * np.sign(dw), rtol=1e-6)
    assert c["t"] == 1
    w2, c = adam(w1, 2 * dw, c)
    m = 0.9 * 0.1 * dw + 0.1 * 2 * dw
    v = 0.999 * 0.001 * dw ** 2 + 0.001 * 4 * dw ** 2
    np.testing.assert_allclose(w2, w1 - 0.01 * (m / (1 - 0.9 ** 2)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8))


@pytest.mark.parametrize("rule", [sgd, sgd_momentum, rmsprop, adam])
def test_rules_are_pure_and_keep_dtype(rule):
    w32, dw32 = w.astype(np.float32), dw.astype(np.float32)
    w_copy, config = w32.copy(), {"learning_rate": 0.1}
    nw, new_config = rule(w32, dw32, config)
    np.testing.assert_array_equal(w32, w_copy)
    assert config == {"learning_rate": 0.1} and new_config is not config
    assert nw.dtype == np.float32
    nw2, _ = rule(nw, dw32, new_config)
    assert nw2.dtype == np.float32


def test_unknown_config_key_and_rule():
    with pytest.raises(ValueError, match=r"sgd: unknown config keys \['lr'\]; valid keys are \['learning_rate'\]"):
        sgd(w, dw, {"lr": 0.1})
    with pytest.raises(ValueError, match=r"unknown update rule 'sdg'; valid rules are"):
        get_rule("sdg")
