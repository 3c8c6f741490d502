import json

import numpy as np
import pytest

from fercnn.models import ConvNet
from fercnn.solver import Solver


def _setup(rng, n=40, **model_kw):
    model = ConvNet(conv=[{"filters": 4, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 8}],
                    input_shape=(1, 8, 8), num_classes=3, seed=1, **model_kw)
    X = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, n)
    X[np.arange(n), 0, 0, y] += 3  # learnable
    return model, {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}


def test_histories_and_best_params_restored(rng):
    model, data = _setup(rng)
    seen = []
    solver = Solver(model, data, num_epochs=4, batch_size=8, verbose=False, optim_config={"learning_rate": 0.05},
                    callback=lambda s: seen.append({k: v.copy() for k, v in s.model.params.items()}))
    solver.train()
    assert len(solver.loss_history) == 4 * 5
    assert len(solver.val_acc_history) == len(solver.train_acc_history) == 4 == len(seen)
    assert solver.epoch_iterations == [5, 10, 15, 20]
    best = int(np.argmax(solver.val_acc_history))
    assert solver.best_epoch == best + 1
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, seen[best][k])


def test_batches_cover_every_example_once(rng):
    model, data = _setup(rng, n=33)
    solver = Solver(model, data, batch_size=8, verbose=False)
    batches = solver._batches(33)
    assert [len(b) for b in batches] == [8, 8, 8, 9]  # the single leftover joins the last batch
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(33))


def test_same_seed_same_training(rng):
    model_a, data = _setup(rng)
    model_b, _ = _setup(rng)
    for m in (model_a, model_b):
        Solver(m, data, num_epochs=2, batch_size=8, verbose=False, seed=3, augment_flip=True).train()
    for k in model_a.params:
        np.testing.assert_array_equal(model_a.params[k], model_b.params[k])


def test_nan_loss_stops_training(rng):
    model, data = _setup(rng)
    data["X_train"] = data["X_train"].copy()
    data["X_train"][:] = np.nan
    solver = Solver(model, data, num_epochs=1, batch_size=8, verbose=False, optim_config={"learning_rate": 0.5})
    with pytest.raises(FloatingPointError, match=r"loss became nan at iteration 1 \(epoch 1\) with learning rate 0.5"):
        solver.train()


def test_checkpoints(tmp_path, rng):
    model, data = _setup(rng)
    Solver(model, data, num_epochs=2, batch_size=16, verbose=False, checkpoint_dir=tmp_path).train()
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["epoch001_iter0000003.npz", "epoch002_iter0000006.npz"]
    hist = json.loads((tmp_path / "history.json").read_text())
    assert len(hist["val_acc"]) == 2 and len(hist["loss"]) == 6


def test_lr_decay(rng):
    model, data = _setup(rng)
    s = Solver(model, data, num_epochs=2, batch_size=20, verbose=False, optim_config={"learning_rate": 0.1},
               lr_decay=0.5)
    s.train()
    assert all(c["learning_rate"] == pytest.approx(0.025) for c in s.configs.values())


def test_configuration_errors(rng):
    model, data = _setup(rng)
    with pytest.raises(TypeError, match="unexpected keyword argument 'epochs'"):
        Solver(model, data, epochs=3)
    with pytest.raises(ValueError, match=r"sgd_momentum: unknown config keys \['lr'\]"):
        Solver(model, data, optim_config={"lr": 0.1})
    with pytest.raises(ValueError, match=r"data lacks \['X_val', 'y_val'\]"):
        Solver(model, {"X_train": data["X_train"], "y_train": data["y_train"]})
    with pytest.raises(ValueError, match=r"X_train has 40 examples but y_train has 39"):
        Solver(model, dict(data, y_train=data["y_train"][:39]))
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 2, got 1"):
        Solver(model, data, batch_size=1)
    with pytest.raises(ValueError, match=r"unknown update rule 'fast'"):
        Solver(model, data, update_rule="fast")


def test_max_seconds_stops_after_a_whole_epoch(rng):
    model, data = _setup(rng)
    s = Solver(model, data, num_epochs=50, batch_size=8, verbose=False, max_seconds=1e-9)
    s.train()
    assert s.epoch == 1 and s.stopped_early and s.history()["epochs_run"] == 1
    with pytest.raises(ValueError, match=r"max_seconds must be positive, got 0"):
        Solver(model, data, max_seconds=0)


def test_training_again_keeps_the_best_intact(rng):
    model, data = _setup(rng)
    s = Solver(model, data, num_epochs=2, batch_size=8, verbose=False)
    s.train()
    best = {k: v.copy() for k, v in s.best_params.items()}
    best_bn = {k: v["running_mean"].copy() for k, v in s.best_bn_state.items()}
    s.num_epochs = 1
    s.best_val_acc = 2.0  # nothing can beat it: the kept best must stay as it was
    s.train()
    for k in best:
        np.testing.assert_array_equal(model.params[k], best[k])
        np.testing.assert_array_equal(s.best_params[k], best[k])
    for k in best_bn:
        np.testing.assert_array_equal(model.bn_state[k]["running_mean"], best_bn[k])


def test_bn_recalibration_before_each_evaluation(rng, monkeypatch):
    model, data = _setup(rng)
    calls = []
    real = model.recalibrate_batchnorm
    monkeypatch.setattr(model, "recalibrate_batchnorm", lambda X, **kw: calls.append(len(X)) or real(X, **kw))
    Solver(model, data, num_epochs=2, batch_size=8, verbose=False, bn_recalibration=24).train()
    assert calls == [24, 24]
    calls.clear()
    Solver(model, data, num_epochs=1, batch_size=8, verbose=False, bn_recalibration=0).train()
    assert calls == []
    with pytest.raises(ValueError, match=r"Solver: bn_recalibration must be an integer >= 0, got -1"):
        Solver(model, data, bn_recalibration=-1)
