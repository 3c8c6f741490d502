"""The compiled kernel of fercnn.inference (fercnn/inference/kernel.py) beside NumPy's products.

    python benchmarks/bench_kernel.py                      # both shipped networks, about two minutes
    python benchmarks/bench_kernel.py --models deep --calls 30

On one thread, as fercnn.inference runs a batch of a few faces, it prints:
- the kernel's start in this process: compiled, or read from Numba's disk cache;
- each Winograd filter product of a batch-1 pass of each network (the shapes the kernel
  is used on), and the same filters with 24 to 144 rows (two to twelve blocks of the
  kernel's, where kernel.takes_rows keeps NumPy's): NumPy's matmul beside the kernel,
  alternating, on the same operands, the filters packed once;
- whole passes of 1, 2, 3, 4 and 8 faces, the kernel on and off, alternating in one
  process, and the largest difference between their scores.
A process's figures move by 10-15% from one process to the next on the 2-core AMD EPYC
measured (where its memory lands): compare the two columns of one run.
"""
import argparse
import time

import numpy as np


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


def pass_products(predictor, X):
    """[(layer, A, U)]: each Winograd filter product of one pass of ``predictor`` over X, as
    fercnn/inference/conv.py hands it to NumPy or the kernel."""
    import fercnn.inference.conv as conv

    seen, real = [], conv._filter_products
    layer_of = {}
    for k, step in enumerate(s for s in predictor.steps if hasattr(s, "U")):
        layer_of[id(step)] = f"conv{k + 1}"

    def recording(V, U, packed):
        seen.append((np.ascontiguousarray(V), U))
        return real(V, U, packed)

    conv._filter_products = recording
    try:
        predictor.scores(X)
    finally:
        conv._filter_products = real
    names = {id(U): layer_of[id(s)] for s in predictor.steps if hasattr(s, "U") for U in s.U.values()}
    if not seen:
        raise RuntimeError("no filter product went through fercnn/inference/conv.py's _filter_products")
    return [(names[id(U)], A, U) for A, U in seen]


def products_table(predictor, X, rounds):
    """Print NumPy's product beside the kernel's for each product of a pass, and with more rows."""
    from fercnn.inference import kernel

    rows = []
    for layer, A, U in pass_products(predictor, X):
        rows.append((layer, A, U))
        if layer == "conv2" or A.shape[1] == 9:  # the same filters with several blocks of rows
            for M in (24, 36, 144):
                B = np.random.default_rng(M).standard_normal((A.shape[0], M, A.shape[2]), dtype=np.float32)
                rows.append((f"{layer} x{M}", B, U))
    for layer, A, U in rows:
        Bp = kernel.pack(U)
        ms = alternating_ms({"numpy": lambda: np.matmul(A, U), "kernel": lambda: kernel.product(A, Bp)},
                            rounds=rounds, calls=10)
        err = float(np.abs(kernel.product(A, Bp) - np.matmul(A, U)).max() / np.abs(np.matmul(A, U)).max())
        T, M, K = A.shape
        used = "used" if kernel.fits(M, K, U.shape[2], U.dtype) else "NumPy's"
        print(f"  {layer:<11} T {T:>2} M {M:>3} K {K:>4} N {U.shape[2]:>3}: numpy {ms['numpy']:6.3f}  "
              f"kernel {ms['kernel']:6.3f} ms ({ms['numpy'] / ms['kernel']:.2f}x, {used}; "
              f"difference {err:.1e} of the largest entry)")


def passes_table(model, rounds):
    """Print whole passes of a few faces, the kernel on and off, alternating in one process."""
    from fercnn.inference import Predictor, kernel

    predictor = Predictor(model)
    for n in (1, 2, 3, 4, 8):
        X = model.prepare(np.random.default_rng(n).integers(0, 256, (n, 48, 48), dtype=np.uint8))
        scores = {}

        def run(on):
            (kernel.enable if on else kernel.disable)()
            scores[on] = predictor.scores(X)
        ms = alternating_ms({"numpy": lambda: run(False), "kernel": lambda: run(True)}, rounds=rounds, calls=3)
        diff = float(np.abs(scores[True] - scores[False]).max())
        print(f"  {n} face{'s' if n > 1 else ' '}: numpy {ms['numpy']:7.2f} ms, kernel {ms['kernel']:7.2f} ms "
              f"({ms['numpy'] / ms['kernel']:.2f}x); largest score difference {diff:.1e}")
    kernel.enable()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["deep", "vgg"])
    p.add_argument("--calls", type=int, default=40, help="rounds of alternating calls per measurement")
    args = p.parse_args()
    if args.calls < 1:
        p.error(f"--calls must be at least 1, got {args.calls}")
    from threadpoolctl import threadpool_limits

    from fercnn.inference import kernel, predictor_for
    from fercnn.models import pretrained

    threadpool_limits(1, user_api="blas")  # as fercnn.inference runs a few faces
    kernel.enable()
    print(f"the kernel's start in this process: {kernel.status()['seconds']:.2f} s")
    for name in args.models:
        model = pretrained(name)
        X = model.prepare(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
        print(f"\n{name}, one thread: each Winograd filter product of a batch-1 pass (T products of M x K by K x N)")
        products_table(predictor_for(model), X, args.calls)
        print(f"{name}: whole passes, the kernel off (numpy) and on")
        passes_table(model, args.calls)


if __name__ == "__main__":
    main()
