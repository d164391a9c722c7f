"""The few Theano functions ``dualgrad.functions`` has no name for, written with dualgrad
ops.  Like ``F``, they take Variables, arrays and Python numbers, so they run eagerly,
traced, and as steps of a symbolic recipe alike.

>>> dot(numpy.ones(3), numpy.ones(3)).array
array(3.)
"""

import numpy

from dualgrad import functions as F
from dualgrad.core.aval import aval_of
from dualgrad.errors import ConcretizationError, ShapeError
from dualgrad.ops import elementwise as ew
from dualgrad.ops import index, linalg, reduce, view


def shape_of(x):
    """The shape of ``x`` as an int64 vector (known once the shapes are bound).

    >>> shape_of(numpy.zeros((2, 3)))
    array([2, 3])
    """
    return numpy.array(aval_of(x).shape, dtype=numpy.int64)


def dimshuffle(x, pattern):
    """Theano's ``x.dimshuffle(*pattern)``: reorder axes, insert ``'x'`` (size 1), drop
    the axes not named (they must have size 1).

    >>> dimshuffle(numpy.zeros(6), ('x', 0, 'x', 'x')).shape
    (1, 6, 1, 1)
    """
    shape = tuple(aval_of(x).shape)
    kept = [p for p in pattern if p != "x"]
    _check_pattern(x, pattern, kept, shape)
    y = x
    dropped = [axis for axis in range(len(shape)) if axis not in kept]
    if dropped:
        y = view.reshape(y, tuple(shape[axis] for axis in range(len(shape)) if axis in kept))
    order = sorted(kept)
    permutation = tuple(order.index(axis) for axis in kept)
    if permutation != tuple(range(len(kept))):
        y = view.transpose(y, permutation)
    final = tuple(1 if p == "x" else shape[p] for p in pattern)
    if tuple(aval_of(y).shape) != final:
        y = view.reshape(y, final)
    return y


def _check_pattern(x, pattern, kept, shape):
    avals = (aval_of(x),)
    for p in kept:
        if not isinstance(p, (int, numpy.integer)) or not 0 <= p < len(shape):
            raise ShapeError("dimshuffle", f"pattern {pattern} names axis {p!r}, but the input "
                             f"has {len(shape)} axes", avals,
                             hint="use 'x' for a new axis and 0..ndim-1 for existing ones")
    if len(set(kept)) != len(kept):
        raise ShapeError("dimshuffle", f"pattern {pattern} names an axis twice", avals)
    for axis, size in enumerate(shape):
        if axis not in kept and size != 1:
            raise ShapeError("dimshuffle", f"pattern {pattern} drops axis {axis}, which has "
                             f"size {size}", avals,
                             hint="only axes of size 1 can be dropped; reduce or index instead")


def flatten(x, ndim=1):
    """Keep the first ``ndim - 1`` axes and flatten the rest into one (Theano's flatten).

    >>> flatten(numpy.zeros((2, 3, 4)), 2).shape
    (2, 12)
    """
    shape = tuple(aval_of(x).shape)
    if not 1 <= ndim <= max(len(shape), 1):
        raise ShapeError("flatten", f"ndim={ndim} for an input of {len(shape)} axes",
                         (aval_of(x),), hint="ndim must be between 1 and the input's rank")
    return view.reshape(x, shape[: ndim - 1] + (-1,))


def dot(a, b):
    """Theano's (and numpy's) ``dot``: scalars multiply, vector . vector is their inner
    product, matrix . vector a vector, and an N-d ``a`` contracts its last axis with
    ``b``'s first (b a vector or matrix).

    >>> dot(numpy.ones((2, 3)), numpy.ones(3)).array
    array([3., 3.])
    """
    da, db = aval_of(a).ndim, aval_of(b).ndim
    if da == 0 or db == 0:
        return ew.mul(a, b)
    if db > 2:
        raise ShapeError("dot", f"dot of a {da}-d and a {db}-d array", (aval_of(a), aval_of(b)),
                         hint="use F.batch_matmul, or reshape to matrices first")
    lead = tuple(aval_of(a).shape[:-1])
    a2 = view.reshape(a, (-1, aval_of(a).shape[-1])) if da != 2 else a
    b2 = view.reshape(b, (-1, 1)) if db == 1 else b
    y = linalg.matmul(a2, b2)
    out = lead + (tuple(aval_of(b).shape[1:]) if db == 2 else ())
    return view.reshape(y, out) if tuple(aval_of(y).shape) != out else y


def ones_like(x, dtype=None):
    """An array of ones with ``x``'s shape (and dtype unless given)."""
    return full_like(x, 1, dtype)


def zeros_like(x, dtype=None):
    """An array of zeros with ``x``'s shape (and dtype unless given)."""
    return full_like(x, 0, dtype)


def full_like(x, value, dtype=None):
    aval = aval_of(x)
    return full(aval.shape, value, dtype or aval.dtype)


def full(shape, value, dtype):
    """``value`` broadcast to ``shape`` (a constant the graph folds or broadcasts)."""
    shape = (shape,) if isinstance(shape, (int, numpy.integer)) else tuple(int(n) for n in shape)
    scalar = numpy.array(value, dtype=dtype)[()]  # a numpy scalar: a graph constant
    return view.broadcast_to(scalar, shape)


def arange(start, stop=None, step=1, dtype=None):
    """``numpy.arange`` of sizes known once the shapes are bound (``T.arange(x.shape[0])``).

    >>> arange(3)
    array([0, 1, 2])
    """
    for bound in (start, stop, step):
        if hasattr(bound, "_array"):
            raise ConcretizationError(
                "arange needs sizes known once the shapes are bound (x.shape[0], Python "
                "ints); a value computed from data cannot size an array"
            )
    if stop is None:
        return numpy.arange(start, dtype=dtype)
    return numpy.arange(start, stop, step, dtype=dtype)


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",  # noqa: A002
           subsample=(1, 1), filter_flip=True, filter_dilation=(1, 1), num_groups=1):
    """Theano's ``conv2d``: a true convolution (the filters are flipped, unless
    ``filter_flip=False``), where ``F.convolution_2d`` is a cross-correlation.

    ``border_mode``: 'valid' (no padding), 'full' (``k - 1``), 'half' (``k // 2``), an int
    or a pair.  ``input_shape``/``filter_shape``, when given, are checked.

    >>> x = numpy.zeros((1, 1, 5, 5), numpy.float32); w = numpy.zeros((2, 1, 3, 3), numpy.float32)
    >>> conv2d(x, w, border_mode='half').shape
    (1, 2, 5, 5)
    """
    _check_declared("conv2d", "input", "input_shape", input, input_shape)
    _check_declared("conv2d", "filters", "filter_shape", filters, filter_shape)
    if filter_flip:
        flip = slice(None, None, -1)
        filters = index.get_item(filters, (slice(None), slice(None), flip, flip))
    kh, kw = aval_of(filters).shape[2:]
    dilation = _pair(filter_dilation)
    pad = _border_padding(border_mode, (kh, kw), dilation)
    return F.convolution_2d(input, filters, stride=_pair(subsample), pad=pad, dilate=dilation,
                            groups=num_groups)


def _pair(value):
    return (int(value), int(value)) if isinstance(value, (int, numpy.integer)) else tuple(value)


def _border_padding(border_mode, ksize, dilation):
    extent = tuple((k - 1) * d + 1 for k, d in zip(ksize, dilation))
    if border_mode == "valid":
        return (0, 0)
    if border_mode == "full":
        return tuple(e - 1 for e in extent)
    if border_mode == "half":
        return tuple(e // 2 for e in extent)
    if isinstance(border_mode, (int, numpy.integer, tuple)):
        return _pair(border_mode)
    raise ValueError(f"border_mode {border_mode!r}: use 'valid', 'full', 'half', an int or a "
                     "pair of ints")


def _check_declared(op_name, what, keyword, x, declared):
    if declared is None:
        return
    shape = tuple(aval_of(x).shape)
    declared = tuple(declared)
    if len(declared) != len(shape) or any(
            d is not None and d != s for d, s in zip(declared, shape)):
        raise ShapeError(op_name, f"{what} has shape {shape}, but {keyword} says "
                         f"{declared}", (aval_of(x),),
                         hint=f"fix {keyword} or the data (None leaves a size free)")


def categorical_crossentropy(coding_dist, true_dist):
    """Per-row ``-sum(true * log(coding))``; integer labels pick ``-log(coding[i, t_i])``."""
    coding, true = aval_of(coding_dist), aval_of(true_dist)
    if true.ndim == coding.ndim:
        return ew.neg(reduce.sum(ew.mul(true_dist, ew.log(coding_dist)), axis=-1))
    if true.ndim == coding.ndim - 1 and true.dtype.kind in "iu":
        rows = numpy.arange(coding.shape[0])
        return ew.neg(ew.log(index.get_item(coding_dist, (rows, true_dist))))
    raise ShapeError("categorical_crossentropy", "true_dist must be a distribution of "
                     "coding_dist's shape or integer labels with one axis less",
                     (coding, true))


def binary_crossentropy(output, target):
    """``-(target * log(output) + (1 - target) * log(1 - output))`` elementwise."""
    positive = ew.mul(target, ew.log(output))
    negative = ew.mul(ew.sub(1.0, target), ew.log(ew.sub(1.0, output)))
    return ew.neg(ew.add(positive, negative))
