"""Networks trained on FER2013 that ship inside fercnn: ``pretrained("vgg")`` (the default
of prediction) and ``pretrained("deep")`` (the paper's deep network).

    from fercnn.models import pretrained
    model = pretrained("vgg")           # a ConvNet, float32, ready to predict
    model.provenance["test_accuracy"]   # measured from the shipped file on PrivateTest

A shipped file is an ordinary fercnn model file (fercnn.models.io) whose parameters are
stored as float16 to halve its size; they are read back into the model's float32. Batchnorm
statistics and the mean image stay float32. Its meta also holds ``provenance``: the run it
came from, the accuracies measured from this very file, and a fingerprint (the class
probabilities of a fixed input) that the tests check the loaded model against.

The files live in ``fercnn/models/weights/`` and are package data, so a plain
``pip install .`` has them as well as an editable install. ``reproduction/ship_model.py``
writes them from a finished training run.
"""
import os

import numpy as np

from fercnn.models.io import model_entries, read_npz, write_npz
from fercnn.models.loading import model_from_entries

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
# the first is the default model of prediction (fercnn predict, detect_emotions, fercnn serve);
# the shallow network's FC layer alone is 18.9 M weights: too large to ship
NAMES = ("vgg", "deep")
FINGERPRINT_SEED = 2013


def path_of(name):
    """The file ``pretrained(name)`` reads (it may not exist in this install)."""
    if name not in NAMES:
        raise ValueError(f"pretrained: unknown model {name!r}; expected one of {list(NAMES)}")
    return os.path.join(WEIGHTS_DIR, f"{name}.npz")


def available():
    """Names of the pretrained models this install has."""
    return [n for n in NAMES if os.path.exists(path_of(n))]


def pretrained(name="vgg"):
    """The shipped network ``name`` ("vgg" or "deep"): a ConvNet with its mean image, class names and
    batchnorm statistics, and ``.provenance`` (a dict: run, epochs, accuracies, fingerprint)."""
    path = path_of(name)
    if not os.path.exists(path):
        raise ValueError(f"pretrained: this install of fercnn has no {name!r} model ({path} is missing); "
                         f"it has {available() or 'none'}")
    return load_shipped(path)


def default_model(op, instead):
    """The model to use when none is given: the first shipped one. Where this install ships
    none, one ValueError from ``op`` that says what to do ``instead``."""
    names = available()
    if not names:
        raise ValueError(f"{op}: this install ships no trained model; {instead}")
    return pretrained(names[0])


def load_shipped(path):
    """Read a file written by ``write_shipped`` (float16 parameters back to the model's dtype)."""
    meta, entries = read_npz(path, "pretrained")
    model = model_from_entries(meta, entries, path, what="pretrained")
    model.provenance = meta.get("provenance", {})
    return model


def fingerprint_input(model, n=8):
    """A fixed input for ``model``: ``n`` uint8 48x48 faces drawn from a seeded RNG, as the
    model takes them ((n, 1, 48, 48), mean image subtracted)."""
    rng = np.random.default_rng(FINGERPRINT_SEED)
    side = model.spec["input_shape"][-1]
    return model.prepare(rng.integers(0, 256, size=(n, side, side), dtype=np.uint8))


def half_entries(model):
    """(meta, arrays) of ``model`` as a shipped file holds them: parameters in float16."""
    meta, arrays = model_entries(model)
    for key, arr in arrays.items():
        if key.startswith("param/"):
            with np.errstate(over="ignore"):  # an overflow is refused below, by name
                half = arr.astype(np.float16)
            if not np.all(np.isfinite(half)):
                raise ValueError(f"shipped: parameter {key[6:]} is not finite in float16: expected values within "
                                 f"+-65504, got largest |value| {np.abs(arr).max():.3g}")
            arrays[key] = half
        else:  # batchnorm statistics, mean image: copies, so the model's own are never shared
            arrays[key] = np.array(arr)
    meta["param_storage"] = "float16"
    return meta, arrays


def rounded(model):
    """A copy of ``model`` with its parameters rounded to float16 and back: what a shipped
    file of it predicts."""
    meta, arrays = half_entries(model)
    return model_from_entries(meta, arrays, "(in memory)", what="shipped")


def write_shipped(model, path, provenance):
    """Write ``model`` to ``path`` with float16 parameters and ``provenance`` in its meta.

    The fingerprint is computed from the model as it will be read back (parameters rounded
    to float16), so that a loaded file must reproduce it.
    """
    meta, arrays = half_entries(model)
    back = model_from_entries(meta, arrays, path, what="shipped")
    meta["provenance"] = dict(provenance, fingerprint=back.predict_proba(fingerprint_input(back)).tolist())
    write_npz(path, meta, arrays, compress=True)
