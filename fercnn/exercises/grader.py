"""``fercnn exercises check DIR [NAME...]``: a learner's functions through fercnn's checks.

The learner's layers.py and optim.py are imported by path (importlib; nothing is added to
fercnn or to sys.path, and no bytecode is written into DIR). For each function the grader
runs what the project's tests run on fercnn's ops: the registry's cases through
fercnn.exercises.checks (numerical gradients; agreement with fercnn's readable op on random
shapes, float64 and float32, a batch of one), the known answers, batchnorm's running
statistics and dropout's behaviour (fercnn.exercises.behaviour), and for update rules
fercnn.exercises.rules. It reports one row per function: checks passed, and for one that
fails, one line saying what is off.

A function whose body still raises NotImplementedError is "not started". An exception in the
learner's code is one line with the learner's file and line number.
"""
import ast
import importlib.util
import os
import sys
import traceback
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

import fercnn.layers as reference
import fercnn.layers.conv as reference_conv
from fercnn.exercises import behaviour, checks, rules
from fercnn.exercises.checks import LEARNER_ERRORS
from fercnn.exercises.catalog import EXERCISES, FILES, families
from fercnn.exercises.diagnose import NAMED, across_cases
from fercnn.exercises.registry import OPS

SEEDS = {np.float64: (100, 101), np.float32: (102,)}  # agreement: random shapes per case and dtype
REGISTRY_NAMES = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "conv_forward",
                  "conv_backward", "max_pool_forward", "max_pool_backward", "batchnorm_forward",
                  "batchnorm_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
                  "dropout_forward", "dropout_backward", "softmax_loss", "svm_loss", "im2col", "col2im")


@dataclass
class Row:
    """One function's result: status is "ok", "failed", "not started", "waits" or "missing"."""
    name: str
    status: str
    passed: int = 0
    total: int = 0
    line: str = ""


class Learner:
    """The learner's files, imported by path: modules by file name, the path of each, the
    functions not started (a body that only raises NotImplementedError), and why a file did
    not import."""

    def __init__(self, folder):
        if not os.path.isdir(folder):
            raise ValueError(f"exercises check: {folder} is not a folder (make one with: fercnn exercises start "
                             f"{folder})")
        self.folder = folder
        self.modules, self.paths, self.failed, self.unstarted = {}, {}, {}, set()
        for name in FILES:
            path = os.path.abspath(os.path.join(folder, name))
            self.paths[name] = path
            if not os.path.exists(path):
                self.failed[name] = f"{name} is missing from {folder}"
                continue
            if not os.path.isfile(path):
                self.failed[name] = f"{name} in {folder} is not a file"
                continue
            try:
                self.unstarted |= _unstarted(path)
                self.modules[name] = _import(path)
            except LEARNER_ERRORS as e:
                self.failed[name] = f"{name} does not import: {self.exception_line(e)}"

    def function(self, exercise, name=None):
        module = self.modules.get(exercise.file)
        f = getattr(module, name or exercise.name, None)
        return f if callable(f) else None

    def exception_line(self, exc, name=None, returns=""):
        """One line: the exception, and where in the learner's files it was raised (returns: what
        the function must return, for an exception raised on what it returned)."""
        text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        if isinstance(exc, SyntaxError) and exc.filename:
            return f"{text} ({os.path.basename(exc.filename)}:{exc.lineno})"
        frame = self.frame(exc)
        if frame is None:
            must = f"{name or 'it'} must return {returns}" if returns else "see its docstring for what to return"
            return f"{text}, raised by fercnn's check on what {name or 'the function'} returned ({must})"
        where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
        return f"{text} ({where}{'' if frame.name == name else f', in {frame.name}'})"

    def frame(self, exc):
        """The innermost frame of exc's traceback in the learner's files, or None."""
        mine = set(self.paths.values())
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) in mine]
        return frames[-1] if frames else None


def _unstarted(path):
    """Names of the module-level functions whose body is a docstring and `raise NotImplementedError`."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if len(body) == 1 and isinstance(body[0], ast.Raise) and body[0].exc is not None:
                exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
                if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                    names.add(node.name)
    return names


def _import(path):
    """The module at path, under a name of its own (not in sys.modules), without writing bytecode."""
    name = f"fercnn_exercise_{os.path.basename(path)[:-3]}_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    old = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = old
    return module


# ---- the checks of one unit: a forward/backward pair, a loss, im2col/col2im or a rule ----

def _ops(learner, exercise):
    """The learner's functions under the registry's names (for the loop convolution, its
    conv_forward_naive as conv_forward)."""
    module = learner.modules.get("layers.py")
    names = {n: exercise.names.get(n, n) for n in REGISTRY_NAMES}
    return SimpleNamespace(**{n: getattr(module, m) for n, m in names.items() if callable(getattr(module, m, None))})


def unit_outcomes(exercise, ops):
    """Every Outcome of the family an exercise belongs to, from module ops (the registry's names)."""
    family = exercise.family
    if exercise.side == "rule":
        return rules.check(family, getattr(ops, family), catch=True)
    if family in ("im2col", "col2im"):
        return behaviour.columns(ops, reference_conv, catch=True)
    outcomes = []
    for op in (o for o in OPS if o.function == family and "layers" in o.faces):
        outcomes += checks.gradient(op, ops, catch=True)
        settings = op.build(np.random.default_rng(0))[1]
        if family == "dropout" and settings["training"] and settings["p"] > 0:
            continue  # which units: the learner's rule; behaviour.dropout checks the mask instead
        for dtype, seeds in SEEDS.items():
            for seed in seeds:
                outcomes += checks.agreement(op, ops, reference, dtype, seed=seed, catch=True)
        if checks.allows_batch_of_one(op, settings):
            outcomes += checks.agreement(op, ops, reference, np.float64, seed=103, catch=True, batch_of_one=True)
    outcomes += behaviour.known(family, ops, catch=True)
    if family in ("batchnorm", "spatial_batchnorm"):
        outcomes += behaviour.running_statistics(family, ops, catch=True)
    if family == "dropout":
        outcomes += behaviour.dropout(ops, catch=True)
    return outcomes


def _sides(exercise):
    return {"forward": ("forward",), "backward": ("backward",), "loss": ("forward", "backward"),
            "rule": ("rule",)}[exercise.side]


def _returns(exercise):
    """What the function must return, in words."""
    if exercise.side == "forward":
        return "cols" if exercise.family == "im2col" else "(out, cache)"
    if exercise.side == "loss":
        return "(loss, dscores)"
    if exercise.side == "rule":
        return "(next_w, config)"
    if exercise.family == "col2im":
        return "dx"
    grads = next(o.grads for o in OPS if o.function == exercise.family)
    return grads[0] if len(grads) == 1 else f"({', '.join(grads)})"


def summarize(exercise, outcomes, learner):
    """The Row of one function from the Outcomes of its sides."""
    mine = [o for o in outcomes if o.side in _sides(exercise)]
    name = exercise.name
    for o in mine:
        if isinstance(o.exc, NotImplementedError):
            frame = learner.frame(o.exc)
            if frame is None or frame.name == name:
                return Row(name, "not started")
            return Row(name, "waits", line=f"waits for {frame.name} (not started)")
    passed, total = sum(o.ok for o in mine), len(mine)
    if not mine:
        return Row(name, "failed", line="no check ran")
    if passed == total:
        return Row(name, "ok", passed, total, "ok")
    failed = [o for o in mine if not o.ok and not o.waits]
    if not failed:
        partner = exercise.partner or "its forward"
        return Row(name, "waits", passed, total, f"{total - passed} checks wait for {partner} to pass")
    crashed = [o for o in failed if o.exc is not None]
    if crashed:
        o = crashed[0]
        line = learner.exception_line(o.exc, name, _returns(exercise))
        return Row(name, "failed", passed, total, f"{o.check}: {line}")
    named = [o for o in failed if o.strength >= NAMED]
    cross, strong = "", False
    for side in _sides(exercise):
        if not cross:
            cross, strong = across_cases(side, mine)
    if cross and (strong or not named):
        o = failed[0]
        o.diagnosis = cross
    elif named:
        o = named[0]
    else:
        o = next((f for f in failed if f.diagnosis), failed[0])
    return Row(name, "failed", passed, total, o.message())


def grade(folder, names=()):
    """Rows for the exercises named (all by default), in the catalog's order."""
    learner = Learner(folder)
    wanted = families(names) if names else list(EXERCISES)
    rows, done = {}, {}
    for exercise in wanted:
        if exercise.file in learner.failed:
            rows[exercise.name] = Row(exercise.name, "missing", line=learner.failed[exercise.file])
            continue
        if learner.function(exercise) is None:
            rows[exercise.name] = Row(exercise.name, "missing", line=f"{exercise.name} is missing from {exercise.file}")
            continue
        if exercise.name in learner.unstarted:
            rows[exercise.name] = Row(exercise.name, "not started")
            continue
        partner = learner.function(exercise, exercise.partner) if exercise.partner else True
        if exercise.side == "backward" and exercise.partner and exercise.family not in ("col2im",) \
                and (partner is None or exercise.partner in learner.unstarted):
            rows[exercise.name] = Row(exercise.name, "waits", line=f"waits for {exercise.partner} (not started)")
            continue
        key = "columns" if exercise.family in ("im2col", "col2im") else \
            (exercise.family, tuple(sorted(exercise.names.items())))
        if key not in done:
            ops = _ops(learner, exercise) if exercise.file == "layers.py" else learner.modules["optim.py"]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                done[key] = unit_outcomes(exercise, ops)
        rows[exercise.name] = summarize(exercise, done[key], learner)
    return [rows[e.name] for e in wanted]


def format_table(rows, folder):
    """The table the command prints, and its last line: how many pass."""
    width = max(len("function"), *(len(r.name) for r in rows)) + 2
    lines = [f"{'function':<{width}}{'checks':>7}  result", "-" * (width + 40)]
    for r in rows:
        checks_text = f"{r.passed}/{r.total}" if r.total else "-"
        result = r.line if r.status in ("ok", "failed", "waits", "missing") and r.line else r.status
        lines.append(f"{r.name:<{width}}{checks_text:>7}  {result}")
    ok = sum(r.status == "ok" for r in rows)
    unstarted = sum(r.status == "not started" for r in rows)
    summary = f"{ok} of {len(rows)} functions pass"
    if unstarted:
        summary += f"; {unstarted} not started"
    failed = sum(r.status == "failed" for r in rows)
    if failed:
        summary += f"; {failed} failed"
    lines.append(summary + (f" (fercnn exercises check {folder} NAME checks one)" if ok < len(rows) else ""))
    return "\n".join(lines)
