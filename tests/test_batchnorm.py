import numpy as np
import pytest



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


def test_converged_running_statistics_match_training_output(ops, rng):
    x = 3 * rng.standard_normal((64, 4)) + 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    state = {}
    for _ in range(300):
        train_out, _ = ops.batchnorm_forward(x, gamma, beta, state, training=True)
    eval_out, _ = ops.batchnorm_forward(x, gamma, beta, state, training=False)
    np.testing.assert_allclose(eval_out, train_out, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_spatial_equals_bn_on_reshape(ops, rng, training):
    x = rng.standard_normal((3, 4, 5, 6)) * 2 + 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    running = {"running_mean": rng.standard_normal(4), "running_var": rng.random(4) + 1}
    s1 = {k: v.copy() for k, v in running.items()}
    s2 = {k: v.copy() for k, v in running.items()}
    out, cache = ops.spatial_batchnorm_forward(x, gamma, beta, s1, training=training)
    x2 = x.transpose(0, 2, 3, 1).reshape(-1, 4)
    out2, cache2 = ops.batchnorm_forward(x2, gamma, beta, s2, training=training)
    np.testing.assert_allclose(out, out2.reshape(3, 5, 6, 4).transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s1["running_mean"], s2["running_mean"])
    np.testing.assert_allclose(s1["running_var"], s2["running_var"])
    dout = rng.standard_normal(x.shape)
    dx, dg, db = ops.spatial_batchnorm_backward(dout, cache)
    dx2, dg2, db2 = ops.batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, 4), cache2)
    np.testing.assert_allclose(dx, dx2.reshape(3, 5, 6, 4).transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dg, dg2)
    np.testing.assert_allclose(db, db2)
