"""Array-module dispatch: every op takes numpy or cupy from its input.

Only this module knows that cupy exists. Ops call ``get_array_module(x)`` and use
the returned module (``xp``) for every array they create, so the same code runs on
the CPU with NumPy and, later, on a GPU with CuPy.
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

