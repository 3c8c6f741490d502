"""fercnn average: average the weights of checkpoints of one run into one network, scored on validation.

    fercnn average --data path/to/fer2013 --out runs/vgg_fer2013/last5.npz --last-epochs 5 runs/vgg_fer2013
    fercnn average --data path/to/fer2013 --out average.npz one.npz two.npz three.npz

A run folder with --last-epochs N stands for the checkpoints its last N epochs ended with
(from its checkpoints/history.json; a run keeps them with --keep-epochs). The parameters
of the given models (model.npz files or Solver checkpoints of the same network, trained on
the same data) are averaged (fercnn.models.average), the batchnorm statistics of the
average are recomputed from --bn-recalibration training images and their mirror images (as
`fercnn evaluate` does), and the result is written to --out. Its validation accuracy
(PublicTest) is printed beside each input's, each input's batchnorm statistics recomputed
from the same images first (so that only the weights differ). The test split is not read:
compare the averages and the run's own model with `fercnn evaluate --bn-recalibration 0`,
which chooses on validation and reports test for the chosen one alone. --out is never one
of the inputs, and an existing file is replaced only with --overwrite.
"""
import json
import os

import numpy as np

from fercnn import models
from fercnn.cli.evaluate import RECALIBRATION_IMAGES, RECALIBRATION_SEED, check_scorable, recalibrate
from fercnn.cli.options import OneLineParser, describe, number
from fercnn.cli.outputs import check_writable, file_ids, is_one_of
from fercnn.data import load_fer2013
from fercnn.models.average import average_models


def main(argv=None, prog="fercnn average"):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("models", nargs="+", help="model .npz files or checkpoints of one run (two or more), or a run "
                                             "folder with --last-epochs")
    p.add_argument("--last-epochs", type=number(int, 2), metavar="N",
                   help="average the checkpoints the run folder's last N epochs ended with")
    p.add_argument("--data", required=True, help="FER2013: fer2013.csv, or the folder with train/ and test/")
    p.add_argument("--out", required=True, help="the averaged model's .npz file")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--bn-recalibration", type=number(int, 2), default=RECALIBRATION_IMAGES,
                   help="training images the batchnorm statistics of the average are computed from")
    p.add_argument("--seed", type=number(int, 0), default=RECALIBRATION_SEED, help="which training images recalibrate")
    p.add_argument("--cache-dir", help="where decoded FER2013 arrays are cached")
    args = p.parse_args(argv)
    if args.last_epochs is not None:
        if len(args.models) != 1 or not os.path.isdir(args.models[0]):
            raise ValueError(f"{prog}: --last-epochs takes one run folder, got {args.models}")
        args.models = epoch_ends(args.models[0], args.last_epochs, prog)[1]
    if len(args.models) < 2:
        raise ValueError(f"{prog}: expected two or more models to average, got {len(args.models)}")
    for path in args.models:
        if not os.path.isfile(path):
            raise ValueError(f"{prog}: no such model file: {path}")
    inputs = file_ids(args.models)
    if len(inputs) != len(args.models):  # the same file under two names, links included
        raise ValueError(f"{prog}: a model is given twice; expected each once (a repeat would weigh it double)")
    if is_one_of(args.out, inputs):
        raise ValueError(f"{prog}: --out {args.out} is one of the models to average; expected a new file")
    if os.path.isdir(args.out):
        raise ValueError(f"{prog}: --out {args.out} is a folder; expected a .npz file to write")
    if os.path.exists(args.out) and not args.overwrite:
        raise ValueError(f"{prog}: --out {args.out} exists; expected a new file (or --overwrite to replace it)")
    loaded = [models.load(path) for path in args.models]
    for model, path in zip(loaded, args.models):
        check_scorable(model, path, prog)
    averaged = average_models(loaded, args.models)  # refuses models of different runs' networks, naming the file
    check_writable(os.path.dirname(os.path.abspath(args.out)), prog)  # the first thing written: after the checks
    raw = load_fer2013(args.data, cache_dir=args.cache_dir)
    X_val = averaged.prepare(raw["X_val"])  # one mean image: checked above
    # every model's batchnorm statistics from the same training images: only the weights differ
    stats = (f"batchnorm statistics from {min(args.bn_recalibration, 2 * len(raw['X_train']))} training images"
             if averaged.bn_state else "no batchnorm")
    for model, path in zip(loaded, args.models):
        recalibrate(model, raw["X_train"], args.bn_recalibration, args.seed)
        print(f"{path}: validation accuracy {np.mean(model.predict(X_val) == raw['y_val']):.4f} ({stats})")
    recalibrate(averaged, raw["X_train"], args.bn_recalibration, args.seed)
    acc = float(np.mean(averaged.predict(X_val) == raw["y_val"]))
    averaged.save(args.out)
    print(f"average of {len(loaded)}: validation accuracy {acc:.4f} ({stats}); wrote {args.out}")
    return 0


def epoch_ends(run, n, prog):
    """(epochs, paths): the last ``n`` epochs of the run in folder ``run`` (or its
    checkpoints/ folder) and the checkpoints they ended with, oldest first; ValueError
    naming what is missing."""
    from fercnn.train.checkpoint import checkpoint_name

    folder = os.path.join(run, "checkpoints") if os.path.isdir(os.path.join(run, "checkpoints")) else run
    history = os.path.join(folder, "history.json")
    if not os.path.exists(history):
        raise ValueError(f"{prog}: {run} is not a training run's folder (no checkpoints/history.json)")
    with open(history) as f:
        ends = json.load(f).get("epoch_iterations")
    if not isinstance(ends, list):
        raise ValueError(f"{prog}: {history} has no epoch_iterations; expected a training run's history")
    if len(ends) < n:
        raise ValueError(f"{prog}: --last-epochs {n}: expected a run of {n} or more epochs, {run} has run {len(ends)}")
    epochs = list(range(len(ends) - n + 1, len(ends) + 1))
    paths = [os.path.join(folder, checkpoint_name(e, ends[e - 1])) for e in epochs]
    missing = [os.path.basename(p) for p in paths if not os.path.exists(p)]
    if missing:
        raise ValueError(f"{prog}: --last-epochs {n}: {folder} lacks {', '.join(missing)} (a run keeps the "
                         "checkpoints of its last epochs with --keep-epochs)")
    return epochs, paths
