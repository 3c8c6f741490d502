"""Learning-rate schedules beside the per-epoch decay: a cut when validation accuracy stops
improving, and a cosine curve with a linear warm-up.

    Solver(..., lr_schedule={"kind": "plateau", "factor": 0.5, "patience": 3})
    Solver(..., lr_schedule={"kind": "cosine", "warmup_epochs": 2})

A schedule is data (a dict, recorded in the run's options) and the Solver's state holds what
a plateau schedule has seen, so a resumed run follows the same learning rates.

- plateau: after each epoch, if validation accuracy has not beaten its best by more than
  ``threshold`` for more than ``patience`` epochs, every learning rate is multiplied by
  ``factor`` (never below ``min_lr``) and the count starts again.
- cosine: before each iteration t of T = num_epochs * iterations per epoch, the learning rate
  is base * (t + 1) / W during the first W = warmup_epochs * iterations per epoch, then
  min_lr + (base - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2.
"""
import math
import numbers

KINDS = {"plateau": {"factor": 0.5, "patience": 3, "threshold": 0.0, "min_lr": 0.0},
         "cosine": {"warmup_epochs": 0, "min_lr": 0.0}}


def normalize(schedule):
    """The schedule dict with its defaults filled in and every value checked; None stays None."""
    if schedule is None:
        return None
    if not isinstance(schedule, dict) or schedule.get("kind") not in KINDS:
        raise ValueError(f"lr_schedule must be None or a dict with kind one of {sorted(KINDS)}, got {schedule!r}")
    defaults = KINDS[schedule["kind"]]
    unknown = sorted(set(schedule) - set(defaults) - {"kind"})
    if unknown:
        raise ValueError(f"lr_schedule {schedule['kind']}: unknown keys {unknown}; valid are {sorted(defaults)}")
    out = {"kind": schedule["kind"], **defaults, **{k: v for k, v in schedule.items() if k != "kind"}}
    for key, value in out.items():
        if key == "kind":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
            raise ValueError(f"lr_schedule {out['kind']}: {key} must be a number >= 0, got {value!r}")
    if out["kind"] == "plateau":
        if not 0 < out["factor"] < 1:
            raise ValueError(f"lr_schedule plateau: factor must be in (0, 1), got {out['factor']!r}")
        if out["patience"] != int(out["patience"]):
            raise ValueError(f"lr_schedule plateau: patience must be a whole number of epochs, got {out['patience']!r}")
        out["patience"] = int(out["patience"])
    return out


def plateau_step(schedule, state, val_acc, lrs):
    """After an epoch with validation accuracy val_acc: (new state, factor to multiply the
    learning rates by, 1.0 for none). state: {"best": float or None, "bad_epochs": int}."""
    best, bad = state["best"], state["bad_epochs"]
    if best is None or val_acc > best + schedule["threshold"]:
        return {"best": val_acc, "bad_epochs": 0}, 1.0
    bad += 1
    if bad <= schedule["patience"]:
        return {"best": best, "bad_epochs": bad}, 1.0
    lowest = min(lrs)
    if lowest <= schedule["min_lr"]:
        return {"best": best, "bad_epochs": 0}, 1.0
    factor = max(schedule["factor"], schedule["min_lr"] / lowest)
    return {"best": best, "bad_epochs": 0}, factor


def cosine_lr(schedule, base_lr, iteration, total, warmup):
    """The learning rate before iteration ``iteration`` (0-based) of ``total``, ``warmup`` of
    them warming up."""
    if warmup and iteration < warmup:
        return base_lr * (iteration + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (iteration - warmup) / span)
    return schedule["min_lr"] + (base_lr - schedule["min_lr"]) * (1 + math.cos(math.pi * progress)) / 2
