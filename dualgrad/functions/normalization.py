"""Batch and layer normalization, as composites of primitive ops."""

import numpy

from .._config import no_backprop_mode
from ..core.aval import aval_of
from ..core.variable import Variable
from ..errors import ShapeError
from ..ops import elementwise as ew
from ..ops import reduce, view
from ._utils import normalize_axis, shape_of


def _reduced_axes(x_ndim, gamma_ndim, axis):
    """Chainer's default: axis 0 plus every axis after gamma's (e.g. (0, 2, 3) for NCHW)."""
    if axis is None:
        return (0,) + tuple(range(gamma_ndim + 1, x_ndim))
    return normalize_axis(axis, x_ndim)


def _param_shape(x, gamma, axes, op_name):
    """gamma's shape with the reduced axes put back as 1s, so it broadcasts against x."""
    x_shape = shape_of(x)
    kept = tuple(n for d, n in enumerate(x_shape) if d not in axes)
    if tuple(shape_of(gamma)) != kept:
        raise ShapeError(
            op_name, f"gamma {tuple(shape_of(gamma))} must have x's shape without the "
            f"normalized axes {axes}, i.e. {kept}", (aval_of(x), aval_of(gamma)),
            hint="pass axis= to say which axes are normalized (default: all but axis 1)",
        )
    return tuple(1 if d in axes else n for d, n in enumerate(x_shape))


def _moments(x, axes, count):
    """``(mean, x - mean, var)`` over ``axes`` (kept as 1s); ``var`` is the biased one."""
    mean = ew.div(reduce.sum(x, axis=axes, keepdims=True), count)
    centered = ew.sub(x, mean)
    var = ew.div(reduce.sum(ew.mul(centered, centered), axis=axes, keepdims=True), count)
    return mean, centered, var


def _scale_shift(centered, var, gamma, beta, eps, shape):
    """``gamma * centered / sqrt(var + eps) + beta`` with the parameters reshaped."""
    x_hat = ew.div(centered, ew.sqrt(ew.add(var, eps)))
    return ew.add(ew.mul(x_hat, view.reshape(gamma, shape)), view.reshape(beta, shape))


def _update_running(running, value, decay):
    """``running = decay * running + (1 - decay) * value``, in place (as Chainer does),
    computed with ops and written through the one state-write point.

    ``decay`` is a Python float or a 0-d Variable (batch normalisation's finetuning
    average ``1 - 1/N``); ``1 - decay`` is taken in its precision, then both factors
    are rounded to the statistics' dtype, as a Python float is."""
    from ..core.state import assign

    with no_backprop_mode():
        current = running if isinstance(running, Variable) else Variable(
            running, requires_grad=False)
        keep, take = decay, 1.0 - decay
        if isinstance(decay, Variable):
            keep, take = ew.cast(keep, current.dtype), ew.cast(take, current.dtype)
        new = current * keep + view.reshape(value, current.shape) * take
        assign(running, ew.cast(new, current.dtype))


def batch_normalization(x, gamma, beta, eps=2e-5, running_mean=None, running_var=None,
                        decay=0.9, axis=None):
    """Normalize with the batch statistics over ``axis``, then scale and shift.

    ``running_mean``/``running_var`` (arrays) are updated in place with the batch mean and
    the unbiased batch variance, ``r = decay * r + (1 - decay) * stat`` (``decay``: a
    float or a 0-d Variable).

    >>> y = batch_normalization(numpy.array([[1.0], [3.0]]), numpy.ones(1), numpy.zeros(1))
    >>> numpy.round(y.array, 3)
    array([[-1.],
           [ 1.]])
    """
    x_shape = shape_of(x)
    axes = _reduced_axes(len(x_shape), len(shape_of(gamma)), axis)
    shape = _param_shape(x, gamma, axes, "batch_normalization")
    count = int(numpy.prod([x_shape[a] for a in axes], dtype=numpy.int64))
    mean, centered, var = _moments(x, axes, count)
    y = _scale_shift(centered, var, gamma, beta, eps, shape)
    if running_mean is not None:
        _update_running(running_mean, mean, decay)
    if running_var is not None:
        adjust = count / max(count - 1.0, 1.0)  # unbiased variance for inference
        _update_running(running_var, var * adjust, decay)
    return y


def fixed_batch_normalization(x, gamma, beta, mean, var, eps=2e-5, axis=None):
    """Normalize with given statistics (inference mode), then scale and shift.

    >>> fixed_batch_normalization(numpy.array([[3.0]]), numpy.ones(1), numpy.zeros(1),
    ...                           numpy.array([1.0]), numpy.array([4.0]), eps=0.0).array
    array([[1.]])
    """
    axes = _reduced_axes(len(shape_of(x)), len(shape_of(gamma)), axis)
    shape = _param_shape(x, gamma, axes, "fixed_batch_normalization")
    centered = ew.sub(x, view.reshape(mean, shape))
    return _scale_shift(centered, view.reshape(var, shape), gamma, beta, eps, shape)


def layer_normalization(x, gamma, beta, eps=1e-5):
    """Normalize each sample over its trailing ``gamma.ndim`` axes, then scale and shift.

    >>> y = layer_normalization(numpy.array([[1.0, 3.0]]), numpy.ones(2), numpy.zeros(2))
    >>> numpy.round(y.array, 3)
    array([[-1.,  1.]])
    """
    x_shape, g_shape = shape_of(x), shape_of(gamma)
    lead = len(x_shape) - len(g_shape)
    if lead < 1 or tuple(x_shape[lead:]) != tuple(g_shape):
        raise ShapeError(
            "layer_normalization", f"gamma {tuple(g_shape)} must match the trailing axes of "
            f"x {tuple(x_shape)}, after at least one batch axis", (aval_of(x), aval_of(gamma)),
            hint="for x of shape (N, D) pass gamma and beta of shape (D,)",
        )
    axes = tuple(range(lead, len(x_shape)))
    count = int(numpy.prod(g_shape, dtype=numpy.int64))
    _, centered, var = _moments(x, axes, count)
    return _scale_shift(centered, var, gamma, beta, eps, (1,) * lead + tuple(g_shape))


__all__ = ["batch_normalization", "fixed_batch_normalization", "layer_normalization"]
