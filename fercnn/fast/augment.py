"""The batched warp of augmentation, as a Numba kernel: the same contract and numbers as
fercnn.data.augment.warp (tests/data/test_augment.py holds them equal), about as fast as
one pass over the batch."""
import numpy as np

from fercnn.fast import _augment_kernels as kernels
from fercnn.fast._numpy_only import require_numpy


def warp(X, flip, angle, zoom, shift):
    """X (N, C, H, W) flipped, rotated by angle (radians), scaled by zoom and shifted by shift
    (N, 2) pixels, each image its own; bilinear, 0 outside (see fercnn.data.augment.warp)."""
    require_numpy("warp", X)
    if X.ndim != 4:
        raise ValueError(f"warp: X must be (N, C, H, W), got shape {X.shape}")
    zoom = np.asarray(zoom, np.float64)
    return kernels.warp(np.ascontiguousarray(X), np.ascontiguousarray(flip, dtype=np.bool_),
                        np.cos(angle) / zoom, np.sin(angle) / zoom, np.ascontiguousarray(shift, dtype=np.int64))
