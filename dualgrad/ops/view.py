"""Views: reshape, transpose, broadcast_to, basic slicing, pad, concat.

Each lowers to an ``IndexMap``: a scalar expression per input dimension in terms of
the output indices, so views cost nothing once fused into a kernel.
"""

import functools
import operator

import numpy

from .. import scalar_ir as S  # noqa: N812 - the project-wide alias
from ..core.aval import ShapedArray, result_dtype
from ..core.op import Op
from ..core.tape import apply
from ..core.variable import _is_array, as_variable
from ..errors import DTypeError, OpError, ShapeError
from ..lowering import IndexMap, Source


def _flat_index(shape):
    """The row-major flat position of the output index, as a scalar expression."""
    flat = S.const(0)
    for d, n in enumerate(shape):
        flat = flat * n + S.index(d) if d else S.index(0)
    return flat


def _unflatten(flat, shape):
    """Row-major coordinates of ``flat`` in ``shape``, as scalar expressions."""
    exprs = []
    stride = 1
    for n in reversed(shape):
        exprs.append(S.call("mod", S.call("floordiv", flat, stride), n))
        stride *= n
    return tuple(reversed(exprs))


class Reshape(Op):
    __slots__ = ("shape",)
    save = "none"

    def __init__(self, shape):
        self.shape = tuple(int(n) for n in shape)

    def infer(self, x):
        if int(numpy.prod(self.shape)) != x.size:
            raise ShapeError(
                "Reshape", f"cannot reshape {x.size} elements into shape {self.shape}", (x,),
                hint="the new shape must hold the same number of elements",
            )
        return ShapedArray(self.shape, x.dtype)

    def forward(self, xp, x):
        return xp.reshape(x, self.shape)

    def backward(self, gy, inputs, y, need):
        return (reshape(gy, inputs[0].shape),)

    def lower(self, x):
        if not self.shape:
            return IndexMap((Source(0, (S.const(0),) * x.ndim),))
        return IndexMap((Source(0, _unflatten(_flat_index(self.shape), x.shape)),))


def _resolve_shape(shape, size):
    shape = tuple(int(n) for n in shape)
    if shape.count(-1) == 1:
        known = int(numpy.prod([n for n in shape if n != -1]))
        missing = size // known if known else 0
        shape = tuple(missing if n == -1 else n for n in shape)
    return shape


def reshape(x, shape):
    """``x`` with a new shape (one entry may be -1)."""
    if isinstance(shape, (int, numpy.integer)):
        shape = (shape,)
    in_shape = tuple(x.shape)
    shape = _resolve_shape(shape, int(numpy.prod(in_shape)))
    if shape == in_shape:
        return x if hasattr(x, "creator") else apply(Reshape(shape), (x,))
    return apply(Reshape(shape), (x,))


class BroadcastTo(Op):
    __slots__ = ("shape",)
    save = "none"

    def __init__(self, shape):
        self.shape = tuple(int(n) for n in shape)

    def infer(self, x):
        try:
            fits = numpy.broadcast_shapes(x.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                "BroadcastTo", f"cannot broadcast to {self.shape}", (x,),
                hint="each input dimension must equal the target or be 1",
            )
        return ShapedArray(self.shape, x.dtype)

    def forward(self, xp, x):
        return xp.broadcast_to(x, self.shape)

    def backward(self, gy, inputs, y, need):
        from .reduce import sum_to

        return (sum_to(gy, inputs[0].shape),)

    def lower(self, x):
        in_shape = x.shape
        lead = len(self.shape) - len(in_shape)
        exprs = tuple(
            S.const(0) if n == 1 and self.shape[lead + d] != 1 else S.index(lead + d)
            for d, n in enumerate(in_shape)
        )
        return IndexMap((Source(0, exprs),))


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (a view; its gradient sums back)."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    return apply(BroadcastTo(shape), (x,))


# -- transpose ---------------------------------------------------------------------------


def _permutation(op_name, axes, ndim, avals):
    """``axes`` as a tuple of non-negative axes, checked to be a permutation of the dims."""
    axes = tuple(int(a) for a in axes)
    if len(axes) != ndim or any(not -ndim <= a < ndim for a in axes):
        raise ShapeError(
            op_name, f"axes {axes} do not fit an array of rank {ndim}", avals,
            hint=f"give each of the {ndim} axes exactly once, e.g. {tuple(reversed(range(ndim)))}",
        )
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != ndim:
        raise ShapeError(op_name, f"repeated axis in {axes}", avals,
                         hint="each axis must appear exactly once")
    return axes


class Transpose(Op):
    """``y = x.transpose(axes)``: ``y[i_0, ..., i_n] = x[j]`` with ``j[axes[k]] = i_k``.

    The VJP is the inverse permutation: ``gx = gy.transpose(argsort(axes))``.
    """

    __slots__ = ("axes",)
    save = "none"

    def __init__(self, axes):
        self.axes = tuple(int(a) for a in axes)

    def infer(self, x):
        axes = _permutation(self.name, self.axes, x.ndim, (x,))
        return ShapedArray(tuple(x.shape[a] for a in axes), x.dtype)

    def forward(self, xp, x):
        return xp.transpose(x, self.axes)

    def backward(self, gy, inputs, y, need):
        axes = _permutation(self.name, self.axes, gy.ndim, ())
        return (transpose(gy, tuple(int(a) for a in numpy.argsort(axes))),)

    def lower(self, x):
        axes = _permutation(self.name, self.axes, x.ndim, (x,))
        inverse = numpy.argsort(axes)
        return IndexMap((Source(0, tuple(S.index(int(inverse[d])) for d in range(x.ndim))),))


def transpose(x, axes=None):
    """Permute the axes of ``x`` (reverse them when ``axes`` is None).

    >>> import numpy as np
    >>> transpose(np.zeros((2, 3, 4)), (1, 0, 2)).shape
    (3, 2, 4)
    """
    ndim = len(x.shape)
    if axes is None:
        axes = tuple(reversed(range(ndim)))
    axes = _permutation("Transpose", axes, ndim, (x,))
    return apply(Transpose(axes), (x,))


def swapaxes(x, axis1, axis2):
    """``x`` with ``axis1`` and ``axis2`` interchanged (a Transpose).

    >>> import numpy as np
    >>> swapaxes(np.zeros((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """
    ndim = len(x.shape)
    for a in (axis1, axis2):
        if not -ndim <= a < ndim:
            raise ShapeError("Transpose", f"axis {a} is out of range for an array of rank {ndim}",
                             (x,), hint=f"swapaxes takes axes in [{-ndim}, {ndim})")
    axes = list(range(ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


# -- basic indexing ------------------------------------------------------------------------


def _as_int(op_name, value):
    try:
        return operator.index(value)
    except TypeError:
        raise DTypeError(
            op_name, f"slice bounds must be integers, got {type(value).__name__} {value!r}",
            hint="use ints (or None) for start, stop and step",
        ) from None


def normalize_entry(op_name, entry):
    """One basic index entry as an int, a slice of ints, None or Ellipsis."""
    if entry is None or entry is Ellipsis:
        return entry
    if isinstance(entry, slice):
        start, stop, step = (None if v is None else _as_int(op_name, v)
                             for v in (entry.start, entry.stop, entry.step))
        if step == 0:
            raise ShapeError(op_name, "slice step cannot be zero", hint="use a step of 1 or -1")
        return slice(start, stop, step)
    if isinstance(entry, (bool, numpy.bool_)):
        raise DTypeError(
            op_name, f"a boolean scalar ({entry!r}) is not a supported index",
            hint="use None to add an axis, or a boolean array as a mask",
        )
    if isinstance(entry, (int, numpy.integer)):
        return int(entry)
    raise DTypeError(
        op_name, f"cannot index with {type(entry).__name__} {entry!r}",
        hint="index with ints, slices, None, ... or integer/boolean arrays (x[key])",
    )


def expand_key(op_name, key, ndim, avals):
    """``key`` with its Ellipsis (explicit, or implied at the end) spelled out as full slices.

    Every entry but None and Ellipsis selects along one input axis."""
    consumed = sum(1 for e in key if e is not None and e is not Ellipsis)
    ellipses = [i for i, e in enumerate(key) if e is Ellipsis]
    if len(ellipses) > 1:
        raise ShapeError(op_name, "an index can only have a single Ellipsis (...)", avals)
    if consumed > ndim:
        raise ShapeError(
            op_name, f"too many indices: {consumed} for an array of rank {ndim}", avals,
            hint="give at most one int, slice or index array per axis",
        )
    fill = (slice(None),) * (ndim - consumed)
    if not ellipses:
        return tuple(key) + fill
    at = ellipses[0]
    return tuple(key[:at]) + fill + tuple(key[at + 1:])


def slice_coord(entry, n, out_dim):
    """``(length, coordinate)`` of a slice over an axis of size ``n``: the input index is
    ``start + step * i`` where ``i`` is output index ``out_dim``."""
    start, stop, step = entry.indices(n)
    coord = S.index(out_dim)
    if step != 1:
        coord = coord * step
    if start:
        coord = coord + start
    return len(range(start, stop, step)), coord


def int_coord(op_name, entry, n, axis, avals):
    """The constant input coordinate of an int index, bound-checked."""
    if not -n <= entry < n:
        hint = (f"valid indices along axis {axis} are {-n}..{n - 1}" if n
                else f"axis {axis} is empty: no index selects from it")
        raise ShapeError(
            op_name, f"index {entry} is out of bounds for axis {axis} with size {n}", avals,
            hint=hint,
        )
    return S.const(entry % n)


def basic_plan(op_name, key, shape, avals):
    """``(out_shape, coords)`` of ``x[key]`` for a basic key: ``coords[d]`` is the input
    index along axis ``d`` as a scalar expression over the output indices."""
    out_shape, coords = [], []
    for entry in expand_key(op_name, key, len(shape), avals):
        if entry is None:
            out_shape.append(1)
            continue
        axis = len(coords)
        if isinstance(entry, slice):
            length, coord = slice_coord(entry, shape[axis], len(out_shape))
            out_shape.append(length)
        else:
            coord = int_coord(op_name, entry, shape[axis], axis, avals)
        coords.append(coord)
    return tuple(out_shape), tuple(coords)


class GetItem(Op):
    """``y = x[key]`` for a basic key (ints, slices, None, Ellipsis): a strided view.

    Each output element reads one input element and no two read the same one, so the VJP
    writes ``gy`` back into zeros of ``x``'s shape: ``gx = scatter_add(gy, x.shape, key)``.
    Keys with index arrays or masks go to ``index.Gather`` (use ``x[key]`` / ``get_item``).
    """

    __slots__ = ("key",)
    save = "none"

    def __init__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        self.key = tuple(normalize_entry(self.name, e) for e in key)

    def infer(self, x):
        out_shape, _ = basic_plan(self.name, self.key, x.shape, (x,))
        return ShapedArray(out_shape, x.dtype)

    def forward(self, xp, x):
        return x[self.key]

    def backward(self, gy, inputs, y, need):
        from .index import ScatterAdd

        return (apply(ScatterAdd(inputs[0].shape, self.key), (gy,)),)

    def lower(self, x):
        _, coords = basic_plan(self.name, self.key, x.shape, (x,))
        return IndexMap((Source(0, coords),))


# -- pad -----------------------------------------------------------------------------------


def _all_of(conditions):
    """The conjunction of scalar conditions (True when there are none)."""
    if not conditions:
        return S.const(True)
    return functools.reduce(functools.partial(S.call, "and"), conditions)


class Pad(Op):
    """Constant padding: ``y[i] = x[i - before]`` inside the original box, ``value`` outside.

    ``pad_width`` holds one ``(before, after)`` pair per axis.  The VJP is the slice of
    ``gy`` that covers the box: ``gx = gy[before_0:before_0 + n_0, ...]``.
    """

    __slots__ = ("pad_width", "value")
    save = "none"

    def __init__(self, pad_width, value=0):
        self.pad_width = tuple((int(b), int(a)) for b, a in pad_width)
        self.value = value.item() if hasattr(value, "item") else value

    def infer(self, x):
        if len(self.pad_width) != x.ndim or any(b < 0 or a < 0 for b, a in self.pad_width):
            raise ShapeError(
                self.name, f"pad_width {self.pad_width} does not fit an array of rank {x.ndim}",
                (x,), hint="give one non-negative (before, after) pair per axis",
            )
        shape = tuple(n + b + a for n, (b, a) in zip(x.shape, self.pad_width))
        return ShapedArray(shape, x.dtype)

    def forward(self, xp, x):
        if not self.pad_width:  # a 0-d array has nothing to pad (numpy.pad rejects it)
            return xp.array(x, copy=True)
        return xp.pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, gy, inputs, y, need):
        shape = inputs[0].shape
        key = tuple(slice(b, b + n) for (b, _), n in zip(self.pad_width, shape))
        return (apply(GetItem(key), (gy,)),)

    def lower(self, x):
        exprs, inside = [], []
        for d, ((before, after), n) in enumerate(zip(self.pad_width, x.shape)):
            i = S.index(d)
            exprs.append(i - before if before else i)
            if before:
                inside.append(S.call("ge", i, before))
            if after:
                inside.append(S.call("lt", i, before + n))
        return IndexMap((Source(0, tuple(exprs), _all_of(inside)),), fill=self.value)


def pad(x, pad_width, mode="constant", constant_values=0):
    """numpy.pad with ``mode='constant'``: ``pad_width`` is an int, a ``(before, after)``
    pair, or one pair per axis.

    >>> import numpy as np
    >>> pad(np.ones((2, 3)), ((1, 0), (0, 2))).shape
    (3, 5)
    """
    if mode != "constant":
        raise OpError(
            "Pad", f"mode {mode!r} is not supported", (x,),
            hint="only mode='constant' is a primitive; build others from get_item and concat",
        )
    ndim = len(x.shape)
    try:
        widths = numpy.asarray(pad_width, dtype=numpy.int64)
        widths = numpy.broadcast_to(widths, (ndim, 2)) if ndim else widths.reshape(0, 2)
    except (ValueError, TypeError):
        raise ShapeError(
            "Pad", f"pad_width {pad_width!r} does not fit an array of rank {ndim}", (x,),
            hint="give an int, a (before, after) pair, or one pair per axis",
        ) from None
    return apply(Pad(widths.tolist(), constant_values), (x,))


# -- concat --------------------------------------------------------------------------------


class Concat(Op):
    """``y = concatenate(xs, axis)``: input ``k`` fills ``y[..., off_k:off_k + n_k, ...]``.

    The VJP hands each input its slice of ``gy`` along ``axis``.
    """

    __slots__ = ("axis",)
    save = "none"

    def __init__(self, axis=1):
        self.axis = int(axis)

    def _check(self, avals):
        if not avals:
            raise ShapeError(self.name, "needs at least one input", avals)
        ndim = avals[0].ndim
        if ndim == 0 or not -ndim <= self.axis < ndim:
            raise ShapeError(
                self.name, f"axis {self.axis} is out of range for inputs of rank {ndim}", avals,
                hint="0-d arrays cannot be concatenated (use stack)" if ndim == 0 else
                f"use an axis in [{-ndim}, {ndim})",
            )
        axis = self.axis % ndim
        first = avals[0].shape
        for a in avals:
            if a.ndim != ndim or any(n != m for d, (n, m) in enumerate(zip(a.shape, first))
                                     if d != axis):
                raise ShapeError(
                    self.name, f"shapes differ outside axis {axis}", avals,
                    hint=f"give all inputs the same rank and the same sizes except on axis {axis}",
                )
        return axis

    def infer(self, *xs):
        axis = self._check(xs)
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        return ShapedArray(tuple(shape), result_dtype(self.name, xs))

    def forward(self, xp, *xs):
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, gy, inputs, y, need):
        from .elementwise import cast

        axis = self.axis % gy.ndim
        gxs, offset = [], 0
        for x, needed in zip(inputs, need):
            n = x.shape[axis]
            key = (slice(None),) * axis + (slice(offset, offset + n),)
            offset += n
            gx = apply(GetItem(key), (gy,)) if needed else None
            if gx is not None and gx.dtype != x.dtype:
                gx = cast(gx, x.dtype)
            gxs.append(gx)
        return tuple(gxs)

    def lower(self, *xs):
        axis = self._check(xs)
        sources, offset = [], 0
        for k, x in enumerate(xs):
            n = x.shape[axis]
            i = S.index(axis)
            exprs = tuple(S.index(d) if d != axis else i - offset for d in range(x.ndim))
            inside = S.call("and", S.call("ge", i, offset), S.call("lt", i, offset + n))
            sources.append(Source(k, exprs, inside))
            offset += n
        return IndexMap(tuple(sources))


def concat(xs, axis=1):
    """Join arrays along ``axis`` (Chainer's default: 1).

    >>> import numpy as np
    >>> concat([np.zeros((2, 3)), np.ones((2, 1))]).shape
    (2, 4)
    """
    # Raw arrays become leaf Variables: a leaf keeps its shape for backward without
    # the tape holding anything more than the caller already does.
    xs = tuple(as_variable(x) if _is_array(x) else x for x in xs)
    ndim = len(xs[0].shape) if xs else 0
    if -ndim <= axis < ndim:
        axis %= ndim
    return apply(Concat(axis), xs)
