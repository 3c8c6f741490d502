import numpy as np
import pytest

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


@pytest.fixture(autouse=True)
def _kernels_off_after_each_test():
    """fercnn.inference's compiled kernels are a switch of the process: a test that turns them
    on (tests/inference/test_kernel.py) must not change what the next test in the same
    pytest-xdist worker predicts. It imports nothing: only a process that loaded them can have them on."""
    yield
    import sys

    kernel = sys.modules.get("fercnn.inference.kernel")
    if kernel is not None and kernel.ready():
        kernel.disable()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=["layers", "fast"])
def ops(request):
    """The readable ops (fercnn.layers) and the fast ones (fercnn.fast): tests that take this
    fixture hold both to the same contract."""
    import fercnn.fast
    import fercnn.layers
    return {"layers": fercnn.layers, "fast": fercnn.fast}[request.param]
