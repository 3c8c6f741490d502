"""Forward and backward against PyTorch, where it happens to be installed (never a dependency)."""
import numpy as np
import pytest

from conftest import spread_values

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _t(a):
    return torch.tensor(a, requires_grad=True)


def _close(name, ours, theirs, tol=1e-9):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("stride,pad,k", [(1, 1, 3), (2, 2, 5), (1, 0, 1), (2, 1, 3)])
def test_conv(ops, rng, stride, pad, k):
    x = rng.standard_normal((3, 4, 9, 11))
    w = rng.standard_normal((5, 4, k, k))
    b = rng.standard_normal(5)
    out, cache = ops.conv_forward(x, w, b, stride=stride, pad=pad)
    tx, tw, tb = _t(x), _t(w), _t(b)
    tout = F.conv2d(tx, tw, tb, stride=stride, padding=pad)
    _close("out", out, tout)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    for name, g, t in zip(("dx", "dw", "db"), ops.conv_backward(dout, cache), (tx, tw, tb)):
        _close(name, g, t.grad)


def test_max_pool(ops, rng):
    x = spread_values(rng, (2, 3, 8, 6))
    out, cache = ops.max_pool_forward(x)
    tx = _t(x)
    tout = F.max_pool2d(tx, 2, 2)
    _close("out", out, tout)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    _close("dx", ops.max_pool_backward(dout, cache), tx.grad)


def test_affine(ops, rng):
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 3)), rng.standard_normal(3)
    out, cache = ops.affine_forward(x, w, b)
    tx, tw, tb = _t(x), _t(w), _t(b)
    tout = tx @ tw + tb
    _close("out", out, tout)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    for name, g, t in zip(("dx", "dw", "db"), ops.affine_backward(dout, cache), (tx, tw, tb)):
        _close(name, g, t.grad)


@pytest.mark.parametrize("spatial", [False, True])
def test_batchnorm_training(ops, rng, spatial):
    shape = (6, 3, 4, 5) if spatial else (6, 3)
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    fwd, bwd = (ops.spatial_batchnorm_forward, ops.spatial_batchnorm_backward) if spatial else (ops.batchnorm_forward, ops.batchnorm_backward)
    out, cache = fwd(x, gamma, beta, {}, training=True)
    tx, tg, tb = _t(x), _t(gamma), _t(beta)
    tout = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    _close("out", out, tout)
    dout = rng.standard_normal(shape)
    tout.backward(torch.tensor(dout))
    for name, g, t in zip(("dx", "dgamma", "dbeta"), bwd(dout, cache), (tx, tg, tb)):
        _close(name, g, t.grad)


def test_losses(ops, rng):
    scores = rng.standard_normal((8, 7)) * 3
    y = rng.integers(0, 7, 8)
    for ours, theirs in ((ops.softmax_loss, F.cross_entropy), (ops.svm_loss, F.multi_margin_loss)):
        loss, dscores = ours(scores, y)
        ts = _t(scores)
        tloss = theirs(ts, torch.tensor(y))
        if ours is ops.svm_loss:
            tloss = tloss * scores.shape[1]  # torch divides the hinge sum by the number of classes too
        tloss.backward()
        np.testing.assert_allclose(loss, tloss.item(), rtol=1e-12)
        _close(ours.__name__, dscores, ts.grad)
