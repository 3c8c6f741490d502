"""Numerical gradients by centred differences, to check hand-written backward passes.

df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h), with error O(h^2). Run in float64:
with h = 1e-5, float32 rounding alone would swamp the difference.
"""
import numpy as np

FLOOR = 1e-3  # scaled_rel_error: entries this much smaller than a gradient's largest are measured against FLOOR * largest


def _centred(f, x, i, h):
    """f(x + h e_i) and f(x - h e_i), x perturbed in place and restored."""
    old = x[i]
    x[i] = old + h
    fp = np.array(f(x), dtype=np.float64, copy=True)
    x[i] = old - h
    fm = np.array(f(x), dtype=np.float64, copy=True)
    x[i] = old
    return fp, fm


def eval_numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function f at x; f is called as f(x) and x is perturbed in place.

    x: any shape -> grad: same shape as x.
    """
    return eval_numerical_gradient_array(f, x, np.float64(1.0), h=h)


def eval_numerical_gradient_array(f, x, dout, h=1e-5):
    """Gradient of sum(f(x) * dout) at x for an array-valued f (a backward pass's dx).

    x: any shape, dout: shape of f(x) -> grad: shape of x.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        fp, fm = _centred(f, x, i, h)
        grad[i] = np.sum((fp - fm) * dout) / (2 * h)
    return grad


def rel_error(a, b):
    """Largest elementwise |a - b| / max(1e-8, |a| + |b|); 0 for identical arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def grad_check_sparse(f, x, analytic_grad, *, num_checks=10, h=1e-5, rng):
    """Check ``num_checks`` random entries of a big gradient against centred differences.

    f: scalar function of x (x perturbed in place), analytic_grad: shape of x,
    rng: numpy.random.Generator picking the entries. Returns the relative errors (one
    per checked entry) as a float64 array.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"grad_check_sparse: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if analytic_grad.shape != x.shape:
        raise ValueError(f"grad_check_sparse: analytic_grad has shape {analytic_grad.shape}, x has {x.shape}")
    errors = np.empty(num_checks)
    for k in range(num_checks):
        i = tuple(int(rng.integers(n)) for n in x.shape)
        fp, fm = _centred(f, x, i, h)
        numeric = (fp - fm) / (2 * h)
        errors[k] = rel_error(numeric, analytic_grad[i])
    return errors


def scaled_rel_error(a, b):
    """max |a - b| / (|a| + |b|) over the entries, where |a| + |b| is at least FLOOR times its
    largest value. An entry that nearly cancels (batchnorm's dx sums over the batch) is then
    not judged by rounding in its centred difference: with h = 1e-5 that alone gives a
    relative error of 1e-6 on an entry of 1e-5 when the others are near 1."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    size = np.abs(a) + np.abs(b)
    if size.size == 0 or size.max() == 0:
        return rel_error(a, b)
    return float(np.max(np.abs(a - b) / np.maximum(size, FLOOR * size.max())))
