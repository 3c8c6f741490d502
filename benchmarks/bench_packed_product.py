"""An avenue measured, not taken: the frozen network's Winograd filter products in a Numba kernel.

    python benchmarks/bench_packed_product.py                 # both shipped networks, about a minute
    python benchmarks/bench_packed_product.py --models deep

At a batch of one face, each Winograd filter product of fercnn.inference multiplies a few
rows (the windows of one image: 9 to 144) by a large matrix of transformed filters, and
OpenBLAS's matrix product copies ("packs") both operands into blocks of its own layout in
every call. This script builds the alternative: the filters packed once, in panels of NR
columns, and a Numba kernel that keeps an MR x NR block of the product in registers while it
walks along K. Its body is one straight-line block of MR * NR multiply-adds written out by
_block_source; LLVM's SLP vectorizer is what can turn those into vector instructions, and
Numba leaves that pass off by default (numba/numba#8705: a miscompilation), so the kernel is
compiled with it switched on under Numba's compiler lock, and once more without it for
comparison.

It prints, on one thread: the kernel's compile time in a fresh process; each Winograd filter
product of each network's batch-1 pass (the im2col and affine layers' products stay NumPy's),
NumPy's matmul beside the kernel's, alternating, on the same inputs, both reading filters on
huge pages as fercnn.inference keeps them; the largest product with the kernel compiled
without the SLP vectorizer; and the whole pass with NumPy's products and with the kernel's,
alternating in one process. fercnn.inference compiles no Numba kernel, so that a first
`fercnn predict` is as quick as the second; nothing here is used by the library.
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
    """The kernel products(A, Bp, C), compiled now with or without the SLP vectorizer, and the
    seconds that took. A: (T, M, K), Bp: (T, N // NR, K, NR) from pack, C: (T, M, N) written;
    all float32 and C-contiguous, shapes unchecked (product() checks them)."""
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
    """B: (T, K, N) float32, N a multiple of NR -> (T, N // NR, K, NR): each panel of NR
    columns contiguous along K, on huge pages where fercnn.inference would put B."""
    from fercnn.inference.memory import resident

    T, K, N = B.shape
    if B.dtype != np.float32 or N % NR:
        raise ValueError(f"pack: expected float32 (T, K, N) with N a multiple of {NR}, got {B.shape} {B.dtype}")
    return resident(np.ascontiguousarray(B.reshape(T, K, N // NR, NR).transpose(0, 2, 1, 3)))


def product(kernel, A, Bp, out=None):
    """A: (T, M, K) float32 times the packed Bp: (T, N // NR, K, NR) -> (T, M, N), through ``kernel``."""
    T, P, K, _ = Bp.shape
    if A.dtype != np.float32 or A.ndim != 3 or A.shape[0] != T or A.shape[2] != K:
        raise ValueError(f"product: expected A float32 ({T}, M, {K}), got {A.shape} {A.dtype}")
    A = np.ascontiguousarray(A)
    C = np.empty((T, A.shape[1], P * NR), np.float32) if out is None else out
    kernel(A, Bp, C)
    return C


class PackedNumpy:
    """Stands in for numpy inside fercnn.inference.conv: np.matmul(A, U), with U (T, K, N) one of
    the ``filters`` given (by identity), runs ``kernel`` on A (T, M, K) and U packed once, and is
    noted in ``seen`` (while that is a list); every other name is numpy's."""

    def __init__(self, kernel, filters):
        self.kernel, self.seen = kernel, None
        self.packed = {id(U): pack(U) for U in filters if U.ndim == 3 and U.shape[2] % NR == 0}

    def matmul(self, A, B, *args, **kwargs):
        Bp = self.packed.get(id(B))
        if Bp is None or args or kwargs:
            return np.matmul(A, B, *args, **kwargs)
        if self.seen is not None:
            self.seen.append((np.ascontiguousarray(A), B))
        return product(self.kernel, A, Bp)

    def __getattr__(self, name):
        return getattr(np, name)


def median_ms(f, calls):
    """Median ms of ``calls`` calls of f(), after three untimed ones."""
    for _ in range(3):
        f()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def alternating_ms(fs, rounds, calls):
    """{name: median ms} of the functions in ``fs`` ({name: f}), ``calls`` calls of each in
    turn, ``rounds`` times, after three untimed calls of each."""
    times = {name: [] for name in fs}
    for f in fs.values():
        for _ in range(3):
            f()
    for _ in range(rounds):
        for name, f in fs.items():
            for _ in range(calls):
                t = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - t)
    return {name: 1e3 * float(np.median(ts)) for name, ts in times.items()}


def filter_products(predictor, X, kernel):
    """The Winograd filter products of one pass of ``predictor`` over X, [(layer name, A, U)],
    and the stand-in that packed their filters."""
    import fercnn.inference.conv as conv

    predictor.scores(X)  # makes every layer's transformed filters
    convs = [s for s in predictor.steps if hasattr(s, "U")]
    names = {id(U): f"conv{k + 1}" for k, s in enumerate(convs) for U in s.U.values()}
    stand_in = PackedNumpy(kernel, [U for s in convs for U in s.U.values()])
    stand_in.seen = []
    conv.np = stand_in
    try:
        predictor.scores(X)
    finally:
        conv.np = np
    if not stand_in.seen:
        raise RuntimeError("no filter product went through np.matmul in fercnn/inference/conv.py: "
                           "this script's stand-in no longer sees them")
    return [(names[id(U)], A, U) for A, U in stand_in.seen], stand_in


def whole_pass_ms(predictor, X, stand_in, calls):
    """{"numpy": ms, "kernel": ms} of whole passes, alternating three at a time, and the largest
    difference between their scores."""
    import fercnn.inference.conv as conv

    scores = {}

    def run(module, name):
        conv.np = module
        try:
            scores[name] = predictor.scores(X)
        finally:
            conv.np = np

    ms = alternating_ms({"numpy": lambda: run(np, "numpy"), "kernel": lambda: run(stand_in, "kernel")},
                        rounds=calls // 3, calls=3)
    return ms, float(np.abs(scores["numpy"] - scores["kernel"]).max())


def report(name, kernel, plain_kernel, calls):
    """Print one shipped network's products and whole pass (batch 1)."""
    from fercnn.inference import predictor_for
    from fercnn.models import pretrained

    model = pretrained(name)
    X = model.prepare(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
    predictor = predictor_for(model)
    seen, stand_in = filter_products(predictor, X, kernel)
    print(f"\n{name}, batch 1, one thread: each Winograd filter product (T products of M x K by K x N), ms")
    for layer, A, U in seen:
        Bp = stand_in.packed[id(U)]
        C = np.empty((A.shape[0], A.shape[1], U.shape[2]), np.float32)
        ms = alternating_ms({"numpy": lambda: np.matmul(A, U, out=C), "kernel": lambda: kernel(A, Bp, C)},
                            rounds=10, calls=20)
        err = float(np.abs(product(kernel, A, Bp) - np.matmul(A, U)).max() / max(1e-30, np.abs(C).max()))
        flops = 2 * A.shape[0] * A.shape[1] * A.shape[2] * U.shape[2]
        print(f"  {layer:<6} T {A.shape[0]:>2} M {A.shape[1]:>3} K {A.shape[2]:>4} N {U.shape[2]:>3}: "
              f"numpy {ms['numpy']:6.3f}  kernel {ms['kernel']:6.3f} ({flops / ms['kernel'] / 1e6:4.0f} GFLOP/s)  "
              f"difference {err:.1e} of the largest entry")
    layer, A, U = max(seen, key=lambda s: s[1].size * s[2].size)
    C = np.empty((A.shape[0], A.shape[1], U.shape[2]), np.float32)
    ms_plain = median_ms(lambda: plain_kernel(A, stand_in.packed[id(U)], C), 10)
    print(f"  {layer}'s product with the kernel compiled without the SLP vectorizer: {ms_plain:.3f} ms")
    ms, diff = whole_pass_ms(predictor, X, stand_in, calls)
    print(f"  whole pass: numpy {ms['numpy']:.2f} ms, kernel {ms['kernel']:.2f} ms "
          f"({ms['numpy'] / ms['kernel']:.2f}x); largest score difference {diff:.1e}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["deep", "vgg"])
    p.add_argument("--calls", type=int, default=150, help="timed whole passes per variant")
    args = p.parse_args()
    if args.calls < 3:
        p.error(f"--calls must be at least 3, got {args.calls}")

    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")  # as fercnn.inference runs a batch of one
    kernel, seconds = build(slp=True)  # the first compilation of the process, as a first use would pay
    print(f"kernel compile in a fresh process: {seconds:.2f} s, MR x NR = {MR} x {NR}")
    plain_kernel, _ = build(slp=False)
    for name in args.models:
        report(name, kernel, plain_kernel, args.calls)


if __name__ == "__main__":
    main()
