"""Searches over the paper's family of networks and their recipe, run by Ray Tune: on this
machine by default, unchanged on a Ray cluster.

    from fercnn.sweep import run
    sweep = run("examples/sweep_synthetic.toml")             # or a dict of the same shape
    sweep = run("spec.toml", address="10.0.0.1:6379")        # a running Ray cluster
    sweep = run("spec.toml", resume=True)                    # continue a stopped sweep
    print(sweep.table); sweep.best["trial"]

The spec's format is in fercnn/sweep/spec.py and fercnn/sweep/network.py, a trial's run
folder in fercnn/sweep/trial.py, the sweep's folder in fercnn/sweep/results.py. Importing
this package imports neither Ray nor Numba; Ray (pip install -e ".[sweep]" in the fercnn
checkout) is needed when a sweep runs.
"""
from fercnn.sweep.results import Sweep
from fercnn.sweep.runner import run
from fercnn.sweep.spec import read_spec

__all__ = ["run", "read_spec", "Sweep"]
