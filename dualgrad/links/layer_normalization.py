"""Layer normalization."""

from ..core.aval import aval_of
from ..core.variable import Parameter
from ..functions.normalization import layer_normalization
from ..link import Link
from ._utils import check_size, get_initializer, initialize_param, shape_of


class LayerNormalization(Link):
    """Normalize each sample over its features, then scale by ``gamma`` and shift by
    ``beta``: ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` per row.

    ``size=None`` infers the features from the first input: ``x.shape[1]`` for
    ``(N, D)`` inputs, ``x.shape[1:]`` for higher ranks (every axis after the batch).
    Later inputs may have more leading axes (``(N, T, D)`` for ``size=D``).

    >>> import numpy as np
    >>> ln = LayerNormalization()
    >>> y = ln(np.array([[1.0, 2.0, 3.0]], np.float32))
    >>> np.round(y.array, 3), ln.gamma.shape
    (array([[-1.225,  0.   ,  1.225]], dtype=float32), (3,))
    """

    def __init__(self, size=None, eps=1e-6, initial_gamma=None, initial_beta=None):
        super().__init__()
        self.eps = eps
        with self.init_scope():
            self.gamma = Parameter(get_initializer(initial_gamma, 1))
            self.beta = Parameter(get_initializer(initial_beta, 0))
        if size is not None:
            self._initialize_params(size)

    def _initialize_params(self, size):
        initialize_param(self, self.gamma, size)
        initialize_param(self, self.beta, size)

    def forward(self, x):
        x_shape = shape_of(x)
        if self.gamma.array is None:
            self._initialize_params(x_shape[1:])
        expected = tuple(self.gamma.shape)
        trailing = x_shape[len(x_shape) - len(expected):] if len(x_shape) > len(expected) else None
        check_size(
            "LayerNormalization", x, "as its trailing (feature) axes after the batch axes",
            trailing, expected, extra_avals=(aval_of(self.gamma),),
            hint=f"feed inputs of shape (batch, ...) + {expected}, or build the link with "
            "size=None to infer it from the first input",
        )
        return layer_normalization(x, self.gamma, self.beta, self.eps)


__all__ = ["LayerNormalization"]
