"""fercnn: a from-scratch NumPy + Numba CNN library for facial expression recognition.

Importing the package loads no data, compiles no kernels and prints nothing; the Numba
kernels compile (or load from the on-disk cache) on their first call. It does set two
environment variables, where unset, so that idle OpenBLAS and OpenMP threads sleep instead
of spinning (fercnn.runtime.quiet_idle_threads: it acts when fercnn is imported before
numpy).
"""
from fercnn.runtime import quiet_idle_threads as _quiet_idle_threads

_quiet_idle_threads()

__version__ = "0.1.0"


def detect_emotions(image, model=None, **options):
    """The faces in an image and their expression probabilities: see fercnn.predict.detect_emotions."""
    # imported on the first call, not at the top: `import fercnn` stays light (no Numba, no
    # scikit-image); fercnn.predict does not import this module, so there is no circle to avoid
    from fercnn.predict import detect_emotions as run

    return run(image, model, **options)
