"""What every op must do, walked over the one registry of ops (fercnn/exercises/registry.py)
by the checks of fercnn/exercises/checks.py, the same code ``fercnn exercises check`` runs
on a learner's layers:

- its backward equals centred differences (float64, random upstream gradient, inputs off
  kinks and ties), relative error below 1e-7: the readable ops, and the fused fast-only ops;
- it returns the dtype it was given, float32 and float64, gradients and running statistics too;
- the fast op equals the readable one (the fused ones: the readable ops one after another)
  on random shapes: forward, every gradient, the running statistics; dropout bit for bit;
- bad input raises one ValueError whose message names the op and the problem.

PyTorch is the other reference: tests/test_torch.py walks the same registry.
"""
import re

import numpy as np
import pytest
from op_registry import ERRORS, FUNCTIONS, OPS, run_backward, run_forward

import fercnn.fast as fast
import fercnn.layers as layers
from fercnn.exercises import checks

FACES = {"layers": layers, "fast": fast}
FACE_CASES = [pytest.param(op, face, id=f"{face}-{op.label}") for op in OPS for face in op.faces]
# README, "Gradient checks": relative error per entry below 1e-7, where an entry below 1e-3 of the
# gradient's largest is measured against 1e-3 of it (fercnn.gradient_check.scaled_rel_error, what
# `fercnn gradcheck` prints): centred differences carry an absolute error of about
# 1e-16 * |sum(out * dout)| / h, which a nearly cancelling entry of batchnorm's dx cannot beat.
assert checks.GRADIENT_TOLERANCE == 1e-7


def _id(op):
    return op.label


def _assert_all_ok(outcomes, label=""):
    assert outcomes, f"{label}: nothing was checked"
    failed = [o.message() for o in outcomes if not o.ok]
    assert not failed, f"{label}: " + "; ".join(failed)


@pytest.mark.parametrize("op", OPS, ids=_id)
def test_gradient(op):
    """Readable ops, and the fused ops where fast is the only face."""
    outcomes = checks.gradient(op, FACES[op.faces[0]])
    assert len(outcomes) == len(op.grads)
    _assert_all_ok(outcomes, op.label)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("op,face", FACE_CASES)
def test_keeps_dtype(op, face, dt):
    """Each face against itself: every result (out, gradients, running statistics) in dt."""
    ops = FACES[face]
    _assert_all_ok(checks.agreement(op, ops, ops, dt, seed=1, reference_readable=False), f"{face} {op.label}")


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("op", OPS, ids=_id)
def test_fast_equals_readable(op, dt):
    """On six random shapes each (conv and pool: one per geometry in the registry); where
    dropout draws, the same units dropped (the same numbers, bit for bit in the mask)."""
    for seed in range(6):
        _assert_all_ok(checks.agreement(op, fast, layers, dt, seed=100 + seed), f"{op.label} seed {seed}")


ERROR_CASES = [pytest.param(call, message, face, id=f"{face}-{function}-{k}")
               for function, cases in ERRORS.items() for k, (call, message) in enumerate(cases)
               for face in next(op.faces for op in OPS if op.function == function)]


@pytest.mark.parametrize("call,message,face", ERROR_CASES)
def test_bad_input_is_named(call, message, face):
    with pytest.raises(ValueError, match=message):
        call(FACES[face])


def test_every_op_has_error_cases():
    assert sorted(ERRORS) == FUNCTIONS


def _keeps_a_shape(op):
    """Losses have no backward; dropout that drops nothing is the identity and keeps no shape."""
    settings = op.build(np.random.default_rng(2))[1]
    return "loss" not in op.function and not (op.function == "dropout" and (not settings["training"]
                                                                           or settings["p"] == 0))


@pytest.mark.parametrize("op,face", [c for c in FACE_CASES if _keeps_a_shape(c.values[0])])
def test_backward_rejects_a_wrong_dout_shape(op, face):
    ops = FACES[face]
    inputs, settings = op.build(np.random.default_rng(2))
    out, cache, _ = run_forward(op, ops, inputs, settings, np.float64)
    bad = np.zeros(out.shape[:-1] + (out.shape[-1] + 1,))
    name = op.function
    with pytest.raises(ValueError, match=f"{name}_backward: dout must have shape {re.escape(str(out.shape))}"):
        run_backward(op, ops, bad, cache)
