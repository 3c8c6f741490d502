"""benchmarks/profile_step.py: a line per layer and pass, and the whole step; bad counts refused."""
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "profile_step.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_every_layer_has_a_forward_and_a_backward_line():
    r = run("shallow", "--batch", "8", "--steps", "1", "--threads", "1")
    assert r.returncode == 0, r.stderr
    rows = dict(re.findall(r"^  (.+?)\s+([\d.]+) ms", r.stdout, re.M))
    from fercnn import models

    for i, layer in enumerate(models.shallow().layers):
        for kind in ("fwd", "bwd"):
            key = f"{i:02d} {type(layer).__name__} {getattr(layer, 'name', '')}".rstrip() + f" {kind}"
            assert key in rows, f"no line for {key!r} in:\n{r.stdout}"
    assert {"update", "rest (loss, decay, glue)", "whole step"} <= set(rows)
    layers = sum(float(v) for k, v in rows.items() if k.endswith((" fwd", " bwd")))
    assert 0 < layers < float(rows["whole step"])  # the layers are timed inside the step
    assert "1 threads" in r.stdout  # --threads was applied


def test_zero_steps_is_one_error_line():
    r = run("deep", "--steps", "0")
    assert r.returncode == 2
    assert "--steps and --batch must be at least 1, got 0 and 128" in r.stderr


def test_zero_threads_is_one_error_line():
    r = run("deep", "--threads", "0")
    assert r.returncode == 2
    assert "--threads must be at least 1, got 0" in r.stderr
