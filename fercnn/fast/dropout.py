"""Inverted dropout, alone and fused with the ReLU before it (Numba kernels; readable: fercnn.layers.dropout)."""
import numpy as np

from fercnn.argcheck import check_dropout_args, check_float_array, check_shape
from fercnn.fast import _elementwise_kernels as kernels
from fercnn.fast._numpy_only import require_numpy
from fercnn.fast.activations import relu_backward, relu_forward
from fercnn.layers.dropout import draw_keep


def dropout_forward(x, p, *, training, rng):
    """Drop each unit with probability p and scale the kept ones by 1 / (1 - p).

    x: any shape -> out: same shape. Because kept units are scaled at training time
    ("inverted" dropout), E[out] = x and evaluation is the identity.
    rng: numpy.random.Generator; each unit gets a uniform 16-bit draw u, computed in the
    kernel from one 64-bit key drawn from rng (fercnn.layers.dropout.draw_keep), and is kept
    when u >= round(p * 65536), so p is honoured to 1/65536. cache = (keep mask (uint8), scale,
    x's shape), so backward passes exactly the units forward kept; the mask is None when
    nothing was dropped.
    """
    check_dropout_args("dropout_forward", x, p, training)
    if not training or p == 0:
        return x, (None, 1.0, x.shape)
    require_numpy("dropout_forward", x)  # every check before the draws: a refused call leaves rng as it was
    key, threshold, scale = draw_keep("dropout_forward", p, rng)
    out, keep = kernels.dropout_forward(np.ascontiguousarray(x).reshape(-1), key, threshold, scale)
    return out.reshape(x.shape), (keep.reshape(x.shape), scale, x.shape)


def relu_dropout_forward(x, p, *, training, rng):
    """ReLU followed by inverted dropout, in one pass over memory instead of two.

    x: any shape -> out: same shape, out = max(x, 0) * keep / (1 - p). The same numbers as
    relu_forward then dropout_forward with the same rng (it makes the same draws). The
    gradient of the pair is dout / (1 - p) where the unit was kept and x > 0, else 0, so
    the cache is one uint8 mask of those units and backward is dropout_backward's.
    Without dropout (p == 0 or not training) this is relu_forward.
    """
    check_dropout_args("relu_dropout_forward", x, p, training)
    if not training or p == 0:
        out, cache = relu_forward(x)
        return out, ("relu", cache)
    require_numpy("relu_dropout_forward", x)  # every check before the draws: a refused call leaves rng as it was
    key, threshold, scale = draw_keep("relu_dropout_forward", p, rng)
    out, mask = kernels.relu_dropout_forward(np.ascontiguousarray(x).reshape(-1), key, threshold, scale)
    return out.reshape(x.shape), ("dropout", (mask.reshape(x.shape), scale, x.shape))


def relu_dropout_backward(dout, cache):
    """dout: shape of x -> dx: same shape (see relu_dropout_forward)."""
    kind, inner = cache
    check_float_array("relu_dropout_backward", "dout", dout)
    check_shape("relu_dropout_backward", "dout", dout, inner.shape if kind == "relu" else inner[2])
    return relu_backward(dout, inner) if kind == "relu" else dropout_backward(dout, inner)


def dropout_backward(dout, cache):
    """dout: shape of x -> dx = dout * scale where kept, else 0 (identity when nothing was dropped)."""
    keep, scale, shape = cache
    check_float_array("dropout_backward", "dout", dout)
    check_shape("dropout_backward", "dout", dout, shape)
    if keep is None:
        return dout
    require_numpy("dropout_backward", dout)
    return kernels.dropout_backward(np.ascontiguousarray(dout).reshape(-1), keep.reshape(-1), scale).reshape(dout.shape)
