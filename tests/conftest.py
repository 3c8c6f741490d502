import os
import shutil
import subprocess

import numpy as np
import pytest

from fercnn.gradient_check import rel_error

TOGETHER = ("tests/sweep/",)  # the tests under these folders run one after another, in one worker


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist's default distribution (pytest.ini runs the suite on every core),
    each test goes to whichever worker is free, except that the tests under a folder of
    TOGETHER all go to one worker, in order: the sweep tests share one local Ray search (a
    session fixture, which each worker would run again) and start Ray clusters, which two
    workers would do side by side. (pytest-xdist's own xdist_group marker, tried first, did not:
    under pytest 9.2 and pytest-xdist 3.8 one group's tests went to both workers.) Other --dist
    modes are left to pytest-xdist; tests/test_suite_schedule.py checks this one."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TogetherScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return next((folder for folder in TOGETHER if nodeid.startswith(folder)), nodeid)

    return TogetherScheduling(config, log)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def assert_grad_close(name, analytic, numeric, tol=1e-7):
    """Fail with the relative error in the message, not just a bool."""
    err = rel_error(analytic, numeric)
    assert err < tol, f"{name}: relative error {err:.3e} >= {tol:.0e}"


def one_error_line(done, status, message):
    """A finished command (subprocess.CompletedProcess) that ended with exit ``status`` and
    exactly one stderr line, 'error: ...' containing ``message``; returns that line."""
    assert done.returncode == status, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert message in lines[0], lines[0]
    return lines[0]


@pytest.fixture(params=["layers", "fast"])
def ops(request):
    """The readable ops (fercnn.layers) and the fast ones (fercnn.fast): tests that take this
    fixture hold both to the same contract."""
    import fercnn.fast
    import fercnn.layers
    return {"layers": fercnn.layers, "fast": fercnn.fast}[request.param]


def as_ordinary_user():
    """A command prefix under which a subprocess obeys file permissions as an ordinary user
    does: for root, util-linux's setpriv taking CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH out
    of its capabilities (root still owns its files, so it reads them); nothing for other
    users. Skips the test, saying why, where root cannot drop them."""
    if os.geteuid() != 0:
        return []
    prefix = [shutil.which("setpriv") or "setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    try:
        ok = subprocess.run(prefix + ["true"], capture_output=True).returncode == 0
    except OSError:
        ok = False
    if not ok:
        pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE here: root writes into read-only folders")
    return prefix
