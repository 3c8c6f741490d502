"""HOG features for the paper's hybrid network (scikit-image's hog): settings, size, vectors."""
import numpy as np

HOG_DEFAULTS = {"orientations": 9, "pixels_per_cell": 8, "cells_per_block": 2}


def hog_length(height, width, *, orientations, pixels_per_cell, cells_per_block):
    """Length of the HOG vector of a (height, width) image: blocks_h * blocks_w *
    cells_per_block^2 * orientations (900 for 48x48 with HOG_DEFAULTS)."""
    cells_h, cells_w = height // pixels_per_cell, width // pixels_per_cell
    blocks_h, blocks_w = cells_h - cells_per_block + 1, cells_w - cells_per_block + 1
    if blocks_h < 1 or blocks_w < 1:
        raise ValueError(f"hog: {height}x{width} images are too small for {pixels_per_cell}-pixel cells in "
                         f"blocks of {cells_per_block}x{cells_per_block} cells")
    return blocks_h * blocks_w * cells_per_block ** 2 * orientations


def hog_features(images, *, orientations=HOG_DEFAULTS["orientations"],
                 pixels_per_cell=HOG_DEFAULTS["pixels_per_cell"], cells_per_block=HOG_DEFAULTS["cells_per_block"],
                 dtype=np.float32):
    """images: (N, H, W) grayscale (raw, not mean-subtracted) -> (N, D) HOG vectors.

    D = blocks_h * blocks_w * cells_per_block^2 * orientations (900 for 48x48 with the
    defaults: 8x8-pixel cells, 2x2-cell blocks, 9 orientations), L2-Hys block norms.
    """
    from skimage.feature import hog  # here: importing fercnn stays light

    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"hog_features: images must be (N, H, W), got shape {images.shape}")
    out = [hog(im, orientations=orientations, pixels_per_cell=(pixels_per_cell,) * 2,
               cells_per_block=(cells_per_block,) * 2, block_norm="L2-Hys", feature_vector=True)
           for im in images]
    if not out:
        return np.zeros((0, 0), dtype)
    return np.stack(out).astype(dtype)


def hog_features_for(model, images):
    """HOG vectors with the settings of ``model``'s spec (its hybrid head's input)."""
    h = model.spec["hog"]
    if h is None:
        raise ValueError("hog_features_for: the model has no HOG input (spec hog=None)")
    return hog_features(images, dtype=model.dtype, **h)
