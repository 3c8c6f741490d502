"""fercnn exercises check: fercnn's own functions copied into an exercise folder pass every
check (the grader is the tests' checks), a fresh folder is "not started" throughout, and
each planted mistake (one exact edit of the copied source) fails exactly its function with
a line that names what is off."""
import os
import subprocess
import sys

import pytest
import solved

from fercnn.exercises.catalog import EXERCISES
from fercnn.exercises.grader import format_table, grade
from fercnn.exercises.stubs import start


@pytest.fixture(scope="module")
def solved_rows(tmp_path_factory):
    return grade(solved.write(str(tmp_path_factory.mktemp("solved"))))


def test_fercnns_own_functions_pass_every_check(solved_rows):
    assert [r.name for r in solved_rows] == [e.name for e in EXERCISES]
    failed = [f"{r.name}: {r.status} {r.line}" for r in solved_rows if r.status != "ok"]
    assert not failed, failed
    for r in solved_rows:
        assert r.passed == r.total >= 5, (r.name, r.passed, r.total)


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fercnn.cli", "exercises", *args], capture_output=True, text=True,
                          cwd=cwd)


def test_check_exits_0_on_fercnns_functions(tmp_path):
    folder = solved.write(str(tmp_path / "ex"))
    result = _cli("check", folder, "affine", "optim")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 of 6 functions pass" in result.stdout
    assert not os.path.exists(os.path.join(folder, "__pycache__")), "the grader wrote bytecode into the folder"


def test_start_then_check_reports_every_function_not_started(tmp_path):
    folder = str(tmp_path / "ex")
    result = _cli("start", folder)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(folder)) == ["README.md", "layers.py", "optim.py"]
    result = _cli("check", folder)
    assert result.returncode == 1
    rows = result.stdout.splitlines()[2:-1]
    assert len(rows) == len(EXERCISES)
    for row, e in zip(rows, EXERCISES):
        assert row.split() == [e.name, "-", "not", "started"], row
    assert f"0 of {len(EXERCISES)} functions pass; {len(EXERCISES)} not started" in result.stdout


def test_start_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = _cli("start", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: exercises start: {tmp_path} is not empty; give a new folder " \
                                    f"(nothing was written)"
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_unknown_name_and_missing_folder_are_one_error_line(tmp_path):
    start(str(tmp_path / "ex"))
    result = _cli("check", str(tmp_path / "ex"), "conv_forwrd")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: exercises: no exercise called 'conv_forwrd'; they are affine_forward,")
    assert len(result.stderr.splitlines()) == 1
    result = _cli("check", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "is not a folder" in result.stderr


def _rows(tmp_path, replace, names=()):
    return {r.name: r for r in grade(solved.write(str(tmp_path / "ex"), replace), names)}


def test_an_exception_is_one_line_with_the_learners_file_and_line(tmp_path):
    rows = _rows(tmp_path, {"layers.py": [("    dw = x2.T @ dout\n", "    dw = x2.T @ dout[:, :1] @ x2\n")]},
                 ["affine"])
    line = rows["affine_backward"].line
    text = solved.sources()["layers.py"]
    lineno = text[:text.index("    dw = x2.T @ dout\n")].count("\n") + 1
    assert rows["affine_backward"].status == "failed"
    assert "ValueError: matmul: Input operand 1 has a mismatch" in line and line.endswith(f"(layers.py:{lineno})")
    assert rows["affine_forward"].status == "ok"


def test_sys_exit_in_the_learners_code_is_a_failure_not_the_end(tmp_path):
    """sys.exit(0) in a function, or when the file is imported, would end the check with status
    0 and no table (all seemingly well): it fails that function, or the file, instead."""
    folder = solved.write(str(tmp_path / "ex"), {"layers.py": [("    dw = x2.T @ dout\n",
                                                                "    import sys\n    sys.exit(0)\n")]})
    result = _cli("check", folder, "affine")
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:-1]}
    assert "SystemExit: 0 (layers.py:" in rows["affine_backward"] and " ok" in rows["affine_forward"]
    with open(os.path.join(folder, "layers.py"), "a", encoding="utf-8") as f:
        f.write("\nimport sys\nsys.exit(0)\n")
    result = _cli("check", folder, "affine")
    assert result.returncode == 1 and "layers.py does not import: SystemExit: 0" in result.stdout, result.stdout


def test_a_folder_where_a_file_should_be_is_named(tmp_path):
    folder = solved.write(str(tmp_path / "ex"))
    os.remove(os.path.join(folder, "layers.py"))
    os.mkdir(os.path.join(folder, "layers.py"))
    rows = {r.name: r for r in grade(folder, ["affine"])}
    assert rows["affine_forward"].line == f"layers.py in {folder} is not a file", rows["affine_forward"].line


def test_a_function_that_calls_an_unstarted_one_waits_for_it(tmp_path):
    """conv_forward calling im2col, which still raises NotImplementedError."""
    rows = _rows(tmp_path, {"layers.py": [('    """x: (N, C, H, W) -> cols: (C*HH*WW, N*H_out*W_out).',
                                           '    raise NotImplementedError\n    """x: (N, C, H, W) -> cols: '
                                           '(C*HH*WW, N*H_out*W_out).')]}, ["conv", "im2col"])
    assert rows["im2col"].status == "not started"
    assert rows["conv_forward"].status == "waits" and rows["conv_forward"].line == "waits for im2col (not started)"
    assert rows["conv_forward_naive"].status == "ok"


def test_the_table_has_one_line_per_function(tmp_path):
    rows = grade(start(str(tmp_path / "ex")) and str(tmp_path / "ex"), ["relu"])
    table = format_table(rows, "ex").splitlines()
    assert table[0].split() == ["function", "checks", "result"]
    assert [line.split()[0] for line in table[2:-1]] == ["relu_forward", "relu_backward"]


# (file, [(old, new)], the function that must fail, what its line must say)
PLANTED = {
    "dx wrong only at the padded border": (
        "layers.py", [("                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += g * w[f]\n",
                       "                    if min(hs, ws) >= pad and hs + HH <= x.shape[2] + pad and ws + WW <= "
                       "x.shape[3] + pad:\n"
                       "                        dx_pad[n, :, hs:hs + HH, ws:ws + WW] += g * w[f]\n")],
        "conv_backward_naive", "dx wrong only at the padded border"),
    "dgamma off by a factor of N": (
        "layers.py", [("    return drows.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta",
                       "    return drows.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma / N, dbeta")],
        "spatial_batchnorm_backward", "dgamma off by a factor of N (1/N of the right value"),
    "running_var uses the unbiased variance": (
        "layers.py", [('        state["running_var"] += dt(1 - momentum) * var',
                       '        state["running_var"] += dt(1 - momentum) * (x.var(axis=0, ddof=1) '
                       'if op == "batchnorm_forward" else var)')],
        "batchnorm_forward", "running_var uses the unbiased variance"),
    "dropout keeps p instead of 1 - p": (
        "layers.py", [("    keep = (unit_draws(key, x.size) >= threshold).reshape(x.shape)",
                       "    keep = (unit_draws(key, x.size) < threshold).reshape(x.shape)")],
        "dropout_forward", "keeps p instead of 1 - p"),
    "dropout forgets the scaling": (
        "layers.py", [("    out = x * (x.dtype.type(scale) * keep)", "    scale = 1.0\n    out = x * keep")],
        "dropout_forward", "forgets the 1 / (1 - p) scaling"),
    "backward does not handle stride 2": (
        "layers.py", [("                    hs, ws = i * stride, j * stride", "                    hs, ws = i, j")],
        "conv_backward_naive", "backward does not handle stride 2 (stride 1 passes)"),
    "transposed dw": (
        "layers.py", [("    dw = x2.T @ dout\n", "    dw = dout.T @ x2\n")], "affine_backward", "transposed"),
    "missing bias gradient (None)": (
        "layers.py", [("    db = dout.sum(axis=0)\n", "    db = None\n")], "affine_backward",
        "db is None: the bias gradient is missing"),
    "missing bias gradient (zeros)": (
        "layers.py", [("    db = dout.sum(axis=(0, 2, 3))\n    dx = col2im",
                       "    db = np.zeros(F, dout.dtype)\n    dx = col2im")],
        "conv_backward", "db is all zeros: the bias gets no gradient"),
    "softmax without the max shift": (
        "layers.py", [("    shifted = scores - scores.max(axis=1, keepdims=True)", "    shifted = scores")],
        "softmax_loss", "exp() overflows on large scores; subtract each row's max"),
    "momentum applied before the gradient": (
        "optim.py", [('    next_w, v_new = momentum_step(*flat, c["momentum"], c["learning_rate"], bool(c["nesterov"]))',
                      '    v_new = c["momentum"] * flat[2] - c["learning_rate"] * flat[1]\n'
                      '    next_w = flat[0] + flat[2]')],
        "sgd_momentum", "momentum applied before the gradient"),
    "the update's sign": (
        "optim.py", [('    return w - w.dtype.type(c["learning_rate"]) * dw, c',
                      '    return w + w.dtype.type(c["learning_rate"]) * dw, c')],
        "sgd", "w moves up the gradient"),
    "relu gated by dout": (
        "layers.py", [("    passes = ~(out <= 0)  # out > 0, or NaN", "    passes = dout > 0")],
        "relu_backward", "dx is gated by dout > 0"),
    "overlapping pooling windows overwrite": (
        "layers.py", [("stride * W_out:stride] += np.where(which == k, dout, 0)",
                       "stride * W_out:stride] = np.where(which == k, dout, 0)")],
        "max_pool_backward", "wrong only where windows overlap"),
    "svm counts the true class": (
        "layers.py", [("    margins[rows, y] = 0\n", "")], "svm_loss", "counts the true class's own margin"),
    "adam without bias correction": (
        "optim.py", [("    m_hat = m / tp(1 - b1 ** step)", "    m_hat = m"),
                     ("    v_hat = v / tp(1 - b2 ** step)", "    v_hat = v")],
        "adam", "no bias correction"),
    "a float64 buffer": (
        "layers.py", [("    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)",
                       "    out = np.zeros((N, F, H_out, W_out))")],
        "conv_forward_naive", "out is float64 for float32 inputs"),
    "relu changes x in place": (
        "layers.py", [("    out = np.maximum(x, x.dtype.type(0))", "    out = np.maximum(x, x.dtype.type(0), out=x)")],
        "relu_forward", "forward changes its input x in place"),
    "a flipped kernel": (
        "layers.py", [("                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]",
                       "                    out[n, f, i, j] = np.sum(window * w[f, :, ::-1, ::-1]) + b[f]"),
                      ("                    dw[f] += g * x_pad[n, :, hs:hs + HH, ws:ws + WW]",
                       "                    dw[f] += g * x_pad[n, :, hs:hs + HH, ws:ws + WW][:, ::-1, ::-1]"),
                      ("                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += g * w[f]",
                       "                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += g * w[f, :, ::-1, ::-1]")],
        "conv_forward_naive", "true convolution (the kernel flipped)"),
}
# a planted mistake in a forward leaves the checks of its backward that need the right forward waiting
WAITING = {"a float64 buffer": {"conv_backward_naive"}, "a flipped kernel": {"conv_backward_naive"}}
# the functions graded with each planted mistake: every one that shares code with it (the others
# are separate functions of the copied source, and the whole folder passes: the first test)
GROUPS = {"conv": ["conv", "im2col", "col2im"], "batchnorm": ["batchnorm", "spatial_batchnorm"],
          "spatial_batchnorm": ["batchnorm", "spatial_batchnorm"]}


@pytest.mark.parametrize("mistake", PLANTED)
def test_a_planted_mistake_fails_exactly_its_function_and_is_named(tmp_path, mistake):
    file, replace, function, words = PLANTED[mistake]
    family = next(e.family for e in EXERCISES if e.name == function)
    group = ["optim"] if file == "optim.py" else GROUPS.get(family, [family])
    rows = _rows(tmp_path, {file: replace}, group)
    failed = {name for name, r in rows.items() if r.status != "ok"}
    assert failed == {function} | WAITING.get(mistake, set()), {n: rows[n].line for n in failed}
    row = rows[function]
    assert row.status == "failed" and row.passed < row.total
    assert words in row.line, row.line
    for name in WAITING.get(mistake, ()):
        assert rows[name].status == "waits" and f"wait for {function}" in rows[name].line, rows[name].line
    print(f"{function}: {row.line}")
