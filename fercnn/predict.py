"""Expression probabilities for photos: find the faces, crop them, run the model.

    from fercnn import detect_emotions
    from fercnn.models import load
    faces = detect_emotions(photo_array, model=load("runs/deep_fer2013/model.npz"))
    # [{"box": [x, y, width, height], "emotions": {"angry": p, ...}, "top": "happy"}, ...]
"""
import numpy as np

from fercnn.data.faces import find_faces
from fercnn.data.fer2013 import CLASS_NAMES
from fercnn.models.shipped import default_model
from fercnn.models.tta import predict_proba_tta


def predict_faces(model, faces, *, batch_size=256, tta=False):
    """Class probabilities (N, K) float64 for uint8 (N, 48, 48) face crops; tta: averaged
    over the mirror image (and shifted copies: fercnn.models.tta)."""
    if len(faces) == 0:
        return np.zeros((0, model.spec["num_classes"]))
    if model.hog_dim:
        raise ValueError("this is a hybrid (HOG) model; prediction on photos takes image-only models")
    with np.errstate(over="ignore", invalid="ignore"):  # refused below, with what went wrong
        X = model.prepare(faces)
        probs = (predict_proba_tta(model, X, batch_size=batch_size) if tta else
                 model.predict_proba(X, batch_size=batch_size)).astype(np.float64)
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


def detect_emotions(image, model=None, *, detect=True, min_face=48, tta=False):
    """The faces in one image and their expression probabilities.

    image: (H, W), (H, W, 3) or (H, W, 4) array (uint8 0..255, uint16 0..65535, floats 0..1 or
    0..255: see fercnn.data.to_gray for every dtype; NaN pixels are refused). model: a
    ConvNet trained on 48x48 faces (fercnn.models.load(path)); by default the shipped deep
    network (fercnn.models.pretrained("deep")), where this install has it. Returns a list, largest face
    first, of {"box": [x, y, width, height], "emotions": {class name: probability},
    "top": class name}; an empty list when no face is found. tta: average each face's
    probabilities over its mirror image (and shifted copies; fercnn.models.tta).
    """
    if model is None:
        model = default_model("detect_emotions", "pass model= (e.g. fercnn.models.load('runs/deep_fer2013/model.npz'))")
    boxes, crops = find_faces(image, detect=detect, min_face=min_face)
    names = class_names_of(model)
    try:
        probs = predict_faces(model, crops, tta=tta)
    except ValueError as e:
        raise ValueError(f"detect_emotions: the model: {e}") from None
    return [face_record(b, p, names) for b, p in zip(boxes, probs)]
