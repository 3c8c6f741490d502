"""The paper's two networks as specs. Dropout rates are ours: the paper does not give them."""
from fercnn.models.convnet import ConvNet


def shallow_spec(*, hog=False, conv_dropout=0.2, fc_dropout=0.5):
    """conv 32 3x3 (SBN, dropout) - conv 64 3x3 (SBN, dropout, 2x2 pool) - FC 512 - softmax,
    as ConvNet keyword arguments. hog=True (or a dict of HOG settings) adds the hybrid's input."""
    return dict(
        conv=[
            {"filters": 32, "kernel": 3, "batchnorm": True, "dropout": conv_dropout, "pool": False},
            {"filters": 64, "kernel": 3, "batchnorm": True, "dropout": conv_dropout, "pool": True},
        ],
        fc=[{"units": 512, "batchnorm": False, "dropout": fc_dropout}],
        hog=hog or None,
    )


def deep_spec(*, hog=False, conv_dropout=0.2, fc_dropout=0.5):
    """conv 64 3x3, 128 5x5, 512 3x3, 512 3x3 (each SBN, dropout, 2x2 pool) -
    FC 256, FC 512 (each BN, dropout) - softmax, as ConvNet keyword arguments."""
    conv = [{"filters": f, "kernel": k, "batchnorm": True, "dropout": conv_dropout, "pool": True}
            for f, k in ((64, 3), (128, 5), (512, 3), (512, 3))]
    fc = [{"units": u, "batchnorm": True, "dropout": fc_dropout} for u in (256, 512)]
    return dict(conv=conv, fc=fc, hog=hog or None)


def shallow(*, hog=False, conv_dropout=0.2, fc_dropout=0.5, **overrides):
    """The paper's shallow network. overrides go to ConvNet (reg, dtype, seed, input_shape,
    num_classes, or conv/fc to replace the blocks; ops=module to run your own layers, see
    fercnn.models.ops). hog=True gives the paper's hybrid:
    HOG features join the flattened conv output before the FC blocks."""
    return ConvNet(**{**shallow_spec(hog=hog, conv_dropout=conv_dropout, fc_dropout=fc_dropout), **overrides})


def deep(*, hog=False, conv_dropout=0.2, fc_dropout=0.5, **overrides):
    """The paper's deep network; same keyword options as shallow()."""
    return ConvNet(**{**deep_spec(hog=hog, conv_dropout=conv_dropout, fc_dropout=fc_dropout), **overrides})


def vgg_spec(*, hog=False, conv_dropout=0.2, fc_dropout=0.5):
    """A network for accuracy inside the paper's template: four VGG-style stages of two 3x3
    convs (64, 128, 256, 512 filters; each SBN; the second pools 2x2 and drops out) -
    FC 512, FC 512 (each BN, dropout) - softmax. Pooling is optional per block in the
    template, which is what lets two convs share a stage."""
    conv = []
    for f in (64, 128, 256, 512):
        conv.append({"filters": f, "kernel": 3, "batchnorm": True, "dropout": 0.0, "pool": False})
        conv.append({"filters": f, "kernel": 3, "batchnorm": True, "dropout": conv_dropout, "pool": True})
    fc = [{"units": 512, "batchnorm": True, "dropout": fc_dropout} for _ in range(2)]
    return dict(conv=conv, fc=fc, hog=hog or None)


def vgg(*, hog=False, conv_dropout=0.2, fc_dropout=0.5, **overrides):
    """The accuracy network (vgg_spec); same keyword options as shallow()."""
    return ConvNet(**{**vgg_spec(hog=hog, conv_dropout=conv_dropout, fc_dropout=fc_dropout), **overrides})


def linear_spec(*, hog=False):
    """No conv and no FC blocks: a softmax classifier on the raw pixels (a baseline)."""
    return dict(conv=[], fc=[], hog=hog or None)


def linear(*, hog=False, **overrides):
    """Softmax regression on pixels (and HOG features with hog=True): the baseline the CNNs must beat."""
    return ConvNet(**{**linear_spec(hog=hog), **overrides})
