"""Process-level settings that make big-array training fast.

A training step allocates and frees arrays of tens to hundreds of MB (activations, the
im2col matrix). glibc serves such sizes with fresh mmap'ed pages and returns them on free,
so every step pays a page fault per 4 KiB touched: on a 2-core machine that was over a
third of the time of the elementwise passes. ``reuse_freed_memory()`` raises glibc's mmap
and trim thresholds so freed blocks stay in the heap and are reused.
"""
import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_applied = False


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
