"""fercnn's networks as torch.nn modules, layer for layer, for the benchmarks' comparison.

The parent process walks the network's layer list (fercnn.models.blocks.build_layers)
and passes each layer's ``describe()`` as JSON, so the PyTorch process never imports
fercnn and its memory is PyTorch's alone. PyTorch is not a dependency of fercnn:
`pip install torch` (on the CI machine type: `pip install torch==2.13.0`, a CPU build).
"""


def build(layers):
    """A torch.nn.Sequential equal to the described fercnn layers (a list of describe() dicts)."""
    import torch.nn as nn

    modules = []
    for d in layers:
        kind = d["kind"]
        if kind == "conv":
            modules.append(nn.Conv2d(d["in"], d["out"], d["kernel"], padding=d["kernel"] // 2, bias=d["bias"]))
        elif kind == "activation":
            if d["batchnorm"]:
                modules.append((nn.BatchNorm2d if d["spatial"] else nn.BatchNorm1d)(d["size"], momentum=0.1, eps=1e-5))
            modules.append(nn.ReLU())
            if d["dropout"]:
                modules.append(nn.Dropout(d["dropout"]))
        elif kind == "pool":
            modules.append(nn.MaxPool2d(2))
        elif kind == "flatten":
            if d["hog"]:
                raise ValueError("torch_nets: hybrid (HOG) networks are not mirrored")
            modules.append(nn.Flatten())
        elif kind == "affine":
            modules.append(nn.Linear(d["in"], d["out"], bias=d["bias"]))
        else:
            raise ValueError(f"torch_nets: no PyTorch mirror for layer kind {kind!r}")
    return nn.Sequential(*modules)
