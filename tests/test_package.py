import subprocess
import sys


def test_import_prints_and_compiles_nothing():
    code = (
        "import fercnn, fercnn.layers, fercnn.gradient_check\n"
        "from fercnn.layers import _conv_kernels as c, _pool_kernels as p\n"
        "kernels = [c.im2col, c.col2im, c.fnp_to_nchw, c.nchw_to_fnp, p.max_pool_forward, p.max_pool_backward]\n"
        "compiled = [k.py_func.__name__ for k in kernels if k.signatures]\n"
        "assert not compiled, compiled\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == "", (done.stdout, done.stderr)
