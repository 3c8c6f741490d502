"""Label smoothing in softmax_loss: a hand-computed case, its gradient, dtypes and bad values.
(The other known answers of the losses are in fercnn's shared checks, fercnn/exercises.)"""
import numpy as np
import pytest

from fercnn.layers import softmax_loss


def test_label_smoothing_hand_computed_and_its_gradient():
    """q = (1 - e) onehot + e / K; loss = -sum q log p; dscores = (p - q) / N, checked numerically."""
    from fercnn.gradient_check import eval_numerical_gradient, rel_error

    rng = np.random.default_rng(3)
    scores, y, e = rng.standard_normal((6, 7)), rng.integers(0, 7, 6), 0.1
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    q = np.full((6, 7), e / 7)
    q[np.arange(6), y] += 1 - e
    loss, dscores = softmax_loss(scores, y, smoothing=e)
    np.testing.assert_allclose(loss, -(q * np.log(p)).sum() / 6, rtol=1e-13)
    np.testing.assert_allclose(dscores, (p - q) / 6, rtol=1e-12, atol=1e-16)
    numeric = eval_numerical_gradient(lambda s: softmax_loss(s, y, smoothing=e)[0], scores.copy())
    assert rel_error(dscores, numeric) < 1e-7
    assert softmax_loss(scores, y, smoothing=0.0)[0] == softmax_loss(scores, y)[0]
    loss32, d32 = softmax_loss(scores.astype(np.float32), y, smoothing=e)
    assert loss32.dtype == d32.dtype == np.float32
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match=r"softmax_loss: smoothing must be in \[0, 1\)"):
            softmax_loss(scores, y, smoothing=bad)
