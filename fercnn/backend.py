"""Array-module dispatch: numpy, or cupy where an input is a cupy array.

Only this module knows that cupy exists. Today three places ask it: the losses
(fercnn.layers.losses), which run on either module; the fast ReLU, which falls back to
the array's own module; and the fast ops' guard (fercnn/fast/_numpy_only.py), which
refuses non-numpy arrays by name, since the Numba kernels run on numpy arrays only. The
other ops are numpy code. An op that takes another array module calls
``get_array_module(x)`` and creates every array with the returned module (``xp``).
"""
import numpy as np


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a cupy array, else ``numpy``.

    cupy is looked up only when it is already imported by the caller, so importing
    fercnn never imports (or requires) cupy.
    """
    import sys

    cupy = sys.modules.get("cupy")
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np

