"""Rectified linear unit, as a parallel Numba kernel (readable: fercnn.layers.activations)."""
import numpy as np

from fercnn.argcheck import check_float_array, check_shape
from fercnn.backend import get_array_module
from fercnn.fast import _elementwise_kernels as kernels
from fercnn.fast._numpy_only import require_numpy


def relu_forward(x):
    """out = max(x, 0), elementwise. x: any shape -> out: same shape.

    cache holds the output: out > 0 exactly where x > 0, which is all backward needs.
    """
    check_float_array("relu_forward", "x", x)
    xp = get_array_module(x)
    if xp is np:
        out = kernels.relu_forward(np.ascontiguousarray(x).reshape(-1)).reshape(x.shape)
    else:
        out = xp.maximum(x, x.dtype.type(0))
    return out, out


def relu_backward(dout, cache):
    """dout: shape of x -> dx: same shape; the gradient passes where x > 0 (or NaN), else 0."""
    out = cache
    check_float_array("relu_backward", "dout", dout)
    check_shape("relu_backward", "dout", dout, out.shape)
    require_numpy("relu_backward", dout)
    dx = kernels.relu_backward(np.ascontiguousarray(dout).reshape(-1), np.ascontiguousarray(out).reshape(-1))
    return dx.reshape(dout.shape)
