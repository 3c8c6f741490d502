"""A run killed with SIGKILL at arbitrary moments and resumed each time ends bit for bit
where the same run ends uninterrupted (parameters, batchnorm statistics, loss history)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fercnn.models import load
from fercnn.train import checkpoint as ckpt

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resume_worker.py")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def _start(out, *args):
    return subprocess.Popen([sys.executable, WORKER, str(out), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _newest_iteration(out):
    paths = ckpt.list_checkpoints(os.path.join(out, "checkpoints"))
    return int(os.path.basename(paths[-1]).split("_iter")[1][:7]) if paths else 0


def _kill_after_checkpoint(proc, out, after_iteration, delay):
    """SIGKILL ``proc`` ``delay`` seconds after a checkpoint past ``after_iteration`` exists."""
    deadline = time.monotonic() + 120
    while _newest_iteration(out) <= after_iteration:
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    time.sleep(delay)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return _newest_iteration(out)


def test_sigkilled_and_resumed_run_equals_the_uninterrupted_one(tmp_path):
    whole = _start(tmp_path / "whole")
    killed_at = []
    cut = _start(tmp_path / "cut", "--step-sleep", "0.05")
    killed_at.append(_kill_after_checkpoint(cut, tmp_path / "cut", 0, 0.07))  # mid-step, early in epoch 1
    cut = _start(tmp_path / "cut", "--resume", "--step-sleep", "0.05")
    killed_at.append(_kill_after_checkpoint(cut, tmp_path / "cut", killed_at[-1] + 8, 0.13))  # in epoch 2 or 3
    cut = _start(tmp_path / "cut", "--resume")
    for proc in (whole, cut):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    assert killed_at[0] < killed_at[1] < 32  # both kills came before the end (4 epochs x 8 batches)

    a, b = load(tmp_path / "whole" / "final.npz"), load(tmp_path / "cut" / "final.npz")
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    for layer, stats in a.bn_state.items():
        for s in stats:
            assert np.array_equal(stats[s], b.bn_state[layer][s]), f"{layer}/{s}"
    ha, hb = (json.loads((tmp_path / d / "checkpoints" / "history.json").read_text()) for d in ("whole", "cut"))
    assert ha["loss"] == hb["loss"] and len(ha["loss"]) == 32
    assert ha["val_acc"] == hb["val_acc"] and ha["train_acc"] == hb["train_acc"]
    assert [r["iteration"] for r in hb["resumes"]] == killed_at and ha["resumes"] == []
