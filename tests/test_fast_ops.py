"""Every fast op (fercnn.fast) equals its readable twin (fercnn.layers): forward, every
gradient and the batchnorm running statistics, in float32 and float64, on random shapes,
dropout with the same rng. One table drives them all."""
import numpy as np
import pytest

import fercnn.fast as fast
import fercnn.layers as readable
from conftest import spread_values

TOL = {np.float32: 2e-5, np.float64: 1e-11}


def _bn_inputs(rng, shape, dt):
    C = shape[1]
    return [rng.standard_normal(shape) * 2 + 0.5, rng.uniform(0.5, 1.5, C), rng.standard_normal(C)], \
        {"running_mean": rng.standard_normal(C).astype(dt), "running_var": rng.uniform(0.5, 2, C).astype(dt)}


CONV_GEOMETRIES = [(3, 1, 1), (5, 1, 2), (3, 2, 1), (5, 2, 2), (1, 2, 0), (3, 1, 0)]  # kernel, stride, pad


def _conv_case(rng, k, stride, pad):
    N, C, F = (int(v) for v in rng.integers(1, 5, size=3))
    H, W = ((int(v) - 1) * stride + k - 2 * pad for v in rng.integers(2, 6, size=2))  # whole output sizes
    inputs = [rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, k, k)), rng.standard_normal(F)]
    return f"conv k{k} s{stride} p{pad} {(N, C, H, W)}", "conv", inputs, {"stride": stride, "pad": pad}, None


def _cases(seed):
    """(label, op name, inputs, keyword arguments, batchnorm state or None) for one seed."""
    rng = np.random.default_rng(seed)
    dims = tuple(int(v) for v in rng.integers(2, 6, size=4))
    size = int(rng.choice([2, 3]))
    pool_shape = (dims[0], dims[1], size * int(rng.integers(1, 4)), size * int(rng.integers(1, 4)))
    cases = [_conv_case(rng, *g) for g in CONV_GEOMETRIES] + [
        (f"pool {size} {pool_shape}", "max_pool", [spread_values(rng, pool_shape)], {"size": size, "stride": size},
         None),
        (f"relu {dims}", "relu", [rng.standard_normal(dims)], {}, None),
        (f"affine {dims}", "affine", [rng.standard_normal(dims), rng.standard_normal((int(np.prod(dims[1:])), 3)),
                                      rng.standard_normal(3)], {}, None),
    ]
    for training in (True, False):
        inputs, state = _bn_inputs(rng, dims[:2], np.float64)
        cases.append((f"batchnorm {dims[:2]} training={training}", "batchnorm", inputs, {"training": training},
                      state))
        inputs, state = _bn_inputs(rng, dims, np.float64)
        cases.append((f"spatial batchnorm {dims} training={training}", "spatial_batchnorm", inputs,
                      {"training": training}, state))
    for p in (0.0, 0.3):
        cases.append((f"dropout p={p} {dims}", "dropout", [rng.standard_normal(dims)],
                      {"p": p, "training": True, "seed": seed}, None))
    return cases


def _run(module, op, inputs, kwargs, state, dt, rng_seed=None):
    """Forward and backward of ``op`` from ``module``: (out, grads, state after)."""
    forward, backward = getattr(module, f"{op}_forward"), getattr(module, f"{op}_backward")
    args = [a.astype(dt) for a in inputs]
    kwargs = dict(kwargs)
    if op == "dropout":
        args.append(kwargs.pop("p"))
        kwargs["rng"] = np.random.default_rng(kwargs.pop("seed"))
    state = None if state is None else {k: v.astype(dt) for k, v in state.items()}
    if state is not None:
        args.append(state)
    out, cache = forward(*args, **kwargs)
    dout = np.random.default_rng(99).standard_normal(out.shape).astype(dt)
    grads = backward(dout, cache)
    return out, grads if isinstance(grads, tuple) else (grads,), state


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_fast_ops_equal_the_readable_ones(seed, dt):
    tol = TOL[dt]
    for label, op, inputs, kwargs, state in _cases(seed):
        want_out, want_grads, want_state = _run(readable, op, inputs, kwargs, state, dt)
        got_out, got_grads, got_state = _run(fast, op, inputs, kwargs, state, dt)
        assert got_out.dtype == want_out.dtype == dt, label
        np.testing.assert_allclose(got_out, want_out, rtol=tol, atol=tol, err_msg=f"{label}: forward")
        assert len(got_grads) == len(want_grads), label
        for k, (g, w) in enumerate(zip(got_grads, want_grads)):
            assert g.dtype == dt, f"{label}: gradient {k} is {g.dtype}"
            scale = max(1.0, float(np.abs(w).max()))
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale, err_msg=f"{label}: gradient {k}")
        if state is not None:
            for key in state:
                np.testing.assert_allclose(got_state[key], want_state[key], rtol=tol, err_msg=f"{label}: {key}")


def test_dropout_drops_the_same_units_bit_for_bit():
    x = np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32)
    a, _ = readable.dropout_forward(x, 0.37, training=True, rng=np.random.default_rng(5))
    b, _ = fast.dropout_forward(x, 0.37, training=True, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_first_layer_skips_dx_in_both():
    x, w, b = np.ones((2, 1, 5, 5)), np.ones((3, 1, 3, 3)), np.zeros(3)
    for module in (readable, fast):
        out, cache = module.conv_forward(x, w, b, pad=1)
        dx, dw, db = module.conv_backward(np.ones_like(out), cache, need_dx=False)
        assert dx is None and dw.shape == w.shape and db.shape == (3,)
