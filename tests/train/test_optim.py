"""The update rules of fercnn/train/optim.py, step by step against loops written out here, the
rules' state (velocity, moments, step count) included; one Solver run with Nesterov momentum
against the rule applied by hand."""
import numpy as np
import pytest

from fercnn.models import ConvNet
from fercnn.train.optim import adam, get_rule, rmsprop, sgd, sgd_momentum
from fercnn.train.solver import Solver

w = np.array([1.0, -2.0, 3.0])
dw = np.array([0.5, 0.25, -1.0])
STEPS = 5


def _gradients(seed=0):
    """A different gradient at every step: a rule wrong from the second step on shows."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)) for _ in range(STEPS)]


def _run(rule, config):
    """w and config after each of STEPS steps of ``rule`` from the same start."""
    w, c, seen = np.random.default_rng(1).standard_normal((3, 4)), dict(config), []
    for g in _gradients():
        w, c = rule(w, g, c)
        seen.append((w, c))
    return seen


def test_sgd_steps():
    lr = 0.1
    w_ref = np.random.default_rng(1).standard_normal((3, 4))
    for (got_w, _), g in zip(_run(sgd, {"learning_rate": lr}), _gradients()):
        w_ref = w_ref - lr * g
        np.testing.assert_allclose(got_w, w_ref, rtol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_steps(nesterov):
    """Classical: v = mu v - lr dw, w += v. Nesterov in the change of variables of CS231n
    (Sutskever et al.): v_prev = v; v = mu v - lr dw; w += -mu v_prev + (1 + mu) v."""
    lr, mu = 0.1, 0.9
    w_ref, v = np.random.default_rng(1).standard_normal((3, 4)), np.zeros((3, 4))
    steps = _run(sgd_momentum, {"learning_rate": lr, "momentum": mu, "nesterov": nesterov})
    for k, ((got_w, c), g) in enumerate(zip(steps, _gradients())):
        v_prev = v
        v = mu * v - lr * g
        w_ref = w_ref + (-mu * v_prev + (1 + mu) * v if nesterov else v)
        np.testing.assert_allclose(c["velocity"], v, rtol=1e-13, err_msg=f"velocity after step {k + 1}")
        np.testing.assert_allclose(got_w, w_ref, rtol=1e-13, err_msg=f"w after step {k + 1}")


def test_rmsprop_steps():
    lr, decay, eps = 0.01, 0.9, 1e-8
    w_ref, cache = np.random.default_rng(1).standard_normal((3, 4)), np.zeros((3, 4))
    steps = _run(rmsprop, {"learning_rate": lr, "decay_rate": decay, "epsilon": eps})
    for k, ((got_w, c), g) in enumerate(zip(steps, _gradients())):
        cache = decay * cache + (1 - decay) * g ** 2
        w_ref = w_ref - lr * g / (np.sqrt(cache) + eps)
        np.testing.assert_allclose(c["cache"], cache, rtol=1e-13, err_msg=f"cache after step {k + 1}")
        np.testing.assert_allclose(got_w, w_ref, rtol=1e-13, err_msg=f"w after step {k + 1}")


def test_adam_steps():
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-8  # not the defaults: a rule that ignores them shows
    w_ref, m, v = np.random.default_rng(1).standard_normal((3, 4)), np.zeros((3, 4)), np.zeros((3, 4))
    steps = _run(adam, {"learning_rate": lr, "beta1": b1, "beta2": b2, "epsilon": eps})
    for t, ((got_w, c), g) in enumerate(zip(steps, _gradients()), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        w_ref = w_ref - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        assert c["t"] == t
        np.testing.assert_allclose(c["m"], m, rtol=1e-13, err_msg=f"m after step {t}")
        np.testing.assert_allclose(c["v"], v, rtol=1e-13, err_msg=f"v after step {t}")
        np.testing.assert_allclose(got_w, w_ref, rtol=1e-13, err_msg=f"w after step {t}")


def test_solver_with_nesterov_applies_the_rule_to_every_step():
    """A Solver run (sgd_momentum, nesterov=True, lr decay between epochs) ends where the rule,
    applied by hand to the gradients the model returned, ends."""
    rng = np.random.default_rng(0)
    model = ConvNet(conv=[], fc=[{"units": 5}], input_shape=(1, 4, 4), num_classes=3, dtype=np.float64, seed=2)
    X, y = rng.standard_normal((24, 1, 4, 4)), rng.integers(0, 3, 24)
    start = {k: v.copy() for k, v in model.params.items()}
    seen = []
    loss = model.loss

    def recording_loss(X, y=None, **kw):
        out = loss(X, y, **kw)
        if y is not None:
            seen.append({k: g.copy() for k, g in out[1].items()})
        return out

    model.loss = recording_loss
    lr, mu, decay = 0.05, 0.9, 0.5
    ends = []  # the parameters at the end of each epoch (at the very end the model shows the best)
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, update_rule="sgd_momentum",
                    optim_config={"learning_rate": lr, "momentum": mu, "nesterov": True}, lr_decay=decay,
                    batch_size=8, num_epochs=2, verbose=False,
                    callback=lambda s: ends.append({k: p.copy() for k, p in s.model.params.items()}))
    solver.train()
    assert len(seen) == 6  # 2 epochs of 3 batches
    w = {k: v.copy() for k, v in start.items()}
    v = {k: np.zeros_like(p) for k, p in start.items()}
    for step, grads in enumerate(seen):
        rate = lr * decay ** (step // 3)
        for k in w:
            v_prev = v[k]
            v[k] = mu * v[k] - rate * grads[k]
            w[k] = w[k] + (-mu * v_prev + (1 + mu) * v[k])
    for k in w:
        np.testing.assert_allclose(ends[-1][k], w[k], rtol=1e-12, err_msg=k)
        np.testing.assert_allclose(solver.configs[k]["velocity"], v[k], rtol=1e-12, err_msg=k)


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
