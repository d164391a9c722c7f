"""Views: reshape, transpose, broadcast_to, basic slicing, pad, concat.

Each lowers to an ``IndexMap``: a scalar expression per input dimension in terms of
the output indices, so views cost nothing once fused into a kernel.
"""

import numpy

from .. import scalar_ir as S
from ..core.aval import ShapedArray
from ..core.op import Op
from ..core.tape import apply
from ..errors import ShapeError
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
            numpy.broadcast_shapes(x.shape, self.shape)
        except ValueError:
            raise ShapeError(
                "BroadcastTo", f"cannot broadcast to {self.shape}", (x,),
                hint="each input dimension must equal the target or be 1",
            ) from None
        if len(x.shape) > len(self.shape) or numpy.broadcast_shapes(x.shape, self.shape) != self.shape:
            raise ShapeError("BroadcastTo", f"cannot broadcast to {self.shape}", (x,))
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
