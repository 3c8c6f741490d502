"""train() called again continues from where training stopped, not from the best parameters."""
import numpy as np

from fercnn.models import ConvNet
from fercnn.train import checkpoint as ckpt
from fercnn.train.solver import Solver

# validation accuracy by epoch: the best is epoch 1, so the last parameters are not the best
VAL_ACC = {1: 0.9, 2: 0.5, 3: 0.4}


def _solver(**options):
    rng = np.random.default_rng(5)
    model = ConvNet(conv=[{"filters": 4, "kernel": 3, "batchnorm": True, "dropout": 0.2, "pool": True}],
                    fc=[{"units": 8, "batchnorm": True}], input_shape=(1, 8, 8), num_classes=3, seed=1)
    X = rng.standard_normal((40, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    data = {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=8,
                    verbose=False, bn_recalibration=16, **options)
    solver.check_accuracy = lambda X, y, **kw: VAL_ACC[solver.epoch] if X is data["X_val"] else 0.5
    return solver


def _same_params(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


def test_training_again_goes_on_from_the_last_parameters_and_shows_the_best_at_the_end(tmp_path):
    whole = _solver(num_epochs=3).train()
    twice = _solver(num_epochs=2).train()
    assert twice.best_epoch == 1 and _same_params(twice.model.params, {k[6:]: v for k, v in twice.best.items() if k.startswith('param/')})
    twice.num_epochs = 3
    twice.train()
    assert twice.loss_history == whole.loss_history  # epoch 3 went on from epoch 2's parameters
    assert _same_params(twice.model.params, whole.model.params) and twice.best_epoch == whole.best_epoch == 1
    for layer, stats in whole.model.bn_state.items():
        assert all(np.array_equal(v, twice.model.bn_state[layer][s]) for s, v in stats.items())


def test_a_checkpoint_written_after_train_holds_the_last_parameters(tmp_path):
    solver = _solver(num_epochs=2).train()
    best = {k: v.copy() for k, v in solver.model.params.items()}
    solver.save_checkpoint(tmp_path)
    assert _same_params(solver.model.params, best)  # the model still shows the best
    meta, entries = ckpt.read_checkpoint(ckpt.list_checkpoints(tmp_path)[0])
    assert not meta["checkpoint"]["best_is_current"]
    assert _same_params({k: entries[f"best/param/{k}"] for k in best}, best)
    resumed = _solver(num_epochs=3, checkpoint_dir=tmp_path).train(resume=True)
    whole = _solver(num_epochs=3).train()
    assert resumed.loss_history == whole.loss_history  # epoch 3 went on from epoch 2's parameters
