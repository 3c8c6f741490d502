"""The compiled kernels of fercnn.inference (fercnn/inference/kernel.py) beside the NumPy layers.

    python benchmarks/bench_kernel.py                      # both shipped networks, about two minutes
    python benchmarks/bench_kernel.py --models deep --calls 20

On one thread, as fercnn.inference runs a batch of a few faces, it prints:
- the kernels' start in this process: compiled, or read from Numba's disk cache;
- the product kernel beside NumPy's matmul on filter products of 9 to 144 rows (one block
  of the kernel's to twelve), alternating, on the same operands, the filters packed once:
  where kernel.takes_rows draws its line;
- each conv layer of each network at a batch of one face, alone, the kernels off (the NumPy
  layer, the method choose() picks without them) and on, alternating;
- whole passes of 1, 2, 3, 4 and 8 faces, the kernels off and on, alternating in one
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


def products_table(rounds):
    """Print NumPy's product beside the kernel's on the 12 x 12 and 6 x 6 layers' filter shapes."""
    from fercnn.inference import kernel

    rng = np.random.default_rng(0)
    for T, K, N in ((36, 128, 256), (5, 1536, 512)):
        U = rng.standard_normal((T, K, N), dtype=np.float32)
        Bp = kernel.pack(U)
        for M in (9, 12, 24, 36, 144):
            A = rng.standard_normal((T, M, K), dtype=np.float32)
            ms = alternating_ms({"numpy": lambda: np.matmul(A, U), "kernel": lambda: kernel.product(A, Bp)},
                                rounds=rounds, calls=5)
            used = "used" if kernel.takes_rows(M) else "NumPy's"
            print(f"  T {T:>2} M {M:>3} K {K:>4} N {N:>3}: numpy {ms['numpy']:7.3f}  kernel {ms['kernel']:7.3f} ms "
                  f"({ms['numpy'] / ms['kernel']:.2f}x, {used})")


def layer_inputs(predictor, X):
    """[(step, its input)] for the conv steps of one pass over X (channels last)."""
    x, out = np.ascontiguousarray(X.transpose(0, 2, 3, 1)), []
    for step in predictor.steps:
        if hasattr(step, "w2"):
            out.append((step, x))
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(x.shape[0], -1) if step == "flatten" else step(x)
    return out


def layers_table(model, rounds):
    """Print each conv layer at a batch of one alone, the kernels off and on, alternating
    (the kernels are left as they were)."""
    from fercnn.inference import Predictor, kernel

    was_on = kernel.ready()
    predictor = Predictor(model)
    X = model.prepare(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
    for k, (step, x) in enumerate(layer_inputs(predictor, X)):
        def run(on, step=step, x=x):
            (kernel.enable if on else kernel.disable)()
            return step(x)
        run(False)
        off = step.method(x)
        run(True)
        methods = [off, step.method(x)]
        ms = alternating_ms({"numpy": lambda: run(False), "kernel": lambda: run(True)}, rounds=rounds, calls=5)
        print(f"  conv{k + 1} {tuple(x.shape)}: numpy ({methods[0]}) {ms['numpy']:6.3f}  kernels ({methods[1]}) "
              f"{ms['kernel']:6.3f} ms ({ms['numpy'] / ms['kernel']:.2f}x)")
    (kernel.enable if was_on else kernel.disable)()


def passes_table(model, rounds):
    """Print whole passes of a few faces, the kernels off and on, alternating in one process
    (the kernels are left as they were)."""
    from fercnn.inference import Predictor, kernel

    was_on = kernel.ready()
    predictor = Predictor(model)
    for n in (1, 2, 3, 4, 8):
        X = model.prepare(np.random.default_rng(n).integers(0, 256, (n, 48, 48), dtype=np.uint8))
        scores = {}

        def run(on):
            (kernel.enable if on else kernel.disable)()
            scores[on] = predictor.scores(X)
        ms = alternating_ms({"numpy": lambda: run(False), "kernel": lambda: run(True)}, rounds=rounds, calls=3)
        diff = float(np.abs(scores[True] - scores[False]).max())
        print(f"  {n} face{'s' if n > 1 else ' '}: numpy {ms['numpy']:7.2f} ms, kernels {ms['kernel']:7.2f} ms "
              f"({ms['numpy'] / ms['kernel']:.2f}x); largest score difference {diff:.1e}")
    (kernel.enable if was_on else kernel.disable)()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["deep", "vgg"])
    p.add_argument("--calls", type=int, default=30, help="rounds of alternating calls per measurement")
    args = p.parse_args()
    if args.calls < 1:
        p.error(f"--calls must be at least 1, got {args.calls}")
    from threadpoolctl import threadpool_limits

    from fercnn.inference import kernel
    from fercnn.models import pretrained

    threadpool_limits(1, user_api="blas")  # as fercnn.inference runs a few faces
    kernel.enable()
    print(f"the kernels' start in this process: {kernel.status()['seconds']:.2f} s")
    print("\nthe product kernel beside NumPy's matmul (T products of M x K by K x N), one thread")
    products_table(args.calls)
    for name in args.models:
        model = pretrained(name)
        print(f"\n{name}, one thread: each conv layer at a batch of one face, alone")
        layers_table(model, args.calls)
        print(f"{name}: whole passes, the kernels off (numpy) and on")
        passes_table(model, args.calls)


if __name__ == "__main__":
    main()
