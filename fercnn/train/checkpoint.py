"""Solver checkpoints: the whole state of a training run in one .npz, found again by name.

A checkpoint is a model file (fercnn.models.io: ``meta``, ``param/*``, ``bn/*``,
``mean_image``), so ``fercnn.models.load`` reads it as a model, plus what a run needs to
continue exactly where it stopped:

    meta["checkpoint"]        JSON: options, progress, histories, random generator states,
                              the update rules' scalars (learning rates, step counts), the
                              thread count (fercnn.runtime.thread_count; a resume with another
                              one is warned about, since its sums round differently)
    optim/<param>/<key>       the update rules' arrays (momentum velocity, Adam's m and v)
    order                     the permutation of the epoch in progress (mid-epoch only)
    best/<entry>              the model's arrays at the best validation epoch (best/param/*,
                              best/bn/*, best/mean_image; omitted when they are the current
                              ones: meta["checkpoint"]["best_is_current"])

The whole file is what fercnn.train.Solver.state_dict() returns (fercnn/train/state.py).

Checkpoints are named ``epoch<E>_iter<I>.npz``: I is the number of finished iterations,
E the epoch in progress (or just finished). They are written atomically and read with
``allow_pickle=False``; a torn or foreign file is reported by name and passed over.
"""
import os
import re
import warnings

from fercnn.fileio import remove_stale_temporaries
from fercnn.models.io import read_npz, write_npz

_NAME = re.compile(r"^epoch(\d{3,})_iter(\d{7,})\.npz$")


def checkpoint_name(epoch, iteration):
    """File name of the checkpoint after ``iteration`` iterations, in epoch ``epoch``."""
    return f"epoch{epoch:03d}_iter{iteration:07d}.npz"


def list_checkpoints(folder):
    """Paths of the checkpoints in ``folder``, oldest (fewest iterations) first."""
    if not os.path.isdir(folder):
        return []
    found = [(int(m.group(2)), name) for name in os.listdir(folder) if (m := _NAME.match(name))]
    return [os.path.join(folder, name) for _, name in sorted(found)]


def write_checkpoint(path, meta, arrays):
    """Write a Solver's state_dict() (meta with its "checkpoint" entry, and arrays) to ``path`` atomically."""
    if not isinstance(meta.get("checkpoint"), dict):
        raise ValueError("checkpoint: meta has no 'checkpoint' entry; write Solver.state_dict()")
    write_npz(path, meta, arrays)


def read_checkpoint(path):
    """(meta, entries) of the checkpoint ``path``; ValueError naming the file if it is not one."""
    meta, entries = read_npz(path, "checkpoint")
    if not isinstance(meta.get("checkpoint"), dict):
        raise ValueError(f"checkpoint: {path} is a model file, not a training checkpoint")
    return meta, entries


def newest_checkpoint(folder):
    """(path, meta, entries) of the newest complete checkpoint in ``folder``.

    A file that cannot be read (cut short, corrupt, not a checkpoint) is reported with a
    RuntimeWarning naming it and why, and the next older one is tried. Raises ValueError
    when there is no checkpoint at all or none is complete.
    """
    paths = list_checkpoints(folder)
    if not paths:
        raise ValueError(f"resume: no checkpoint in {folder} (a run writes epoch*_iter*.npz files there)")
    skipped = []
    for path in reversed(paths):
        try:
            meta, entries = read_checkpoint(path)
        except ValueError as e:
            warnings.warn(f"skipping {path}: {e}", RuntimeWarning, stacklevel=2)
            skipped.append(os.path.basename(path))
            continue
        return path, meta, entries
    raise ValueError(f"resume: none of the checkpoints in {folder} is complete: {', '.join(skipped)}")


def prune_checkpoints(folder, keep=2, also_keep=()):
    """Delete all but the newest ``keep`` complete checkpoints and those named in ``also_keep``;
    also remove temporary files left by a killed writer. Returns the deleted names.

    Only a checkpoint that reads back in full counts among the ``keep``: one newer than
    them that cannot be read (cut short, corrupt) could never be resumed from, so it is
    deleted too, with a RuntimeWarning naming it and why, rather than left to push a
    complete one out.
    """
    paths = list_checkpoints(folder)
    complete, unreadable = [], []
    for path in reversed(paths):
        if len(complete) == keep:
            break
        try:
            read_checkpoint(path)
        except ValueError as e:
            unreadable.append((path, e))
            continue
        complete.append(os.path.basename(path))
    keep_names = set(complete) | set(also_keep)
    for path, e in unreadable:
        if os.path.basename(path) not in keep_names:
            warnings.warn(f"deleting {path}: {e}", RuntimeWarning, stacklevel=2)
    deleted = []
    for path in paths:
        name = os.path.basename(path)
        if name not in keep_names:
            os.remove(path)
            deleted.append(name)
    return deleted + remove_stale_temporaries(folder)


def first_difference(saved, now, prefix=""):
    """The first key path where two JSON-like values differ, with both values; None if equal."""
    if isinstance(saved, dict) and isinstance(now, dict):
        for key in sorted(set(saved) | set(now), key=str):
            if key not in saved or key not in now:
                return f"{prefix}{key}", saved.get(key, "(absent)"), now.get(key, "(absent)")
            diff = first_difference(saved[key], now[key], f"{prefix}{key}.")
            if diff:
                return diff
        return None
    if isinstance(saved, list) and isinstance(now, list) and len(saved) == len(now):
        for i, (a, b) in enumerate(zip(saved, now)):
            diff = first_difference(a, b, f"{prefix[:-1]}[{i}].")
            if diff:
                return diff
        return None
    return None if saved == now else (prefix.rstrip("."), saved, now)
