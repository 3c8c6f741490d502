"""The exercises: which of fercnn's functions a learner writes, in which file, in what order,
with which walkthrough chapter, and how the grader reaches them.

Each exercise is one of fercnn's own functions (``source``): ``fercnn exercises start``
copies its signature and docstring from that function's source, and ``fercnn exercises
check`` holds the learner's function to it. ``family`` names the op in the registry
(fercnn/exercises/registry.py, ``Op.function``), ``side`` says whether the function is the
op's forward or backward (a loss is both), and ``names`` maps the registry's names to the
learner's where they differ (the loop versions of convolution stand in for conv_forward and
conv_backward).
"""
import glob
import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exercise:
    """One function a learner writes.

    name: its name in the learner's file; file: "layers.py" or "optim.py";
    source: "module:function" of fercnn's own version; family, side: see the module docstring;
    partner: the other function of a forward/backward pair; names: registry name -> learner's
    name; chapter: words of the walkthrough chapter's file name (the first chapter whose name
    holds one of them); topic: what that chapter is about, when no chapter is found;
    hint: lines the stub adds under fercnn's docstring.
    """
    name: str
    file: str
    source: str
    family: str
    side: str
    chapter: tuple
    topic: str
    partner: str = ""
    names: dict = field(default_factory=dict)
    hint: str = ""


_CACHE_HINT = "Return (out, cache); what cache holds is yours to choose: only {backward} reads it."
_NAIVE = {"conv_forward": "conv_forward_naive", "conv_backward": "conv_backward_naive"}


def _pair(family, forward, backward, source_module, chapter, topic, *, names=None, hint_forward="",
          hint_backward="", source_names=None):
    src = source_names or (forward, backward)
    names = names or {}
    return [
        Exercise(forward, "layers.py", f"{source_module}:{src[0]}", family, "forward", chapter, topic,
                 partner=backward, names=names,
                 hint="\n".join(filter(None, [_CACHE_HINT.format(backward=backward), hint_forward]))),
        Exercise(backward, "layers.py", f"{source_module}:{src[1]}", family, "backward", chapter, topic,
                 partner=forward, names=names, hint=hint_backward),
    ]


_CONV_CH, _CONV_TOPIC = ("convolution",), "convolution"
_BN_CH, _BN_TOPIC = ("batchnorm",), "batchnorm and dropout"
_RULES_CH, _RULES_TOPIC = ("update", "optim", "sgd", "momentum", "adam"), "update rules"
_RULE_HINT = ("config holds the hyper-parameters, whose defaults are {defaults}, and the rule's state\n"
              "({state}; absent before the first step).\n"
              "Return (next_w, next_config): a new array and a new dict; change neither w, dw nor config.\n"
              "Keep w's dtype (float32 stays float32).")

# the order a learner does them in: each needs only what comes before it
EXERCISES = (
    _pair("affine", "affine_forward", "affine_backward", "fercnn.layers.affine", ("affine",), "the affine layer")
    + [Exercise("softmax_loss", "layers.py", "fercnn.layers.losses:softmax_loss", "softmax_loss", "loss",
                ("softmax",), "softmax and cross-entropy",
                hint="Return (loss, dscores). Scores of 1e4 must still give a finite loss."),
       Exercise("svm_loss", "layers.py", "fercnn.layers.losses:svm_loss", "svm_loss", "loss", ("softmax",),
                "softmax and cross-entropy", hint="Return (loss, dscores).")]
    + _pair("relu", "relu_forward", "relu_backward", "fercnn.layers.activations", ("two_layer",),
            "a two-layer network")
    + [Exercise(rule, "optim.py", f"fercnn.train.optim:{rule}", rule, "rule", _RULES_CH, _RULES_TOPIC,
                hint=_RULE_HINT) for rule in ("sgd", "sgd_momentum")]
    + _pair("conv", "conv_forward_naive", "conv_backward_naive", "fercnn.layers.reference", _CONV_CH, _CONV_TOPIC,
            names=_NAIVE, hint_forward="Write it with loops over n, f and the output positions: the definition.",
            hint_backward="Loops again: each output value sends its gradient to its window and its filter.")
    + [Exercise("im2col", "layers.py", "fercnn.layers.conv:im2col", "im2col", "forward", _CONV_CH, _CONV_TOPIC,
                partner="col2im"),
       Exercise("col2im", "layers.py", "fercnn.layers.conv:col2im", "col2im", "backward", _CONV_CH, _CONV_TOPIC,
                partner="im2col", hint="Where windows overlap, their gradients add up at the pixel they share.")]
    + _pair("conv", "conv_forward", "conv_backward", "fercnn.layers.conv", _CONV_CH, _CONV_TOPIC,
            hint_forward="Use your im2col: one matrix product for the whole batch.",
            hint_backward="need_dx=False may return dx=None (the network's first layer asks for that); "
                          "returning dx anyway is fine.")
    + _pair("max_pool", "max_pool_forward", "max_pool_backward", "fercnn.layers.pooling", ("pool",), "max-pooling")
    + _pair("batchnorm", "batchnorm_forward", "batchnorm_backward", "fercnn.layers.batchnorm", _BN_CH, _BN_TOPIC,
            hint_forward="Update state's running_mean and running_var only when training.")
    + _pair("spatial_batchnorm", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
            "fercnn.layers.batchnorm", _BN_CH, _BN_TOPIC,
            hint_forward="Reuse your batchnorm_forward on the (N*H*W, C) matrix of channel values.")
    + _pair("dropout", "dropout_forward", "dropout_backward", "fercnn.layers.dropout", ("dropout",), _BN_TOPIC,
            hint_forward="Draw the mask from rng only (e.g. keep = rng.random(x.shape) >= p), and only when\n"
                         "training with p > 0. To drop exactly the units fercnn drops with the same rng (so that\n"
                         "`fercnn train shallow --layers` can follow fercnn's run step for step), draw it as\n"
                         "fercnn does: fercnn.layers.dropout.draw_keep and unit_draws.")
    + [Exercise(rule, "optim.py", f"fercnn.train.optim:{rule}", rule, "rule", _RULES_CH, _RULES_TOPIC,
                hint=_RULE_HINT) for rule in ("rmsprop", "adam")]
)
BY_NAME = {e.name: e for e in EXERCISES}
FILES = ("layers.py", "optim.py")


def families(names):
    """The exercises named, in the catalog's order; a name may also be a family ("conv":
    every exercise whose family it is) or a file ("layers.py"). Unknown names: ValueError."""
    wanted = set()
    for name in names:
        hits = [e.name for e in EXERCISES if name in (e.name, e.family, e.file, e.file[:-3])]
        if not hits:
            raise ValueError(f"exercises: no exercise called {name!r}; they are {', '.join(BY_NAME)} "
                             f"(or a family such as conv, or a file: layers, optim)")
        wanted.update(hits)
    return [e for e in EXERCISES if e.name in wanted]


def walkthrough_dir():
    """docs/walkthrough of the checkout fercnn runs from, or None (an installed copy has no docs)."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(here, "docs", "walkthrough")
    return path if os.path.isdir(path) else None


def chapter_of(exercise, folder=None):
    """The walkthrough chapter's file name for an exercise (e.g. "03_convolution.md"), or None."""
    folder = folder or walkthrough_dir()
    if folder is None:
        return None
    chapters = sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "[0-9][0-9]_*.md")))
    for chapter in chapters:
        if any(word in chapter for word in exercise.chapter):
            return chapter
    return None
