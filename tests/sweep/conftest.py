"""Fixtures of the sweep tests: the Ray environment, and one local run of the tiny search
that the cluster and resume tests compare with.

Ray is optional: the tests that run a search take the ``ray_env`` fixture and are skipped,
saying why, where Ray Tune is not installed; the checks of the spec run everywhere.
"""
import os
import secrets
import time

import pytest
from sweep_helpers import ray_descendants, tiny_spec


@pytest.fixture(scope="session")
def ray_env():
    """Skip without Ray Tune; otherwise a Ray environment for the tests: an authentication
    token of their own (so that Ray writes none into ~/.ray) and no usage statistics. Yields
    the variables set."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        pytest.skip("Ray Tune is not installed (pip install -e \".[sweep]\" in the fercnn checkout): "
                    "the searches cannot run")
    if not os.path.isdir("/proc/self"):
        pytest.skip("finding the Ray processes a test started needs /proc (Linux)")
    env = {"RAY_USAGE_STATS_ENABLED": "0"}
    if "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN" not in os.environ:
        # Ray reads RAY_AUTH_MODE once per process: leave it to Ray, which turns token mode on
        # when it starts a local Ray or finds a token
        env["RAY_AUTH_TOKEN"] = secrets.token_hex(16)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def local_sweep(ray_env, tmp_path_factory):
    """The tiny search on a Ray started on this machine with 2 CPUs (one trial per CPU, one
    thread per trial): the reference the cluster and resume tests compare with."""
    from fercnn.sweep import run

    out = tmp_path_factory.mktemp("local") / "sweep"
    before = ray_descendants()
    t0 = time.time()
    sweep = run(tiny_spec(), out=str(out), cpus=2)
    sweep.wall_seconds = time.time() - t0
    sweep.left_running = sorted(set(ray_descendants()) - set(before))
    return sweep
