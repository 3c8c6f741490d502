"""The paper's preprocessing, and the input a network is given.

Training, evaluation and prediction all prepare a network's input with ``prepare_input``
(a ConvNet does it through ``model.prepare``): the images as the network's dtype, with a
channel axis, minus the training set's mean image.
"""
import numpy as np


def prepare_input(images, mean_image, dtype):
    """uint8 (or float) images (N, H, W) or (N, C, H, W) -> (N, C, H, W) of ``dtype`` with
    ``mean_image`` (C, H, W) subtracted."""
    images = np.asarray(images)
    X = images.astype(dtype)
    if X.ndim == 3:
        X = X[:, None]
    return X - mean_image


def flip_double(X, y):
    """The training set and its horizontal mirror images: X (N, ..., W) -> (2N, ..., W)."""
    return np.concatenate([X, X[..., ::-1]]), np.concatenate([y, y])


def preprocess(data, *, double_by_flip=True, dtype=np.float32):
    """The paper's preprocessing: float, (N, 1, 48, 48), training-set mean image subtracted.

    Returns a new dict with X_* as (N, 1, H, W) arrays of ``dtype``, the labels, the
    mean_image (1, H, W) and, when double_by_flip, a training set doubled by mirror images
    (the mean is taken after doubling, so it is left-right symmetric).
    """
    out = {k: v for k, v in data.items() if not k.startswith("X_")}
    X_train, y_train = data["X_train"], data["y_train"]
    if double_by_flip:
        X_train, y_train = flip_double(X_train, y_train)
        out["y_train"] = y_train
    mean = X_train.astype(np.float64).mean(axis=0)[None].astype(dtype)
    out["mean_image"] = mean
    for split, X in (("train", X_train), ("val", data.get("X_val")), ("test", data.get("X_test"))):
        if X is not None:
            out[f"X_{split}"] = prepare_input(X, mean, dtype)
    return out
