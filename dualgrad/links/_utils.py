"""Helpers shared by the links: initializer coercion, lazy parameters, input checks."""

import numbers

import numpy

from ..core.aval import aval_of
from ..errors import ShapeError
from ..initializers import Constant, LeCunNormal


def get_initializer(value, default=None):
    """Chainer's coercion: None -> ``default`` (LeCunNormal), scalar or array -> Constant.

    >>> get_initializer(0.5)
    Constant(fill_value=0.5)
    """
    if value is None:
        return LeCunNormal() if default is None else get_initializer(default)
    if isinstance(value, (numbers.Number, numpy.number)) or hasattr(value, "shape"):
        return Constant(value)
    if not callable(value):
        raise TypeError(
            f"an initializer must be None, a scalar, an array or a callable that fills an "
            f"array in place; got {type(value).__name__}"
        )
    return value


def initialize_param(link, param, shape):
    """Initialize ``param`` with ``shape`` on the device ``link`` was moved to."""
    param.initialize(shape)
    if link.device != "cpu":
        param.to_device(link.device)


def pair(value):
    """``3 -> (3, 3)``; pairs pass through (Chainer's ``_pair``)."""
    if hasattr(value, "__getitem__"):
        return tuple(value)
    return value, value


def shape_of(x):
    return tuple(aval_of(x).shape)


def check_ndim(link_name, x, ndim, layout):
    """Raise a ShapeError naming ``link_name`` unless ``x`` has ``ndim`` axes."""
    if len(shape_of(x)) != ndim:
        raise ShapeError(
            link_name, f"expects x with {ndim} axes {layout}, got shape {shape_of(x)}",
            (aval_of(x),), hint=f"reshape the input to {layout}",
        )


def check_size(link_name, x, axis_label, got, expected, hint, extra_avals=()):
    """Raise a ShapeError naming the link when ``got != expected``."""
    if got != expected:
        raise ShapeError(
            link_name, f"x {shape_of(x)} has {got} {axis_label} but the link expects {expected}",
            (aval_of(x),) + tuple(extra_avals), hint=hint,
        )
