"""What a wrong output looks like: the common mistakes, recognised on purpose.

structure(): what a result must be before its numbers mean anything (an array of the input's
dtype and the right shape, finite). explain(): the result against the right one, tried
against models of common mistakes (fercnn/exercises/mistakes.py: fercnn's readable op with
one thing done wrong: a flipped kernel, a missing bias, the unbiased variance, ...), then
against patterns (a constant
factor such as N, a transpose, zeros, an error confined to the padded border). Each returns
the sentence the grader prints after the relative error; docs/exercises.md lists them.
"""
from dataclasses import dataclass
from typing import Any

import numpy as np

import fercnn.layers as layers
from fercnn.exercises.mistakes import MODELS

NAMED, PATTERN = 2, 1  # how sure a diagnosis is: a mistake model matched, or only a pattern


@dataclass
class Context:
    """op: the registry Op; what: "out", "dx", "running_var", ...; inputs, settings: the
    case (float64); dtype: the dtype it ran in; dout: the upstream gradient (backward);
    side: "forward" or "backward"; models: try the mistake models (they need a registry case)."""
    op: Any
    what: str
    inputs: list
    settings: dict
    dtype: Any
    dout: Any
    side: str
    models: bool = True


def close(a, b, tol=1e-6):
    """a and b equal up to tol of b's largest magnitude (shapes must match)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not np.isfinite(a).all():
        return False
    return bool(np.max(np.abs(a - b), initial=0.0) <= tol * max(1e-12, float(np.max(np.abs(b), initial=0.0))))


def structure(what, got, want, context):
    """'' when got is an array of want's shape in the input's dtype; otherwise what is wrong."""
    if got is None:
        if what == "db":
            return f"db is None: the bias gradient is missing ({_db_rule(context)})"
        return f"{what} is None"
    if not hasattr(got, "shape") and not np.isscalar(got):
        return f"{what} is a {type(got).__name__}, expected an array"
    got_a = np.asarray(got)
    if got_a.shape != want.shape:
        if got_a.ndim == 2 and got_a.shape == want.shape[::-1]:
            return (f"{what} has shape {got_a.shape}, expected {want.shape}: it is transposed"
                    + (" (x.T @ dout, not dout.T @ x)" if what == "dw" else ""))
        return f"{what} has shape {got_a.shape}, expected {want.shape}" + _shape_hint(what, got_a.shape, context)
    if got_a.dtype.kind != "f":
        return f"{what} has dtype {got_a.dtype}, expected {np.dtype(context.dtype).name}"
    if got_a.dtype != np.dtype(context.dtype):
        return (f"{what} is {got_a.dtype} for {np.dtype(context.dtype).name} inputs: a constant or buffer of "
                f"another dtype (create arrays with dtype=x.dtype, scalars as x.dtype.type(...))")
    if not np.isfinite(got_a).all() and np.isfinite(want).all():
        if context.op.function == "softmax_loss":
            return (f"{what} is not finite: exp() overflows on large scores; subtract each row's max "
                    f"before exponentiating")
        return f"{what} holds inf or nan"
    return ""


def _db_rule(context):
    return "db sums dout over N, H_out and W_out" if context.op.function == "conv" else "db sums dout over the batch"


def _shape_hint(what, shape, context):
    s = context.settings
    if context.op.function == "conv" and what == "out" and len(shape) == 4:
        x, w = context.inputs[0], context.inputs[1]
        H, HH = x.shape[2], w.shape[2]
        if s.get("pad") and shape[2] == (H - HH) // s["stride"] + 1:
            return ": the output size of pad 0 (the zero padding is missing)"
        if s.get("stride", 1) > 1 and shape[2] == H + 2 * s["pad"] - HH + 1:
            return ": the output size of stride 1 (the stride is ignored)"
    if what == "dx" and context.settings.get("pad") == 0 and len(shape) == 4 and 0 in shape:
        return ": empty when pad = 0 (x_pad[:, :, pad:-pad] is x_pad[:, :, 0:0]; slice pad:pad + H)"
    return ""


def explain(what, got, want, context):
    """(sentence, strength) for a wrong result of the right shape and dtype; ('', 0) if nothing
    is recognised."""
    for model in MODELS.get((context.op.function, what), ()) if context.models else ():
        try:
            alternative, sentence = model(context)
        except Exception:  # a model that does not apply to this case (shapes, settings)
            continue
        if alternative is not None and np.shape(alternative) == np.shape(got) and close(got, alternative, 1e-5):
            return sentence, NAMED
    return _patterns(what, np.asarray(got, np.float64), np.asarray(want, np.float64), context)


def _factors(context):
    """Named factors a result is commonly off by, for this op."""
    x = context.inputs[0]
    N = x.shape[0] if np.ndim(x) else 1
    factors = {"N": N}
    if context.op.function == "spatial_batchnorm":
        factors = {"N*H*W": N * x.shape[2] * x.shape[3], "N": N, "H*W": x.shape[2] * x.shape[3]}
    p = context.settings.get("p")
    if p:
        factors.update({"1 / (1 - p)": 1 / (1 - p), "1 - p": 1 - p})
    return factors


def _patterns(what, got, want, context):
    if not np.any(want):
        return "", 0
    if not np.any(got):
        if what == "db":
            return f"db is all zeros: the bias gets no gradient ({_db_rule(context)})", NAMED
        return f"{what} is all zeros", PATTERN
    c = float(np.vdot(got, want) / np.vdot(want, want))
    if close(got, c * want, 1e-6):
        if abs(c + 1) < 1e-6:
            return f"{what} has the wrong sign", NAMED
        for name, f in _factors(context).items():
            if f != 1 and abs(c - f) < 1e-6 * f:
                return f"{what} off by a factor of {name} ({name} times the right value)", NAMED
            if f != 1 and abs(c - 1 / f) < 1e-6 / f:
                return (f"{what} off by a factor of {name} (1/{name} of the right value"
                        + ("; sum over the batch, do not average)" if what in ("dgamma", "dbeta", "dw", "db")
                           else ")"), NAMED)
        return f"{what} is {c:.3g} times the right value", PATTERN
    if got.ndim == 2 and got.shape == got.shape[::-1] and close(got, want.T):
        return f"{what} is transposed", NAMED
    if got.ndim == 4 and close(got, want.transpose(0, 1, 3, 2)):
        return f"{what} is transposed in its last two axes (kernel rows and columns swapped)", NAMED
    if got.ndim == 4 and close(got, want[:, :, ::-1, ::-1]):
        return f"{what} is flipped (kernel rows and columns reversed)", NAMED
    if context.op.function == "conv" and what == "dx" and context.settings.get("pad") and context.models:
        border = padded_border(context)
        off = ~np.isclose(got, want, rtol=1e-6, atol=1e-9 * float(np.abs(want).max()))
        if off.any() and (~border).any() and not (off & ~border).any():
            return ("dx wrong only at the padded border (the pixels the windows reaching into the zero "
                    "padding cover): those windows' gradients are missing or misplaced"), NAMED
    return "", 0


def padded_border(context):
    """Boolean mask (x's shape) of the pixels some window overlapping the zero padding covers."""
    x, w = context.inputs[0], context.inputs[1]
    stride, pad = context.settings["stride"], context.settings["pad"]
    HH, WW = w.shape[2:]
    inside = np.ones((1, 1) + x.shape[2:])
    cols = layers.conv.im2col(inside, HH, WW, stride, pad)  # 0 where a window pixel is padding
    touches = (cols.min(axis=0) == 0).astype(np.float64)    # per window: does it reach the padding
    covered = layers.conv.col2im(np.broadcast_to(touches, cols.shape).copy(), inside.shape, HH, WW, stride, pad)
    return np.broadcast_to(covered[0, 0] > 0, x.shape)


def across_cases(side, outcomes):
    """(sentence, strong) when the failures of one side share a configuration the passing cases
    lack (stride 2, overlapping windows, padding, evaluation, a batch of one, float32), else
    ('', False). strong: it outranks a mistake named in one case (a wrong stride also shows
    as a border pattern in that case)."""
    failed = [o for o in outcomes if not o.ok and not o.waits and o.exc is None and o.side == side and o.tags]
    passed = [o for o in outcomes if o.ok and o.side == side and o.tags]
    if not failed or not passed:
        return "", False
    word = "forward" if side == "forward" else "backward"
    rules = [
        (lambda t: t.get("stride", 1) > 1, f"{word} does not handle stride 2 (stride 1 passes)", True),
        (lambda t: "size" in t and t.get("stride", 0) < t["size"],
         f"{word} is wrong only where windows overlap (stride < size): overlapping windows' gradients add up",
         True),
        (lambda t: t.get("pad", 0) > 0, f"{word} is wrong only with padding (pad 0 passes)", False),
        (lambda t: t.get("training") is False, f"{word} is wrong only in evaluation (training=False)", False),
        (lambda t: t.get("training") is True, f"{word} is wrong only in training", False),
        (lambda t: t.get("batch_of_one") or t.get("N") == 1, f"{word} is wrong only for a batch of one (N = 1)",
         False),
        (lambda t: t.get("dtype") == "float32", f"{word} is wrong only in float32", False),
    ]
    for applies, sentence, strong in rules:
        if all(applies(o.tags) for o in failed) and any(not applies(o.tags) for o in passed):
            return sentence, strong
    return "", False
