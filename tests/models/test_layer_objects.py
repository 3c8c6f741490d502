"""The layer objects a ConvNet walks: shapes from the spec match the arrays, each layer's
backward matches its forward numerically, and the model's passes are the layers' passes."""
import numpy as np
import pytest
from shared_helpers import assert_grad_close

from fercnn.gradient_check import eval_numerical_gradient_array
from fercnn.models import ConvNet
from fercnn.models.blocks import Activation, Affine, Conv, Flatten, Pass, Pool, build_layers

SPECS = {
    "deep-like": dict(conv=[{"filters": 3, "kernel": 3, "batchnorm": True, "dropout": 0.2, "pool": True},
                            {"filters": 4, "kernel": 5, "batchnorm": True, "pool": True}],
                      fc=[{"units": 6, "batchnorm": True, "dropout": 0.5}, {"units": 5}]),
    "hybrid": dict(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[{"units": 4, "dropout": 0.3}], hog=True),
    "linear": dict(conv=[], fc=[]),
}


@pytest.mark.parametrize("name", SPECS)
def test_output_shapes_from_the_spec_are_the_arrays_shapes(name, rng):
    model = ConvNet(input_shape=(1, 16, 16), num_classes=3, seed=0, **SPECS[name])
    X = rng.standard_normal((4, 1, 16, 16)).astype(np.float32)
    f = rng.standard_normal((4, model.hog_dim)).astype(np.float32) if model.hog_dim else None
    ctx = Pass(training=True, rng=np.random.default_rng(0), bn_state=model.bn_state, features=f)
    out, shape = X, (1, 16, 16)
    for layer in model.layers:
        out, _ = layer.forward(out, model.params, ctx)
        shape = layer.output_shape(shape)
        assert out.shape[1:] == shape, (type(layer).__name__, out.shape, shape)
    # every parameter belongs to exactly one layer, and the summary counts them all
    owned = [k for layer in model.layers for k in layer.init_params(lambda s, n: np.zeros(s), np.float32)]
    assert sorted(owned) == sorted(model.params)
    assert f"total parameters: {sum(v.size for v in model.params.values()):,}" in model.summary()


def _check_layer(layer, x, params, ctx_args, rng):
    def fwd(_):
        ctx = Pass(**ctx_args())
        return layer.forward(x, params, ctx)[0]
    ctx = Pass(**ctx_args())
    out, cache = layer.forward(x, params, ctx)
    dout = rng.standard_normal(out.shape)
    dx, grads = layer.backward(dout, cache, params, ctx)
    assert_grad_close(f"{type(layer).__name__} dx", dx, eval_numerical_gradient_array(fwd, x, dout), tol=1e-6)
    for key, g in grads.items():
        assert_grad_close(f"{key}", g, eval_numerical_gradient_array(fwd, params[key], dout), tol=1e-6)


def test_each_layer_backward_matches_its_forward(rng):
    he = lambda shape, fan_in: rng.standard_normal(shape) * np.sqrt(2 / fan_in)  # noqa: E731
    state = {"a": {"running_mean": np.zeros(3), "running_var": np.ones(3)}}
    layers = [
        (Conv("c", 2, 3, 3, bias=True, first=False), rng.standard_normal((2, 2, 5, 5))),
        (Activation("a", 3, batchnorm=True, dropout=0.3, spatial=True), rng.standard_normal((4, 3, 3, 3)) + 0.3),
        (Activation("r", 3, batchnorm=False, dropout=0.0, spatial=False), rng.standard_normal((4, 3)) + 0.2),
        (Pool(), rng.permutation(np.arange(2 * 2 * 4 * 4) * 0.01).reshape(2, 2, 4, 4)),
        (Flatten(0), rng.standard_normal((2, 2, 3, 3))),
        (Affine("f", 6, 4, bias=True), rng.standard_normal((3, 6))),
    ]
    for layer, x in layers:
        params = {k: v.astype(np.float64) for k, v in layer.init_params(he, np.float64).items()}
        params.update({k: rng.standard_normal(v.shape) for k, v in params.items() if k.endswith((".gamma", ".beta"))})
        _check_layer(layer, x, params, lambda: dict(training=True, rng=np.random.default_rng(5),
                                                    bn_state={k: dict(v) for k, v in state.items()}), rng)


def test_the_first_conv_skips_dx_unless_asked():
    layer = Conv("conv1", 1, 2, 3, bias=False, first=True)
    params = layer.init_params(lambda s, n: np.ones(s), np.float64)
    out, cache = layer.forward(np.ones((1, 1, 4, 4)), params, Pass(training=True))
    assert layer.backward(np.ones_like(out), cache, params, Pass(training=True))[0] is None
    assert layer.backward(np.ones_like(out), cache, params, Pass(training=True, input_grad=True))[0].shape == (1, 1, 4, 4)


def test_build_layers_follows_the_spec():
    model = ConvNet(input_shape=(1, 16, 16), num_classes=3, **SPECS["deep-like"])
    kinds = [type(layer).__name__ for layer in build_layers(model.spec)]
    assert kinds == ["Conv", "Activation", "Pool", "Conv", "Activation", "Pool", "Flatten",
                     "Affine", "Activation", "Affine", "Activation", "Affine"]
    assert [d["kind"] for d in (layer.describe() for layer in model.layers)][:3] == ["conv", "activation", "pool"]
