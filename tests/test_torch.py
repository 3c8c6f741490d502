"""Every op of the registry (fercnn/exercises/registry.py), on both faces, against PyTorch: forward,
every gradient, and batchnorm's running statistics (training and evaluation). Dropout is
compared with x * keep / (1 - p) in PyTorch, keep drawn by the documented rule.

PyTorch is never a dependency: without it these tests are skipped; CI installs it
(.ci/run) so that they run on every submission.
"""
import numpy as np
import pytest
from op_registry import OPS, TORCH, run_backward, run_forward, upstream

import fercnn.fast as fast
import fercnn.layers as layers

torch = pytest.importorskip("torch")

FACES = {"layers": layers, "fast": fast}
TOL = 1e-9


@pytest.mark.parametrize("op,face", [pytest.param(op, face, id=f"{face}-{op.label}")
                                     for op in OPS for face in op.faces])
def test_against_torch(op, face):
    ops = FACES[face]
    inputs, settings = op.build(np.random.default_rng(3))
    out, cache, state = run_forward(op, ops, inputs, settings, np.float64)
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    t_out, t_state = TORCH[op.function](torch, *tensors, **settings)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=TOL, atol=TOL, err_msg=f"{op.label}: forward")

    dout = upstream(out, np.float64)
    t_out.backward(torch.tensor(dout))
    for name, g, t in zip(op.grads, run_backward(op, ops, dout, cache), tensors, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=TOL, atol=TOL, err_msg=f"{op.label}: {name}")

    assert (state is None) == (t_state is None), op.label
    for key in state or {}:
        np.testing.assert_allclose(state[key], t_state[key].numpy(), rtol=TOL, atol=TOL,
                                   err_msg=f"{op.label}: {key}")
        if not settings["training"]:  # evaluation reads the running statistics and leaves them alone
            np.testing.assert_array_equal(state[key], settings["state"][key])
