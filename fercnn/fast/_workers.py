"""Split a layer's work into blocks of images and run them on worker threads.

Why threads and not one big parallel kernel: a convolution alternates copying (im2col)
with matrix products. Done for the whole batch at once, the copy writes hundreds of MB
that the product then reads back from memory; and a Numba parallel kernel followed by a
multi-threaded BLAS call makes the two thread pools wait on each other's spinning
threads. Here each worker thread takes its own blocks of a few images, converts a block
with a serial nogil kernel and multiplies it with a single-threaded BLAS call, so the
buffers stay in cache and the two cores never contend. BLAS is held at one thread only
while the workers run (threadpoolctl), then restored.

The number of workers is numba.get_num_threads() (NUMBA_NUM_THREADS, or
numba.set_num_threads), the same knob as the library's parallel Numba kernels.
"""
import math
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numba
import numpy as np

# A block holds enough images for at least this many output positions, so that each
# matrix product has enough columns to run near full speed on one core. 256 was the best
# of 64 ... 4608 for the paper's layers on a 2-core Xeon (conv fwd + bwd at batch 128).
MIN_BLOCK_COLUMNS = 256

_lock = threading.Lock()
_pool = None
_pool_size = 0
_controller = None


def plan_blocks(n_images, positions_per_image, n_workers, min_columns=None):
    """Split images 0..n_images-1 into blocks of consecutive images: a list of (n0, n1).

    A block has ceil(min_columns / positions_per_image) images (min_columns: by default
    MIN_BLOCK_COLUMNS, read at each call), but never so many that some worker would be left
    without a block.
    """
    if min_columns is None:
        min_columns = MIN_BLOCK_COLUMNS
    size = max(1, math.ceil(min_columns / max(1, positions_per_image)))
    size = min(size, max(1, math.ceil(n_images / max(1, n_workers))))
    return [(n0, min(n_images, n0 + size)) for n0 in range(0, n_images, size)]


def _blas_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def map_blocks(work, n_images, positions_per_image, *, min_columns=None, scratch=None):
    """Call work(blocks) once per worker thread, each with its share of the blocks.

    work: a function of a list of (n0, n1) blocks that returns anything; the results come
    back as a list, one per worker that had blocks. With one worker, work runs in the
    calling thread and BLAS keeps its own thread count.
    scratch: None, or a function of a share of blocks that returns the buffers its work
    needs; map_blocks then calls it for every share in the calling thread, before the
    workers start, and calls work(blocks, buffers). Buffers allocated by the calling thread
    come from its heap, which glibc keeps and reuses (fercnn.runtime.reuse_freed_memory);
    a worker thread's own large allocations can come from heaps that glibc unmaps when
    they empty, and then every call faults their pages in afresh.
    """
    global _pool, _pool_size
    n_workers = numba.get_num_threads()
    blocks = plan_blocks(n_images, positions_per_image, n_workers, min_columns)
    shares = [blocks[t::n_workers] for t in range(min(n_workers, len(blocks)))]
    args = [(share,) if scratch is None else (share, scratch(share)) for share in shares]
    if len(shares) <= 1:
        return [work(*args[0])]
    with _lock:  # one layer at a time owns the workers and the BLAS thread setting
        if _pool_size < len(shares):
            _pool = ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="fercnn")
            _pool_size = len(shares)
        err = np.geterr()  # numpy's error settings are per thread: the workers take the caller's

        def in_caller_errstate(*a):
            with np.errstate(**err):
                return work(*a)

        with _blas_controller().limit(limits=1, user_api="blas"):
            futures = [_pool.submit(in_caller_errstate, *a) for a in args]
            wait(futures)  # all of them, so that BLAS is restored only when no worker runs
        return [f.result() for f in futures]
