"""Fully connected (affine) layer: out = x @ w + b."""
import math

from fercnn.argcheck import check_float_array, check_same_dtype, check_shape


def affine_forward(x, w, b):
    """Affine map of each example, flattened.

    x: (N, d_1, ..., d_k) with D = d_1 * ... * d_k, w: (D, M), b: (M,)
    -> out: (N, M). cache holds x's original shape, x flattened to (N, D) and w.
    """
    check_float_array("affine_forward", "x", x, min_ndim=2)
    check_float_array("affine_forward", "w", w, ndim=2)
    check_float_array("affine_forward", "b", b, ndim=1)
    check_same_dtype("affine_forward", x=x, w=w, b=b)
    N = x.shape[0]
    D = math.prod(x.shape[1:])
    if w.shape[0] != D:
        raise ValueError(
            f"affine_forward: x flattens to D={D} features per example but w has {w.shape[0]} rows"
        )
    check_shape("affine_forward", "b", b, (w.shape[1],))
    x2 = x.reshape(N, D)
    out = x2 @ w
    out += b
    return out, (x.shape, x2, w)


def affine_backward(dout, cache):
    """dout: (N, M) -> dx shaped like the forward's x, dw: (D, M), db: (M,).

    out = x2 @ w + b, so dx2 = dout @ w.T, dw = x2.T @ dout and db sums dout over N.
    """
    x_shape, x2, w = cache
    check_float_array("affine_backward", "dout", dout, ndim=2)
    check_shape("affine_backward", "dout", dout, (x2.shape[0], w.shape[1]))
    dx = (dout @ w.T).reshape(x_shape)
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
