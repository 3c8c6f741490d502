"""Solver: minibatch training of a model with one of the update rules in fercnn.optim.

    solver = Solver(model, data, update_rule="sgd_momentum",
                    optim_config={"learning_rate": 1e-3}, batch_size=128, num_epochs=35)
    solver.train()          # model now holds the parameters of the best validation epoch

``data`` holds X_train, y_train, X_val, y_val (X: (N, C, H, W) in the model's dtype, y:
(N,) ints), and features_train / features_val for a hybrid (HOG) model.
"""
import copy
import json
import math
import os
import time

import numpy as np
from tqdm.auto import tqdm

from fercnn.layers._checks import check_positive_int
from fercnn.optim import get_rule
from fercnn.runtime import reuse_freed_memory


class Solver:
    """Trains ``model`` on ``data``. All configuration is keyword-only.

    update_rule: "sgd", "sgd_momentum", "rmsprop", "adam" or a function with the same contract.
    optim_config: hyper-parameters for the rule (learning_rate, momentum, ...); each
        parameter array gets its own copy, which also carries the rule's state.
    lr_decay: learning rate multiplied by this after each epoch.
    batch_size, num_epochs: minibatches are drawn without replacement from a permutation
        per epoch (seeded by ``seed``); a final batch of one example joins the one before.
    augment_flip: flip a random half of every minibatch horizontally.
    num_train_samples: training accuracy per epoch is measured on this many examples
        (None: all); num_val_samples likewise for validation (default all).
    checkpoint_dir: if given, the model and the histories are written there after every epoch.
    max_seconds: stop early, after the last epoch that fits in this many seconds of training
        (judged by the length of the epoch before); ``stopped_early`` says whether it did.
    reuse_memory: call fercnn.runtime.reuse_freed_memory() before training (see there).
    bn_recalibration: before each epoch's accuracies, recompute the batchnorm running
        statistics from this many random training images with dropout off
        (model.recalibrate_batchnorm); 0 keeps the statistics collected during training.
    verbose: progress bar and one line per epoch; callback(solver) is called after each epoch.
    """

    def __init__(self, model, data, *, update_rule="sgd_momentum", optim_config=None, lr_decay=1.0,
                 batch_size=128, num_epochs=10, augment_flip=False, seed=0, num_train_samples=1000,
                 num_val_samples=None, eval_batch_size=256, checkpoint_dir=None, max_seconds=None,
                 reuse_memory=True, bn_recalibration=6400, verbose=True, callback=None):
        required = ("X_train", "y_train", "X_val", "y_val")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"Solver: data lacks {missing}; it needs {list(required)}")
        for split in ("train", "val"):
            X, y = data[f"X_{split}"], data[f"y_{split}"]
            if len(X) != len(y):
                raise ValueError(f"Solver: X_{split} has {len(X)} examples but y_{split} has {len(y)}")
        if len(data["y_train"]) < 2:
            raise ValueError(f"Solver: need at least 2 training examples, got {len(data['y_train'])}")
        check_positive_int("Solver", "batch_size", batch_size, minimum=2)
        check_positive_int("Solver", "num_epochs", num_epochs)
        if not 0 < float(lr_decay) <= 1:
            raise ValueError(f"Solver: lr_decay must be in (0, 1], got {lr_decay!r}")
        if augment_flip and model.hog_dim:
            raise ValueError("Solver: augment_flip would flip the images but not their precomputed HOG features; "
                             "use flip-doubling of the training set (fercnn.data_utils.flip_double) instead")
        self.model, self.data = model, data
        self.update_rule = get_rule(update_rule)
        self.optim_config = dict(optim_config or {})
        self.update_rule(np.zeros(1, model.dtype), np.zeros(1, model.dtype), self.optim_config)  # validates keys
        self.lr_decay = float(lr_decay)
        self.batch_size, self.num_epochs = batch_size, num_epochs
        self.augment_flip = bool(augment_flip)
        self.rng = np.random.default_rng(seed)
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self.eval_batch_size = eval_batch_size
        self.checkpoint_dir, self.verbose, self.callback = checkpoint_dir, verbose, callback
        if max_seconds is not None and not float(max_seconds) > 0:
            raise ValueError(f"Solver: max_seconds must be positive, got {max_seconds!r}")
        self.max_seconds, self.reuse_memory, self.stopped_early = max_seconds, reuse_memory, False
        check_positive_int("Solver", "bn_recalibration", bn_recalibration, minimum=0)
        self.bn_recalibration = bn_recalibration
        self.configs = {k: dict(self.optim_config) for k in model.params}
        self.epoch = 0
        self.loss_history, self.train_acc_history, self.val_acc_history, self.epoch_iterations = [], [], [], []
        self.best_val_acc, self.best_epoch = -1.0, 0
        self.best_params, self.best_bn_state = None, None

    def _batches(self, N):
        order = self.rng.permutation(N)
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
        feats = d["features_train"][idx] if "features_train" in d else None
        loss, grads = self.model.loss(X, d["y_train"][idx], features=feats)
        if not np.isfinite(loss):
            lr = self.configs[next(iter(self.configs))].get("learning_rate")
            raise FloatingPointError(
                f"Solver: loss became {loss} at iteration {len(self.loss_history) + 1} (epoch {self.epoch + 1}) "
                f"with learning rate {lr}; training stopped. Lower the learning rate or check the data.")
        for k, w in self.model.params.items():
            self.model.params[k], self.configs[k] = self.update_rule(w, grads[k], self.configs[k])
        self.loss_history.append(float(loss))
        return float(loss)

    def check_accuracy(self, X, y, *, features=None, num_samples=None):
        """Accuracy of the model on X, y (a random subset of num_samples when given)."""
        if num_samples is not None and len(X) > num_samples:
            idx = self.rng.choice(len(X), num_samples, replace=False)
            X, y = X[idx], y[idx]
            features = None if features is None else features[idx]
        pred = self.model.predict(X, features=features, batch_size=self.eval_batch_size)
        return float(np.mean(pred == y))

    def train(self):
        """Run num_epochs epochs; at the end the model holds the best validation parameters."""
        if self.reuse_memory:
            reuse_freed_memory()
        d = self.data
        start = time.perf_counter()
        for _ in range(self.num_epochs):
            epoch_start = time.perf_counter()
            batches = self._batches(len(d["X_train"]))
            bar = tqdm(batches, desc=f"epoch {self.epoch + 1}/{self.num_epochs}", disable=not self.verbose,
                       leave=False, unit="batch")
            for idx in bar:
                loss = self._step(idx)
                bar.set_postfix(loss=f"{loss:.3f}")
            bar.close()
            self.epoch += 1
            self.epoch_iterations.append(len(self.loss_history))
            for c in self.configs.values():
                if "learning_rate" in c:
                    c["learning_rate"] *= self.lr_decay
            self._end_of_epoch()
            now = time.perf_counter()
            if (self.max_seconds is not None and self.epoch < self.num_epochs
                    and now - start + (now - epoch_start) > self.max_seconds):
                self.stopped_early = True
                if self.verbose:
                    tqdm.write(f"stopping after epoch {self.epoch}: another epoch would pass max_seconds={self.max_seconds}")
                break
        # copies: training on (train() again) must not change the kept best
        self.model.params = dict(self.best_params)  # the update rules replace arrays, never write into them
        self.model.bn_state = copy.deepcopy(self.best_bn_state)  # running statistics are updated in place
        return self

    def _end_of_epoch(self):
        d = self.data
        if self.bn_recalibration and self.model.bn_state:
            n = min(self.bn_recalibration, len(d["X_train"]))
            idx = np.sort(self.rng.choice(len(d["X_train"]), n, replace=False))
            feats = d["features_train"][idx] if "features_train" in d else None
            self.model.recalibrate_batchnorm(d["X_train"][idx], features=feats, batch_size=self.batch_size)
        train_acc = self.check_accuracy(d["X_train"], d["y_train"], features=d.get("features_train"),
                                        num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(d["X_val"], d["y_val"], features=d.get("features_val"),
                                      num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc:
            self.best_val_acc, self.best_epoch = val_acc, self.epoch
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
            self.best_bn_state = copy.deepcopy(self.model.bn_state)
        recent = self.loss_history[-max(1, math.ceil(len(d["X_train"]) / self.batch_size)):]
        if self.verbose:
            tqdm.write(f"epoch {self.epoch}/{self.num_epochs}: loss {np.mean(recent):.4f}, "
                       f"train acc {train_acc:.4f}, val acc {val_acc:.4f}")
        if self.checkpoint_dir:
            self.save_checkpoint(self.checkpoint_dir)
        if self.callback is not None:
            self.callback(self)

    def history(self):
        """The histories as a JSON-serialisable dict."""
        return {"loss": self.loss_history, "train_acc": self.train_acc_history, "val_acc": self.val_acc_history,
                "epoch_iterations": self.epoch_iterations, "best_val_acc": self.best_val_acc,
                "best_epoch": self.best_epoch, "epochs_run": self.epoch, "stopped_early": self.stopped_early}

    def save_checkpoint(self, directory):
        """Write the current model to epoch_NNN.npz and the histories to history.json."""
        os.makedirs(directory, exist_ok=True)
        self.model.save(os.path.join(directory, f"epoch_{self.epoch:03d}.npz"))
        with open(os.path.join(directory, "history.json"), "w") as f:
            json.dump(self.history(), f)
