"""A Solver's state as (JSON, arrays) for a checkpoint, and back (see fercnn.checkpoint).

JSON keeps what is small and exact in it: Python floats and ints survive a JSON round trip
bit for bit (the loss history, learning rates, random generator states). Arrays go into
the .npz beside it.
"""
import copy
import hashlib
import json
import warnings

import numpy as np

from fercnn import checkpoint as ckpt
from fercnn.models.io import model_entries
from fercnn.models.loading import model_from_entries
from fercnn.runtime import thread_count

STATE_VERSION = 1


def run_options(solver, fingerprint):
    """The options that decide a run's result (see Solver.options)."""
    meta, _ = model_entries(solver.model)
    return {"update_rule": solver.update_rule.__name__, "optim_config": solver.optim_config,
            "lr_decay": solver.lr_decay, "batch_size": solver.batch_size, "augment_flip": solver.augment_flip,
            "seed": solver.seed, "num_train_samples": solver.num_train_samples,
            "num_val_samples": solver.num_val_samples, "bn_recalibration": solver.bn_recalibration,
            "model": {k: meta[k] for k in ("spec", "reg", "dtype", "seed")}, "data": fingerprint}


def data_fingerprint(data):
    """A hash of the training and validation arrays (and features): a run resumes on the same data only."""
    h = hashlib.blake2b(digest_size=12)
    for key in sorted(k for k in data if k.startswith(("X_", "y_", "features_")) and not k.endswith("_test")):
        a = np.ascontiguousarray(data[key])
        h.update(f"{key}{a.shape}{a.dtype}".encode())
        h.update(a.reshape(-1).view(np.uint8) if a.size else b"")
    return h.hexdigest()


def solver_state(solver):
    """(state, arrays): everything needed to continue ``solver``'s run exactly."""
    arrays, scalars = {}, {}
    for param, config in solver.configs.items():
        scalars[param] = {}
        for key, value in config.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{param}/{key}"] = value
            else:
                scalars[param][key] = _json_value(value, f"optim_config[{param!r}][{key!r}]")
    if solver.order is not None:
        arrays["order"] = solver.order
    # at the end of the epoch that set the best, the best is a copy of the current state
    best_is_current = (solver.best_params is not None and solver.order is None
                       and solver.best_epoch == solver.epoch)
    if solver.best_params is not None and not best_is_current:
        arrays.update({f"best/param/{k}": v for k, v in solver.best_params.items()})
        for layer, stats in solver.best_bn_state.items():
            arrays.update({f"best/bn/{layer}/{s}": v for s, v in stats.items()})
    state = {
        "version": STATE_VERSION,
        "options": solver.options(),
        "num_epochs": solver.num_epochs,
        "epoch": solver.epoch,
        "iteration": len(solver.loss_history),
        "next_batch": solver.next_batch,
        "in_epoch": solver.order is not None,
        "rng": solver.rng.bit_generator.state,
        "model_rng": solver.model.dropout_rng.bit_generator.state,
        "optim": scalars,
        "loss_history": solver.loss_history,
        "train_acc_history": solver.train_acc_history,
        "val_acc_history": solver.val_acc_history,
        "epoch_iterations": solver.epoch_iterations,
        "best_val_acc": solver.best_val_acc,
        "best_epoch": solver.best_epoch,
        "best_checkpoint": solver.best_checkpoint,
        "best_is_current": best_is_current,
        "has_best": solver.best_params is not None,
        "train_seconds": solver.train_seconds,
        "resumes": solver.resumes,
        "threads": thread_count(),  # not an option: a resume with another count is allowed, and warned about
    }
    return state, arrays


def _json_value(value, where):
    try:
        json.dumps(value)
    except TypeError:
        raise ValueError(f"checkpoint: {where} is a {type(value).__name__}, which a checkpoint cannot hold "
                         "(only arrays, numbers, strings and bools)") from None
    return value


def restore_state(solver, meta, entries, path):
    """Put the run saved in a checkpoint (``meta``, ``entries`` from read_checkpoint) into
    ``solver`` and its model. Refuses a checkpoint whose options differ from the solver's."""
    state = meta["checkpoint"]
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"resume: {path} has checkpoint version {state.get('version')!r}; "
                         f"this fercnn reads version {STATE_VERSION}")
    now = json.loads(json.dumps(solver.options()))
    diff = ckpt.first_difference(state["options"], now)
    if diff:
        key, saved, given = diff
        what = "another network" if key.startswith("model.spec") else \
            "other data" if key == "data" else f"{key}={saved!r}"
        raise ValueError(f"resume: {path} is a run with {what}, but this run has {key}={given!r}; "
                         f"resume with the options the run was started with (only the number of epochs may change)")
    saved_model = model_from_entries(meta, entries, path, what="resume")
    model = solver.model
    model.params, model.bn_state = saved_model.params, saved_model.bn_state
    model.dropout_rng.bit_generator.state = state["model_rng"]
    solver.rng.bit_generator.state = state["rng"]
    solver.configs = {}
    for param in model.params:
        config = dict(state["optim"][param])
        prefix = f"optim/{param}/"
        config.update({k[len(prefix):]: v for k, v in entries.items() if k.startswith(prefix)})
        solver.configs[param] = config
    solver.epoch, solver.next_batch = state["epoch"], state["next_batch"]
    solver.order = entries["order"] if state["in_epoch"] else None
    for key in ("loss_history", "train_acc_history", "val_acc_history", "epoch_iterations", "best_val_acc",
                "best_epoch", "best_checkpoint", "train_seconds", "resumes"):
        setattr(solver, key, state[key])
    if not state["has_best"]:
        solver.best_params, solver.best_bn_state = None, None
    elif state["best_is_current"]:
        solver.best_params = {k: v.copy() for k, v in model.params.items()}
        solver.best_bn_state = copy.deepcopy(model.bn_state)
    else:
        solver.best_params = {k: entries[f"best/param/{k}"] for k in model.params}
        solver.best_bn_state = {layer: {s: entries[f"best/bn/{layer}/{s}"] for s in stats}
                                for layer, stats in model.bn_state.items()}
    _warn_other_threads(state, path)


def _warn_other_threads(state, path):
    """A RuntimeWarning when the checkpoint was written with another thread count than this
    process has (checkpoints written before the count was recorded have none: no warning)."""
    saved, now = state.get("threads"), thread_count()
    if saved is not None and saved != now:
        warnings.warn(f"checkpoint {path} was written with {saved} threads, this process has {now}: "
                      "the resumed run will not be bit-identical to an uninterrupted one", RuntimeWarning, stacklevel=4)
