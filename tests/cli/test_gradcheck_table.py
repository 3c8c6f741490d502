"""`fercnn gradcheck`: every op passes, and a broken backward is caught."""
import numpy as np

from fercnn.cli import gradcheck
from fercnn.cli import gradcheck as command
from fercnn.gradient_check import scaled_rel_error


def test_every_op_passes_and_the_table_lists_them(capsys):
    rows = gradcheck.check_all(np.random.default_rng(0))
    ops = {op for op, *_ in rows}
    assert {"affine", "relu", "max-pool 2x2", "batchnorm", "spatial batchnorm", "dropout p=0.4",
            "batchnorm+relu+dropout", "softmax loss", "svm loss"} <= ops
    assert all(ok for *_, ok in rows), [r for r in rows if not r[3]]
    assert command.main(["--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert f"{len(rows)} of {len(rows)} gradients within 1e-07" in out


def test_a_wrong_backward_fails(monkeypatch, capsys):
    real = gradcheck.relu_backward
    monkeypatch.setattr(gradcheck, "relu_backward", lambda dout, cache: 1.01 * real(dout, cache))
    assert command.main([]) == 1
    out = capsys.readouterr().out
    relu_line = next(line for line in out.splitlines() if line.startswith("relu ") and "dx" in line)
    assert relu_line.endswith("FAIL")


def test_scaled_rel_error():
    a = np.array([1.0, 1e-6])
    assert scaled_rel_error(a, a) == 0
    # a 1e-12 slip on the tiny entry is judged against 1e-3 of the largest, not against 1e-6
    assert scaled_rel_error(a, a + [0, 1e-12]) < 1e-8
    assert scaled_rel_error(a, a * [1.001, 1]) > 1e-4
