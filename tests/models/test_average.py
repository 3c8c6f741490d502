"""fercnn.models.average: the mean of several models' parameters, one network; models of
different networks or data are refused by name."""
import numpy as np
import pytest

from fercnn.models import ConvNet
from fercnn.models.average import average_models

SPEC = dict(conv=[{"filters": 3, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 5, "batchnorm": True}],
            input_shape=(1, 8, 8), num_classes=4)


def _model(seed, **changes):
    """One run's checkpoint: the run's initialisation (seed 0), weights drawn with ``seed``."""
    model = ConvNet(**{**SPEC, **changes}, seed=0)
    rng = np.random.default_rng(seed)
    for w in model.params.values():
        w += rng.normal(0, 0.1, w.shape).astype(w.dtype)
    model.mean_image = np.full((1, 8, 8), 100, np.float32)
    model.class_names = ["a", "b", "c", "d"][:model.spec["num_classes"]]
    model.augmentation = {"shift": 2}
    return model


def test_the_parameters_are_the_mean_and_the_rest_is_the_first_models():
    models = [_model(seed) for seed in (1, 2, 3)]
    avg = average_models(models)
    for k in models[0].params:
        want = np.mean([m.params[k].astype(np.float64) for m in models], axis=0).astype(np.float32)
        np.testing.assert_array_equal(avg.params[k], want)
        assert avg.params[k].dtype == np.float32
        assert not any(np.shares_memory(avg.params[k], m.params[k]) for m in models)
    assert avg.spec == models[0].spec and avg.class_names == ["a", "b", "c", "d"] and avg.augmentation == {"shift": 2}
    np.testing.assert_array_equal(avg.mean_image, models[0].mean_image)
    for layer, state in models[0].bn_state.items():
        for stat, v in state.items():  # a placeholder, to be recalibrated, and not shared
            np.testing.assert_array_equal(avg.bn_state[layer][stat], v)
            assert not np.shares_memory(avg.bn_state[layer][stat], v)
    # one model: itself
    np.testing.assert_array_equal(average_models(models[:1]).params["out.w"], models[0].params["out.w"])


def test_models_of_other_networks_or_data_are_refused_by_name():
    a = _model(1)
    with pytest.raises(ValueError, match="expected at least one model, got none"):
        average_models([])
    with pytest.raises(ValueError, match=r"b.npz is not the network of a.npz: expected spec"):
        average_models([a, _model(2, num_classes=3)], ["a.npz", "b.npz"])
    other = _model(2)
    other.mean_image = other.mean_image + 1
    with pytest.raises(ValueError, match=r"model 1 is not the network of model 0: .*mean image"):
        average_models([a, other])
    other = _model(2)
    other.class_names = ["w", "x", "y", "z"]
    with pytest.raises(ValueError, match=r"expected classes \['a', 'b', 'c', 'd'\], got \['w', 'x', 'y', 'z'\]"):
        average_models([a, other])
    other = _model(2)
    other.augmentation = {"shift": 4}
    with pytest.raises(ValueError, match=r"expected augmentation \{'shift': 2\}, got \{'shift': 4\}"):
        average_models([a, other])
    with pytest.raises(ValueError, match=r"expected one name per model \(2\), got 1"):
        average_models([a, _model(2)], ["a.npz"])
