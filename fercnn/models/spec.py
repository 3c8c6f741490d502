"""The network as data: a spec of conv blocks and FC blocks, validated and sized.

The paper's family is

    [Conv-(SBN)-ReLU-(Dropout)-(Max-pool)] x M - [Affine-(BN)-ReLU-(Dropout)] x N - Affine-Softmax

and a spec spells out the M conv blocks and N FC blocks:

    {"input_shape": [1, 48, 48], "num_classes": 7,
     "conv": [{"filters": 32, "kernel": 3, "batchnorm": True, "dropout": 0.2, "pool": False}, ...],
     "fc":   [{"units": 512, "batchnorm": False, "dropout": 0.5}, ...],
     "hog":  None or {"orientations": 9, "pixels_per_cell": 8, "cells_per_block": 2}}

Convolutions use stride 1 and "same" padding (odd kernels); pools are 2x2, stride 2. A conv
or affine layer followed by batchnorm has no bias (batchnorm's beta takes its place).
"""
from fercnn.argcheck import check_positive_int, check_probability
from fercnn.data.hog import HOG_DEFAULTS, hog_length

MAX_BLOCKS = 1000  # conv and FC blocks together: a spec read from a file is sized before it is built
CONV_DEFAULTS = {"filters": None, "kernel": 3, "batchnorm": False, "dropout": 0.0, "pool": False}
FC_DEFAULTS = {"units": None, "batchnorm": False, "dropout": 0.0}


def _fill(kind, index, block, defaults):
    if not isinstance(block, dict):
        raise ValueError(f"{kind} block {index}: expected a dict, got {type(block).__name__}")
    unknown = sorted(set(block) - set(defaults))
    if unknown:
        raise ValueError(f"{kind} block {index}: unknown keys {unknown}; valid keys are {sorted(defaults)}")
    full = {**defaults, **block}
    for key, value in full.items():
        if value is None:
            raise ValueError(f"{kind} block {index}: '{key}' is required")
    return full


def normalize_spec(*, input_shape, num_classes, conv, fc, hog=None):
    """Fill defaults, check every field, return a plain JSON-serialisable dict.

    What the spec costs (parameters, values per image) is checked by
    fercnn.models.budget.check_spec, before a network is built from it."""
    if isinstance(input_shape, (str, dict)) or not hasattr(input_shape, "__len__") or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    for name, blocks in (("conv", conv), ("fc", fc)):
        if isinstance(blocks, (str, dict)) or not hasattr(blocks, "__len__"):
            raise ValueError(f"{name} must be a list of blocks, got {type(blocks).__name__}")
    if len(conv) + len(fc) > MAX_BLOCKS:
        raise ValueError(f"the spec has {len(conv)} conv and {len(fc)} fc blocks; the limit is {MAX_BLOCKS} in all")
    for v in input_shape:
        check_positive_int("spec", "input_shape entry", v)
    check_positive_int("spec", "num_classes", num_classes, minimum=2)
    C, H, W = (int(v) for v in input_shape)
    spec = {"input_shape": [C, H, W], "num_classes": int(num_classes), "conv": [], "fc": []}
    for i, block in enumerate(conv, 1):
        b = _fill("conv", i, block, CONV_DEFAULTS)
        for key in ("filters", "kernel"):
            check_positive_int(f"conv block {i}", key, b[key])
        if b["kernel"] % 2 == 0:
            raise ValueError(f"conv block {i}: kernel must be odd for 'same' padding, got {b['kernel']}")
        check_probability(f"conv block {i}", "dropout", b["dropout"])
        b["filters"], b["kernel"], b["dropout"] = int(b["filters"]), int(b["kernel"]), float(b["dropout"])
        b["batchnorm"], b["pool"] = bool(b["batchnorm"]), bool(b["pool"])
        spec["conv"].append(b)
    for i, block in enumerate(fc, 1):
        b = _fill("fc", i, block, FC_DEFAULTS)
        check_positive_int(f"fc block {i}", "units", b["units"])
        check_probability(f"fc block {i}", "dropout", b["dropout"])
        b["units"], b["dropout"] = int(b["units"]), float(b["dropout"])
        b["batchnorm"] = bool(b["batchnorm"])
        spec["fc"].append(b)
    if hog is not None and hog is not False:
        hog = {} if hog is True else hog
        spec["hog"] = _fill("hog", 1, hog, HOG_DEFAULTS)
        for key in HOG_DEFAULTS:
            check_positive_int("hog", key, spec["hog"][key])
            spec["hog"][key] = int(spec["hog"][key])
    else:
        spec["hog"] = None
    _check_pooling(spec)
    return spec


def _check_pooling(spec):
    """Every 2x2 pool must get an even height and width (so nothing shrinks below 1 pixel)."""
    _, H, W = spec["input_shape"]
    for i, b in enumerate(spec["conv"], 1):
        if b["pool"]:
            if H < 2 or W < 2 or H % 2 or W % 2:
                raise ValueError(f"conv block {i}: 2x2 pooling needs even height and width, got {H}x{W}")
            H, W = H // 2, W // 2


def hog_dim(spec):
    """Length of the HOG vector the spec's hybrid head expects (0 without HOG)."""
    if spec["hog"] is None:
        return 0
    _, H, W = spec["input_shape"]
    return hog_length(H, W, **spec["hog"])
