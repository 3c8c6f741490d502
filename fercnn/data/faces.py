"""Photos to 48x48 face crops: reading, grayscale, face detection, cropping.

Faces are found with scikit-image's LBP frontal-face cascade
(``skimage.feature.Cascade`` on ``skimage.data.lbp_frontal_face_cascade_filename()``),
then each box is widened by a small margin, cut out of the grayscale photo and resized
to 48x48, the size of FER2013's faces. Boxes are (x, y, width, height) in pixels of the
original photo: x is the column of the left edge, y the row of the top edge.
"""
import os

import numpy as np

from fercnn.data.fer2013 import SIDE

MARGIN = 0.1  # each side of a detected box is widened by this fraction of its size
_detector = None


def read_image(path):
    """The image at ``path`` as an array: (H, W) for grayscale, (H, W, 3) or (H, W, 4) for colour,
    upright: turned as its EXIF orientation tag says (a phone's photo is stored sideways
    with a tag), so boxes found in it are in the pixels a viewer shows.

    Anything Pillow cannot decode raises one ValueError naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file" if not os.path.exists(path) else f"{path}: not a file")
    return _decode(path, path, None)


def decode_image(data, *, name="image", max_pixels=None):
    """read_image for an image's bytes (an upload): the same array, or one ValueError that
    starts with ``name``. max_pixels: refuse, before decoding, an image whose header
    announces more pixels (width x height) than this; a small file can announce billions
    (a "decompression bomb"), and Pillow's own guard stops only those over 2 x 89 M."""
    import io

    if not data:
        raise ValueError(f"{name}: empty (no bytes)")
    return _decode(io.BytesIO(data), name, max_pixels)


def _decode(source, name, max_pixels):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(source) as original:
            width, height = original.size
            if max_pixels is not None and width * height > max_pixels:
                raise PixelLimit(f"{name}: the image is {width}x{height} = {width * height / 1e6:.1f} M pixels; "
                                 f"the limit is {max_pixels / 1e6:g} M")
            original.load()
            im = ImageOps.exif_transpose(original)
            if im.mode in ("I;16", "I;16B", "I", "F"):  # 16-bit or float grayscale: scale its range to 0..255
                a = np.asarray(im.convert("F"), dtype=np.float64)
                return a * (255.0 / max(1.0, float(a.max())))
            if im.mode in ("L", "1"):
                return np.asarray(im.convert("L"))
            return np.asarray(im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB"))
    except PixelLimit:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own guard, before max_pixels could be checked
        import re

        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)) / 1e6:.1f} M pixels" if found else "too many pixels"
        limit = f"{max_pixels / 1e6:g} M" if max_pixels is not None else f"{Image.MAX_IMAGE_PIXELS * 2 / 1e6:.0f} M"
        raise PixelLimit(f"{name}: the image is {size}; the limit is {limit} (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise ValueError(f"{name}: cannot read it as an image (not a format Pillow knows: JPEG, PNG, GIF, BMP, "
                         "TIFF, WebP, ...)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"{name}: cannot read it as an image ({type(e).__name__}: {e})") from None


class PixelLimit(ValueError):
    """An image refused by decode_image's max_pixels before it was decoded."""


def to_gray(image):
    """Grayscale float64 (H, W) in [0, 255] from (H, W), (H, W, 3) or (H, W, 4) arrays.

    uint8 images are taken as 0..255; float images as 0..1 when their maximum is at most
    1, else as 0..255. Colour uses ITU-R 601 luma weights, as Pillow's "L" mode does.
    """
    a = np.asarray(image)
    if a.dtype.kind not in "uif" or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ValueError(f"to_gray: expected an (H, W), (H, W, 3) or (H, W, 4) image of numbers, "
                         f"got shape {a.shape} dtype {a.dtype}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"to_gray: the image is empty, shape {a.shape}")
    a = a.astype(np.float64)
    if np.asarray(image).dtype.kind == "f" and a.size and a.max() <= 1.0:
        a = a * 255.0
    if a.ndim == 3:
        a = a[..., 0] if a.shape[2] == 1 else a[..., :3] @ np.array([0.299, 0.587, 0.114])
    return a


def detect_faces(gray, *, min_face=48, scale_factor=1.15, min_neighbors=9, max_face=None):
    """Boxes (x, y, width, height) of the frontal faces in a grayscale (H, W) image, largest first.

    min_face: the smallest face side searched, in pixels (max_face: the largest, default the
    image). scale_factor: the step between
    the window sizes tried. min_neighbors: how many overlapping detections a face needs
    (more: fewer false faces, more missed ones). The defaults were chosen on
    scikit-image's sample photos: with them the astronaut's face is found exactly once at
    every size from 256 to 800 pixels, saved as PNG or as JPEG, and no face is found in
    thirteen photos without one; 8 to 10 neighbours all do that at this scale step, and 9
    is the middle. A box whose centre lies inside a larger box is the same face found at
    another scale, and is dropped.
    """
    global _detector
    if isinstance(min_face, bool) or not isinstance(min_face, (int, np.integer)) or min_face < 24:
        raise ValueError(f"detect_faces: min_face must be an integer >= 24 pixels (the cascade's window), got {min_face!r}")
    H, W = gray.shape
    if min(H, W) < min_face:
        return []
    if _detector is None:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        _detector = Cascade(lbp_frontal_face_cascade_filename())
    found = _detector.detect_multi_scale(img=np.ascontiguousarray(gray / 255.0), scale_factor=scale_factor,
                                         step_ratio=1, min_size=(min_face, min_face),
                                         max_size=(H, W) if max_face is None else (min(H, max_face), min(W, max_face)),
                                         min_neighbor_number=min_neighbors)
    boxes = [(int(d["c"]), int(d["r"]), int(d["width"]), int(d["height"])) for d in found]
    return merge_nested(boxes)


def merge_nested(boxes):
    """Boxes largest first, without those whose centre lies inside a larger kept box."""
    kept = []
    for x, y, w, h in sorted(boxes, key=lambda b: -b[2] * b[3]):
        cx, cy = x + w / 2, y + h / 2
        if not any(kx <= cx <= kx + kw and ky <= cy <= ky + kh for kx, ky, kw, kh in kept):
            kept.append((x, y, w, h))
    return kept


def crop_face(gray, box, *, margin=MARGIN, side=SIDE):
    """The face in ``box`` (widened by ``margin`` on each side, clipped to the image) as
    uint8 (side, side)."""
    from skimage.transform import resize

    x, y, w, h = box
    H, W = gray.shape
    dx, dy = int(round(w * margin)), int(round(h * margin))
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(W, x + w + dx), min(H, y + h + dy)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"crop_face: box {tuple(box)} lies outside the {W}x{H} image")
    crop = resize(gray[y0:y1, x0:x1], (side, side), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(crop), 0, 255).astype(np.uint8)


def whole_image_face(gray, *, side=SIDE):
    """The whole image as one face: (box covering it, uint8 (side, side) crop)."""
    H, W = gray.shape
    return (0, 0, W, H), crop_face(gray, (0, 0, W, H), margin=0.0, side=side)


def detect_faces_near(gray, hints, *, min_face=48):
    """detect_faces, searching only around ``hints`` (boxes where faces were a moment ago, e.g.
    in a video's previous frame): for each, a window of twice its size centred on it, at face
    sizes from 0.65x to 1.5x its own. A few small searches instead of one over the whole
    image at every scale: a 400x300 webcam frame took 51 ms searched whole and 3-4 ms around
    one face (2-core AMD EPYC). Faces away from every hint are not found: search the whole
    image now and then. Boxes are in ``gray``'s pixels, largest first."""
    H, W = gray.shape
    found = []
    for x, y, w, h in hints:
        side = max(w, h)
        x0, y0 = max(0, int(x + w / 2 - side)), max(0, int(y + h / 2 - side))
        x1, y1 = min(W, int(x + w / 2 + side)), min(H, int(y + h / 2 + side))
        smallest = max(24, min_face, int(0.65 * side))
        if x1 - x0 < smallest or y1 - y0 < smallest:
            continue
        window = gray[y0:y1, x0:x1]
        for bx, by, bw, bh in detect_faces(window, min_face=smallest, max_face=int(1.5 * side) + 1):
            found.append((bx + x0, by + y0, bw, bh))
    return merge_nested(found)


def find_faces(image, *, detect=True, min_face=48, near=None):
    """(boxes, uint8 (F, 48, 48) crops) of the faces in ``image`` (any (H, W[, 3|4]) array),
    largest first; detect=False takes the whole image as one face; near: boxes to search
    around only (detect_faces_near), the whole image when nothing is found there."""
    gray = to_gray(image)
    if not detect:
        box, crop = whole_image_face(gray)
        return [box], crop[None]
    boxes = detect_faces_near(gray, near, min_face=min_face) if near else []
    if not boxes:
        boxes = detect_faces(gray, min_face=min_face)
    crops = np.stack([crop_face(gray, b) for b in boxes]) if boxes else np.zeros((0, SIDE, SIDE), np.uint8)
    return boxes, crops
