"""The Solver's state: ``state_dict()`` gives everything a run needs to continue exactly
where it is, as the meta and arrays of one checkpoint file (fercnn/train/checkpoint.py);
``load_state_dict()`` takes it back. A base class of fercnn.train.Solver, kept apart so that
solver.py holds the training loop.

JSON keeps what is small and exact in it: Python floats and ints survive a JSON round trip
bit for bit (the loss history, learning rates, random generator states). Arrays go into
the .npz beside it.
"""
import hashlib
import json
import warnings

import numpy as np

from fercnn.runtime import thread_count
from fercnn.train.checkpoint import first_difference
from fercnn.train.contract import RESUME_KEYS

STATE_VERSION = 1
_SOLVER_ENTRIES = ("optim/", "best/", "order")  # the checkpoint's arrays that are not the model's


def data_fingerprint(data):
    """A hash of the training and validation arrays (and features): a run resumes on the same data only."""
    h = hashlib.blake2b(digest_size=12)
    for key in sorted(k for k in data if k.startswith(("X_", "y_", "features_")) and not k.endswith("_test")):
        a = np.ascontiguousarray(data[key])
        h.update(f"{key}{a.shape}{a.dtype}".encode())
        h.update(a.reshape(-1).view(np.uint8) if a.size else b"")
    return h.hexdigest()


class SolverState:
    """state_dict() / load_state_dict() of a Solver (see the module docstring)."""

    def options(self):
        """Everything that decides the result of a run, as JSON-like data: a run may only be
        resumed with the same options (num_epochs aside, which may grow)."""
        if self._fingerprint is None:
            self._fingerprint = data_fingerprint(self.data)
        meta, _ = self.model.state_dict()
        options = {"update_rule": self.update_rule.__name__, "optim_config": self.optim_config,
                   "lr_decay": self.lr_decay, "batch_size": self.batch_size, "augment_flip": self.augment_flip,
                   "seed": self.seed, "num_train_samples": self.num_train_samples,
                   "num_val_samples": self.num_val_samples, "bn_recalibration": self.bn_recalibration,
                   "model": {k: meta[k] for k in RESUME_KEYS if k in meta}, "data": self._fingerprint}
        # options added later are recorded only when used, so that older checkpoints still match
        if self.augment is not None:
            options["augment"] = self.augment.config()
        if self.lr_schedule is not None:
            options["lr_schedule"] = self.lr_schedule
        return options

    def state_dict(self):
        """(meta, arrays) of a checkpoint of the run as it is: the model's state_dict, with
        the Solver's JSON under meta["checkpoint"] and its arrays (update rules' state, the
        epoch's order, the best epoch's model) beside the model's."""
        meta, model_arrays = self.model.state_dict()
        meta = dict(meta)
        model_rng = meta.pop("rng", None)
        arrays, scalars = {}, {}
        for param, config in self.configs.items():
            scalars[param] = {}
            for key, value in config.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optim/{param}/{key}"] = value
                else:
                    scalars[param][key] = _json_value(value, f"optim_config[{param!r}][{key!r}]")
        if self.order is not None:
            arrays["order"] = self.order
        # at the end of the epoch that set the best, the best is a copy of the current state
        best_is_current = self.best is not None and self.order is None and self.best_epoch == self.epoch
        if self.best is not None and not best_is_current:
            arrays.update({f"best/{k}": v for k, v in self.best.items()})
        clash = sorted(set(model_arrays) & set(arrays))
        if clash:
            raise ValueError(f"checkpoint: solver entries {clash} clash with the model's")
        meta["checkpoint"] = {
            "version": STATE_VERSION,
            "options": self.options(),
            "num_epochs": self.num_epochs,
            "epoch": self.epoch,
            "iteration": len(self.loss_history),
            "next_batch": self.next_batch,
            "in_epoch": self.order is not None,
            "rng": self.rng.bit_generator.state,
            "model_rng": model_rng,
            "optim": scalars,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "epoch_iterations": self.epoch_iterations,
            "best_val_acc": self.best_val_acc,
            "best_epoch": self.best_epoch,
            "best_checkpoint": self.best_checkpoint,
            "best_is_current": best_is_current,
            "has_best": self.best is not None,
            "train_seconds": self.train_seconds,
            "resumes": self.resumes,
            **({"schedule_state": self.schedule_state} if self.schedule_state is not None else {}),
            "threads": thread_count(),  # not an option: a resume with another count is allowed, and warned about
            "keep_epochs": self.keep_epochs or 0,  # not an option either: which checkpoints pruning leaves
        }
        return meta, {**model_arrays, **arrays}

    def load_state_dict(self, meta, arrays, path="(state_dict)"):
        """Continue the run that ``state_dict()`` (or a checkpoint file, ``path``) describes:
        the model's state and the Solver's. Refuses a state whose options differ from this
        Solver's (num_epochs aside)."""
        state = meta["checkpoint"]
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"resume: {path} has checkpoint version {state.get('version')!r}; "
                             f"this fercnn reads version {STATE_VERSION}")
        saved_schedule = state["options"].get("lr_schedule")
        if saved_schedule and self.lr_schedule and saved_schedule["kind"] == self.lr_schedule["kind"] == "cosine":
            # the curve's length is the run's first num_epochs; raising num_epochs goes on at min_lr
            self.lr_schedule["epochs"] = saved_schedule["epochs"]
        now = json.loads(json.dumps(self.options()))
        diff = first_difference(state["options"], now)
        if diff:
            key, saved, given = diff
            what = "another network" if key.startswith("model.spec") else \
                "other data" if key == "data" else f"{key}={saved!r}"
            raise ValueError(f"resume: {path} is a run with {what}, but this run has {key}={given!r}; "
                             f"resume with the options the run was started with (only the number of epochs may change)")
        model_meta = {k: v for k, v in meta.items() if k != "checkpoint"}
        if state.get("model_rng") is not None:
            model_meta["rng"] = state["model_rng"]
        model_arrays = {k: v for k, v in arrays.items() if not k.startswith(_SOLVER_ENTRIES)}
        try:
            self.model.load_state_dict(model_meta, model_arrays)
        except ValueError as e:
            raise ValueError(f"resume: {path} is not a complete checkpoint of this network ({e})") from None
        self.rng.bit_generator.state = state["rng"]
        self.configs = {}
        for param in self.model.params:
            config = dict(state["optim"][param])
            prefix = f"optim/{param}/"
            config.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            self.configs[param] = config
        self.epoch, self.next_batch = state["epoch"], state["next_batch"]
        self.order = arrays["order"] if state["in_epoch"] else None
        self.loss_history, self.train_acc_history = state["loss_history"], state["train_acc_history"]
        self.val_acc_history, self.epoch_iterations = state["val_acc_history"], state["epoch_iterations"]
        self.best_val_acc, self.best_epoch = state["best_val_acc"], state["best_epoch"]
        self.best_checkpoint, self.train_seconds = state["best_checkpoint"], state["train_seconds"]
        self.resumes = state["resumes"]
        if self.schedule_state is not None:
            self.schedule_state = dict(state["schedule_state"])
        self.best = None
        if state["has_best"]:
            current = self._model_arrays()
            # a best entry the file lacks is the current one (files before mean_image had a best/ copy)
            self.best = current if state["best_is_current"] else \
                {k: np.array(arrays.get(f"best/{k}", v)) for k, v in current.items()}
        _warn_other_threads(state, path)
        saved_keep = state.get("keep_epochs", 0)
        if self.keep_epochs is None:
            self.keep_epochs = saved_keep
        elif self.keep_epochs < saved_keep:
            warnings.warn(f"checkpoint {path} kept the checkpoints of the last {saved_keep} epochs' ends; this run "
                          f"keeps {self.keep_epochs}: the older ones will be deleted at the next checkpoint",
                          RuntimeWarning, stacklevel=3)

    def _model_arrays(self):
        """Copies of the model's arrays (its state_dict's): what the best epoch keeps."""
        return {k: np.array(v) for k, v in self.model.state_dict()[1].items()}

    def _show_arrays(self, arrays):
        """Put ``arrays`` (from _model_arrays or the model's state_dict) into the model."""
        self.model.load_state_dict({}, arrays)


def _json_value(value, where):
    try:
        json.dumps(value)
    except TypeError:
        raise ValueError(f"checkpoint: {where} is a {type(value).__name__}, which a checkpoint cannot hold "
                         "(only arrays, numbers, strings and bools)") from None
    return value


def _warn_other_threads(state, path):
    """A RuntimeWarning when the checkpoint was written with another thread count than this
    process has (checkpoints written before the count was recorded have none: no warning)."""
    saved, now = state.get("threads"), thread_count()
    if saved is not None and saved != now:
        warnings.warn(f"checkpoint {path} was written with {saved} threads, this process has {now}: "
                      "the resumed run will not be bit-identical to an uninterrupted one", RuntimeWarning, stacklevel=4)
