"""What the Solver needs of a model, stated once. fercnn.models.ConvNet has all of it.

As in CS231n, a model is its parameters and a loss; the rest lets a run be evaluated,
checkpointed and resumed bit for bit:

    model.params                          {name: array}; the Solver replaces the arrays after
                                          each update (the update rules never write into them)
    model.dtype                           the dtype of X and of the parameters
    model.loss(X, y, **inputs)            a training step: (loss, grads keyed like params)
    model.predict(X, *, batch_size, **inputs)   (N,) labels, in evaluation mode
    model.state_dict()                    (meta, arrays): everything that describes the model
                                          now. meta is JSON; its "rng" entry, if any, is the
                                          state of the model's own random generator, and its
                                          spec, reg, dtype and seed, where present, must match
                                          for a checkpoint to be resumed
    model.load_state_dict(meta, arrays)   takes such a state back

Optional: ``model.has_batchnorm`` and ``model.recalibrate_batchnorm(X, *, batch_size,
**inputs)``; where has_batchnorm is true, the Solver recomputes the running statistics
before each evaluation (see Solver's bn_recalibration).

``inputs`` are a split's other per-example arrays: for each ``<name>_train`` in the data
besides X_train and y_train (a hybrid network's ``features_train``, its HOG vectors), the
Solver passes ``name=`` that array's rows of the batch, so they travel with X.
"""
from typing import Protocol, runtime_checkable


@runtime_checkable
class Trainable(Protocol):
    """A model the Solver can train (see the module docstring)."""

    params: dict

    def loss(self, X, y, **inputs): ...

    def predict(self, X, *, batch_size, **inputs): ...

    def state_dict(self): ...

    def load_state_dict(self, meta, arrays): ...


# the entries of a model's state_dict meta that decide whether a checkpoint may be resumed
RESUME_KEYS = ("spec", "reg", "dtype", "seed", "label_smoothing")
