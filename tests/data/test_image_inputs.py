"""Images are taken as their dtype means, or refused: integer widths scaled by their range,
signed integers only in 0..255, NaN refused; an image's pixels are held to a limit before
it is decoded."""
import re
import warnings

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from fercnn import detect_emotions
from fercnn.data.faces import read_image, to_gray
from fercnn.models import ConvNet


def _model():
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 8}],
                    input_shape=(1, 48, 48), num_classes=7, seed=0)
    model.mean_image = np.full((1, 48, 48), 100, np.float32)
    return model


def test_a_16_bit_photo_gives_the_answer_of_its_8_bit_self():
    photo = skdata.astronaut()
    wide = photo.astype(np.uint16) * 257  # 0..255 -> 0..65535
    np.testing.assert_array_equal(to_gray(wide), to_gray(photo))
    model = _model()
    faces = detect_emotions(photo, model=model)
    assert len(faces) == 1 and detect_emotions(wide, model=model) == faces
    for dtype in (np.uint32, np.uint64):  # every unsigned width spans its dtype's range
        full = np.iinfo(dtype).max
        np.testing.assert_allclose(to_gray(np.array([[0, full]], dtype)), [[0.0, 255.0]])
    # signed integers in 0..255 (np.array of Python ints is int64) are taken as 0..255
    assert detect_emotions(photo.astype(np.int64), model=model) == faces
    np.testing.assert_array_equal(to_gray(photo.astype(np.int16)), to_gray(photo))


@pytest.mark.parametrize("image,message", [
    (skdata.astronaut().astype(np.int8), r"to_gray: a signed integer image \(int8\) is taken as 0..255, but its "
                                         r"values span -128..127; give uint8 \(0..255\), uint16 \(0..65535\) or "
                                         r"floats \(0..1\)"),
    (np.full((60, 60), 300, np.int32), r"signed integer image \(int32\) is taken as 0..255, but its values span 300..300"),
    (np.zeros((60, 60), bool), r"to_gray: expected an \(H, W\), \(H, W, 3\) or \(H, W, 4\) image of unsigned "
                               r"integers \(uint8, uint16, ...\), signed integers in 0..255 or floats, got dtype bool"),
    (np.zeros((60, 60), np.complex64), r"signed integers in 0..255 or floats, got dtype complex64"),
])
def test_images_whose_values_cannot_be_taken_as_meant_are_refused(image, message):
    with pytest.raises(ValueError, match=message):
        detect_emotions(image, model=_model())


def test_an_image_with_nan_or_infinite_pixels_is_refused():
    photo = skdata.astronaut() / 255.0
    photo[:, 10] = np.nan  # one column
    with pytest.raises(ValueError, match=r"^to_gray: the image has 1,536 NaN or infinite values \(of 786,432\); "
                                         r"every pixel must be a finite number$"):
        detect_emotions(photo, model=_model())
    flat = np.full((60, 60), 0.5, np.float32)
    flat[3, 3] = np.inf
    with pytest.raises(ValueError, match=r"the image has 1 NaN or infinite values"):
        detect_emotions(flat, model=_model(), detect=False)


def test_read_image_gives_16_bit_files_as_uint16(tmp_path):
    wide = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "g16.png")
    got = read_image(tmp_path / "g16.png")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, wide)
    np.testing.assert_allclose(to_gray(got), wide * 255.0 / 65535.0)  # not stretched to its own maximum


def _huge_png(path, side=13000):
    """A 13000x13000 grayscale PNG: 169 M pixels in a file of about half a megabyte."""
    Image.new("L", (side, side), 128).save(path, optimize=False, compress_level=9)
    return path


def test_an_image_over_the_pixel_limit_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    path = _huge_png(tmp_path / "huge.png")
    decoded = []
    from PIL import ImageFile
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self) or real_load(self))
    message = (f"{path}: the image is 13000x13000 = 169,000,000 pixels; the limit is 50,000,000 "
               "(raise it with --max-pixels or FERCNN_MAX_PIXELS)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not Pillow's DecompressionBombWarning either
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            read_image(path)
    assert decoded == []
    with pytest.raises(ValueError, match=r"the image is 13000x13000 = 169,000,000 pixels; the limit is 1,000,000 "):
        read_image(path, max_pixels=1_000_000)
    monkeypatch.setenv("FERCNN_MAX_PIXELS", "168999999")
    with pytest.raises(ValueError, match=r"the limit is 168,999,999 "):
        read_image(path)


def test_the_pixel_limit_can_be_raised_past_pillows_own(tmp_path):
    Image.new("L", (200, 100), 7).save(tmp_path / "small.png")
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = 1000  # Pillow's bomb check would refuse it; fercnn's limit decides
        assert read_image(tmp_path / "small.png", max_pixels=20_000).shape == (100, 200)
        assert Image.MAX_IMAGE_PIXELS == 1000
        with pytest.raises(ValueError, match=r"the image is 200x100 = 20,000 pixels; the limit is 19,999 "):
            read_image(tmp_path / "small.png", max_pixels=19_999)
    finally:
        Image.MAX_IMAGE_PIXELS = old
