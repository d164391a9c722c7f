"""Initializers: callables that fill a parameter array in place, as in Chainer.

``init(array)`` overwrites ``array`` (numpy or cupy) and returns nothing. Random
initializers draw from numpy's global generator unless given ``rng=`` (a
``numpy.random.Generator`` or ``RandomState``), so ``numpy.random.seed(0)`` makes a
network's initial weights reproducible, exactly as it did in Chainer. Values are
drawn on the host and copied to the array's device, so a seed gives the same weights
on CPU and GPU.

Fan sizes follow Chainer: for a weight of shape ``(out, in, k1, k2, ...)``,
``fan_in = in * k1 * k2 * ...`` and ``fan_out = out * k1 * k2 * ...``.

>>> import numpy as np
>>> from dualgrad import initializers
>>> w = np.empty((3, 4), np.float32)
>>> initializers.Constant(0.5)(w)
>>> w[0]
array([0.5, 0.5, 0.5, 0.5], dtype=float32)
"""

import math

import numpy

from .backend import get_array_module
from .errors import DTypeError, ShapeError

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Initializer",
    "LeCunNormal", "LeCunUniform", "Normal", "One", "Orthogonal", "Uniform", "Zero",
    "generate_array", "get_fans",
]  # fmt: skip


def get_fans(shape):
    """``(fan_in, fan_out)`` of a weight shape ``(out, in, *receptive_field)``.

    >>> get_fans((20, 10, 3, 3))
    (90, 180)
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ShapeError(
            "initializer", f"fan-in/fan-out need a weight of rank >= 2, got shape {shape}",
            hint="use Constant, Normal or Uniform for biases and other 0-d/1-d parameters",
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


class Initializer:
    """Base class: ``dtype`` (None = any floating dtype) and ``__call__(array)``."""

    def __init__(self, dtype=None, rng=None):
        self.dtype = None if dtype is None else numpy.dtype(dtype)
        self.rng = rng

    def __call__(self, array):
        raise NotImplementedError

    def _check_dtype(self, array):
        if self.dtype is not None and array.dtype != self.dtype:
            raise DTypeError(
                type(self).__name__,
                f"initializer made for {self.dtype} was given a {array.dtype} array",
                (array,),
                hint=f"create the array as {self.dtype}, or build the initializer with "
                f"dtype={array.dtype.name!r} (or dtype=None to accept any)",
            )

    def _random(self):
        """The host generator: ``rng`` if given, else numpy's global one (``np.random``)."""
        return numpy.random if self.rng is None else self.rng

    def __repr__(self):
        fields = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if v is not None and k != "rng"
        )
        return f"{type(self).__name__}({fields})"


def _fill(array, host_values):
    """Write host (numpy) values into ``array``, wherever it lives."""
    xp = get_array_module(array)
    array[...] = xp.asarray(host_values, dtype=array.dtype)


class Constant(Initializer):
    """Every element set to ``fill_value`` (a scalar or an array broadcastable to it)."""

    def __init__(self, fill_value, dtype=None):
        super().__init__(dtype)
        self.fill_value = fill_value

    def __call__(self, array):
        self._check_dtype(array)
        _fill(array, numpy.broadcast_to(numpy.asarray(self.fill_value), array.shape))


class Zero(Constant):
    """All zeros (the usual bias initializer)."""

    def __init__(self, dtype=None):
        super().__init__(0.0, dtype)


class One(Constant):
    """All ones (e.g. a normalisation layer's scale)."""

    def __init__(self, dtype=None):
        super().__init__(1.0, dtype)


class Normal(Initializer):
    """i.i.d. ``N(0, scale**2)``."""

    def __init__(self, scale=0.05, dtype=None, rng=None):
        super().__init__(dtype, rng)
        self.scale = scale

    def __call__(self, array):
        self._check_dtype(array)
        _fill(array, self._random().normal(0.0, self.scale, size=array.shape))


class Uniform(Initializer):
    """i.i.d. ``U(-scale, scale)``."""

    def __init__(self, scale=0.05, dtype=None, rng=None):
        super().__init__(dtype, rng)
        self.scale = scale

    def __call__(self, array):
        self._check_dtype(array)
        _fill(array, self._random().uniform(-self.scale, self.scale, size=array.shape))


class _Scaled(Initializer):
    """A Normal or Uniform whose scale is computed from the array's fans."""

    distribution = Normal

    def __init__(self, scale=1.0, dtype=None, rng=None):
        super().__init__(dtype, rng)
        self.scale = scale

    def spread(self, fan_in, fan_out):
        raise NotImplementedError

    def __call__(self, array):
        self._check_dtype(array)
        fan_in, fan_out = get_fans(array.shape)
        scale = self.scale * math.sqrt(self.spread(fan_in, fan_out))
        self.distribution(scale, rng=self.rng)(array)


class LeCunNormal(_Scaled):
    """``N(0, s**2)`` with ``s = scale * sqrt(1 / fan_in)`` (LeCun et al. 1998)."""

    def spread(self, fan_in, fan_out):
        return 1.0 / fan_in


class LeCunUniform(_Scaled):
    """``U(-s, s)`` with ``s = scale * sqrt(3 / fan_in)``: variance ``scale**2 / fan_in``."""

    distribution = Uniform

    def spread(self, fan_in, fan_out):
        return 3.0 / fan_in


class GlorotNormal(_Scaled):
    """``N(0, s**2)`` with ``s = scale * sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio)."""

    def spread(self, fan_in, fan_out):
        return 2.0 / (fan_in + fan_out)


class GlorotUniform(_Scaled):
    """``U(-s, s)`` with ``s = scale * sqrt(6 / (fan_in + fan_out))``."""

    distribution = Uniform

    def spread(self, fan_in, fan_out):
        return 6.0 / (fan_in + fan_out)


class _HeScaled(_Scaled):
    """He et al. 2015: the fan is ``fan_in`` (default) or ``fan_out`` (``fan_option``)."""

    numerator = 2.0

    def __init__(self, scale=1.0, dtype=None, fan_option="fan_in", rng=None):
        if fan_option not in ("fan_in", "fan_out"):
            raise ValueError(f"fan_option must be 'fan_in' or 'fan_out', got {fan_option!r}")
        super().__init__(scale, dtype, rng)
        self.fan_option = fan_option

    def spread(self, fan_in, fan_out):
        return self.numerator / (fan_in if self.fan_option == "fan_in" else fan_out)


class HeNormal(_HeScaled):
    """``N(0, s**2)`` with ``s = scale * sqrt(2 / fan_in)``: keeps ReLU activations' scale."""


class HeUniform(_HeScaled):
    """``U(-s, s)`` with ``s = scale * sqrt(6 / fan_in)``: the same variance as HeNormal."""

    distribution = Uniform
    numerator = 6.0


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``scale`` (Saxe et al. 2014).

    The array is viewed as a matrix ``(shape[0], prod(shape[1:]))``. With no more rows
    than columns its rows are orthonormal (``W @ W.T = scale**2 I``); with more rows
    than columns, its columns are (``W.T @ W = scale**2 I``). Q comes from the QR
    decomposition of a Gaussian matrix, with the signs fixed by ``diag(R) > 0`` so
    the result is uniformly distributed over orthogonal matrices. ``scale`` defaults
    to 1.1 as in Chainer.
    """

    def __init__(self, scale=1.1, dtype=None, rng=None):
        super().__init__(dtype, rng)
        self.scale = scale

    def __call__(self, array):
        self._check_dtype(array)
        if array.ndim == 0:
            # A 1x1 orthogonal matrix is +1 or -1.
            _fill(array, numpy.copysign(self.scale, self._random().normal()))
            return
        if array.size == 0:
            raise ShapeError(
                "Orthogonal", "cannot make an orthogonal system for an empty array", (array,)
            )
        rows, cols = array.shape[0], array.size // array.shape[0]
        tall = rows > cols
        gaussian = self._random().normal(size=(cols, rows) if tall else (rows, cols))
        # QR of the transpose gives orthonormal columns of length min(rows, cols).
        q, r = numpy.linalg.qr(gaussian.T)
        q = q * numpy.copysign(self.scale, numpy.diag(r))
        matrix = q if tall else q.T
        _fill(array, matrix.reshape(array.shape))


def generate_array(initializer, shape, xp=numpy, dtype=None):
    """A new ``xp`` array of ``shape`` filled by ``initializer`` (an initializer or scalar).

    >>> generate_array(Constant(2.0), (2,)).tolist()
    [2.0, 2.0]
    """
    if numpy.isscalar(initializer):
        initializer = Constant(initializer)
    dtype = dtype or getattr(initializer, "dtype", None) or numpy.float32
    shape = (shape,) if isinstance(shape, (int, numpy.integer)) else tuple(shape)
    array = xp.empty(shape, dtype=dtype)
    initializer(array)
    return array
