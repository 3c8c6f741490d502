"""What augmentation adds to a training step: the same step with and without it, alternating
in one process (batch 128, float32), and the augmentation of one batch alone.

    python benchmarks/bench_augment.py                 # deep and vgg, every augmentation on
    python benchmarks/bench_augment.py --nets deep --repeat 5

The augmentation is the accuracy recipe's (flip, 4-pixel shifts, 10 degrees, 10% scaling,
random erasing half the time); the step is the Solver's (forward, backward, update).
"""
import argparse
import statistics
import time

import numpy as np

import fercnn  # noqa: F401  (before numpy: idle threads sleep)
from fercnn import models
from fercnn.data.augment import Augmentation
from fercnn.runtime import reuse_freed_memory
from fercnn.train.optim import sgd_momentum

RECIPE = Augmentation(flip=True, shift=4, rotate=10, scale=0.1, erase=0.5)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", nargs="+", default=["deep", "vgg"], choices=["shallow", "deep", "vgg"])
    p.add_argument("--repeat", type=int, default=4, help="timed steps of each kind per network")
    args = p.parse_args()
    reuse_freed_memory()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 1, 48, 48)).astype(np.float32)
    y = rng.integers(0, 7, 128)
    alone = []
    for _ in range(20):
        t = time.perf_counter()
        RECIPE(X, rng)
        alone.append(time.perf_counter() - t)
    print(f"augmenting a batch of 128 alone: {1e3 * statistics.median(alone):.1f} ms (median of 20)")
    for net in args.nets:
        model = getattr(models, net)()
        configs = {k: {"learning_rate": 1e-3} for k in model.params}

        def step(augment):
            batch = RECIPE(X, rng) if augment else X.copy()
            _, grads = model.loss(batch, y)
            for k, w in model.params.items():
                model.params[k], configs[k] = sgd_momentum(w, grads[k], configs[k])
        step(True), step(False)  # warm-up: compilation, buffers
        times = {True: [], False: []}
        for _ in range(args.repeat):
            for augment in (False, True):
                t = time.perf_counter()
                step(augment)
                times[augment].append(time.perf_counter() - t)
        plain, augmented = statistics.median(times[False]), statistics.median(times[True])
        print(f"{net}: step {plain:.3f} s, with augmentation {augmented:.3f} s: "
              f"{100 * (augmented / plain - 1):+.1f}% (target: at most +10%)")


if __name__ == "__main__":
    main()
