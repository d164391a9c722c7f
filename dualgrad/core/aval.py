"""Abstract values: what ``infer`` reasons about (shape, dtype, weak scalar or not)."""

from dataclasses import dataclass

import numpy

from ..errors import DTypeError, ShapeError


@dataclass(frozen=True)
class ShapedArray:
    """The shape and dtype of an array.  ``weak`` marks a Python scalar, which takes the
    dtype of the arrays it meets (``x_f32 * 2.0`` stays float32)."""

    shape: tuple
    dtype: numpy.dtype
    weak: bool = False

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(numpy.prod(self.shape, dtype=numpy.int64))

    def __str__(self):
        return f"{self.dtype}[{','.join(str(d) for d in self.shape)}]"


_PYTHON_SCALARS = (bool, int, float, complex)


def aval_of(x):
    """The abstract value of a Variable, array or Python scalar."""
    if isinstance(x, ShapedArray):
        return x
    if type(x) in _PYTHON_SCALARS:
        return ShapedArray((), numpy.dtype(numpy.result_type(x)), weak=True)
    array = getattr(x, "_array", x)
    try:
        return ShapedArray(tuple(array.shape), numpy.dtype(array.dtype))
    except AttributeError:  # a list, a string...: describe it as numpy would see it
        array = numpy.asarray(array)
        return ShapedArray(array.shape, array.dtype)


def promotion_operand(aval):
    """What to hand ``numpy.result_type`` so weak scalars stay weak."""
    if aval.weak:
        return {"b": True, "i": 0, "u": 0, "f": 0.0, "c": 0j}[aval.dtype.kind]
    return aval.dtype


def result_dtype(op_name, avals):
    try:
        return numpy.dtype(numpy.result_type(*(promotion_operand(a) for a in avals)))
    except TypeError as error:
        raise DTypeError(op_name, f"no common dtype ({error})", avals) from None


def broadcast_shapes(op_name, avals):
    """numpy broadcasting of the inputs' shapes, or a ShapeError naming them."""
    shapes = [a.shape for a in avals]
    first = shapes[0]
    if all(s == first for s in shapes):
        return first
    try:
        return tuple(numpy.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(
            op_name,
            "shapes cannot be broadcast together",
            avals,
            hint="make trailing dimensions equal or 1 (reshape or expand_dims an input)",
        ) from None


def normalize_axes(op_name, axis, ndim, avals):
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(
                op_name, f"axis {a} is out of range for an array of rank {ndim}", avals
            )
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(op_name, f"repeated axis in {axis}", avals)
    return tuple(sorted(out))


def require_float(op_name, avals, which=None):
    """Raise DTypeError unless the inputs (or ``which`` of them) are floating point."""
    chosen = avals if which is None else [avals[i] for i in which]
    for a in chosen:
        if a.dtype.kind != "f" and not a.weak:
            raise DTypeError(
                op_name,
                f"needs floating-point inputs, got {a.dtype}",
                avals,
                hint="cast first, e.g. F.cast(x, 'float32')",
            )
