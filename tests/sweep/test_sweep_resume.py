"""A search killed during its second trial and continued with --resume: the first trial is
not trained again, the second goes on from its newest checkpoint, and the final table (and
every model) equals the uninterrupted search's (the local_sweep fixture: the same trials,
run two at a time; here one at a time, so that a kill lands in the second).

The kill is SIGKILL to every process of the search at once (the command, Ray's daemons, the
trial's worker): what a machine that loses power does to it."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from sweep_helpers import TINY_TOML, session_pids, stop_sessions

from fercnn.models import load
from fercnn.sweep.results import collect, table
from fercnn.train import checkpoint as ckpt


def _results(out, trial):
    path = out / "trials" / trial / "results.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _kill_session(sid):
    """SIGKILL every process of the session until none is left (a dying raylet may still start one)."""
    deadline = time.monotonic() + 30
    while session_pids(sid) and time.monotonic() < deadline:
        for pid in session_pids(sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def test_killed_in_the_second_trial_and_resumed(ray_env, local_sweep, tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_TOML.replace("[search]", "[search]\nmax_concurrent = 1"))
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "fercnn.cli", "sweep", str(spec), "--out", str(out)]
    sessions = []
    try:
        t0 = time.time()
        first = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        sessions.append(first.pid)
        checkpoints = out / "trials" / "trial_001" / "checkpoints"
        deadline = time.monotonic() + 600
        while not ((_results(out, "trial_000") or {}).get("finished") and ckpt.list_checkpoints(checkpoints)):
            assert first.poll() is None, "the search ended before the kill: " + first.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the second trial wrote no checkpoint in 10 minutes"
            time.sleep(0.05)
        _kill_session(first.pid)
        first.wait()
        killed_after = time.time() - t0
        interrupted = _results(out, "trial_001")
        assert interrupted is None or not interrupted["finished"], "the kill came after the second trial ended"
        newest = os.path.basename(ckpt.list_checkpoints(checkpoints)[-1])
        first_trial = {n: (out / "trials" / "trial_000" / n).read_bytes() for n in ("results.json", "model.npz")}

        t1 = time.time()
        second = subprocess.Popen(command + ["--resume"], start_new_session=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        sessions.append(second.pid)
        output, _ = second.communicate(timeout=900)
        assert second.returncode == 0, output[-3000:]
        print(f"killed after {killed_after:.0f} s, at {newest} of trial_001; resumed search: {time.time() - t1:.0f} s")
    finally:
        stop_sessions(sessions)
        left = [p for s in sessions for p in session_pids(s)]
        assert not left, f"processes of the search still running: {left}"

    assert "resuming the search in" in output
    # the first trial was not trained again: its files are the same bytes, its history has no resume
    assert {n: (out / "trials" / "trial_000" / n).read_bytes() for n in first_trial} == first_trial
    assert json.loads((out / "trials" / "trial_000" / "history.json").read_text())["resumes"] == []
    # the second went on from the checkpoint it had when it was killed
    resumes = json.loads((out / "trials" / "trial_001" / "history.json").read_text())["resumes"]
    assert [r["checkpoint"] for r in resumes] == [newest]
    starts = json.loads((out / "trials" / "trial_001" / "node.json").read_text())["starts"]
    assert len(starts) == 2 and starts[0]["pid"] != starts[1]["pid"]
    # and the search ends as the uninterrupted one did
    rows = collect(str(out))
    keys = ["conv_blocks", "lr"]
    assert table(rows, keys, seconds=False) == table(local_sweep.rows, keys, seconds=False)
    final = (out / "table.txt").read_text()
    assert final.startswith(table(rows, keys).splitlines()[0])
    for r in rows:
        a = load(os.path.join(local_sweep.out, "trials", r["trial"], "model.npz"))
        b = load(out / "trials" / r["trial"] / "model.npz")
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params), r["trial"]
