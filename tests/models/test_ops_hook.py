"""ConvNet(ops=module): the layers call the module's functions (fercnn.layers, a learner's
layers.py) in place of fercnn.fast's, composing batchnorm, ReLU and dropout where the module
has no fused op; the same numbers, dropout masks included, as the fast ops."""
from types import SimpleNamespace

import numpy as np
import pytest

import fercnn.fast as fast
import fercnn.layers as layers
from fercnn.models import ConvNet, deep_spec, shallow

SPEC = dict(deep_spec(), input_shape=(1, 16, 16), num_classes=5)


@pytest.mark.parametrize("spec", ["shallow", "deep-like"])
def test_readable_ops_give_the_fast_ops_numbers(spec, rng):
    make = (lambda **kw: shallow(input_shape=(1, 16, 16), num_classes=5, **kw)) if spec == "shallow" else \
        (lambda **kw: ConvNet(**SPEC, **kw))
    a, b = make(seed=4, dtype=np.float64), make(seed=4, dtype=np.float64, ops=layers)
    X, y = rng.standard_normal((6, 1, 16, 16)), rng.integers(0, 5, 6)
    la, ga = a.loss(X, y)
    lb, gb = b.loss(X, y)  # training: batch statistics and dropout masks drawn from each model's own rng
    np.testing.assert_allclose(lb, la, rtol=1e-10)
    for key in ga:
        np.testing.assert_allclose(gb[key], ga[key], rtol=1e-8, atol=1e-10, err_msg=key)
    for layer in a.bn_state:
        for stat in a.bn_state[layer]:
            np.testing.assert_allclose(b.bn_state[layer][stat], a.bn_state[layer][stat], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b.loss(X), a.loss(X), rtol=1e-10)
    np.testing.assert_allclose(b.input_gradient(X, np.ones((6, 5))), a.input_gradient(X, np.ones((6, 5))),
                               rtol=1e-8, atol=1e-12)


def test_the_layers_call_the_modules_functions(rng):
    calls = []

    def counted(name):
        def f(*args, **kw):
            calls.append(name)
            return getattr(layers, name)(*args, **kw)
        return f
    module = SimpleNamespace(**{name: counted(name) for name in layers.__all__})
    model = shallow(input_shape=(1, 8, 8), num_classes=3, ops=module)
    model.loss(rng.standard_normal((4, 1, 8, 8)).astype(np.float32), np.array([0, 1, 2, 0]))
    assert {"conv_forward", "conv_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
            "relu_forward", "relu_backward", "dropout_forward", "dropout_backward", "max_pool_forward",
            "max_pool_backward", "affine_forward", "affine_backward", "softmax_loss"} == set(calls)
    assert model.ops.module is module and not model.ops.fused
    assert shallow(input_shape=(1, 8, 8)).ops.module is fast


def test_a_module_without_a_function_the_network_calls_is_refused():
    module = SimpleNamespace(**{name: getattr(layers, name) for name in layers.__all__ if name != "max_pool_backward"})
    with pytest.raises(ValueError, match=r"^ops: SimpleNamespace lacks max_pool_backward, which this network calls$"):
        shallow(input_shape=(1, 8, 8), ops=module)


def test_a_conv_backward_without_need_dx(rng):
    """A learner's conv_backward(dout, cache) (no need_dx): the first layer's dx is dropped."""
    module = SimpleNamespace(**{name: getattr(layers, name) for name in layers.__all__})
    module.conv_backward = lambda dout, cache: layers.conv_backward(dout, cache)
    model = shallow(input_shape=(1, 8, 8), num_classes=3, ops=module, dtype=np.float64, seed=1)
    reference = shallow(input_shape=(1, 8, 8), num_classes=3, dtype=np.float64, seed=1)
    X, y = rng.standard_normal((4, 1, 8, 8)), np.array([0, 1, 2, 0])
    got, want = model.loss(X, y)[1], reference.loss(X, y)[1]
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-8, atol=1e-12, err_msg=key)
