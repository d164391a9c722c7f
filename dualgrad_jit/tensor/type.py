"""Types of symbolic variables, Theano style: a dtype and a rank with some dims known.

``TensorType('float64', shape=(None, None))`` is Theano's ``dmatrix``: two dimensions of
unknown size.  A known size is an int; Theano's *broadcastable* dimensions are the ones
known to be 1 (``row`` is ``(1, None)``).  A type is callable: ``T.dmatrix('x')`` makes a
placeholder of that type.  ``filter`` turns what a caller passes (arrays, lists, ``range``,
Python numbers) into an array of the type, with Theano's casting rules; device (cupy)
arrays stay on the device.
"""

import numpy

from dualgrad.backend import is_cupy_array
from dualgrad.errors import DTypeError, ShapeError

_RANK_NAMES = {
    (): "scalar", (None,): "vector", (1, None): "row", (None, 1): "col",
    (None, None): "matrix", (None,) * 3: "3D", (None,) * 4: "4D", (None,) * 5: "5D",
}  # fmt: skip


class Config:
    """Settings of compiled mode.  ``floatX``: the dtype of the unprefixed constructors
    (``T.matrix``, ``T.vector``...), 'float64' by default as in Theano."""

    __slots__ = ("floatX",)

    def __init__(self):
        self.floatX = "float64"

    def __setattr__(self, name, value):
        if name == "floatX" and value not in ("float32", "float64"):
            raise ValueError(f"config.floatX must be 'float32' or 'float64', not {value!r}")
        object.__setattr__(self, name, value)

    def __repr__(self):
        return f"dj.config(floatX={self.floatX!r})"


config = Config()


def _dims(shape):
    return tuple(None if d is None else int(d) for d in shape)


class TensorType:
    """``dtype`` (a numpy dtype name) and ``shape`` (one int or None per dimension).

    >>> TensorType('float64', shape=())
    TensorType(float64, scalar)
    >>> TensorType('float32', broadcastable=(True, False)).shape
    (1, None)

    A type whose rank is not known yet (an expression the front end could not type
    before the shapes are bound) has ``dtype`` and ``shape`` None.
    """

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, broadcastable=None, shape=None):
        if broadcastable is not None:
            shape = tuple(1 if b else None for b in broadcastable)
        self.dtype = None if dtype is None else numpy.dtype(dtype).name
        self.shape = None if shape is None else _dims(shape)

    # -- what it says ---------------------------------------------------------------------
    @property
    def known(self):
        return self.shape is not None

    @property
    def ndim(self):
        return None if self.shape is None else len(self.shape)

    @property
    def broadcastable(self):
        return None if self.shape is None else tuple(d == 1 for d in self.shape)

    def __eq__(self, other):
        return isinstance(other, TensorType) and (self.dtype, self.shape) == (
            other.dtype, other.shape)

    def __hash__(self):
        return hash((self.dtype, self.shape))

    def __repr__(self):
        if self.shape is None:
            return "TensorType(unknown until the shapes are bound)"
        name = _RANK_NAMES.get(self.shape)
        if name is None:
            name = "shape=(" + ", ".join("?" if d is None else str(d) for d in self.shape)
            name += ",)" if len(self.shape) == 1 else ")"
        return f"TensorType({self.dtype}, {name})"

    __str__ = __repr__

    # -- making variables -------------------------------------------------------------
    def __call__(self, name=None):
        """A placeholder of this type: ``T.dmatrix('x')``."""
        from .variable import placeholder

        return placeholder(self, name)

    # -- checking values ----------------------------------------------------------------
    def filter(self, value, name="input", strict=False, allow_downcast=None):
        """``value`` as an array of this type, or a typed error naming ``name``.  A
        device (cupy) array stays on the device; anything else becomes a numpy array.

        Theano's rules: an array of the same dtype is used as is; an array of another
        dtype is cast only when that loses nothing (int32 into float64) unless
        ``allow_downcast``; a list, ``range`` or Python number is converted when the
        conversion keeps its values (floats may round to the nearest representable
        value, integers must be exact); ``strict`` wants the exact dtype.

        >>> TensorType('float32', shape=(None,)).filter([0.5, 1])
        array([0.5, 1. ], dtype=float32)
        """
        array = _as_dtype(self, value, name, strict, allow_downcast)
        self.check_shape(array.shape, name)
        return array

    def check_shape(self, shape, name="input"):
        """Raise a ShapeError unless ``shape`` fits the known rank and sizes."""
        if self.shape is None:
            return
        if len(shape) != len(self.shape):
            raise ShapeError(
                "function", f"{name} must be {len(self.shape)}-dimensional ({self}), got an "
                f"array of shape {tuple(shape)}",
                hint="pass an array of the declared rank, or declare the input with the "
                "right constructor (T.vector, T.matrix, T.tensor3...)",
            )
        for axis, (want, got) in enumerate(zip(self.shape, shape)):
            if want is not None and want != got:
                raise ShapeError(
                    "function", f"{name} must have size {want} on axis {axis} ({self}), got "
                    f"an array of shape {tuple(shape)}",
                    hint="pass an array of the declared size, or declare that dimension None",
                )


def _as_dtype(ttype, value, name, strict, allow_downcast):
    dtype = numpy.dtype(ttype.dtype)
    if hasattr(value, "_array"):  # an eager Variable
        value = value._array
    if isinstance(value, numpy.generic):
        value = numpy.asarray(value)
    if isinstance(value, numpy.ndarray) or is_cupy_array(value):
        return _cast_array(ttype, dtype, value, name, strict, allow_downcast)
    if strict:
        raise DTypeError("function", f"{name} is {ttype} and strict: got a "
                         f"{type(value).__name__}", hint=f"pass a numpy array of dtype {dtype}")
    return _convert_python(ttype, dtype, value, name, allow_downcast)


def _cast_array(ttype, dtype, value, name, strict, allow_downcast):
    """A numpy or device array in ``dtype``, on the device it is on."""
    if value.dtype == dtype:
        return value
    if strict:
        raise DTypeError("function", f"{name} is {ttype} and strict: got {value.dtype}",
                         hint=f"pass an array of dtype {dtype}")
    if allow_downcast or numpy.can_cast(value.dtype, dtype, "safe"):
        return value.astype(dtype)
    raise DTypeError(
        "function", f"{name} is {ttype}: casting an array of dtype {value.dtype} to "
        f"{dtype} may lose precision",
        hint=f"cast the data yourself (.astype('{dtype}')) or pass "
        "allow_input_downcast=True to dj.function",
    )


def _convert_python(ttype, dtype, value, name, allow_downcast):
    if isinstance(value, range):
        value = list(value)
    original = numpy.asarray(value)
    if original.dtype.kind not in "biuf":
        raise DTypeError("function", f"{name} is {ttype}: cannot use {value!r}",
                         hint="pass numbers (a numpy array, a list or a Python number)")
    with numpy.errstate(all="ignore"):
        converted = original.astype(dtype)
        if allow_downcast or _keeps_values(original, converted):
            return converted
    raise DTypeError(
        "function", f"{name} is {ttype}: {value!r} would become {converted!r}",
        hint=f"convert it yourself (numpy.asarray(value, '{dtype}')) or pass "
        "allow_input_downcast=True to dj.function",
    )


def _keeps_values(original, converted):
    """Integers must survive exactly; floats may only round to the nearest value."""
    if converted.dtype.kind in "biu":
        return bool(numpy.array_equal(original, converted))
    back = converted.astype(numpy.float64)
    if not numpy.array_equal(numpy.isfinite(back), numpy.isfinite(original)):
        return False  # overflow to inf
    eps = numpy.finfo(converted.dtype).eps
    return bool(numpy.allclose(back, original, rtol=eps, atol=0, equal_nan=True))
