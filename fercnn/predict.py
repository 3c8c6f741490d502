"""Expression probabilities for photos: find the faces, crop them, run the model.

    from fercnn import detect_emotions
    from fercnn.models import load
    faces = detect_emotions(photo_array, model=load("runs/deep_fer2013/model.npz"))
    # [{"box": [x, y, width, height], "emotions": {"angry": p, ...}, "top": "happy"}, ...]
    per_frame = detect_emotions([frame1, frame2])   # a list of images: one network pass for all their faces

The network runs frozen (fercnn.inference): batchnorm folded in, the conv method and the
thread count chosen by the number of faces, no Numba kernel compiled.
"""
import os

import numpy as np

from fercnn.data.faces import SIDE, find_faces
from fercnn.data.fer2013 import CLASS_NAMES
from fercnn.inference import predictor_for
from fercnn.models import shipped
from fercnn.models.shipped import default_model
from fercnn.models.tta import predict_proba_tta, tta_shift

FACE_INPUT = (1, SIDE, SIDE)  # what a face crop of fercnn.data.faces gives a model: one grayscale channel


def predict_faces(model, faces, *, batch_size=256, tta=False):
    """Class probabilities (N, K) float64 for uint8 (N, 48, 48) face crops, through the
    model's frozen predictor (fercnn.inference); tta: averaged over the mirror image (and
    shifted copies: fercnn.models.tta)."""
    if model.hog_dim:
        raise ValueError("this is a hybrid (HOG) model; prediction on photos takes image-only models")
    if len(faces) == 0:
        return np.zeros((0, model.spec["num_classes"]))
    predictor = predictor_for(model)
    with np.errstate(over="ignore", invalid="ignore"):  # refused below, with what went wrong
        X = model.prepare(faces)
        probs = (predict_proba_tta(predictor, X, shift=tta_shift(model), batch_size=batch_size) if tta else
                 predictor.predict_proba(X, batch_size=batch_size)).astype(np.float64)
    finite = np.isfinite(probs).all(axis=1)
    if not finite.all():
        raise ValueError(f"its outputs are not finite numbers (NaN or infinite) for {np.count_nonzero(~finite)} of "
                         f"{len(probs)} faces, so they are no probabilities; its parameters are too large or broken")
    return probs


def class_names_of(model):
    """The model's class names (FER2013's seven when the file has none)."""
    if model.class_names:
        return list(model.class_names)
    if model.spec["num_classes"] != len(CLASS_NAMES):
        return [f"class{k}" for k in range(model.spec["num_classes"])]
    return list(CLASS_NAMES)


def face_record(box, probs, names):
    """One face as the JSON-able dict detect_emotions returns."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum()
    return {"box": [int(v) for v in box], "emotions": {n: float(p) for n, p in zip(names, probs)},
            "top": names[int(np.argmax(probs))]}


_default = {}


def _default_model():
    """The shipped model detect_emotions uses without model=, read again only when its file
    changes (a video's frames, a webcam's, call detect_emotions many times)."""
    names = shipped.available()
    key = None
    if names:
        st = os.stat(shipped.path_of(names[0]))
        key = (shipped.path_of(names[0]), st.st_mtime_ns, st.st_size)
    if key is None or _default.get("key") != key:
        model = default_model("detect_emotions", "pass model= (e.g. fercnn.models.load('runs/deep_fer2013/model.npz'))")
        _default.update(key=key, model=model)
    return _default["model"]


def detect_emotions(image, model=None, *, detect=True, min_face=48, tta=False):
    """The faces in an image, or in each of a list of images, and their expression probabilities.

    image: (H, W), (H, W, 3) or (H, W, 4) array (uint8 0..255, uint16 0..65535, floats 0..1 or
    0..255: see fercnn.data.to_gray for every dtype; NaN pixels are refused), or a list (or
    tuple) of such arrays, e.g. a video's frames. model: a ConvNet trained on 48x48 faces
    (fercnn.models.load(path)); by default the first shipped network this install has
    (fercnn.models.pretrained("vgg"), else "deep"). For one image, returns a
    list, largest face first, of {"box": [x, y, width, height], "emotions": {class name:
    probability}, "top": class name}, empty when no face is found; for a list of images, a
    list of such lists, one per image, from one pass of the network over all their faces.
    tta: average each face's probabilities over its mirror image (and shifted copies;
    fercnn.models.tta).
    """
    if model is None:
        model = _default_model()
    many = isinstance(image, (list, tuple))
    found = [find_faces(im, detect=detect, min_face=min_face) for im in (image if many else [image])]
    crops = [c for _, c in found]
    try:
        probs = predict_faces(model, np.concatenate(crops) if crops else np.zeros((0, 48, 48), np.uint8), tta=tta)
    except ValueError as e:
        raise ValueError(f"detect_emotions: the model: {e}") from None
    names = class_names_of(model)
    out, k = [], 0
    for boxes, _ in found:
        out.append([face_record(b, p, names) for b, p in zip(boxes, probs[k:k + len(boxes)])])
        k += len(boxes)
    return out if many else out[0]
