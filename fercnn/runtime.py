"""Process-level settings that make big-array training fast.

Idle threads. fercnn's layers alternate between three kinds of threads: its own workers
(convolutions, fercnn.fast._workers), OpenBLAS's (the matrix products of the FC layers and
filter transforms) and OpenMP's (Numba's prange kernels: batchnorm, the update rule). By
default the last two spin after each parallel call before they sleep (OpenBLAS for about
a tenth of a second), and on a 2-core machine the spinning threads take the cores from the
next layer's workers: a deep training step measured 1.09 s with them spinning and 0.73 s
without (AMD EPYC, 2 threads). ``quiet_idle_threads()``, called when fercnn is imported,
sets OPENBLAS_THREAD_TIMEOUT=4 and OMP_WAIT_POLICY=PASSIVE where the environment does not
set them, so idle threads sleep at once. The libraries read these when they load, so this
acts only when fercnn is imported before numpy (and before any Numba parallel kernel has
run); the fercnn command and the example scripts do that. Otherwise, set the two variables
in the environment.

A training step allocates and frees arrays of tens to hundreds of MB (activations, the
im2col matrix). glibc serves such sizes with fresh mmap'ed pages and returns them on free,
so every step pays a page fault per 4 KiB touched: on a 2-core machine that was over a
third of the time of the elementwise passes. ``reuse_freed_memory()`` raises glibc's mmap
and trim thresholds so freed blocks stay in the heap and are reused.
"""
import ctypes
import ctypes.util
import os
import sys

IDLE_THREADS_SLEEP = {"OPENBLAS_THREAD_TIMEOUT": "4", "OMP_WAIT_POLICY": "PASSIVE"}
_numpy_was_first = None

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_applied = False


def quiet_idle_threads():
    """Set IDLE_THREADS_SLEEP in os.environ where unset (see the module's docstring); returns
    True when it can act: numpy was not loaded before the first call. Safe to call again."""
    global _numpy_was_first
    if _numpy_was_first is None:
        _numpy_was_first = "numpy" in sys.modules
        for name, value in IDLE_THREADS_SLEEP.items():
            os.environ.setdefault(name, value)
    return not _numpy_was_first


def reuse_freed_memory(*, mmap_threshold=1 << 30):
    """Keep freed blocks below ``mmap_threshold`` bytes in the heap for reuse (glibc only).

    Returns True when the setting took effect, False where the C library is not glibc
    (then nothing changes). Safe to call more than once. The cost: memory freed by the
    process is not handed back to the OS until it exits.
    """
    global _applied
    if _applied:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1 and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    _applied = ok
    return ok


def thread_count():
    """The threads fercnn's parallel work runs on: numba.get_num_threads(), which sets both
    the Numba kernels' threads and the convolution's worker threads (fercnn.fast._workers).
    Results are bit for bit the same only between runs with the same count (sums are split
    across threads), so checkpoints record it."""
    import numba

    return numba.get_num_threads()
