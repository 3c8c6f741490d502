"""The frozen network's large arrays on huge pages (Linux), copied there once.

A pass of the deep network at one face reads about 30 MB of filters, about as much as the
last-level cache of the 2-core AMD EPYC measured here (32 MiB). On ordinary 4 KiB pages
those arrays are scattered over physical memory: thousands of TLB entries for one pass, and
an uneven share of the cache's sets, different in every process. On 2 MiB pages they are a
few contiguous blocks. In five processes on that machine (training paused, one thread) the
median pass went from 5.14 to 4.92 ms on average, all of it in the cost of reaching the
filters: the arithmetic is the same, and so are the results, bit for bit.

Linux backs memory with huge pages only in 2 MiB-aligned 2 MiB blocks, and, where
/sys/kernel/mm/transparent_hugepage/enabled is "madvise" (as here), only where asked
(MADV_HUGEPAGE); so ``resident`` maps its own private memory, aligned, and asks. With
"always" it gets them anyway, with "never" not at all (the copy is the same either way).
On systems without MADV_HUGEPAGE, or for arrays under MIN_BYTES, the array is kept as it is.
"""
import mmap

import numpy as np

HUGE_PAGE = 2 << 20
MIN_BYTES = 1 << 20  # smaller arrays would waste most of a huge page


def resident(a):
    """A copy of ``a`` (C-contiguous, same shape and dtype) on 2 MiB-aligned private memory
    advised for huge pages, or ``a`` itself where that is not possible or not worth it
    (under MIN_BYTES, an object array, or no MADV_HUGEPAGE on this system). The mapping
    lives as long as the copy (it is the copy's base) and is released with it. At most one
    huge page's worth is wasted, after the end of the array."""
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is None or a.nbytes < MIN_BYTES or a.dtype.hasobject or not hasattr(mmap, "MAP_PRIVATE"):
        return a  # (an array of Python objects holds pointers: it cannot be copied as bytes)
    size = -(-a.nbytes // HUGE_PAGE) * HUGE_PAGE
    buf = mmap.mmap(-1, size + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    offset = -np.frombuffer(buf, np.uint8, count=1).ctypes.data % HUGE_PAGE
    try:
        buf.madvise(advice, offset, size)
    except OSError:  # a kernel without transparent huge pages: the copy is still right
        pass
    out = np.frombuffer(buf, np.uint8, count=a.nbytes, offset=offset).view(a.dtype).reshape(a.shape)
    out[...] = a
    return out
