"""Activation functions, as composites of the primitive ops (stable where it matters)."""

import math

import numpy  # noqa: F401  (the examples use it)

from ..ops import elementwise as ew
from ..ops import reduce, stable

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def relu(x):
    """Rectified linear unit ``max(x, 0)`` (gradient 0 at 0, as in Chainer).

    >>> relu(numpy.array([-1.0, 2.0])).array
    array([0., 2.])
    """
    return ew.where(ew.greater(x, 0), x, 0)


def leaky_relu(x, slope=0.2):
    """``x`` where ``x >= 0``, else ``slope * x``.

    >>> leaky_relu(numpy.array([-1.0, 2.0])).array
    array([-0.2,  2. ])
    """
    return ew.where(ew.greater_equal(x, 0), x, ew.mul(x, slope))


def elu(x, alpha=1.0):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    >>> elu(numpy.array([0.0, 2.0])).array
    array([0., 2.])
    """
    positive = ew.greater(x, 0)
    # expm1 only sees x <= 0: exp of a large positive x in the unused branch would be
    # inf, and its zero gradient times inf is NaN.
    negative_part = ew.expm1(ew.where(positive, 0, x))
    if alpha != 1.0:
        negative_part = ew.mul(negative_part, alpha)
    return ew.where(positive, x, negative_part)


def selu(x, alpha=_SELU_ALPHA, scale=_SELU_SCALE):
    """Scaled ELU: ``scale * elu(x, alpha)`` with the self-normalising constants.

    >>> selu(numpy.array([0.0]), scale=2.0).array
    array([0.])
    """
    return ew.mul(elu(x, alpha), scale)


def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))``, as ``0.5 * tanh(0.5 * x) + 0.5`` (no overflow).

    >>> sigmoid(numpy.array([0.0])).array
    array([0.5])
    """
    return stable.sigmoid(x)


def hard_sigmoid(x):
    """Chainer's piecewise-linear sigmoid ``clip(0.2 * x + 0.5, 0, 1)``.

    >>> hard_sigmoid(numpy.array([-5.0, 0.0, 5.0])).array
    array([0. , 0.5, 1. ])
    """
    y = ew.add(ew.mul(x, 0.2), 0.5)
    return ew.where(ew.less(y, 0), 0, ew.where(ew.greater(y, 1), 1, y))


def tanh(x):
    """Hyperbolic tangent.

    >>> tanh(numpy.array([0.0])).array
    array([0.])
    """
    return ew.tanh(x)


def softplus(x, beta=1.0):
    """``log(1 + exp(beta * x)) / beta``, as ``max(bx, 0) + log1p(exp(-|bx|))``.

    >>> softplus(numpy.array([0.0])).array
    array([0.69314718])
    """
    bx = x if beta == 1.0 else ew.mul(x, beta)
    # NOTE: at bx == 0, maximum splits its gradient in half and |bx| contributes 0,
    # which is exactly sigmoid(0) = 1/2.
    y = ew.add(ew.maximum(bx, 0.0), ew.log1p(ew.exp(ew.neg(ew.absolute(bx)))))
    return y if beta == 1.0 else ew.div(y, beta)


def softmax(x, axis=1):
    """``exp(x - m) / sum(exp(x - m), axis)`` with ``m = max(x, axis)``, so nothing overflows.

    >>> softmax(numpy.array([[0.0, 0.0]])).array
    array([[0.5, 0.5]])
    """
    # NOTE: not exp(log_softmax(x)): x - logsumexp(x) rounds at the scale of the largest
    # logit (about 5e-4 for logits near 1e4 in float32), while exp(x - m) is exact near
    # the maximum.  The gradient through ``m`` cancels (softmax is shift invariant) and
    # every factor of the gradient lies in [0, 1].
    m = reduce.max(x, axis=axis, keepdims=True)
    e = ew.exp(ew.sub(x, m))
    return ew.div(e, reduce.sum(e, axis=axis, keepdims=True))


def log_softmax(x, axis=1):
    """``x - logsumexp(x, axis)``, with a stable custom gradient.

    >>> log_softmax(numpy.array([[0.0, 0.0]])).array
    array([[-0.69314718, -0.69314718]])
    """
    return stable.log_softmax(x, axis)


def gelu(x):
    """Gaussian error linear unit ``x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))``.

    >>> gelu(numpy.array([0.0])).array
    array([0.])
    """
    return ew.mul(ew.mul(x, 0.5), ew.add(ew.erf(ew.mul(x, _SQRT_HALF)), 1.0))


__all__ = [
    "elu", "gelu", "hard_sigmoid", "leaky_relu", "log_softmax", "relu", "selu", "sigmoid",
    "softmax", "softplus", "tanh",
]  # fmt: skip
