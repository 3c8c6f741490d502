"""The driver of a sweep: check everything, start (or join) Ray, let Ray Tune run the trials,
then write the table, the best model and the figures.

Ray Tune keeps its experiment in OUT/tune/ (storage_path OUT, name "tune"); the trials' run
folders are OUT/trials/trial_NNN/. On a cluster OUT must be storage every node reaches at
the same path (NFS, say): the trials write their folders there and Tune its state.
"""
import contextlib
import json
import logging
import os
import re
import socket

from fercnn.fileio import write_json
from fercnn.sweep.spec import grid_size, max_epochs, read_spec, swept
from fercnn.sweep.trial import THREAD_VARS

TUNE_DIR = "tune"


def run(spec, *, out=None, address=None, resume=False, cpus=None, quiet=False):
    """Run the search ``spec`` describes (a TOML file's path, or a dict of the same shape).

    out: the sweep's folder (default runs/sweep_<name>). address: "HOST:PORT" of a running
    Ray cluster's head (default: start Ray on this machine, with ``cpus`` CPUs, default all).
    resume: continue the sweep in ``out`` (finished trials are kept, interrupted ones go on
    from their checkpoints). quiet: no line per epoch.

    Everything is checked before anything starts: a bad spec, an ``out`` that holds another
    sweep (or none, with resume), an address where no Ray answers, data that cannot be read
    raise one ValueError. Returns fercnn.sweep.results.Sweep: the rows of the table, the best
    trial and whether every trial ended.
    """
    from fercnn.sweep.data import describe, load_faces
    from fercnn.sweep.results import finish

    spec = read_spec(spec)
    out = os.path.abspath(out or os.path.join("runs", f"sweep_{spec['name']}"))
    _check_out(out, spec, resume)
    if address is not None:
        if cpus is not None:
            raise ValueError("sweep: --cpus is for a Ray started on this machine; a cluster has the CPUs its "
                             "nodes were started with (ray start --num-cpus)")
        _check_address(address)
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1):
        raise ValueError(f"sweep: cpus must be an integer >= 1, got {cpus!r}")
    _import_ray()
    raw = load_faces(spec["data"])
    say = (lambda *a: None) if quiet else print
    say(f"sweep {spec['name']}: {grid_size(spec)} trials ({spec['search']['algorithm']}), "
        f"{describe(spec['data'], raw)}; folder {out}")

    os.makedirs(os.path.join(out, "trials"), exist_ok=True)
    if not resume or not os.path.exists(os.path.join(out, "spec.json")):
        write_json(os.path.join(out, "spec.json"), spec, indent=1)
    with _ray(spec, address, cpus):
        grid = _fit(spec, out, raw, resume, say)
    return finish(spec, out, grid, say=print)


def _check_out(out, spec, resume):
    saved = os.path.join(out, "spec.json")
    if not resume:
        if os.path.exists(saved) or os.path.exists(os.path.join(out, TUNE_DIR)):
            raise ValueError(f"sweep: {out} already holds a sweep; continue it with --resume, or give another --out")
        return
    if not os.path.exists(saved):
        raise ValueError(f"sweep: --resume: {out} holds no sweep to continue (no spec.json)")
    with open(saved, encoding="utf-8") as f:
        before = json.load(f)
    now = json.loads(json.dumps(spec))
    if before != now:
        from fercnn.train.checkpoint import first_difference

        key, was, got = first_difference(before, now)
        raise ValueError(f"sweep: --resume: the spec differs from the one {out} was started with: "
                         f"{key} was {was!r}, is now {got!r}")


def _check_address(address):
    """HOST:PORT where something answers; a Ray that is not there fails fast, before anything starts."""
    m = re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})", str(address))
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"sweep: --address must be HOST:PORT (the head node's `ray start --head --port`), "
                         f"got {address!r}")
    host, port = m.group(1).strip("[]"), int(m.group(2))
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as e:
        raise ValueError(f"sweep: --address {address}: no Ray cluster answers there ({e.strerror or e}); "
                         f"start one with `ray start --head --port {port}` on {host}") from None


def _import_ray():
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        raise ValueError("sweep: needs Ray Tune: pip install -e \".[sweep]\" in the fercnn checkout") from None


def thread_env(threads):
    """The environment Ray starts the trials' worker processes with (see fercnn/sweep/trial.py)."""
    from fercnn.runtime import IDLE_THREADS_SLEEP

    env = {k: str(threads) for k in THREAD_VARS}
    if os.environ.get("FERCNN_QUIET_THREADS") != "0":
        env.update({k: os.environ.get(k, v) for k, v in IDLE_THREADS_SLEEP.items()})
    return env


@contextlib.contextmanager
def _ray(spec, address, cpus):
    """Ray for the sweep: a new one on this machine, or the cluster at address; stopped (or
    left) at the end. A Ray this process had already started is used as it is."""
    import ray

    if ray.is_initialized():
        yield
        return
    options = dict(runtime_env={"env_vars": thread_env(spec["search"]["threads_per_trial"])},
                   log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address is None:
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except Exception as e:  # Ray's own exceptions for a cluster that refuses us, each a line or more
        raise ValueError(f"sweep: cannot start Ray{'' if address is None else ' at ' + address}: "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    try:
        need = spec["search"]["cpus_per_trial"]
        most = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
        if need > most:
            raise ValueError(f"search.cpus_per_trial: {need} CPUs per trial, but no node of this Ray has more "
                             f"than {most:g}")
        yield
    finally:
        ray.shutdown()


def _fit(spec, out, raw, resume, say):
    from ray import tune

    from fercnn.sweep import _tune
    from fercnn.sweep.trial import run_trial

    search = spec["search"]
    setup = {"out": out, "threads": search["threads_per_trial"], "checkpoint_every": search["checkpoint_every"],
             "swept": [[s, k] for s, k, _ in swept(spec)]}
    trainable = tune.with_resources(tune.with_parameters(run_trial, setup=setup, raw=raw),
                                    {"cpu": search["cpus_per_trial"]})
    path = os.path.join(out, TUNE_DIR)
    with _tune.quiet_tune():
        if resume and tune.Tuner.can_restore(path):
            say(f"resuming the search in {path}")
            tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(trainable, param_space=_tune.param_space(spec),
                               tune_config=_tune.tune_config(spec, max_epochs(spec), out),
                               run_config=_tune.run_config(out, TUNE_DIR, setup["swept"], say is print))
        return tuner.fit()
