"""An exercise folder with fercnn's own functions copied in: the source of every module of
fercnn/layers/ (the loops of reference.py too) one after another as layers.py, and
fercnn/train/optim.py as optim.py. The grader must pass it whole; a planted mistake is one
exact text replacement in it (``plant``)."""
import os

import fercnn

PACKAGE = os.path.dirname(os.path.abspath(fercnn.__file__))
LAYER_MODULES = ("affine", "losses", "activations", "reference", "conv", "pooling", "batchnorm", "dropout")


def sources():
    """{file name: text}: fercnn's readable layers and update rules, as an exercise folder holds them."""
    layers = []
    for name in LAYER_MODULES:
        with open(os.path.join(PACKAGE, "layers", f"{name}.py"), encoding="utf-8") as f:
            layers.append(f.read())
    with open(os.path.join(PACKAGE, "train", "optim.py"), encoding="utf-8") as f:
        optim = f.read()
    return {"layers.py": "\n\n".join(layers), "optim.py": optim}


def write(folder, replace=None):
    """Write the solved folder; replace: {file name: [(old, new)]}, each old found exactly once."""
    os.makedirs(folder, exist_ok=True)
    for name, text in sources().items():
        for old, new in (replace or {}).get(name, ()):
            assert text.count(old) == 1, f"{name}: {old!r} occurs {text.count(old)} times"
            text = text.replace(old, new)
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)
    return folder
