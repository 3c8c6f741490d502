"""Networks of the paper's family, built from specs: ConvNet, the shallow/deep presets, load,
and the networks trained on FER2013 that ship with fercnn (pretrained)."""
from fercnn.models.convnet import ConvNet
from fercnn.models.loading import load
from fercnn.models.presets import deep, deep_spec, linear, linear_spec, shallow, shallow_spec, vgg, vgg_spec
from fercnn.models.shipped import pretrained

__all__ = ["ConvNet", "shallow", "deep", "vgg", "linear", "shallow_spec", "deep_spec", "vgg_spec", "linear_spec",
           "load", "pretrained"]
