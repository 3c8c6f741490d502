"""Every bad input ends in one ValueError whose message names the problem."""
import numpy as np
import pytest


x4 = np.zeros((2, 3, 8, 8))
w4 = np.zeros((4, 3, 3, 3))
b4 = np.zeros(4)


@pytest.mark.parametrize("call,message", [
    (lambda ops: ops.conv_forward(np.zeros((3, 8, 8)), w4, b4), r"x must be 4-D, got 3-D"),
    (lambda ops: ops.conv_forward(x4, np.zeros((4, 2, 3, 3)), b4), r"x has 3 channels but the filters w expect 2"),
    (lambda ops: ops.conv_forward(x4, w4, np.zeros(5)), r"b must have shape \(4,\), got \(5,\)"),
    (lambda ops: ops.conv_forward(x4, w4, b4, stride=2), r"height 8 with window 3, pad 0, stride 2 does not give a whole"),
    (lambda ops: ops.conv_forward(x4, np.zeros((4, 3, 11, 11)), b4), r"does not give a whole, positive output size"),
    (lambda ops: ops.conv_forward(x4, w4, b4, stride=0), r"stride must be an integer >= 1, got 0"),
    (lambda ops: ops.conv_forward(x4, w4, b4, pad=-1), r"pad must be an integer >= 0, got -1"),
    (lambda ops: ops.conv_forward(x4, w4, b4, pad=1.5), r"pad must be an integer >= 0, got 1.5"),
    (lambda ops: ops.conv_forward(x4.astype(int), w4, b4), r"x must have a floating dtype .* got int64"),
    (lambda ops: ops.conv_forward(x4.astype(np.float32), w4, b4), r"share one dtype, got x=float32, w=float64"),
    (lambda ops: ops.max_pool_forward(np.zeros((2, 3, 7, 8))), r"height 7 with window 2, pad 0, stride 2 does not give a whole"),
    (lambda ops: ops.max_pool_forward(x4, size=0), r"size must be an integer >= 1, got 0"),
    (lambda ops: ops.max_pool_forward(np.zeros((8, 8))), r"x must be 4-D, got 2-D"),
    (lambda ops: ops.affine_forward(np.zeros((2, 6)), np.zeros((5, 3)), np.zeros(3)),
     r"x flattens to D=6 features per example but w has 5 rows"),
    (lambda ops: ops.affine_forward(np.zeros((2, 6)), np.zeros((6, 3)), np.zeros(4)), r"b must have shape \(3,\), got \(4,\)"),
    (lambda ops: ops.affine_forward(np.zeros(6), np.zeros((6, 3)), np.zeros(3)), r"x must have at least 2 dims"),
    (lambda ops: ops.relu_forward([1.0, -1.0]), r"x must be an array, got list"),
    (lambda ops: ops.dropout_forward(np.zeros(3), 1.0, training=True, rng=np.random.default_rng()), r"p must be in \[0, 1\), got 1.0"),
    (lambda ops: ops.dropout_forward(np.zeros(3), -0.1, training=True, rng=np.random.default_rng()), r"p must be in \[0, 1\), got -0.1"),
    (lambda ops: ops.dropout_forward(np.zeros(3), 0.5, training="yes", rng=np.random.default_rng()), r"training must be True or False"),
    (lambda ops: ops.dropout_forward(np.zeros(3), 0.5, training=True, rng=3), r"rng must be a numpy.random.Generator, got int"),
    (lambda ops: ops.batchnorm_forward(np.zeros((4, 3)), np.ones(2), np.zeros(3), {}, training=True), r"gamma must have shape \(3,\)"),
    (lambda ops: ops.batchnorm_forward(np.zeros((4, 3)), np.ones(3), np.zeros(3), {}, training=True, momentum=1.5),
     r"momentum must be in \[0, 1\], got 1.5"),
    (lambda ops: ops.batchnorm_forward(np.zeros((1, 3)), np.ones(3), np.zeros(3), {}, training=True),
     r"at least 2 values per feature"),
    (lambda ops: ops.spatial_batchnorm_forward(np.zeros((4, 3)), np.ones(3), np.zeros(3), {}, training=True), r"x must be 4-D"),
    (lambda ops: ops.batchnorm_forward(np.zeros((4, 3)), np.ones(3), np.zeros(3), None, training=True), r"state must be a dict"),
])
def test_layer_errors(ops, call, message):
    with pytest.raises(ValueError, match=message):
        call(ops)


@pytest.mark.parametrize("loss_name", ["softmax_loss", "svm_loss"])
@pytest.mark.parametrize("scores,y,message", [
    (np.zeros((3, 4)), np.array([0, 1, 4]), r"labels must be in \[0, 4\), got 4"),
    (np.zeros((3, 4)), np.array([0, -1, 2]), r"labels must be in \[0, 4\), got -1"),
    (np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]), r"y must hold integer class labels, got dtype float64"),
    (np.zeros((3, 4)), np.array([0, 1]), r"scores has N=3 rows but y has 2 labels"),
    (np.zeros((3, 4)), np.array([[0, 1, 2]]), r"y must be 1-D"),
    (np.zeros(4), np.array([0]), r"scores must be 2-D, got 1-D"),
    (np.zeros((3, 4), dtype=np.int32), np.array([0, 1, 2]), r"scores must have a floating dtype"),
])
def test_loss_errors(ops, loss_name, scores, y, message):
    with pytest.raises(ValueError, match=message):
        getattr(ops, loss_name)(scores, y)


def test_backward_rejects_wrong_dout_shape(ops):
    out, cache = ops.affine_forward(np.zeros((2, 6)), np.zeros((6, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\), got \(2, 4\)"):
        ops.affine_backward(np.zeros((2, 4)), cache)
