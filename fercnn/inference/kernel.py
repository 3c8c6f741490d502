"""A compiled kernel for the Winograd filter products of a batch of one face, on request.

    from fercnn.inference import kernel
    kernel.enable()                   # compile now (seconds the first time, then Numba's disk cache)
    kernel.enable(background=True)    # compile on a thread; prediction runs NumPy's products till then

At a batch of one face a Winograd layer's filter product multiplies a few rows (the windows
of one image: 12 on a 6 x 6 map) by a large matrix of transformed filters (1536 x 512 on the
deep network's last conv layer). NumPy hands it to OpenBLAS, which copies ("packs") both
operands into blocks of its own layout in every call: for so few rows the copy of the
filters costs about as much as the arithmetic. The kernel here
(fercnn/inference/_product_kernel.py, written by tools/product_kernel_codegen.py) reads
filters packed once, in panels of NR columns, and keeps a 12 x 8 block of the product in
registers while it walks along K, so each filter is read once, in memory order.

It is used where it was measured faster (fits: products of at most 12 rows, the 12 x 12 and
6 x 6 layers' at a batch of one face; fercnn/inference/conv.py ``choose`` then prefers the
tiles whose products it takes) and only once enabled:
compiling it takes seconds on an empty Numba cache, and a first `fercnn predict photo.jpg`
compiles nothing (fercnn/inference/__init__.py). Long-lived processes enable it: `fercnn
serve` and video in the background at start; Python code calls ``enable()``. Its sums run
in another order than OpenBLAS's, so probabilities differ from NumPy's in the last digits
(about 1e-6 of the scores).

LLVM's SLP vectorizer, which Numba leaves off since a miscompilation (numba/numba#8705), is
what turns the kernel's written-out block into vector instructions; it is switched on for
this one compilation, under Numba's compiler lock. After compiling, the kernel must give
NumPy's products on random problems of every row count it takes, or it stays off, and
``status()`` says why.
"""
import threading
import time

import numpy as np

SIGNATURE = "(float32[:, :, ::1], float32[:, :, :, ::1], float32[:, :, ::1])"

_lock = threading.Lock()
_state = {"status": "off", "seconds": None, "reason": None}
_products = None
_thread = None


def _module():
    from fercnn.inference import _product_kernel

    return _product_kernel


def takes_rows(M):
    """Whether the kernel takes products of M rows: one block, at most MR rows. With more
    (two or three blocks) it was no faster than NumPy's product on the shapes of the shipped
    networks' 24 x 24 and 48 x 48 layers (0.88x to 1.19x), where with one it took a third
    off (docs/performance.md)."""
    from fercnn.inference._product_kernel import MR

    return 0 < M <= MR


def padded_rows(M):
    """The rows the kernel computes for a product of M rows: whole blocks of MR."""
    from fercnn.inference._product_kernel import MR

    return -(-M // MR) * MR


def fits(M, K, N, dtype):
    """Whether the kernel takes a product of (M, K) rows by (K, N) filters: takes_rows(M),
    float32, N a multiple of NR."""
    from fercnn.inference._product_kernel import NR

    return dtype == np.float32 and takes_rows(M) and N % NR == 0 and K > 0


def ready():
    """Whether the kernel is compiled, checked and on."""
    return _products is not None


def status():
    """{"status": "off" | "compiling" | "ready" | "failed", "seconds": compile (or cache load)
    seconds or None, "reason": why it failed or None}."""
    with _lock:
        return dict(_state)


def enable(*, background=False):
    """Compile (or load from Numba's cache) and check the kernel, then use it; on a daemon
    thread with background=True (prediction runs NumPy's products until it is ready),
    else waiting for it. A kernel that fails its check stays off: status() says why, and
    enable() without background raises RuntimeError saying so."""
    global _thread
    with _lock:
        if _state["status"] == "off":
            _state["status"] = "compiling"
            _thread = threading.Thread(target=_compile, name="fercnn-kernel", daemon=True)
            _thread.start()
        thread = _thread
    if background:
        return thread
    if thread is not None:
        thread.join()
    if _state["status"] == "failed":
        raise RuntimeError(f"inference kernel: off, {_state['reason']}")
    return None


def disable():
    """Stop using the kernel (NumPy's products again); enable() turns it back on at once."""
    global _products
    with _lock:
        if _state["status"] == "ready":
            _products, _state["status"] = None, "off"


def _compile():
    global _products
    start = time.perf_counter()
    try:
        products = _module().products
        if not products.signatures:
            from numba.core import config
            from numba.core.compiler_lock import global_compiler_lock

            with global_compiler_lock:  # no other compilation sees the switched setting
                before = config.SLP_VECTORIZE
                config.SLP_VECTORIZE = 1
                try:
                    products.compile(SIGNATURE)
                finally:
                    config.SLP_VECTORIZE = before
            products.disable_compile()  # no other signature, compiled without the vectorizer
        problem = _check(products)
    except Exception as e:  # noqa: BLE001  any failure leaves NumPy's products in use, and says so
        problem = f"{type(e).__name__}: {e}"
    with _lock:
        _state["seconds"] = time.perf_counter() - start
        if problem is None:
            _products = products
            _state["status"], _state["reason"] = "ready", None
        else:
            _state["status"], _state["reason"] = "failed", problem


def _check(products):
    """None if ``products`` gives NumPy's product on random problems (a full block of rows,
    partial ones, more than one block), else what differed."""
    from fercnn.inference._product_kernel import MR, NR

    rng = np.random.default_rng(0)
    for M in (1, MR - 3, MR, 2 * MR + 1):
        T, K, N = 2, 37, 3 * NR
        A = rng.standard_normal((T, M, K), dtype=np.float32)
        B = rng.standard_normal((T, K, N), dtype=np.float32)
        C = np.full((T, M, N), np.nan, np.float32)
        products(A, pack(B), C)
        want = np.matmul(A.astype(np.float64), B.astype(np.float64))
        err = float(np.abs(C - want).max()) if np.isfinite(C).all() else float("inf")
        if not err <= 1e-4:
            return f"its product of ({T}, {M}, {K}) by ({T}, {K}, {N}) is off by {err:.3g} from NumPy's"
    return None


def pack(B):
    """B: (T, K, N) float32, N a multiple of NR -> Bp: (T, N // NR, K, NR), the panels of NR
    columns the kernel reads, each contiguous along K."""
    from fercnn.inference._product_kernel import NR

    if not isinstance(B, np.ndarray) or B.ndim != 3 or B.dtype != np.float32 or B.shape[2] % NR:
        got = f"{B.shape} {B.dtype}" if isinstance(B, np.ndarray) else type(B).__name__
        raise ValueError(f"kernel.pack: expected float32 (T, K, N) with N a multiple of {NR}, got {got}")
    T, K, N = B.shape
    return np.ascontiguousarray(B.reshape(T, K, N // NR, NR).transpose(0, 2, 1, 3))


def product(A, Bp):
    """A: (T, M, K) float32 times the packed Bp: (T, N // NR, K, NR) -> C: (T, M, N)."""
    products = _products
    if products is None:
        raise RuntimeError("inference kernel: not enabled (kernel.enable())")
    T, P, K, NR = Bp.shape
    if A.dtype != np.float32 or A.ndim != 3 or A.shape[0] != T or A.shape[2] != K:
        raise ValueError(f"kernel.product: expected A float32 ({T}, M, {K}), got {A.shape} {A.dtype}")
    C = np.empty((T, A.shape[1], P * NR), np.float32)
    products(np.ascontiguousarray(A), Bp, C)
    return C
