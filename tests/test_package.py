import platform
import subprocess
import sys

import pytest

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"  # reuse_freed_memory acts there only


def test_import_prints_and_compiles_nothing():
    code = (
        "import fercnn, fercnn.layers, fercnn.fast, fercnn.gradient_check, fercnn.cli, fercnn.predict\n"
        "import fercnn.models, fercnn.train.solver, fercnn.data, fercnn.cli.experiment, fercnn.visualize\n"
        "import fercnn.exercises.grader, fercnn.exercises.stubs, fercnn.exercises.train, fercnn.cli.exercises\n"
        "from fercnn.fast import _conv_kernels, _pool_kernels, _bn_kernels, _elementwise_kernels\n"
        "from numba.core.registry import CPUDispatcher\n"
        "mods = [_conv_kernels, _pool_kernels, _bn_kernels, _elementwise_kernels]\n"
        "kernels = [k for m in mods for k in vars(m).values() if isinstance(k, CPUDispatcher)]\n"
        "assert len(kernels) >= 12, kernels\n"
        "compiled = [k.py_func.__name__ for k in kernels if k.signatures]\n"
        "assert not compiled, compiled\n"
        "import sys\n"
        "assert 'torch' not in sys.modules, 'fercnn imported torch'  # the tests' cross-check only\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == "", (done.stdout, done.stderr)


def test_reuse_freed_memory_reports_whether_it_applied():
    from fercnn.runtime import reuse_freed_memory

    applied = reuse_freed_memory()
    assert applied is reuse_freed_memory()  # idempotent
    if GLIBC:
        assert applied is True


def test_after_reuse_freed_memory_a_thread_reuses_freed_memory():
    """A new thread that holds 32 MB and allocates 48 MB more, three times, gets the same
    pages back the second and third time (no page faults). With an arena of its own the
    48 MB did not fit beside the 32 MB in the thread's first 64 MB heap: glibc mapped a new
    heap for it and unmapped it on free, so every allocation was faulted in afresh (at
    least 24 faults for 48 MB, even in 2 MB pages)."""
    if not GLIBC:
        pytest.skip("glibc's malloc only")
    code = ("import resource, threading, numpy as np\n"
            "from fercnn.runtime import reuse_freed_memory\n"
            "assert reuse_freed_memory()\n"
            "faults = []\n"
            "def work():\n"
            "    held = np.ones(8 << 20, dtype=np.float32)\n"
            "    for _ in range(3):\n"
            "        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt\n"
            "        np.empty(12 << 20, dtype=np.float32).fill(1)\n"
            "        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)\n"
            "t = threading.Thread(target=work); t.start(); t.join()\n"
            "print(*faults)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first, *again = (int(v) for v in done.stdout.split())
    assert first >= 24, f"the first allocation is new memory and must fault in, got {first} faults"
    assert max(again) < 8, f"page faults when the thread allocated again: {again} (first time: {first})"


def test_the_readable_layers_need_no_numba():
    """fercnn.layers is plain NumPy: importing it (and running an op) loads no Numba."""
    code = ("import sys, numpy as np\n"
            "import fercnn.layers as L\n"
            "L.conv_forward(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), np.zeros(2), pad=1)\n"
            "print('numba' in sys.modules, 'threadpoolctl' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"


def test_importing_fercnn_first_makes_idle_threads_sleep():
    """fercnn.runtime.quiet_idle_threads: set where it can act, a user's value kept, nothing
    set once the library has loaded, and FERCNN_QUIET_THREADS=0 turns it off."""
    import json
    import os

    code = ("import json, os, sys\n"
            "if sys.argv[1] == 'numpy': import numpy\n"
            "if sys.argv[1] == 'numba':\n"
            "    import numba, numpy\n"
            "    numba.njit(parallel=True)(lambda a: a.sum())(numpy.ones(4))  # starts Numba's threads\n"
            "import fercnn\n"
            "print(json.dumps([os.environ.get('OPENBLAS_THREAD_TIMEOUT'), os.environ.get('OMP_WAIT_POLICY'),"
            " fercnn.runtime.quiet_idle_threads()]))\n")
    names = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY", "FERCNN_QUIET_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in names}

    def run(first, **extra):
        done = subprocess.run([sys.executable, "-c", code, first], capture_output=True, text=True, env={**env, **extra})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    both = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")
    assert run("fercnn") == ["4", "PASSIVE", dict.fromkeys(both, "set")]
    assert run("numpy") == [None, "PASSIVE", {"OPENBLAS_THREAD_TIMEOUT": "too late", "OMP_WAIT_POLICY": "set"}]
    assert run("numba") == [None, None, dict.fromkeys(both, "too late")]
    assert run("fercnn", OMP_WAIT_POLICY="ACTIVE") == ["4", "ACTIVE", {"OPENBLAS_THREAD_TIMEOUT": "set",
                                                                        "OMP_WAIT_POLICY": "kept"}]
    assert run("fercnn", FERCNN_QUIET_THREADS="0") == [None, None, dict.fromkeys(both, "off")]
