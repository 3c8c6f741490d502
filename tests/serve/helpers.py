"""Files the server tests send: photos with and without faces, broken ones, a decompression bomb."""
import io

import numpy as np
from PIL import Image
from skimage import data

# a PNG of 20,000 x 20,000 black pixels: 0.4 MB on disk, 400 M pixels (1.2 GB as RGB) if decoded
BOMB_SIDE = 20000


def jpeg(array, quality=90):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _resized(array, size):
    return np.asarray(Image.fromarray(array).resize(size))


def sample_files():
    """{name: bytes} of the valid photos: two with a face, two without (small, so that a load
    test of hundreds of them stays short)."""
    astronaut = data.astronaut()
    return {"astronaut.jpg": jpeg(_resized(astronaut, (320, 320))), "astronaut_256.png": png(_resized(astronaut, (256, 256))),
            "coffee.jpg": jpeg(_resized(data.coffee(), (300, 200))), "blank.png": png(np.full((120, 160), 200, np.uint8))}


def bomb():
    buffer = io.BytesIO()
    Image.new("1", (BOMB_SIDE, BOMB_SIDE)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
