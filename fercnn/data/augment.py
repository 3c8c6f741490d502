"""Augmentation drawn afresh for every minibatch: flips, shifts, rotations, scaling, erasing.

    aug = Augmentation(flip=True, shift=4, rotate=10, scale=0.1, erase=0.5)
    X_batch = aug(X_batch, rng)     # (N, C, H, W) -> (N, C, H, W), a new array

Each image gets its own random similarity transform (a horizontal flip with probability
1/2, a rotation by an angle in [-rotate, rotate] degrees, a scaling by a factor in
[1 - scale, 1 + scale], a shift by whole pixels in [-shift, shift] along each axis), applied
to the whole batch at once by one batched warp: every output pixel is mapped back into its
source image and read there by bilinear interpolation, with 0 outside the image (0 is the
mean image in the mean-subtracted input the Solver trains on). ``warp`` below is that warp in
NumPy; training runs its Numba twin, fercnn.fast.augment.warp. Then, with probability
``erase``, a rectangle of 2-20% of the image with an aspect ratio in [0.3, 3.3] is set to 0
(random erasing, Zhong et al. 2017).

Every random number comes from the ``rng`` passed in (the Solver's seeded generator), drawn
in a fixed order, so a resumed run draws exactly what the uninterrupted one drew.
"""
import numpy as np

from fercnn.fast.augment import warp as fast_warp

ERASE_AREA = (0.02, 0.2)  # of the image
ERASE_ASPECT = (0.3, 3.3)  # height / width


class Augmentation:
    """Random per-image transforms of a batch (see the module docstring). All off by default."""

    def __init__(self, *, flip=False, shift=0, rotate=0.0, scale=0.0, erase=0.0):
        if not isinstance(flip, bool):
            raise ValueError(f"augmentation: flip must be True or False, got {flip!r}")
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or not 0 <= shift <= 24:
            raise ValueError(f"augmentation: shift must be a whole number of pixels in [0, 24], got {shift!r}")
        checks = (("rotate", rotate, 0, 180, "degrees in [0, 180]"), ("scale", scale, 0, 0.9, "a fraction in [0, 0.9]"),
                  ("erase", erase, 0, 1, "a probability in [0, 1]"))
        for name, value, low, high, what in checks:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not low <= value <= high:
                raise ValueError(f"augmentation: {name} must be {what}, got {value!r}")
        self.flip, self.shift, self.rotate = flip, int(shift), float(rotate)
        self.scale, self.erase = float(scale), float(erase)

    def config(self):
        """The settings as JSON-able data (a run's options: a resume must use the same)."""
        return {"flip": self.flip, "shift": self.shift, "rotate": self.rotate, "scale": self.scale,
                "erase": self.erase}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __bool__(self):
        return bool(self.flip or self.shift or self.rotate or self.scale or self.erase)

    def __repr__(self):
        return "Augmentation(" + ", ".join(f"{k}={v!r}" for k, v in self.config().items()) + ")"

    def draw(self, rng, N):
        """The random choices for N images, drawn from ``rng`` in a fixed order: a dict of
        arrays (flip (N,) bool, angle (N,) radians, zoom (N,), shift (N, 2) pixels (rows,
        columns), erase (N,) bool and erase_box (N, 4) top, left, height, width fractions)."""
        d = {"flip": rng.random(N) < 0.5 if self.flip else np.zeros(N, bool),
             "angle": np.deg2rad(rng.uniform(-self.rotate, self.rotate, N)) if self.rotate else np.zeros(N),
             "zoom": rng.uniform(1 - self.scale, 1 + self.scale, N) if self.scale else np.ones(N),
             "shift": rng.integers(-self.shift, self.shift + 1, (N, 2)) if self.shift else np.zeros((N, 2), int)}
        if self.erase:
            d["erase"] = rng.random(N) < self.erase
            area = rng.uniform(*ERASE_AREA, N)
            aspect = np.exp(rng.uniform(*np.log(ERASE_ASPECT), N))
            h, w = np.minimum(np.sqrt(area * aspect), 1.0), np.minimum(np.sqrt(area / aspect), 1.0)
            d["erase_box"] = np.stack([rng.random(N) * (1 - h), rng.random(N) * (1 - w), h, w], axis=1)
        return d

    def __call__(self, X, rng):
        """X: (N, C, H, W) floats -> augmented copy, same shape and dtype."""
        if X.ndim != 4:
            raise ValueError(f"augmentation: X must be (N, C, H, W), got shape {X.shape}")
        d = self.draw(rng, X.shape[0])
        out = fast_warp(X, d["flip"], d["angle"], d["zoom"], d["shift"])
        if self.erase:
            erase(out, d["erase"], d["erase_box"])
        return out


def warp(X, flip, angle, zoom, shift):
    """Each image of X (N, C, H, W) flipped, rotated by angle (radians; positive turns it clockwise as shown),
    scaled by zoom about its centre and shifted by shift (N, 2) pixels (rows, columns);
    bilinear interpolation, 0 outside. Returns a new array of X's dtype. With no flip,
    angle 0, zoom 1 and shift 0 an image comes back unchanged."""
    N, C, H, W = X.shape
    if N == 0:
        return X.copy()
    cy, cx = (H - 1) / 2, (W - 1) / 2
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
    # output pixel (r, c) -> source pixel: undo the shift, the zoom and rotation about the centre, the flip
    r = rows[None] - shift[:, 0, None, None] - cy  # (N, H, W)
    c = cols[None] - shift[:, 1, None, None] - cx
    cos, sin = (np.cos(angle) / zoom)[:, None, None], (np.sin(angle) / zoom)[:, None, None]
    src_r = cos * r - sin * c + cy
    src_c = sin * r + cos * c + cx
    src_c = np.where(flip[:, None, None], (W - 1) - src_c, src_c)
    r0, c0 = np.floor(src_r), np.floor(src_c)
    fr, fc = (src_r - r0).astype(X.dtype), (src_c - c0).astype(X.dtype)
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    n = np.arange(N)[:, None, None]
    out = np.zeros_like(X)
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        inside = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
        w = np.where(inside, weight, X.dtype.type(0))
        rr, cc = np.clip(rr, 0, H - 1), np.clip(cc, 0, W - 1)
        for ch in range(C):
            out[:, ch] += w * X[n, ch, rr, cc]
    return out


def erase(X, which, boxes):
    """Set a rectangle of each chosen image to 0, in place. which: (N,) bool; boxes: (N, 4)
    top, left, height, width as fractions of the image."""
    _, _, H, W = X.shape
    for k in np.flatnonzero(which):
        top, left, h, w = boxes[k]
        r0, c0 = int(top * H), int(left * W)
        X[k, :, r0:r0 + max(1, round(h * H)), c0:c0 + max(1, round(w * W))] = 0
