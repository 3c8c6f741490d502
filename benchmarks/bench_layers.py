"""Every layer of the paper's networks at the paper's shapes (batch 128, float32): forward
and backward time, GFLOP/s for conv and affine, PyTorch beside it when installed, and the
reference loops beside the fast conv and pool on small shapes.

    python benchmarks/bench_layers.py            # about 3 minutes on 2 cores
    python benchmarks/bench_layers.py --quick    # batch 16, one repeat
    python benchmarks/bench_layers.py --json benchmarks/results/layers.json   # also keep the conv rows

Timings are medians of alternating runs (fercnn, torch, fercnn, torch, ...) in one process.
Each conv row names the method fercnn chose for that layer (fercnn/fast/conv_method.py) and
also times the im2col path on the same layer; GFLOP/s are effective: the multiply-adds of
direct convolution (forward, dx and dw) over the time, so a Winograd layer can pass the
matmul ceiling. The last lines check the conv target (>= 1.0x PyTorch). With --json the conv
rows are written there too; tools/write_docs.py makes docs/performance.md's table of them.
"""
import argparse
import os
import statistics
import time

# Idle threads (fercnn.runtime.quiet_idle_threads), set so that each library runs here as it
# would alone: numpy's OpenBLAS, which only fercnn uses in this process, sleeps at once;
# PyTorch is imported before fercnn sets OMP_WAIT_POLICY, so its OpenMP keeps its default.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
try:
    import torch  # noqa: F401
except ImportError:
    pass
import numpy as np  # noqa: E402

import fercnn  # noqa: F401,E402
from fercnn.fast import (
    affine_backward,
    affine_forward,
    batchnorm_relu_dropout_backward,
    batchnorm_relu_dropout_forward,
    conv_backward,
    conv_forward,
    conv_method,
    dropout_backward,
    dropout_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_dropout_backward,
    relu_dropout_forward,
    relu_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from fercnn.layers.reference import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from fercnn.runtime import reuse_freed_memory

from bench_train import machine  # noqa: E402  (benchmarks/: the folder of this script)

# (name, C, H, F, kernel): every convolution of the two networks ("same" padding, stride 1)
CONVS = [("shallow conv1", 1, 48, 32, 3), ("shallow conv2", 32, 48, 64, 3), ("deep conv1", 1, 48, 64, 3),
         ("deep conv2", 64, 24, 128, 5), ("deep conv3", 128, 12, 512, 3), ("deep conv4", 512, 6, 512, 3)]
FCS = [("shallow fc1", 64 * 24 * 24, 512), ("deep fc1", 512 * 3 * 3, 256), ("deep fc2", 256, 512)]


def timeit(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def alternate(ours, theirs, repeat):
    """Median seconds of ours and theirs, measured in alternation."""
    a, b = [], []
    ours()
    if theirs:
        theirs()
    for _ in range(repeat):
        a += timeit(ours, 1)
        if theirs:
            b += timeit(theirs, 1)
    return statistics.median(a), (statistics.median(b) if b else None)


def torch_pair(torch, fwd, inputs):
    """A closure running torch forward + backward of fwd(*inputs) with a random upstream gradient."""
    ts = [torch.from_numpy(x).requires_grad_(x.dtype.kind == "f") for x in inputs]
    out = fwd(*ts)
    g = torch.randn_like(out)

    def run():
        for t in ts:
            t.grad = None
        fwd(*ts).backward(g)
    return run


def fmt(name, ours, theirs, gflop=None):
    line = f"{name:<34}{1e3 * ours:>9.1f}"
    line += f"{1e3 * theirs:>9.1f}{theirs / ours:>8.2f}x" if theirs else f"{'-':>9}{'-':>9}"
    if gflop:
        line += f"{gflop / ours:>9.0f}" + (f"{gflop / theirs:>9.0f}" if theirs else "")
    print(line)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", help="also write the conv rows and the machine here")
    args = p.parse_args()
    if args.quick:
        args.batch, args.repeat = 16, 1
    reuse_freed_memory()
    try:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print("PyTorch not installed: fercnn columns only (pip install torch for the comparison)")
    rng = np.random.default_rng(0)
    N = args.batch
    a = rng.standard_normal((4096, 4096)).astype(np.float32)
    ceiling = 2 * 4096 ** 3 / 1e9 / min(timeit(lambda: a @ a, 3))
    a = None  # its 64 MB freed before the layers are timed
    print(f"numpy float32 matmul 4096^3: {ceiling:.0f} GFLOP/s (ceiling for im2col); batch {N}")
    print(f"\n{'layer (forward + backward)':<34}{'fercnn ms':>9}{'torch ms':>9}{'speedup':>9}"
          f"{'GFLOP/s':>9}{'torch':>9}   ({'speedup = torch time / fercnn time'})")

    conv_rows, conv_json = [], []
    for name, C, H, Fo, k in CONVS:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((Fo, C, k, k)) * 0.1).astype(np.float32)
        b = np.zeros(Fo, np.float32)
        dout = rng.standard_normal((N, Fo, H, H)).astype(np.float32)
        method = conv_method.choose(C, k, k, H, H, 1)

        def ours():
            _, cache = conv_forward(x, w, b, pad=k // 2)
            conv_backward(dout, cache)

        def im2col():
            with conv_method.forced("im2col"):
                ours()
        theirs = torch_pair(torch, lambda x, w, b: F.conv2d(x, w, b, padding=k // 2), [x, w, b]) if torch else None
        gflop = 3 * 2 * N * Fo * C * k * k * H * H / 1e9  # direct convolution: forward, dx and dw products
        t_ours, t_theirs = alternate(ours, theirs, args.repeat)
        fmt(f"{name} {C}->{Fo} {k}x{k} @{H}", t_ours, t_theirs, gflop)
        t_im2col = None
        if method != "im2col":
            t_im2col = alternate(im2col, None, args.repeat)[0]
            print(f"  {method} (Winograd); im2col on this layer: {1e3 * t_im2col:.1f} ms, "
                  f"{gflop / t_im2col:.0f} GFLOP/s (im2col time / {method} time = {t_im2col / t_ours:.2f})")
        conv_rows.append((name, t_ours, t_theirs))
        conv_json.append({"layer": name, "C": C, "F": Fo, "kernel": k, "H": H, "method": method, "fercnn_s": t_ours,
                          "torch_s": t_theirs, "im2col_s": t_im2col, "gflop": gflop})

    x = rng.standard_normal((N, 64, 48, 48)).astype(np.float32)
    dpool = rng.standard_normal((N, 64, 24, 24)).astype(np.float32)

    def pool():
        _, c = max_pool_forward(x)
        max_pool_backward(dpool, c)
    fmt("max-pool 2x2 (N,64,48,48)", *alternate(pool, torch_pair(torch, lambda x: F.max_pool2d(x, 2), [x])
                                                if torch else None, args.repeat))
    g, be = np.ones(64, np.float32), np.zeros(64, np.float32)

    def sbn():
        _, c = spatial_batchnorm_forward(x, g, be, {}, training=True)
        spatial_batchnorm_backward(x, c)
    fmt("spatial batchnorm (N,64,48,48)", *alternate(
        sbn, torch_pair(torch, lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True), [x, g, be])
        if torch else None, args.repeat))

    def relu():
        _, c = relu_forward(x)
        relu_backward(x, c)
    fmt("relu (N,64,48,48)", *alternate(relu, torch_pair(torch, F.relu, [x]) if torch else None, args.repeat))
    drng = np.random.default_rng(1)

    def drop():
        _, c = dropout_forward(x, 0.2, training=True, rng=drng)
        dropout_backward(x, c)
    fmt("dropout p=0.2 (N,64,48,48)", *alternate(
        drop, torch_pair(torch, lambda x: F.dropout(x, 0.2, training=True), [x]) if torch else None, args.repeat))

    def relu_drop():
        _, c = relu_dropout_forward(x, 0.2, training=True, rng=drng)
        relu_dropout_backward(x, c)
    fmt("relu+dropout fused (N,64,48,48)", *alternate(
        relu_drop, torch_pair(torch, lambda x: F.dropout(F.relu(x), 0.2, training=True), [x]) if torch else None,
        args.repeat))

    def bn_relu_drop():
        _, c = batchnorm_relu_dropout_forward(x, g, be, {}, 0.2, training=True, rng=drng)
        batchnorm_relu_dropout_backward(x, c)
    fmt("sbn+relu+drop fused (N,64,48,48)", *alternate(
        bn_relu_drop, torch_pair(torch, lambda x, g, b: F.dropout(F.relu(F.batch_norm(x, None, None, g, b, training=True)),
                                                                0.2, training=True), [x, g, be]) if torch else None,
        args.repeat))
    x = dpool = None  # freed before the FC layers

    for name, D, M in FCS:
        xf = rng.standard_normal((N, D)).astype(np.float32)
        wf = (rng.standard_normal((D, M)) * 0.01).astype(np.float32)
        bf = np.zeros(M, np.float32)
        dout = rng.standard_normal((N, M)).astype(np.float32)

        def aff():
            _, c = affine_forward(xf, wf, bf)
            affine_backward(dout, c)
        theirs = torch_pair(torch, lambda x, w, b: x @ w + b, [xf, wf, bf]) if torch else None
        fmt(f"{name} affine {D}->{M}", *alternate(aff, theirs, args.repeat), 3 * 2 * N * D * M / 1e9)
    scores = rng.standard_normal((N, 7)).astype(np.float32)
    labels = rng.integers(0, 7, N)
    fmt("softmax loss (N,7)", *alternate(lambda: softmax_loss(scores, labels), None, args.repeat))

    if torch:
        worst = min(conv_rows, key=lambda row: row[2] / row[1])
        met = all(theirs / ours >= 1.0 for _, ours, theirs in conv_rows)
        print(f"\ntarget: every conv layer fwd+bwd >= 1.0x PyTorch: {'met' if met else 'MISSED'} "
              f"(lowest {worst[2] / worst[1]:.2f}x, {worst[0]})")

    print("\nfast layers against the reference loops (fercnn.layers.reference), small shapes, float64:")
    xs = rng.standard_normal((4, 3, 16, 16))
    ws = rng.standard_normal((8, 3, 3, 3))
    bs = np.zeros(8)
    pairs = [("conv 3->8 3x3 on (4,3,16,16)", lambda fwd: fwd(xs, ws, bs, pad=1),
              (conv_forward, conv_backward), (conv_forward_naive, conv_backward_naive)),
             ("max-pool 2x2 on (4,3,16,16)", lambda fwd: fwd(xs),
              (max_pool_forward, max_pool_backward), (max_pool_forward_naive, max_pool_backward_naive))]
    for label, call, fast, ref in pairs:
        t_fast, t_ref = (statistics.median(timeit(lambda f=f, b=b: b(*call(f)), 3)) for f, b in (fast, ref))
        print(f"  {label:<32} fast {1e3 * t_fast:8.2f} ms, reference loops {1e3 * t_ref:8.1f} ms "
              f"({t_ref / t_fast:.0f}x slower)")
    if args.json:
        from fercnn.fileio import write_json

        write_json(args.json, {"machine": machine(), "threads": args.threads, "batch": N, "repeat": args.repeat,
                               "gemm_gflops": ceiling, "torch": torch.__version__ if torch else None,
                               "convs": conv_json}, indent=1)



if __name__ == "__main__":
    main()
