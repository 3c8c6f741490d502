import numpy as np
import pytest

from fercnn.data.synthetic import make_synthetic_faces


def test_deterministic_for_a_seed():
    a = make_synthetic_faces(30, seed=4)
    b = make_synthetic_faces(30, seed=4)
    c = make_synthetic_faces(30, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_balanced_shapes_and_types():
    X, y = make_synthetic_faces(703, seed=0)
    assert X.shape == (703, 48, 48) and X.dtype == np.uint8 and y.dtype == np.int64
    counts = np.bincount(y, minlength=7)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 703


def test_faces_vary_within_a_class():
    X, y = make_synthetic_faces(70, seed=1)
    happy = X[y == 3].astype(float)
    assert np.mean(np.abs(happy[0] - happy[1])) > 10  # moved, lit and noised differently


def test_bad_n():
    with pytest.raises(ValueError, match=r"n must be a non-negative integer, got -1"):
        make_synthetic_faces(-1)
