"""Rebuild a ConvNet from its file (fercnn.models.io reads and checks the file)."""
import numpy as np

from fercnn.models.convnet import ConvNet
from fercnn.models.io import read_npz


def model_from_entries(meta, entries, path, what="load"):
    """Rebuild the ConvNet described by ``meta`` and ``entries`` (as read_npz returns them)."""
    try:
        spec = meta["spec"]
        model = ConvNet(conv=spec["conv"], fc=spec["fc"], input_shape=spec["input_shape"],
                        num_classes=spec["num_classes"], hog=spec["hog"], reg=meta["reg"],
                        dtype=np.dtype(meta["dtype"]), seed=meta["seed"],
                        label_smoothing=meta.get("label_smoothing", 0.0))
    except (KeyError, TypeError) as e:
        raise ValueError(f"{what}: {path} is not a fercnn model (its meta lacks {e})") from None
    except ValueError as e:  # a spec or setting out of range
        raise ValueError(f"{what}: {path}: {e}") from None
    model.load_state_dict({k: v for k, v in meta.items() if k != "rng"}, entries, where=f"{what}: {path}")
    bad = model.nonfinite()
    if bad:
        listed = ", ".join(f"{k}: {n:,}" for k, n in bad[:3])
        raise ValueError(f"{what}: {path} holds NaN or infinite values ({listed}{', ...' if len(bad) > 3 else ''}); "
                         "a model with them cannot predict (a diverged training run writes such files)")
    return model


def load(path):
    """Rebuild the ConvNet saved at ``path`` (a model file or a Solver checkpoint); it
    predicts exactly as the saved one. Any problem with the file is one ValueError."""
    meta, entries = read_npz(path, "load")
    return model_from_entries(meta, entries, path)
