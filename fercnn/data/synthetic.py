"""Procedurally drawn 48x48 faces: the dataset that ships with fercnn.

FER2013 cannot be redistributed, so the examples default to faces drawn with
scikit-image. The seven expressions differ the way the paper's classes do, by mouth, eyes
and brows:

    angry     brows pulled down at the centre, narrowed eyes, tight flat mouth
    disgust   lowered brows, squint, mouth raised on one side, wrinkles beside the nose
    fear      brows raised and pulled up at the centre, wide eyes, wide stretched mouth
    happy     flat brows, slightly closed eyes, upward-curved smile
    sad       brows raised at the centre, downward-curved mouth
    surprise  brows raised high, wide round eyes, round open mouth
    neutral   flat brows, normal eyes, straight mouth

Every face is moved, scaled, rotated and lit differently, the feature geometry is jittered
and noise is added, so that a linear classifier on raw pixels does clearly worse than a CNN.
"""
import numpy as np
from skimage.draw import bezier_curve, ellipse

from fercnn.data.fer2013 import SIDE

# per class: brow (inner dy, outer dy), eye half-height, mouth kind
_EXPRESSIONS = (
    {"brow": (2.0, -1.0), "eye": 1.0, "mouth": "tight"},      # angry
    {"brow": (1.5, 0.5), "eye": 0.8, "mouth": "sneer"},       # disgust
    {"brow": (-3.0, -1.5), "eye": 2.6, "mouth": "stretched"},  # fear
    {"brow": (0.0, 0.0), "eye": 1.2, "mouth": "smile"},       # happy
    {"brow": (-2.0, 1.0), "eye": 1.5, "mouth": "frown"},      # sad
    {"brow": (-3.5, -3.5), "eye": 2.6, "mouth": "round"},     # surprise
    {"brow": (0.0, 0.0), "eye": 1.6, "mouth": "straight"},    # neutral
)


def make_synthetic_faces(n, *, seed=0):
    """n faces, balanced over the 7 classes (counts differ by at most one).

    Returns X: uint8 (n, 48, 48) and y: int64 (n,) with the FER2013 label order
    (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral). The same seed
    gives the same faces.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"make_synthetic_faces: n must be a non-negative integer, got {n!r}")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % len(_EXPRESSIONS)).astype(np.int64)
    X = np.empty((n, SIDE, SIDE), dtype=np.uint8)
    for i, label in enumerate(y):
        X[i] = _draw_face(int(label), rng)
    return X, y


class _Frame:
    """Maps face coordinates (u right, v down, face-sized units) to image rows and columns."""

    def __init__(self, rng):
        self.cx = SIDE / 2 + rng.uniform(-3.5, 3.5)
        self.cy = SIDE / 2 + 1 + rng.uniform(-3.5, 3.5)
        self.s = rng.uniform(0.85, 1.15)
        a = np.deg2rad(rng.uniform(-15, 15))
        self.cos, self.sin, self.angle = np.cos(a), np.sin(a), a

    def __call__(self, u, v):
        r = self.cy + self.s * (u * self.sin + v * self.cos)
        c = self.cx + self.s * (u * self.cos - v * self.sin)
        return r, c


def _fill_ellipse(img, frame, u, v, ru, rv, value):
    r, c = frame(u, v)
    rr, cc = ellipse(r, c, max(rv * frame.s, 0.6), max(ru * frame.s, 0.6), shape=img.shape, rotation=-frame.angle)
    img[rr, cc] = value


def _stroke(img, frame, p0, p1, p2, value, width=1):
    """A quadratic Bezier from p0 through control p1 to p2, ``width`` pixels thick."""
    pts = [frame(*p) for p in (p0, p1, p2)]
    for k in range(width):
        off = k - (width - 1) / 2
        (r0, c0), (r1, c1), (r2, c2) = [(int(round(r + off)), int(round(c))) for r, c in pts]
        rr, cc = bezier_curve(r0, c0, r1, c1, r2, c2, 1, shape=img.shape)
        img[rr, cc] = value


def _draw_face(label, rng):
    e = _EXPRESSIONS[label]
    j = lambda scale: rng.normal(0, scale)  # noqa: E731  (geometry jitter)
    frame = _Frame(rng)
    bg = rng.uniform(0.1, 0.5)
    img = np.full((SIDE, SIDE), bg)
    skin = rng.uniform(0.55, 0.9)
    dark = skin - rng.uniform(0.35, 0.5)
    _fill_ellipse(img, frame, 0, 0, 15 + j(0.8), 19 + j(0.8), skin)

    eye_h = max(e["eye"] + j(0.25), 0.5)
    for side in (-1, 1):
        _fill_ellipse(img, frame, side * (6 + j(0.3)), -4 + j(0.3), 2.4 + j(0.2), eye_h, dark)
        inner, outer = e["brow"]
        _stroke(img, frame, (side * 3, -8.5 + inner + j(0.4)), (side * 6, -9.5 + (inner + outer) / 2 + j(0.4)),
                (side * 9.5, -8.5 + outer + j(0.4)), dark, width=2)

    m = e["mouth"]
    mv = 9 + j(0.4)
    if m == "smile":
        _stroke(img, frame, (-6.5, mv - 1), (0, mv + 5 + j(0.7)), (6.5, mv - 1), dark, width=2)
    elif m == "frown":
        _stroke(img, frame, (-5.5, mv + 2), (0, mv - 3.5 + j(0.7)), (5.5, mv + 2), dark, width=2)
    elif m == "tight":
        _stroke(img, frame, (-4, mv + 0.5), (0, mv - 0.5), (4, mv + 0.5), dark, width=2)
    elif m == "straight":
        _stroke(img, frame, (-5.5, mv), (0, mv + j(0.3)), (5.5, mv), dark, width=1)
    elif m == "round":
        _fill_ellipse(img, frame, 0, mv + 1, 2.8 + j(0.3), 3.8 + j(0.3), dark)
    elif m == "stretched":
        _fill_ellipse(img, frame, 0, mv + 0.5, 5.5 + j(0.4), 1.8 + j(0.2), dark)
    else:  # sneer: one corner raised, wrinkle lines beside the nose
        side = rng.choice((-1, 1))
        _stroke(img, frame, (-5 * side, mv + 1), (0, mv + 1), (5 * side, mv - 2.5 + j(0.5)), dark, width=2)
        for s in (-1, 1):
            _stroke(img, frame, (s * 2.5, 0), (s * 3.5, 2), (s * 3, 4), (skin + dark) / 2, width=1)

    # lighting: a random linear gradient and contrast, then sensor noise
    rows, cols = np.mgrid[0:SIDE, 0:SIDE] / SIDE - 0.5
    gx, gy = rng.normal(0, 0.25, size=2)
    img = img * rng.uniform(0.7, 1.2) + gx * cols + gy * rows
    img += rng.normal(0, rng.uniform(0.03, 0.08), img.shape)
    return np.clip(img * 255, 0, 255).astype(np.uint8)
