"""Compiled kernels for the conv layers of a face or a few, on request.

    from fercnn.inference import kernel
    kernel.enable()                   # compile now (seconds the first time, then Numba's disk cache)
    kernel.enable(background=True)    # on a thread; prediction runs the NumPy layers till then

At a batch of one face a Winograd layer's filter product multiplies a few rows (the windows
of one image: 12 on a 6 x 6 map) by a large matrix of transformed filters (1536 x 512 on the
deep network's last conv layer). NumPy hands it to OpenBLAS, which copies ("packs") both
operands into blocks of its own layout in every call: for so few rows the copy of the
filters costs about as much as the arithmetic. And the NumPy layer makes each of its
arrays (the windows, their transforms, the products, the output tiles) for the whole map
at once: a few MB on the larger maps, which the previous pass's filters have pushed out of
the cache. Two kernels:

- ``product``: the filter product (fercnn/inference/_product_kernel.py, written by
  tools/product_kernel_codegen.py), filters packed once in panels of NR columns, a 12 x 8
  block of the product in registers, each filter read once, in memory order. Used where a
  product has at most 12 rows (``fits``): the 6 x 6 layers' F(3, 3) along the rows.
- ``banded_conv``: a whole square-tile Winograd layer (fercnn/inference/_banded_kernel.py),
  transforms, products and pool, a band of at most 12 windows at a time through small
  arrays that stay in cache (``takes_banded``): every other Winograd layer at a face or a
  few. fercnn/inference/conv.py ``choose`` then also takes tiles that give a 12 x 12 map
  only 9 windows (one band: F(4x4, 3x3)).

They are used only once enabled: compiling them takes seconds on an empty Numba cache, and
a first `fercnn predict photo.jpg` compiles nothing (fercnn/inference/__init__.py).
`fercnn serve` enables them before it serves; Python code calls ``enable()``. Their sums
run in another order than NumPy's, and a 12 x 12 map takes another tile with them (whose
float32 error is larger: docs/performance.md), so probabilities differ from the NumPy
layers' in the last digits (scores by up to about 3e-5 on the shipped networks).

LLVM's SLP vectorizer, which Numba leaves off since a miscompilation (numba/numba#8705), is
what turns the product's written-out block into vector instructions; it is switched on for
these compilations, under Numba's compiler lock. After compiling, each kernel must give the
NumPy layers' numbers on random problems, or both stay off and ``status()`` says why.
"""
import threading
import time

import numpy as np

SIGNATURE = "(float32[:, :, ::1], float32[:, :, :, ::1], float32[:, :, ::1])"

_lock = threading.Lock()
_state = {"status": "off", "seconds": None, "reason": None}
_compiled = None  # (products, banded) once compiled and checked: kept, so disable() is a switch
_wanted = False  # enable() asked for them and disable() has not since
_thread = None


def takes_rows(M):
    """Whether the product kernel takes products of M rows: one block, at most MR rows. With
    more (2 to 12 blocks) it was no faster than NumPy's product on the shapes of the shipped
    networks' 24 x 24 and 48 x 48 layers (0.92x to 1.23x), where with one it took a quarter
    to 40% off (benchmarks/bench_kernel.py)."""
    from fercnn.inference._product_kernel import MR

    return 0 < M <= MR


def padded_rows(M):
    """The rows the kernel computes for a product of M rows: whole blocks of MR."""
    from fercnn.inference._product_kernel import MR

    return -(-M // MR) * MR


def fits(M, N, dtype):
    """Whether the kernel takes a product of M rows by N filters: takes_rows(M), float32, N a
    multiple of NR."""
    from fercnn.inference._product_kernel import NR

    return dtype == np.float32 and takes_rows(M) and N % NR == 0


def ready():
    """Whether the kernels are compiled, checked and on."""
    return _wanted and _compiled is not None


def status():
    """{"status": "off" | "compiling" | "ready" | "failed", "seconds": compile (or cache load)
    seconds or None, "reason": why it failed or None}."""
    with _lock:
        return dict(_state)


def enable(*, background=False):
    """Compile (or load from Numba's cache) and check the kernels, then use them; on a daemon
    thread with background=True (prediction runs the NumPy layers until they are ready),
    else waiting for them. Once compiled, enabling again is a switch. Kernels that fail their
    check stay off for the life of the process: status() says why, and enable() without
    background raises RuntimeError saying so."""
    global _thread, _wanted
    with _lock:
        _wanted = True
        if _compiled is not None:
            _state["status"] = "ready"
        elif _state["status"] == "off":
            _state["status"] = "compiling"
            _thread = threading.Thread(target=_compile, name="fercnn-kernel", daemon=True)
            try:
                _thread.start()
            except RuntimeError as e:  # no thread to be had: say so, NumPy's layers go on
                _state["status"], _state["reason"], _thread = "failed", f"cannot start a thread ({e})", None
        thread = _thread
    if background:
        return thread
    if thread is not None:
        thread.join()
    with _lock:
        if _state["status"] == "failed":
            raise RuntimeError(f"inference kernel: off, {_state['reason']}")
    return None


def disable():
    """Stop using the kernels (the NumPy layers again); enable() switches them back on at once.
    While they compile, they stay off when done."""
    global _wanted
    with _lock:
        _wanted = False
        if _state["status"] == "ready":
            _state["status"] = "off"


def _banded_signature():
    """banded's argument types: BT and AT as fercnn/inference/conv.py shares them, read-only."""
    from numba import types

    image, matrix = types.Array(types.float32, 4, "C"), types.Array(types.float32, 2, "C", readonly=True)
    return (image, image, matrix, matrix, types.int64, types.Array(types.float32, 1, "C"), types.boolean,
            types.boolean, image)


def _compile():
    global _compiled
    start = time.perf_counter()
    try:
        from fercnn.inference._banded_kernel import banded
        from fercnn.inference._product_kernel import products

        for kernel, signature in ((products, SIGNATURE), (banded, _banded_signature())):
            if kernel.signatures:  # compiled in this process already (through here: nothing else may)
                continue
            from numba.core import config
            from numba.core.compiler_lock import global_compiler_lock

            with global_compiler_lock:  # no other compilation sees the switched setting
                before = config.SLP_VECTORIZE
                config.SLP_VECTORIZE = 1
                try:
                    kernel.compile(signature)  # or read from Numba's disk cache
                finally:
                    config.SLP_VECTORIZE = before
            kernel.disable_compile()  # no other signature, compiled without the vectorizer
        problem = _check(products) or _check_banded(banded)
    except Exception as e:  # noqa: BLE001  any failure leaves the NumPy layers in use, and says so
        problem = f"{type(e).__name__}: {e}"
    with _lock:
        _state["seconds"] = time.perf_counter() - start
        if problem is None:
            _compiled = products, banded
            _state["status"], _state["reason"] = ("ready" if _wanted else "off"), None
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
        err = _off_by(C, np.matmul(A.astype(np.float64), B.astype(np.float64)))
        if not err <= 1e-4:
            return f"its product of ({T}, {M}, {K}) by ({T}, {K}, {N}) is off by {err:.3g} from NumPy's"
    return None


def _off_by(got, want):
    """The largest difference between got and want; inf where got holds a NaN or an infinity
    (an entry the kernel did not write stays NaN)."""
    return float(np.abs(got - want).max()) if np.isfinite(got).all() else float("inf")


def _check_banded(banded):
    """None if ``banded`` gives fercnn/inference/conv.py's NumPy layer (then + bias, ReLU) on
    random layers, pooled and not, several bands and a partial one, else what differed."""
    from fercnn.fast.winograd_transforms import VARIANTS
    from fercnn.inference import conv

    rng = np.random.default_rng(1)
    for variant, N, H, W, pool in (("f4x3", 1, 20, 18, True), ("f4x5", 2, 10, 9, False), ("f2x3", 1, 7, 12, False)):
        m, r = VARIANTS[variant]
        C, F = 5, 2 * 8
        x = rng.standard_normal((N, H, W, C), dtype=np.float32)
        U = conv.transform_filters(rng.standard_normal((F, C, r, r)), variant, np.float32)
        b = rng.standard_normal(F, dtype=np.float32)
        want = conv.winograd_conv_pooled(x, U, b, variant) if pool else conv.winograd_conv(x, U, b, variant)
        want = np.maximum(want, 0)
        got = np.full(want.shape, np.nan, np.float32)
        BT, AT = conv._matrices(variant, np.float32)
        banded(x, pack(U), BT, AT, m, b, pool, True, got)
        err = _off_by(got, want)
        if not err <= 1e-4 * max(1.0, float(np.abs(want).max())):
            return f"its {variant} layer on ({N}, {H}, {W}, {C}) is off by {err:.3g} from NumPy's"
    return None


def takes_banded(variant, N, H, W, F, dtype):
    """Whether banded_conv takes a layer: a square variant where one row of tiles of all N
    images fits the kernel's block of rows (a band), float32, F a multiple of NR."""
    from fercnn.fast.winograd_transforms import VARIANTS
    from fercnn.inference._product_kernel import MR, NR

    if variant not in VARIANTS or dtype != np.float32 or F % NR:
        return False
    return N * -(-W // VARIANTS[variant][0]) <= MR


def banded_conv(x, Bp, variant, bias, *, pool, relu):
    """The Winograd layer in bands (fercnn/inference/_banded_kernel.py): x (N, H, W, C) float32,
    Bp the transformed filters packed -> (N, H, W, F), or (N, H // 2, W // 2, F) pooled;
    + bias (F,), then ReLU where asked."""
    if _compiled is None:
        raise RuntimeError("inference kernel: not compiled (kernel.enable())")
    banded = _compiled[1]
    N, H, W, _ = x.shape
    F = Bp.shape[1] * Bp.shape[3]
    from fercnn.inference import conv

    BT, AT = conv._matrices(variant, np.float32)
    out = np.empty((N, H // 2, W // 2, F) if pool else (N, H, W, F), np.float32)
    banded(np.ascontiguousarray(x), Bp, BT, AT, AT.shape[0], np.ascontiguousarray(bias, np.float32), pool, relu, out)
    return out


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
    if _compiled is None:
        raise RuntimeError("inference kernel: not compiled (kernel.enable())")
    products = _compiled[0]
    T, P, K, NR = Bp.shape
    if A.dtype != np.float32 or A.ndim != 3 or A.shape[0] != T or A.shape[2] != K:
        raise ValueError(f"kernel.product: expected A float32 ({T}, M, {K}), got {A.shape} {A.dtype}")
    C = np.empty((T, A.shape[1], P * NR), np.float32)
    products(np.ascontiguousarray(A), Bp, C)
    return C
