"""Rectified linear unit: out = max(x, 0)."""
import numpy as np

from fercnn.argcheck import check_float_array, check_shape


def relu_forward(x):
    """out = max(x, 0), elementwise. x: any shape -> out: same shape.

    cache holds the output: out > 0 exactly where x > 0, which is all backward needs.
    """
    check_float_array("relu_forward", "x", x)
    out = np.maximum(x, x.dtype.type(0))
    return out, out


def relu_backward(dout, cache):
    """dout: shape of x -> dx: same shape.

    The derivative of max(x, 0) is 1 where x > 0 and 0 where x < 0 (at 0 we take 0), so
    the gradient passes where the output is positive and stops elsewhere. A NaN input gave
    a NaN output, and its gradient passes too; the gate multiplies (0 * NaN is NaN), so a
    NaN gradient is never turned into 0. The fast ops follow the same rule.
    """
    out = cache
    check_float_array("relu_backward", "dout", dout)
    check_shape("relu_backward", "dout", dout, out.shape)
    passes = ~(out <= 0)  # out > 0, or NaN
    return dout * passes
