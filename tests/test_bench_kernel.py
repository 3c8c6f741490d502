"""benchmarks/bench_kernel.py: it finds every conv layer of a real pass and times both ways."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_kernel.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_kernel_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_finds_every_conv_layer_of_a_pass(bench):
    from fercnn.inference import Predictor
    from fercnn.models import pretrained

    model = pretrained("deep")
    X = model.prepare(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
    found = bench.layer_inputs(Predictor(model), X)
    assert [x.shape for _, x in found] == [(1, 48, 48, 1), (1, 24, 24, 64), (1, 12, 12, 128), (1, 6, 6, 512)]
    calls = []
    ms = bench.alternating_ms({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2, calls=2)
    assert set(ms) == {"a", "b"} and calls == ["a"] * 3 + ["b"] * 3 + ["a", "a", "b", "b"] * 2


def test_its_tables_run_and_leave_the_kernels_as_they_were(bench, capsys):
    from fercnn.inference import kernel
    from fercnn.models import pretrained

    kernel.disable()
    bench.layers_table(pretrained("deep"), rounds=1)
    bench.passes_table(pretrained("deep"), rounds=1)
    out = capsys.readouterr().out
    assert not kernel.ready()
    # the 12 x 12 layer: F(3x3, 3x3) in NumPy, F(4x4, 3x3) in the banded kernel
    assert "conv3 (1, 12, 12, 128): numpy (f3x3)" in out and "kernels (f4x3)" in out
    assert out.count(" faces: numpy") == 4 and "1 face : numpy" in out
