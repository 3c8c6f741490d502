"""Helpers the tests import (`from shared_helpers import ...`; pytest.ini puts tests/ on the
path). They live here and not in tests/conftest.py: `from conftest import` took whichever
conftest.py pytest had loaded last under that name (tests/sweep/ has one too), so it depended
on the order of collection."""
import os
import shutil
import subprocess

import pytest

from fercnn.gradient_check import rel_error


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
