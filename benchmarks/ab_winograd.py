"""The Winograd convolution of another commit beside the one checked out, in one process.

    python benchmarks/ab_winograd.py --against ea71660            # the four paper layers
    python benchmarks/ab_winograd.py --against ea71660 --steps    # whole training steps too

For a change to fercnn/fast/winograd.py or its generated kernels. bench_train.py --against
compares commits in separate processes, and on a noisy machine the drift between
processes is often larger than such a change; here both versions run in the same process,
alternating call by call (A B A B, B A B A, ...), so drift hits both alike. For each
paper layer (batch 128, float32, forward + backward) it prints the medians, their ratio,
and whether out, dx, dw and db are the same bit for bit (if not, by how much they differ). With --steps it also times whole
training steps of both networks, the conv layers switched between the two versions.

What is swapped: the commit's winograd.py and _winograd_kernels.py, loaded from git into a
temporary folder (the kernels compiled without Numba's disk cache). Everything else, the
workers, the transform matrices and the other layers, is the checked-out code, so the
commit must be one whose winograd.py works with them (a recent one).
"""
import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

import fercnn  # noqa: F401  first, as the fercnn command and the examples import it (fercnn.runtime)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name, C, F, kernel, H (= W): the paper's layers that run Winograd
LAYERS = [("shallow conv2", 32, 64, 3, 48), ("deep conv2", 64, 128, 5, 24),
          ("deep conv3", 128, 512, 3, 12), ("deep conv4", 512, 512, 3, 6)]


def load_commit(ref, folder):
    """The winograd module of commit ``ref``, importing that commit's kernels."""
    def show(path):
        r = subprocess.run(["git", "-C", ROOT, "show", f"{ref}:{path}"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"ab_winograd: cannot read {path} at {ref!r}: {r.stderr.strip()}")
        return r.stdout

    kernels = show("fercnn/fast/_winograd_kernels.py").replace("cache=True", "cache=False")
    module = show("fercnn/fast/winograd.py")
    line = "from fercnn.fast import _winograd_kernels as kernels"
    if line not in module:
        raise SystemExit(f"ab_winograd: winograd.py at {ref} does not import its kernels as expected ({line!r})")
    with open(os.path.join(folder, "ab_kernels_a.py"), "w", encoding="utf-8") as f:
        f.write(kernels)
    with open(os.path.join(folder, "ab_winograd_a.py"), "w", encoding="utf-8") as f:
        f.write(module.replace(line, "import ab_kernels_a as kernels"))
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("ab_winograd_a", os.path.join(folder, "ab_winograd_a.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def alternate(calls, rounds):
    """calls: {label: fn}. Medians in seconds, each fn timed once per round, the order
    reversed every other round."""
    labels = list(calls)
    times = {k: [] for k in labels}
    for r in range(rounds):
        for k in (labels if r % 2 == 0 else labels[::-1]):
            t = time.perf_counter()
            calls[k]()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def compare_layers(A, B, rounds, batch):
    import numpy as np

    from fercnn.fast import conv_method

    rng = np.random.default_rng(0)
    for name, C, F, k, H in LAYERS:
        x = rng.standard_normal((batch, C, H, H), dtype=np.float32)
        w = (rng.standard_normal((F, C, k, k)) * np.sqrt(2 / (C * k * k))).astype(np.float32)
        b = rng.standard_normal(F).astype(np.float32)
        dout = rng.standard_normal((batch, F, H, H), dtype=np.float32)
        method = conv_method.choose(C, k, k, H, H, 1)

        def run(mod):
            out, U = mod.winograd_forward(x, w, b, k // 2, method)
            return (out, *mod.winograd_backward(dout, x, w, k // 2, method, True, U))

        differ = []
        for label, p, q in zip(("out", "dx", "dw", "db"), run(A), run(B)):
            if not np.array_equal(p, q):  # e.g. other block sizes sum dw's blocks in another order
                rel = np.abs(p.astype(np.float64) - q).max() / np.abs(p).max()
                differ.append(f"{label} by {rel:.1e}")
        med = alternate({"A": lambda: run(A), "B": lambda: run(B)}, rounds)
        print(f"  {name:<14} {method}  A {med['A'] * 1e3:7.1f} ms   B {med['B'] * 1e3:7.1f} ms   "
              f"B speed / A speed = {med['A'] / med['B']:.3f}x   "
              + ("identical out, dx, dw, db" if not differ else "differ (max |A - B| / max |A|): " + ", ".join(differ)))


def compare_steps(A, B, rounds):
    import numpy as np

    import fercnn.fast.conv as conv
    from fercnn import models
    from fercnn.train.optim import sgd_momentum

    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 1, 48, 48)).astype(np.float32)
    y = rng.integers(0, 7, 128)
    for net in ("shallow", "deep"):
        model = getattr(models, net)()
        configs = {k: {"learning_rate": 1e-4, "momentum": 0.9} for k in model.params}

        def step(mod):
            conv.winograd_forward, conv.winograd_backward = mod.winograd_forward, mod.winograd_backward
            _, grads = model.loss(X, y)
            for k in model.params:
                model.params[k], configs[k] = sgd_momentum(model.params[k], grads[k], configs[k])

        step(A), step(B)
        med = alternate({"A": lambda: step(A), "B": lambda: step(B)}, rounds)
        print(f"  {net:<8} step  A {med['A']:.3f} s   B {med['B']:.3f} s   B speed / A speed = {med['A'] / med['B']:.3f}x")
    conv.winograd_forward, conv.winograd_backward = B.winograd_forward, B.winograd_backward


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--against", metavar="GIT_REF", required=True, help="the commit to compare with (A)")
    p.add_argument("--rounds", type=int, default=9, help="timed calls of each version per layer (default 9)")
    p.add_argument("--batch", type=int, default=128, help="images per layer call (default 128; steps always use 128)")
    p.add_argument("--steps", action="store_true", help="also time whole training steps (2 x rounds steps per net)")
    args = p.parse_args()
    if args.rounds < 1 or args.batch < 1:
        p.error(f"--rounds and --batch must be at least 1, got {args.rounds} and {args.batch}")

    from fercnn.fast import winograd as B
    from fercnn.runtime import reuse_freed_memory, thread_count

    reuse_freed_memory()
    with tempfile.TemporaryDirectory() as folder:
        A = load_commit(args.against, folder)
        print(f"Winograd at {args.against} (A) against now (B), one process, batch {args.batch}, "
              f"{thread_count()} threads, medians of {args.rounds} alternating calls")
        compare_layers(A, B, args.rounds, args.batch)
        if args.steps:
            compare_steps(A, B, 2 * args.rounds)


if __name__ == "__main__":
    main()
