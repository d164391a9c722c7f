"""The op record: one class per primitive holding every rule about it.

A subclass defines
- ``infer(*avals) -> ShapedArray``: output shape and dtype, raising ShapeError/DTypeError;
- ``forward(xp, *arrays) -> array``: the implementation on numpy or cupy arrays;
- ``backward(gy, inputs, y, need) -> tuple``: the vector-Jacobian product written with
  dualgrad ops (so it also runs recorded, for double backprop, and symbolically);
  ``need[i]`` says whether input ``i`` wants a gradient (return None where not);
- ``lower() -> lowering``: exactly one of the kinds in ``dualgrad.lowering``;
- ``save``: what backward needs kept alive: ``"inputs"``, ``"output"``, ``"both"``
  or ``"none"``; the tape frees everything else.

Attributes (axes, shapes, dtypes) live in ``__slots__`` and are immutable after
construction, so an op instance doubles as the node label of the graph IR.
"""

import numpy

from ..errors import DTypeError, ShapeError
from .aval import ShapedArray, broadcast_shapes

OP_REGISTRY = []  # every concrete op class, in definition order


class Op:
    __slots__ = ()
    save = "inputs"
    abstract = True  # set False by concrete classes (done automatically below)
    # The numpy ufunc ``forward`` amounts to on numpy arrays, if any: ``apply`` calls it
    # directly, saving a Python call on the hottest path (the harness checks both agree).
    numpy_ufunc = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "abstract" not in cls.__dict__:
            cls.abstract = False
            OP_REGISTRY.append(cls)
        cls.saves_inputs = cls.save in ("inputs", "both")
        cls.saves_output = cls.save in ("output", "both")

    # -- identity -----------------------------------------------------------------
    @property
    def name(self):
        return type(self).__name__

    @property
    def attrs(self):
        """The op's attributes as an ordered tuple of ``(name, value)`` pairs."""
        names = []
        for klass in reversed(type(self).__mro__):
            names.extend(getattr(klass, "__slots__", ()))
        return tuple((n, getattr(self, n)) for n in names)

    def replace(self, **changes):
        """A copy of this op with some attributes changed (no re-validation)."""
        clone = object.__new__(type(self))
        for name, value in self.attrs:
            object.__setattr__(clone, name, changes.pop(name, value))
        if changes:
            raise AttributeError(f"{self.name} has no attributes {sorted(changes)}")
        return clone

    def __eq__(self, other):
        return type(self) is type(other) and self.attrs == other.attrs

    def __hash__(self):
        return hash((type(self), _hashable(self.attrs)))

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.attrs)
        return f"{self.name}({inner})"

    def __setattr__(self, name, value):
        if hasattr(self, name):
            raise AttributeError(f"{self.name} is immutable; build a new op instead")
        object.__setattr__(self, name, value)

    # -- rules (overridden) ---------------------------------------------------------
    def infer(self, *avals):
        raise NotImplementedError

    def forward(self, xp, *arrays):
        raise NotImplementedError

    def backward(self, gy, inputs, y, need):
        raise NotImplementedError(f"{self.name} has no gradient")

    def lower(self, *avals):
        raise NotImplementedError


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, numpy.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    return value


_DTYPE_CACHE = {}


def dtype_by_example(op, avals):
    """The dtype ``op.forward`` produces for inputs of these dtypes, found by running it
    on one-element arrays, so ``infer`` can never disagree with ``forward`` on dtypes."""
    key = (op, tuple((a.dtype, a.weak) for a in avals))
    dtype = _DTYPE_CACHE.get(key)
    if dtype is None:
        samples = [
            {"b": True, "i": 1, "u": 1, "f": 0.5, "c": 0.5j}[a.dtype.kind] if a.weak
            else numpy.ones((1,), a.dtype)
            for a in avals
        ]
        try:
            with numpy.errstate(all="ignore"):
                dtype = numpy.asarray(op.forward(numpy, *samples)).dtype
        except TypeError as error:  # numpy: "ufunc 'exp' not supported for the input types"
            raise DTypeError(
                op.name,
                f"does not support inputs of these dtypes ({error})",
                avals,
                hint="cast to a numeric dtype first, e.g. x.astype('float32')",
            ) from None
        _DTYPE_CACHE[key] = dtype
    return dtype


class ElementwiseOp(Op):
    """Base of elementwise ops: broadcasting shapes, numpy's dtype rules."""

    __slots__ = ()
    abstract = True
    float_only = False  # True: integer/bool inputs are a DTypeError

    def infer(self, *avals):
        shape = broadcast_shapes(self.name, avals)
        if self.float_only:
            for a in avals:
                if a.dtype.kind not in "fc" and not a.weak:
                    raise DTypeError(
                        self.name,
                        f"needs floating-point inputs, got {a.dtype}",
                        avals,
                        hint="cast first, e.g. x.astype('float32') or F.cast(x, 'float32')",
                    )
        return ShapedArray(shape, dtype_by_example(self, avals))


def check_arity(op, avals, n):
    if len(avals) != n:
        raise ShapeError(op.name, f"takes {n} inputs, got {len(avals)}", avals)
