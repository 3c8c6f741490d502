"""fercnn: a from-scratch NumPy + Numba CNN library for facial expression recognition.

Importing the package loads no data, compiles no kernels and prints nothing; the Numba
kernels compile (or load from the on-disk cache) on their first call.
"""
__version__ = "0.1.0"


def detect_emotions(image, model=None, **options):
    """The faces in an image and their expression probabilities: see fercnn.predict.detect_emotions."""
    from fercnn.predict import detect_emotions as run

    return run(image, model, **options)
