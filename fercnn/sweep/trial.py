"""One trial of a sweep, as Ray Tune runs it in a worker process: an ordinary fercnn run.

The trial trains with the Solver into OUT/trials/trial_NNN/, a run folder like the one
`fercnn train` writes (model.npz, results.json, history.json, per_class_accuracy.txt,
accuracy.png, confusion.png, checkpoints/), plus trial.json (its settings), node.json (the
node, process and threads of each start) and log.txt (what it printed). After every epoch
it first writes the folder (the best epoch's model and results so far), then reports the
epoch's validation accuracy to Ray Tune with a small Tune checkpoint that only says which
epoch Tune has seen. So a trial stopped at any moment (by ASHA after a report, or by a kill
anywhere) leaves a folder that `fercnn evaluate` and fercnn.models.load read, and a trial
started again continues from the Solver's newest checkpoint, bit for bit, reporting to
Tune the epochs it had finished but not yet reported.

Threads: the driver starts Ray's worker processes with NUMBA_NUM_THREADS, OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to the trial's threads (THREAD_VARS, through
Ray's runtime_env, so they hold before numpy and Numba load in the worker); the trial also
calls numba.set_num_threads and threadpoolctl's threadpool_limits with the same number
(which covers a worker that Ray started otherwise) and records in node.json what Numba and
BLAS report.
"""
import contextlib
import copy
import datetime
import json
import os
import socket
import tempfile

import numpy as np

THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def trial_name(number):
    """'trial_007': the name of the folder (and of the Tune trial) of the search's trial 7."""
    return f"trial_{number:03d}"


def limit_threads(n):
    """Hold Numba (in this thread: the one that trains) and BLAS/OpenMP (the whole process) to
    n threads; returns what they report."""
    import numba
    from threadpoolctl import threadpool_info, threadpool_limits

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(n)
    return {"numba": numba.get_num_threads(),
            "blas": sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}),
            "env": {k: os.environ.get(k) for k in THREAD_VARS}}


def run_trial(config, setup=None, raw=None):
    """Ray Tune's function trainable. config: {"network": {...}, "recipe": {...}} (one point of
    the search space); setup: out (the sweep's folder), threads, checkpoint_every, swept
    ([section, key] pairs); raw: the faces (fercnn.sweep.data.load_faces)."""
    from ray import tune

    threads = limit_threads(setup["threads"])
    name = tune.get_context().get_trial_name()  # fercnn.sweep._tune.TrialNamer's
    run_dir = os.path.join(setup["out"], "trials", name)
    os.makedirs(run_dir, exist_ok=True)
    _check_same_trial(run_dir, name, config)
    _record_start(run_dir, threads)
    with open(os.path.join(run_dir, "log.txt"), "a", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        print(f"== {name} started {_now()} on {socket.gethostname()}, pid {os.getpid()}, threads {threads}", flush=True)
        _Trial(name, run_dir, config, setup, raw, tune).run()


class _Trial:
    def __init__(self, name, run_dir, config, setup, raw, tune):
        from fercnn.data import preprocess
        from fercnn.models import ConvNet
        from fercnn.sweep.network import blocks, describe

        self.name, self.run_dir, self.config, self.setup, self.tune = name, run_dir, config, setup, tune
        recipe = config["recipe"]
        self.data = preprocess(raw, double_by_flip=recipe["flip_double"])
        self.model = ConvNet(**blocks(config["network"]), input_shape=self.data["X_train"].shape[1:],
                             num_classes=len(raw["class_names"]), reg=recipe["reg"], seed=recipe["seed"],
                             weight_init=recipe["weight_init"], label_smoothing=recipe["label_smoothing"])
        self.model.mean_image, self.model.class_names = self.data["mean_image"], list(raw["class_names"])
        self.augment = augmentation(recipe)
        self.model.augmentation = self.augment.config() if self.augment else None
        self.info = {"trial": name, "network": describe(self.model.spec), "spec": self.model.spec,
                     "parameters": int(sum(p.size for p in self.model.params.values())),
                     "swept": {k: config[s][k] for s, k in setup["swept"]}, "config": config}
        ckpt = tune.get_checkpoint()
        self.reported = 0
        if ckpt is not None:
            with ckpt.as_directory() as d, open(os.path.join(d, "epoch.json"), encoding="utf-8") as f:
                self.reported = json.load(f)["epoch"]
        self.written = None  # the epoch whose report the folder holds

    def run(self):
        from fercnn.fileio import write_json
        from fercnn.train import checkpoint as ckpt
        from fercnn.train.solver import Solver

        keep = ("trial", "network", "parameters", "swept", "config")
        write_json(os.path.join(self.run_dir, "trial.json"), {k: self.info[k] for k in keep}, indent=1)
        done = self._results()
        if done and done.get("finished"):  # the run ended (or diverged) before Tune heard of it all
            print(f"{self.name} had finished {done['epochs_run']} epochs; reporting, not training", flush=True)
            with open(os.path.join(self.run_dir, "history.json"), encoding="utf-8") as f:
                self._report_history(json.load(f))
            return
        recipe = self.config["recipe"]
        optim = {"learning_rate": recipe["lr"]}
        if recipe["update_rule"] == "sgd_momentum":
            optim["momentum"] = recipe["momentum"]
            if recipe.get("nesterov"):
                optim["nesterov"] = True
        schedule = lr_schedule(recipe)
        decay = recipe.get("lr_decay")
        decay = (0.95 if schedule is None else 1.0) if decay is None else decay
        checkpoints = os.path.join(self.run_dir, "checkpoints")
        solver = Solver(self.model, self.data, update_rule=recipe["update_rule"], optim_config=optim,
                        lr_decay=decay, lr_schedule=schedule, batch_size=recipe["batch_size"],
                        num_epochs=recipe["epochs"], augment_flip=recipe["augment_flip"] and self.augment is None,
                        augment=self.augment, seed=recipe["seed"], checkpoint_dir=checkpoints,
                        checkpoint_every=self.setup["checkpoint_every"], bn_recalibration=recipe["bn_recalibration"],
                        verbose=False, callback=self._end_of_epoch)
        resume = bool(ckpt.list_checkpoints(checkpoints))
        if resume:
            solver.resume()
            print(f"{self.name} resumed from {solver.resumed_from}: {solver.epoch} epochs, "
                  f"{len(solver.loss_history)} iterations done", flush=True)
            self._report_history(solver.history())
        try:
            solver.train(resume=resume)
        except FloatingPointError as e:
            self._diverged(solver, str(e))
            return
        if self.written != solver.epoch:  # finished before a kill, its report not yet written
            self._write(solver)

    def _results(self):
        path = os.path.join(self.run_dir, "results.json")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def _end_of_epoch(self, solver):
        self._write(solver)
        self._report(solver.history(), solver.epoch)

    def _write(self, solver):
        """The run folder as `fercnn train` leaves it, with the best epoch's model so far."""
        from fercnn.cli.experiment import report

        best = copy.copy(self.model)  # the Solver's model keeps training; the copy shows the best epoch
        best.load_state_dict({}, solver.best)
        extra = dict(self.info, best_val_acc=solver.best_val_acc, finished=solver.epoch >= solver.num_epochs,
                     diverged=None)
        report(best, solver, self.data, self.run_dir, train_s=solver.train_seconds, args=self.config,
               epochs=solver.num_epochs, extra=extra)
        self.written = solver.epoch

    def _diverged(self, solver, message):
        from fercnn.fileio import write_json

        print(f"{self.name} diverged: {message}", flush=True)
        results = self._results() or dict(self.info, epochs=solver.num_epochs, epochs_run=solver.epoch,
                                          val_accuracy=None, best_val_acc=None)
        results.update(finished=True, diverged=message)
        write_json(os.path.join(self.run_dir, "results.json"), results, indent=1)

    def _report_history(self, history):
        """Report to Tune the epochs of ``history`` (a Solver's history()) it has not seen."""
        for epoch in range(self.reported + 1, history["epochs_run"] + 1):
            self._report(history, epoch)

    def _report(self, history, epoch):
        its = [0] + history["epoch_iterations"]
        losses = history["loss"][its[epoch - 1]:its[epoch]]
        metrics = {"epoch": epoch, "val_acc": history["val_acc"][epoch - 1],
                   "train_acc": history["train_acc"][epoch - 1], "best_val_acc": max(history["val_acc"][:epoch]),
                   "loss": float(np.mean(losses)) if losses else float("nan"),
                   "epochs": self.config["recipe"]["epochs"], "trial": self.name}
        with tempfile.TemporaryDirectory(prefix="fercnn-tune-") as d:
            with open(os.path.join(d, "epoch.json"), "w", encoding="utf-8") as f:
                json.dump({"epoch": epoch, "run_dir": self.run_dir}, f)
            self.tune.report(metrics, checkpoint=self.tune.Checkpoint.from_directory(d))
        self.reported = epoch


def augmentation(recipe):
    """The Augmentation the recipe asks for, or None: flip alone stays the Solver's own
    augment_flip, as in fercnn train (fercnn.cli.experiment.augmentation)."""
    from fercnn.data.augment import Augmentation

    keys = ("augment_shift", "augment_rotate", "augment_scale", "augment_erase")
    if not any(recipe.get(k) for k in keys):
        return None
    return Augmentation(flip=recipe["augment_flip"], shift=recipe["augment_shift"], rotate=recipe["augment_rotate"],
                        scale=recipe["augment_scale"], erase=recipe["augment_erase"])


def lr_schedule(recipe):
    """The Solver's lr_schedule for the recipe: None for the per-epoch decay."""
    kind = recipe.get("lr_schedule", "decay")
    if kind == "plateau":
        return {"kind": "plateau", "factor": recipe["plateau_factor"], "patience": recipe["plateau_patience"],
                "min_lr": recipe["min_lr"]}
    if kind == "cosine":
        return {"kind": "cosine", "warmup_epochs": recipe["warmup_epochs"], "min_lr": recipe["min_lr"]}
    return None


def _check_same_trial(run_dir, name, config):
    """A trial's folder belongs to one point of the search space; another one is a bug to stop at."""
    path = os.path.join(run_dir, "trial.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)["config"]
        if saved != json.loads(json.dumps(config)):
            raise RuntimeError(f"{name}: {run_dir} holds a trial of other settings ({saved}), not {config}")


def _record_start(run_dir, threads):
    """Append this start (host, process, Ray node, threads) to node.json."""
    import ray

    from fercnn.fileio import write_json

    path = os.path.join(run_dir, "node.json")
    starts = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            starts = json.load(f)["starts"]
    ctx = ray.get_runtime_context()
    starts.append({"hostname": socket.gethostname(), "pid": os.getpid(), "node_id": ctx.get_node_id(),
                   "node_ip": ray.util.get_node_ip_address(), "time": _now(), "threads": threads})
    write_json(path, {"starts": starts}, indent=1)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
