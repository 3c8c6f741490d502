"""The fast ops check every argument before any work: a refused call draws no random numbers
(the Generator is left as it was) and changes no running statistics; the Numba kernels take
numpy arrays only, backward passes included."""
import copy
import sys
import types

import numpy as np
import pytest

import fercnn.fast as fast


class FakeGpuArray(np.ndarray):
    """Stands in for a cupy array: get_array_module takes it for one."""


@pytest.fixture
def gpu_array(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(ndarray=FakeGpuArray))
    return lambda a: np.asarray(a).view(FakeGpuArray)


def _refused_without_a_draw(call, match):
    rng = np.random.default_rng(0)
    before = copy.deepcopy(rng.bit_generator.state)
    with pytest.raises(ValueError, match=match):
        call(rng)
    assert rng.bit_generator.state == before, "a refused call advanced the random generator"


def test_max_pool_backward_takes_numpy_arrays_only(gpu_array):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    _, cache = fast.max_pool_forward(x)
    with pytest.raises(ValueError, match=r"max_pool_backward: the Numba kernels run on numpy arrays, got "
                                         r".*FakeGpuArray"):
        fast.max_pool_backward(gpu_array(np.ones((2, 3, 2, 2))), cache)


@pytest.mark.parametrize("op", ["dropout_forward", "relu_dropout_forward"])
def test_dropout_refuses_before_drawing(gpu_array, op):
    forward = getattr(fast, op)
    _refused_without_a_draw(lambda rng: forward(gpu_array(np.ones((3, 4))), 0.5, training=True, rng=rng),
                            rf"{op}: the Numba kernels run on numpy arrays")
    _refused_without_a_draw(lambda rng: forward(np.ones((3, 4)), 1.5, training=True, rng=rng),
                            rf"{op}: p must be in \[0, 1\), got 1.5")


@pytest.mark.parametrize("change,match", [
    (dict(gamma=np.ones(4)), r"gamma must have shape \(3,\), got \(4,\)"),
    (dict(beta=np.zeros(3, np.float32)), r"all arrays must share one dtype"),
    (dict(state=[]), r"state must be a dict"),
    (dict(momentum=1.5), r"momentum must be in \[0, 1\], got 1.5"),
    (dict(eps=0), r"eps must be a positive number, got 0"),
    (dict(x=np.ones((1, 3))), r"training needs at least 2 values per feature"),
])
def test_batchnorm_relu_dropout_refuses_before_drawing(change, match):
    args = dict(x=np.random.default_rng(2).standard_normal((4, 3)), gamma=np.ones(3), beta=np.zeros(3),
                state={}, momentum=0.9, eps=1e-5)
    args.update(change)
    _refused_without_a_draw(lambda rng: fast.batchnorm_relu_dropout_forward(
        args["x"], args["gamma"], args["beta"], args["state"], 0.5, training=True, rng=rng,
        momentum=args["momentum"], eps=args["eps"]), rf"batchnorm_relu_dropout_forward: {match}")


def test_batchnorm_relu_dropout_with_a_bad_rng_leaves_the_running_statistics(gpu_array):
    state = {"running_mean": np.full(3, 0.5), "running_var": np.full(3, 2.0)}
    before = copy.deepcopy(state)
    with pytest.raises(ValueError, match=r"batchnorm_relu_dropout_forward: rng must be a numpy.random.Generator"):
        fast.batchnorm_relu_dropout_forward(np.random.default_rng(3).standard_normal((4, 3)), np.ones(3),
                                            np.zeros(3), state, 0.5, training=True, rng=7)
    for k in before:
        np.testing.assert_array_equal(state[k], before[k])
    _refused_without_a_draw(lambda rng: fast.batchnorm_relu_dropout_forward(
        gpu_array(np.ones((4, 3))), np.ones(3), np.zeros(3), {}, 0.5, training=True, rng=rng),
        r"batchnorm_relu_dropout_forward: the Numba kernels run on numpy arrays")
