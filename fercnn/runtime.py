"""Process-level settings that make big-array training fast.

Idle threads. fercnn's layers alternate between three kinds of threads: its own workers
(convolutions, fercnn.fast._workers), OpenBLAS's (the matrix products of the FC layers and
filter transforms) and OpenMP's (Numba's prange kernels: batchnorm, the update rule). By
default the last two spin after each parallel call before they sleep (OpenBLAS for about
a tenth of a second), and on a 2-core machine the spinning threads take the cores from the
next layer's workers: a deep training step measured 1.09 s with them spinning and 0.73 s
without (AMD EPYC, 2 threads). ``quiet_idle_threads()``, called when fercnn is imported,
sets OPENBLAS_THREAD_TIMEOUT=4 and OMP_WAIT_POLICY=PASSIVE where the environment does not
set them, so idle threads sleep at once. The libraries read these when they load (OpenBLAS
with numpy, OpenMP when Numba's first parallel kernel runs), so it acts when fercnn is
imported before numpy; the fercnn command and the example scripts do that. Otherwise set
the two variables in the environment. FERCNN_QUIET_THREADS=0 turns it off.

A training step allocates and frees arrays of tens to hundreds of MB (activations, the
im2col matrix). glibc serves such sizes with fresh mmap'ed pages and returns them on free,
so every step pays a page fault per 4 KiB touched: on a 2-core machine that was over a
third of the time of the elementwise passes. ``reuse_freed_memory()`` raises glibc's mmap
and trim thresholds so freed blocks stay in the heap and are reused. It also limits glibc
to one malloc arena, so that threads which start allocating afterwards share the main
heap: by default glibc gives each new thread an arena of its own, of 64 MB heaps that it
unmaps as soon as they are empty, whatever the trim threshold, so the convolutions' worker
threads got fresh pages for their buffers in every call (788-4952 page faults per deep
step after warm-up in three scratch harnesses, AMD EPYC; none with one arena, and a lower
peak RSS). The limit only stops new arenas: a thread that allocated before the call keeps
its arena, and a later thread may be handed one of those. So call it before any thread but
the main one allocates (fercnn's convolution workers start at the first convolution), or
set MALLOC_ARENA_MAX=1 in the environment, which glibc reads at start-up.
"""
import ctypes
import ctypes.util
import os
import sys

THREAD_COUNTS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
IDLE_THREADS_SLEEP = {"OPENBLAS_THREAD_TIMEOUT": "4", "OMP_WAIT_POLICY": "PASSIVE"}
_idle_threads = None

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_applied = False


def quiet_idle_threads():
    """Set IDLE_THREADS_SLEEP in os.environ where it can still act (see the module's
    docstring); returns {variable: what happened} from the first call on:

    - "set": fercnn set it (the library it is for has not loaded yet);
    - "kept": the environment already set it, and fercnn left it;
    - "too late": the library had read its settings already (OPENBLAS_THREAD_TIMEOUT once
      numpy is loaded, OMP_WAIT_POLICY once Numba's parallel kernels have started), so
      fercnn left it unset;
    - "off": FERCNN_QUIET_THREADS=0 in the environment, fercnn touches nothing.

    It changes the environment of the whole process and of its children: a PyTorch loaded
    later in the same process also gets OMP_WAIT_POLICY=PASSIVE (its small elementwise ops
    measured 3-10x slower with it); FERCNN_QUIET_THREADS=0 keeps fercnn out of it."""
    global _idle_threads
    if _idle_threads is None:
        parallel = sys.modules.get("numba.np.ufunc.parallel")
        late = {"OPENBLAS_THREAD_TIMEOUT": "numpy" in sys.modules,
                "OMP_WAIT_POLICY": bool(getattr(parallel, "_is_initialized", False))}
        _idle_threads = {}
        for name, value in IDLE_THREADS_SLEEP.items():
            if os.environ.get("FERCNN_QUIET_THREADS") == "0":
                _idle_threads[name] = "off"
            elif name in os.environ:
                _idle_threads[name] = "kept"
            elif late[name]:
                _idle_threads[name] = "too late"
            else:
                os.environ[name] = value
                _idle_threads[name] = "set"
    return dict(_idle_threads)


def reuse_freed_memory(*, mmap_threshold=1 << 30):
    """Keep freed blocks below ``mmap_threshold`` bytes in the heap for reuse, and allow
    glibc one malloc arena (glibc only; see the module's docstring). It acts fully only
    when no thread but the main one has allocated yet: call it before the first
    convolution (the Solver calls it when training starts; the benchmarks first thing).

    Returns True when glibc accepted the three settings; False where the C library is not
    glibc (then nothing changes) or glibc refused one of them. True does not tell whether
    threads that allocated before the call share the heap: they keep their arenas.
    Safe to call more than once. The costs, for the whole process and every library in it,
    until it exits: freed memory is not handed back to the OS, and threads share one
    arena's lock.
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
    ok = (mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1 and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
          and mallopt(_M_ARENA_MAX, 1) == 1)
    _applied = ok
    return ok


def thread_count():
    """The threads fercnn's parallel work runs on: numba.get_num_threads(), which sets both
    the Numba kernels' threads and the convolution's worker threads (fercnn.fast._workers).
    Results are bit for bit the same only between runs with the same count (sums are split
    across threads), so checkpoints record it."""
    import numba

    return numba.get_num_threads()


def check_thread_settings(environ=None):
    """Refuse a thread count in the environment that is not a positive whole number
    (NUMBA_NUM_THREADS, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS): one
    ValueError naming the variable, before Numba is imported (Numba raises a traceback
    for 0 at import, and only warns, traceback and all, for text). OMP_NUM_THREADS may
    list one count per nesting level ("4,2")."""
    environ = os.environ if environ is None else environ
    for name in THREAD_COUNTS:
        text = environ.get(name)
        if text is None or text.strip() == "":
            continue
        parts = text.split(",") if name == "OMP_NUM_THREADS" else [text]
        if not all(p.strip().isdigit() and int(p) >= 1 for p in parts):
            raise ValueError(f"{name} must be a positive whole number of threads, got {text!r}; "
                             f"set it to 1 or more, or unset it to use every core")
