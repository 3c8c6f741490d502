"""The checks every op must pass, walked over the registry (fercnn.exercises.registry).

One code for fercnn's own ops and for a learner's: tests/test_ops.py runs these on
fercnn.layers and fercnn.fast (and fails on any Outcome that is not ok), and
``fercnn exercises check`` runs them on the functions of a learner's layers.py. Each check
returns Outcomes: what was checked, whether it passed and, when not, which output or
gradient is off, its relative error and the mistake it looks like (fercnn.exercises.diagnose).

- gradient: backward against centred differences of the forward (float64, a random upstream
  gradient, inputs off kinks and ties), relative error below 1e-7 per entry (entries below
  1e-3 of the gradient's largest measured against 1e-3 of it: scaled_rel_error);
- agreement: forward, running statistics and every gradient equal to the reference op's
  (fercnn.layers, the readable face) on the registry's random shapes, float32 and float64;
  the dtype of every result is the input's.

With catch=True (the grader) an exception in the op becomes a failed Outcome holding it;
without (the tests) it propagates.
"""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from fercnn.exercises import diagnose
from fercnn.exercises.registry import run_backward, run_forward, upstream
from fercnn.gradient_check import eval_numerical_gradient_array, scaled_rel_error

# What the learner's code may raise that a check reports as a failure instead of ending the
# command: every exception, and SystemExit, with which a sys.exit() in the learner's file would
# otherwise end `fercnn exercises check` in silence, with its status (0: all seemed to pass).
LEARNER_ERRORS = (Exception, SystemExit)

GRADIENT_TOLERANCE = 1e-7
# agreement of two faces: relative, and absolute against the reference's largest magnitude (at least 1)
AGREEMENT_TOLERANCE = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}


@dataclass
class Outcome:
    """One check's result. side: "forward" or "backward" (which function it judges);
    check: what was checked; what: the output or gradient off (on failure); error: its
    relative error; diagnosis: the mistake recognised, and strength 2 (a named mistake) or
    1 (a pattern); exc: the exception raised; waits: the check did not run because the
    forward it needs failed; tags: the case's configuration (stride, pad, training, ...)."""
    side: str
    check: str
    ok: bool
    what: str = ""
    error: Optional[float] = None
    diagnosis: str = ""
    strength: int = 0
    exc: Optional[BaseException] = None
    waits: bool = False
    tags: dict = field(default_factory=dict)

    def message(self):
        """One line: what is off, by how much, where, and why (as far as it is recognised)."""
        if self.exc is not None:
            return f"{self.check}: {type(self.exc).__name__}: {self.exc}"
        if self.waits:
            return f"{self.check}: not run, the forward pass it needs is off"
        text = self.what or self.check
        if self.error is not None:
            text += f": relative error {self.error:.1e}"
        text += f" ({self.check})"
        return text + (f": {self.diagnosis}" if self.diagnosis else "")


def case_tags(op, inputs, settings, dtype):
    """What a case is, for diagnoses across cases: stride, pad, pool window, training, N, dtype."""
    tags = {"dtype": np.dtype(dtype).name, "N": int(np.shape(inputs[0])[0]) if np.ndim(inputs[0]) else 0}
    for key in ("stride", "pad", "size", "training", "p"):
        if key in settings:
            tags[key] = settings[key]
    if op.function == "conv":
        tags["k"] = int(np.shape(inputs[1])[2])
    return tags


def _fail(side, check, exc, tags):
    return Outcome(side, check, False, exc=exc, tags=tags)


def compare(side, what, got, want, *, check, tol, tags, context, gradient=False):
    """Outcome of got against want: same shape and dtype, then within tol (scaled_rel_error
    below tol for a gradient; allclose(rtol=tol, atol=tol * max(1, |want|)) otherwise)."""
    want = np.asarray(want)
    problem = diagnose.structure(what, got, want, context)
    if problem:
        return Outcome(side, check, False, what=what, diagnosis=problem, strength=2, tags=tags)
    got = np.asarray(got)
    err = scaled_rel_error(got, want) if got.size else 0.0
    if gradient:
        ok = bool(err < tol)
    else:
        scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
        ok = bool(np.allclose(got, want, rtol=tol, atol=tol * scale)) and bool(np.isfinite(got).all()
                                                                               or not np.isfinite(want).all())
    if ok:
        return Outcome(side, check, True, what=what, error=err, tags=tags)
    text, strength = diagnose.explain(what, got, want, context)
    return Outcome(side, check, False, what=what, error=err, diagnosis=text, strength=strength, tags=tags)


def _grads(op, ops, dout, cache):
    grads = run_backward(op, ops, dout, cache)
    return grads if isinstance(grads, tuple) else (grads,)


def _count(op, grads, check, tags):
    if len(grads) != len(op.grads):
        return Outcome("backward", check, False, what="gradients",
                       diagnosis=f"backward returns {len(grads)} values, expected {len(op.grads)}: "
                                 f"{', '.join(op.grads)}", strength=2, tags=tags)
    return None


def gradient(op, ops, *, seed=0, catch=False):
    """Every gradient of op's backward against centred differences of its forward (float64)."""
    inputs, settings = op.build(np.random.default_rng(seed))
    tags = case_tags(op, inputs, settings, np.float64)
    check = f"{op.label}, numerical gradient"
    try:
        out, cache, _ = run_forward(op, ops, _copies(inputs), settings, np.float64)
    except LEARNER_ERRORS as e:
        if not catch:
            raise
        return [_fail("forward", check, e, tags)]
    dout = upstream(out, np.float64)
    try:
        got = _grads(op, ops, dout, cache)
    except LEARNER_ERRORS as e:
        if not catch:
            raise
        return [_fail("backward", check, e, tags)]
    wrong = _count(op, got, check, tags)
    if wrong:
        return [wrong]
    outcomes = []
    for k, (name, g) in enumerate(zip(op.grads, got)):
        def f(_, k=k):  # inputs[k] perturbed in place; the op gets copies (one that changes its input cannot spoil it)
            return np.asarray(run_forward(op, ops, _copies(inputs), settings, np.float64)[0], dtype=np.float64)
        try:
            numeric = eval_numerical_gradient_array(f, inputs[k], dout)
        except LEARNER_ERRORS as e:
            if not catch:
                raise
            return outcomes + [_fail("forward", check, e, tags)]
        if not np.any(numeric != 0):
            raise AssertionError(f"{op.label} {name}: the numerical gradient is all zeros, nothing is checked")
        context = diagnose.Context(op, name, inputs, settings, np.float64, dout, "backward")
        outcomes.append(compare("backward", name, g, numeric, check=check, tol=GRADIENT_TOLERANCE, tags=tags,
                                context=context, gradient=True))
    return outcomes


def agreement(op, ops, reference, dtype, *, seed, catch=False, batch_of_one=False, reference_readable=True):
    """op's forward (out, running statistics) and backward (every gradient) from module ops
    against module reference's, on the inputs of one seed, in dtype; every result must keep
    dtype. reference_readable: the reference of a fused op is its readable composition.
    batch_of_one: the case cut to its first example. Backward is compared only where forward
    agrees (otherwise its outcomes wait)."""
    dtype = np.dtype(dtype)
    tol = AGREEMENT_TOLERANCE[dtype]
    inputs, settings = op.build(np.random.default_rng(seed))
    if batch_of_one:
        inputs, settings = one_example(inputs, settings)
    tags = dict(case_tags(op, inputs, settings, dtype), batch_of_one=batch_of_one)
    shape = "x" if op.function not in ("softmax_loss", "svm_loss") else "scores"
    check = f"{op.label}, {shape} {tuple(np.shape(inputs[0]))} {dtype.name}"
    want_out, want_cache, want_state = run_forward(op, reference, inputs, settings, dtype, readable=reference_readable)
    given = [np.array(a, dtype=dtype) for a in inputs]  # the very arrays forward gets (already of dtype)
    try:
        out, cache, state = run_forward(op, ops, given, settings, dtype)
    except LEARNER_ERRORS as e:
        if not catch:
            raise
        return [_fail("forward", check, e, tags)]
    changed = [name for name, a, b in zip(_input_names(op), given, inputs) if not np.array_equal(a, b.astype(dtype))]
    in_place = [Outcome("forward", check, False, what=changed[0], diagnosis=f"forward changes its input "
                        f"{changed[0]} in place: compute into a new array (np.maximum(x, 0), not x[x < 0] = 0)",
                        strength=diagnose.NAMED, tags=tags)] if changed else []

    def context(what, side, dout=None):
        return diagnose.Context(op, what, inputs, settings, dtype, dout, side)
    out_name = "loss" if shape == "scores" else "out"
    results = [compare("forward", out_name, out, want_out, check=check, tol=tol, tags=tags,
                       context=context(out_name, "forward"))] + in_place
    for key in want_state or {}:
        got = None if state is None else state.get(key)
        results.append(compare("forward", key, got, want_state[key], check=check, tol=tol, tags=tags,
                               context=context(key, "forward")))
    if not results[0].ok:  # backward needs the right forward (the running statistics do not matter to it)
        return results + [Outcome("backward", check, False, waits=True, tags=tags)]
    dout = upstream(want_out, dtype)
    want = run_backward(op, reference, dout, want_cache, readable=reference_readable)
    try:
        got = _grads(op, ops, dout.copy(), cache)
    except LEARNER_ERRORS as e:
        if not catch:
            raise
        return results + [_fail("backward", check, e, tags)]
    wrong = _count(op, got, check, tags)
    if wrong:
        return results + [wrong]
    for name, g, w in zip(op.grads, got, want):
        results.append(compare("backward", name, g, w, check=check, tol=tol, tags=tags,
                               context=context(name, "backward", dout)))
    return results


def _copies(arrays):
    return [np.array(a, copy=True) for a in arrays]


def _input_names(op):
    """What the checked inputs are called: the names of their gradients without the d."""
    return [g[1:] for g in op.grads]


def one_example(inputs, settings):
    """A case cut to a batch of one: the first row of x (or of the scores and labels)."""
    settings = dict(settings)
    if "y" in settings:
        settings["y"] = settings["y"][:1]
    return [inputs[0][:1]] + list(inputs[1:]), settings


def allows_batch_of_one(op, settings):
    """Batchnorm on (N, D) cannot train on one example (no variance); everything else can."""
    return not (op.function == "batchnorm" and settings.get("training"))
