"""Prediction speed: the shipped networks' forward pass beside PyTorch's, face detection, first use.

    python benchmarks/bench_predict.py                       # about 3 minutes a model on a 2-core AMD EPYC
    python benchmarks/bench_predict.py --json benchmarks/results/predict.json
    python benchmarks/bench_predict.py --models deep         # some of the shipped models (default: all)
    python benchmarks/bench_predict.py --per-layer   # where a batch of one spends its time (the first model)

- Forward pass of each shipped network at batch 1 and 64, on one thread and two:
  fercnn's prediction path (fercnn.inference) with its compiled kernel on (what fercnn serve
  runs; fercnn/inference/kernel.py), and at batch 1 the same with NumPy's products (what a
  one-shot `fercnn predict` and detect_emotions run, compiling nothing) and fercnn's training
  ops (model.predict_proba, what predicting ran before), and
  PyTorch's CPU build running the same network in eval mode under torch.inference_mode().
  Each measurement is a process of its own, the libraries alternating (A B A B) so that
  drift of the machine hits all alike; each process times CALLS calls after WARMUP ones, and a
  figure is the median of every call of its processes. The spread (10th to 90th percentile
  of the calls) tells how steady it is. The process's CPU time per call is measured too:
  on a machine that other work keeps busy, wall-clock time counts the waits for a core as
  well, CPU time only the work (all threads', spinning ones included).
- Face detection per photo (640x480 and 400x300, whole image; around the last box, as the
  live page asks) beside the whole detect_emotions of that photo.
- First use: `fercnn predict photo.jpg` with an empty Numba cache (NUMBA_CACHE_DIR), then
  again with the same cache, each a fresh process; pairs alternate, medians. The same for
  the compiled kernel's start (kernel.enable(), as `fercnn serve` calls it before serving):
  compiled on an empty cache, then read from it.

PyTorch is optional (`pip install torch==2.13.0`, never a dependency of fercnn).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
USER_ENV = dict(os.environ)
WARMUP = {1: 5, 64: 1}
CALLS = {1: 60, 64: 4}
CASES = [(1, 1), (1, 2), (64, 1), (64, 2)]  # (batch, threads)


def worker(lib, name, batch, calls):
    """Child process: print JSON {"times": [...], "cpu": [...]} (wall-clock and process CPU
    seconds) for ``calls`` forward passes of ``batch`` faces through shipped model ``name``."""
    import numpy as np

    if lib.startswith("fercnn"):
        import fercnn  # noqa: F401  first, as the fercnn command imports it
        from fercnn.inference import kernel, predictor_for
        from fercnn.models import pretrained

        if lib == "fercnn":
            kernel.enable()  # as fercnn serve does before it serves
        model = pretrained(name)
        X = model.prepare(np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8))
        ops = lib == "fercnn_training_ops"
        run = (lambda: model.predict_proba(X)) if ops else (lambda: predictor_for(model).predict_proba(X))
    else:
        import torch

        sys.path.insert(0, HERE)
        from torch_nets import build

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        net = build(json.loads(os.environ["FERCNN_BENCH_LAYERS"])).eval()
        tX = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, 1, 48, 48)).astype(np.float32))

        def run():
            with torch.inference_mode():
                return net(tX)
    for _ in range(WARMUP[batch]):
        run()
    times, cpu = [], []
    for _ in range(calls):
        t, c = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(json.dumps({"times": times, "cpu": cpu}))


def layers_of(name):
    """The layers of shipped model ``name`` as describe() dicts, for PyTorch's copy."""
    from fercnn.models import pretrained
    from fercnn.models.blocks import build_layers

    return [layer.describe() for layer in build_layers(pretrained(name).spec)]


def run_worker(lib, name, batch, threads, calls):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), FERCNN_BENCH_LAYERS=json.dumps(layers_of(name)))
    if lib == "torch":  # PyTorch with its own defaults for the idle-thread settings fercnn sets (see bench_train.py)
        from fercnn.runtime import IDLE_THREADS_SLEEP

        for k in IDLE_THREADS_SLEEP:
            if k in USER_ENV:
                env[k] = USER_ENV[k]
            else:
                env.pop(k, None)
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", lib, name, str(batch), str(calls)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{lib} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


QUIET_S = 5.0


def busy_fraction(seconds=QUIET_S):
    """The share of all CPUs' time spent working (by any process) over ``seconds`` while this
    one sleeps, from /proc/stat; None where there is none. Unlike the load average, which
    trails the last minute, it says whether other work runs now."""
    def times():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]  # user .. steal (guest time is inside user)
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    try:
        total0, idle0 = times()
        time.sleep(seconds)
        total1, idle1 = times()
    except (OSError, ValueError, IndexError):
        return None
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def _pct(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def forward(names, rounds, torch_ok):
    """{"model", "batch", "threads", lib: {"ms", "p10_ms", "p90_ms", "faces_per_s"}} per model and case."""
    rows = []
    for name, (batch, threads) in ((name, case) for name in names for case in CASES):
        libs = (["fercnn"] + (["fercnn_numpy", "fercnn_training_ops"] if batch == 1 else [])
                + (["torch"] if torch_ok else []))
        times = {lib: [] for lib in libs}
        cpu = {lib: [] for lib in libs}
        for _ in range(rounds):
            for lib in libs:
                r = run_worker(lib, name, batch, threads, CALLS[batch])
                times[lib] += r["times"]
                cpu[lib] += r["cpu"]
        row = {"model": name, "batch": batch, "threads": threads}
        for lib, ts in times.items():
            ms = 1e3 * statistics.median(ts)
            row[lib] = {"ms": ms, "p10_ms": 1e3 * _pct(ts, 10), "p90_ms": 1e3 * _pct(ts, 90),
                        "faces_per_s": batch / (ms / 1e3), "cpu_ms": 1e3 * statistics.median(cpu[lib])}
        rows.append(row)
        line = f"{name}, batch {batch:>2}, {threads} thread{'s' if threads > 1 else ' '}: "
        line += "   ".join(f"{lib} {row[lib]['ms']:7.2f} ms ({row[lib]['p10_ms']:.1f}-{row[lib]['p90_ms']:.1f}), "
                           f"{row[lib]['faces_per_s']:6.0f} faces/s" for lib in libs)
        if "torch" in row:
            line += (f"   fercnn / torch speed: {row['torch']['ms'] / row['fercnn']['ms']:.2f}x "
                     f"(CPU time: {row['torch']['cpu_ms'] / row['fercnn']['cpu_ms']:.2f}x)")
        print(line, flush=True)
    return rows


def per_layer_worker(name, calls):
    """Child process: each step of shipped network ``name``, frozen, at a batch of one, timed inside
    whole passes and alone (the same step again and again), and each conv layer alone with
    every method that fits it. Prints a table."""
    import numpy as np

    from fercnn.fast.winograd_transforms import VARIANTS
    from fercnn.inference import kernel, predictor_for
    from fercnn.inference.conv import ROWS
    from fercnn.models import pretrained

    kernel.enable()  # as fercnn serve runs it
    model = pretrained(name)
    steps = predictor_for(model).steps
    X = model.prepare(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
    def run(step, x):  # as fercnn.inference.frozen.forward runs a step
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(1, -1) if step == "flatten" else step(x)

    inputs, x = [], np.ascontiguousarray(X.transpose(0, 2, 3, 1))
    for step in steps:  # each step's input, for the timings alone
        inputs.append(x)
        x = run(step, x)
    in_pass = np.zeros((calls, len(steps)))
    for k in range(calls + 5):
        x = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
        t = [time.perf_counter()]
        for step in steps:
            x = run(step, x)
            t.append(time.perf_counter())
        if k >= 5:
            in_pass[k - 5] = np.diff(t)

    def alone(f):
        for _ in range(5):
            f()
        ts = []
        for _ in range(calls):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return 1e3 * float(np.median(ts))

    def filter_mb(step, method):
        """MB of filters the step reads in a pass as it holds them (Winograd's transformed), and
        of the same filters untransformed, in float32 (the form PyTorch's layers keep)."""
        if step == "flatten":
            return 0.0, 0.0
        plain = step.w.size * 4 / 2**20  # float32
        if not hasattr(step, "w2"):
            return step.w.nbytes / 2**20, plain
        held = step.w2 if method == "im2col" else step.U[method]
        return held.nbytes / 2**20, plain

    print("step       method      in a pass   alone   filters MB (untransformed)   (ms, batch 1, one thread, "
          "the compiled kernel on; medians of", calls, "calls)")
    total_alone, total_mb, total_plain = 0.0, 0.0, 0.0
    for i, step in enumerate(steps):
        x = inputs[i]
        conv = hasattr(step, "w2")
        name = "flatten" if step == "flatten" else "conv" if conv else "affine"
        method = step.method(x) if conv else ""
        ms_alone = alone(lambda: run(step, x))
        total_alone += ms_alone
        mb, plain = filter_mb(step, method)
        total_mb, total_plain = total_mb + mb, total_plain + plain
        print(f"{i:>2} {name:<8} {method:<10} {1e3 * np.median(in_pass[:, i]):8.3f} {ms_alone:8.3f} "
              f"{mb:8.2f} ({plain:.2f})")
    print(f"   whole pass            {1e3 * np.median(in_pass.sum(axis=1)):8.3f} {total_alone:8.3f} "
          f"{total_mb:8.2f} ({total_plain:.2f})")
    big = np.ones(64 * 2**20, dtype=np.float32)  # 256 MB: read from memory, not from cache
    gb_s = big.nbytes / 2**30 / (alone(big.sum) / 1e3)
    print(f"memory read by np.sum over 256 MB: {gb_s:.1f} GB/s; the pass's filters at that speed: "
          f"{total_mb / 1024 / gb_s * 1e3:.2f} ms (untransformed: {total_plain / 1024 / gb_s * 1e3:.2f} ms)")
    print("each conv layer alone with every method that fits it (ms):")
    for i, step in enumerate(steps):
        if step == "flatten" or not hasattr(step, "w2") or step.w.shape[1] < 8:
            continue
        x, r, chosen = inputs[i], step.w.shape[2], step.method
        results = {}
        for method in ["im2col"] + [v + suffix for v, (_, rr) in VARIANTS.items() if rr == r for suffix in ("", ROWS)]:
            step.method = lambda x, method=method: method
            results[method] = alone(lambda: step(x))
        del step.method  # back to the class's choice
        print(f"{i:>2} {tuple(x.shape)} -> {chosen(x)}: " + ", ".join(f"{k} {v:.2f}" for k, v in results.items()))


def per_layer(name, calls=300):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--per-layer-worker", name, str(calls)], env=env,
                   check=True)


def detection(repeats=15):
    """ms per photo: detect_faces whole (640x480, 400x300), around the last box, detect_emotions."""
    code = f"""
import json, time, numpy as np
import fercnn
from PIL import Image
from skimage import data
from fercnn.data.faces import detect_faces, detect_faces_near, to_gray
from fercnn.predict import detect_emotions
photo = data.astronaut()[0:384, 0:512]   # her face in a 4:3 photo
out = {{}}
def ms(f):
    f()
    ts = []
    for _ in range({repeats}):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return 1e3 * float(np.median(ts))
for W, H in ((640, 480), (400, 300)):
    im = np.asarray(Image.fromarray(photo).resize((W, H)))
    gray = to_gray(im)
    box = detect_faces(gray)[0]
    out[f"{{W}}x{{H}}"] = {{"detect_ms": ms(lambda: detect_faces(gray)), "near_ms": ms(lambda: detect_faces_near(gray, [box])),
                           "detect_emotions_ms": ms(lambda: detect_emotions(im))}}
print(json.dumps(out))
"""
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for size, r in result.items():
        print(f"{size}: face detection {r['detect_ms']:.1f} ms (around the last box {r['near_ms']:.1f} ms); "
              f"detect_emotions {r['detect_emotions_ms']:.1f} ms a photo (one face)")
    return result


def first_use(pairs):
    """Seconds of `fercnn predict examples/photos/astronaut.jpg`, first with an empty Numba cache, then again."""
    photo = os.path.join(ROOT, "examples", "photos", "astronaut.jpg")
    first, second = [], []
    for _ in range(pairs):
        with tempfile.TemporaryDirectory() as cache:
            for into in (first, second):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "fercnn.cli", "predict", photo], check=True, capture_output=True,
                               env=dict(os.environ, NUMBA_CACHE_DIR=cache), cwd=ROOT)
                into.append(time.perf_counter() - t)
    result = {"first_s": statistics.median(first), "second_s": statistics.median(second), "pairs": pairs}
    print(f"fercnn predict on one photo: first (empty Numba cache) {result['first_s']:.2f} s, "
          f"second {result['second_s']:.2f} s (medians of {pairs} pairs)")
    code = ("import json; from fercnn.inference import kernel; kernel.enable(); "
            "print(json.dumps(kernel.status()['seconds']))")
    compiled, loaded = [], []
    for _ in range(pairs):
        with tempfile.TemporaryDirectory() as cache:
            for into in (compiled, loaded):
                done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                      env=dict(os.environ, NUMBA_CACHE_DIR=cache), cwd=ROOT)
                into.append(json.loads(done.stdout.strip().splitlines()[-1]))
    result.update(kernel_compile_s=statistics.median(compiled), kernel_load_s=statistics.median(loaded))
    print(f"the compiled kernel's start: {result['kernel_compile_s']:.2f} s on an empty Numba cache, "
          f"{result['kernel_load_s']:.2f} s from it (medians of {pairs} pairs)")
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="alternating processes per library and case")
    p.add_argument("--pairs", type=int, default=3, help="first-use pairs")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--models", nargs="+", help="shipped models to time (default: every one this install has)")
    p.add_argument("--per-layer", action="store_true",
                   help="only this: each layer of a batch of one inside a pass and alone, every conv method alone")
    args = p.parse_args()
    from fercnn.models import shipped

    names = args.models or shipped.available()
    for name in names:  # an unknown or missing model is refused here, before any timing
        try:
            shipped.pretrained(name)
        except ValueError as e:
            p.error(str(e))
    if not names:
        p.error("this install ships no trained model to time")
    if args.per_layer:
        return per_layer(names[0])
    sys.path.insert(0, HERE)
    from bench_train import have_torch, machine, torch_version

    torch_ok = have_torch()
    results = {"machine": machine(), "torch": torch_version() if torch_ok else None}
    print(f"machine: {results['machine']}; torch: {results['torch'] or 'not installed'}")
    print("the shipped networks' forward pass, ms per batch: median (10th-90th percentile of the calls)")
    busy = busy_fraction()
    results["forward"] = forward(names, args.rounds, torch_ok)
    results["detection"] = detection()
    results["first_use"] = first_use(args.pairs)
    after = busy_fraction()
    if busy is None or after is None:
        results["load"] = f"The 1-minute load average was {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs)."
    else:
        quiet = "nothing else was running" if max(busy, after) < 0.1 else "other work was running"
        results["load"] = (f"The CPUs were {100 * busy:.0f}% busy in the {QUIET_S:.0f} s before it started and "
                           f"{100 * after:.0f}% in the {QUIET_S:.0f} s after it ended ({os.cpu_count()} CPUs: {quiet}).")
    print(results["load"])
    if args.json:
        from fercnn.fileio import write_json

        write_json(args.json, results, indent=1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--per-layer-worker":
        sys.path.insert(0, ROOT)
        per_layer_worker(sys.argv[2], int(sys.argv[3]))
    else:
        sys.path.insert(0, ROOT)
        main()
