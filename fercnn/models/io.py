"""Save and load a ConvNet as one .npz file."""
import json
import os

import numpy as np


def save_model(model, path):
    """path: a .npz file. Holds the spec, reg, dtype, seed, every parameter, the batchnorm
    running statistics, and (when set) the mean image and class names."""
    meta = {"spec": model.spec, "reg": model.reg, "dtype": str(model.dtype), "seed": model.seed,
            "class_names": model.class_names, "format": 1}
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    for layer, state in model.bn_state.items():
        for stat, v in state.items():
            arrays[f"bn/{layer}/{stat}"] = v
    if model.mean_image is not None:
        arrays["mean_image"] = model.mean_image
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def load(path):
    """Rebuild the ConvNet saved at ``path``; it predicts exactly as the saved one."""
    from fercnn.models.convnet import ConvNet

    if not os.path.exists(path):
        raise ValueError(f"load: no such model file: {path}")
    with np.load(path, allow_pickle=False) as f:
        if "meta" not in f.files:
            raise ValueError(f"load: {path} is not a fercnn model (no 'meta' entry)")
        meta = json.loads(str(f["meta"]))
        spec = meta["spec"]
        model = ConvNet(conv=spec["conv"], fc=spec["fc"], input_shape=spec["input_shape"],
                        num_classes=spec["num_classes"], hog=spec["hog"], reg=meta["reg"],
                        dtype=np.dtype(meta["dtype"]), seed=meta["seed"])
        for key in model.params:
            if f"param/{key}" not in f.files:
                raise ValueError(f"load: {path} lacks parameter {key}")
            arr = f[f"param/{key}"]
            if arr.shape != model.params[key].shape:
                raise ValueError(f"load: {path}: {key} has shape {arr.shape}, spec wants {model.params[key].shape}")
            model.params[key] = arr
        for layer, state in model.bn_state.items():
            for stat in state:
                state[stat] = f[f"bn/{layer}/{stat}"]
        model.mean_image = f["mean_image"] if "mean_image" in f.files else None
        model.class_names = meta["class_names"]
    return model
