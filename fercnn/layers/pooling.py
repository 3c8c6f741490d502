"""Max pooling over square windows."""
import numpy as np

from fercnn.argcheck import check_float_array, check_positive_int, check_shape, check_window_output_size


def max_pool_forward(x, *, size=2, stride=2):
    """Max over (size x size) windows, moved by ``stride``.

    x: (N, C, H, W) -> out: (N, C, H_out, W_out), H_out = (H - size) // stride + 1,
    likewise W_out (exact division required). The size * size candidates of every window
    are stacked, one strided slice per position (i, j) inside the window; the max is
    taken over the stack, and its index (the first maximum, in row-major order of
    (i, j)) is kept for backward.
    """
    op = "max_pool_forward"
    check_float_array(op, "x", x, ndim=4)
    check_positive_int(op, "size", size)
    H_out, W_out = check_window_output_size(op, x.shape[2], x.shape[3], size, size, stride, 0)
    candidates = np.stack([x[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride]
                           for i in range(size) for j in range(size)])  # (size*size, N, C, H_out, W_out)
    which = candidates.argmax(axis=0)
    out = np.take_along_axis(candidates, which[None], axis=0)[0]
    return out, (x.shape, which, size, stride)


def max_pool_backward(dout, cache):
    """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W).

    The max is locally a selection of one input, so its gradient is 1 for that input and
    0 for the rest of the window: dout goes to the recorded maximum only. Overlapping
    windows (stride < size) add up at the pixels they share.
    """
    x_shape, which, size, stride = cache
    check_float_array("max_pool_backward", "dout", dout, ndim=4)
    check_shape("max_pool_backward", "dout", dout, which.shape)
    H_out, W_out = which.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k in range(size * size):
        i, j = divmod(k, size)
        dx[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride] += np.where(which == k, dout, 0)
    return dx
