"""The readable layers: every op as plain, vectorised NumPy, forward beside backward.

Each op is a ``*_forward`` returning ``(out, cache)`` and a ``*_backward`` taking
``(dout, cache)``; losses return ``(loss, dscores)``. Read ``reference.py`` (loops) first,
then these. Training runs the same ops from ``fercnn.fast`` (Numba kernels, threads,
fused ops), which compute the same numbers (tests/test_ops.py).
"""
from fercnn.layers.activations import relu_backward, relu_forward
from fercnn.layers.affine import affine_backward, affine_forward
from fercnn.layers.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from fercnn.layers.conv import conv_backward, conv_forward
from fercnn.layers.dropout import dropout_backward, dropout_forward
from fercnn.layers.losses import softmax_loss, svm_loss
from fercnn.layers.pooling import max_pool_backward, max_pool_forward

__all__ = [
    "affine_forward", "affine_backward",
    "relu_forward", "relu_backward",
    "conv_forward", "conv_backward",
    "max_pool_forward", "max_pool_backward",
    "batchnorm_forward", "batchnorm_backward",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "dropout_forward", "dropout_backward",
    "softmax_loss", "svm_loss",
]
