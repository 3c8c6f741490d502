"""The functions a network's layers call: fercnn.fast's by default, or any module with the
names and contracts of fercnn.layers (yours, from ``fercnn exercises start``).

    model = fercnn.models.shallow(ops=my_layers)   # my_layers: a module, e.g. fercnn.layers

fercnn.fast fuses batchnorm, ReLU and dropout into one op per block. A module without those
fused ops (fercnn.layers, an exercise folder's layers.py) gets them composed from its own
batchnorm, ReLU and dropout, one after another, which computes the same numbers with the
same rng (tests/test_ops.py holds the fused ops to exactly that composition).
"""
import inspect

FUSED = ("relu_dropout_forward", "relu_dropout_backward",
         "batchnorm_relu_dropout_forward", "batchnorm_relu_dropout_backward")


class OpSet:
    """The ops of one module, as the layer objects of fercnn.models.blocks call them.

    module: None (fercnn.fast) or any object whose attributes are the ops. A layer asks for
    the names it calls when it is built (``need``), so a missing one is a ValueError naming
    it before any training starts.
    """

    def __init__(self, module=None):
        if module is None:
            import fercnn.fast as module
        self.module = module
        self.name = getattr(module, "__name__", type(module).__name__)
        self.fused = all(callable(getattr(module, n, None)) for n in FUSED)
        conv_backward = getattr(module, "conv_backward", None)
        try:
            params = inspect.signature(conv_backward).parameters if callable(conv_backward) else {}
        except (TypeError, ValueError):
            params = {}
        self._conv_need_dx = "need_dx" in params

    def need(self, *names):
        """Raise a ValueError naming every one of ``names`` the module lacks."""
        missing = [n for n in names if not callable(getattr(self.module, n, None))]
        if missing:
            raise ValueError(f"ops: {self.name} lacks {', '.join(missing)}, which this network calls")

    def __getattr__(self, name):  # only called for names not set in __init__: the module's ops
        return getattr(self.__dict__["module"], name)

    def conv_backward_maybe_dx(self, dout, cache, need_dx):
        """conv_backward(dout, cache, need_dx=need_dx) where the op takes need_dx; otherwise the
        full backward, its dx dropped when not needed."""
        if self._conv_need_dx:
            return self.module.conv_backward(dout, cache, need_dx=need_dx)
        dx, dw, db = self.module.conv_backward(dout, cache)
        return (dx if need_dx else None), dw, db

    def relu_dropout_forward(self, x, p, *, training, rng):
        """ReLU, then dropout (only when p > 0, as the fused op draws only then)."""
        if self.fused:
            return self.module.relu_dropout_forward(x, p, training=training, rng=rng)
        h, relu_cache = self.module.relu_forward(x)
        if p == 0:
            return h, (relu_cache, None)
        out, drop_cache = self.module.dropout_forward(h, p, training=training, rng=rng)
        return out, (relu_cache, drop_cache)

    def relu_dropout_backward(self, dout, cache):
        if self.fused:
            return self.module.relu_dropout_backward(dout, cache)
        relu_cache, drop_cache = cache
        if drop_cache is not None:
            dout = self.module.dropout_backward(dout, drop_cache)
        return self.module.relu_backward(dout, relu_cache)

    def batchnorm_relu_dropout_forward(self, x, gamma, beta, state, p, *, training, rng, momentum):
        """Batchnorm (spatial for 4-D x), ReLU, dropout."""
        if self.fused:
            return self.module.batchnorm_relu_dropout_forward(x, gamma, beta, state, p, training=training, rng=rng,
                                                              momentum=momentum)
        bn = self.module.spatial_batchnorm_forward if x.ndim == 4 else self.module.batchnorm_forward
        h, bn_cache = bn(x, gamma, beta, state, training=training, momentum=momentum)
        out, rest = self.relu_dropout_forward(h, p, training=training, rng=rng)
        return out, (x.ndim, bn_cache, rest)

    def batchnorm_relu_dropout_backward(self, dout, cache):
        if self.fused:
            return self.module.batchnorm_relu_dropout_backward(dout, cache)
        ndim, bn_cache, rest = cache
        bn = self.module.spatial_batchnorm_backward if ndim == 4 else self.module.batchnorm_backward
        return bn(self.relu_dropout_backward(dout, rest), bn_cache)

    def activation_names(self, *, batchnorm, spatial, dropout):
        """The module's names an activation block calls."""
        if self.fused:
            return ("batchnorm_relu_dropout_forward", "batchnorm_relu_dropout_backward") if batchnorm \
                else ("relu_dropout_forward", "relu_dropout_backward")
        names = ["relu_forward", "relu_backward"]
        if dropout:
            names += ["dropout_forward", "dropout_backward"]
        if batchnorm:
            kind = "spatial_batchnorm" if spatial else "batchnorm"
            names += [f"{kind}_forward", f"{kind}_backward"]
        return tuple(names)


def as_opset(ops):
    """An OpSet from None (fercnn.fast), a module, or an OpSet."""
    return ops if isinstance(ops, OpSet) else OpSet(ops)
