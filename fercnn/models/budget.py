"""What a spec costs, computed from the spec alone, before anything is allocated: its
parameters, the values one image makes through its layers, and the shape of every array a
model file of it holds. Held to the limits of fercnn.limits ("params", "values").
"""
import math

import numpy as np

from fercnn import limits
from fercnn.models.blocks import build_layers, layer_rows


def spec_cost(spec):
    """(parameters, values per image, the largest layer's (name, parameters), the largest
    output's (layer name, values)) of a normalized spec, as Python ints."""
    layers = build_layers(spec)
    rows = [r for r in layer_rows(layers, spec["input_shape"]) if r[3]]
    params = sum(r[3] for r in rows)
    biggest = max(rows, key=lambda r: r[3], default=("none", "", (), 0))
    shape, values = tuple(spec["input_shape"]), math.prod(spec["input_shape"])
    widest = ("input", values)
    for layer in layers:  # each layer's output is one array per image (relu and dropout work in place of it)
        shape = layer.output_shape(shape)
        n = math.prod(shape)
        values += n
        if n > widest[1]:
            widest = (layer.name or type(layer).__name__.lower(), n)
    return params, values, (biggest[0], biggest[3]), widest


def check_spec(spec, where):
    """Refuse a normalized spec whose parameters or values per image are over their limits:
    one ValueError starting with ``where`` (the file or the call)."""
    params, values, (layer, n), (wide, w) = spec_cost(spec)
    limits.check("params", params, f"{where}: the spec makes", f" parameters ({layer}: {n:,})")
    limits.check("values", values, f"{where}: the spec makes",
                 f" values per image (input {'x'.join(map(str, spec['input_shape']))}; {wide}: {w:,})")
    return params, values


def array_shapes(spec):
    """{entry name: shape} of the arrays a model file of this spec holds: "param/<name>",
    "bn/<layer>/<stat>" and "mean_image". Call check_spec first: the biases and batchnorm
    statistics are made (as small arrays) to learn their shapes; the weights are not."""
    def weights(shape, fan_in):
        return np.broadcast_to(np.float32(0), shape)  # a view of one number: no memory

    shapes = {"mean_image": tuple(spec["input_shape"])}
    for layer in build_layers(spec):
        shapes.update({f"param/{k}": v.shape for k, v in layer.init_params(weights, np.float32).items()})
        for stat, v in (layer.init_state(np.float32) or {}).items():
            shapes[f"bn/{layer.name}/{stat}"] = v.shape
    return shapes
