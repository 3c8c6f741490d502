"""The walkthrough's figures and the benchmark's --json results are written atomically, through
fercnn.fileio (fercnn.plots.save_figure, write_json), like every other file fercnn writes."""
import importlib.util
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# a file written straight to its final path: a kill while writing leaves it torn
DIRECT_WRITE = re.compile(r"\.savefig\(|open\([^)]*[\"'][wa]b?[\"']|\.write_(text|bytes)\(|json\.dump\(")


def _walkthrough_code():
    spec = importlib.util.spec_from_file_location("walkthrough_run", os.path.join(ROOT, "docs", "walkthrough", "run.py"))
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    return {f"{chapter} block {k}": block for chapter in run.chapters()
            for k, block in enumerate(run.code_blocks(chapter), 1)}


def test_no_direct_writes_in_the_walkthrough_or_the_benchmark():
    sources = _walkthrough_code()
    with open(os.path.join(ROOT, "benchmarks", "bench_train.py"), encoding="utf-8") as f:
        sources["benchmarks/bench_train.py"] = f.read()
    with open(os.path.join(ROOT, "docs", "walkthrough", "run.py"), encoding="utf-8") as f:
        sources["docs/walkthrough/run.py"] = f.read()
    found = [f"{where}: {line.strip()}" for where, text in sources.items()
             for line in text.splitlines() if DIRECT_WRITE.search(line)]
    assert not found, "written without fercnn.fileio.atomic_write:\n" + "\n".join(found)
    assert "write_json(args.json, results" in sources["benchmarks/bench_train.py"]
    assert sum("save_figure(fig, \"figures/" in text for text in sources.values()) == 5  # chapters 2, 6, 8, 9, 10
