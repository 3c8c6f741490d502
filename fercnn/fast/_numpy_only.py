"""The Numba kernels run on numpy arrays; other array modules get a clear error."""
import numpy as np

from fercnn.backend import get_array_module


def require_numpy(op, *arrays):
    """Raise a ValueError naming ``op`` if any array is not a numpy array."""
    for a in arrays:
        if get_array_module(a) is not np:
            raise ValueError(f"{op}: the Numba kernels run on numpy arrays, got {type(a).__module__}.{type(a).__name__}")
