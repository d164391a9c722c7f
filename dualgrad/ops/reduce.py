"""Reductions: sum, max, min, prod, argmax.  Each lowers to a ``Reduction`` spec."""

from .. import scalar_ir as S
from ..core.aval import ShapedArray, normalize_axes
from ..core.op import Op, dtype_by_example
from ..core.tape import apply
from ..lowering import Reduction
from . import view


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


class _Reduce(Op):
    """Shared attribute handling: ``axis`` (None, int or tuple) and ``keepdims``."""

    __slots__ = ("axis", "keepdims")
    abstract = True

    def __init__(self, axis=None, keepdims=False):
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(axis)
        self.keepdims = bool(keepdims)

    def infer(self, x):
        axes = normalize_axes(self.name, self.axis, x.ndim, (x,))
        return ShapedArray(_reduced_shape(x.shape, axes, self.keepdims),
                           dtype_by_example(self, (x,)))

    def axes_for(self, ndim):
        return normalize_axes(self.name, self.axis, ndim, ())

    def expand_back(self, g, x_shape):
        """``g`` (the reduced shape) reshaped with the reduced axes kept as size 1."""
        if self.keepdims:
            return g
        axes = self.axes_for(len(x_shape))
        return view.reshape(g, _reduced_shape(x_shape, axes, True))


class Sum(_Reduce):
    __slots__ = ()
    save = "none"
    n_save_shape = True

    def forward(self, xp, x):
        return xp.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, inputs, y, need):
        x = inputs[0]
        return (view.broadcast_to(self.expand_back(gy, x.shape), x.shape),)

    def lower(self, *avals):
        return Reduction(0, S.arg(0) + S.arg(1), self.axis, self.keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - numpy's name
    """Sum over ``axis`` (all axes by default)."""
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
