"""Write the shipped model (fercnn.models.pretrained) from a finished FER2013 run.

    python reproduction/ship_model.py ~/fercnn-runs/deep_fer2013 --data /work/data/fer2013
    python reproduction/ship_model.py ~/fercnn-runs/vgg_fer2013 --data /work/data/fer2013 --name vgg

Takes the run's model.npz (the best-validation epoch, with the batchnorm statistics it was
evaluated with), or with --average-last N the average of the checkpoints its last N epochs
ended with (made as `fercnn average --last-epochs N` makes it; choose between the two on
validation first), rounds its parameters to float16 and measures that rounded model on
PublicTest (validation) and PrivateTest (test), plain and averaged at test time (the mirror
image, and shifted views for a network trained on shifts: 10 views of each face for vgg,
so shipping it takes a while on 2 cores). The file is then written to
fercnn/models/weights/<name>.npz with those figures, the run's facts and a fingerprint
in its meta, read back, and measured again: the figures printed are the shipped file's.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fercnn import models  # noqa: E402
from fercnn.data import load_fer2013  # noqa: E402
from fercnn.metrics import per_class_table  # noqa: E402
from fercnn.models import presets, shipped  # noqa: E402
from fercnn.cli.average import epoch_ends  # noqa: E402
from fercnn.cli.evaluate import RECALIBRATION_IMAGES, RECALIBRATION_SEED, recalibrate  # noqa: E402
from fercnn.models.average import average_models  # noqa: E402
from reproduction.report import run_options, scores  # noqa: E402

NETWORKS = ("deep", "vgg")  # the presets that can ship (the shallow one's FC layer is too large)


def check_network(model, name):
    """Refuse a run of another network than ``name`` (its conv filters and kernels, FC units)."""
    want = getattr(presets, f"{name}_spec")()
    shape = lambda spec: ([(c["filters"], c["kernel"]) for c in spec["conv"]], [f["units"] for f in spec["fc"]])
    if shape(model.spec) != shape(want) or model.spec.get("hog"):
        sys.exit(f"error: the run's network is not the {name} network: expected conv/fc {shape(want)}, "
                 f"got {shape(model.spec)}{' with HOG' if model.spec.get('hog') else ''}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a finished run's folder (model.npz, results.json, history.json)")
    p.add_argument("--data", required=True, help="FER2013: fer2013.csv or the folder with train/ and test/")
    p.add_argument("--name", default="deep", choices=NETWORKS)
    p.add_argument("--out", help="where to write (default: fercnn/models/weights/<name>.npz, the shipped file)")
    p.add_argument("--average-last", type=int, metavar="N",
                   help="ship the average of the checkpoints the run's last N epochs ended with, its batchnorm "
                        f"statistics from {RECALIBRATION_IMAGES:,} training images (what `fercnn average "
                        "--last-epochs N` writes), instead of the best epoch's model.npz")
    args = p.parse_args(argv)
    if args.average_last is not None and args.average_last < 2:
        p.error(f"--average-last: expected 2 or more epochs, got {args.average_last}")
    with open(os.path.join(args.run, "results.json")) as f:
        results = json.load(f)
    if results["epochs_run"] != results["epochs"] or results.get("stopped_early"):
        sys.exit(f"error: {args.run} ran {results['epochs_run']} of {results['epochs']} epochs; ship finished runs only")
    if results["args"].get("train_limit"):
        sys.exit(f"error: {args.run} trained on the first {results['args']['train_limit']} Training images only; "
                 "ship runs on all of them")
    model = models.load(os.path.join(args.run, "model.npz"))
    check_network(model, args.name)
    raw = load_fer2013(args.data)
    averaged = {}
    if args.average_last:
        try:
            epochs, paths = epoch_ends(args.run, args.average_last, "ship_model")
            model = average_models([models.load(path) for path in paths], paths)
        except ValueError as e:  # what is missing or wrong, by name
            sys.exit(f"error: {e}")
        recalibrate(model, raw["X_train"], RECALIBRATION_IMAGES, RECALIBRATION_SEED)  # fercnn average's defaults
        averaged = {"averaged_epochs": epochs,
                    "averaged_bn_recalibration": {"images": RECALIBRATION_IMAGES, "seed": RECALIBRATION_SEED}}
    out = args.out or os.path.join(shipped.WEIGHTS_DIR, f"{args.name}.npz")
    with open(os.path.join(args.run, "history.json")) as f:
        history = json.load(f)
    provenance = {
        "run": os.path.basename(os.path.normpath(args.run)), "epochs": results["epochs"],
        "best_epoch": results["best_epoch"], "resumes": len(results["resumes"]),
        "train_seconds": results["train_seconds"], "val_curve": history["val_acc"],
        "run_val_accuracy": results["val_accuracy"], "run_test_accuracy": results["test_accuracy"],
        "args": run_options(results),  # every training option, without the bookkeeping (paths, logging)
        **averaged,
    }
    provenance.update(scores(shipped.rounded(model), raw))
    trial = os.path.join(os.path.dirname(os.path.abspath(out)), f".{os.path.basename(out)}.verifying")
    shipped.write_shipped(model, trial, provenance)  # the shipped file is replaced only once this one checks out
    back = shipped.load_shipped(trial)
    again = scores(back, raw)
    expected = {k: provenance[k] for k in again}
    again["augmentation"], expected["augmentation"] = back.augmentation, model.augmentation  # the views averaged
    same_fingerprint = np.allclose(back.predict_proba(shipped.fingerprint_input(back)),
                                   np.array(back.provenance["fingerprint"]), rtol=0, atol=1e-5)
    if again != expected or not same_fingerprint:
        os.remove(trial)
        sys.exit(f"error: {trial} read back: expected {expected}, got {again}"
                 f"{'' if same_fingerprint else ', and not its fingerprint'}; {out} left as it was")
    os.replace(trial, out)
    print(f"wrote {out} ({os.path.getsize(out) / 2 ** 20:.1f} MiB)")
    print(f"shipped file: validation {again['val_accuracy']:.4f}, test {again['test_accuracy']:.4f} "
          f"(the run's best epoch, float32: {results['val_accuracy']:.4f}, {results['test_accuracy']:.4f}); "
          f"averaged at test time: validation {again['val_accuracy_tta']:.4f}, test {again['test_accuracy_tta']:.4f}")
    for tta, what in (("", ""), ("_tta", ", averaged at test time")):
        print(f"per-class test accuracy{what}:\n"
              + per_class_table(np.array(again[f"test_confusion{tta}"]), list(model.class_names)))
    if args.name not in shipped.NAMES and not args.out:
        print(f"note: add {args.name!r} to fercnn.models.shipped.NAMES for pretrained({args.name!r}) to read it "
              "(the first name there is the default model of fercnn predict)")


if __name__ == "__main__":
    main()
