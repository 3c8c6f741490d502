"""fercnn: a from-scratch NumPy + Numba CNN library for facial expression recognition.

Importing the package loads no data, compiles no kernels and prints nothing; the Numba
kernels compile (or load from the on-disk cache) on their first call.
"""
__version__ = "0.1.0"
