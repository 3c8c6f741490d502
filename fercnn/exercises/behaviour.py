"""Checks of what an op does beyond one call: batchnorm's running statistics over several
training steps, dropout's masks (how many units, their scale, evaluation, the rng), and
im2col / col2im against fercnn's. Like fercnn.exercises.checks they return Outcomes, and
tests/exercises/ holds fercnn's own ops to them.
"""
from types import SimpleNamespace

import numpy as np

from fercnn.exercises.checks import AGREEMENT_TOLERANCE, LEARNER_ERRORS, Outcome, _fail, compare
from fercnn.exercises.diagnose import NAMED, Context
from fercnn.exercises.known import KNOWN
from fercnn.exercises.registry import CONV_GEOMETRIES, OPS


def known(family, ops, *, catch=False):
    """The known answers of fercnn.exercises.known for one registry function."""
    outcomes = []
    op = next(o for o in OPS if o.function == family)
    for case in KNOWN.get(family, ()):
        try:
            triples, carry = case.forward(ops)
        except LEARNER_ERRORS as e:
            if not catch:
                raise
            outcomes.append(_fail("forward", case.label, e, {}))
            continue
        forward = _known_outcomes("forward", case, triples, op)
        outcomes += forward
        if case.backward is None:
            continue
        if not forward[0].ok:  # the output is off: backward's answer would not be known (running statistics are)
            outcomes.append(Outcome("backward", case.label, False, waits=True))
            continue
        try:
            triples = case.backward(ops, carry)
        except LEARNER_ERRORS as e:
            if not catch:
                raise
            outcomes.append(_fail("backward", case.label, e, {}))
            continue
        outcomes += _known_outcomes("backward", case, triples, op)
    return outcomes


def _known_outcomes(side, case, triples, op):
    results = []
    for what, got, want in triples:
        want = np.asarray(want, dtype=np.float64)
        dtype = np.float32 if "float32" in case.label else np.float64
        context = Context(op, what, [want], {}, dtype, None, side, models=False)
        results.append(compare(side, what, got, want.astype(dtype), check=case.label, tol=case.tol,
                               tags=dict(case.tags), context=context))
    return results


# ---- batchnorm: the running statistics over several training steps ----

def running_statistics(family, ops, *, catch=False):
    """Four training calls on a state that starts empty: the first creates it (0 and 1, moved
    (1 - momentum) of the way to the batch's statistics: default momentum 0.9), the next three
    use momentum 0.7; then an evaluation call, which must leave it alone. The state after
    every call against the formula."""
    op = next(o for o in OPS if o.function == family)
    rng = np.random.default_rng(5)
    shape = (7, 3) if family == "batchnorm" else (3, 3, 2, 3)
    axes = (0,) if family == "batchnorm" else (0, 2, 3)
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    forward = ops.batchnorm_forward if family == "batchnorm" else ops.spatial_batchnorm_forward
    state, want = {}, {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    outcomes = []
    for step, momentum in enumerate((None, 0.7, 0.7, 0.7, "eval")):
        x = 2 * rng.standard_normal(shape) + rng.standard_normal(3)[(slice(None),) + (None,) * (len(shape) - 2)]
        training = momentum != "eval"
        before = {k: v.copy() for k, v in want.items()}
        kw = {} if momentum in (None, "eval") else {"momentum": momentum}
        try:
            forward(x, gamma, beta, state, training=training, **kw)
        except LEARNER_ERRORS as e:
            if not catch:
                raise
            return outcomes + [_fail("forward", f"running statistics, call {step + 1}", e, {})]
        if training:
            m = 0.9 if momentum is None else momentum
            want = {"running_mean": m * want["running_mean"] + (1 - m) * x.mean(axis=axes),
                    "running_var": m * want["running_var"] + (1 - m) * x.var(axis=axes)}
        settings = {"state": before, "training": training, "momentum": 0.9 if momentum is None else momentum}
        check = (f"running statistics after call {step + 1} "
                 + ("(first use, default momentum)" if momentum is None else
                    "(evaluation)" if not training else f"(momentum {momentum})"))
        for key in ("running_mean", "running_var"):
            context = Context(op, key, [x, gamma, beta], settings, np.float64, None, "forward")
            outcomes.append(compare("forward", key, state.get(key), want[key], check=check, tol=1e-10,
                                    tags={"training": training}, context=context))
        if not all(o.ok for o in outcomes[-2:]):
            break
    return outcomes


# ---- dropout: the behaviour of the mask, whatever generator rule draws it ----

def dropout(ops, *, catch=False):
    """Forward: the share of dropped units within 5 standard deviations of p (p = 0.25 and 0.6,
    120,000 units), kept units scaled by exactly 1 / (1 - p), the same rng the same mask and
    a float32 input a float32 output; evaluation the identity without drawing from rng.
    Backward: dout passes exactly the units forward kept, scaled as forward scaled them (so a
    mistake in forward's mask or scale is charged to forward alone)."""
    outcomes = []
    x = np.random.default_rng(0).uniform(1.0, 2.0, (300, 400))  # no zeros of its own
    for p in (0.25, 0.6):
        check = f"dropout p={p}, training, x {x.shape}"
        try:
            out, cache = ops.dropout_forward(x, p, training=True, rng=np.random.default_rng(11))
            again, _ = ops.dropout_forward(x, p, training=True, rng=np.random.default_rng(11))
        except LEARNER_ERRORS as e:
            if not catch:
                raise
            return outcomes + [_fail("forward", check, e, {})]
        outcomes.append(_mask_outcome(check, x, out, p))
        same = np.shape(again) == np.shape(out) and np.array_equal(np.asarray(again) == 0, np.asarray(out) == 0)
        outcomes.append(Outcome("forward", f"{check}, the same rng twice", same, what="out",
                                diagnosis="" if same else "the same rng gave another mask: draw every random "
                                "number from rng (not np.random)", strength=NAMED))
        dout = np.random.default_rng(1).standard_normal(x.shape)
        try:
            dx = ops.dropout_backward(dout, cache)
        except LEARNER_ERRORS as e:
            if not catch:
                raise
            outcomes.append(_fail("backward", check, e, {}))
            continue
        kept = np.asarray(out) != 0
        want = dout * np.asarray(out) / x  # what the learner's forward did to each unit, whatever its mask
        context = Context(next(o for o in OPS if o.function == "dropout"), "dx", [x], {"p": p}, np.float64, dout,
                          "backward")
        result = compare("backward", "dx", dx, want, check=check, tol=1e-12, tags={}, context=context)
        if not result.ok and np.shape(dx) == x.shape:
            dx = np.asarray(dx)
            if np.any(dx[~kept] != 0):
                result.diagnosis, result.strength = "dx passes units forward dropped: use forward's mask (keep it " \
                                                    "in the cache)", NAMED
            elif np.allclose(dx[kept], dout[kept]) and not np.allclose(want[kept], dout[kept]):
                result.diagnosis, result.strength = "dx is not scaled as forward scaled the unit (1 / (1 - p))", NAMED
        outcomes.append(result)
    outcomes.append(_dtype_outcome(ops, catch))
    outcomes.append(_eval_outcome(ops, catch))
    return outcomes


def _mask_outcome(check, x, out, p):
    out = np.asarray(out)
    if out.shape != x.shape:
        return Outcome("forward", check, False, what="out", diagnosis=f"out has shape {out.shape}, expected {x.shape}",
                       strength=NAMED)
    dropped = float(np.mean(out == 0))
    sigma = np.sqrt(p * (1 - p) / x.size)
    kept = out[out != 0] / x[out != 0]
    if abs(dropped - (1 - p)) < 5 * sigma:
        why = f"keeps p instead of 1 - p: it drops {dropped:.3f} of the units with p = {p} (a unit is kept " \
              f"when its draw >= p)"
    elif abs(dropped - p) >= 5 * sigma:
        why = f"drops {dropped:.3f} of the units, expected p = {p}"
    elif np.allclose(kept, 1.0):
        why = "forgets the 1 / (1 - p) scaling of the kept units"
    elif np.allclose(kept, 1 - p):
        why = "multiplies the kept units by 1 - p: divide by it"
    elif np.allclose(kept, 1 / p):
        why = "scales the kept units by 1 / p instead of 1 / (1 - p)"
    elif not np.allclose(kept, 1 / (1 - p), rtol=1e-12):
        why = "the kept units are not x / (1 - p)"
    else:
        return Outcome("forward", check, True, what="out")
    return Outcome("forward", check, False, what="out", diagnosis=why, strength=NAMED)


def _dtype_outcome(ops, catch):
    check = "dropout p=0.3, float32"
    x = np.random.default_rng(2).uniform(1, 2, (20, 30)).astype(np.float32)
    try:
        out, cache = ops.dropout_forward(x, 0.3, training=True, rng=np.random.default_rng(3))
        dx = ops.dropout_backward(np.ones_like(x), cache)
    except LEARNER_ERRORS as e:
        if not catch:
            raise
        return _fail("forward", check, e, {})
    bad = [f"{n} is {np.asarray(a).dtype}" for n, a in (("out", out), ("dx", dx)) if np.asarray(a).dtype != x.dtype]
    return Outcome("forward", check, not bad, what="out", diagnosis="; ".join(bad) + " for float32 inputs: a constant "
                   "or mask of another dtype (scale as x.dtype.type(...))" if bad else "", strength=NAMED)


def _eval_outcome(ops, catch):
    check = "dropout p=0.7, evaluation"
    x = np.random.default_rng(4).standard_normal((10, 10))
    rng = np.random.default_rng(9)
    before = rng.bit_generator.state
    try:
        out, _ = ops.dropout_forward(x, 0.7, training=False, rng=rng)
    except LEARNER_ERRORS as e:
        if not catch:
            raise
        return _fail("forward", check, e, {})
    if np.shape(out) != x.shape or not np.array_equal(out, x):
        return Outcome("forward", check, False, what="out", diagnosis="evaluation (training=False) changes x: "
                       "inverted dropout is the identity there", strength=NAMED, tags={"training": False})
    if rng.bit_generator.state != before:
        return Outcome("forward", check, False, what="out", diagnosis="evaluation draws random numbers from rng: "
                       "draw only when training with p > 0", strength=NAMED, tags={"training": False})
    return Outcome("forward", check, True, tags={"training": False})


# ---- im2col and col2im against fercnn's ----

_IM2COL = SimpleNamespace(function="im2col")

def columns(ops, reference, *, catch=False):
    """im2col (side forward) and col2im (side backward) against reference's on every conv
    geometry of the registry, random odd and even sizes, float64 and float32."""
    outcomes = []
    for k, stride, pad in CONV_GEOMETRIES:
        for dtype in (np.float64, np.float32):
            rng = np.random.default_rng(k * 100 + stride * 10 + pad)
            N, C = (int(v) for v in rng.integers(1, 4, 2))
            H, W = ((int(v) - 1) * stride + k - 2 * pad for v in rng.integers(2, 5, 2))
            if H < 1 or W < 1:
                continue
            x = rng.standard_normal((N, C, H, W)).astype(dtype)
            tags = {"stride": stride, "pad": pad, "dtype": np.dtype(dtype).name, "N": N}
            check = f"{k}x{k} stride {stride} pad {pad}, x {x.shape} {np.dtype(dtype).name}"
            want = reference.im2col(x, k, k, stride, pad)
            tol = AGREEMENT_TOLERANCE[np.dtype(dtype)]
            context = Context(_IM2COL, "cols", [x], {"stride": stride, "pad": pad}, dtype, None, "forward",
                              models=False)
            outcomes.append(_guard(lambda: compare("forward", "cols", ops.im2col(x, k, k, stride, pad), want,
                                                   check=check, tol=tol, tags=tags, context=context),
                                   "forward", check, tags, catch))
            dcols = rng.standard_normal(want.shape).astype(dtype)
            want_dx = reference.col2im(dcols, x.shape, k, k, stride, pad)
            outcomes.append(_guard(lambda: compare("backward", "dx", ops.col2im(dcols, x.shape, k, k, stride, pad),
                                                   want_dx, check=check, tol=tol, tags=tags, context=context),
                                   "backward", check, tags, catch))
    return outcomes


def _guard(thunk, side, check, tags, catch):
    try:
        return thunk()
    except LEARNER_ERRORS as e:
        if not catch:
            raise
        return _fail(side, check, e, tags)
