"""benchmarks/ab_winograd.py: a commit against itself is identical on every layer; bad
arguments are one error line."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "ab_winograd.py"
IN_GIT = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not IN_GIT, reason="needs the project's git history")
def test_head_against_itself_gives_identical_results_on_each_layer():
    # HEAD's winograd.py and kernels beside the checked-out ones: the same code in a clean
    # checkout (as in CI), loaded twice
    r = run("--against", "HEAD", "--rounds", "1", "--batch", "2")
    assert r.returncode == 0, r.stderr
    rows = re.findall(r"^  (shallow conv2|deep conv\d) +(f\dx\d) +A +[\d.]+ ms +B +[\d.]+ ms +"
                      r"B speed / A speed = [\d.]+x +(.*)$", r.stdout, re.M)
    assert [name for name, _, _ in rows] == ["shallow conv2", "deep conv2", "deep conv3", "deep conv4"], r.stdout
    assert all(verdict == "identical out, dx, dw, db" for _, _, verdict in rows), r.stdout
    assert "batch 2" in r.stdout


def test_unknown_commit_is_one_error_line():
    r = run("--against", "no-such-commit")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1].startswith(
        "ab_winograd: cannot read fercnn/fast/_winograd_kernels.py at 'no-such-commit'")


def test_zero_rounds_is_one_error_line():
    r = run("--against", "HEAD", "--rounds", "0")
    assert r.returncode == 2
    assert "--rounds and --batch must be at least 1, got 0 and 128" in r.stderr


def test_a_result_that_changed_is_named_with_its_size(capsys):
    """compare_layers against a B whose dw is off by about 1e-6 of itself: every layer says
    'differ', naming dw and only dw (a tool that always printed 'identical' would pass the test
    above)."""
    import importlib.util
    from types import SimpleNamespace

    import numpy as np

    from fercnn.fast import winograd

    spec = importlib.util.spec_from_file_location("ab_winograd_script", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    def backward_off(*args):
        dx, dw, db = winograd.winograd_backward(*args)
        return dx, dw * np.float32(1 + 1e-6), db

    B = SimpleNamespace(winograd_forward=winograd.winograd_forward, winograd_backward=backward_off)
    script.compare_layers(winograd, B, rounds=1, batch=1)
    verdicts = re.findall(r"^  (?:shallow conv2|deep conv\d) .*x +(identical.*|differ.*)$", capsys.readouterr().out, re.M)
    assert len(verdicts) == 4, verdicts
    for verdict in verdicts:
        found = re.fullmatch(r"differ \(max \|A - B\| / max \|A\|\): dw by ([\d.]+e-\d\d)", verdict)
        assert found and 2e-7 < float(found.group(1)) < 5e-6, verdict
