"""``fercnn train shallow --layers DIR``: the paper's shallow network trained on a learner's
layers, beside the same run on fercnn's own.

The functions the network calls must pass ``fercnn exercises check`` first (the table of
them is printed; a function that does not pass ends the command in one error line). Then
the network is trained twice with the same seed, data and settings: once with DIR's
layers.py in place of fercnn.fast (fercnn.models.shallow(ops=...)), and with DIR's
sgd_momentum when it passes too, then once with fercnn's fast ops; the two loss curves and
accuracies are printed side by side, with how far apart they are.

The learner's layers are the readable kind, several times slower than fercnn.fast, so the
synthetic-faces defaults are smaller than ``fercnn train shallow``'s (LAYERS_DEFAULTS).
"""
import os
import time

import numpy as np

from fercnn import models
from fercnn.exercises.grader import Learner, format_table, grade
from fercnn.fileio import write_json

# the functions the shallow network calls; spatial batchnorm may call the learner's batchnorm
NETWORK = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "conv_forward", "conv_backward",
           "max_pool_forward", "max_pool_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
           "dropout_forward", "dropout_backward", "softmax_loss")
# smaller than `fercnn train shallow`'s synthetic defaults (1400 faces, 8 epochs, batch 128), so
# that the readable layers train in minutes on 2 cores; each can be set by its option
LAYERS_DEFAULTS = {"synthetic_train": 420, "epochs": 4, "batch_size": 64}
OPTIONS = {"synthetic_train": "--synthetic-train", "epochs": "--epochs", "batch_size": "--batch-size"}
# the options --layers refuses, and why: a comparison runs from the start, in one go, and
# trains the paper's recipe (momentum SGD, yours or fercnn's, a learning rate decayed per
# epoch, no augmentation); options for anything else would be ignored
IN_ONE_GO = "a comparison runs from the start, in one go"
RECIPE = "the comparison trains with momentum SGD, --lr-decay and no augmentation"
REFUSED = {**dict.fromkeys(("--resume", "--checkpoint-every", "--keep-epochs", "--time-limit", "--early-stop"),
                           IN_ONE_GO),
           **dict.fromkeys(("--augment-flip", "--augment-shift", "--augment-rotate", "--augment-scale",
                            "--augment-erase", "--update-rule", "--nesterov", "--lr-schedule", "--plateau-factor",
                            "--plateau-patience", "--warmup-epochs", "--min-lr", "--label-smoothing"), RECIPE)}

def apply_defaults(args, argv):
    """LAYERS_DEFAULTS where argv does not set the option; the options --layers refuses."""
    given = {a.split("=")[0] for a in argv if a.startswith("--")}
    for option, why in REFUSED.items():
        if option in given:
            raise ValueError(f"train shallow --layers: {option} cannot be combined with --layers ({why})")
    for key, value in LAYERS_DEFAULTS.items():
        if OPTIONS[key] not in given:
            setattr(args, key, value)


def check_layers(folder):
    """The learner's modules and update rule, once the network's functions pass; prints the table."""
    rows = grade(folder, list(NETWORK) + ["sgd_momentum"])
    print(format_table(rows, folder))
    failing = [r.name for r in rows if r.name in NETWORK and r.status != "ok"]
    if failing:
        raise ValueError(f"train shallow --layers: {', '.join(failing)} of {folder} do not pass "
                         f"`fercnn exercises check` yet; the shallow network calls them")
    learner = Learner(folder)
    rule_ok = next(r.status == "ok" for r in rows if r.name == "sgd_momentum")
    return learner.modules["layers.py"], (learner.modules["optim.py"].sgd_momentum if rule_ok else None)


def same_masks(layers_module):
    """Whether the learner's dropout drops the units fercnn's does with the same rng."""
    from fercnn.layers import dropout_forward
    x = np.ones((64, 64))
    mine, _ = layers_module.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(0))
    theirs, _ = dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(0))
    return bool(np.array_equal(np.asarray(mine) == 0, theirs == 0))


def run_once(data, raw, args, *, ops, rule, label):
    """Train the shallow network once; returns its history, accuracies and seconds."""
    from fercnn.train.solver import Solver

    model = models.shallow(reg=args.reg, seed=args.seed, num_classes=len(raw["class_names"]),
                           weight_init=args.weight_init, conv_dropout=args.conv_dropout, fc_dropout=args.fc_dropout,
                           ops=ops)
    config = {"learning_rate": args.lr, "momentum": args.momentum}
    t0 = time.time()

    def report(solver):
        e = solver.epoch
        losses = solver.loss_history[solver.epoch_iterations[-2] if e > 1 else 0:]  # iterations at each epoch's end
        print(f"  {label} epoch {e}: loss {np.mean(losses):.4f}, train accuracy {solver.train_acc_history[-1]:.3f}, "
              f"validation accuracy {solver.val_acc_history[-1]:.3f} ({time.time() - t0:.0f} s)", flush=True)
    solver = Solver(model, data, update_rule=rule or "sgd_momentum", optim_config=config, lr_decay=args.lr_decay,
                    batch_size=args.batch_size, num_epochs=args.epochs, seed=args.seed, verbose=False,
                    bn_recalibration=args.bn_recalibration, callback=report, reuse_memory=False)
    solver.train()
    seconds = time.time() - t0
    accuracy = {split: float(np.mean(model.predict(data[f"X_{split}"]) == data[f"y_{split}"]))
                for split in ("val", "test") if len(data[f"y_{split}"])}
    return {"loss_history": solver.loss_history, "val_acc_history": solver.val_acc_history,
            "train_acc_history": solver.train_acc_history, "epoch_iterations": solver.epoch_iterations,
            "best_epoch": solver.best_epoch,
            "accuracy": accuracy, "seconds": round(seconds, 1)}


def compare(args, argv, *, load_data, preprocess, summarize, out):
    """The whole command: check, train twice, print the comparison; returns the results dict."""
    apply_defaults(args, argv)
    written = os.path.join(out, "comparison.json")
    if os.path.exists(written) and not args.overwrite:  # before any work
        raise ValueError(f"train shallow --layers: {written} exists (an earlier comparison); give another --out, "
                         "or --overwrite to replace it")
    layers_module, rule = check_layers(args.layers)
    raw = load_data(args)
    print(summarize(raw))
    data = preprocess(raw, double_by_flip=not args.no_flip_double)
    n = len(data["y_train"])
    print(f"settings (both runs): {args.synthetic_train if not args.data else n} training faces"
          f"{'' if args.no_flip_double or args.data else f' (flip-doubled to {n})'}, {args.epochs} epochs, "
          f"batch {args.batch_size}, sgd_momentum lr {args.lr:g} momentum {args.momentum:g}, reg {args.reg:g}, "
          f"lr decay {args.lr_decay:g}, seed {args.seed}, batchnorm recalibration {args.bn_recalibration}")
    if not args.data:
        print(f"  (smaller than fercnn train shallow's defaults, 1400 faces, 8 epochs, batch 128, so that your "
              f"readable layers train in minutes; {', '.join(OPTIONS.values())} change them)")
    print("update rule: " + ("yours (optim.py's sgd_momentum)" if rule else
                             "fercnn's sgd_momentum (yours does not pass its checks yet)"))
    masks = same_masks(layers_module)
    print(f"training with your layers ({args.layers}/layers.py):", flush=True)
    yours = run_once(data, raw, args, ops=layers_module, rule=rule, label="yours  ")
    print("training with fercnn's fast layers, the same seed and settings:", flush=True)
    theirs = run_once(data, raw, args, ops=None, rule=None, label="fercnn's")
    results = {"settings": {k: getattr(args, k) for k in ("synthetic_train", "epochs", "batch_size", "lr", "momentum",
                                                           "reg", "lr_decay", "seed", "bn_recalibration")},
               "same_dropout_masks": masks, "yours": yours, "fercnn": theirs}
    print(comparison_text(yours, theirs, masks))
    os.makedirs(out, exist_ok=True)
    write_json(written, results, indent=1)
    print(f"wrote {out}/comparison.json")
    return results


def comparison_text(yours, theirs, masks):
    """The side-by-side table and the verdict."""
    lines = [f"{'epoch':>5}  {'loss yours':>10}  {'fercnn':>8}  {'val acc yours':>13}  {'fercnn':>7}"]
    start = 0
    for e, (end, va, vb) in enumerate(zip(yours["epoch_iterations"], yours["val_acc_history"],
                                          theirs["val_acc_history"]), 1):
        la, lb = np.mean(yours["loss_history"][start:end]), np.mean(theirs["loss_history"][start:end])
        start = end
        lines.append(f"{e:>5}  {la:>10.4f}  {lb:>8.4f}  {va:>13.3f}  {vb:>7.3f}")
    a, b = np.array(yours["loss_history"]), np.array(theirs["loss_history"])
    gap = np.abs(a - b)
    lines.append(f"loss curves ({len(a)} iterations): largest difference {gap.max():.4f} "
                 f"(iteration {int(gap.argmax()) + 1}), last {gap[-1]:.4f}, first {gap[0]:.2e}")
    for split in ("val", "test"):
        if split in yours["accuracy"]:
            ya, ta = yours["accuracy"][split], theirs["accuracy"][split]
            name = "validation" if split == "val" else "test"
            lines.append(f"{name} accuracy (best epoch's parameters): yours {ya:.3f}, fercnn's {ta:.3f} "
                         f"({100 * (ya - ta):+.1f} points)")
    lines.append(f"time: yours {yours['seconds']:.0f} s, fercnn's {theirs['seconds']:.0f} s "
                 f"({yours['seconds'] / max(theirs['seconds'], 1e-9):.1f}x)")
    if masks:
        lines.append(f"Your dropout drops the units fercnn's does, so the two runs differ only by float32 rounding "
                     f"(the order of the sums), which training carries from step to step: the first losses differ "
                     f"by {gap[0]:.1e}, the last by {gap[-1]:.1e}.")
    else:
        lines.append("Your dropout draws other masks than fercnn's (any mask from rng passes the check), so the "
                     "runs differ as two dropout seeds would: compare the accuracies, not single losses.")
    return "\n".join(lines)

