"""Averaging the weights of several checkpoints of one training run into one network.

    model = average_models([load(p) for p in paths])   # parameters averaged
    model.recalibrate_batchnorm(training_images)       # then its batchnorm statistics anew

Late in a run, after the learning rate has come down, successive epochs' weights lie around
a minimum that none of them sits at; their average often lies nearer it and generalises a
little better than any one of them (stochastic weight averaging, Izmailov et al. 2018). It
is still one network, as fast as each of them.

The batchnorm statistics of the average are not the average of the statistics: a layer's
inputs depend on every weight before it. The returned model keeps the first model's
statistics only as a placeholder; recompute them from training images
(``ConvNet.recalibrate_batchnorm``) before using it, as `fercnn average` does.
"""
import numpy as np

from fercnn.models.io import model_entries
from fercnn.models.loading import model_from_entries


def average_models(models, names=None):
    """One ConvNet whose parameters are the mean of ``models``' (accumulated in float64, stored
    in their dtype); spec, dtype, mean image, class names and augmentation from the first.

    They should be checkpoints of one run. What is checked: the same spec, dtype, parameter
    names and shapes, mean image, class names, initialisation seed, L2 strength, label
    smoothing and augmentation; otherwise one ValueError names the first model that differs
    (``names``: how to call each model in it, e.g. its file; default "model 0", ...). Two
    runs made with the same options and seed on the same data pass these checks, and the
    average of networks from different runs is no network at all: that is the caller's to
    avoid.
    """
    models = list(models)
    if not models:
        raise ValueError("average_models: expected at least one model, got none")
    names = list(names) if names is not None else [f"model {i}" for i in range(len(models))]
    if len(names) != len(models):
        raise ValueError(f"average_models: expected one name per model ({len(models)}), got {len(names)}")
    first = models[0]
    for name, m in zip(names[1:], models[1:]):
        _check_same(first, m, names[0], name)
    meta, arrays = model_entries(first)
    arrays = dict(arrays)
    for key in first.params:
        total = np.zeros(first.params[key].shape, np.float64)
        for m in models:
            total += m.params[key]
        arrays[f"param/{key}"] = (total / len(models)).astype(first.params[key].dtype)
    for layer, state in first.bn_state.items():  # copies: the first model's own are never shared
        for stat, v in state.items():
            arrays[f"bn/{layer}/{stat}"] = np.array(v)
    if first.mean_image is not None:
        arrays["mean_image"] = np.array(first.mean_image)
    return model_from_entries(meta, arrays, "(averaged)", what="average_models")


def _check_same(a, b, name_a, name_b):
    def differ(what, got_a, got_b):
        raise ValueError(f"average_models: {name_b} is not the network of {name_a}: expected {what} {got_a}, "
                         f"got {got_b}")
    if a.spec != b.spec:
        differ("spec", a.spec, b.spec)
    for what, get in (("dtype", lambda m: m.dtype), ("seed", lambda m: m.seed), ("reg", lambda m: m.reg),
                      ("label smoothing", lambda m: m.label_smoothing), ("augmentation", lambda m: m.augmentation)):
        if get(a) != get(b):
            differ(what, get(a), get(b))
    shapes_a = {k: v.shape for k, v in a.params.items()}
    shapes_b = {k: v.shape for k, v in b.params.items()}
    if shapes_a != shapes_b:
        differ("parameters", shapes_a, shapes_b)
    if list(a.class_names or []) != list(b.class_names or []):
        differ("classes", a.class_names, b.class_names)
    if (a.mean_image is None) != (b.mean_image is None) or (
            a.mean_image is not None and not np.array_equal(a.mean_image, b.mean_image)):
        differ("the mean image of the same training data", "(its mean image)", "another mean image")
