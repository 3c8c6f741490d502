"""Networks of the paper's family, built from specs: ConvNet, the shallow/deep presets, load."""
from fercnn.models.convnet import ConvNet
from fercnn.models.io import load
from fercnn.models.presets import deep, shallow

__all__ = ["ConvNet", "shallow", "deep", "load"]
