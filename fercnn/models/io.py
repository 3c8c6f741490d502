"""A ConvNet's file: what it holds, writing it, reading and checking it (also the model part
of a Solver checkpoint). Rebuilding a ConvNet from it is fercnn.models.loading.

The file holds a JSON ``meta`` entry (spec, reg, dtype, seed, class names, format; a shipped
model adds ``param_storage`` and ``provenance``, see fercnn.models.shipped) and one
array per parameter (``param/<name>``) and batchnorm statistic (``bn/<layer>/<stat>``), plus
``mean_image`` when set. It is read with ``allow_pickle=False``: loading never runs code.
"""
import json
import os

import numpy as np

from fercnn.fileio import atomic_write, read_arrays

FORMAT = 1


def model_entries(model):
    """(meta dict, {name: array}) that describe ``model`` completely."""
    meta = {"spec": model.spec, "reg": model.reg, "dtype": str(model.dtype), "seed": model.seed,
            "class_names": model.class_names, "format": FORMAT}
    if getattr(model, "label_smoothing", 0.0):  # written only when used: older files stay as they were
        meta["label_smoothing"] = model.label_smoothing
    if getattr(model, "augmentation", None):  # how it was trained, for averaging at test time (fercnn.models.tta)
        meta["augmentation"] = model.augmentation
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    for layer, state in model.bn_state.items():
        for stat, v in state.items():
            arrays[f"bn/{layer}/{stat}"] = v
    if model.mean_image is not None:
        arrays["mean_image"] = model.mean_image
    return meta, arrays


def save_model(model, path):
    """Write ``model`` to the .npz file ``path`` atomically (see fercnn.fileio)."""
    write_npz(path, *model_entries(model))


def write_npz(path, meta, arrays, *, compress=False):
    """Write the JSON-able ``meta`` and ``arrays`` to the .npz file ``path`` atomically: the
    writer of model files and (with more entries) of Solver checkpoints; ``compress``
    deflates the entries (shipped models), at some cost in time."""
    save = np.savez_compressed if compress else np.savez
    with atomic_write(path) as f:
        save(f, meta=np.array(json.dumps(meta)), **arrays)


def read_npz(path, what):
    """{name: array} of every entry of the .npz ``path``, read in full, and its JSON meta.

    A missing, truncated or corrupt file, or one that is not a fercnn file, raises one
    ValueError naming the file and what is wrong (never numpy's advice to allow pickles).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{what}: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a folder, not a .npz file")
    try:
        entries = read_arrays(path)
    except ValueError as e:
        raise ValueError(f"{what}: {path} is not a complete fercnn file ({e})") from None
    if "meta" not in entries:
        raise ValueError(f"{what}: {path} is not a fercnn file (no 'meta' entry)")
    try:
        meta = json.loads(str(entries.pop("meta")))
    except json.JSONDecodeError as e:
        raise ValueError(f"{what}: {path} has a corrupt 'meta' entry ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{what}: {path} has fercnn file format {got!r}; this fercnn reads format {FORMAT}")
    return meta, entries
