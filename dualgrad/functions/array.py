"""Array manipulation: shapes, axes, joining, splitting, indexing, dtype (views mostly)."""

import numbers

import numpy

from ..core.aval import aval_of
from ..errors import ShapeError
from ..ops import elementwise as ew
from ..ops import index, view
from ._utils import as_output, dtype_of, normalize_axis, shape_of


def reshape(x, shape):
    """``x`` with a new shape (one entry may be -1).

    >>> reshape(numpy.arange(6.0), (2, 3)).shape
    (2, 3)
    """
    return as_output(view.reshape(x, shape))


def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is None).

    >>> transpose(numpy.zeros((2, 3))).shape
    (3, 2)
    """
    return view.transpose(x, axes)


def swapaxes(x, axis1, axis2):
    """Interchange two axes.

    >>> swapaxes(numpy.zeros((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """
    return view.swapaxes(x, axis1, axis2)


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape``; the gradient sums back.

    >>> broadcast_to(numpy.ones(3), (2, 3)).shape
    (2, 3)
    """
    return as_output(view.broadcast_to(x, shape))


def broadcast(*xs):
    """All inputs broadcast to their common shape (a tuple, or one Variable for one input).

    >>> [y.shape for y in broadcast(numpy.ones((2, 1)), numpy.ones(3))]
    [(2, 3), (2, 3)]
    """
    shape = numpy.broadcast_shapes(*(shape_of(x) for x in xs))
    outs = tuple(broadcast_to(x, shape) for x in xs)
    return outs[0] if len(outs) == 1 else outs


def expand_dims(x, axis):
    """Insert an axis of length 1 at ``axis``.

    >>> expand_dims(numpy.ones((2, 3)), 1).shape
    (2, 1, 3)
    """
    shape = list(shape_of(x))
    ndim = len(shape) + 1
    if not -ndim <= axis < ndim:
        raise ShapeError(
            "expand_dims", f"axis {axis} is out of range for a result of rank {ndim}",
            (aval_of(x),), hint=f"use an axis in [{-ndim}, {ndim})",
        )
    shape.insert(axis % ndim, 1)
    return as_output(view.reshape(x, shape))


def squeeze(x, axis=None):
    """Remove axes of length 1 (all of them, or those in ``axis``).

    >>> squeeze(numpy.ones((2, 1, 3, 1))).shape
    (2, 3)
    """
    shape = shape_of(x)
    if axis is None:
        axes = tuple(d for d, n in enumerate(shape) if n == 1)
    else:
        axes = normalize_axis(axis, len(shape))
        wrong = [a for a in axes if a >= len(shape) or shape[a] != 1]
        if wrong:
            raise ShapeError(
                "squeeze", f"cannot squeeze axis {wrong[0]}: only axes of length 1 can go",
                (aval_of(x),), hint="pass axis= naming axes of length 1, or reshape",
            )
    return as_output(view.reshape(x, tuple(n for d, n in enumerate(shape) if d not in axes)))


def flatten(x):
    """``x`` as a 1-D array.

    >>> flatten(numpy.ones((2, 3))).shape
    (6,)
    """
    return as_output(view.reshape(x, (-1,)))


def get_item(x, slices):
    """``x[slices]`` with numpy's basic and advanced indexing.

    >>> get_item(numpy.arange(6.0).reshape(2, 3), (1, slice(None, 2))).array
    array([3., 4.])
    """
    return index.get_item(x, slices)


def concat(xs, axis=1):
    """Join arrays along ``axis`` (Chainer's default: 1).

    >>> concat([numpy.zeros((2, 3)), numpy.ones((2, 1))]).shape
    (2, 4)
    """
    return view.concat(xs, axis)


def stack(xs, axis=0):
    """Join arrays along a new axis.

    >>> stack([numpy.zeros(3), numpy.ones(3)], axis=1).shape
    (3, 2)
    """
    return view.concat([expand_dims(x, axis) for x in xs], axis)


def _split_points(indices_or_sections, size, avals):
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        if sections < 1 or size % sections:
            raise ShapeError(
                "split_axis", f"an axis of length {size} cannot be split into {sections} "
                "equal sections", avals,
                hint="pass a number of sections dividing the axis, or a list of split indices",
            )
        step = size // sections
        return [step * k for k in range(1, sections)]
    return [int(i) for i in indices_or_sections]


def split_axis(x, indices_or_sections, axis, force_tuple=True):
    """Split ``x`` along ``axis`` into equal sections or at the given indices.

    >>> [y.shape for y in split_axis(numpy.ones((2, 6)), [1, 4], axis=1)]
    [(2, 1), (2, 3), (2, 2)]
    """
    shape = shape_of(x)
    axis = normalize_axis(axis, len(shape))[0]
    points = _split_points(indices_or_sections, shape[axis], (aval_of(x),))
    bounds = [0] + points + [shape[axis]]
    outs = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        key = (slice(None),) * axis + (slice(start, stop),)
        outs.append(index.get_item(x, key))
    if len(outs) == 1 and not force_tuple:
        return outs[0]
    return tuple(outs)


def pad(x, pad_width, mode="constant", constant_values=0):
    """``numpy.pad`` with ``mode='constant'``.

    >>> pad(numpy.ones((2, 3)), 1).shape
    (4, 5)
    """
    return view.pad(x, pad_width, mode=mode, constant_values=constant_values)


def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y``; the condition gets no gradient.

    >>> where(numpy.array([True, False]), numpy.ones(2), numpy.zeros(2)).array
    array([1., 0.])
    """
    return ew.where(condition, x, y)


def cast(x, typ):
    """``x`` converted to dtype ``typ``; the gradient is cast back.

    >>> cast(numpy.ones(2), 'float32').dtype
    dtype('float32')
    """
    if dtype_of(x) == numpy.dtype(typ):
        return as_output(x)
    return ew.cast(x, typ)


def tile(x, reps):
    """``x`` repeated ``reps`` times along each axis (``numpy.tile``).

    >>> tile(numpy.array([1.0, 2.0]), 2).array
    array([1., 2., 1., 2.])
    """
    reps = (reps,) if isinstance(reps, numbers.Integral) else tuple(reps)
    shape = shape_of(x)
    ndim = max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + tuple(shape)
    reps = (1,) * (ndim - len(reps)) + tuple(reps)
    # (n0, n1, ...) -> (1, n0, 1, n1, ...) -> (r0, n0, r1, n1, ...) -> (r0*n0, r1*n1, ...)
    interleaved = view.reshape(x, tuple(v for n in shape for v in (1, n)))
    spread = view.broadcast_to(interleaved, tuple(v for r, n in zip(reps, shape)
                                                  for v in (r, n)))
    return as_output(view.reshape(spread, tuple(r * n for r, n in zip(reps, shape))))


def repeat(x, repeats, axis=None):
    """Each element repeated ``repeats`` times along ``axis`` (flattened if None).

    >>> repeat(numpy.array([1.0, 2.0]), 2).array
    array([1., 1., 2., 2.])
    """
    if axis is None:
        x, axis = view.reshape(x, (-1,)), 0
    shape = shape_of(x)
    axis = normalize_axis(axis, len(shape))[0]
    if not isinstance(repeats, numbers.Integral):
        picks = numpy.repeat(numpy.arange(shape[axis]), numpy.asarray(repeats))
        return index.get_item(x, (slice(None),) * axis + (picks,))
    # (..., n, ...) -> (..., n, 1, ...) -> (..., n, r, ...) -> (..., n*r, ...)
    split = shape[:axis + 1] + (1,) + shape[axis + 1:]
    spread = split[:axis + 1] + (int(repeats),) + shape[axis + 1:]
    out = shape[:axis] + (shape[axis] * int(repeats),) + shape[axis + 1:]
    y = view.broadcast_to(view.reshape(x, split), spread)
    return as_output(view.reshape(y, out))


__all__ = [
    "broadcast", "broadcast_to", "cast", "concat", "expand_dims", "flatten", "get_item",
    "pad", "repeat", "reshape", "split_axis", "squeeze", "stack", "swapaxes", "tile",
    "transpose", "where",
]  # fmt: skip
