"""Write the generated parts of the user docs: docs/cli.md from each command's --help, the
performance tables of README.md and docs/performance.md from the benchmarks' JSON, and the
figures of docs/usage.md's model cards from the provenance in each shipped model's file.

    python tools/write_docs.py            # write them
    python tools/write_docs.py --check    # exit 1, naming each stale file or table, if any differs

The JSON is committed beside the benchmarks: benchmarks/results/train.json (written by
``python benchmarks/bench_train.py --json benchmarks/results/train.json``),
benchmarks/results/layers.json (``python benchmarks/bench_layers.py --json ...``),
benchmarks/results/predict.json (``python benchmarks/bench_predict.py --json ...``) and
benchmarks/results/serve.json (``python benchmarks/load_serve.py --json ...``). A table
between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` is this script's; the prose around
it is written by hand. tests/test_docs.py runs --check, so a new figure or option cannot
leave a stale table behind.
"""
import argparse
import contextlib
import io
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fercnn.cli import COMMANDS, usage  # noqa: E402
from fercnn.cli.train import PRESETS  # noqa: E402
from fercnn.fileio import write_text  # noqa: E402
from fercnn.models import shipped  # noqa: E402
from fercnn.models.io import read_npz  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results")
HELP_COLUMNS = "100"  # argparse wraps --help to the terminal: one width, so the file does not depend on it
TRAIN_IMAGES = 2 * 28709  # FER2013's training set, flip-doubled: 449 steps of 128 an epoch
TARGETS = {"shallow": 2.0, "deep": 1.8}  # training step, images/s against PyTorch's


def command_help(argv):
    """What ``fercnn ARGV --help`` prints."""
    out = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        with contextlib.redirect_stdout(out):
            try:
                if argv:
                    module = __import__(f"fercnn.cli.{COMMANDS[argv[0]][0]}", fromlist=["main"])
                    module.main(argv[1:] + ["--help"], prog=f"fercnn {argv[0]}")
                else:
                    print(usage())
            except SystemExit:
                pass
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return out.getvalue().rstrip()


def cli_doc():
    """The text of docs/cli.md."""
    parts = ["# The `fercnn` command",
             "",
             "Every option of every command, as its `--help` prints it. This file is written by "
             "`python tools/write_docs.py` from the commands themselves; do not edit it by hand. "
             "[usage.md](usage.md) says what the commands are for, with examples.",
             "",
             "```", command_help([]), "```"]
    subcommands = {"train": sorted(PRESETS), "exercises": ["start", "check"]}
    for name in COMMANDS:
        sub = [[name]] + [[name, n] for n in subcommands.get(name, ())]
        for argv in sub:
            parts += ["", f"## fercnn {' '.join(argv)}", "", "```", command_help(argv), "```"]
    return "\n".join(parts) + "\n"


def _load(name):
    with open(os.path.join(RESULTS, name)) as f:
        return json.load(f)


def _machine(results):
    cpu = results["machine"].split(", Python")[0]  # "<model name>, <n> logical CPUs"
    torch = f"PyTorch {results['torch']}" if results.get("torch") else "PyTorch not installed"
    return f"Machine: {cpu}; {torch}; {results['threads']} threads."


def _steps(train):
    by = {r["net"]: r for r in train["steps"]}
    rows = []
    for net in ("shallow", "deep"):
        f, t = by[net]["fercnn"], by[net].get("torch")
        ratio = f["images_per_s"] / t["images_per_s"] if t else None
        rows.append((f"{net} training step", f"{f['step_s']:.3f} s, {f['images_per_s']:.0f} img/s",
                     f"{t['step_s']:.3f} s, {t['images_per_s']:.0f} img/s" if t else "", ratio, net))
    return by, rows


def performance_block(train):
    """README.md's table: the training steps, memory, the projected run and the cold start."""
    by, rows = _steps(train)
    lines = ["| what | fercnn | PyTorch | ratio |", "|---|---|---|---|"]
    for what, ours, theirs, ratio, _ in rows:
        lines.append(f"| {what} | {ours} | {theirs} | {f'{ratio:.2f}x' if ratio else ''} |")
    lines += _memory_and_time(by, train, columns=4)
    return "\n".join(lines + ["", _machine(train)])


def _memory_and_time(by, train, columns):
    f, t = by["shallow"]["fercnn"], by["shallow"].get("torch")
    pad = " |" * (columns - 4)
    steps = -(-TRAIN_IMAGES // 128)
    hours = 35 * steps * by["deep"]["fercnn"]["step_s"] / 3600
    cs = train["cold_start"]
    memory = f"| peak memory (RSS), shallow step | {f['peak_mb']:.0f} MB | " + \
        (f"{t['peak_mb']:.0f} MB | {f['peak_mb'] / t['peak_mb']:.2f}x |" if t else " | |")
    return [memory + pad,
            f"| projected 35-epoch deep run (35 x {steps} steps) | {hours:.1f} h | | |" + pad,
            f"| cold start to the first shallow step (empty cache; cached) | {cs['cold_s']:.1f} s; "
            f"{cs['warm_s']:.1f} s | | |" + pad]


def train_steps_block(train, layers):
    """docs/performance.md's table of whole steps, each against its target."""
    by, rows = _steps(train)
    lines = ["| what (target) | fercnn | PyTorch | ratio | target met? |", "|---|---|---|---|---|"]
    for what, ours, theirs, ratio, net in rows:
        met = "" if ratio is None else "yes" if ratio >= TARGETS[net] else "no"
        lines.append(f"| {what} (>= {TARGETS[net]:.1f}x PyTorch's images/s) | {ours} | {theirs} | "
                     f"{f'{ratio:.2f}x' if ratio else ''} | {met} |")
    f, t = by["shallow"]["fercnn"], by["shallow"].get("torch")
    if t:
        m = f["peak_mb"] / t["peak_mb"]
        lines.append(f"| peak RSS, shallow step (<= 1.0x PyTorch) | {f['peak_mb']:.0f} MB | {t['peak_mb']:.0f} MB | "
                     f"{m:.2f}x | {'yes' if m <= 1.0 else 'no'} |")
    convs = [c for c in layers["convs"] if c["torch_s"]]
    if convs:
        speed = [c["torch_s"] / c["fercnn_s"] for c in convs]
        ours = [c["gflop"] / c["fercnn_s"] for c in convs]
        theirs = [c["gflop"] / c["torch_s"] for c in convs]
        low = convs[speed.index(min(speed))]["layer"]
        lines.append(f"| each conv layer fwd+bwd (>= 1.0x PyTorch) | {min(ours):.0f}-{max(ours):.0f} GFLOP/s | "
                     f"{min(theirs):.0f}-{max(theirs):.0f} GFLOP/s | {min(speed):.2f}x-{max(speed):.2f}x | "
                     f"{'yes' if min(speed) >= 1.0 else 'no'} (the lowest: {low}) |")
    steps = -(-TRAIN_IMAGES // 128)
    hours = 35 * steps * by["deep"]["fercnn"]["step_s"] / 3600
    lines.append(f"| projected 35-epoch deep run (< 3 h) | {hours:.1f} h (35 x {steps} x "
                 f"{by['deep']['fercnn']['step_s']:.3f} s) | | | {'yes' if hours < 3 else 'no'} |")
    cs = train["cold_start"]
    lines.append(f"| cold start to first finished shallow step (< 20 s; cached < 5 s) | {cs['cold_s']:.1f} s; "
                 f"{cs['warm_s']:.1f} s | | | {'yes' if cs['cold_s'] < 20 and cs['warm_s'] < 5 else 'no'} |")
    return "\n".join(lines + ["", _machine(train) + f" numpy float32 matmul 4096^3: {train['gemm_gflops']:.0f} GFLOP/s."])


def conv_layers_block(layers):
    """docs/performance.md's table of each conv layer, forward + backward."""
    names = {"im2col": "im2col"}
    lines = ["| layer | method | fercnn ms | torch ms | speedup | fercnn GFLOP/s | torch GFLOP/s | im2col ms |",
             "|---|---|---|---|---|---|---|---|"]
    for c in layers["convs"]:
        method = names.get(c["method"]) or re.sub(r"^f(\d)x(\d)$", r"F(\1x\1, \2x\2)", c["method"])
        ours, t, im2col = c["fercnn_s"], c["torch_s"], c["im2col_s"]
        cells = [f"{c['layer']} {c['C']}->{c['F']} {c['kernel']}x{c['kernel']} @{c['H']}", method, f"{1e3 * ours:.1f}",
                 f"{1e3 * t:.1f}" if t else "", f"{t / ours:.2f}x" if t else "", f"{c['gflop'] / ours:.0f}",
                 f"{c['gflop'] / t:.0f}" if t else "", f"{1e3 * im2col:.1f}" if im2col else ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", _machine(layers) + f" Batch {layers['batch']}; numpy float32 matmul 4096^3: "
                              f"{layers['gemm_gflops']:.0f} GFLOP/s."])


def predict_block(predict):
    """docs/performance.md's table of prediction: forward passes beside PyTorch, detection, first use."""
    lines = ["| what | fercnn | PyTorch | fercnn's speed / PyTorch's (CPU time) |", "|---|---|---|---|"]

    def cell(r):
        return f"{r['ms']:.2f} ms ({r['p10_ms']:.1f}-{r['p90_ms']:.1f}), {r['faces_per_s']:.0f} faces/s"
    for row in predict["forward"]:
        threads = "one thread" if row["threads"] == 1 else f"{row['threads']} threads"
        ours, t = row["fercnn"], row.get("torch")
        ratio = f"{t['ms'] / ours['ms']:.2f}x ({t['cpu_ms'] / ours['cpu_ms']:.2f}x)" if t else ""
        model = row.get("model", "deep")  # results from before other models shipped
        lines.append(f"| forward, {model}, batch {row['batch']}, {threads} | {cell(ours)} | {cell(t) if t else ''} "
                     f"| {ratio} |")
        if "fercnn_numpy" in row:
            label = "... the same with the NumPy layers (the compiled kernels off: `fercnn predict`, detect_emotions)"
            ratio_numpy = f"{t['ms'] / row['fercnn_numpy']['ms']:.2f}x" if t else ""
            lines.append(f"| {label} | {cell(row['fercnn_numpy'])} | | {ratio_numpy} |")
        if "fercnn_training_ops" in row:
            lines.append(f"| ... the same with fercnn's training ops (model.predict_proba) | {cell(row['fercnn_training_ops'])} | | |")
    for size, d in predict["detection"].items():
        lines.append(f"| face detection, {size} photo (whole; around the last box) | {d['detect_ms']:.1f} ms; "
                     f"{d['near_ms']:.1f} ms | | |")
        lines.append(f"| detect_emotions, {size} photo with one face | {d['detect_emotions_ms']:.1f} ms | | |")
    fu = predict["first_use"]
    lines.append(f"| `fercnn predict photo.jpg`, first with an empty Numba cache; second | {fu['first_s']:.2f} s; "
                 f"{fu['second_s']:.2f} s | | |")
    if "kernel_compile_s" in fu:
        lines.append(f"| the compiled kernels' start (`fercnn serve`), on an empty Numba cache; from it "
                     f"| {fu['kernel_compile_s']:.2f} s; {fu['kernel_load_s']:.2f} s | | |")
    torch = f"PyTorch {predict['torch']}" if predict.get("torch") else "PyTorch not installed"
    cpu = predict["machine"].split(", Python")[0]
    note = (f"Machine: {cpu}; {torch}. Wall-clock medians, in brackets the 10th to 90th percentile of the calls; "
            "the ratio of the median process CPU times per call in brackets.")
    if predict.get("load"):
        note += f" {predict['load']}"
    return "\n".join(lines + ["", note])


def serve_block(serve):
    """docs/performance.md's table of the load test of fercnn serve."""
    lines = ["| requests | clients | requests/s | latency p50 | latency p99 | 5xx | server RSS after the first "
             f"{serve['memory_after_first']}; after all |", "|---|---|---|---|---|---|---|",
             f"| {serve['requests']} | {serve['clients']} | {serve['requests_per_s']:.1f} | {serve['p50_ms']:.0f} ms | "
             f"{serve['p99_ms']:.0f} ms | {serve['server_errors']} | {serve['rss_mb_after_first']:.0f} MB; "
             f"{serve['rss_mb_after_all']:.0f} MB |", "", "| request | answers |", "|---|---|"]
    for name, counts in serve["statuses"].items():
        lines.append(f"| {name} | {', '.join(f'{v} x {k}' for k, v in counts.items())} |")
    cpu = serve["machine"].split(", Python")[0]
    return "\n".join(lines + ["", f"Machine: {cpu}."])


def _pct(x):
    return f"{100 * x:.2f}%"


def _averaged(prov):
    epochs = prov.get("averaged_epochs")
    return (f" The shipped weights are the average of the checkpoints epochs {epochs[0]} to {epochs[-1]} ended with "
            "(`fercnn average`), not the best epoch's." if epochs else "")


def model_card_block(name):
    """docs/usage.md's figures of the shipped model ``name``, all from its file and the
    provenance in it (written by reproduction/ship_model.py): the run, the accuracies, the
    per-class confusion matrix on PrivateTest and its most frequent confusions."""
    meta, arrays = read_npz(shipped.path_of(name), "write_docs")
    prov = meta["provenance"]
    params = sum(a.size for k, a in arrays.items() if k.startswith("param/"))
    size = os.path.getsize(shipped.path_of(name)) / 2 ** 20
    resumes = f"{prov['resumes']} time{'' if prov['resumes'] == 1 else 's'}"
    lines = [f"Run `{prov['run']}`: {prov['epochs']} epochs, best validation epoch {prov['best_epoch']}, "
             f"{prov['train_seconds'] / 3600:.1f} h of training, resumed {resumes}. "
             f"{params:,} parameters; file {size:.1f} MiB." + _averaged(prov), "",
             "| | validation (PublicTest) | test (PrivateTest) |", "|---|---|---|",
             f"| the run's best epoch ({prov['best_epoch']}), float32 | {_pct(prov['run_val_accuracy'])} | "
             f"{_pct(prov['run_test_accuracy'])} |",
             f"| the shipped file (float16 parameters), one view | **{_pct(prov['val_accuracy'])}** "
             f"| **{_pct(prov['test_accuracy'])}** |"]
    if "val_accuracy_tta" in prov and "test_accuracy_tta" in prov:
        lines.append(f"| the shipped file, averaged at test time (`--tta`) | **{_pct(prov['val_accuracy_tta'])}** "
                     f"| **{_pct(prov['test_accuracy_tta'])}** |")
    classes = meta["class_names"]
    for tta, what in (("", "one view"), ("_tta", "averaged at test time")):
        if f"test_confusion{tta}" not in prov:
            continue
        cm = prov[f"test_confusion{tta}"]
        lines += ["", f"Test set (PrivateTest), {what}: rows are the true class, columns the predicted one.", "",
                  "| true \\ predicted | " + " | ".join(classes) + " | images | accuracy |",
                  "|---|" + "---|" * (len(classes) + 2)]
        for i, row in enumerate(cm):
            cells = [f"**{v}**" if j == i else str(v) for j, v in enumerate(row)]
            accuracy = f"{100 * row[i] / sum(row):.1f}%" if sum(row) else "–"
            lines.append(f"| {classes[i]} | " + " | ".join(cells) + f" | {sum(row)} | {accuracy} |")
    cm = prov.get("test_confusion")
    worst = [] if cm is None else sorted(((cm[i][j], i, j) for i in range(len(cm)) for j in range(len(cm))
                                          if i != j and cm[i][j]), reverse=True)[:3]
    if worst:
        lines += ["", "Its most frequent confusions on the test set, one view: " + "; ".join(
            f"{classes[i]} taken for {classes[j]} ({n} of {sum(cm[i])} {classes[i]} faces)" for n, i, j in worst) + "."]
    return "\n".join(lines)


def fill(text, blocks, where="the document"):
    """``text`` with the text between each block's begin/end markers replaced (also
    reproduction/report.py's); ValueError naming ``where`` and the block if one is missing."""
    for name, block in blocks.items():
        pattern = re.compile(rf"(<!-- begin:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{where} has no <!-- begin:{name} --> ... <!-- end:{name} --> block")
        text = pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), text)
    return text


def documents():
    """{path: the text it should have}."""
    train, layers = _load("train.json"), _load("layers.json")
    wanted = {os.path.join(ROOT, "docs", "cli.md"): cli_doc()}
    for path, blocks in ((os.path.join(ROOT, "README.md"), {"performance": performance_block(train)}),
                         (os.path.join(ROOT, "docs", "performance.md"),
                          {"train-steps": train_steps_block(train, layers), "conv-layers": conv_layers_block(layers),
                           "predict": predict_block(_load("predict.json")), "serve": serve_block(_load("serve.json"))}),
                         (os.path.join(ROOT, "docs", "usage.md"),
                          {f"model-card-{name}": model_card_block(name) for name in shipped.NAMES})):
        with open(path, encoding="utf-8") as f:
            wanted[path] = fill(f.read(), blocks, os.path.relpath(path, ROOT))
    return wanted


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from what it would be")
    args = p.parse_args(argv)
    stale = []
    for path, text in documents().items():
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old == text:
            continue
        stale.append(os.path.relpath(path, ROOT))
        if not args.check:
            write_text(path, text)
    if args.check and stale:
        raise SystemExit(f"write_docs: stale: {', '.join(stale)}; run python tools/write_docs.py")
    print(("stale: " if args.check else "wrote: ") + (", ".join(stale) or "nothing (all up to date)"))


if __name__ == "__main__":
    main()
