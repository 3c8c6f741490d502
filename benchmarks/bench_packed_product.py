"""An avenue measured, not taken: the frozen network's filter products in a Numba kernel.

    python benchmarks/bench_packed_product.py                 # both shipped networks, about a minute
    python benchmarks/bench_packed_product.py --models deep

At a batch of one face, each Winograd product of fercnn.inference multiplies a few rows
(the windows of one image: 9 to 36) by a large matrix of transformed filters, and OpenBLAS
copies ("packs") that matrix into its own layout in every call. This script builds the
alternative: the filters packed once, in panels of NR columns, and a Numba kernel that keeps
an MR x NR block of the product in registers while it walks along K. Its body is one
straight-line block of MR * NR multiply-adds written out by _block_source; only LLVM's SLP
vectorizer turns those into AVX instructions, and Numba leaves that pass off by default
(numba/numba#8705: a miscompilation), so the kernel is compiled with it switched on under
Numba's compiler lock.

It prints, on one thread, each filter product of each network's batch-1 pass, NumPy's
matmul beside the kernel's (same inputs, medians); then the whole pass both ways,
alternating in one process; and the kernel's compile time. fercnn.inference compiles no
Numba kernel, so that a first `fercnn predict` is as quick as the second; this kernel would
cost its compile time there, once per install (Numba's cache keeps it). Nothing here is used
by the library: it is the record of what the avenue buys on the machine it runs on.
"""
import argparse
import time

import numpy as np

MR, NR = 4, 16  # rows x columns of the product held in registers: 8 AVX registers of 8 floats


def _block_source():
    """Python source of block(A, Bp, C, i0, p): C[i0:i0+MR, p*NR:(p+1)*NR] = A[i0:i0+MR] @ panel p,
    every multiply-add written out (rows past the end of A repeat its last row and are not stored)."""
    lines = ["def block(A, Bp, C, i0, p):",
             "    M, K = A.shape",
             "    Bf = Bp.reshape(-1)"]
    lines += [f"    r{i} = min(i0 + {i}, M - 1)" for i in range(MR)]
    lines += [f"    c{i}_{j} = np.float32(0)" for i in range(MR) for j in range(NR)]
    lines += ["    for k in range(K):",
              f"        base = (p * K + k) * {NR}"]
    lines += [f"        b{j} = Bf[base + {j}]" for j in range(NR)]
    for i in range(MR):
        lines.append(f"        a{i} = A[r{i}, k]")
        lines += [f"        c{i}_{j} += a{i} * b{j}" for j in range(NR)]
    for i in range(MR):
        lines.append(f"    if i0 + {i} < M:")
        lines += [f"        C[i0 + {i}, p * {NR} + {j}] = c{i}_{j}" for j in range(NR)]
    return "\n".join(lines)


def build(slp=True):
    """The kernel products(A, Bp, C) for A (T, M, K), Bp (T, N // NR, K, NR), C (T, M, N), all
    float32, compiled now (with or without the SLP vectorizer); and the seconds that took."""
    from numba import njit
    from numba.core import config
    from numba.core.compiler_lock import global_compiler_lock

    namespace = {"np": np}
    exec(_block_source(), namespace)
    block = njit(fastmath={"contract"}, inline="always")(namespace["block"])

    @njit(fastmath={"contract"}, nogil=True)
    def products(A, Bp, C):
        for t in range(A.shape[0]):
            for p in range(Bp.shape[1]):
                for i0 in range(0, A.shape[1], MR):
                    block(A[t], Bp[t], C[t], i0, p)

    with global_compiler_lock:  # no other compilation sees the switched setting
        before = config.SLP_VECTORIZE
        config.SLP_VECTORIZE = int(slp)
        try:
            start = time.perf_counter()
            products.compile("(float32[:, :, ::1], float32[:, :, :, ::1], float32[:, :, ::1])")
            seconds = time.perf_counter() - start
        finally:
            config.SLP_VECTORIZE = before
    return products, seconds


def pack(B):
    """B (T, K, N) -> (T, N // NR, K, NR): each panel of NR columns contiguous along K."""
    T, K, N = B.shape
    return np.ascontiguousarray(B.reshape(T, K, N // NR, NR).transpose(0, 2, 1, 3))


class PackedNumpy:
    """Stands in for numpy inside fercnn.inference.conv: np.matmul(A, U) with U one of the
    network's kept filter arrays runs the kernel (while ``on``) and is noted in ``seen``
    (while that is a list); everything else is numpy's."""

    def __init__(self, products, filters):
        self.products, self.on, self.seen = products, True, None
        self.packed = {id(U): pack(U) for U in filters if U.ndim == 3 and U.shape[2] % NR == 0}

    def matmul(self, A, B, *args, **kwargs):
        Bp = self.packed.get(id(B))
        if Bp is None or args or kwargs:
            return np.matmul(A, B, *args, **kwargs)
        A = np.ascontiguousarray(A)
        if self.seen is not None:
            self.seen.append((A, B))
        if not self.on:
            return np.matmul(A, B)
        C = np.empty((A.shape[0], A.shape[1], B.shape[2]), np.float32)
        self.products(A, Bp, C)
        return C

    def __getattr__(self, name):
        return getattr(np, name)


def median_ms(f, calls):
    for _ in range(3):
        f()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["deep", "vgg"])
    p.add_argument("--calls", type=int, default=150, help="timed whole passes per variant")
    args = p.parse_args()

    from threadpoolctl import threadpool_limits

    import fercnn.inference.conv as conv
    from fercnn.inference import predictor_for
    from fercnn.models import pretrained

    threadpool_limits(1, user_api="blas")  # as fercnn.inference runs a batch of one
    products, seconds = build(slp=True)
    _, seconds_plain = build(slp=False)
    print(f"kernel compile: {seconds:.2f} s with the SLP vectorizer ({seconds_plain:.2f} s without), MR x NR = {MR} x {NR}")
    rng = np.random.default_rng(0)
    for name in args.models:
        model = pretrained(name)
        X = model.prepare(rng.integers(0, 256, (1, 48, 48), dtype=np.uint8))
        predictor = predictor_for(model)
        predictor.scores(X)  # makes every layer's transformed filters
        packed = PackedNumpy(products, [U for s in predictor.steps if s != "flatten" for U in getattr(s, "U", {}).values()])
        packed.on, packed.seen = False, []
        conv.np = packed
        try:
            predictor.scores(X)  # notes each filter product of one pass
        finally:
            conv.np = np
        print(f"\n{name}, batch 1, one thread: each filter product (T products of M x K by K x N), ms")
        for A, U in packed.seen:
            C = np.empty((A.shape[0], A.shape[1], U.shape[2]), np.float32)
            ms_numpy = median_ms(lambda: np.matmul(A, U), 200)
            ms_kernel = median_ms(lambda: products(A, packed.packed[id(U)], C), 200)
            err = float(np.abs(C - np.matmul(A, U)).max() / max(1e-30, np.abs(C).max()))
            flops = 2 * A.shape[0] * A.shape[1] * A.shape[2] * U.shape[2]
            print(f"  T {A.shape[0]:>2} M {A.shape[1]:>3} K {A.shape[2]:>4} N {U.shape[2]:>3}: numpy {ms_numpy:6.3f}"
                  f"  kernel {ms_kernel:6.3f} ({flops / ms_kernel / 1e6:4.0f} GFLOP/s)  largest difference {err:.1e}")
        packed.seen = None
        times = {"numpy": [], "kernel": []}
        scores = {}
        conv.np = packed
        try:
            for _ in range(args.calls // 3):  # alternating, three passes at a time
                for variant in times:
                    packed.on = variant == "kernel"
                    for _ in range(3):
                        t = time.perf_counter()
                        scores[variant] = predictor.scores(X)
                        times[variant].append(time.perf_counter() - t)
        finally:
            conv.np = np
        a, b = (1e3 * float(np.median(times[v])) for v in ("numpy", "kernel"))
        diff = float(np.abs(scores["numpy"] - scores["kernel"]).max())
        print(f"  whole pass: numpy {a:.2f} ms, kernel {b:.2f} ms ({a / b:.2f}x); largest score difference {diff:.1e}")


if __name__ == "__main__":
    main()
