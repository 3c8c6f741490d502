"""fercnn evaluate: score saved models on FER2013, pick the best on validation, report test for it alone.

    fercnn evaluate --data path/to/fer2013 runs/deep_fer2013/checkpoints/epoch*.npz
    fercnn evaluate --data path/to/fer2013 --bn-recalibration 0 model.npz   # statistics as saved

Every model is scored on the validation split (PublicTest), after its batchnorm statistics
are recomputed from --bn-recalibration training images and their mirror images, dropout
off (the Solver does the same before each evaluation, so a model.npz a run wrote already
holds them: --bn-recalibration 0 scores it as it is; checkpoints written without it gain
from it). Each image is mirrored after its mean image is subtracted, as training's flips
are. The model with the best validation accuracy (averaged at test time with --tta) is
then scored once on the test split (PrivateTest), with the per-class table. Models keep
the mean image they were trained with. A model of other classes than FER2013's seven
(trained on your own faces, say) is refused before anything is scored.
"""
import numpy as np

from fercnn import models
from fercnn.cli.options import OneLineParser, describe, number
from fercnn.data import CLASS_NAMES, load_fer2013
from fercnn.metrics import confusion_matrix, per_class_table
from fercnn.models.tta import predict_proba_tta
from fercnn.predict import FACE_INPUT, class_names_of

# what recalibrate draws by default: in fercnn evaluate, fercnn average and ship_model.py
# --average-last (the Solver's bn_recalibration also defaults to 6400 images)
RECALIBRATION_IMAGES = 6400
RECALIBRATION_SEED = 0


def main(argv=None, prog="fercnn evaluate"):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("models", nargs="+", help="model .npz files (model.save or Solver checkpoints)")
    p.add_argument("--data", required=True, help="fer2013.csv, or the folder with train/ and test/")
    p.add_argument("--bn-recalibration", type=number(int, 0), default=RECALIBRATION_IMAGES,
                   help="training images; 0: no recalibration")
    p.add_argument("--seed", type=number(int, 0), default=RECALIBRATION_SEED, help="which training images recalibrate")
    p.add_argument("--cache-dir", help="where decoded FER2013 arrays are cached")
    p.add_argument("--tta", action="store_true",
                   help="also score with averaging at test time (the mirror image, and shifted copies for a model "
                        "trained on shifts; fercnn.models.tta) and choose on that; both are reported")
    args = p.parse_args(argv)
    for path in args.models:  # all of them before any work (each is loaded again below, one at a time)
        check_scorable(models.load(path), path)
    raw = load_fer2013(args.data, cache_dir=args.cache_dir)
    best = None
    for path in args.models:
        model = models.load(path)
        recalibrate(model, raw["X_train"], args.bn_recalibration, args.seed)
        acc = plain = float(np.mean(model.predict(model.prepare(raw["X_val"])) == raw["y_val"]))
        line = f"{path}: validation accuracy {plain:.4f}"
        if args.tta:
            acc = float(np.mean(_tta_labels(model, raw["X_val"]) == raw["y_val"]))
            line += f", averaged at test time {acc:.4f}"
        print(line)
        if best is None or acc > best[0]:
            best = (acc, plain, path, model)
    acc, plain, path, model = best
    cm = confusion_matrix(raw["y_test"], model.predict(model.prepare(raw["X_test"])), len(raw["class_names"]))
    chosen = f"validation {plain:.4f}" + (f", averaged at test time {acc:.4f}" if args.tta else "")
    print(f"best on validation: {path} ({chosen}); test accuracy {np.trace(cm) / cm.sum():.4f}")
    title = "per-class test accuracy"
    if args.tta:
        cm = confusion_matrix(raw["y_test"], _tta_labels(model, raw["X_test"]), len(raw["class_names"]))
        print(f"test accuracy averaged at test time: {np.trace(cm) / cm.sum():.4f}")
        title += ", averaged at test time"
    print(f"{title}:\n" + per_class_table(cm, list(raw["class_names"])))
    return 0


def recalibrate(model, X_train, n, seed):
    """Recompute ``model``'s batchnorm statistics (ConvNet.recalibrate_batchnorm) from ``n``
    images drawn with ``seed`` from the training images (N, 48, 48) and their mirror images,
    each mirrored after its mean image is subtracted, as training's flips are; n = 0 or a
    model without batchnorm: nothing changes."""
    if not n or not model.bn_state:
        return
    total = len(X_train)
    # i < total is image i, i >= total the mirror of image i - total
    drawn = np.sort(np.random.default_rng(seed).choice(2 * total, min(n, 2 * total), replace=False))
    pool = model.prepare(X_train[drawn % total])
    pool[drawn >= total] = pool[drawn >= total][..., ::-1]
    model.recalibrate_batchnorm(pool)


def _tta_labels(model, images):
    return predict_proba_tta(model, model.prepare(images)).argmax(axis=1)


def check_scorable(model, path, prog="evaluate"):
    """Refuse a model this command cannot score on FER2013: a hybrid (HOG) one, one that does not
    take FER2013's 48x48 grayscale faces, or one whose classes are not FER2013's seven in its
    order (its scores would be read as other classes). Before the data is loaded."""
    if model.hog_dim:
        raise ValueError(f"{prog}: {path} is a hybrid (HOG) model; this command scores image-only models")
    shape = tuple(model.spec["input_shape"])
    if shape != FACE_INPUT:
        raise ValueError(f"{prog}: {path} is not a FER2013 model: expected 48x48 grayscale input {FACE_INPUT}, "
                         f"got {shape}")
    got, want = class_names_of(model), list(CLASS_NAMES)
    if got != want:
        raise ValueError(f"{prog}: {path} is not a FER2013 model: expected {len(want)} classes {want}, "
                         f"got {len(got)} classes {got}")
