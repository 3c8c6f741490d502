"""A ConvNet's file: what it holds, writing it, reading and checking it (also the model part
of a Solver checkpoint). Rebuilding a ConvNet from it is fercnn.models.loading.

The file holds a JSON ``meta`` entry (spec, reg, dtype, seed, class names, format; a shipped
model adds ``param_storage`` and ``provenance``, see fercnn.models.shipped) and one
array per parameter (``param/<name>``) and batchnorm statistic (``bn/<layer>/<stat>``), plus
``mean_image`` when set. It is read with ``allow_pickle=False``: loading never runs code.
"""
import json
import math
import os
import stat

import numpy as np

from fercnn import limits
from fercnn.fileio import ArrayArchive, atomic_write
from fercnn.models.budget import array_shapes, check_spec
from fercnn.models.spec import normalize_spec

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
        for name, v in state.items():
            arrays[f"bn/{layer}/{name}"] = v
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

    Sizes come before allocation: the entries' headers are read first, then the meta; a
    meta with a spec has the spec checked against the limits of fercnn.limits
    (fercnn.models.budget), and every entry the spec sizes (parameters, batchnorm
    statistics, the mean image, and a checkpoint's best/ and optim/ copies of them) must
    claim what the spec wants; the entries no spec sizes are held to the "bytes" limit
    together. Only then are the arrays read.

    A missing, truncated or corrupt file, one that is not a fercnn file, or one whose claims
    are over a limit raises one ValueError naming the file and what is wrong (never
    numpy's advice to allow pickles).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{what}: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a folder, not a .npz file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{what}: {path} is not a regular file (a FIFO, device or socket), not a .npz file")
    try:
        archive = ArrayArchive(path)
    except ValueError as e:
        raise ValueError(f"{what}: {path} is not a complete fercnn file ({e})") from None
    with archive:
        if "meta" not in archive.headers:
            raise ValueError(f"{what}: {path} is not a fercnn file (no 'meta' entry)")
        limits.check("bytes", archive.total_bytes(["meta"]), f"{what}: {path}: its meta entry holds", " bytes")
        meta = _meta(archive, path, what)
        sized = _sized_entries(meta, path, what)
        unsized = []
        for name, header in archive.headers.items():
            want = _wanted(name, sized)
            if want is None:
                unsized.append(name)
            elif header.dtype.kind not in "fiub" or header.dtype.itemsize > 8 or \
                    (header.shape != want if name.startswith(("param/", "bn/")) else header.size > math.prod(want)):
                key = name.split("/", 1)[1] if name.startswith("param/") else name
                raise ValueError(f"{what}: {path}: {key} is {header.shape} {header.dtype}, the spec wants {want}")
        largest, header = archive.largest(unsized)
        limits.check("bytes", archive.total_bytes(unsized), f"{what}: {path}: entries no spec sizes hold",
                     " bytes in all" + (f" (the largest, {largest}: {header.shape} {header.dtype})" if largest else ""))
        try:
            entries = {name: archive.read(name) for name in archive.headers if name != "meta"}
        except ValueError as e:
            raise ValueError(f"{what}: {path} is not a complete fercnn file ({e})") from None
    return meta, entries


def _meta(archive, path, what):
    try:
        text = str(archive.read("meta"))
    except ValueError as e:
        raise ValueError(f"{what}: {path} is not a complete fercnn file ({e})") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{what}: {path} has a corrupt 'meta' entry ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{what}: {path} has fercnn file format {got!r}; this fercnn reads format {FORMAT}")
    return meta


def _sized_entries(meta, path, what):
    """{entry name: shape} of the arrays the meta's spec sizes ({} without a spec), the spec
    checked against the limits first."""
    spec = meta.get("spec")
    if spec is None:
        return {}
    try:
        spec = normalize_spec(**spec)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: {path}: its spec is not valid ({e})") from None
    check_spec(spec, f"{what}: {path}")
    return array_shapes(spec)


def _wanted(name, sized):
    """The shape the spec wants for entry ``name``, or None when no spec sizes it. A
    checkpoint's best/<entry> is sized as <entry>; its optim/<param>/<key> (an update
    rule's state) holds at most as many values as the parameter."""
    if name.startswith("best/"):
        name = name[5:]
    elif name.startswith("optim/"):
        param = name[6:].rsplit("/", 1)[0]
        name = f"param/{param}"
    return sized.get(name)
