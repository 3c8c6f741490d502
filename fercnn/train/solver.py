"""Solver: minibatch training of a model with one of the update rules in fercnn.train.optim.

    solver = Solver(model, data, update_rule="sgd_momentum",
                    optim_config={"learning_rate": 1e-3}, batch_size=128, num_epochs=35,
                    checkpoint_dir="runs/deep/checkpoints", checkpoint_every=100)
    solver.train()              # model now holds the parameters of the best validation epoch
    solver.train(resume=True)   # in a new process after a kill: continues from the newest checkpoint

``data`` holds X_train, y_train, X_val, y_val (X: (N, C, H, W) in the model's dtype, y:
(N,) ints). Any other ``<name>_train`` / ``<name>_val`` arrays (features_train and
features_val: a hybrid network's HOG vectors) travel with X: each batch passes their rows
to the model as ``name=``.

A resumed run ends with exactly the parameters, batchnorm statistics and histories, bit
for bit, of the same run never interrupted: a checkpoint is the Solver's state_dict()
(fercnn/train/state.py), which holds everything the run depends on, and writing one draws
no random numbers. What the Solver needs of a model is in fercnn/train/contract.py.
"""
import contextlib
import datetime
import math
import numbers
import os
import time

import numpy as np
from tqdm.auto import tqdm

from fercnn.argcheck import check_positive_int
from fercnn.data.augment import Augmentation
from fercnn.fileio import write_json
from fercnn.runtime import reuse_freed_memory
from fercnn.train import checkpoint as ckpt
from fercnn.train import schedules
from fercnn.train.optim import get_rule
from fercnn.train.state import SolverState


class Solver(SolverState):
    """Trains ``model`` on ``data``. All configuration is keyword-only.

    update_rule: "sgd", "sgd_momentum", "rmsprop", "adam" or a function with the same contract.
    optim_config: hyper-parameters for the rule (learning_rate, momentum, ...); each
        parameter array gets its own copy, which also carries the rule's state.
    lr_decay: learning rate multiplied by this after each epoch.
    batch_size, num_epochs: minibatches are drawn without replacement from a permutation
        per epoch (seeded by ``seed``); a final batch of one example joins the one before.
    augment_flip: flip a random half of every minibatch horizontally (kept for the runs that
        used it; ``augment`` does this and more).
    augment: a fercnn.data.augment.Augmentation (or its config dict) applied to every
        minibatch, drawn from the Solver's generator: flips, shifts, rotations, scaling, erasing.
    lr_schedule: None, or a dict {"kind": "plateau" | "cosine", ...} (fercnn/train/schedules.py);
        with a schedule, lr_decay must stay 1.
    num_train_samples: training accuracy per epoch is measured on this many examples
        (None: all); num_val_samples likewise for validation (default all).
    checkpoint_dir: if given, the whole state of the run is written there after every
        epoch (and every ``checkpoint_every`` iterations), with history.json; the newest
        two checkpoints and the best epoch's are kept. ``train(resume=True)`` continues
        from the newest complete one.
    max_seconds: stop early, after the last epoch that fits in this many seconds of training
        in this call of train() (judged by the length of the epoch before); ``stopped_early``
        says whether it did.
    early_stop: stop early once validation accuracy has not improved for this many epochs
        (None: never); the best epoch's parameters are what the model shows, as always. It
        decides from the run's history only, so a resumed run stops where the uninterrupted
        one would, and it may differ on resume (as num_epochs may).
    keep_epochs: besides the newest two checkpoints and the best epoch's, keep the checkpoints
        written at the end of the last this many epochs (0: none), e.g. to average their
        weights afterwards (fercnn.models.average); the run itself is unchanged by it. It is
        kept in the checkpoints: None (the default) on resume is the run's own setting, and a
        smaller number given on resume is warned about (the older kept ones are deleted).
    reuse_memory: call fercnn.runtime.reuse_freed_memory() before training (see there).
    bn_recalibration: before each epoch's accuracies, recompute the batchnorm running
        statistics from this many random training images with dropout off
        (model.recalibrate_batchnorm); 0 keeps the statistics collected during training.
    verbose: progress bar and one line per epoch; callback(solver) is called after each epoch.
    """

    def __init__(self, model, data, *, update_rule="sgd_momentum", optim_config=None, lr_decay=1.0,
                 batch_size=128, num_epochs=10, augment_flip=False, augment=None, lr_schedule=None, seed=0,
                 num_train_samples=1000, num_val_samples=None, eval_batch_size=256, checkpoint_dir=None,
                 checkpoint_every=None, max_seconds=None, early_stop=None, keep_epochs=None, reuse_memory=True,
                 bn_recalibration=6400, verbose=True, callback=None):
        required = ("X_train", "y_train", "X_val", "y_val")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"Solver: data lacks {missing}; it needs {list(required)}")
        for split in ("train", "val"):
            X, y = data[f"X_{split}"], data[f"y_{split}"]
            if len(X) != len(y):
                raise ValueError(f"Solver: X_{split} has {len(X)} examples but y_{split} has {len(y)}")
        if len(data["y_val"]) == 0:
            raise ValueError("Solver: the validation split is empty; the best epoch is chosen on it")
        if len(data["y_train"]) < 2:
            raise ValueError(f"Solver: need at least 2 training examples, got {len(data['y_train'])}")
        check_positive_int("Solver", "batch_size", batch_size, minimum=2)
        check_positive_int("Solver", "num_epochs", num_epochs)
        if isinstance(lr_decay, bool) or not isinstance(lr_decay, numbers.Real) or not 0 < lr_decay <= 1:
            raise ValueError(f"Solver: lr_decay must be in (0, 1], got {lr_decay!r}")
        self.data = data
        for split in ("train", "val"):
            for name, v in self._inputs(split).items():
                if len(v) != len(data[f"y_{split}"]):
                    raise ValueError(f"Solver: {name}_{split} has {len(v)} rows but y_{split} has "
                                     f"{len(data[f'y_{split}'])}; each {name} row goes with one example")
        if isinstance(augment, dict):
            augment = Augmentation.from_config(augment)
        if augment is not None and not isinstance(augment, Augmentation):
            raise ValueError(f"Solver: augment must be an Augmentation or its config dict, got {type(augment).__name__}")
        augment = augment or None  # an Augmentation with everything off is none
        if augment_flip and augment is not None:
            raise ValueError("Solver: give augment_flip or augment, not both (Augmentation(flip=True) flips)")
        if (augment_flip or augment) and self._inputs("train"):
            raise ValueError(f"Solver: augmentation would change the images but not {sorted(self._inputs('train'))}, "
                             "which travel with them (HOG features are computed before training); "
                             "use flip-doubling of the training set (fercnn.data.flip_double) instead")
        lr_schedule = schedules.normalize(lr_schedule)
        if lr_schedule is not None and lr_decay != 1:
            raise ValueError(f"Solver: lr_decay={lr_decay!r} and lr_schedule {lr_schedule['kind']!r} both change the "
                             "learning rate; use one of them (lr_decay=1 with a schedule)")
        if lr_schedule is not None and lr_schedule["kind"] == "cosine":
            lr_schedule["epochs"] = num_epochs  # the curve's length: fixed when the run starts
        for name, value in (("num_train_samples", num_train_samples), ("num_val_samples", num_val_samples)):
            if value is not None:
                check_positive_int("Solver", name, value)
        check_positive_int("Solver", "eval_batch_size", eval_batch_size)
        if keep_epochs is not None:
            check_positive_int("Solver", "keep_epochs", keep_epochs, minimum=0)
            if keep_epochs and checkpoint_dir is None:
                raise ValueError("Solver: keep_epochs keeps checkpoints; it needs a checkpoint_dir to write them to")
        if checkpoint_every is not None:
            check_positive_int("Solver", "checkpoint_every", checkpoint_every)
            if checkpoint_dir is None:
                raise ValueError("Solver: checkpoint_every needs a checkpoint_dir to write to")
        self.model, self.data = model, data
        self.update_rule = get_rule(update_rule)
        self.optim_config = {k: _plain(v) for k, v in (optim_config or {}).items()}
        _, filled = self.update_rule(np.zeros(1, model.dtype), np.zeros(1, model.dtype), self.optim_config)  # validates
        self._base_lr = filled.get("learning_rate")  # with the rule's default: where a cosine schedule starts
        if lr_schedule is not None and self._base_lr is None:
            raise ValueError("Solver: a learning-rate schedule needs an update rule with a learning_rate")
        self.lr_decay = float(lr_decay)
        self.batch_size, self.num_epochs = batch_size, num_epochs
        self.augment_flip = bool(augment_flip)
        self.augment, self.lr_schedule = augment, lr_schedule
        self.schedule_state = {"best": None, "bad_epochs": 0} if lr_schedule and lr_schedule["kind"] == "plateau" \
            else None
        self.seed = _plain(seed)
        self.rng = np.random.default_rng(seed)
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self.eval_batch_size = eval_batch_size
        self.checkpoint_dir = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        self.checkpoint_every, self.verbose, self.callback = checkpoint_every, verbose, callback
        if max_seconds is not None and not float(max_seconds) > 0:
            raise ValueError(f"Solver: max_seconds must be positive, got {max_seconds!r}")
        self.max_seconds, self.reuse_memory, self.stopped_early = max_seconds, reuse_memory, False
        if early_stop is not None:
            check_positive_int("Solver", "early_stop", early_stop)
        self.early_stop, self.keep_epochs = early_stop, keep_epochs
        check_positive_int("Solver", "bn_recalibration", bn_recalibration, minimum=0)
        self.bn_recalibration = bn_recalibration
        self.configs = {k: dict(self.optim_config) for k in model.params}
        self.epoch = 0
        self.loss_history, self.train_acc_history, self.val_acc_history, self.epoch_iterations = [], [], [], []
        self.best_val_acc, self.best_epoch = -1.0, 0
        self.best = None  # copies of the model's state_dict arrays at the best epoch
        self.order, self.next_batch = None, 0  # the epoch in progress: its permutation, the next batch
        self.train_seconds, self.resumes, self.best_checkpoint = 0.0, [], None
        self.resumed_from, self.already_finished = None, False
        self._wrote_checkpoints, self._fingerprint = False, None
        self._last = None  # the model's arrays where training stopped, while the model shows the best

    def _inputs(self, split, idx=None):
        """{name: rows idx of <name>_<split>} for every per-example array of the split other
        than X and y: the model's other inputs (features: HOG vectors)."""
        out = {}
        for key, v in self.data.items():
            name, _, suffix = key.rpartition("_")
            if suffix == split and name and name not in ("X", "y"):
                out[name] = v if idx is None else v[idx]
        return out

    def _batches(self, N):
        return self._split(self.rng.permutation(N))

    def _split(self, order):
        N = len(order)
        bounds = list(range(0, N, self.batch_size)) + [N]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
            del bounds[-2]  # no batch of one: batchnorm needs two examples
        return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def _step(self, idx):
        d = self.data
        X = d["X_train"][idx]
        if self.augment_flip:
            flip = self.rng.random(len(idx)) < 0.5
            X[flip] = X[flip, :, :, ::-1]
        if self.augment is not None:
            X = self.augment(X, self.rng)
        if self.lr_schedule is not None and self.lr_schedule["kind"] == "cosine":
            self._set_cosine_lr()
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is reported below, once
            loss, grads = self.model.loss(X, d["y_train"][idx], **self._inputs("train", idx))
        if not np.isfinite(loss):
            self._diverged(f"loss became {loss}", len(self.loss_history) + 1)
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite parameters are found by _check_finite
            for k, w in self.model.params.items():
                self.model.params[k], self.configs[k] = self.update_rule(w, grads[k], self.configs[k])
        self.loss_history.append(float(loss))
        return float(loss)

    def _set_cosine_lr(self):
        per_epoch = len(self._split(np.arange(len(self.data["y_train"]))))
        s = self.lr_schedule
        lr = schedules.cosine_lr(s, self._base_lr, len(self.loss_history),
                                 s["epochs"] * per_epoch, round(s["warmup_epochs"] * per_epoch))
        for c in self.configs.values():
            c["learning_rate"] = lr

    def learning_rate(self):
        """The learning rate the next step uses (of the first parameter; all share it)."""
        return self.configs[next(iter(self.configs))].get("learning_rate")

    def _check_finite(self):
        """Stop a run whose model holds NaN or infinite values (parameters, batchnorm
        statistics), however few iterations it ran: called before every evaluation and
        every checkpoint, so neither sees them, and the last good checkpoint stays the newest."""
        for name, a in self.model.state_dict()[1].items():
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                self._diverged(f"{name} holds NaN or infinite values", len(self.loss_history))

    def _diverged(self, what, iteration):
        lr = self.learning_rate()
        epoch = self.epoch + (1 if self.order is not None else 0)  # in progress, or just finished
        raise FloatingPointError(
            f"Solver: {what} at iteration {iteration} (epoch {epoch}) with learning rate {lr}; "
            "training stopped. Lower the learning rate or check the data.")

    def check_accuracy(self, X, y, *, num_samples=None, **inputs):
        """Accuracy of the model on X, y (a random subset of num_samples when given);
        ``inputs``: the model's other inputs, one row per example (features=...)."""
        if num_samples is not None and len(X) > num_samples:
            idx = self.rng.choice(len(X), num_samples, replace=False)
            X, y = X[idx], y[idx]
            inputs = {k: v[idx] for k, v in inputs.items()}
        pred = self.model.predict(X, batch_size=self.eval_batch_size, **inputs)
        return float(np.mean(pred == y))

    def train(self, *, resume=False):
        """Train until num_epochs epochs are done; at the end the model holds the best
        validation parameters.

        Calling train() again (after raising num_epochs, say) continues from where training
        stopped, not from the best parameters: the last parameters and batchnorm statistics
        are kept aside while the model shows the best ones.
        resume=True continues the run whose checkpoints are in checkpoint_dir, from the
        newest complete one (``resumed_from`` names it). A run that had already finished
        trains no further (``already_finished``). Without resume, a checkpoint_dir that
        holds another run's checkpoints is refused.
        """
        if self.reuse_memory:
            reuse_freed_memory()
        self._show_last()
        if resume and self.resumed_from is None:
            self.resume()
        elif not resume and self.checkpoint_dir and ckpt.list_checkpoints(self.checkpoint_dir) and not self._wrote_checkpoints:
            raise ValueError(f"Solver: {self.checkpoint_dir} already holds checkpoints of a run; continue it with "
                             "train(resume=True) (--resume), or write to another folder")
        self.already_finished = self.epoch >= self.num_epochs or self._no_progress()
        if self.already_finished and self.verbose:
            why = f" (no better validation accuracy for {self.early_stop} epochs)" if self._no_progress() else ""
            tqdm.write(f"the run had already finished {self.epoch} of {self.num_epochs} epochs{why}; nothing to train")
        start = time.perf_counter()
        self._seconds_before = self.train_seconds
        N = len(self.data["X_train"])
        while self.epoch < self.num_epochs:
            if self._no_progress():
                self.stopped_early = True
                if self.verbose:
                    tqdm.write(f"stopping after epoch {self.epoch}: validation accuracy has not improved for "
                               f"{self.early_stop} epochs (best: epoch {self.best_epoch})")
                break
            epoch_start = time.perf_counter()
            if self.order is None:
                self.order, self.next_batch = self.rng.permutation(N), 0
            batches = self._split(self.order)
            desc = f"epoch {self.epoch + 1}/{self.num_epochs}"
            if self.next_batch:
                desc += f" (resumed at batch {self.next_batch + 1})"
            bar = tqdm(total=len(batches), initial=self.next_batch, desc=desc, disable=not self.verbose,
                       leave=False, unit="batch")
            while self.next_batch < len(batches):
                loss = self._step(batches[self.next_batch])
                self.next_batch += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
                if (self.checkpoint_every and len(self.loss_history) % self.checkpoint_every == 0
                        and self.next_batch < len(batches)):
                    self._save(start)
            bar.close()
            self.order, self.next_batch = None, 0
            self.epoch += 1
            self.epoch_iterations.append(len(self.loss_history))
            for c in self.configs.values():
                if "learning_rate" in c:
                    c["learning_rate"] *= self.lr_decay
            self._end_of_epoch(start)
            now = time.perf_counter()
            if (self.max_seconds is not None and self.epoch < self.num_epochs
                    and now - start + (now - epoch_start) > self.max_seconds):
                self.stopped_early = True
                if self.verbose:
                    tqdm.write(f"stopping after epoch {self.epoch}: another epoch would pass max_seconds={self.max_seconds}")
                break
        self.train_seconds = self._seconds_before + time.perf_counter() - start
        if self.best is not None:
            self._last = self.model.state_dict()[1]
            # the model copies running statistics in (they are updated in place) and takes the
            # parameters as they are (the update rules replace arrays, never write into them),
            # so training on (train() again) does not change the kept best
            self._show_arrays(self.best)
        return self

    def _no_progress(self):
        """Whether early_stop epochs have passed since the best validation accuracy."""
        return self.early_stop is not None and self.epoch > 0 and self.epoch - self.best_epoch >= self.early_stop

    def _show_last(self):
        """Put the parameters where training stopped back into the model (after train() it
        shows the best ones), so that training goes on from them."""
        if self._last is not None:
            self._show_arrays(self._last)
            self._last = None

    @contextlib.contextmanager
    def _at_last(self):
        """For the block, the model holds the parameters where training stopped; afterwards
        it shows again what it showed (the best ones, after train())."""
        if self._last is None:
            yield
            return
        shown = self.model.state_dict()[1]
        self._show_arrays(self._last)
        try:
            yield
        finally:
            self._show_arrays(shown)

    def _end_of_epoch(self, start):
        d = self.data
        self._check_finite()
        if self.bn_recalibration and getattr(self.model, "has_batchnorm", False):
            n = min(self.bn_recalibration, len(d["X_train"]))
            idx = np.sort(self.rng.choice(len(d["X_train"]), n, replace=False))
            with np.errstate(over="ignore", invalid="ignore"):
                self.model.recalibrate_batchnorm(d["X_train"][idx], batch_size=self.batch_size,
                                                 **self._inputs("train", idx))
            self._check_finite()
        train_acc = self.check_accuracy(d["X_train"], d["y_train"], num_samples=self.num_train_samples,
                                        **self._inputs("train"))
        val_acc = self.check_accuracy(d["X_val"], d["y_val"], num_samples=self.num_val_samples,
                                      **self._inputs("val"))
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.schedule_state is not None:
            self.schedule_state, factor = schedules.plateau_step(
                self.lr_schedule, self.schedule_state, val_acc, [c["learning_rate"] for c in self.configs.values()])
            if factor != 1.0:
                for c in self.configs.values():
                    c["learning_rate"] *= factor
                if self.verbose:
                    tqdm.write(f"validation accuracy has not improved for {self.lr_schedule['patience'] + 1} epochs: "
                               f"learning rate now {self.learning_rate():.3g}")
        if val_acc > self.best_val_acc:
            self.best_val_acc, self.best_epoch = val_acc, self.epoch
            self.best = self._model_arrays()
            self.best_checkpoint = ckpt.checkpoint_name(self.epoch, len(self.loss_history))
        recent = self.loss_history[-max(1, math.ceil(len(d["X_train"]) / self.batch_size)):]
        if self.verbose:
            last = self.resumes[-1] if self.resumes else None
            note = f" (resumed from {last['checkpoint']})" if last and last["epoch"] == self.epoch - 1 else ""
            tqdm.write(f"epoch {self.epoch}/{self.num_epochs}: loss {np.mean(recent):.4f}, "
                       f"train acc {train_acc:.4f}, val acc {val_acc:.4f}{note}")
        if self.checkpoint_dir:
            self._save(start)
        if self.callback is not None:
            self.callback(self)

    def _save(self, start):
        self._check_finite()
        self.train_seconds = self._seconds_before + time.perf_counter() - start
        self.save_checkpoint(self.checkpoint_dir)

    def history(self):
        """The histories as a JSON-serialisable dict (resumes: one entry per resume)."""
        return {"loss": self.loss_history, "train_acc": self.train_acc_history, "val_acc": self.val_acc_history,
                "epoch_iterations": self.epoch_iterations, "best_val_acc": self.best_val_acc,
                "best_epoch": self.best_epoch, "epochs_run": self.epoch, "stopped_early": self.stopped_early,
                "train_seconds": round(self.train_seconds, 3), "resumes": self.resumes}

    def save_checkpoint(self, directory):
        """Write the whole state of the run to directory/epoch<E>_iter<I>.npz and the
        histories to history.json (both atomically), then prune older checkpoints."""
        epoch = self.epoch + (1 if self.order is not None else 0)
        name = ckpt.checkpoint_name(epoch, len(self.loss_history))
        with self._at_last():  # a checkpoint continues from where training stopped, not from the best
            ckpt.write_checkpoint(os.path.join(directory, name), *self.state_dict())
        write_json(os.path.join(directory, "history.json"), self.history())
        self._wrote_checkpoints = True
        ends = [ckpt.checkpoint_name(e, it) for e, it in enumerate(self.epoch_iterations, 1)]
        kept = [self.best_checkpoint] if self.best_checkpoint else []
        kept += ends[-self.keep_epochs:] if self.keep_epochs else []
        ckpt.prune_checkpoints(directory, keep=2, also_keep=kept)
        return name

    def resume(self):
        """Load the newest complete checkpoint in checkpoint_dir into the solver and its model
        (train(resume=True) does this first). Returns the number of epochs the run was
        started with; the solver's own num_epochs stays in force. Checkpoints that cannot
        be read are reported (RuntimeWarning) and passed over; different options, or no
        checkpoint at all, raise ValueError."""
        if not self.checkpoint_dir:
            raise ValueError("Solver: resume needs the checkpoint_dir of the run to continue")
        path, meta, entries = ckpt.newest_checkpoint(self.checkpoint_dir)
        self.load_state_dict(meta, entries, path)
        self._last = None  # the model holds the checkpoint's parameters now
        self.resumed_from = os.path.basename(path)
        self.resumes.append({"epoch": self.epoch, "iteration": len(self.loss_history), "checkpoint": self.resumed_from,
                             "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
        self._wrote_checkpoints = True
        if self.verbose:
            where = f"epoch {self.epoch + 1}, batch {self.next_batch + 1}" if self.order is not None \
                else f"the end of epoch {self.epoch}"
            tqdm.write(f"resumed from {path}: {self.epoch} epochs and {len(self.loss_history)} iterations done, "
                       f"continuing at {where}")
        return meta["checkpoint"]["num_epochs"]


def _plain(v):
    """numpy scalars as Python ones, so that a value survives a JSON round trip unchanged."""
    return v.item() if isinstance(v, np.generic) else v
