import re

import numpy as np
import pytest

from fercnn import layers
from fercnn.gradient_check import eval_numerical_gradient, rel_error
from fercnn.layers import conv_forward  # the readable op: the expected values
from fercnn.models import ConvNet, deep, load, shallow

SHALLOW_LIKE = dict(
    conv=[{"filters": 3, "kernel": 3, "batchnorm": True, "dropout": 0.3},
          {"filters": 4, "kernel": 3, "batchnorm": True, "dropout": 0.3, "pool": True}],
    fc=[{"units": 6, "dropout": 0.4}],
    input_shape=(1, 6, 8), num_classes=5,
)
DEEP_LIKE = dict(
    conv=[{"filters": 3, "kernel": 3, "batchnorm": True, "dropout": 0.2, "pool": True},
          {"filters": 4, "kernel": 5, "batchnorm": True, "dropout": 0.2, "pool": True}],
    fc=[{"units": 5, "batchnorm": True, "dropout": 0.3}, {"units": 6, "batchnorm": True, "dropout": 0.3}],
    input_shape=(1, 8, 8), num_classes=4,
)


def _kink_and_tie_margins(model, X, y, features, seed, monkeypatch):
    """The smallest |value| that meets a ReLU, and the smallest gap between the largest and
    second largest value of a pooling window whose maximum passes (> 0), in one training pass.

    A centred difference with h = 1e-5 moves these values by far less than 1e-3; below that,
    the numerical gradient would straddle a kink or a tie and not be the derivative.
    """
    pre_relu, gaps = [], []

    def relu_dropout_forward(x, p, **kw):
        pre_relu.append(np.abs(x).min())
        return relu_dropout(x, p, **kw)

    def batchnorm_relu_dropout_forward(x, gamma, beta, state, p, *, training, rng, momentum):
        bn = layers.spatial_batchnorm_forward if x.ndim == 4 else layers.batchnorm_forward
        h, _ = bn(x, gamma, beta, {k: v.copy() for k, v in state.items()}, training=training)
        pre_relu.append(np.abs(h).min())
        return bn_relu_dropout(x, gamma, beta, state, p, training=training, rng=rng, momentum=momentum)

    def max_pool_forward(x, *, size, stride):
        N, C, H, W = x.shape
        windows = np.sort(x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4), axis=1)
        passing = windows[:, -1] > 0
        gaps.append((windows[passing, -1] - windows[passing, -2]).min(initial=np.inf))
        return pool(x, size=size, stride=stride)

    ops = model.ops  # the functions every layer of the model calls (fercnn.models.ops)
    relu_dropout, bn_relu_dropout, pool = (ops.relu_dropout_forward, ops.batchnorm_relu_dropout_forward,
                                           ops.max_pool_forward)
    with monkeypatch.context() as m:
        m.setattr(ops, "relu_dropout_forward", relu_dropout_forward, raising=False)
        m.setattr(ops, "batchnorm_relu_dropout_forward", batchnorm_relu_dropout_forward, raising=False)
        m.setattr(ops, "max_pool_forward", max_pool_forward, raising=False)
        model.loss(X, y, features=features, rng=np.random.default_rng(seed))
    assert pre_relu, "no ReLU was seen"
    return min(pre_relu), min(gaps, default=np.inf)


def _inputs_off_kinks_and_ties(model, make_inputs, monkeypatch):
    """(X, y, features, dropout seed): the first of seeds 0, 1, ... whose training pass has
    no ReLU input within 1e-3 of 0 and no pooling tie within 1e-3 (see _kink_and_tie_margins),
    so that the check below cannot pass or fail by the luck of the draw."""
    for seed in range(100):
        X, y, features = make_inputs(np.random.default_rng(seed))
        margins = _kink_and_tie_margins(model, X, y, features, seed, monkeypatch)
        if min(margins) > 1e-3:
            return X, y, features, seed
    raise AssertionError("no inputs off kinks and ties in 100 draws")


def _grad_check(model, make_inputs, monkeypatch):
    X, y, features, seed = _inputs_off_kinks_and_ties(model, make_inputs, monkeypatch)
    loss, grads = model.loss(X, y, features=features, rng=np.random.default_rng(seed))
    assert set(grads) == set(model.params)
    for name, p in model.params.items():
        def f(_):
            return model.loss(X, y, features=features, rng=np.random.default_rng(seed))[0]
        num = eval_numerical_gradient(f, p)
        assert np.any(num != 0), f"{name}: numerical gradient all zeros"
        # rtol 1e-6 per entry; atol 1e-10 is the noise floor of centred differences on a loss
        # of order 1 in float64 (eps * |loss| / h ~ 2e-11), which tiny entries cannot beat
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-10,
                                   err_msg=f"{name}: relative error {rel_error(grads[name], num):.3e}")


@pytest.mark.parametrize("spec", [SHALLOW_LIKE, DEEP_LIKE], ids=["shallow-like", "deep-like"])
def test_whole_model_gradient(spec, monkeypatch):
    model = ConvNet(**spec, reg=0.05, dtype=np.float64, seed=3)

    def make_inputs(rng):
        return rng.standard_normal((6,) + tuple(spec["input_shape"])), rng.integers(0, spec["num_classes"], 6), None
    _grad_check(model, make_inputs, monkeypatch)


def test_hybrid_gradient(monkeypatch):
    spec = dict(SHALLOW_LIKE, input_shape=(1, 8, 8), hog={"pixels_per_cell": 4, "cells_per_block": 1})
    model = ConvNet(**spec, reg=0.01, dtype=np.float64, seed=2)
    assert model.hog_dim == 2 * 2 * 9

    def make_inputs(rng):
        return rng.standard_normal((5, 1, 8, 8)), rng.integers(0, 5, 5), rng.random((5, model.hog_dim))
    _grad_check(model, make_inputs, monkeypatch)


def test_overfits_fifty_examples():
    from fercnn.data import make_synthetic_faces, preprocess
    from fercnn.train.solver import Solver

    X, y = make_synthetic_faces(50, seed=5)
    d = preprocess({"X_train": X, "y_train": y, "X_val": X, "y_val": y}, double_by_flip=False)
    model = ConvNet(conv=[{"filters": 8, "kernel": 3, "batchnorm": True, "pool": True},
                          {"filters": 16, "kernel": 3, "batchnorm": True, "pool": True}],
                    fc=[{"units": 64}], seed=0)
    solver = Solver(model, d, update_rule="adam", optim_config={"learning_rate": 2e-3}, batch_size=25,
                    num_epochs=25, verbose=False, num_train_samples=None)
    solver.train()
    assert solver.check_accuracy(d["X_train"], y) == 1.0, solver.train_acc_history


def test_predict_batches_match_scores(rng):
    model = ConvNet(**DEEP_LIKE, seed=1)
    X = rng.standard_normal((13, 1, 8, 8)).astype(np.float32)
    scores = model.loss(X)
    probs = model.predict_proba(X, batch_size=4)
    np.testing.assert_allclose(probs.argmax(1), scores.argmax(1))
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    assert model.predict(X, batch_size=5).dtype == np.int64


def test_save_load_round_trip(tmp_path, rng):
    model = ConvNet(**DEEP_LIKE, seed=4)
    X = rng.standard_normal((9, 1, 8, 8)).astype(np.float32)
    for _ in range(3):  # move the running statistics away from 0 / 1
        model.loss(X, rng.integers(0, 4, 9))
    for stats in model.bn_state.values():  # and make each one its own
        stats["running_mean"] += rng.standard_normal(stats["running_mean"].shape).astype(np.float32)
        stats["running_var"] *= rng.uniform(0.5, 2, stats["running_var"].shape).astype(np.float32)
    for k in model.params:
        model.params[k] = model.params[k] + rng.standard_normal(model.params[k].shape).astype(np.float32) * 0.1
    model.mean_image = rng.random((1, 8, 8)).astype(np.float32)
    model.class_names = ["a", "b", "c", "d"]
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert sorted(loaded.bn_state) == sorted(model.bn_state) == ["conv1", "conv2", "fc1", "fc2"]
    for layer, stats in model.bn_state.items():
        for stat, v in stats.items():
            np.testing.assert_array_equal(loaded.bn_state[layer][stat], v, err_msg=f"{layer} {stat}")
    fresh = ConvNet(**DEEP_LIKE, seed=4)  # what a load that dropped the statistics would give
    fresh.params = loaded.params
    assert not np.allclose(fresh.predict_proba(X), model.predict_proba(X), atol=1e-3)
    np.testing.assert_array_equal(loaded.mean_image, model.mean_image)
    assert loaded.class_names == model.class_names and loaded.spec == model.spec and loaded.reg == model.reg


def test_summary_counts_every_parameter():
    for model in (shallow(), deep(), shallow(hog=True)):
        total = sum(p.size for p in model.params.values())
        assert f"total parameters: {total:,}" in model.summary()


def test_presets_follow_the_paper():
    s, d = shallow(), deep()
    assert [(b["filters"], b["kernel"], b["pool"]) for b in s.spec["conv"]] == [(32, 3, False), (64, 3, True)]
    assert [b["units"] for b in s.spec["fc"]] == [512]
    assert [(b["filters"], b["kernel"]) for b in d.spec["conv"]] == [(64, 3), (128, 5), (512, 3), (512, 3)]
    assert all(b["batchnorm"] and b["pool"] and b["dropout"] for b in d.spec["conv"])
    assert [(b["units"], b["batchnorm"]) for b in d.spec["fc"]] == [(256, True), (512, True)]
    assert shallow(hog=True).hog_dim == 900


def test_weight_init_he_or_pytorchs_uniform():
    he, uniform = shallow(seed=1), shallow(seed=1, weight_init="uniform")
    for name, fan_in in (("conv2.w", 32 * 3 * 3), ("fc1.w", 64 * 24 * 24), ("out.w", 512)):
        assert he.params[name].dtype == uniform.params[name].dtype == np.float32
        assert abs(he.params[name].std() / np.sqrt(2 / fan_in) - 1) < 0.05, name
        assert abs(uniform.params[name].std() / np.sqrt(1 / (3 * fan_in)) - 1) < 0.05, name
        assert np.abs(uniform.params[name]).max() <= 1 / np.sqrt(fan_in)
    for name in ("conv1.gamma", "conv1.beta", "fc1.b", "out.b"):  # only weights depend on it
        np.testing.assert_array_equal(he.params[name], uniform.params[name])
    with pytest.raises(ValueError, match="weight_init must be one of he, uniform, got 'xavier'"):
        shallow(weight_init="xavier")


def test_training_step_stays_float32(rng):
    from fercnn.train.solver import Solver

    model = ConvNet(**SHALLOW_LIKE)
    X = rng.standard_normal((8, 1, 6, 8)).astype(np.float32)
    y = rng.integers(0, 5, 8)
    loss, grads = model.loss(X, y)
    assert loss.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, num_epochs=1, batch_size=4,
           verbose=False).train()
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert all(v.dtype == np.float32 for s in model.bn_state.values() for v in s.values())


@pytest.mark.parametrize("kwargs,message", [
    (dict(conv=[{"filters": 4, "kernel": 4}]), r"kernel must be odd"),
    (dict(conv=[{"filters": 4, "size": 3}]), r"unknown keys \['size'\]; valid keys are"),
    (dict(conv=[{"kernel": 3}]), r"'filters' is required"),
    (dict(fc=[{"units": 0}]), r"fc block 1: units must be an integer >= 1, got 0"),
    (dict(fc=[{"units": 8, "dropout": 1.0}]), r"dropout must be in \[0, 1\), got 1.0"),
    (dict(conv=[{"filters": 2, "pool": True}], input_shape=(1, 5, 5)), r"pooling needs even height and width, got 5x5"),
    (dict(dtype=np.int32), r"dtype must be float32 or float64"),
    (dict(reg=-1), r"reg must be >= 0"),
])
def test_spec_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvNet(**kwargs)


def test_input_errors(rng):
    model = ConvNet(**SHALLOW_LIKE)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 1, 6, 8\), got \(2, 1, 8, 8\)"):
        model.loss(np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"X has dtype float64 but the model's parameters are float32"):
        model.loss(np.zeros((2, 1, 6, 8)))
    with pytest.raises(ValueError, match=r"features were given but this model has no HOG input"):
        model.loss(np.zeros((2, 1, 6, 8), np.float32), features=np.zeros((2, 3), np.float32))
    hybrid = shallow(hog=True)
    with pytest.raises(ValueError, match=r"needs features=\(N, 900\)"):
        hybrid.predict(np.zeros((2, 1, 48, 48), np.float32))
    with pytest.raises(ValueError, match=r"load: no such file: .*model.npz"):
        load("/nonexistent/model.npz")


def test_recalibrate_batchnorm_averages_batch_statistics_without_dropout(rng):
    model = ConvNet(conv=[{"filters": 3, "kernel": 3, "batchnorm": True, "dropout": 0.5}],
                    fc=[{"units": 6, "batchnorm": True, "dropout": 0.5}], input_shape=(1, 6, 6), num_classes=3,
                    dtype=np.float64, seed=4)
    X = rng.standard_normal((12, 1, 6, 6))
    params = {k: v.copy() for k, v in model.params.items()}
    drop_state = model.dropout_rng.bit_generator.state
    assert model.recalibrate_batchnorm(X, batch_size=4) == 3
    z = conv_forward(X, model.params["conv1.w"], np.zeros(3), pad=1)[0]
    batches = z.reshape(3, 4, 3, 6, 6)
    want_mean = batches.mean(axis=(1, 3, 4)).mean(axis=0)  # the mean of the three batch means
    want_var = batches.var(axis=(1, 3, 4)).mean(axis=0)
    np.testing.assert_allclose(model.bn_state["conv1"]["running_mean"], want_mean, rtol=1e-12)
    np.testing.assert_allclose(model.bn_state["conv1"]["running_var"], want_var, rtol=1e-12)
    assert all(np.array_equal(params[k], model.params[k]) for k in params), "parameters changed"
    assert model.dropout_rng.bit_generator.state == drop_state, "dropout drew masks"
    fc_before = {k: v.copy() for k, v in model.bn_state["fc1"].items()}
    model.recalibrate_batchnorm(X, batch_size=4)  # no dropout: the same statistics again
    for k, v in fc_before.items():
        np.testing.assert_allclose(model.bn_state["fc1"][k], v, rtol=1e-12)


def test_recalibrate_batchnorm_errors(rng):
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "batchnorm": True}], input_shape=(1, 6, 6), num_classes=3)
    X = rng.standard_normal((5, 1, 6, 6)).astype(np.float32)
    with pytest.raises(ValueError, match=r"recalibrate_batchnorm: batch_size must be an integer >= 2, got 1"):
        model.recalibrate_batchnorm(X, batch_size=1)
    with pytest.raises(ValueError, match=r"recalibrate_batchnorm: need at least 2 images, got 1"):
        model.recalibrate_batchnorm(X[:1])
    with pytest.raises(ValueError, match=r"model: X must have shape \(N, 1, 6, 6\)"):
        model.recalibrate_batchnorm(X[:, :, :4])


def test_prepare_names_the_shapes_it_takes():
    gray = ConvNet(conv=[{"filters": 2, "kernel": 3}], fc=[], input_shape=(1, 8, 8), num_classes=3)
    color = ConvNet(conv=[{"filters": 2, "kernel": 3}], fc=[], input_shape=(3, 8, 8), num_classes=3)
    for m in (gray, color):
        m.mean_image = np.zeros(m.spec["input_shape"], np.float32)
    assert gray.prepare(np.zeros((2, 8, 8), np.uint8)).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match=re.escape("images must be (N, 8, 8) or (N, 1, 8, 8), got shape (2, 6, 6)")):
        gray.prepare(np.zeros((2, 6, 6), np.uint8))
    with pytest.raises(ValueError, match=re.escape("images must be (N, 3, 8, 8) (the network takes 3 channels), "
                                                   "got shape (2, 8, 8)")):
        color.prepare(np.zeros((2, 8, 8), np.uint8))
