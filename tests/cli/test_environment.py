"""Settings in the environment that fercnn or its libraries cannot use are one 'error:' line
naming the variable and exit status 2, before anything starts (Numba used to raise a
traceback at import for NUMBA_NUM_THREADS=0, and to print one inside a warning for text)."""
import os
import subprocess
import sys

import pytest

from fercnn.runtime import check_thread_settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(cmd, tmp_path, **env):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, **env})


@pytest.mark.parametrize("variable,value", [
    ("NUMBA_NUM_THREADS", "0"), ("NUMBA_NUM_THREADS", "-1"), ("NUMBA_NUM_THREADS", "abc"), ("NUMBA_NUM_THREADS", "2.5"),
    ("OMP_NUM_THREADS", "zero"), ("OPENBLAS_NUM_THREADS", "0"), ("MKL_NUM_THREADS", "many"),
])
@pytest.mark.parametrize("command", ["fercnn", "script"])
def test_a_bad_thread_count_is_one_line(tmp_path, variable, value, command):
    cmd = [sys.executable, "-m", "fercnn.cli", "predict", "photo.png"] if command == "fercnn" else \
        [sys.executable, os.path.join(ROOT, "examples", "train_linear.py")]
    done = _run(cmd, tmp_path, **{variable: value})
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.splitlines() == [f"error: {variable} must be a positive whole number of threads, got "
                                        f"{value!r}; set it to 1 or more, or unset it to use every core"]


def test_good_thread_counts_pass():
    check_thread_settings({"NUMBA_NUM_THREADS": "2", "OMP_NUM_THREADS": "4,2", "MKL_NUM_THREADS": " 1 "})
    check_thread_settings({"NUMBA_NUM_THREADS": ""})


@pytest.mark.parametrize("variable", ["FERCNN_MAX_PIXELS", "FERCNN_MAX_PARAMS"])
def test_a_bad_limit_is_one_line(tmp_path, variable):
    from PIL import Image
    Image.new("L", (60, 60), 90).save(tmp_path / "photo.png")
    done = _run([sys.executable, "-m", "fercnn.cli", "predict", "photo.png", "--no-detect"], tmp_path,
                **{variable: "1e9"})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{variable} must be a positive whole number, got '1e9'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
