"""Softmax and SVM losses: cases with known answers (the registry checks gradients, dtypes, torch)."""
import numpy as np
import pytest

from fercnn.layers import softmax_loss, svm_loss


def test_softmax_uniform_scores_give_log_k():
    loss, dscores = softmax_loss(np.zeros((5, 7)), np.arange(5))
    np.testing.assert_allclose(loss, np.log(7))
    np.testing.assert_allclose(dscores.sum(axis=1), 0, atol=1e-15)


def test_softmax_hand_computed():
    scores = np.array([[0.0, np.log(3.0)], [np.log(2.0), np.log(2.0)]])
    loss, dscores = softmax_loss(scores, np.array([1, 0]))
    # row 0: p = (1/4, 3/4), true class 1; row 1: p = (1/2, 1/2), true class 0
    np.testing.assert_allclose(loss, -(np.log(0.75) + np.log(0.5)) / 2, rtol=1e-14)
    np.testing.assert_allclose(dscores, np.array([[0.25, -0.25], [-0.5, 0.5]]) / 2, rtol=1e-14)


def test_softmax_stable_for_huge_logits():
    scores = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
    for dt in (np.float32, np.float64):
        loss, dscores = softmax_loss(scores.astype(dt), np.array([1, 1]))
        assert np.isfinite(loss) and np.all(np.isfinite(dscores))
        np.testing.assert_allclose(loss, 1e4, rtol=1e-6)  # first row: wrong by 2e4, second: right


def test_svm_hand_computed():
    scores = np.array([[3.0, 1.0, 2.5], [0.0, 2.0, 2.0]])
    y = np.array([0, 2])
    loss, dscores = svm_loss(scores, y)
    # row 0: margins max(0, 1-3+1)=0, max(0, 2.5-3+1)=0.5 ; row 1: max(0,0-2+1)=0, max(0,2-2+1)=1
    np.testing.assert_allclose(loss, (0.5 + 1.0) / 2)
    np.testing.assert_allclose(dscores, np.array([[-1, 0, 1], [0, 1, -1]]) / 2)


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
