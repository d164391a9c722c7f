"""Fully connected layer."""

import math

from ..core.aval import aval_of
from ..core.variable import Parameter
from ..functions.connection import linear
from ..link import Link
from ._utils import check_size, get_initializer, initialize_param, shape_of


class Linear(Link):
    """``y = x W^T + b`` with ``W`` of shape ``(out_size, in_size)``, as in Chainer.

    ``Linear(n)`` and ``Linear(None, n)`` leave ``in_size`` open: it becomes the product
    of the input's non-batch axes on the first call. ``initialW`` defaults to LeCunNormal,
    ``initial_bias`` to 0; each may be an initializer, a scalar or an array.

    >>> import numpy as np
    >>> layer = Linear(None, 2)
    >>> layer(np.ones((5, 3, 4), np.float32)).shape, layer.W.shape
    ((5, 2), (2, 12))
    """

    def __init__(self, in_size, out_size=None, nobias=False, initialW=None, initial_bias=None):
        super().__init__()
        if out_size is None:
            in_size, out_size = None, in_size
        self.in_size = in_size
        self.out_size = out_size
        with self.init_scope():
            self.W = Parameter(get_initializer(initialW))
            if in_size is not None:
                self._initialize_params(in_size)
            if nobias:
                self.b = None
            else:
                self.b = Parameter(get_initializer(initial_bias, 0), out_size)

    def _initialize_params(self, in_size):
        self.in_size = in_size
        initialize_param(self, self.W, (self.out_size, in_size))

    def forward(self, x, n_batch_axes=1):
        """Apply the layer; axes after the first ``n_batch_axes`` are flattened."""
        features = math.prod(shape_of(x)[n_batch_axes:])
        if self.W.array is None:
            self._initialize_params(features)
        check_size(
            "Linear", x, f"features per sample (product of the axes after {n_batch_axes} "
            "batch axes)", features, self.W.shape[1],
            hint=f"feed inputs with {self.W.shape[1]} features, or build Linear(None, "
            f"{self.out_size}) to infer in_size from the first input",
            extra_avals=(aval_of(self.W),),
        )
        return linear(x, self.W, self.b, n_batch_axes=n_batch_axes)


__all__ = ["Linear"]
