import numpy as np
import pytest

from fercnn.gradient_check import rel_error


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def assert_grad_close(name, analytic, numeric, tol=1e-7):
    """Fail with the relative error in the message, not just a bool."""
    err = rel_error(analytic, numeric)
    assert err < tol, f"{name}: relative error {err:.3e} >= {tol:.0e}"


@pytest.fixture(params=["layers", "fast"])
def ops(request):
    """The readable ops (fercnn.layers) and the fast ones (fercnn.fast): tests that take this
    fixture hold both to the same contract."""
    import fercnn.fast
    import fercnn.layers
    return {"layers": fercnn.layers, "fast": fercnn.fast}[request.param]
