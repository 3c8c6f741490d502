"""Checkpoints hold the whole run: an interrupted and resumed run ends bit for bit where the
uninterrupted one does. Interruptions here are exceptions raised inside a training step;
tests/test_resume_kill.py kills a real process with SIGKILL."""
import json
import os

import numpy as np
import pytest

from fercnn.models import ConvNet, load
from fercnn.train import checkpoint as ckpt
from fercnn.train.solver import Solver


def _setup(n=40, **model_kw):
    rng = np.random.default_rng(5)
    model = ConvNet(conv=[{"filters": 4, "kernel": 3, "batchnorm": True, "dropout": 0.2, "pool": True}],
                    fc=[{"units": 8, "batchnorm": True, "dropout": 0.3}], input_shape=(1, 8, 8), num_classes=3,
                    seed=1, **model_kw)
    X = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, n)
    X[np.arange(n), 0, 0, y] += 3  # learnable
    return model, {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}


# every source of randomness on: dropout masks, flips, accuracy samples, recalibration images
OPTIONS = dict(num_epochs=3, batch_size=8, verbose=False, augment_flip=True, num_train_samples=10,
               bn_recalibration=16, checkpoint_every=2)


class Interrupted(Exception):
    pass


def _interrupt_at(solver, iteration):
    """Make solver's training raise once it reaches ``iteration`` (as a kill would, after
    that step's work and before any checkpoint that would follow it)."""
    real = solver._step

    def step(idx):
        if len(solver.loss_history) + 1 == iteration:
            raise Interrupted
        return real(idx)
    solver._step = step


def _assert_same_run(a, b):
    for k in a.model.params:
        assert np.array_equal(a.model.params[k], b.model.params[k]), k
    for layer, stats in a.model.bn_state.items():
        for s in stats:
            assert np.array_equal(stats[s], b.model.bn_state[layer][s]), f"{layer}/{s}"
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history and a.val_acc_history == b.val_acc_history
    assert (a.best_epoch, a.best_val_acc, a.epoch_iterations) == (b.best_epoch, b.best_val_acc, b.epoch_iterations)
    assert a.model.dropout_rng.bit_generator.state == b.model.dropout_rng.bit_generator.state
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("rule,config", [
    ("sgd_momentum", {"learning_rate": 0.05}),
    ("sgd_momentum", {"learning_rate": 0.05, "nesterov": True}),
    ("adam", {"learning_rate": 1e-2}),
    ("rmsprop", {"learning_rate": 1e-2}),
])
def test_interrupted_runs_end_bit_for_bit_as_uninterrupted(tmp_path, rule, config):
    kw = dict(OPTIONS, update_rule=rule, optim_config=config, lr_decay=0.9)
    model, data = _setup()
    whole = Solver(model, data, checkpoint_dir=tmp_path / "whole", **kw).train()

    # interrupted mid-epoch (iteration 8 of 15; last checkpoint at 6), then at an epoch's end
    # (iteration 11; the checkpoint at the end of epoch 2 is iteration 10), then left to finish
    for stop in (8, 11, None):
        model, _ = _setup()
        run = Solver(model, data, checkpoint_dir=tmp_path / "cut", **kw)
        if stop is not None:
            _interrupt_at(run, stop)
        try:
            run.train(resume=stop != 8)
        except Interrupted:
            continue
    _assert_same_run(whole, run)
    assert [r["checkpoint"] for r in run.resumes] == ["epoch002_iter0000006.npz", "epoch002_iter0000010.npz"]
    assert run.history()["resumes"] == run.resumes
    saved = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert len(saved["resumes"]) == 2 and saved["loss"] == whole.loss_history


def test_raising_num_epochs_on_resume_continues_the_run(tmp_path):
    model, data = _setup()
    longer = Solver(model, data, checkpoint_dir=tmp_path / "a", **dict(OPTIONS, num_epochs=4)).train()
    model, _ = _setup()
    Solver(model, data, checkpoint_dir=tmp_path / "b", **OPTIONS).train()
    model, _ = _setup()
    more = Solver(model, data, checkpoint_dir=tmp_path / "b", **dict(OPTIONS, num_epochs=4))
    assert more.resume() == 3  # the run was started for 3 epochs
    more.train(resume=True)
    assert not more.already_finished
    _assert_same_run(longer, more)


def test_resuming_a_finished_run_trains_nothing(tmp_path):
    model, data = _setup()
    done = Solver(model, data, checkpoint_dir=tmp_path, **OPTIONS).train()
    model, _ = _setup()
    again = Solver(model, data, checkpoint_dir=tmp_path, **OPTIONS).train(resume=True)
    assert again.already_finished and len(again.loss_history) == len(done.loss_history)
    for k in model.params:  # the best parameters, as at the end of the original run
        assert np.array_equal(again.model.params[k], done.model.params[k])


def test_truncated_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    model, data = _setup()
    whole = Solver(model, data, checkpoint_dir=tmp_path / "whole", **OPTIONS).train()
    model, _ = _setup()
    cut = Solver(model, data, checkpoint_dir=tmp_path / "cut", **OPTIONS)
    _interrupt_at(cut, 9)
    with pytest.raises(Interrupted):
        cut.train()
    paths = ckpt.list_checkpoints(tmp_path / "cut")
    newest = paths[-1]
    assert os.path.basename(newest) == "epoch002_iter0000008.npz"
    size = os.path.getsize(newest)
    with open(newest, "r+b") as f:
        f.truncate(size // 2)  # a copy cut short
    model, _ = _setup()
    run = Solver(model, data, checkpoint_dir=tmp_path / "cut", **OPTIONS)
    with pytest.warns(RuntimeWarning, match=r"skipping .*epoch002_iter0000008.npz: checkpoint: .* is not a complete "
                                            r"fercnn file"):
        run.train(resume=True)
    assert run.resumed_from == "epoch002_iter0000006.npz"
    _assert_same_run(whole, run)


def test_pruning_keeps_the_newest_two_and_the_best(tmp_path):
    model, data = _setup()
    s = Solver(model, data, checkpoint_dir=tmp_path, **dict(OPTIONS, num_epochs=5, checkpoint_every=1))
    seen = []
    s.callback = lambda solver: seen.append(sorted(os.listdir(tmp_path)))
    s.train()
    names = [os.path.basename(p) for p in ckpt.list_checkpoints(tmp_path)]
    best = ckpt.checkpoint_name(s.best_epoch, s.epoch_iterations[s.best_epoch - 1])
    assert set(names) == {best, "epoch005_iter0000024.npz", "epoch005_iter0000025.npz"}
    assert all(len([n for n in listing if n.endswith(".npz")]) <= 3 for listing in seen)
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]
    # the best checkpoint is a model file too: loading it gives the best parameters
    best_model = load(tmp_path / best)
    for k in s.model.params:
        assert np.array_equal(best_model.params[k], s.model.params[k])


@pytest.mark.parametrize("change,message", [
    (dict(batch_size=4), r"batch_size=8, but this run has batch_size=4"),
    (dict(optim_config={"learning_rate": 0.5}), r"optim_config.learning_rate=0.05, but this run has "
                                                r"optim_config.learning_rate=0.5"),
    (dict(seed=7), r"seed=0, but this run has seed=7"),
    (dict(update_rule="adam", optim_config={"learning_rate": 0.05}), r"update_rule='sgd_momentum'.*update_rule='adam'"),
    (dict(bn_recalibration=0), r"bn_recalibration=16, but this run has bn_recalibration=0"),
])
def test_resume_with_other_options_is_refused(tmp_path, change, message):
    model, data = _setup()
    Solver(model, data, checkpoint_dir=tmp_path, optim_config={"learning_rate": 0.05}, **OPTIONS).train()
    model, _ = _setup()
    kw = dict(OPTIONS, optim_config={"learning_rate": 0.05}, **{k: v for k, v in change.items() if k != "optim_config"})
    kw.update({k: v for k, v in change.items() if k == "optim_config"})
    with pytest.raises(ValueError, match=rf"resume: .*epoch003_iter0000015.npz is a run with {message}; resume with the options"):
        Solver(model, data, checkpoint_dir=tmp_path, **kw).train(resume=True)


def test_resume_with_another_network_or_other_data_is_refused(tmp_path):
    model, data = _setup()
    Solver(model, data, checkpoint_dir=tmp_path, **OPTIONS).train()
    other = ConvNet(conv=[{"filters": 5, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 8}],
                    input_shape=(1, 8, 8), num_classes=3, seed=1)
    with pytest.raises(ValueError, match=r"is a run with another network, but this run has model.spec.conv\[0\]"):
        Solver(other, data, checkpoint_dir=tmp_path, **OPTIONS).train(resume=True)
    model, _ = _setup()
    changed = dict(data, X_train=data["X_train"] + np.float32(1))
    with pytest.raises(ValueError, match=r"is a run with other data, but this run has data="):
        Solver(model, changed, checkpoint_dir=tmp_path, **OPTIONS).train(resume=True)


def test_resume_errors(tmp_path):
    model, data = _setup()
    with pytest.raises(ValueError, match=r"resume: no checkpoint in .*empty"):
        Solver(model, data, checkpoint_dir=tmp_path / "empty", **OPTIONS).train(resume=True)
    with pytest.raises(ValueError, match=r"resume needs the checkpoint_dir"):
        Solver(model, data, **dict(OPTIONS, checkpoint_every=None)).train(resume=True)
    with pytest.raises(ValueError, match=r"checkpoint_every needs a checkpoint_dir"):
        Solver(model, data, **OPTIONS)
    with pytest.raises(ValueError, match=r"checkpoint_every must be an integer >= 1, got 0"):
        Solver(model, data, checkpoint_dir=tmp_path, **dict(OPTIONS, checkpoint_every=0))
    # only torn files: none complete
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "epoch001_iter0000005.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.warns(RuntimeWarning, match="skipping"), \
            pytest.raises(ValueError, match=r"none of the checkpoints in .*torn is complete: epoch001_iter0000005.npz"):
        Solver(model, data, checkpoint_dir=tmp_path / "torn", **OPTIONS).train(resume=True)
    # a fresh run into a folder that holds another run's checkpoints
    Solver(model, data, checkpoint_dir=tmp_path / "run", **OPTIONS).train()
    model, _ = _setup()
    with pytest.raises(ValueError, match=r"already holds checkpoints of a run; continue it with train\(resume=True\)"):
        Solver(model, data, checkpoint_dir=tmp_path / "run", **OPTIONS).train()


def test_a_model_file_is_not_a_checkpoint(tmp_path):
    model, data = _setup()
    model.save(tmp_path / "epoch001_iter0000001.npz")
    with pytest.warns(RuntimeWarning, match=r"is a model file, not a training checkpoint"), \
            pytest.raises(ValueError, match="none of the checkpoints"):
        Solver(model, data, checkpoint_dir=tmp_path, **OPTIONS).train(resume=True)


def test_the_epoch_line_says_where_the_run_was_resumed_from(tmp_path, capsys):
    model, data = _setup()
    cut = Solver(model, data, checkpoint_dir=tmp_path, **OPTIONS)
    _interrupt_at(cut, 8)
    with pytest.raises(Interrupted):
        cut.train()
    model, _ = _setup()
    Solver(model, data, checkpoint_dir=tmp_path, **dict(OPTIONS, verbose=True)).train(resume=True)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "resumed from " in text and "continuing at epoch 2, batch 2" in text
    assert "epoch 2/3: loss" in text and "(resumed from epoch002_iter0000006.npz)" in text
    assert "epoch 3/3: loss" in text and text.count("(resumed from") == 1


def test_an_empty_validation_split_is_refused():
    model, data = _setup()
    with pytest.raises(ValueError, match="the validation split is empty"):
        Solver(model, dict(data, X_val=data["X_val"][:0], y_val=data["y_val"][:0]), **OPTIONS)


def test_the_thread_count_is_recorded_and_another_one_warned_about(tmp_path, monkeypatch):
    import warnings

    import fercnn.train.state
    from fercnn.runtime import thread_count

    model, data = _setup()
    monkeypatch.setattr(fercnn.train.state, "thread_count", lambda: 64)
    Solver(model, data, checkpoint_dir=tmp_path / "other", **OPTIONS).train()
    meta, _ = ckpt.read_checkpoint(ckpt.list_checkpoints(tmp_path / "other")[-1])
    assert meta["checkpoint"]["threads"] == 64
    monkeypatch.undo()
    model, _ = _setup()
    with pytest.warns(RuntimeWarning) as caught:
        Solver(model, data, checkpoint_dir=tmp_path / "other", **OPTIONS).train(resume=True)  # resumed, not refused
    messages = [str(w.message) for w in caught]
    assert messages == [f"checkpoint {ckpt.list_checkpoints(tmp_path / 'other')[-1]} was written with 64 threads, "
                        f"this process has {thread_count()}: the resumed run will not be bit-identical to an "
                        "uninterrupted one"]
    # the same count, or a checkpoint from before the count was recorded: not a word
    model, _ = _setup()
    Solver(model, data, checkpoint_dir=tmp_path / "same", **OPTIONS).train()
    model, _ = _setup()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Solver(model, data, checkpoint_dir=tmp_path / "same", **OPTIONS).train(resume=True)
    real = Solver.state_dict

    def without_threads(solver):
        meta, arrays = real(solver)
        del meta["checkpoint"]["threads"]
        return meta, arrays
    monkeypatch.setattr(Solver, "state_dict", without_threads)
    model, _ = _setup()
    Solver(model, data, checkpoint_dir=tmp_path / "old", **OPTIONS).train()
    monkeypatch.undo()
    model, _ = _setup()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Solver(model, data, checkpoint_dir=tmp_path / "old", **OPTIONS).train(resume=True).already_finished


def test_an_unreadable_newest_checkpoint_does_not_count_among_the_kept_two(tmp_path):
    model, data = _setup()
    Solver(model, data, checkpoint_dir=tmp_path / "run", **dict(OPTIONS, num_epochs=1, checkpoint_every=None)).train()
    (written,) = ckpt.list_checkpoints(tmp_path / "run")
    folder = tmp_path / "pruned"
    folder.mkdir()
    for iteration in (4, 6, 8):
        (folder / ckpt.checkpoint_name(1, iteration)).write_bytes(open(written, "rb").read())
    torn = folder / ckpt.checkpoint_name(2, 10)
    torn.write_bytes(open(written, "rb").read()[:1000])  # a copy cut short
    with pytest.warns(RuntimeWarning, match=r"deleting .*epoch002_iter0000010.npz: checkpoint: .* is not a complete"):
        deleted = ckpt.prune_checkpoints(folder, keep=2)
    assert sorted(deleted) == ["epoch001_iter0000004.npz", "epoch002_iter0000010.npz"]
    assert sorted(os.listdir(folder)) == ["epoch001_iter0000006.npz", "epoch001_iter0000008.npz"]
    # a torn file that is the best one named to keep stays
    torn.write_bytes(open(written, "rb").read()[:1000])
    assert ckpt.prune_checkpoints(folder, keep=2, also_keep=[torn.name]) == []
