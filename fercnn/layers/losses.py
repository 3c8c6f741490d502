"""Classification losses on class scores: softmax cross-entropy and multiclass SVM."""
from fercnn.argcheck import check_float_array, check_labels
from fercnn.backend import get_array_module


def _check_scores(op, scores, y):
    check_float_array(op, "scores", scores, ndim=2)
    N, K = scores.shape
    if N == 0:
        raise ValueError(f"{op}: scores must hold at least one example, got shape {tuple(scores.shape)}")
    check_labels(op, y, N, K)
    return N, K


def softmax_loss(scores, y, *, smoothing=0.0):
    """Mean cross-entropy of softmax(scores) against labels.

    scores: (N, K), y: (N,) ints in [0, K) -> loss (scalar of scores' dtype),
    dscores: (N, K). Subtracting each row's max before exponentiating changes nothing
    mathematically (softmax is shift invariant) and keeps exp() from overflowing,
    so logits of +-1e4 still give a finite loss and gradient.

    smoothing (label smoothing, in [0, 1)): the target is q = (1 - smoothing) onehot(y) +
    smoothing / K instead of onehot(y), so the network is not pushed towards infinitely
    confident scores. loss = -mean_i sum_k q_ik log p_ik, and since sum_k q_ik = 1,
    dscores = (softmax - q) / N (smoothing 0: (softmax - onehot(y)) / N).
    """
    N, K = _check_scores("softmax_loss", scores, y)
    if isinstance(smoothing, bool) or not 0 <= smoothing < 1:
        raise ValueError(f"softmax_loss: smoothing must be in [0, 1), got {smoothing!r}")
    xp = get_array_module(scores)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_z
    rows = xp.arange(N)
    dtype = scores.dtype.type
    if smoothing:
        on, off = dtype(1 - smoothing + smoothing / K), dtype(smoothing / K)
        loss = -(off * log_probs.sum() + (on - off) * log_probs[rows, y].sum()) / dtype(N)
    else:
        on, off = dtype(1), dtype(0)
        loss = -log_probs[rows, y].sum() / dtype(N)
    dscores = xp.exp(log_probs)
    if smoothing:
        dscores -= off
    dscores[rows, y] -= on - off
    dscores /= dtype(N)
    return dtype(loss), dscores


def svm_loss(scores, y):
    """Multiclass hinge loss with margin 1, summed over wrong classes, mean over N.

    scores: (N, K), y: (N,) -> loss, dscores: (N, K).
    L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1). Each positive margin pushes its
    class score up (+1) and the true class score down (-1).
    """
    N, _ = _check_scores("svm_loss", scores, y)
    xp = get_array_module(scores)
    rows = xp.arange(N)
    one = scores.dtype.type(1)
    margins = xp.maximum(scores - scores[rows, y][:, None] + one, scores.dtype.type(0))
    margins[rows, y] = 0
    loss = margins.sum() / scores.dtype.type(N)
    positive = (margins > 0).astype(scores.dtype)
    positive[rows, y] = -positive.sum(axis=1)
    positive /= scores.dtype.type(N)
    return scores.dtype.type(loss), positive
