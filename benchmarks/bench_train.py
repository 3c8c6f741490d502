"""One training step of the paper's networks: fercnn beside PyTorch on the same CPU.

    python benchmarks/bench_train.py                  # everything (about 2 minutes on a 2-core AMD EPYC)
    python benchmarks/bench_train.py --quick          # fewer steps, no scaling tables
    python benchmarks/bench_train.py --against main~3 # fercnn at a commit beside fercnn now

Every measurement runs in a fresh process (so peak memory is that network's alone), and
fercnn and PyTorch alternate (A B A B) so that drift of the machine hits both. A step is
forward + backward + SGD-momentum update of a batch of 128 float32 images, 48x48.
PyTorch is optional: `pip install torch` (never a dependency of fercnn).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# importing fercnn sets the variables of fercnn.runtime.IDLE_THREADS_SLEEP where unset;
# PyTorch's workers get them as the environment had them before, so that each library runs
# as it would alone
USER_ENV = dict(os.environ)
TRAIN_IMAGES = 2 * 28709  # FER2013 training set, doubled by mirror images


def worker(lib, net, batch, steps, threads):
    """Runs in a child process: time `steps` training steps after one warm-up; print JSON."""
    import resource

    t_start = time.perf_counter()
    if lib == "fercnn":
        import fercnn  # noqa: F401  first, as the fercnn command and the examples import it
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, 1, 48, 48)).astype(np.float32)
    y = rng.integers(0, 7, batch)
    if lib == "fercnn":
        from fercnn import models
        from fercnn.runtime import reuse_freed_memory
        from fercnn.train.optim import sgd_momentum

        reuse_freed_memory()
        model = getattr(models, net)()
        configs = {k: {"learning_rate": 1e-3, "momentum": 0.9} for k in model.params}

        def step():
            _, grads = model.loss(X, y)
            for k in model.params:
                model.params[k], configs[k] = sgd_momentum(model.params[k], grads[k], configs[k])
    else:
        import torch

        sys.path.insert(0, HERE)
        from torch_nets import build

        torch.set_num_threads(threads)
        model = build(json.loads(os.environ["FERCNN_BENCH_LAYERS"]))  # no fercnn import: torch's memory alone
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(tX), ty).backward()
            opt.step()
    step()
    first = time.perf_counter() - t_start
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "first_step_s": first, "peak_mb": peak_mb}))


def run_worker(lib, net, batch, steps, threads, env_extra=None):
    from fercnn import models
    from fercnn.models.blocks import build_layers
    from fercnn.models.spec import normalize_spec

    spec = normalize_spec(input_shape=(1, 48, 48), num_classes=7, **getattr(models, f"{net}_spec")())
    layers = [layer.describe() for layer in build_layers(spec)]
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), FERCNN_BENCH_LAYERS=json.dumps(layers),
               **(env_extra or {}))
    if lib == "torch":
        from fercnn.runtime import IDLE_THREADS_SLEEP

        for k in IDLE_THREADS_SLEEP:
            if k in USER_ENV:
                env[k] = USER_ENV[k]
            else:
                env.pop(k, None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, net, str(batch), str(steps), str(threads)]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"{lib} {net} worker failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def gemm_gflops(threads):
    code = ("import numpy as np, time\n"
            "a = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)\n"
            "a @ a\nts = []\n"
            "for _ in range(3):\n    t = time.perf_counter(); a @ a; ts.append(time.perf_counter() - t)\n"
            "print(2 * 4096 ** 3 / min(ts) / 1e9)\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout)


def have_torch():
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def torch_version():
    done = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def compare(nets, rounds, steps, threads, torch_ok):
    """A B A B: per net, `rounds` fercnn and torch processes alternately; medians of all steps."""
    rows = []
    for net in nets:
        acc = {"fercnn": [], "torch": []}
        peaks = {"fercnn": [], "torch": []}
        for _ in range(rounds):
            for lib in ("fercnn", "torch") if torch_ok else ("fercnn",):
                r = run_worker(lib, net, 128, steps, threads)
                acc[lib] += r["times"]
                peaks[lib].append(r["peak_mb"])
        row = {"net": net}
        for lib in acc:
            if acc[lib]:
                row[lib] = {"step_s": statistics.median(acc[lib]), "images_per_s": 128 / statistics.median(acc[lib]),
                            "peak_mb": max(peaks[lib])}
        rows.append(row)
    return rows


def against(ref, nets, rounds, steps, threads):
    """fercnn at git commit ``ref`` beside fercnn as checked out, A B A B, in fresh processes:
    is a change free of a slowdown? The old code runs from a temporary git worktree."""
    root = os.path.dirname(HERE)
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "ref")
        subprocess.run(["git", "-C", root, "worktree", "add", "--detach", tree, ref], check=True,
                       capture_output=True, text=True)
        try:
            print(f"fercnn at {ref} (A) against fercnn now (B); batch 128, {threads} threads, "
                  f"{rounds} processes x {steps} steps each, alternating")
            for net in nets:
                times = {"A": [], "B": []}
                for _ in range(rounds):
                    for side, env in (("A", {"PYTHONPATH": tree}), ("B", {})):
                        times[side] += run_worker("fercnn", net, 128, steps, threads, env)["times"]
                a, b = statistics.median(times["A"]), statistics.median(times["B"])
                print(f"  {net:<8} A {a:.3f} s   B {b:.3f} s   B speed / A speed = {a / b:.3f}x")
        finally:
            subprocess.run(["git", "-C", root, "worktree", "remove", "--force", tree], capture_output=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--against", metavar="GIT_REF",
                   help="only compare fercnn at this commit with fercnn now (a change's effect on speed)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternating fercnn/torch processes per network")
    p.add_argument("--steps", type=int, default=3, help="timed steps per process (after one warm-up)")
    p.add_argument("--quick", action="store_true", help="one round of two steps; skip the scaling tables")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.steps = 1, 2
    if args.against:
        print(f"machine: {machine()}")
        against(args.against, ["shallow", "deep"], args.rounds, args.steps, args.threads)
        return
    torch_ok = have_torch()
    results = {"threads": args.threads, "machine": machine(), "torch": torch_version() if torch_ok else None}
    print(f"machine: {results['machine']}; threads: {args.threads}; torch: {'yes' if torch_ok else 'not installed'}")
    results["gemm_gflops"] = gemm_gflops(args.threads)
    print(f"numpy float32 matmul 4096^3: {results['gemm_gflops']:.0f} GFLOP/s (the ceiling for im2col convolution)\n")

    rows = compare(["shallow", "deep"], args.rounds, args.steps, args.threads, torch_ok)
    results["steps"] = rows
    print("one training step, batch 128 (median over %d processes x %d steps)" % (args.rounds, args.steps))
    print(f"{'net':<9}{'fercnn s':>10}{'img/s':>8}{'peak MB':>9}{'torch s':>10}{'img/s':>8}{'peak MB':>9}"
          f"{'speed ratio':>13}{'memory ratio':>14}")
    for r in rows:
        f = r["fercnn"]
        t = r.get("torch")
        line = f"{r['net']:<9}{f['step_s']:>10.3f}{f['images_per_s']:>8.1f}{f['peak_mb']:>9.0f}"
        if t:
            line += (f"{t['step_s']:>10.3f}{t['images_per_s']:>8.1f}{t['peak_mb']:>9.0f}"
                     f"{f['images_per_s'] / t['images_per_s']:>12.2f}x{f['peak_mb'] / t['peak_mb']:>13.2f}x")
        print(line)
    print("speed ratio = fercnn images/s / torch images/s; memory ratio = fercnn peak RSS / torch peak RSS\n")

    steps_per_epoch = math.ceil(TRAIN_IMAGES / 128)
    print("projected time of the paper's 35-epoch runs on this machine (training steps only):")
    for r in rows:
        hours = 35 * steps_per_epoch * r["fercnn"]["step_s"] / 3600
        r["projected_35_epochs_h"] = hours
        print(f"  {r['net']}: 35 x {steps_per_epoch} steps x {r['fercnn']['step_s']:.3f} s = {hours:.1f} h")
    print()

    if torch_ok:
        print_targets(rows)

    results["cold_start"] = cold_start(args.threads)
    cs = results["cold_start"]
    print(f"start to first finished shallow training step: no Numba cache {cs['cold_s']:.1f} s, "
          f"with the cache {cs['warm_s']:.1f} s\n")

    if not args.quick:
        results["batch_scaling"] = scaling(args.threads)
        results["thread_scaling"] = {str(t): run_worker("fercnn", "shallow", 128, args.steps, t)["times"]
                                     for t in (1, 2)}
        print("fercnn shallow, threads: " + ", ".join(
            f"{t}: {128 / statistics.median(v):.1f} img/s" for t, v in results["thread_scaling"].items()))
    if args.json:
        from fercnn.fileio import write_json  # here, not at the top: the torch workers run this file too

        write_json(args.json, results, indent=1)


# The speed targets fercnn holds itself to: (what, value, passes?)
def print_targets(rows):
    by = {r["net"]: r for r in rows}

    def speed(net):
        return by[net]["fercnn"]["images_per_s"] / by[net]["torch"]["images_per_s"]
    memory = by["shallow"]["fercnn"]["peak_mb"] / by["shallow"]["torch"]["peak_mb"]
    checks = [("shallow training step >= 2.0x PyTorch", f"{speed('shallow'):.2f}x", speed("shallow") >= 2.0),
              ("deep training step >= 1.8x PyTorch", f"{speed('deep'):.2f}x", speed("deep") >= 1.8),
              ("peak RSS, shallow step <= 1.0x PyTorch", f"{memory:.2f}x", memory <= 1.0),
              ("projected 35-epoch deep run < 3 h (this machine)", f"{by['deep']['projected_35_epochs_h']:.1f} h",
               by["deep"]["projected_35_epochs_h"] < 3.0)]
    print("targets:")
    for what, value, ok in checks:
        print(f"  {what:<50}{value:>8}   {'met' if ok else 'MISSED'}")
    print()


def scaling(threads):
    print("fercnn shallow step, images/s by batch size:")
    out = {}
    for batch in (32, 64, 128, 256):
        r = run_worker("fercnn", "shallow", batch, 2, threads)
        out[batch] = batch / statistics.median(r["times"])
        print(f"  batch {batch:>3}: {out[batch]:6.1f} img/s, peak {r['peak_mb']:.0f} MB")
    return out


def cold_start(threads):
    """Process start to first finished step, with an empty Numba cache and then with it filled."""
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = run_worker("fercnn", "shallow", 128, 0, threads, env)
        warm = run_worker("fercnn", "shallow", 128, 0, threads, env)
    return {"cold_s": cold["first_step_s"], "warm_s": warm["first_step_s"],
            "cold_wall_s": cold["wall_s"], "warm_wall_s": warm["wall_s"]}


def machine():
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        lib, net, batch, steps, threads = sys.argv[2:7]
        worker(lib, net, int(batch), int(steps), int(threads))
    else:
        main()
