import json

import numpy as np
import pytest

from fercnn.models import ConvNet
from fercnn.train.solver import Solver


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


def test_early_stop_after_epochs_without_a_better_validation_accuracy(rng, tmp_path):
    # no batchnorm and a learning rate too small to change a prediction: validation accuracy
    # is the same after every epoch, so epoch 1 stays the best
    _, data = _setup(rng)
    model = ConvNet(conv=[{"filters": 4, "kernel": 3, "pool": True}], fc=[{"units": 8}], input_shape=(1, 8, 8),
                    num_classes=3, seed=1)
    kw = dict(num_epochs=10, batch_size=8, verbose=False, update_rule="sgd", optim_config={"learning_rate": 1e-30},
              checkpoint_dir=tmp_path / "ck")
    s = Solver(model, data, early_stop=2, **kw)
    s.train()
    assert s.epoch == 3 and s.best_epoch == 1 and s.stopped_early and len(set(s.val_acc_history)) == 1
    assert s.history()["epochs_run"] == 3 and s.history()["stopped_early"]
    again = Solver(model, data, early_stop=2, **kw)  # resumed: it had stopped, and stays stopped
    again.train(resume=True)
    assert again.already_finished and again.epoch == 3 and len(again.loss_history) == len(s.loss_history)
    longer = Solver(model, data, early_stop=4, **kw)  # a longer patience may be given on resume
    longer.train(resume=True)
    assert not longer.already_finished and longer.epoch == 5 and longer.stopped_early
    with pytest.raises(ValueError, match=r"early_stop must be an integer >= 1, got 0"):
        Solver(model, data, early_stop=0)


def test_training_again_keeps_the_best_intact(rng):
    model, data = _setup(rng)
    s = Solver(model, data, num_epochs=2, batch_size=8, verbose=False)
    s.train()
    kept = {k: v.copy() for k, v in s.best.items()}
    assert any(k.startswith("bn/") for k in kept) and any(k.startswith("param/") for k in kept)
    s.num_epochs = 1
    s.best_val_acc = 2.0  # nothing can beat it: the kept best must stay as it was
    s.train()
    shown = model.state_dict()[1]
    for k in kept:
        np.testing.assert_array_equal(shown[k], kept[k], err_msg=k)
        np.testing.assert_array_equal(s.best[k], kept[k], err_msg=k)


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


def test_best_epoch_is_the_one_with_the_best_validation_accuracy(tmp_path, rng):
    """Validation accuracies known and different: the best is epoch 2, neither first nor last;
    the model ends with epoch 2's parameters and statistics, and its checkpoint is kept."""
    val_acc = {1: 0.6, 2: 0.9, 3: 0.5, 4: 0.4, 5: 0.7}
    model, data = _setup(rng)
    ends = []
    solver = Solver(model, data, num_epochs=5, batch_size=8, verbose=False, checkpoint_dir=tmp_path,
                    callback=lambda s: ends.append(({k: v.copy() for k, v in s.model.params.items()},
                                                    {k: {stat: a.copy() for stat, a in v.items()}
                                                     for k, v in s.model.bn_state.items()})))
    solver.check_accuracy = lambda X, y, **kw: val_acc[solver.epoch] if X is data["X_val"] else 0.5
    solver.train()
    assert solver.val_acc_history == [0.6, 0.9, 0.5, 0.4, 0.7]
    assert solver.best_epoch == 2 and solver.best_val_acc == 0.9
    params, bn_state = ends[1]
    assert not all(np.array_equal(params[k], ends[-1][0][k]) for k in params), "epochs 2 and 5 end alike"
    for k in params:
        np.testing.assert_array_equal(model.params[k], params[k], err_msg=k)
    for layer, stats in bn_state.items():
        for stat, v in stats.items():
            np.testing.assert_array_equal(model.bn_state[layer][stat], v, err_msg=f"{layer} {stat}")
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [
        "epoch002_iter0000010.npz", "epoch004_iter0000020.npz", "epoch005_iter0000025.npz"]


def test_augment_flip_mirrors_left_to_right(rng):
    model = ConvNet(conv=[], fc=[], input_shape=(1, 4, 5), num_classes=3, dtype=np.float64, seed=0)
    X = np.arange(24 * 20, dtype=np.float64).reshape(24, 1, 4, 5)  # no image is its own mirror
    y = rng.integers(0, 3, 24)
    originals = {x.tobytes() for x in X}
    mirrors = {x[:, :, ::-1].tobytes() for x in X}
    seen = []  # every image a training step was given
    loss = model.loss

    def recording_loss(X, y=None, **kw):
        if y is not None:
            seen.extend(x.tobytes() for x in X)
        return loss(X, y, **kw)

    model.loss = recording_loss
    Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, num_epochs=2, batch_size=8, verbose=False,
           augment_flip=True, optim_config={"learning_rate": 1e-6}).train()
    assert len(seen) == 48
    assert all(x in originals or x in mirrors for x in seen), "a training image is neither itself nor its mirror"
    flipped = sum(x in mirrors for x in seen)
    assert 10 < flipped < 38, f"{flipped} of 48 flipped, expected about half"
    np.testing.assert_array_equal(X, np.arange(24 * 20, dtype=np.float64).reshape(24, 1, 4, 5))  # data untouched


def test_keep_epochs_keeps_the_last_epoch_ends_and_changes_nothing_else(rng, tmp_path):
    import os

    from fercnn.train.checkpoint import checkpoint_name

    model, data = _setup(rng)
    kw = dict(num_epochs=6, batch_size=8, verbose=False, optim_config={"learning_rate": 0.05}, checkpoint_every=3)
    plain = Solver(model, data, checkpoint_dir=tmp_path / "plain", **kw)
    plain.train()
    kept = Solver(ConvNet(**{k: model.spec[k] for k in ("conv", "fc", "input_shape", "num_classes")}, seed=1), data,
                  checkpoint_dir=tmp_path / "kept", keep_epochs=3, **kw)
    kept.train()
    assert kept.loss_history == plain.loss_history  # the run itself is the same
    ends = [checkpoint_name(e, it) for e, it in enumerate(kept.epoch_iterations, 1)]
    on_disk = set(os.listdir(tmp_path / "kept")) - {"history.json"}
    assert set(ends[-3:]) <= on_disk and not set(ends[:3]) - {kept.best_checkpoint} & on_disk
    assert set(ends[-3:]) - set(os.listdir(tmp_path / "plain"))  # without it, older epoch ends are pruned
    with pytest.raises(ValueError, match="keep_epochs keeps checkpoints; it needs a checkpoint_dir"):
        Solver(model, data, keep_epochs=2)
    with pytest.raises(ValueError, match=r"keep_epochs must be an integer >= 0, got -1"):
        Solver(model, data, keep_epochs=-1, checkpoint_dir=tmp_path / "x")


def test_keep_epochs_is_the_runs_own_on_resume_and_a_smaller_one_is_warned_about(rng, tmp_path):
    import os

    from fercnn.train.checkpoint import checkpoint_name

    model, data = _setup(rng)
    spec = {k: model.spec[k] for k in ("conv", "fc", "input_shape", "num_classes")}
    kw = dict(batch_size=8, verbose=False, optim_config={"learning_rate": 0.05}, checkpoint_dir=tmp_path / "ck")
    Solver(model, data, num_epochs=4, keep_epochs=3, **kw).train()
    again = Solver(ConvNet(**spec, seed=1), data, num_epochs=6, **kw)  # resumed without keep_epochs
    again.train(resume=True)
    assert again.keep_epochs == 3
    ends = [checkpoint_name(e, it) for e, it in enumerate(again.epoch_iterations, 1)]
    assert set(ends[-3:]) <= set(os.listdir(tmp_path / "ck"))
    fewer = Solver(ConvNet(**spec, seed=1), data, num_epochs=7, keep_epochs=1, **kw)
    with pytest.warns(RuntimeWarning, match="kept the checkpoints of the last 3 epochs' ends; this run keeps 1"):
        fewer.train(resume=True)
    on_disk = set(os.listdir(tmp_path / "ck"))
    ends = [checkpoint_name(e, it) for e, it in enumerate(fewer.epoch_iterations, 1)]
    gone = {ends[3], ends[4]} - {fewer.best_checkpoint}  # epochs 4 and 5: kept before, neither newest two now
    assert ends[-1] in on_disk and gone and not gone & on_disk
