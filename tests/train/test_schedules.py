"""Learning-rate schedules, augmentation and label smoothing in the Solver: what they do,
and that a run using them resumes bit for bit."""
import math

import numpy as np
import pytest
from test_resume import Interrupted, _assert_same_run, _interrupt_at, _setup

from fercnn.data.augment import Augmentation
from fercnn.train import schedules
from fercnn.train.solver import Solver


def test_plateau_cuts_after_patience_epochs_without_improvement():
    s = schedules.normalize({"kind": "plateau", "factor": 0.5, "patience": 2})
    state, lrs, cuts = {"best": None, "bad_epochs": 0}, [0.1], []
    for acc in (0.5, 0.6, 0.6, 0.59, 0.6, 0.61, 0.3, 0.3, 0.3):
        state, factor = schedules.plateau_step(s, state, acc, lrs)
        lrs = [lr * factor for lr in lrs]
        cuts.append(factor)
    assert cuts == [1, 1, 1, 1, 0.5, 1, 1, 1, 0.5]
    assert lrs == [0.025]
    low = schedules.normalize({"kind": "plateau", "factor": 0.1, "patience": 0, "min_lr": 0.004})
    assert schedules.plateau_step(low, {"best": 0.9, "bad_epochs": 0}, 0.5, [0.01])[1] == pytest.approx(0.4)
    assert schedules.plateau_step(low, {"best": 0.9, "bad_epochs": 0}, 0.5, [0.004])[1] == 1.0


def test_cosine_warms_up_then_falls_to_min_lr():
    s = schedules.normalize({"kind": "cosine", "warmup_epochs": 1, "min_lr": 0.001})
    lrs = [schedules.cosine_lr(s, 0.1, t, 100, 10) for t in range(100)]
    assert lrs[:10] == pytest.approx([0.01 * (t + 1) for t in range(10)])
    assert lrs[10] == pytest.approx(0.1)
    assert lrs[55] == pytest.approx(0.001 + 0.099 * (1 + math.cos(math.pi * 45 / 90)) / 2)
    assert lrs[99] == pytest.approx(0.001 + 0.099 * (1 + math.cos(math.pi * 89 / 90)) / 2)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


@pytest.mark.parametrize("schedule,message", [
    ({"kind": "step"}, r"lr_schedule must be None or a dict with kind one of \['cosine', 'plateau'\]"),
    ({"kind": "plateau", "factr": 0.5}, r"lr_schedule plateau: unknown keys \['factr'\]"),
    ({"kind": "plateau", "factor": 1.5}, r"factor must be in \(0, 1\), got 1.5"),
    ({"kind": "cosine", "min_lr": -1}, "min_lr must be a number >= 0, got -1"),
])
def test_bad_schedules_are_refused_by_name(schedule, message):
    with pytest.raises(ValueError, match=message):
        schedules.normalize(schedule)


def test_a_schedule_and_lr_decay_together_are_refused():
    model, data = _setup()
    with pytest.raises(ValueError, match="lr_decay=0.9 and lr_schedule 'plateau' both change the learning rate"):
        Solver(model, data, lr_decay=0.9, lr_schedule={"kind": "plateau"})
    with pytest.raises(ValueError, match="give augment_flip or augment, not both"):
        Solver(model, data, augment_flip=True, augment=Augmentation(shift=1))
    data["features_train"], data["features_val"] = np.zeros((40, 2), np.float32), np.zeros((20, 2), np.float32)
    with pytest.raises(ValueError, match=r"augmentation would change the images but not \['features'\]"):
        Solver(model, data, augment={"shift": 1})


def test_cosine_sets_each_steps_learning_rate():
    model, data = _setup()
    seen = []
    s = Solver(model, data, optim_config={"learning_rate": 0.1}, num_epochs=2, batch_size=8, verbose=False,
               lr_schedule={"kind": "cosine", "warmup_epochs": 1})
    real = s.update_rule

    def rule(w, dw, config):
        seen.append(config["learning_rate"])
        return real(w, dw, config)
    s.update_rule = rule
    s.train()
    per_step = seen[::len(model.params)]
    assert per_step[:5] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert per_step[5:] == pytest.approx([0.05 * (1 + math.cos(math.pi * t / 5)) for t in range(5)])


OPTIONS = dict(num_epochs=4, batch_size=8, verbose=False, num_train_samples=10, bn_recalibration=16,
               checkpoint_every=3, augment=Augmentation(flip=True, shift=2, rotate=15, scale=0.1, erase=0.5))


@pytest.mark.parametrize("extra", [
    {"lr_schedule": {"kind": "plateau", "patience": 0, "factor": 0.5}},
    {"lr_schedule": {"kind": "cosine", "warmup_epochs": 1, "min_lr": 1e-4}},
    {},
], ids=["plateau", "cosine", "decay"])
@pytest.mark.parametrize("stop_at", [5, 11])
def test_augmented_scheduled_smoothed_runs_resume_bit_for_bit(tmp_path, extra, stop_at):
    options = {**OPTIONS, **extra, "lr_decay": 1.0 if extra else 0.9}
    whole_model, data = _setup(label_smoothing=0.1)
    whole = Solver(whole_model, data, optim_config={"learning_rate": 0.05, "nesterov": True},
                   checkpoint_dir=tmp_path / "whole", **options).train()
    model, _ = _setup(label_smoothing=0.1)
    first = Solver(model, data, optim_config={"learning_rate": 0.05, "nesterov": True},
                   checkpoint_dir=tmp_path / "run", **options)
    _interrupt_at(first, stop_at)
    with pytest.raises(Interrupted):
        first.train()
    model, _ = _setup(label_smoothing=0.1)
    resumed = Solver(model, data, optim_config={"learning_rate": 0.05, "nesterov": True},
                     checkpoint_dir=tmp_path / "run", **options).train(resume=True)
    assert resumed.resumed_from is not None
    _assert_same_run(resumed, whole)
    if extra.get("lr_schedule", {}).get("kind") == "plateau":
        assert resumed.schedule_state == whole.schedule_state


def test_a_cosine_run_may_be_made_longer_on_resume(tmp_path):
    model, data = _setup()
    options = dict(num_epochs=2, batch_size=8, verbose=False, checkpoint_dir=tmp_path,
                   lr_schedule={"kind": "cosine", "min_lr": 0.001})
    Solver(model, data, **options).train()
    model, _ = _setup()
    longer = Solver(model, data, **{**options, "num_epochs": 3}).train(resume=True)
    assert longer.epoch == 3 and longer.lr_schedule["epochs"] == 2
    assert longer.learning_rate() == pytest.approx(0.001)


def test_a_resumed_plateau_remembers_the_epochs_without_improvement(tmp_path):
    """Validation accuracy 0.5, 0.6, 0.6, 0.6, 0.6 with patience 1: the cut comes after epoch 4.
    Killed during epoch 4, the resumed run must still know that epoch 3 did not improve."""
    acc = {1: 0.5, 2: 0.6, 3: 0.6, 4: 0.6, 5: 0.6}

    def solver(folder):
        model, data = _setup()
        s = Solver(model, data, optim_config={"learning_rate": 0.1}, num_epochs=5, batch_size=8, verbose=False,
                   checkpoint_dir=folder, lr_schedule={"kind": "plateau", "patience": 1, "factor": 0.5})
        s.check_accuracy = lambda X, y, **kw: acc[s.epoch] if X is data["X_val"] else 0.5
        return s
    whole = solver(tmp_path / "whole").train()
    assert whole.learning_rate() == pytest.approx(0.05)  # one cut, after epoch 4
    first = solver(tmp_path / "run")
    _interrupt_at(first, 17)  # epoch 4, batch 2
    with pytest.raises(Interrupted):
        first.train()
    resumed = solver(tmp_path / "run").train(resume=True)
    assert resumed.resumed_from.startswith("epoch003") and resumed.learning_rate() == pytest.approx(0.05)
    _assert_same_run(resumed, whole)
