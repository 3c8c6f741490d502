"""The fast ops that training runs: the same names and contracts as ``fercnn.layers``.

What makes them fast: Numba kernels (``_*_kernels.py``) that make one pass over memory,
convolution in blocks of images on worker threads (``conv.py``, ``_workers.py``), by
Winograd's minimal filtering where the layer shape allows (``winograd.py``, chosen per
layer in ``conv_method.py``), and
fused ops (``relu_dropout_*``, ``batchnorm_relu_dropout_*``) that do in one pass what two
or three readable ops do in several. Affine layers and losses are plain NumPy already,
so they are the readable ones. tests/test_ops.py holds every op here equal to its
readable twin.
"""
from fercnn.fast._elementwise_kernels import add_scaled
from fercnn.fast.activations import relu_backward, relu_forward
from fercnn.fast.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from fercnn.fast.conv import conv_backward, conv_forward
from fercnn.fast.dropout import dropout_backward, dropout_forward, relu_dropout_backward, relu_dropout_forward
from fercnn.fast.fused import batchnorm_relu_dropout_backward, batchnorm_relu_dropout_forward
from fercnn.fast.pooling import max_pool_backward, max_pool_forward
from fercnn.layers.affine import affine_backward, affine_forward
from fercnn.layers.losses import softmax_loss, svm_loss

__all__ = [
    "affine_forward", "affine_backward",
    "relu_forward", "relu_backward",
    "conv_forward", "conv_backward",
    "max_pool_forward", "max_pool_backward",
    "batchnorm_forward", "batchnorm_backward",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "dropout_forward", "dropout_backward",
    "relu_dropout_forward", "relu_dropout_backward",
    "batchnorm_relu_dropout_forward", "batchnorm_relu_dropout_backward",
    "softmax_loss", "svm_loss",
    "add_scaled",
]
