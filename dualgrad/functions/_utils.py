"""Small helpers shared by the functions modules."""

from ..core.aval import aval_of
from ..core.variable import as_variable


def shape_of(x):
    """The shape of a Variable, array or Python scalar."""
    return aval_of(x).shape


def dtype_of(x):
    """The dtype of a Variable, array or Python scalar."""
    return aval_of(x).dtype


def as_output(x):
    """``x`` as a Variable: functions always return Variables, as in Chainer."""
    return as_variable(x)


def normalize_axis(axis, ndim):
    """``axis`` (int or tuple; negative allowed) as a tuple of non-negative ints."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else 0 for a in axes)
