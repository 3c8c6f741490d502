"""First-order update rules, as pure functions: rule(w, dw, config) -> (next_w, config).

``config`` holds the hyper-parameters and the rule's state (velocity, moments). A rule
never changes ``w``, ``dw`` or the given config: it returns a new array and a new dict.
Missing hyper-parameters take the defaults below; unknown keys are an error. Scalars are
cast to w's dtype, so float32 weights stay float32.
"""
import numpy as np

from fercnn.train._optim_kernels import momentum_step

# each rule's hyper-parameters and their defaults; STATE: the state each rule keeps in its config
DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9, "nesterov": False},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v", "t")}


def _config(rule, config):
    config = {} if config is None else dict(config)
    unknown = sorted(set(config) - set(DEFAULTS[rule]) - set(STATE[rule]))
    if unknown:
        raise ValueError(f"{rule}: unknown config keys {unknown}; valid keys are {sorted(DEFAULTS[rule])}")
    return {**DEFAULTS[rule], **config}


def sgd(w, dw, config=None):
    """w <- w - learning_rate * dw."""
    c = _config("sgd", config)
    return w - w.dtype.type(c["learning_rate"]) * dw, c


def sgd_momentum(w, dw, config=None):
    """v <- momentum * v - learning_rate * dw; w <- w + v.

    Nesterov (nesterov=True) evaluates the step at the look-ahead point; in the
    usual change of variables that is w <- w + momentum * v_new - learning_rate * dw.
    """
    c = _config("sgd_momentum", config)
    v = c.get("velocity")
    v = np.zeros_like(w) if v is None else v
    flat = [np.ascontiguousarray(a).reshape(-1) for a in (w, dw, v)]
    next_w, v_new = momentum_step(*flat, c["momentum"], c["learning_rate"], bool(c["nesterov"]))
    c["velocity"] = v_new.reshape(w.shape)
    return next_w.reshape(w.shape), c


def rmsprop(w, dw, config=None):
    """cache <- decay * cache + (1 - decay) * dw^2; w <- w - lr * dw / (sqrt(cache) + eps)."""
    c = _config("rmsprop", config)
    t = w.dtype.type
    cache = c.get("cache")
    cache = np.zeros_like(w) if cache is None else cache
    cache = t(c["decay_rate"]) * cache + t(1 - c["decay_rate"]) * dw * dw
    c["cache"] = cache
    return w - t(c["learning_rate"]) * dw / (np.sqrt(cache) + t(c["epsilon"])), c


def adam(w, dw, config=None):
    """Adam (Kingma & Ba) with bias-corrected first and second moments m, v; step count t."""
    c = _config("adam", config)
    tp = w.dtype.type
    b1, b2 = c["beta1"], c["beta2"]
    m = c.get("m")
    v = c.get("v")
    m = np.zeros_like(w) if m is None else m
    v = np.zeros_like(w) if v is None else v
    step = int(c.get("t", 0)) + 1
    m = tp(b1) * m + tp(1 - b1) * dw
    v = tp(b2) * v + tp(1 - b2) * dw * dw
    m_hat = m / tp(1 - b1 ** step)
    v_hat = v / tp(1 - b2 ** step)
    c.update(m=m, v=v, t=step)
    return w - tp(c["learning_rate"]) * m_hat / (np.sqrt(v_hat) + tp(c["epsilon"])), c


RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


def get_rule(name):
    """The update function called ``name``; a ValueError lists the valid names."""
    if callable(name):
        return name
    if name not in RULES:
        raise ValueError(f"unknown update rule {name!r}; valid rules are {sorted(RULES)}")
    return RULES[name]
