"""Numba kernel for the momentum update: one pass over w, dw and v instead of numpy's temporaries."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def momentum_step(w, dw, v, mu, lr, nesterov):
    """Flat arrays -> (next_w, v_new): v_new = mu * v - lr * dw; next_w = w + v_new
    (Nesterov: w + mu * v_new - lr * dw). Inputs are not modified."""
    v_new = np.empty_like(v)
    next_w = np.empty_like(w)
    m = w.dtype.type(mu)
    r = w.dtype.type(lr)
    for i in prange(w.size):
        vi = m * v[i] - r * dw[i]
        v_new[i] = vi
        next_w[i] = w[i] + (m * vi - r * dw[i] if nesterov else vi)
    return next_w, v_new
