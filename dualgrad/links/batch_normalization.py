"""Batch normalization with running statistics."""

import numpy

from .. import _config
from ..backend import to_device
from ..core.state import assign
from ..core.variable import Parameter, Variable
from ..functions.normalization import batch_normalization, fixed_batch_normalization
from ..initializers import Initializer, generate_array
from ..link import Link
from ..ops import elementwise as ew
from ._utils import check_size, get_initializer, initialize_param, shape_of


class BatchNormalization(Link):
    """Normalize over the batch (and spatial) axes, then scale by ``gamma`` and shift by
    ``beta``, as in Chainer.

    Training (``dg.config.train``): ``y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta``
    with the batch's statistics, and the running averages move towards them:
    ``avg = decay * avg + (1 - decay) * stat`` (the variance unbiased). Otherwise
    ``avg_mean`` and ``avg_var`` are used. ``finetune=True`` averages the statistics of
    all batches since ``start_finetuning()`` instead (decay ``1 - 1/N``).

    ``size`` is the parameter shape (the channels, for NCHW images); with ``size=None``
    give ``axis`` (the normalized axes) and it is inferred on the first call.

    >>> import numpy as np
    >>> bn = BatchNormalization(3)
    >>> y = bn(np.random.rand(8, 3, 4, 4).astype(np.float32))
    >>> y.shape, bn.avg_mean.shape
    ((8, 3, 4, 4), (3,))
    """

    def __init__(self, size=None, decay=0.9, eps=2e-5, dtype=numpy.float32, use_gamma=True,
                 use_beta=True, initial_gamma=None, initial_beta=None, axis=None,
                 initial_avg_mean=None, initial_avg_var=None):
        super().__init__()
        if size is None and axis is None:
            raise ValueError("BatchNormalization needs size (the parameter shape) or axis "
                             "(the normalized axes, to infer size from the first input)")
        self.decay = decay
        self.eps = eps
        self.axis = (axis,) if isinstance(axis, int) else axis
        # half precision keeps its statistics in float32, as in Chainer
        dtype = numpy.dtype(dtype or numpy.float32)
        self._highprec_dtype = numpy.dtype(numpy.float32) if dtype.itemsize < 4 else dtype
        self._initial_avg_mean = initial_avg_mean
        self._initial_avg_var = initial_avg_var
        self.add_persistent("N", 0)
        self.add_persistent("avg_mean", None)
        self.add_persistent("avg_var", None)
        with self.init_scope():
            self.gamma = self._new_param(initial_gamma, 1) if use_gamma else None
            self.beta = self._new_param(initial_beta, 0) if use_beta else None
        if size is not None:
            self._initialize_params(size)

    def _new_param(self, initial, default):
        initializer = get_initializer(initial, default)
        if isinstance(initializer, Initializer):
            initializer.dtype = self._highprec_dtype
        return Parameter(initializer)

    def _initialize_params(self, shape):
        self.avg_mean = self._init_stat(self._initial_avg_mean, 0, shape)
        self.avg_var = self._init_stat(self._initial_avg_var, 1, shape)
        self._initial_avg_mean = self._initial_avg_var = None
        for param in (self.gamma, self.beta):
            if param is not None:
                initialize_param(self, param, shape)

    def _init_stat(self, initial, default, shape):
        array = generate_array(get_initializer(initial, default), shape,
                               dtype=self._highprec_dtype)
        return array if self.device == "cpu" else to_device(array, self.device)

    def _scale_and_shift(self, xp):
        """gamma and beta, or constant 1 and 0 when the link was built without them."""
        gamma, beta = self.gamma, self.beta
        if gamma is None:
            gamma = xp.ones(self.avg_mean.shape, dtype=self._highprec_dtype)
        if beta is None:
            beta = xp.zeros(self.avg_mean.shape, dtype=self._highprec_dtype)
        return gamma, beta

    def forward(self, x, finetune=False):
        x_shape = shape_of(x)
        if self.avg_mean is None:
            axes = tuple(a % len(x_shape) for a in self.axis)
            self._initialize_params(tuple(n for d, n in enumerate(x_shape) if d not in axes))
        self._check_input(x_shape, x)
        gamma, beta = self._scale_and_shift(self.xp)
        if not _config.config.train:
            return fixed_batch_normalization(x, gamma, beta, self.avg_mean, self.avg_var,
                                             self.eps, axis=self.axis)
        decay = self._finetune_decay() if finetune else self.decay
        return batch_normalization(x, gamma, beta, eps=self.eps, running_mean=self.avg_mean,
                                   running_var=self.avg_var, decay=decay, axis=self.axis)

    def _check_input(self, x_shape, x):
        stat_shape = tuple(self.avg_mean.shape)
        if self.axis is None:
            # default axes: 0 and everything after the parameter's axes
            kept = tuple(x_shape[1:1 + len(stat_shape)])
        else:
            axes = tuple(a % max(len(x_shape), 1) for a in self.axis)
            kept = tuple(n for d, n in enumerate(x_shape) if d not in axes)
        check_size(
            "BatchNormalization", x, "as the shape of its axes that are not normalized", kept,
            stat_shape, hint=f"x must keep the shape {stat_shape} on the axes that are not "
            "normalized (axis 1 onwards for the default axis=None); rebuild the link with "
            "the right size or pass axis=",
        )

    def _finetune_decay(self):
        """Count the batch (``N += 1``) and return ``1 - 1/N`` as a float64 0-d Variable.

        Both are ops on the 0-d array that holds ``N``: a compiled step counts and
        averages on every replay (a Python ``N`` would freeze its trace-time value)."""
        counter = self.__dict__["N"]
        with _config.no_backprop_mode():
            assign(counter, ew.add(Variable(counter, requires_grad=False), 1))
            return ew.sub(1.0, ew.div(1.0, Variable(counter, requires_grad=False)))

    @property
    def N(self):
        """How many ``finetune=True`` batches were averaged (a Python int), kept in a 0-d
        int64 array that is saved with the link."""
        return int(self.__dict__["N"])

    @N.setter
    def N(self, value):
        # A number is written into the array (compiled code keeps reading it); an
        # array (registration, a device move) becomes the new holder.
        if hasattr(value, "shape") or "N" not in self.__dict__:
            self.__dict__["N"] = value if hasattr(value, "shape") else numpy.array(
                value, numpy.int64)
        else:
            assign(self.__dict__["N"], value)

    def start_finetuning(self):
        """Restart the average of ``finetune=True`` calls."""
        self.N = 0


__all__ = ["BatchNormalization"]
