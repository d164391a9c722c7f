"""Elementwise math, reductions and matrix products (Chainer's ``functions.math``)."""

import numpy

from ..errors import ShapeError
from ..ops import elementwise as ew
from ..ops import linalg, reduce, stable, view
from ._utils import as_output, shape_of


def exp(x):
    """``e ** x`` elementwise.

    >>> exp(numpy.array([0.0])).array
    array([1.])
    """
    return ew.exp(x)


def log(x):
    """Natural logarithm.

    >>> log(numpy.array([1.0])).array
    array([0.])
    """
    return ew.log(x)


def log1p(x):
    """``log(1 + x)``, accurate for small ``x``.

    >>> log1p(numpy.array([0.0])).array
    array([0.])
    """
    return ew.log1p(x)


def expm1(x):
    """``exp(x) - 1``, accurate for small ``x``.

    >>> expm1(numpy.array([0.0])).array
    array([0.])
    """
    return ew.expm1(x)


def sqrt(x):
    """Square root.

    >>> sqrt(numpy.array([4.0])).array
    array([2.])
    """
    return ew.sqrt(x)


def square(x):
    """``x * x``.

    >>> square(numpy.array([3.0])).array
    array([9.])
    """
    return ew.mul(x, x)


def absolute(x):
    """``|x|`` (gradient ``sign(x)``, 0 at 0).

    >>> absolute(numpy.array([-2.0])).array
    array([2.])
    """
    return ew.absolute(x)


def sin(x):
    """Sine.

    >>> sin(numpy.array([0.0])).array
    array([0.])
    """
    return ew.sin(x)


def cos(x):
    """Cosine.

    >>> cos(numpy.array([0.0])).array
    array([1.])
    """
    return ew.cos(x)


def erf(x):
    """The error function.

    >>> erf(numpy.array([0.0])).array
    array([0.])
    """
    return ew.erf(x)


def sign(x):
    """-1, 0 or 1 by the sign of ``x``; no gradient flows.

    >>> sign(numpy.array([-3.0, 0.0, 2.0])).array
    array([-1.,  0.,  1.])
    """
    return ew.sign(x)


def floor(x):
    """Largest integer not above ``x``; no gradient flows.

    >>> floor(numpy.array([1.5])).array
    array([1.])
    """
    return ew.floor(x)


def maximum(x1, x2):
    """Elementwise maximum (ties share the gradient).

    >>> maximum(numpy.array([1.0, 4.0]), numpy.array([3.0, 2.0])).array
    array([3., 4.])
    """
    return ew.maximum(x1, x2)


def minimum(x1, x2):
    """Elementwise minimum (ties share the gradient).

    >>> minimum(numpy.array([1.0, 4.0]), numpy.array([3.0, 2.0])).array
    array([1., 2.])
    """
    return ew.minimum(x1, x2)


def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]`` (None: no limit); gradient 1 inside, bounds included.

    >>> clip(numpy.array([-2.0, 0.5, 3.0]), 0.0, 1.0).array
    array([0. , 0.5, 1. ])
    """
    y = x
    if x_min is not None:
        y = ew.where(ew.less(y, x_min), x_min, y)
    if x_max is not None:
        y = ew.where(ew.greater(y, x_max), x_max, y)
    return as_output(y)


def identity(*xs):
    """Its inputs, unchanged (as Variables); one input gives one output.

    >>> identity(numpy.array([1.0])).array
    array([1.])
    """
    outs = tuple(as_output(x) for x in xs)
    return outs[0] if len(outs) == 1 else outs


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Chainer's name
    """Sum over ``axis`` (all axes by default).

    >>> sum(numpy.array([[1.0, 2.0], [3.0, 4.0]]), axis=0).array
    array([4., 6.])
    """
    return reduce.sum(x, axis=axis, keepdims=keepdims)


def _count(shape, axis):
    ndim = len(shape)
    if axis is None:
        return int(numpy.prod(shape, dtype=numpy.int64))
    axes = (axis,) if isinstance(axis, (int, numpy.integer)) else tuple(axis)
    return int(numpy.prod([shape[a % ndim] for a in axes], dtype=numpy.int64))


def mean(x, axis=None, weights=None, keepdims=False):
    """Average over ``axis`` (all by default); with ``weights``, ``sum(x * w) / sum(w)``.

    >>> mean(numpy.array([[1.0, 2.0], [3.0, 4.0]]), axis=1).array
    array([1.5, 3.5])
    """
    if weights is not None:
        total = reduce.sum(ew.mul(x, weights), axis=axis, keepdims=keepdims)
        return ew.div(total, reduce.sum(weights, axis=axis, keepdims=keepdims))
    count = _count(shape_of(x), axis)
    return ew.div(reduce.sum(x, axis=axis, keepdims=keepdims), count)


def max(x, axis=None, keepdims=False):  # noqa: A001 - Chainer's name
    """Largest element over ``axis`` (ties share the gradient).

    >>> max(numpy.array([[1.0, 5.0], [4.0, 2.0]]), axis=0).array
    array([4., 5.])
    """
    return reduce.max(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 - Chainer's name
    """Smallest element over ``axis`` (ties share the gradient).

    >>> min(numpy.array([[1.0, 5.0], [4.0, 2.0]]), axis=1).array
    array([1., 2.])
    """
    return reduce.min(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None):
    """Index (int64) of the first largest element; not differentiable.

    >>> argmax(numpy.array([[1.0, 5.0], [4.0, 2.0]]), axis=1).array
    array([1, 0])
    """
    return reduce.argmax(x, axis=axis)


def argmin(x, axis=None):
    """Index (int64) of the first smallest element; not differentiable.

    >>> argmin(numpy.array([[1.0, 5.0], [4.0, 2.0]]), axis=1).array
    array([0, 1])
    """
    return reduce.argmin(x, axis=axis)


def prod(x, axis=None, keepdims=False):
    """Product over ``axis`` (all by default); the gradient is exact at zeros.

    >>> prod(numpy.array([[1.0, 2.0], [3.0, 4.0]]), axis=1).array
    array([ 2., 12.])
    """
    return reduce.prod(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x), axis))`` without overflow.

    >>> logsumexp(numpy.array([0.0, 0.0])).array
    array(0.69314718)
    """
    return stable.logsumexp(x, axis=axis, keepdims=keepdims)


def matmul(a, b, transa=False, transb=False):
    """Matrix product (numpy's ``matmul`` broadcasting), optionally transposing either side.

    >>> matmul(numpy.ones((2, 3)), numpy.ones((2, 3)), transb=True).array
    array([[3., 3.],
           [3., 3.]])
    """
    return linalg.matmul(a, b, transa=transa, transb=transb)


def _as_batch_of_matrices(x, name):
    shape = shape_of(x)
    if len(shape) == 2:
        return view.reshape(x, shape + (1,))
    if len(shape) != 3:
        raise ShapeError(
            "batch_matmul", f"{name} must be 2-D (B, N) or 3-D (B, N, M), got shape {shape}",
            (x,), hint="use F.matmul for other ranks: it broadcasts batch axes like numpy",
        )
    return x


def batch_matmul(a, b, transa=False, transb=False):
    """Chainer's batched product: a 2-D (B, N) input counts as (B, N, 1).

    >>> batch_matmul(numpy.ones((4, 2, 3)), numpy.ones((4, 3, 5))).shape
    (4, 2, 5)
    """
    a = _as_batch_of_matrices(a, "a")
    b = _as_batch_of_matrices(b, "b")
    return linalg.matmul(a, b, transa=transa, transb=transb)


__all__ = [
    "absolute", "argmax", "argmin", "batch_matmul", "clip", "cos", "erf", "exp", "expm1",
    "floor", "identity", "log", "log1p", "logsumexp", "matmul", "max", "maximum", "mean",
    "min", "minimum", "prod", "sign", "sin", "sqrt", "square", "sum",
]  # fmt: skip
