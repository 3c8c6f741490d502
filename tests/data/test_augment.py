"""fercnn.data.augment: the batched warp against exact transforms, erasing, the draws."""
import numpy as np
import pytest

from fercnn.data.augment import Augmentation, erase, warp


def _images(rng, N=5, C=1, H=12, W=12, dtype=np.float32):
    return rng.standard_normal((N, C, H, W)).astype(dtype)


def _none(N):
    return np.zeros(N, bool), np.zeros(N), np.ones(N), np.zeros((N, 2), int)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_identity_returns_the_images_exactly(rng, dtype):
    X = _images(rng, C=2, dtype=dtype)
    out = warp(X, *_none(len(X)))
    assert out.dtype == dtype and out is not X
    np.testing.assert_array_equal(out, X)


def test_flip_is_the_mirror_image(rng):
    X = _images(rng)
    flip, angle, zoom, shift = _none(len(X))
    flip[[0, 3]] = True
    out = warp(X, flip, angle, zoom, shift)
    np.testing.assert_array_equal(out[[0, 3]], X[[0, 3], :, :, ::-1])
    np.testing.assert_array_equal(out[[1, 2, 4]], X[[1, 2, 4]])


def test_a_whole_pixel_shift_moves_the_image_and_fills_with_zero(rng):
    X = _images(rng, N=2)
    flip, angle, zoom, shift = _none(2)
    shift[0] = (2, -3)  # down 2 rows, left 3 columns
    out = warp(X, flip, angle, zoom, shift)
    want = np.zeros_like(X[0])
    want[:, 2:, :-3] = X[0, :, :-2, 3:]
    np.testing.assert_array_equal(out[0], want)


def test_a_quarter_turn_of_a_square_image_is_rot90(rng):
    X = _images(rng, N=1, H=10, W=10)
    flip, angle, zoom, shift = _none(1)
    angle[0] = np.pi / 2
    out = warp(X, flip, angle, zoom, shift)
    # a positive angle turns the image clockwise as shown (rows down): np.rot90 with k=-1
    np.testing.assert_allclose(out[0, 0], np.rot90(X[0, 0], k=-1), atol=1e-5)


def test_zoom_about_the_centre_keeps_a_constant_image_constant_inside():
    X = np.ones((1, 1, 16, 16), np.float32)
    flip, angle, zoom, shift = _none(1)
    zoom[0] = 1.3
    out = warp(X, flip, angle, zoom, shift)
    np.testing.assert_allclose(out, 1.0, atol=1e-6)  # zooming in reads only inside the image
    zoom[0] = 0.7
    out = warp(X, flip, angle, zoom, shift)
    assert out[0, 0, 8, 8] == pytest.approx(1.0) and out[0, 0, 0, 0] == 0  # zooming out brings in the border


def test_erase_sets_its_rectangle_to_zero_only():
    X = np.ones((2, 1, 10, 10))
    erase(X, np.array([True, False]), np.array([[0.2, 0.3, 0.5, 0.2], [0, 0, 1, 1]]))
    assert X[1].min() == 1
    assert (X[0, 0, 2:7, 3:5] == 0).all() and X[0].sum() == 100 - 10


def test_the_draws_follow_the_generator_and_only_what_is_on_draws():
    aug = Augmentation(flip=True, shift=3, rotate=10, scale=0.1, erase=0.5)
    X = _images(np.random.default_rng(0), N=64)
    a, b = aug(X, np.random.default_rng(7)), aug(X, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, aug(X, np.random.default_rng(8)))
    d = aug.draw(np.random.default_rng(1), 1000)
    assert 0.4 < d["flip"].mean() < 0.6 and 0.4 < d["erase"].mean() < 0.6
    assert np.abs(np.rad2deg(d["angle"])).max() <= 10 and np.abs(d["shift"]).max() == 3
    assert 0.9 <= d["zoom"].min() and d["zoom"].max() <= 1.1
    rng = np.random.default_rng(3)
    Augmentation()(X, rng)  # everything off draws nothing
    assert rng.bit_generator.state == np.random.default_rng(3).bit_generator.state
    assert not Augmentation() and Augmentation(shift=1)


@pytest.mark.parametrize("kw,message", [
    ({"shift": -1}, r"shift must be a whole number of pixels in \[0, 24\], got -1"),
    ({"shift": 1.5}, "shift must be a whole number"),
    ({"rotate": 200}, r"rotate must be degrees in \[0, 180\], got 200"),
    ({"scale": 1.0}, r"scale must be a fraction in \[0, 0.9\]"),
    ({"erase": 2}, r"erase must be a probability in \[0, 1\], got 2"),
    ({"flip": 1}, "flip must be True or False"),
])
def test_bad_settings_are_refused_by_name(kw, message):
    with pytest.raises(ValueError, match=message):
        Augmentation(**kw)
    assert Augmentation.from_config(Augmentation(shift=2).config()).config() == Augmentation(shift=2).config()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_fast_warp_computes_what_the_readable_one_does(dtype):
    from fercnn.fast.augment import warp as fast_warp

    rng = np.random.default_rng(4)
    X = _images(rng, N=16, C=2, H=11, W=14, dtype=dtype)
    d = Augmentation(flip=True, shift=3, rotate=30, scale=0.2).draw(rng, 16)
    args = (d["flip"], d["angle"], d["zoom"], d["shift"])
    fast, readable = fast_warp(X, *args), warp(X, *args)
    assert fast.dtype == dtype
    np.testing.assert_allclose(fast, readable, rtol=1e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(fast_warp(X, *_none(16)), X)
    assert fast_warp(X[:0], *(a[:0] for a in args)).shape == (0, 2, 11, 14)
