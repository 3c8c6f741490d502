"""What every op must do, walked over the one registry of ops (tests/op_registry.py):

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
from conftest import numeric_grads
from op_registry import ERRORS, FUNCTIONS, OPS, run_backward, run_forward, upstream

import fercnn.fast as fast
import fercnn.layers as layers
from fercnn.gradient_check import scaled_rel_error

FACES = {"layers": layers, "fast": fast}
FACE_CASES = [pytest.param(op, face, id=f"{face}-{op.label}") for op in OPS for face in op.faces]
# README, "Gradient checks": relative error per entry below 1e-7, where an entry below 1e-3 of the
# gradient's largest is measured against 1e-3 of it (fercnn.gradient_check.scaled_rel_error, what
# `fercnn gradcheck` prints): centred differences carry an absolute error of about
# 1e-16 * |sum(out * dout)| / h, which a nearly cancelling entry of batchnorm's dx cannot beat.
GRADIENT_TOLERANCE = 1e-7


def _id(op):
    return op.label


@pytest.mark.parametrize("op", OPS, ids=_id)
def test_gradient(op):
    """Readable ops, and the fused ops where fast is the only face."""
    ops = FACES[op.faces[0]]
    inputs, settings = op.build(np.random.default_rng(0))
    out, cache, _ = run_forward(op, ops, inputs, settings, np.float64)
    dout = upstream(out, np.float64)
    got = run_backward(op, ops, dout, cache)
    assert len(got) == len(op.grads)
    want = numeric_grads(lambda *a: run_forward(op, ops, a, settings, np.float64)[0], inputs, dout)
    for name, g, n in zip(op.grads, got, want):
        assert np.any(n != 0), f"{op.label} {name}: the numerical gradient is all zeros, nothing is checked"
        err = scaled_rel_error(g, n)
        assert err < GRADIENT_TOLERANCE, f"{op.label} {name}: relative error {err:.3e} >= {GRADIENT_TOLERANCE:g}"


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("op,face", FACE_CASES)
def test_keeps_dtype(op, face, dt):
    ops = FACES[face]
    inputs, settings = op.build(np.random.default_rng(1))
    out, cache, state = run_forward(op, ops, inputs, settings, dt)
    assert out.dtype == dt, f"{face} {op.label}: out is {out.dtype}"
    for name, g in zip(op.grads, run_backward(op, ops, upstream(out, dt), cache)):
        assert g.dtype == dt, f"{face} {op.label}: {name} is {g.dtype}"
    for key, v in (state or {}).items():
        assert v.dtype == dt, f"{face} {op.label}: {key} is {v.dtype}"


FAST_TOLERANCE = {np.float32: 2e-5, np.float64: 1e-11}


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("op", OPS, ids=_id)
def test_fast_equals_readable(op, dt):
    """On six random shapes each (conv and pool: one per geometry in the registry)."""
    tol = FAST_TOLERANCE[dt]
    for seed in range(6):
        inputs, settings = op.build(np.random.default_rng(100 + seed))
        label = f"{op.label} {inputs[0].shape} seed {seed}"
        want_out, want_cache, want_state = run_forward(op, layers, inputs, settings, dt, readable=True)
        got_out, got_cache, got_state = run_forward(op, fast, inputs, settings, dt)
        assert got_out.dtype == want_out.dtype == dt, label
        if "seed" in settings:  # the same draws: the same units dropped, and the same numbers
            np.testing.assert_array_equal(got_out == 0, want_out == 0, err_msg=f"{label}: dropped units")
        scale = max(1.0, float(np.abs(want_out).max()))
        np.testing.assert_allclose(got_out, want_out, rtol=tol, atol=tol * scale, err_msg=f"{label}: forward")
        dout = upstream(want_out, dt)
        want = run_backward(op, layers, dout, want_cache, readable=True)
        got = run_backward(op, fast, dout, got_cache)
        assert len(got) == len(want) == len(op.grads), label
        for name, g, w in zip(op.grads, got, want):
            assert g.dtype == dt, f"{label}: {name} is {g.dtype}"
            scale = max(1.0, float(np.abs(w).max()))
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale, err_msg=f"{label}: {name}")
        for key in want_state or {}:
            np.testing.assert_allclose(got_state[key], want_state[key], rtol=tol, err_msg=f"{label}: {key}")


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
