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
                        dtype=np.dtype(meta["dtype"]), seed=meta["seed"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"{what}: {path} is not a fercnn model (its meta lacks {e})") from None
    storage = meta.get("param_storage")
    if storage not in (None, "float16"):
        raise ValueError(f"{what}: {path} stores its parameters as {storage!r}; expected float16 or the model's dtype")
    for key in model.params:
        arr = entries.get(f"param/{key}")
        if arr is None:
            raise ValueError(f"{what}: {path} lacks parameter {key}")
        if storage == "float16" and arr.dtype == np.float16:  # a shipped file (fercnn.models.shipped)
            arr = arr.astype(model.dtype)
        if arr.shape != model.params[key].shape or arr.dtype != model.dtype:
            raise ValueError(f"{what}: {path}: {key} is {arr.shape} {arr.dtype}, "
                             f"the spec wants {model.params[key].shape} {model.dtype}")
        model.params[key] = arr
    for layer, state in model.bn_state.items():
        for stat in state:
            arr = entries.get(f"bn/{layer}/{stat}")
            if arr is None or arr.shape != state[stat].shape:
                raise ValueError(f"{what}: {path} lacks batchnorm statistic {layer}/{stat} of shape {state[stat].shape}")
            state[stat] = arr
    model.mean_image = entries.get("mean_image")
    model.class_names = meta.get("class_names")
    return model


def load(path):
    """Rebuild the ConvNet saved at ``path`` (a model file or a Solver checkpoint); it
    predicts exactly as the saved one. Any problem with the file is one ValueError."""
    meta, entries = read_npz(path, "load")
    return model_from_entries(meta, entries, path)
