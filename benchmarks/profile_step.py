"""Where a training step's time goes: each layer's forward and backward, and the update.

    python benchmarks/profile_step.py deep        # or shallow, vgg; --steps, --batch, --threads

A breakdown, not a comparison: it times fercnn alone, with a wall clock around each layer's
forward and backward inside ordinary training steps (batch 128 of random 48x48 images,
SGD with momentum, after one warm-up step), and prints the mean per step. Use it to find
what to speed up; prove a speed-up with bench_train.py --against, which times whole steps
of two commits in alternating processes. The sum of the layers is a little under the
step: the loss, the weight decay and the calls between layers take the rest.
"""
import argparse
import collections
import time

import fercnn  # noqa: F401  first, as the fercnn command and the examples import it (fercnn.runtime)


def instrument(model, totals):
    """Wrap each layer's forward and backward of ``model`` to add their wall time (s) to
    ``totals``, keyed "NN kind name fwd|bwd"."""
    for i, layer in enumerate(model.layers):
        tag = f"{i:02d} {type(layer).__name__} {getattr(layer, 'name', '')}".rstrip()

        def timed(fn, key):
            def call(*args):
                t = time.perf_counter()
                result = fn(*args)
                totals[key] += time.perf_counter() - t
                return result
            return call

        layer.forward = timed(layer.forward, f"{tag} fwd")
        layer.backward = timed(layer.backward, f"{tag} bwd")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("net", choices=["shallow", "deep", "vgg"])
    p.add_argument("--steps", type=int, default=5, help="timed steps (after one warm-up)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: Numba's)")
    args = p.parse_args()
    if args.steps < 1 or args.batch < 1:
        p.error(f"--steps and --batch must be at least 1, got {args.steps} and {args.batch}")
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be at least 1, got {args.threads}")

    import numba
    import numpy as np

    from fercnn import models
    from fercnn.runtime import reuse_freed_memory
    from fercnn.train.optim import sgd_momentum

    reuse_freed_memory()
    if args.threads is not None:
        numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch, 1, 48, 48)).astype(np.float32)
    y = rng.integers(0, 7, args.batch)
    model = getattr(models, args.net)()
    totals = collections.defaultdict(float)
    instrument(model, totals)
    configs = {k: {"learning_rate": 1e-3, "momentum": 0.9} for k in model.params}

    def step():
        t0 = time.perf_counter()
        _, grads = model.loss(X, y)
        t1 = time.perf_counter()
        for k in model.params:
            model.params[k], configs[k] = sgd_momentum(model.params[k], grads[k], configs[k])
        totals["update"] += time.perf_counter() - t1
        totals["step"] += time.perf_counter() - t0

    step()
    totals.clear()
    for _ in range(args.steps):
        step()
    per_step = {k: 1000 * v / args.steps for k, v in totals.items()}
    step_ms = per_step.pop("step")
    print(f"{args.net} step, batch {args.batch}, {numba.get_num_threads()} threads, mean of {args.steps} steps:")
    for key, ms in per_step.items():
        print(f"  {key:28s} {ms:7.1f} ms  {100 * ms / step_ms:5.1f}%")
    print(f"  {'rest (loss, decay, glue)':28s} {step_ms - sum(per_step.values()):7.1f} ms")
    print(f"  {'whole step':28s} {step_ms:7.1f} ms")


if __name__ == "__main__":
    main()
