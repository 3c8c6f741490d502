"""Batchnorm and spatial batchnorm (both faces, and the fused fast op) against the textbook
formulas written out per channel here: a loop over channels, statistics from np.mean and
np.var, and the backward staged through mean and variance (CS231n's computational graph),
not the compact three-term formula the library uses. Then the running statistics."""
import numpy as np
import pytest

import fercnn.fast as fast
import fercnn.layers as layers

EPS = 1e-5


def per_channel_formula(x, gamma, beta, running, *, training, momentum, dout):
    """out, (dx, dgamma, dbeta) and the new running statistics, one channel at a time.

    x: (N, C) or (N, C, H, W); channel c's values are x[:, c] (all of N, H, W together).
    """
    out, dx = np.empty_like(x), np.empty_like(x)
    dgamma, dbeta = np.empty_like(gamma), np.empty_like(beta)
    new_running = {k: v.copy() for k, v in running.items()}
    for c in range(x.shape[1]):
        v, g = x[:, c], dout[:, c]
        m = v.size
        if training:
            mu, var = np.mean(v), np.var(v)  # the biased variance
            new_running["running_mean"][c] = momentum * running["running_mean"][c] + (1 - momentum) * mu
            new_running["running_var"][c] = momentum * running["running_var"][c] + (1 - momentum) * var
        else:
            mu, var = running["running_mean"][c], running["running_var"][c]
        std = np.sqrt(var + EPS)
        x_hat = (v - mu) / std
        out[:, c] = gamma[c] * x_hat + beta[c]
        dbeta[c], dgamma[c] = np.sum(g), np.sum(g * x_hat)
        dx_hat = g * gamma[c]
        if not training:  # constants: out is affine in v
            dx[:, c] = dx_hat / std
            continue
        dvar = np.sum(dx_hat * (v - mu)) * -0.5 * (var + EPS) ** -1.5
        dmu = -np.sum(dx_hat) / std + dvar * np.mean(-2 * (v - mu))
        dx[:, c] = dx_hat / std + dvar * 2 * (v - mu) / m + dmu / m
    return out, (dx, dgamma, dbeta), new_running


@pytest.mark.parametrize("shape", [(7, 3), (3, 4, 5, 6)], ids=["(N, D)", "(N, C, H, W)"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("face", ["layers", "fast", "fast fused"])
def test_matches_the_per_channel_formula(face, training, shape):
    rng = np.random.default_rng(len(shape) + 10 * training)
    C = shape[1]
    x = rng.standard_normal(shape) * 2 + rng.standard_normal(C)[(slice(None),) + (None,) * (len(shape) - 2)]
    gamma, beta = rng.uniform(0.5, 1.5, C) * rng.choice([-1, 1], C), rng.standard_normal(C)
    running = {"running_mean": rng.standard_normal(C), "running_var": rng.uniform(0.5, 2, C)}
    dout = rng.standard_normal(shape)
    want_out, want_grads, want_running = per_channel_formula(x, gamma, beta, running, training=training,
                                                             momentum=0.7, dout=dout)
    state = {k: v.copy() for k, v in running.items()}
    if face == "fast fused":  # with p = 0: batchnorm, then ReLU
        out, cache = fast.batchnorm_relu_dropout_forward(x, gamma, beta, state, 0.0, training=training, momentum=0.7)
        passes = want_out > 0
        want_out = want_out * passes  # then ReLU
        want_grads = per_channel_formula(x, gamma, beta, running, training=training, momentum=0.7,
                                         dout=dout * passes)[1]
        grads = fast.batchnorm_relu_dropout_backward(dout, cache)
    else:
        ops = {"layers": layers, "fast": fast}[face]
        forward, backward = ((ops.spatial_batchnorm_forward, ops.spatial_batchnorm_backward) if len(shape) == 4
                             else (ops.batchnorm_forward, ops.batchnorm_backward))
        out, cache = forward(x, gamma, beta, state, training=training, momentum=0.7)
        grads = backward(dout, cache)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    for name, g, w in zip(("dx", "dgamma", "dbeta"), grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=name)
    for k in running:
        np.testing.assert_allclose(state[k], want_running[k], rtol=1e-13, err_msg=k)


def test_training_uses_batch_statistics_and_updates_running(ops, rng):
    x = 4 * rng.standard_normal((200, 3)) + np.array([1.0, -2.0, 5.0])
    gamma, beta = np.ones(3), np.zeros(3)
    state = {}
    out, _ = ops.batchnorm_forward(x, gamma, beta, state, training=True, momentum=0.9)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    # first use starts from 0 / 1 and moves 10% of the way to the batch statistics
    np.testing.assert_allclose(state["running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(state["running_var"], 0.9 + 0.1 * x.var(axis=0))


def test_default_momentum_is_0_9(ops, rng):
    x = rng.standard_normal((6, 2)) + 3
    state = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
    ops.batchnorm_forward(x, np.ones(2), np.zeros(2), state, training=True)
    np.testing.assert_allclose(state["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-14)


def test_running_statistics_are_updated_in_place(ops, rng):
    state = {}
    ops.batchnorm_forward(rng.standard_normal((4, 2)), np.ones(2), np.zeros(2), state, training=True)
    rm = state["running_mean"]
    ops.batchnorm_forward(rng.standard_normal((4, 2)) + 3, np.ones(2), np.zeros(2), state, training=True)
    assert state["running_mean"] is rm


def test_eval_uses_running_statistics(ops, rng):
    state = {"running_mean": np.array([1.0, 2.0]), "running_var": np.array([4.0, 9.0])}
    x = rng.standard_normal((5, 2))
    gamma, beta = np.array([2.0, 3.0]), np.array([0.5, -0.5])
    out, _ = ops.batchnorm_forward(x, gamma, beta, state, training=False, eps=0.0 + 1e-12)
    want = gamma * (x - [1.0, 2.0]) / np.sqrt([4.0, 9.0]) + beta
    np.testing.assert_allclose(out, want, rtol=1e-10)
    np.testing.assert_array_equal(state["running_mean"], [1.0, 2.0])  # eval leaves them alone


def test_eval_of_one_image_does_not_depend_on_the_batch(ops, rng):
    state = {"running_mean": rng.standard_normal(3), "running_var": rng.uniform(0.5, 2, 3)}
    x = rng.standard_normal((5, 3, 2, 2))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    whole, _ = ops.spatial_batchnorm_forward(x, gamma, beta, state, training=False)
    alone, _ = ops.spatial_batchnorm_forward(x[2:3], gamma, beta, state, training=False)
    np.testing.assert_allclose(alone[0], whole[2], rtol=1e-14)


def test_converged_running_statistics_match_training_output(ops, rng):
    x = 3 * rng.standard_normal((64, 4)) + 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    state = {}
    for _ in range(300):
        train_out, _ = ops.batchnorm_forward(x, gamma, beta, state, training=True)
    eval_out, _ = ops.batchnorm_forward(x, gamma, beta, state, training=False)
    np.testing.assert_allclose(eval_out, train_out, rtol=1e-6, atol=1e-6)
