"""The tiny search on a Ray cluster of two nodes on 127.0.0.1, a head and one more, each with
one CPU, started by the test with `ray start --head --port ...` and `ray start --address ...`:
the trials run on both nodes (each trial's node.json names its node), and the results equal
the local run's (same seeds, one thread per trial: the same numbers, bit for bit).

The test stops its cluster itself, whatever happens: every process of the two `ray start`
sessions, by process id. (`ray stop` would end every Ray process on the machine, other
users' included.)"""
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from sweep_helpers import session_pids, stop_sessions, tiny_spec

from fercnn.models import load
from fercnn.sweep import run
from fercnn.sweep.results import table


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports():
    """Ports of their own for each node, so that two nodes fit on one machine."""
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
             "metrics-export-port", "runtime-env-agent-port")
    return [f"--{n}={_free_port()}" for n in names]


def _ray_start(args, env):
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    proc = subprocess.Popen([ray, "start", "--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
                             *_ports(), *args], env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return proc


@pytest.fixture
def cluster(ray_env, tmp_path_factory):
    """A head and a second node on 127.0.0.1; yields the head's address; stops both."""
    import ray

    env = dict(os.environ)
    if "RAY_AUTH_TOKEN" in env:  # `ray start --address` turns token mode on only when told
        env.setdefault("RAY_AUTH_MODE", "token")
    temp = tmp_path_factory.mktemp("c", numbered=True)  # Ray's sockets need a short path
    port = _free_port()
    sessions = []
    try:
        for args in (["--head", f"--port={port}", f"--temp-dir={temp}", "--include-dashboard=false",
                      f"--dashboard-port={_free_port()}"], [f"--address=127.0.0.1:{port}"]):
            proc = _ray_start(args, env)
            sessions.append(proc.pid)
            output, _ = proc.communicate(timeout=240)
            assert proc.returncode == 0, output[-3000:]
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        killed = stop_sessions(sessions)
        left = [p for s in sessions for p in session_pids(s)]
        assert not left, f"Ray processes still running after the test: {left}"
        if killed:
            print(f"cluster: {len(killed)} processes needed SIGKILL")


def test_the_same_search_on_a_two_node_cluster(cluster, local_sweep, tmp_path):
    t0 = time.time()
    out = tmp_path / "sweep"
    sweep = run(tiny_spec(), out=str(out), address=cluster)
    print(f"cluster sweep: {time.time() - t0:.0f} s (the local one: {local_sweep.wall_seconds:.0f} s)")
    keys = ["conv_blocks", "lr"]
    assert table(sweep.rows, keys, seconds=False) == table(local_sweep.rows, keys, seconds=False)
    assert [r["val_acc"] for r in sweep.rows] == [r["val_acc"] for r in local_sweep.rows]
    for r in sweep.rows:  # the models themselves, bit for bit
        a = load(os.path.join(local_sweep.out, "trials", r["trial"], "model.npz"))
        b = load(os.path.join(out, "trials", r["trial"], "model.npz"))
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params), r["trial"]
    nodes = {}
    for r in sweep.rows:
        with open(out / "trials" / r["trial"] / "node.json", encoding="utf-8") as f:
            start, = json.load(f)["starts"]
        nodes.setdefault(start["node_id"], []).append((r["trial"], start["pid"]))
        assert start["threads"]["numba"] == 1
    print("trials per node:", {node[:8]: trials for node, trials in nodes.items()})
    assert len(nodes) == 2, nodes  # one CPU per node, two trials at a time: both nodes ran trials
