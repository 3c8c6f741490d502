"""Max pooling over square windows, as Numba kernels (readable: fercnn.layers.pooling)."""
import numpy as np

from fercnn.argcheck import check_float_array, check_positive_int, check_shape, check_window_output_size
from fercnn.fast import _pool_kernels as kernels
from fercnn.fast._numpy_only import require_numpy


def max_pool_forward(x, *, size=2, stride=2):
    """Max over (size x size) windows, moved by ``stride``.

    x: (N, C, H, W) -> out: (N, C, H_out, W_out), H_out = (H - size) // stride + 1,
    likewise W_out (exact division required). cache holds x's shape and the flat index
    of each window's first maximum.
    """
    op = "max_pool_forward"
    check_float_array(op, "x", x, ndim=4)
    N, C, H, W = x.shape
    check_positive_int(op, "size", size)
    H_out, W_out = check_window_output_size(op, H, W, size, size, stride, 0)
    require_numpy(op, x)
    x = np.ascontiguousarray(x)
    if size == 2 and stride == 2:  # every pool of the paper's networks: a kernel that vectorises
        out, argmax = kernels.max_pool_forward_2x2(x, H_out, W_out)
    else:
        out, argmax = kernels.max_pool_forward(x, size, stride, H_out, W_out)
    return out, (x.shape, argmax)


def max_pool_backward(dout, cache):
    """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W).

    The max is locally a selection of one input, so its gradient is 1 for that input
    and 0 for the rest of the window: dout goes to the recorded argmax only (for tied
    maxima, the first in scan order).
    """
    (N, C, H, W), argmax = cache
    check_float_array("max_pool_backward", "dout", dout, ndim=4)
    check_shape("max_pool_backward", "dout", dout, argmax.shape)
    require_numpy("max_pool_backward", dout)
    return kernels.max_pool_backward(np.ascontiguousarray(dout), argmax, H, W)
