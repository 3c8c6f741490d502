"""Averaging at test time: the class probabilities of an image and of copies of it.

    probs = predict_proba_tta(model, X)    # X as model.predict_proba takes it

The copies are the mirror image (faces are left-right symmetric enough that every network
here is trained on both) and, for a network trained on shifted images (its
``augmentation`` has a shift), the image and its mirror shifted by half that shift (rounded
up) up, down, left and right: 2 or 10 views. Their softmax outputs are averaged.
"""
import numpy as np

from fercnn.data.augment import warp


def tta_shift(model):
    """The shift (pixels) of the shifted views for ``model``: half the shift it was trained with,
    rounded up (a model trained on shifts of 1 pixel gets views shifted by 1), 0 if none."""
    augmentation = getattr(model, "augmentation", None) or {}
    return -(-int(augmentation.get("shift", 0)) // 2)


def views(X, shift):
    """The views of X (N, C, H, W): [X, mirror] and, with shift > 0, both shifted by +-shift
    pixels along each axis; each (N, C, H, W)."""
    N = len(X)
    out = [X, X[..., ::-1].copy()]
    none, flip = np.zeros(N, bool), np.ones(N, bool)
    for dr, dc in ((shift, 0), (-shift, 0), (0, shift), (0, -shift)) if shift else ():
        moved = np.tile([dr, dc], (N, 1))
        for mirror in (none, flip):
            out.append(warp(X, mirror, np.zeros(N), np.ones(N), moved))
    return out


def predict_proba_tta(model, X, *, shift=None, batch_size=256, **inputs):
    """Class probabilities (N, K) averaged over the views of X (see the module docstring);
    shift: the shifted views' shift in pixels (default: tta_shift(model))."""
    if getattr(model, "hog_dim", 0) or inputs:  # (a Predictor refuses hybrids when it is made)
        raise ValueError("predict_proba_tta: expected an image-only model; a hybrid's HOG features describe the "
                         "image as it is, not its mirrored and shifted views")
    shift = tta_shift(model) if shift is None else shift
    probs = [model.predict_proba(v, batch_size=batch_size) for v in views(X, shift)]
    return (sum(p.astype(np.float64) for p in probs) / len(probs)).astype(probs[0].dtype)
