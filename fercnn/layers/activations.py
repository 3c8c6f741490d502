"""Rectified linear unit."""
from fercnn.backend import get_array_module
from fercnn.layers._checks import check_float_array, check_shape


def relu_forward(x):
    """out = max(x, 0), elementwise. x: any shape -> out: same shape.

    cache holds the output: out > 0 exactly where x > 0, which is all backward needs.
    """
    check_float_array("relu_forward", "x", x)
    xp = get_array_module(x)
    out = xp.maximum(x, x.dtype.type(0))
    return out, out


def relu_backward(dout, cache):
    """dout: shape of x -> dx: same shape; the gradient passes where x > 0, else 0."""
    out = cache
    check_float_array("relu_backward", "dout", dout)
    check_shape("relu_backward", "dout", dout, out.shape)
    xp = get_array_module(dout)
    return xp.where(out > 0, dout, dout.dtype.type(0))
