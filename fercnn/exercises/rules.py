"""Checks of an update rule rule(w, dw, config) -> (next_w, config): known first steps,
five steps against fercnn's rule (another gradient at every step, hyper-parameters that are
not the defaults), the defaults, float32, and that w, dw and the given config are left as
they were. A wrong trajectory is compared with the trajectories of common mistakes (the
update's sign, momentum applied before the gradient, no bias correction, ...), each written
here as the rule with that one mistake.
"""
import numpy as np

from fercnn.exercises.checks import LEARNER_ERRORS, Outcome
from fercnn.exercises.diagnose import NAMED
from fercnn.train import optim

STEPS = 5
CONFIGS = {  # the hyper-parameters of the five-step runs: none of them the defaults
    "sgd": [{"learning_rate": 0.1}],
    "sgd_momentum": [{"learning_rate": 0.1, "momentum": 0.8, "nesterov": False},
                     {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}],
    "rmsprop": [{"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-6}],
    "adam": [{"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6}],
}
_W = np.array([1.0, -2.0, 3.0])
_DW = np.array([0.5, 0.25, -1.0])
KNOWN = {  # rule -> [(label, config, number of steps with _DW, what -> want after the last step)]
    "sgd": [("one step, learning rate 0.1", {"learning_rate": 0.1}, 1, {"w": [0.95, -2.025, 3.1]})],
    "sgd_momentum": [
        ("two steps, momentum 0.9", {"learning_rate": 0.1, "momentum": 0.9}, 2,
         {"w": [0.855, -2.0725, 3.29], "velocity": [-0.095, -0.0475, 0.19]}),
        ("one Nesterov step: w - 0.19 dw", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, 1,
         {"w": _W - 0.19 * _DW})],
    "rmsprop": [("one step, decay 0.9", {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-8}, 1,
                 {"w": _W - 0.01 * _DW / (np.sqrt(0.1 * _DW ** 2) + 1e-8), "cache": 0.1 * _DW ** 2})],
    "adam": [("one step moves each weight by the learning rate", {"learning_rate": 0.01}, 1,
              {"w": _W - 0.01 * np.sign(_DW)})],
}


def _gradients(shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(STEPS)]


def _start(shape=(3, 4)):
    return np.random.default_rng(1).standard_normal(shape)


def trajectory(rule, config, dtype=np.float64):
    """[(next_w, config)] of STEPS steps of rule from the same start with the same gradients."""
    w, c, seen = _start().astype(dtype), dict(config), []
    for g in _gradients():
        w, c = rule(w, g.astype(dtype), c)
        seen.append((w, c))
    return seen


def _close(a, b, tol=1e-10):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.isfinite(a).all()) and \
        bool(np.allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max(initial=0)))))


def check(name, rule, *, catch=False):
    """Outcomes (side "rule") of every check of one update rule."""
    reference = optim.RULES[name]
    outcomes = []

    def guarded(label, thunk):
        try:
            return thunk()
        except LEARNER_ERRORS as e:
            if not catch:
                raise
            outcomes.append(Outcome("rule", label, False, exc=e))
            return None

    for label, config, steps, want in KNOWN[name]:
        def run(config=config, steps=steps):
            w, c = _W.copy(), dict(config)
            for _ in range(steps):
                w, c = rule(w, _DW.copy(), c)
            return w, c
        got = guarded(label, run)
        if got is not None:
            outcomes += [_compare(label, key, got[0] if key == "w" else _state(got[1], key), value, name, config)
                         for key, value in want.items()]
    for config in CONFIGS[name]:
        label = f"{STEPS} steps, " + ", ".join(f"{k} {v}" for k, v in config.items())
        got = guarded(label, lambda config=config: trajectory(rule, config))
        if got is None:
            continue
        want = trajectory(reference, config)
        for step, ((w, c), (rw, rc)) in enumerate(zip(got, want), 1):
            bad = [key for key in ("w",) + optim.STATE[name]
                   if not _close(w if key == "w" else _state(c, key), rw if key == "w" else rc[key])]
            if bad:
                outcomes.append(Outcome("rule", label, False, what=f"{bad[0]} after step {step}",
                                        error=_error(w if bad[0] == "w" else _state(c, bad[0]),
                                                     rw if bad[0] == "w" else rc[bad[0]]),
                                        diagnosis=_mistake(name, config, got), strength=NAMED))
                break
        else:
            outcomes.append(Outcome("rule", label, True))
    got = guarded("the defaults (config None)", lambda: rule(_start(), _gradients()[0], None))
    if got is not None:
        want = reference(_start(), _gradients()[0], None)
        outcomes.append(_compare("the defaults (config None)", "w", got[0], want[0], name, {}))
    outcomes.append(_float32(name, rule, guarded))
    outcomes.append(_pure(name, rule, guarded))
    return [o for o in outcomes if o is not None]


def _state(config, key):
    return None if not isinstance(config, dict) else config.get(key)


def _error(got, want):
    if got is None or np.shape(got) != np.shape(want):
        return None
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(1e-12, float(np.max(np.abs(want)))))


def _compare(label, key, got, want, name, config):
    want = np.asarray(want, np.float64)
    if got is None:
        return Outcome("rule", label, False, what=key, diagnosis=f"the returned config has no {key!r}", strength=NAMED)
    if np.shape(got) != want.shape:
        return Outcome("rule", label, False, what=key, diagnosis=f"{key} has shape {np.shape(got)}, expected "
                       f"{want.shape}", strength=NAMED)
    ok = _close(got, want, 1e-9 if "moves each weight" not in label else 1e-6)
    return Outcome("rule", label, ok, what=key, error=_error(got, want))


def _float32(name, rule, guarded):
    label = "float32 weights stay float32"
    w, g = _start().astype(np.float32), _gradients()[0].astype(np.float32)
    got = guarded(label, lambda: _two_steps(rule, w, g, name))
    if got is None:
        return None
    next_w, c = got
    bad = [f"{k} is {np.asarray(v).dtype}" for k, v in [("w", next_w)] + [(k, _state(c, k)) for k in
                                                                            optim.STATE[name] if k != "t"]
           if v is not None and np.asarray(v).dtype != np.float32]
    return Outcome("rule", label, not bad, what="dtype", diagnosis="; ".join(bad) + ": a float64 constant or "
                   "buffer (cast scalars with w.dtype.type(...))" if bad else "", strength=NAMED)


def _two_steps(rule, w, g, name):
    next_w, c = rule(w, g, dict(CONFIGS[name][0]))
    return rule(next_w, g, c)


def _pure(name, rule, guarded):
    label = "leaves w, dw and the given config as they were"
    w, g = _start(), _gradients()[0]
    first = guarded(label, lambda: rule(w.copy(), g.copy(), dict(CONFIGS[name][0])))
    if first is None:
        return None
    config = first[1] if isinstance(first[1], dict) else {}
    before = {k: np.array(v, copy=True) for k, v in config.items()}
    w0, g0 = w.copy(), g.copy()
    if guarded(label, lambda: rule(w, g, config)) is None:
        return None
    changed = [n for n, a, b in (("w", w, w0), ("dw", g, g0)) if not np.array_equal(a, b)]
    changed += [f"config[{k!r}]" for k, v in before.items() if k not in config or not np.array_equal(config[k], v)]
    return Outcome("rule", label, not changed, what=changed[0] if changed else "",
                   diagnosis=f"changes {', '.join(changed)} in place: return new arrays and a new dict"
                   if changed else "", strength=NAMED)


# ---- the rules with one common mistake each: the same contract as fercnn's ----

def _sgd_sign(w, dw, c):
    return w + c["learning_rate"] * dw, dict(c)


def _momentum(sign=-1, lag=False, nesterov=None, keep=True):
    def rule(w, dw, c):
        c = dict(c)
        v = c.get("velocity", np.zeros_like(w)) if keep else np.zeros_like(w)
        mu, lr = c["momentum"], c["learning_rate"]
        v_new = mu * v + sign * lr * dw
        use_nesterov = c.get("nesterov", False) if nesterov is None else nesterov
        if lag:
            next_w = w + v
        elif use_nesterov:
            next_w = w + mu * v_new + sign * lr * dw
        else:
            next_w = w + v_new
        c["velocity"] = v_new
        return next_w, c
    return rule


def _rmsprop(swap=False, eps_inside=False, sign=-1):
    def rule(w, dw, c):
        c = dict(c)
        d = c["decay_rate"]
        a, b = (1 - d, d) if swap else (d, 1 - d)
        cache = a * c.get("cache", np.zeros_like(w)) + b * dw * dw
        c["cache"] = cache
        denom = np.sqrt(cache + c["epsilon"]) if eps_inside else np.sqrt(cache) + c["epsilon"]
        return w + sign * c["learning_rate"] * dw / denom, c
    return rule


def _adam(correct=True, sign=-1, eps_inside=False, swap=False):
    def rule(w, dw, c):
        c = dict(c)
        b1, b2 = c["beta1"], c["beta2"]
        t = c.get("t", 0) + 1
        m1, m2 = (b1, 1 - b1) if not swap else (1 - b1, b1)
        v1, v2 = (b2, 1 - b2) if not swap else (1 - b2, b2)
        m = m1 * c.get("m", np.zeros_like(w)) + m2 * dw
        v = v1 * c.get("v", np.zeros_like(w)) + v2 * dw * dw
        c.update(m=m, v=v, t=t)
        m_hat, v_hat = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if correct else (m, v)
        denom = np.sqrt(v_hat + c["epsilon"]) if eps_inside else np.sqrt(v_hat) + c["epsilon"]
        return w + sign * c["learning_rate"] * m_hat / denom, c
    return rule


def _defaults(name, rule):
    """rule with fercnn's handling of config: None or missing hyper-parameters take the defaults."""
    def with_defaults(w, dw, config=None):
        return rule(w, dw, {**optim.DEFAULTS[name], **(config or {})})
    return with_defaults


MISTAKES = {
    "sgd": [(_sgd_sign, "w moves up the gradient: the step is - learning_rate * dw")],
    "sgd_momentum": [
        (_momentum(sign=1), "w moves up the gradient: v = momentum * v - learning_rate * dw (the update's sign)"),
        (_momentum(lag=True), "momentum applied before the gradient: w moves by the old velocity; update v = "
                              "momentum * v - learning_rate * dw first, then w + v"),
        (_momentum(nesterov=False), "nesterov=True is ignored: then w + momentum * v_new - learning_rate * dw"),
        (_momentum(nesterov=True), "the Nesterov step is taken with nesterov=False"),
        (_momentum(keep=False), "w moves as plain SGD: the velocity is not kept in config['velocity'] from step "
                                "to step"),
    ],
    "rmsprop": [
        (_rmsprop(sign=1), "w moves up the gradient: the step is - learning_rate * dw / (sqrt(cache) + eps)"),
        (_rmsprop(swap=True), "decay_rate and 1 - decay_rate swapped: cache = decay * cache + (1 - decay) * dw^2"),
        (_rmsprop(eps_inside=True), "epsilon is inside the square root: sqrt(cache) + epsilon"),
    ],
    "adam": [
        (_adam(sign=1), "w moves up the gradient: the step is - learning_rate * m_hat / (sqrt(v_hat) + eps)"),
        (_adam(correct=False), "no bias correction: m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)"),
        (_adam(swap=True), "beta and 1 - beta swapped in the moments: m = beta1 * m + (1 - beta1) * dw"),
        (_adam(eps_inside=True), "epsilon is inside the square root: sqrt(v_hat) + epsilon"),
    ],
}
MISTAKES = {name: [(_defaults(name, rule), sentence) for rule, sentence in models] for name, models in MISTAKES.items()}


def _mistake(name, config, got):
    """The mistake whose trajectory the learner's follows, or ''."""
    for rule, sentence in MISTAKES[name]:
        want = trajectory(rule, config)
        if all(_close(w, mw, 1e-9) for (w, _), (mw, _) in zip(got, want)):
            return sentence
    return ""
