"""What ``variable.array`` returns while tracing: a stand-in for the data, watched.

It is not an ndarray: numpy copies an ndarray (or a subclass) in C without asking it,
so ``numpy.array(x.array)`` would silently give a constant that a compiled replay reuses.
The stand-in has the metadata (``shape``, ``dtype``, ``ndim``, ``size``, ``itemsize``,
``nbytes``, ``len``); converting it to a Python value (``bool``, ``float``, ``int``,
``.item()``) records a guard, exactly like converting the Variable; everything else
that would read the data outside the graph raises ``ConcretizationError`` with the fix:
``numpy.array``/``asarray``/``copy`` (through ``__array__``), numpy functions and
ufuncs, operators, indexing, writes, iteration and data methods (``sum``, ``argmax``,
``copy``, ``astype``...).

Dualgrad ops accept it (the tracer takes the Variable's data as the op's input), as do
``Variable(x.array)`` and ``state.assign``; numpy functions that read only the shape and
dtype (``zeros_like``...) give plain arrays; and once its trace has ended (it was
returned or kept) it behaves as the ordinary array it stands for.
"""

import numpy

from dualgrad.core import tape
from dualgrad.core.variable import Variable, to_python
from dualgrad.errors import ConcretizationError

_COMPUTE = (
    "inside a traced function, numpy on variable.array computes outside the graph, so a "
    "compiled replay would reuse this call's result. Use dualgrad ops (F.*, Variable "
    "operators) instead, or convert to a Python value with float()/bool()/int() (guarded)"
)
_WRITE = (
    "inside a traced function, writing into variable.array bypasses the graph. Write "
    "state with dualgrad.core.state.assign (optimizers and links already do)"
)
_CONVERT = (
    "numpy converted variable.array to an array inside a traced function (numpy.array, "
    "numpy.asarray, numpy.copy...): that copy holds this call's data, outside the graph, "
    "so a compiled replay would reuse it. Use dualgrad ops on the Variable instead (they "
    "accept it as is; F.cast for another dtype, x * 1.0 for a copy), or convert to a "
    "Python value with float()/bool()/int() (guarded)"
)
_DERIVE = (
    "an array computed from a traced value's .array ({name}) would hold this call's data "
    "outside the graph, so a compiled replay would reuse it. Compute it with dualgrad ops "
    "on the Variable instead (F.reshape, F.transpose, F.cast; x * 1.0 for a copy)"
)
# numpy functions whose result depends on the shape and dtype only, never on the data.
_SHAPE_ONLY = frozenset({
    numpy.zeros_like, numpy.ones_like, numpy.empty_like, numpy.shape, numpy.ndim,
    numpy.size, numpy.result_type,
})  # fmt: skip
# ndarray attributes that describe the array without reading its data.
_METADATA = frozenset({"strides", "device"})
# Methods that compute through a ufunc (refused naming it, as ``numpy.add`` for ``sum``).
_VIA_UFUNC = frozenset({"sum", "prod", "max", "min", "mean", "std", "var", "any", "all",
                        "cumsum", "cumprod", "clip"})
# Methods and attributes that give another array holding (or viewing) the data.
_DERIVED = frozenset({"copy", "astype", "reshape", "view", "ravel", "flatten", "transpose",
                      "squeeze", "swapaxes", "T", "mT", "real", "imag", "flat", "diagonal",
                      "base", "data", "ctypes", "getfield", "conj", "conjugate", "to_device"})


def plain(value):
    """``value`` with every TracedArray (also inside tuples, lists, dicts) as its ndarray."""
    if isinstance(value, TracedArray):
        return value._data
    if isinstance(value, (tuple, list)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class TracedArray:
    """Stands for a traced value's data and reports conversions to its tracer."""

    __slots__ = ("_data", "_tracer", "_variable")
    __hash__ = None  # as an ndarray

    def __init__(self, data, tracer, variable):
        self._data = data
        self._tracer = tracer
        self._variable = variable

    @classmethod
    def watch(cls, array, tracer, variable):
        return cls(array, tracer, variable)

    def _watched(self):
        """True while user code of the live trace holds it (not inside an op's forward)."""
        tracer = self._tracer
        return (tracer is not None and tape.TRACER is tracer
                and not getattr(tracer, "in_forward", False))

    # -- metadata ----------------------------------------------------------------------
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    itemsize = property(lambda self: self._data.itemsize)
    nbytes = property(lambda self: self._data.nbytes)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        if self._watched():
            return f"traced_array(shape={self.shape}, dtype={self.dtype})"
        return repr(self._data)

    def __str__(self):
        return repr(self) if self._watched() else str(self._data)

    # -- conversions to Python: guards ---------------------------------------------------
    def _convert(self, kind):
        if not self._watched():
            return to_python(self._data, kind)
        return self._tracer.concretize(self._variable, kind)

    def __bool__(self):
        return self._convert("bool")

    def __float__(self):
        return self._convert("float")

    def __int__(self):
        return self._convert("int")

    def __index__(self):
        return self._convert("index")

    def __complex__(self):
        if self._watched():
            raise ConcretizationError("complex() of a traced array: " + _COMPUTE)
        return complex(self._data)

    def item(self, *args):
        if not self._watched():
            return self._data.item(*args)
        if args:
            raise ConcretizationError("item(index) on a traced array: " + _COMPUTE)
        return self._convert("item")

    def tolist(self):
        if not self._watched():
            return self._data.tolist()
        raise ConcretizationError(".tolist() of a traced array: " + _COMPUTE)

    # -- numpy ---------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        if self._watched():
            raise ConcretizationError(_CONVERT)
        if copy:
            return numpy.array(self._data, dtype=dtype, copy=True)
        return numpy.asarray(self._data, dtype=dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if self._watched():
            raise ConcretizationError(f"numpy.{ufunc.__name__} on a traced array: " + _COMPUTE)
        if "out" in kwargs:
            kwargs["out"] = plain(kwargs["out"])
        return getattr(ufunc, method)(*plain(inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if self._watched() and func not in _SHAPE_ONLY:
            raise ConcretizationError(f"numpy.{func.__name__} on a traced array: " + _COMPUTE)
        return func(*plain(args), **plain(kwargs))

    def __reduce_ex__(self, protocol):  # copy.copy, deepcopy, pickle: the ndarray
        if self._watched():
            raise ConcretizationError(_DERIVE.format(name="copy.copy, pickle"))
        return self._data.__reduce_ex__(protocol)

    # -- reading and writing the data -----------------------------------------------------
    def __getitem__(self, key):
        if self._watched():
            raise ConcretizationError("indexing variable.array: index the Variable instead "
                                      "(x[i] records an op); " + _COMPUTE)
        return self._data[plain(key)]

    def __setitem__(self, key, value):
        if self._watched():
            raise ConcretizationError(_WRITE)
        self._data[plain(key)] = plain(value)

    def __iter__(self):
        if self._watched():
            raise ConcretizationError("iterating over a traced array: " + _COMPUTE)
        return iter(self._data)

    def __contains__(self, value):
        if self._watched():
            raise ConcretizationError("`in` on a traced array: " + _COMPUTE)
        return plain(value) in self._data

    def __getattr__(self, name):
        if name.startswith("__") or name in TracedArray.__slots__:
            raise AttributeError(name)  # numpy probes __array_interface__... first
        attribute = getattr(self._data, name)
        if not self._watched() or name in _METADATA:
            return attribute
        if name in _VIA_UFUNC:
            return _through_ufunc(self._data, name)
        if name in _DERIVED:
            raise ConcretizationError(f"variable.array.{name}: " + _DERIVE.format(name=name))
        call = "()" if callable(attribute) else ""
        raise ConcretizationError(f"variable.array.{name}{call} on a traced array: " + _COMPUTE)


class _Refusing(numpy.ndarray):
    """A view used only to run an ndarray method until it reaches its ufunc, so the
    refusal names the ufunc (``numpy.add`` for ``sum``) as for any numpy call."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise ConcretizationError(f"numpy.{ufunc.__name__} on a traced array: " + _COMPUTE)

    def __array_function__(self, func, types, args, kwargs):
        raise ConcretizationError(f"numpy.{func.__name__} on a traced array: " + _COMPUTE)


def _through_ufunc(data, name):
    def method(*args, **kwargs):
        getattr(numpy.ndarray, name)(data.view(_Refusing), *plain(args), **plain(kwargs))
        raise ConcretizationError(f"variable.array.{name}() on a traced array: " + _COMPUTE)

    method.__name__ = name
    return method


def _operator(ufunc, reflected=False):
    """A binary operator: a Variable operand takes over (``x.array * x`` is an op, the
    Variable's reflected operator records it); otherwise numpy's ufunc, which refuses
    while watched."""

    def method(self, other):
        if isinstance(other, Variable):
            return NotImplemented
        return ufunc(other, self) if reflected else ufunc(self, other)

    return method


def _in_place(ufunc):
    def method(self, other):
        if isinstance(other, Variable):
            return NotImplemented
        return ufunc(self, other, out=(self,))

    return method


def _unary(ufunc):
    def method(self):
        return ufunc(self)

    return method


for _name, _ufunc in (("add", numpy.add), ("sub", numpy.subtract), ("mul", numpy.multiply),
                      ("matmul", numpy.matmul), ("truediv", numpy.true_divide),
                      ("floordiv", numpy.floor_divide), ("mod", numpy.remainder),
                      ("divmod", numpy.divmod), ("pow", numpy.power),
                      ("lshift", numpy.left_shift), ("rshift", numpy.right_shift),
                      ("and", numpy.bitwise_and), ("xor", numpy.bitwise_xor),
                      ("or", numpy.bitwise_or)):
    setattr(TracedArray, f"__{_name}__", _operator(_ufunc))
    setattr(TracedArray, f"__r{_name}__", _operator(_ufunc, reflected=True))
    if _name != "divmod":
        setattr(TracedArray, f"__i{_name}__", _in_place(_ufunc))
for _name, _ufunc in (("lt", numpy.less), ("le", numpy.less_equal), ("eq", numpy.equal),
                      ("ne", numpy.not_equal), ("gt", numpy.greater),
                      ("ge", numpy.greater_equal)):
    setattr(TracedArray, f"__{_name}__", _operator(_ufunc))
for _name, _ufunc in (("neg", numpy.negative), ("pos", numpy.positive),
                      ("abs", numpy.absolute), ("invert", numpy.invert)):
    setattr(TracedArray, f"__{_name}__", _unary(_ufunc))
del _name, _ufunc
