"""Reductions: sum, max, min, prod, argmax, argmin.  Each lowers to a ``Reduction`` spec."""

import numbers

import numpy

from .. import scalar_ir as S
from ..core.aval import ShapedArray, normalize_axes
from ..core.op import Op, dtype_by_example
from ..core.tape import apply
from ..errors import ShapeError
from ..lowering import Reduction
from . import elementwise as ew
from . import view


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def _canonical_axis(axis):
    """``axis`` as None, an int or a tuple of ints (numpy integers accepted)."""
    if axis is None:
        return None
    if isinstance(axis, numbers.Integral):
        return int(axis)
    return tuple(int(a) for a in axis)


def _lowest(dtype):
    """The identity of ``max`` for ``dtype``: -inf, the smallest integer, or False."""
    if dtype.kind == "f":
        return -numpy.inf
    if dtype.kind == "b":
        return False
    return numpy.iinfo(dtype).min


def _highest(dtype):
    """The identity of ``min`` for ``dtype``: inf, the largest integer, or True."""
    if dtype.kind == "f":
        return numpy.inf
    if dtype.kind == "b":
        return True
    return numpy.iinfo(dtype).max


class _Reduce(Op):
    """Shared attribute handling: ``axis`` (None, int or tuple) and ``keepdims``."""

    __slots__ = ("axis", "keepdims")
    abstract = True

    def __init__(self, axis=None, keepdims=False):
        self.axis = _canonical_axis(axis)
        self.keepdims = bool(keepdims)

    def infer(self, x):
        axes = normalize_axes(self.name, self.axis, x.ndim, (x,))
        # The dtype never depends on the axes; asking a whole-array reduction keeps the
        # one-element probe of ``dtype_by_example`` valid for any ``axis``.
        dtype = dtype_by_example(type(self)(), (x,))
        return ShapedArray(_reduced_shape(x.shape, axes, self.keepdims), dtype)

    def axes_for(self, ndim):
        return normalize_axes(self.name, self.axis, ndim, ())

    def lowered_axes(self, x):
        """The reduced axes as a sorted tuple of real dimensions (none for a 0-d input)."""
        return tuple(a for a in self.axes_for(x.ndim) if a < x.ndim)

    def expand_back(self, g, x_shape):
        """``g`` (the reduced shape) reshaped with the reduced axes kept as size 1."""
        if self.keepdims:
            return g
        axes = self.axes_for(len(x_shape))
        return view.reshape(g, _reduced_shape(x_shape, axes, True))

    def check_not_empty(self, x, hint):
        """Raise a ShapeError when a reduced axis has length 0 (no element to pick)."""
        axes = normalize_axes(self.name, self.axis, x.ndim, (x,))
        empty = [a for a in axes if a < x.ndim and x.shape[a] == 0]
        if empty:
            raise ShapeError(
                self.name,
                f"cannot reduce over axis {empty[0]} of length 0: an empty axis has no "
                "element to pick",
                (x,), hint=hint,
            )
        return axes


class Sum(_Reduce):
    """``y = sum_i x_i`` over the reduced axes; ``dy/dx_i = 1``."""

    __slots__ = ()
    save = "none"
    n_save_shape = True

    def forward(self, xp, x):
        return xp.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, inputs, y, need):
        x = inputs[0]
        return (view.broadcast_to(self.expand_back(gy, x.shape), x.shape),)

    def lower(self, x):
        return Reduction(0, S.arg(0) + S.arg(1), self.lowered_axes(x), self.keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - numpy's name
    """Sum over ``axis`` (all axes by default).

    >>> import numpy as np
    >>> sum(np.arange(6.0).reshape(2, 3), axis=1).array
    array([ 3., 12.])
    """
    return apply(Sum(axis, keepdims), (x,))


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the VJP of broadcasting ``shape`` to ``x.shape``)."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = len(x.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + d for d, n in enumerate(shape) if n == 1 and x.shape[lead + d] != 1
    )
    y = sum(x, axis=axes, keepdims=True) if axes else x
    return view.reshape(y, shape) if tuple(y.shape) != shape else y


class _Extreme(_Reduce):
    """Max or min over the reduced axes, optionally folded with ``initial``.

    ``dy/dx_i = [x_i == y] / #{j : x_j == y}``: at ties the gradient is split evenly
    among the tied elements (a subgradient, and the one PyTorch picks).
    """

    __slots__ = ("initial",)
    abstract = True
    save = "both"
    reducer = None  # "max" | "min" (the numpy/cupy function)
    combiner = None  # "maximum" | "minimum" (the elementwise ufunc)

    def __init__(self, axis=None, keepdims=False, initial=None):
        super().__init__(axis, keepdims)
        self.initial = initial

    def infer(self, x):
        if self.initial is None:
            self.check_not_empty(x, hint=(
                f"pass initial=... (e.g. F.{self.reducer}(x, axis=0, initial=0.0)) to "
                "give empty axes a value, or make sure the reduced axes are non-empty"
            ))
        return super().infer(x)

    def forward(self, xp, x):
        # cupy's max/min take no ``initial``: fold it in with maximum/minimum instead.
        reduce = getattr(xp, self.reducer)
        if self.initial is None:
            return reduce(x, axis=self.axis, keepdims=self.keepdims)
        x = xp.asarray(x)
        axes = self.axes_for(x.ndim)
        if any(a < x.ndim and x.shape[a] == 0 for a in axes):
            shape = _reduced_shape(x.shape, axes, self.keepdims)
            return xp.full(shape, self.initial, dtype=x.dtype)
        reduced = reduce(x, axis=self.axis, keepdims=self.keepdims)
        return getattr(xp, self.combiner)(reduced, xp.asarray(self.initial, dtype=x.dtype))

    def backward(self, gy, inputs, y, need):
        x = inputs[0]
        winners = ew.cast(ew.equal(x, self.expand_back(y, x.shape)), gy.dtype)
        ties = sum(winners, self.axis, keepdims=True)
        # NOTE: when ``initial`` beats every element nothing ties; max(ties, 1) keeps
        # the gradient 0 there instead of 0/0.
        share = ew.div(winners, ew.maximum(ties, 1.0))
        return (ew.mul(share, self.expand_back(gy, x.shape)),)

    def identity(self, dtype):
        raise NotImplementedError

    def lower(self, x):
        identity = self.identity(x.dtype) if self.initial is None else self.initial
        combine = S.call("max" if self.reducer == "max" else "min", S.arg(0), S.arg(1))
        return Reduction(identity, combine, self.lowered_axes(x), self.keepdims)


class Max(_Extreme):
    __slots__ = ()
    reducer, combiner = "max", "maximum"

    def identity(self, dtype):
        return _lowest(dtype)


class Min(_Extreme):
    __slots__ = ()
    reducer, combiner = "min", "minimum"

    def identity(self, dtype):
        return _highest(dtype)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - numpy's name
    """Largest element over ``axis`` (all axes by default); ties share the gradient.

    >>> import numpy as np
    >>> max(np.array([[1.0, 5.0], [4.0, 2.0]]), axis=0).array
    array([4., 5.])
    """
    return apply(Max(axis, keepdims, initial), (x,))


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - numpy's name
    """Smallest element over ``axis`` (all axes by default); ties share the gradient.

    >>> import numpy as np
    >>> min(np.array([[1.0, 5.0], [4.0, 2.0]]), axis=1).array
    array([1., 2.])
    """
    return apply(Min(axis, keepdims, initial), (x,))


class Prod(_Reduce):
    """``y = prod_i x_i``; ``dy/dx_i = prod_{j != i} x_j``, exact also where x has zeros.

    With ``p`` the product of the non-zero elements and ``n`` the number of zeros:
    n = 0: ``p / x_i``;  n = 1: ``p`` at the zero, 0 elsewhere;  n >= 2: 0 everywhere.
    """

    __slots__ = ()
    save = "inputs"

    def forward(self, xp, x):
        return xp.prod(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, inputs, y, need):
        x = inputs[0]
        zeros = ew.equal(x, 0.0)
        n_zero = sum(ew.cast(zeros, gy.dtype), self.axis, keepdims=True)
        x_safe = ew.where(zeros, 1.0, x)
        x_zero = ew.where(zeros, x, 0.0)
        p = prod(x_safe, self.axis, keepdims=True)
        # NOTE: ``z`` (the sum of the zero elements) is 0 in value but carries d/dx at
        # the zeros, so the rule's own gradient (double backprop) is exact there too:
        # e.g. with one zero x_j, dy/dx_i = (p / x_i) * x_j for i != j, whose derivative
        # in x_j is p / x_i, not 0.
        z = sum(x_zero, self.axis, keepdims=True)
        at_zero = ew.where(
            ew.equal(n_zero, 1.0), 1.0,
            ew.where(ew.equal(n_zero, 2.0), ew.sub(z, x_zero), 0.0),
        )
        at_nonzero = ew.where(
            ew.equal(n_zero, 0.0), 1.0, ew.where(ew.equal(n_zero, 1.0), z, 0.0)
        )
        factor = ew.where(zeros, ew.mul(p, at_zero), ew.mul(ew.div(p, x_safe), at_nonzero))
        return (ew.mul(factor, self.expand_back(gy, x.shape)),)

    def lower(self, x):
        return Reduction(1, S.arg(0) * S.arg(1), self.lowered_axes(x), self.keepdims)


def prod(x, axis=None, keepdims=False):
    """Product over ``axis`` (all axes by default); the gradient handles zeros exactly.

    >>> import numpy as np
    >>> prod(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=1).array
    array([ 2., 12.])
    """
    return apply(Prod(axis, keepdims), (x,))


class _ArgExtreme(_Reduce):
    """The int64 index of the first largest (smallest) element; not differentiable.

    ``axis`` is None (index into the flattened array) or one int, as in numpy.
    """

    __slots__ = ()
    abstract = True
    save = "none"
    reducer = None  # "argmax" | "argmin"

    def infer(self, x):
        if self.axis is not None and not isinstance(self.axis, int):
            raise ShapeError(
                self.name, f"axis must be None or one int, got {self.axis!r}", (x,),
                hint="move the axes together and reshape them into one first",
            )
        self.check_not_empty(x, hint="make sure the reduced axis is non-empty (check x.shape)")
        axes = normalize_axes(self.name, self.axis, x.ndim, (x,))
        return ShapedArray(_reduced_shape(x.shape, axes, self.keepdims), numpy.dtype("int64"))

    def forward(self, xp, x):
        index = getattr(xp, self.reducer)(x, axis=self.axis, keepdims=self.keepdims)
        return xp.asarray(index).astype(xp.int64, copy=False)

    def backward(self, gy, inputs, y, need):
        return (None,)

    def lower(self, x):
        # combine(acc, value) differs from acc exactly when value wins: strictly beats it
        # (so the first of equal elements keeps the index), or is the first NaN, which
        # then stays (numpy's rule).
        wins = S.call("or", S.call(self.beats, S.arg(1), S.arg(0)),
                      S.call("and", S.call("ne", S.arg(1), S.arg(1)),
                             S.call("eq", S.arg(0), S.arg(0))))
        start = _lowest(x.dtype) if self.beats == "gt" else _highest(x.dtype)
        return Reduction(start, S.where(wins, S.arg(1), S.arg(0)),
                         self.lowered_axes(x), self.keepdims, arg=True)


class ArgMax(_ArgExtreme):
    __slots__ = ()
    reducer = "argmax"
    beats = "gt"


class ArgMin(_ArgExtreme):
    __slots__ = ()
    reducer = "argmin"
    beats = "lt"


def argmax(x, axis=None, keepdims=False):
    """Index (int64) of the first largest element along ``axis`` (flattened if None).

    >>> import numpy as np
    >>> argmax(np.array([[1.0, 5.0], [4.0, 2.0]]), axis=1).array
    array([1, 0])
    """
    return apply(ArgMax(axis, keepdims), (x,))


def argmin(x, axis=None, keepdims=False):
    """Index (int64) of the first smallest element along ``axis`` (flattened if None).

    >>> import numpy as np
    >>> argmin(np.array([[1.0, 5.0], [4.0, 2.0]]), axis=0).array
    array([0, 1])
    """
    return apply(ArgMin(axis, keepdims), (x,))
