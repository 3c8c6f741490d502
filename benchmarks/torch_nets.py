"""The paper's networks written as torch.nn modules, layer for layer as fercnn builds them.

Used only by the benchmarks, for a side-by-side comparison. PyTorch is not a dependency of
fercnn: `pip install torch` (on the CI machine type: `pip install torch==2.13.0`, a CPU build).
"""


def build(spec):
    """A torch.nn.Sequential equal to the fercnn spec (conv/FC before batchnorm without bias)."""
    import torch.nn as nn

    layers = []
    C, H, W = spec["input_shape"]
    for b in spec["conv"]:
        k = b["kernel"]
        layers.append(nn.Conv2d(C, b["filters"], k, padding=k // 2, bias=not b["batchnorm"]))
        if b["batchnorm"]:
            layers.append(nn.BatchNorm2d(b["filters"], momentum=0.1, eps=1e-5))
        layers.append(nn.ReLU())
        if b["dropout"]:
            layers.append(nn.Dropout(b["dropout"]))
        if b["pool"]:
            layers.append(nn.MaxPool2d(2))
            H, W = H // 2, W // 2
        C = b["filters"]
    layers.append(nn.Flatten())
    D = C * H * W
    for b in spec["fc"]:
        layers.append(nn.Linear(D, b["units"], bias=not b["batchnorm"]))
        if b["batchnorm"]:
            layers.append(nn.BatchNorm1d(b["units"]))
        layers.append(nn.ReLU())
        if b["dropout"]:
            layers.append(nn.Dropout(b["dropout"]))
        D = b["units"]
    layers.append(nn.Linear(D, spec["num_classes"]))
    return nn.Sequential(*layers)
