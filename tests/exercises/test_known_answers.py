"""fercnn's own ops and update rules against the shared checks that are not about one registry
case: the hand-computed answers (fercnn/exercises/known.py), batchnorm's running statistics
over several steps, dropout's behaviour, im2col and col2im, and every update rule step by step
(fercnn/exercises/behaviour.py, rules.py). The grader runs the same on a learner's functions."""
from types import SimpleNamespace

import numpy as np
import pytest

import fercnn.layers.conv as conv
import fercnn.layers.reference as reference
from fercnn.exercises import behaviour, rules
from fercnn.exercises.known import KNOWN
from fercnn.train import optim


def _assert_all_ok(outcomes):
    assert outcomes
    failed = [o.message() for o in outcomes if not o.ok]
    assert not failed, failed


@pytest.mark.parametrize("family", sorted(KNOWN))
def test_known_answers(ops, family):
    _assert_all_ok(behaviour.known(family, ops))


def test_the_loops_of_reference_py_give_the_known_answers():
    loops = SimpleNamespace(conv_forward=reference.conv_forward_naive, conv_backward=reference.conv_backward_naive)
    _assert_all_ok(behaviour.known("conv", loops))


@pytest.mark.parametrize("family", ["batchnorm", "spatial_batchnorm"])
def test_running_statistics(ops, family):
    _assert_all_ok(behaviour.running_statistics(family, ops))


def test_dropout_behaviour(ops):
    _assert_all_ok(behaviour.dropout(ops))


def _windows_one_by_one(x, k, stride, pad):
    """im2col's contract written independently: column (n, oh, ow) is the window of output
    (oh, ow) of image n, flattened channel first, then row, then column of the window."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
    return np.stack([xp[n, :, oh * stride:oh * stride + k, ow * stride:ow * stride + k].ravel()
                     for n in range(N) for oh in range(H_out) for ow in range(W_out)], axis=1)


@pytest.mark.parametrize("k,stride,pad", [(3, 1, 1), (5, 1, 2), (2, 2, 0), (3, 2, 1)])
def test_im2col_and_col2im_against_windows_taken_one_by_one(rng, k, stride, pad):
    x = rng.standard_normal((2, 3, 7, 6))
    cols = _windows_one_by_one(x, k, stride, pad)
    np.testing.assert_array_equal(conv.im2col(x, k, k, stride, pad), cols)
    # col2im is im2col's adjoint: <im2col(x), d> == <x, col2im(d)> for every x and d
    d = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(np.sum(cols * d), np.sum(x * conv.col2im(d, x.shape, k, k, stride, pad)), rtol=1e-12)


def _windows_added_back(dcols, x_shape, k, stride, pad):
    """col2im written independently: each column's window added back where it was taken from."""
    N, C, H, W = x_shape
    H_out, W_out = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dcols.dtype)
    column = 0
    for n in range(N):
        for oh in range(H_out):
            for ow in range(W_out):
                dxp[n, :, oh * stride:oh * stride + k, ow * stride:ow * stride + k] += dcols[:, column].reshape(C, k, k)
                column += 1
    return dxp[:, :, pad:pad + H, pad:pad + W]


def test_the_column_checks_pass_fercnns_and_catch_wrong_ones():
    # fercnn's im2col and col2im against the windows taken and added back one by one
    independent = SimpleNamespace(im2col=lambda x, HH, WW, s, p: _windows_one_by_one(x, HH, s, p).astype(x.dtype),
                                  col2im=lambda d, shape, HH, WW, s, p: _windows_added_back(d, shape, HH, s, p))
    _assert_all_ok(behaviour.columns(conv, independent))
    # a window read row by row instead of column by column; overlaps overwritten, not summed
    transposed = lambda x, HH, WW, s, p: conv.im2col(x.transpose(0, 1, 3, 2), WW, HH, s, p)  # noqa: E731

    def overwritten(dcols, x_shape, HH, WW, stride, pad):
        N, C, H, W = x_shape
        H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
        d = dcols.reshape(C, HH, WW, N, H_out, W_out)
        dx = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dcols.dtype)
        for i in range(HH):
            for j in range(WW):
                dx[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride] = d[:, i, j].transpose(1, 0, 2, 3)
        return dx[:, :, pad:pad + H, pad:pad + W]

    wrong = SimpleNamespace(im2col=transposed, col2im=overwritten)
    outcomes = behaviour.columns(wrong, conv, catch=True)
    failed = {side: [o for o in outcomes if o.side == side and not o.ok] for side in ("forward", "backward")}
    assert failed["forward"] and failed["backward"], [o.message() for o in outcomes]  # both mistakes are seen


@pytest.mark.parametrize("name", sorted(optim.RULES))
def test_update_rules(name):
    outcomes = rules.check(name, optim.RULES[name])
    assert len(outcomes) >= 5
    _assert_all_ok(outcomes)


@pytest.mark.parametrize("name", sorted(optim.RULES))
def test_every_mistake_model_is_caught_and_named(name):
    """Each common mistake of rules.MISTAKES, as a learner's rule, fails and is named."""
    assert rules.MISTAKES[name]
    for mistake, sentence in rules.MISTAKES[name]:
        outcomes = rules.check(name, mistake)
        named = {o.diagnosis for o in outcomes if not o.ok}
        assert sentence in named, (sentence, named)
