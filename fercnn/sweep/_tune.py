"""Ray Tune's side of a sweep: the search space, search algorithm, scheduler and run settings
a checked spec (fercnn.sweep.spec) asks for, and a line per epoch on the console."""
import contextlib
import os

from ray import tune
from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule, TrialScheduler

from fercnn.sweep.results import mark_stopped
from fercnn.sweep.trial import trial_name

METRIC, MODE = "val_acc", "max"


def domain(value):
    """A spec's value as Ray Tune's: fixed values as they are, search forms as Tune's domains.
    randint's high end is included (Tune's tune.randint leaves it out)."""
    if not isinstance(value, dict):
        return value
    form, v = next(iter(value.items()))
    if form == "grid":
        return tune.grid_search(v)
    if form == "choice":
        return tune.choice(v)
    if form == "randint":
        return tune.randint(v[0], v[1] + 1)
    return {"uniform": tune.uniform, "loguniform": tune.loguniform}[form](*v)


def param_space(spec):
    return {s: {k: domain(v) for k, v in spec[s].items()} for s in ("network", "recipe")}


class TrialNamer:
    """Names Tune's trials (and their folders) trial_000, trial_001, ... in the order the
    search makes them, from the number Tune's search algorithms start each trial's
    experiment_tag with (counted from 0 by the grid/random generator, from 1 by a Searcher
    such as Optuna's). Tune keeps the name with the trial, and the counter with the search
    algorithm's state, so a resumed search names its new trials on from there."""

    def __init__(self, first):
        self.first = first

    def __call__(self, trial):
        return trial_name(int(str(trial.experiment_tag).split("_", 1)[0]) - self.first)


class _RecordsStops:
    """A scheduler that writes "stopped_by" into the results.json of each trial it stops before
    the trial's last epoch: the table tells such a trial from one a stopped search left
    unfinished by this mark (Tune ends the running trials of an interrupted search too)."""

    def on_trial_result(self, tune_controller, trial, result):
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and result.get("epoch", 0) < result.get("epochs", 0):
            mark_stopped(os.path.join(self.fercnn_out, "trials", str(trial)),
                         f"{self.fercnn_name} after epoch {result['epoch']}")
        return decision


class ASHA(_RecordsStops, ASHAScheduler):
    pass


class MedianStopping(_RecordsStops, MedianStoppingRule):
    pass


def tune_config(spec, epochs, out):
    """Search algorithm and scheduler. Grid and random search: Tune's BasicVariantGenerator,
    its draws seeded by search.seed (so a search draws the same trials on any machine);
    optuna: Optuna's TPE sampler through Tune's OptunaSearch, seeded likewise. Early
    stopping on the validation accuracy reported after every epoch (time is counted in
    epochs: Tune's training_iteration)."""
    search, stop = spec["search"], spec["early_stopping"]
    limit, first = search["max_concurrent"], 0
    if search["algorithm"] == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        algorithm, first = OptunaSearch(seed=search["seed"]), 1
    else:
        from ray.tune.search.basic_variant import BasicVariantGenerator

        algorithm = BasicVariantGenerator(random_state=search["seed"], max_concurrent=limit or 0)
        limit = None  # Tune applies max_concurrent_trials to Searchers only; the generator limits itself
    if stop["scheduler"] == "asha":
        scheduler = ASHA(time_attr="training_iteration", max_t=epochs, grace_period=stop["grace_period"],
                         reduction_factor=stop["reduction_factor"])
    elif stop["scheduler"] == "median":
        scheduler = MedianStopping(time_attr="training_iteration", grace_period=stop["grace_period"],
                                   min_samples_required=stop["min_samples"])
    else:
        scheduler = None
    if scheduler is not None:
        scheduler.fercnn_out, scheduler.fercnn_name = out, stop["scheduler"]
    return tune.TuneConfig(metric=METRIC, mode=MODE, num_samples=search["samples"], search_alg=algorithm,
                           scheduler=scheduler, max_concurrent_trials=limit, trial_name_creator=TrialNamer(first),
                           trial_dirname_creator=TrialNamer(first))


def run_config(out, name, swept, verbose):
    """Tune keeps its experiment in out/name; one Tune checkpoint per trial (a pointer to the
    epoch, the real state is the Solver's); a trial whose process dies (a node lost) is
    started again up to twice, and goes on from its Solver checkpoint."""
    return tune.RunConfig(name=name, storage_path=out, verbose=0, callbacks=[Progress(swept, verbose)],
                          checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                          failure_config=tune.FailureConfig(max_failures=2))


class Progress(tune.Callback):
    """One line per trial epoch, start, end and failure, instead of Tune's status tables."""

    def __init__(self, swept, verbose=True):
        self.swept, self.verbose = [tuple(x) for x in swept], verbose

    def _say(self, text):
        if self.verbose:
            print(text, flush=True)

    def on_trial_start(self, iteration, trials, trial, **info):
        shown = ", ".join(f"{k} = {_text(trial.config[s][k])}" for s, k in self.swept)
        self._say(f"{trial} started: {shown}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._say(f"{trial} epoch {result['epoch']}/{result['epochs']}: val acc {result['val_acc']:.4f} "
                  f"(best {result['best_val_acc']:.4f}) on {result.get('hostname', '?')} "
                  f"({result.get('node_ip', '?')}), pid {result.get('pid', '?')}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._say(f"{trial} ended")

    def on_trial_error(self, iteration, trials, trial, **info):
        print(f"{trial} failed: see {trial.path} (error.txt) and its log.txt",
              flush=True)


def _text(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@contextlib.contextmanager
def quiet_tune():
    """Tune without its own console tables (RAY_AIR_NEW_OUTPUT=0 with verbose=0), saving its
    experiment state at least every 5 s, for the duration of the block."""
    saved = {k: os.environ.get(k) for k in ("RAY_AIR_NEW_OUTPUT", "TUNE_GLOBAL_CHECKPOINT_S")}
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "5")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
