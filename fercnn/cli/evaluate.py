"""fercnn evaluate: score saved models on FER2013, pick the best on validation, report test for it alone.

    fercnn evaluate --data path/to/fer2013 runs/deep_fer2013/checkpoints/epoch*.npz
    fercnn evaluate --data path/to/fer2013 --bn-recalibration 0 model.npz   # statistics as saved

Every model is scored on the validation split (PublicTest), after its batchnorm statistics
are recomputed from --bn-recalibration training images with dropout off (the Solver does
the same before each evaluation; checkpoints written without it gain from it). The model
with the best validation accuracy is then scored once on the test split (PrivateTest),
with the per-class table. Models keep the mean image they were trained with. A model of
other classes than FER2013's seven (trained on your own faces, say) is refused before
anything is scored.
"""
import numpy as np

from fercnn import models
from fercnn.cli.options import OneLineParser, describe, number
from fercnn.data import CLASS_NAMES, flip_double, load_fer2013
from fercnn.metrics import confusion_matrix, per_class_table
from fercnn.models.tta import predict_proba_tta
from fercnn.predict import class_names_of


def main(argv=None, prog="fercnn evaluate"):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("models", nargs="+", help="model .npz files (model.save or Solver checkpoints)")
    p.add_argument("--data", required=True, help="fer2013.csv, or the folder with train/ and test/")
    p.add_argument("--bn-recalibration", type=number(int, 0), default=6400, help="training images; 0: no recalibration")
    p.add_argument("--seed", type=number(int, 0), default=0, help="which training images recalibrate")
    p.add_argument("--cache-dir", help="where decoded FER2013 arrays are cached")
    p.add_argument("--tta", action="store_true",
                   help="also score with averaging at test time (the mirror image, and shifted copies for a model "
                        "trained on shifts; fercnn.models.tta) and choose on that; both are reported")
    args = p.parse_args(argv)
    for path in args.models:  # all of them before any work (each is loaded again below, one at a time)
        check_scorable(models.load(path), path)
    raw = load_fer2013(args.data, cache_dir=args.cache_dir)
    X_train, _ = flip_double(raw["X_train"], raw["y_train"])
    rng = np.random.default_rng(args.seed)
    recal = np.sort(rng.choice(len(X_train), min(args.bn_recalibration, len(X_train)), replace=False))
    best = None
    for path in args.models:
        model = models.load(path)
        if len(recal) and model.bn_state:
            model.recalibrate_batchnorm(model.prepare(X_train[recal]))
        acc = float(np.mean(model.predict(model.prepare(raw["X_val"])) == raw["y_val"]))
        line = f"{path}: validation accuracy {acc:.4f}"
        if args.tta:
            acc = float(np.mean(_tta_labels(model, raw["X_val"]) == raw["y_val"]))
            line += f", with averaging at test time {acc:.4f}"
        print(line)
        if best is None or acc > best[0]:
            best = (acc, path, model)
    acc, path, model = best
    cm = confusion_matrix(raw["y_test"], model.predict(model.prepare(raw["X_test"])), len(raw["class_names"]))
    print(f"best on validation: {path} ({acc:.4f}); test accuracy {np.trace(cm) / cm.sum():.4f}")
    if args.tta:
        cm = confusion_matrix(raw["y_test"], _tta_labels(model, raw["X_test"]), len(raw["class_names"]))
        print(f"test accuracy with averaging at test time: {np.trace(cm) / cm.sum():.4f}")
    print("per-class test accuracy:\n" + per_class_table(cm, list(raw["class_names"])))
    return 0


def _tta_labels(model, images):
    return predict_proba_tta(model, model.prepare(images)).argmax(axis=1)


def check_scorable(model, path):
    """Refuse a model this command cannot score on FER2013: a hybrid (HOG) one, or one whose
    classes are not FER2013's seven in its order (its scores would be read as other classes)."""
    if model.hog_dim:
        raise ValueError(f"evaluate: {path} is a hybrid (HOG) model; this command scores image-only models")
    got, want = class_names_of(model), list(CLASS_NAMES)
    if got != want:
        raise ValueError(f"evaluate: {path} is not a FER2013 model: expected {len(want)} classes {want}, "
                         f"got {len(got)} classes {got}")
