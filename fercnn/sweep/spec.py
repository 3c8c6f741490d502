"""A sweep's spec: a TOML file (or a dict of the same shape), checked whole before anything starts.

    name = "synthetic"                  # the sweep's folder: runs/sweep_<name>/
    [data]                              # source = "synthetic" | "fer2013" | "folder", path, sizes
    [network]                           # the family member (fercnn/sweep/network.py has the keys)
    [recipe]                            # lr, reg, lr_decay, update_rule, momentum, batch_size, epochs, ...
    [search]                            # algorithm = "grid" | "random" | "optuna", samples, CPUs and threads per trial
    [early_stopping]                    # scheduler = "asha" | "median" | "none", grace_period, reduction_factor

A value of [network] or [recipe] is either fixed (``lr = 0.01``) or swept, a table of one
search form:

    {grid = [a, b, ...]}        every value, crossed with every other grid
    {choice = [a, b, ...]}      one value drawn per trial
    {uniform = [low, high]}     a number drawn uniformly
    {loguniform = [low, high]}  a number drawn uniformly in log space
    {randint = [low, high]}     an integer, both ends included

read_spec() returns the spec as plain JSON-able dicts with every default filled in, or raises
one ValueError that names the key, what it takes and what it got.
"""
import itertools
import os
import re

from fercnn.sweep._checks import BOOL, KERNEL, POOL, TEXT, number, one_of, per_block
from fercnn.sweep.network import PRESETS, blocks

FORMS = ("grid", "choice", "uniform", "loguniform", "randint")
SOURCES = ("synthetic", "fer2013", "folder")
ALGORITHMS = ("grid", "random", "optuna")
SCHEDULERS = ("asha", "median", "none")
UPDATE_RULES = ("adam", "rmsprop", "sgd", "sgd_momentum")  # fercnn.train.optim.RULES (a test keeps them equal)
WEIGHT_INITS = ("he", "uniform")  # fercnn.models.convnet.WEIGHT_INITS
MAX_CHECKED = 20000  # network combinations built before the start, at most


NETWORK = {
    "preset": one_of(*PRESETS),
    "conv_blocks": number(0, integer=True),
    "conv_filters": per_block(number(1, integer=True)),
    "conv_growth": number(0, low_open=True),
    "conv_kernel": per_block(KERNEL),
    "conv_batchnorm": per_block(BOOL),
    "conv_dropout": per_block(number(0, 1, high_open=True)),
    "conv_pool": POOL,
    "fc_blocks": number(0, integer=True),
    "fc_units": per_block(number(1, integer=True)),
    "fc_batchnorm": per_block(BOOL),
    "fc_dropout": per_block(number(0, 1, high_open=True)),
}
LR_SCHEDULES = ("decay", "plateau", "cosine")
RECIPE = {  # key: (check, default); they mean what fercnn train's options of those names mean
    "lr": (number(0, low_open=True), 1e-3),
    "reg": (number(0), 1e-6),
    "lr_decay": (number(0, 1, low_open=True), None),  # 0.95 with lr_schedule "decay", else 1
    "lr_schedule": (one_of(*LR_SCHEDULES), "decay"),
    "plateau_factor": (number(0, 1, low_open=True, high_open=True), 0.5),
    "plateau_patience": (number(0, integer=True), 3),
    "warmup_epochs": (number(0), 0.0),
    "min_lr": (number(0), 0.0),
    "update_rule": (one_of(*UPDATE_RULES), "sgd_momentum"),
    "momentum": (number(0, 1, high_open=True), 0.9),
    "nesterov": (BOOL, False),
    "batch_size": (number(2, integer=True), 128),
    "epochs": (number(1, integer=True), 10),
    "seed": (number(0, integer=True), 0),
    "augment_flip": (BOOL, False),
    "augment_shift": (number(0, 24, integer=True), 0),
    "augment_rotate": (number(0, 180), 0.0),
    "augment_scale": (number(0, 0.9), 0.0),
    "augment_erase": (number(0, 1), 0.0),
    "label_smoothing": (number(0, 1, high_open=True), 0.0),
    "flip_double": (BOOL, True),
    "bn_recalibration": (number(0, integer=True), 6400),
    "weight_init": (one_of(*WEIGHT_INITS), "he"),
}
DATA = {
    "source": (one_of(*SOURCES), "synthetic"),
    "path": (TEXT, None),
    "train": (number(7, integer=True), None),
    "val": (number(1, integer=True), None),
    "test": (number(1, integer=True), None),
    "seed": (number(0, integer=True), 0),
    "cache_dir": (TEXT, None),
    "detect_faces": (BOOL, False),
    "min_face": (number(24, integer=True), 48),
    "val_fraction": (number(0, 1, high_open=True), 0.15),
    "test_fraction": (number(0, 1, high_open=True), 0.15),
}
SYNTHETIC_SIZES = {"train": 1400, "val": 700, "test": 700}
SEARCH = {
    "algorithm": (one_of(*ALGORITHMS), None),
    "samples": (number(1, integer=True), 1),
    "seed": (number(0, integer=True), 0),
    "cpus_per_trial": (number(1, integer=True), 1),
    "threads_per_trial": (number(1, integer=True), None),
    "max_concurrent": (number(1, integer=True), None),
    "checkpoint_every": (number(1, integer=True), None),
}
EARLY_STOPPING = {
    "scheduler": (one_of(*SCHEDULERS), "asha"),
    "grace_period": (number(1, integer=True), 1),
    "reduction_factor": (number(1, low_open=True), 3.0),
    "min_samples": (number(1, integer=True), 3),
}
SECTIONS = ("data", "network", "recipe", "search", "early_stopping")


def read_spec(spec):
    """The checked spec of a TOML file (a path) or of a dict of the same shape."""
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        where = os.path.basename(path)
        spec = _read_toml(path)
        default_name = os.path.splitext(where)[0]
    elif isinstance(spec, dict):
        where, default_name = "spec", "sweep"
    else:
        raise ValueError(f"sweep: a spec is a path to a TOML file or a dict, got {type(spec).__name__}")
    try:
        return _check(spec, default_name)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _read_toml(path):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the sweep extra installs tomli
        import tomli as tomllib
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file" if not os.path.exists(path) else f"{path}: not a file")
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML: {e}") from None


def _unknown(where, given, valid):
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"{where + ': ' if where else ''}unknown key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)}; "
                         f"valid keys are {', '.join(sorted(valid))}")


def _table(spec, key):
    value = spec.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"[{key}]: expected a table of keys, got {value!r}")
    return value


def _fixed(section, given, keys):
    """A section whose values are never swept, with its defaults filled in."""
    out = {}
    for key, (check, default) in keys.items():
        value = given.get(key, default)
        if isinstance(value, dict):
            raise ValueError(f"{section}.{key}: [{section}] is not searched; give one value, got {value!r}")
        out[key] = None if value is None else check(f"{section}.{key}", value)
    return out


def _check(spec, default_name):
    _unknown("", spec, ("name",) + SECTIONS)
    name = spec.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"name: expected letters, digits, '_', '.' or '-' (it names a folder), got {name!r}")
    given = {s: _table(spec, s) for s in SECTIONS}
    for s, valid in (("data", DATA), ("network", NETWORK), ("recipe", RECIPE), ("search", SEARCH),
                     ("early_stopping", EARLY_STOPPING)):
        _unknown(f"[{s}]", given[s], valid)
    out = {"name": name, "data": _data(given["data"])}
    out["network"] = {k: _value(f"network.{k}", NETWORK[k], v) for k, v in given["network"].items()}
    out["recipe"] = {}
    for key, (check, default) in RECIPE.items():
        value = given["recipe"].get(key, default)
        out["recipe"][key] = None if value is None else _value(f"recipe.{key}", check, value)
    out["search"] = _fixed("search", given["search"], SEARCH)
    out["early_stopping"] = _fixed("early_stopping", given["early_stopping"], EARLY_STOPPING)
    _check_search(out)
    _check_networks(out["network"])
    _check_recipes(out["recipe"])
    return out


def _data(given):
    d = _fixed("data", given, DATA)
    if d["source"] == "synthetic":
        for key in ("path", "cache_dir"):
            if d[key] is not None:
                raise ValueError(f"data.{key}: the synthetic faces take no {key}; "
                                 "give source = \"fer2013\" or \"folder\" to read faces from a path")
        for key, size in SYNTHETIC_SIZES.items():
            d[key] = size if d[key] is None else d[key]
    elif d["path"] is None:
        raise ValueError(f"data.path: source = \"{d['source']}\" needs the path of the faces")
    for key in ("path", "cache_dir"):
        if d[key] is not None:
            d[key] = _expand(f"data.{key}", d[key])
    return d


VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _expand(where, path):
    """~ and $VARIABLES (or ${VARIABLES}) in a path, so that one spec serves every machine:
    path = "$FER2013_PATH". Every variable the path names must be set; a "$" that names none
    is kept as it is."""
    for braced, plain in VARIABLE.findall(path):
        name = braced or plain
        if name not in os.environ:
            raise ValueError(f"{where}: {path} names the environment variable {name}, which is not set")
    return os.path.expanduser(VARIABLE.sub(lambda m: os.environ[m.group(1) or m.group(2)], path))


def _value(where, check, value):
    """A fixed value, checked; or a search form {form: values}, each value checked."""
    if not isinstance(value, dict):
        return check(where, value)
    if len(value) != 1 or next(iter(value)) not in FORMS:
        raise ValueError(f"{where}: a swept value is a table of one of {', '.join(FORMS)} "
                         f"(e.g. {{grid = [...]}}), got {value!r}")
    form, values = next(iter(value.items()))
    if not isinstance(values, list):
        raise ValueError(f"{where}: {form} takes a list, got {values!r}")
    if form in ("grid", "choice"):
        if not values:
            raise ValueError(f"{where}: the {form} is empty; give at least one value")
        return {form: [check(f"{where}.{form}[{i}]", v) for i, v in enumerate(values)]}
    want = "int" if form == "randint" else "float"
    if check.draws is None or (want == "float" and check.draws == "int") or (want == "int" and check.draws == "float"):
        raise ValueError(f"{where}: {form} draws {'integers' if want == 'int' else 'numbers'}, which this key "
                         f"does not take ({check.want}); use grid or choice")
    if len(values) != 2:
        raise ValueError(f"{where}: {form} takes [low, high], got {values!r}")
    low, high = (check(f"{where}.{form}", v) for v in values)
    if not low < high:
        raise ValueError(f"{where}: the {form} range [{low:g}, {high:g}] is empty; low must be below high")
    if form == "loguniform" and low <= 0:
        raise ValueError(f"{where}: loguniform needs low > 0, got {low:g}")
    return {form: [low, high]}


def swept(spec):
    """[(section, key, form)] for every swept value, in the spec's order (network, then recipe)."""
    return [(s, k, next(iter(v))) for s in ("network", "recipe") for k, v in spec[s].items() if isinstance(v, dict)]


def _check_search(spec):
    search, sweeps = spec["search"], swept(spec)
    if not sweeps:
        raise ValueError("the search space is empty: nothing in [network] or [recipe] is swept; give at least one "
                         f"value as a search form ({', '.join(f'{{{f} = [...]}}' for f in FORMS)})")
    forms = {f"{s}.{k}": f for s, k, f in sweeps}
    if search["algorithm"] is None:
        search["algorithm"] = "grid" if set(forms.values()) == {"grid"} else "random"
    if search["algorithm"] == "grid":
        other = [f"{k} ({f})" for k, f in forms.items() if f != "grid"]
        if other:
            raise ValueError(f"search.algorithm \"grid\" takes grid values only, but {', '.join(other)} "
                             "is drawn; use algorithm = \"random\" or \"optuna\"")
    if search["algorithm"] == "optuna":
        grids = [k for k, f in forms.items() if f == "grid"]
        if grids:
            raise ValueError(f"search.algorithm \"optuna\" draws every value; {', '.join(grids)} is a grid: "
                             "use choice instead")
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise ValueError("search.algorithm \"optuna\" needs Optuna: pip install optuna") from None
    if search["threads_per_trial"] is None:
        search["threads_per_trial"] = search["cpus_per_trial"]
    stop = spec["early_stopping"]
    if stop["scheduler"] != "none" and stop["grace_period"] > max_epochs(spec):
        raise ValueError(f"early_stopping.grace_period: {stop['grace_period']} epochs before a trial can be stopped, "
                         f"but no trial runs more than {max_epochs(spec)} (recipe.epochs)")


def _corners(value):
    """The values to try of a key when checking the networks: all of a grid or choice, the
    ends of a range, the value itself when fixed."""
    if not isinstance(value, dict):
        return [value]
    form, values = next(iter(value.items()))
    return list(values)


def _check_networks(network):
    """Build the block lists of every network the search can reach (the ends of ranges), so that
    a depth too large for the image or a list too short is found before anything starts."""
    from fercnn.models.spec import normalize_spec

    keys = list(network)
    options = [_corners(network[k]) for k in keys]
    count = 1
    for o in options:
        count *= len(o)
    if count > MAX_CHECKED:
        return
    for combo in itertools.product(*options):
        values = dict(zip(keys, combo))
        try:
            normalize_spec(input_shape=(1, 48, 48), num_classes=7, **blocks(values))
        except ValueError as e:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items() if isinstance(network[k], dict))
            raise ValueError(f"[network]: {e}" + (f" (with {shown})" if shown else "")) from None


def _check_recipes(recipe):
    """The pairs of recipe values that exclude each other, over every value the search can take."""
    for rule, nesterov in itertools.product(_corners(recipe["update_rule"]), _corners(recipe["nesterov"])):
        if nesterov and rule != "sgd_momentum":
            raise ValueError(f"recipe.nesterov: Nesterov momentum needs update_rule \"sgd_momentum\", "
                             f"and the search can take {rule!r}")
    for schedule, decay in itertools.product(_corners(recipe["lr_schedule"]), _corners(recipe["lr_decay"])):
        if schedule != "decay" and decay not in (None, 1.0):
            raise ValueError(f"recipe.lr_decay: {decay:g} and lr_schedule {schedule!r} would both change the "
                             "learning rate; leave lr_decay out (or 1) with a plateau or cosine schedule")


def max_epochs(spec):
    """The most epochs a trial can run (ASHA's max_t)."""
    epochs = spec["recipe"]["epochs"]
    return max(_corners(epochs))


def grid_size(spec):
    """Trials of the search: the grids' product times samples."""
    n = spec["search"]["samples"]
    for s in ("network", "recipe"):
        for v in spec[s].values():
            if isinstance(v, dict) and "grid" in v:
                n *= len(v["grid"])
    return n
