"""Photos to 48x48 face crops: reading, grayscale, face detection, cropping.

Faces are found with scikit-image's LBP frontal-face cascade
(``skimage.feature.Cascade`` on ``skimage.data.lbp_frontal_face_cascade_filename()``),
then each box is widened by a small margin, cut out of the grayscale photo and resized
to 48x48, the size of FER2013's faces. Boxes are (x, y, width, height) in pixels of the
original photo: x is the column of the left edge, y the row of the top edge.
"""
import os
import threading

import numpy as np

from fercnn import limits
from fercnn.data.fer2013 import SIDE

MARGIN = 0.1  # each side of a detected box is widened by this fraction of its size
_detector = None
_pillow_lock = threading.Lock()


def read_image(path, *, max_pixels=None):
    """The image at ``path`` as an array: (H, W) for grayscale, (H, W, 3) or (H, W, 4) for colour,
    upright: turned as its EXIF orientation tag says (a phone's photo is stored sideways
    with a tag), so boxes found in it are in the pixels a viewer shows.

    8-bit images are uint8; 16-bit grayscale ones uint16 (0..65535), 32-bit integer ones
    int32 and floating ones float32, as the file holds them: to_gray takes each as its
    dtype says. Its width and height are read from the file's header first, and an image
    of more than ``max_pixels`` pixels (default: fercnn.limits' "pixels", 50 M, or
    $FERCNN_MAX_PIXELS) is refused before it is decoded. Anything Pillow cannot decode, or
    an image over the limit, raises one ValueError naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file" if not os.path.exists(path) else f"{path}: not a file")
    return _decode(path, path, max_pixels)


def decode_image(data, *, name="image", max_pixels=None):
    """read_image for an image's bytes (an upload): the same array, or one ValueError that
    starts with ``name`` (a PixelLimit for an image over ``max_pixels``: a small file can
    announce billions of pixels, a "decompression bomb", and is refused before decoding)."""
    import io

    if not data:
        raise ValueError(f"{name}: empty (no bytes)")
    return _decode(io.BytesIO(data), name, max_pixels)


class PixelLimit(ValueError):
    """An image refused for its pixel count, read from its header before it was decoded."""


def _decode(source, name, max_pixels):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with _open_image(source) as original:  # reads the header only
            W, H = original.size
            try:
                limits.check("pixels", W * H, f"{name}: the image is {W}x{H} =", " pixels", value=max_pixels)
            except ValueError as e:
                raise PixelLimit(str(e)) from None
            original.load()
            im = ImageOps.exif_transpose(original)
            if im.mode.startswith("I;16"):  # 16-bit grayscale
                return np.asarray(im).astype(np.uint16)
            if im.mode in ("I", "F"):  # 32-bit integer or floating grayscale
                return np.asarray(im)
            if im.mode in ("L", "1"):
                return np.asarray(im.convert("L"))
            return np.asarray(im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB"))
    except PixelLimit:
        raise
    except UnidentifiedImageError:
        raise ValueError(f"{name}: cannot read it as an image (not a format Pillow knows: JPEG, PNG, GIF, BMP, "
                         "TIFF, WebP, ...)") from None
    except (Image.DecompressionBombError, OSError, SyntaxError) as e:
        raise ValueError(f"{name}: cannot read it as an image ({type(e).__name__}: {e})") from None
    except ValueError as e:
        if str(e).startswith(name):
            raise
        raise ValueError(f"{name}: cannot read it as an image ({type(e).__name__}: {e})") from None


def _open_image(source):
    """Image.open(source) (a path or a file object), Pillow's own pixel limit set aside:
    _decode holds the image to fercnn's (which a user can raise past Pillow's) with its size
    in the message. Pillow reads its limit at open, so it is set aside for that call only,
    under a lock."""
    from PIL import Image

    with _pillow_lock:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(source)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def to_gray(image):
    """Grayscale float64 (H, W) in [0, 255] from (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) arrays.

    Pixel values are taken by dtype:

    - unsigned integers span their dtype's range, black to white: uint8 0..255, uint16
      0..65535 (a 16-bit photo), uint32 0..2**32-1, uint64 likewise;
    - signed integers (int8 ... int64; np.array of Python ints makes int64) are taken as
      0..255, and refused when a value lies outside it;
    - floats are 0..1 when their maximum is at most 1, else 0..255.

    Any other dtype (bool, complex, strings), and an image with a NaN or infinite value,
    is refused with one ValueError. Colour uses ITU-R 601 luma weights, as Pillow's "L"
    mode does.
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ValueError(f"to_gray: expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {a.shape}")
    if a.dtype.kind not in "uif":
        raise ValueError(f"to_gray: expected an (H, W), (H, W, 3) or (H, W, 4) image of unsigned integers (uint8, "
                         f"uint16, ...), signed integers in 0..255 or floats, got dtype {a.dtype}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"to_gray: the image is empty, shape {a.shape}")
    kind = a.dtype.kind
    if kind == "i" and a.size and (a.min() < 0 or a.max() > 255):
        raise ValueError(f"to_gray: a signed integer image ({a.dtype}) is taken as 0..255, but its values span "
                         f"{a.min()}..{a.max()}; give uint8 (0..255), uint16 (0..65535) or floats (0..1)")
    if kind == "f":
        finite = np.isfinite(a)
        if not finite.all():
            raise ValueError(f"to_gray: the image has {a.size - np.count_nonzero(finite):,} NaN or infinite "
                             f"values (of {a.size:,}); every pixel must be a finite number")
    full = np.iinfo(a.dtype).max if kind == "u" and a.dtype.itemsize > 1 else None
    a = a.astype(np.float64)
    if full is not None:  # x * 255 / 65535 is exact for 16-bit values that are whole multiples of 257
        a *= 255.0
        a /= float(full)
    elif kind == "f" and a.size and a.max() <= 1.0:
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
