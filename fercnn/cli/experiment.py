"""The paper's experiments as one command-line program (fercnn train; examples/train_*.py
run it through fercnn.cli.train_script).

Without --data it trains on procedurally drawn faces (fercnn.data.synthetic) in a few minutes;
with --data PATH it runs the paper's experiment on FER2013: train on Training, select the
epoch on PublicTest (validation), report PrivateTest (test).
"""
import json
import os
import sys
import time

import numpy as np

from fercnn import limits, models
from fercnn.cli.options import OneLineParser, folder_path, number
from fercnn.cli.outputs import RunFolder
from fercnn.data import (
    CLASS_NAMES,
    flip_double,
    hog_features_for,
    is_fer2013,
    load_fer2013,
    load_image_folder,
    make_synthetic_faces,
    preprocess,
    summarize,
)
from fercnn.data.augment import Augmentation
from fercnn.fileio import write_json, write_text
from fercnn.metrics import confusion_matrix, per_class_table
from fercnn.models.convnet import WEIGHT_INITS
from fercnn.plots import plot_confusion, plot_history
from fercnn.train.optim import RULES
from fercnn.train.solver import Solver

# the paper's hyper-parameters on FER2013 (linear: ours, chosen on synthetic validation accuracy);
# the synthetic defaults are sized for a few minutes on 2 cores
PAPER = {"shallow": {"lr": 1e-3, "reg": 1e-6}, "deep": {"lr": 1e-2, "reg": 1e-7}, "linear": {"lr": 1e-5, "reg": 0.0},
         "vgg": {"lr": 1e-2, "reg": 1e-4}}  # vgg: ours (not the paper's), as Khaireddin & Chen 2021 train theirs
SYNTHETIC = {"epochs": 8, "n_train": 1400, "n_val": 700, "n_test": 700}


def build_parser(preset, hog, prog=None):
    p = OneLineParser(
        prog=prog or f"train_{'hybrid' if hog else preset}.py",
        description=f"Train the paper's {preset} network{' with HOG features (hybrid)' if hog else ''}. "
                    "Without --data: synthetic faces; with --data: FER2013 (csv or Kaggle image folders).")
    p.add_argument("--data", help="fer2013.csv, or the folder with FER2013's train/ and test/, or a folder of your "
                                  "own faces: <class>/* or train/<class>/*, val/<class>/* [, test/<class>/*] "
                                  "(default: synthetic faces)")
    p.add_argument("--detect-faces", action="store_true",
                   help="your own faces: crop each image to its largest detected face (images without one are listed)")
    p.add_argument("--min-face", type=number(int, 24), default=48, help="smallest face searched, pixels")
    p.add_argument("--val-fraction", type=number(float, 0, 1, high_open=True), default=0.15,
                   help="your own faces without train/ and val/: share of each class for validation")
    p.add_argument("--test-fraction", type=number(float, 0, 1, high_open=True), default=0.15,
                   help="likewise for test")
    p.add_argument("--out", type=folder_path, help="output folder (default: runs/<name>); a folder that holds a finished "
                                             "run is refused unless --overwrite or --resume")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an --out that holds a run: its results, model and checkpoints are removed "
                        "once the data is loaded")
    p.add_argument("--epochs", type=number(int, 1),
                   help="epochs (default: 35 on FER2013, %d on synthetic); may be raised with --resume" % SYNTHETIC["epochs"])
    p.add_argument("--batch-size", type=number(int, 2), default=128)
    if hog:  # the defaults follow --preset: see parse_args
        paper = ", ".join(f"{n} {PAPER[n]['lr']:g}" for n in ("shallow", "deep"))
        p.add_argument("--lr", type=number(float, 0, low_open=True), help=f"learning rate (paper: {paper})")
        paper = ", ".join(f"{n} {PAPER[n]['reg']:g}" for n in ("shallow", "deep"))
        p.add_argument("--reg", type=number(float, 0), help=f"L2 strength (paper: {paper})")
    else:
        p.add_argument("--lr", type=number(float, 0, low_open=True), default=PAPER[preset]["lr"],
                       help="learning rate (paper: %(default)g)")
        p.add_argument("--reg", type=number(float, 0), default=PAPER[preset]["reg"],
                       help="L2 strength (paper: %(default)g)")
    p.add_argument("--lr-decay", type=number(float, 0, 1, low_open=True),
                   help="learning-rate factor per epoch, in (0, 1] (default 0.95; 1 with --lr-schedule plateau or "
                        "cosine)")
    p.add_argument("--update-rule", default="sgd_momentum", choices=sorted(RULES))
    p.add_argument("--momentum", type=number(float, 0, 1, high_open=True), default=0.9, help="for sgd_momentum, in [0, 1)")
    p.add_argument("--conv-dropout", type=number(float, 0, 1, high_open=True), default=0.2,
                   help="drop probability after each conv block, in [0, 1)")
    p.add_argument("--fc-dropout", type=number(float, 0, 1, high_open=True), default=0.5,
                   help="drop probability after each FC block, in [0, 1)")
    p.add_argument("--no-flip-double", action="store_true", help="do not double the training set by mirror images")
    p.add_argument("--augment-flip", action="store_true", help="also flip a random half of every minibatch")
    g = p.add_argument_group("augmentation, drawn afresh for every minibatch (fercnn.data.augment)")
    g.add_argument("--augment-shift", type=number(int, 0, 24), default=0, metavar="PIXELS",
                   help="shift each image by up to this many pixels along each axis")
    g.add_argument("--augment-rotate", type=number(float, 0, 180), default=0.0, metavar="DEGREES",
                   help="rotate each image by up to this many degrees")
    g.add_argument("--augment-scale", type=number(float, 0, 0.9), default=0.0, metavar="FRACTION",
                   help="scale each image by a factor in [1 - FRACTION, 1 + FRACTION]")
    g.add_argument("--augment-erase", type=number(float, 0, 1), default=0.0, metavar="P",
                   help="erase a random rectangle of an image with probability P")
    g = p.add_argument_group("learning-rate schedule and loss")
    g.add_argument("--lr-schedule", choices=("decay", "plateau", "cosine"), default="decay",
                   help="decay: multiply by --lr-decay each epoch (default); plateau: multiply by --plateau-factor "
                        "when validation accuracy has not improved for more than --plateau-patience epochs; "
                        "cosine: a cosine curve to --min-lr over the run, after --warmup-epochs")
    g.add_argument("--plateau-factor", type=number(float, 0, 1, low_open=True, high_open=True), default=0.5)
    g.add_argument("--plateau-patience", type=number(int, 0), default=3, metavar="EPOCHS")
    g.add_argument("--warmup-epochs", type=number(float, 0), default=0.0, metavar="EPOCHS")
    g.add_argument("--min-lr", type=number(float, 0), default=0.0)
    g.add_argument("--label-smoothing", type=number(float, 0, 1, high_open=True), default=0.0, metavar="EPSILON",
                   help="softmax targets (1 - EPSILON) on the label and EPSILON / K spread over all classes")
    g.add_argument("--nesterov", action="store_true", help="Nesterov momentum (--update-rule sgd_momentum)")
    p.add_argument("--train-limit", type=number(int, 2), help="use only the first N training images (quick runs)")
    p.add_argument("--synthetic-train", type=number(int, 7), default=SYNTHETIC["n_train"], help="synthetic training faces")
    p.add_argument("--time-limit", type=number(float, 0, low_open=True),
                   help="stop after the last epoch that fits in this many minutes (of this invocation)")
    p.add_argument("--early-stop", type=number(int, 1), metavar="EPOCHS",
                   help="stop once validation accuracy has not improved for this many epochs (the best epoch's "
                        "model is kept, as always)")
    p.add_argument("--keep-epochs", type=number(int, 1), metavar="N",
                   help="keep the checkpoints of the last N epochs' ends (checkpoints/), e.g. for fercnn average "
                        "(default: the newest two and the best epoch's; on --resume, the run's own setting)")
    p.add_argument("--checkpoint-every", type=number(int, 1), metavar="N",
                   help="also write a checkpoint every N iterations (default: at the end of every epoch only)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest complete checkpoint (same options; "
                        "--epochs may be raised)")
    p.add_argument("--bn-recalibration", type=number(int, 0), default=6400,
                   help="training images (dropout off) that batchnorm's statistics are recomputed from before "
                        "each evaluation; 0: keep those collected while training (default %(default)s)")
    p.add_argument("--weight-init", choices=WEIGHT_INITS, default="he",
                   help="initial weights: he, normal with std sqrt(2/fan_in) (default); uniform, in "
                        "+-1/sqrt(fan_in), PyTorch's default (the reference runs')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", help="where decoded FER2013 arrays are cached")
    p.add_argument("--max-pixels", type=number(int, 1), metavar="N",
                   help=f"your own faces: refuse an image of more than N pixels (default {limits.DEFAULTS['pixels']:,}, "
                        f"or ${limits.ENV['pixels']})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    if hog:
        p.add_argument("--preset", choices=("shallow", "deep"), default=preset, help="conv part of the hybrid")
    if preset == "shallow" and not hog:
        p.add_argument("--layers", metavar="DIR",
                       help="train with the layers you wrote in DIR (fercnn exercises start DIR) in place of "
                            "fercnn's, then with fercnn's own, same seed and settings, and compare them; "
                            "synthetic defaults become --synthetic-train 420 --epochs 4 --batch-size 64")
    return p


def parse_args(preset, hog, argv, prog=None):
    """The options of a training run; a hybrid's --lr and --reg default to the paper's values
    for its --preset (deep: 0.01, 1e-7), not the shallow network's."""
    args = build_parser(preset, hog, prog).parse_args(argv)
    if args.lr_decay is None:
        args.lr_decay = 0.95 if args.lr_schedule == "decay" else 1.0
    if hog:
        args.lr = PAPER[args.preset]["lr"] if args.lr is None else args.lr
        args.reg = PAPER[args.preset]["reg"] if args.reg is None else args.reg
    return args


def augmentation(args):
    """The Augmentation the options ask for, or None (--augment-flip alone keeps the Solver's
    own flip, which the runs before augmentation used)."""
    if not (args.augment_shift or args.augment_rotate or args.augment_scale or args.augment_erase):
        return None
    return Augmentation(flip=args.augment_flip, shift=args.augment_shift, rotate=args.augment_rotate,
                        scale=args.augment_scale, erase=args.augment_erase)


def lr_schedule(args):
    if args.lr_schedule == "plateau":
        return {"kind": "plateau", "factor": args.plateau_factor, "patience": args.plateau_patience,
                "min_lr": args.min_lr}
    if args.lr_schedule == "cosine":
        return {"kind": "cosine", "warmup_epochs": args.warmup_epochs, "min_lr": args.min_lr}
    return None


def load_data(args):
    if args.data and is_fer2013(args.data):
        data = load_fer2013(args.data, cache_dir=args.cache_dir)
    elif args.data:
        data = load_image_folder(args.data, detect=args.detect_faces, min_face=args.min_face,
                                 val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.seed,
                                 max_pixels=args.max_pixels)
    else:
        n = args.synthetic_train
        scale = max(n, 7) / SYNTHETIC["n_train"]
        data = {"class_names": list(CLASS_NAMES)}
        for split, size, seed in (("train", n, 1), ("val", SYNTHETIC["n_val"] * scale, 2), ("test", SYNTHETIC["n_test"] * scale, 3)):
            data[f"X_{split}"], data[f"y_{split}"] = make_synthetic_faces(int(size), seed=[args.seed, seed])
    if args.train_limit:
        data["X_train"], data["y_train"] = data["X_train"][:args.train_limit], data["y_train"][:args.train_limit]
    return data


def main(preset, argv=None, *, hog=False, prog=None):
    """Parse argv, load the data, train, evaluate and write the outputs; returns the results dict."""
    args = parse_args(preset, hog, argv, prog)
    preset = getattr(args, "preset", preset)
    fer = bool(args.data) and is_fer2013(args.data)
    source = "fer2013" if fer else os.path.basename(os.path.normpath(args.data)) if args.data else "synthetic"
    if getattr(args, "layers", None):  # a learner's layers beside fercnn's (fercnn/exercises/train.py)
        from fercnn.exercises.train import compare
        out = args.out or os.path.join("runs", f"shallow_layers_{source}")
        return compare(args, sys.argv[1:] if argv is None else argv, load_data=load_data, preprocess=preprocess,
                       summarize=summarize, out=out)
    out = args.out or os.path.join("runs", ("hybrid_" if hog else "") + preset + "_" + source)
    epochs = args.epochs if args.epochs is not None else (35 if args.data else SYNTHETIC["epochs"])
    folder = RunFolder(out, prog or f"train_{'hybrid' if hog else preset}.py", data=args.data, resume=args.resume,
                       overwrite=args.overwrite)
    folder.open()  # checked and locked before the data is loaded
    try:
        results = train(args, preset, hog, out, epochs, fer, folder)
    except BaseException:
        folder.release(failed=True)
        raise
    folder.release()
    return results


def train(args, preset, hog, out, epochs, fer, folder):
    """The run itself, in the checked and locked --out: load, build, train, report."""
    t0 = time.time()
    raw = load_data(args)
    what = f"FER2013 from {args.data}" if fer else f"your faces from {args.data}" if args.data else "synthetic faces"
    print(f"data: {what} ({time.time() - t0:.1f} s)")
    print(summarize(raw))
    data = preprocess(raw, double_by_flip=not args.no_flip_double)
    dropout = {} if preset == "linear" else {"conv_dropout": args.conv_dropout, "fc_dropout": args.fc_dropout}
    model = getattr(models, preset)(hog=hog, reg=args.reg, seed=args.seed, num_classes=len(raw["class_names"]),
                                    weight_init=args.weight_init, label_smoothing=args.label_smoothing, **dropout)
    model.mean_image, model.class_names = data["mean_image"], list(raw["class_names"])
    augment = augmentation(args)
    model.augmentation = augment.config() if augment else None
    if hog:
        train_raw = raw["X_train"] if args.no_flip_double else flip_double(raw["X_train"], raw["y_train"])[0]
        for split, images in (("train", train_raw), ("val", raw["X_val"]), ("test", raw["X_test"])):
            data[f"features_{split}"] = hog_features_for(model, images)
    print(model.summary())

    config = {"learning_rate": args.lr}
    if args.update_rule == "sgd_momentum":
        config["momentum"] = args.momentum
        if args.nesterov:  # recorded only when used, so that runs started before the flag still resume
            config["nesterov"] = True
    elif args.nesterov:
        raise ValueError(f"--nesterov is a form of momentum: it needs --update-rule sgd_momentum, got {args.update_rule}")
    solver = Solver(model, data, update_rule=args.update_rule, optim_config=config, lr_decay=args.lr_decay,
                    batch_size=args.batch_size, num_epochs=epochs, seed=args.seed, lr_schedule=lr_schedule(args),
                    augment_flip=args.augment_flip and augment is None, augment=augment,
                    checkpoint_dir=os.path.join(out, "checkpoints"), checkpoint_every=args.checkpoint_every,
                    verbose=not args.quiet, bn_recalibration=args.bn_recalibration,
                    max_seconds=None if args.time_limit is None else 60 * args.time_limit, early_stop=args.early_stop,
                    keep_epochs=args.keep_epochs)
    if args.resume:
        started_with = solver.resume()
        if args.quiet:  # otherwise the Solver said it
            print(f"resumed from {solver.resumed_from}: {solver.epoch} epochs and {len(solver.loss_history)} "
                  f"iterations done")
        if args.epochs is None:  # the run's own length, not the default
            solver.num_epochs = epochs = started_with
    if args.overwrite:
        removed = folder.clear()
        if removed:
            print(f"--overwrite: removed the earlier run's {', '.join(removed)} from {out}")
    print(f"training {epochs} epochs on {len(data['y_train'])} images, batch {args.batch_size}, "
          f"{args.update_rule} lr {args.lr:g}, reg {args.reg:g}; checkpoints in {solver.checkpoint_dir}")
    solver.train(resume=args.resume)
    results_path = os.path.join(out, "results.json")
    if solver.already_finished and os.path.exists(results_path):
        print(f"{out}: the run had already finished ({solver.epoch} of {epochs} epochs); its results are in {results_path}")
        with open(results_path) as f:
            return json.load(f)
    return report(model, solver, data, out, train_s=solver.train_seconds, args=vars(args), epochs=epochs)


def report(model, solver, data, out, *, train_s, args, epochs, extra=None):
    """Evaluate the best-validation model on val and test; write model, plots and tables.
    ``extra``: more entries for results.json (a sweep's trial adds its own)."""

    names = model.class_names
    results = {"args": args, "epochs": epochs, "epochs_run": solver.epoch, "stopped_early": solver.stopped_early,
               "train_seconds": round(train_s, 1), "best_epoch": solver.best_epoch, "resumes": solver.resumes}
    for split in ("val", "test"):
        if len(data[f"y_{split}"]) == 0:  # your own faces with train/ and val/ only
            results[f"{split}_accuracy"], results[f"{split}_confusion"] = None, None
            continue
        pred = model.predict(data[f"X_{split}"], features=data.get(f"features_{split}"))
        cm = confusion_matrix(data[f"y_{split}"], pred, len(names))
        results[f"{split}_accuracy"] = float(np.trace(cm) / cm.sum())
        results[f"{split}_confusion"] = cm.tolist()
    scored = "test" if results["test_confusion"] is not None else "val"
    results.update(extra or {})
    model.save(os.path.join(out, "model.npz"))
    write_json(os.path.join(out, "history.json"), solver.history())
    table = per_class_table(np.array(results[f"{scored}_confusion"]), names)
    write_text(os.path.join(out, "per_class_accuracy.txt"), f"{scored}\n{table}\n")
    plot_history(solver.history(), os.path.join(out, "accuracy.png"))
    plot_confusion(np.array(results[f"{scored}_confusion"]), names, os.path.join(out, "confusion.png"),
                   title=f"{scored}: normalised confusion matrix")
    write_json(os.path.join(out, "results.json"), results, indent=1)  # last: its presence marks a finished report
    test = "no test split" if scored == "val" else f"test accuracy {results['test_accuracy']:.4f}"
    print(f"{solver.epoch} of {epochs} epochs run; best epoch {solver.best_epoch}: validation accuracy "
          f"{results['val_accuracy']:.4f}, {test} (training {train_s:.0f} s)")
    print(f"per-class {scored} accuracy:\n" + table)
    print(f"wrote {out}/: model.npz, results.json, history.json, per_class_accuracy.txt, accuracy.png, confusion.png")
    return results
