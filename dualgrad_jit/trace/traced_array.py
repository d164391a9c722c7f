"""What ``variable.array`` returns while tracing: the real data, watched.

Converting it to a Python value (``bool``, ``float``, ``int``, ``.item()``) records a
guard, exactly like converting the Variable; computing on it with numpy or writing into
it would bypass the graph, so those raise ``ConcretizationError`` with the fix.

Methods that bypass numpy's dispatch (``argmax``, ``fill``, ``tobytes``...) are refused
the same way; arrays derived from it (``copy()``, ``astype``, ``reshape``) stay watched,
and the tracer refuses them as graph inputs.

Three exceptions keep ordinary code working: an op's own ``forward`` run by the tracer
may compute on it (that computation *is* the graph); numpy functions that read only the
shape and dtype (``zeros_like``...) give plain arrays; and once its trace has ended (the
array was returned or kept), it is an ordinary array.
"""

import numpy

from dualgrad.core import tape
from dualgrad.core.variable import to_python
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
# numpy functions whose result depends on the shape and dtype only, never on the data.
_SHAPE_ONLY = frozenset({
    numpy.zeros_like, numpy.ones_like, numpy.empty_like, numpy.shape, numpy.ndim,
    numpy.size, numpy.result_type,
})  # fmt: skip


def plain(value):
    """``value`` with every TracedArray (also inside tuples, lists, dicts) as an ndarray."""
    if isinstance(value, TracedArray):
        return value.view(numpy.ndarray)
    if isinstance(value, (tuple, list)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class TracedArray(numpy.ndarray):
    """A view of a traced value's data that reports conversions to its tracer."""

    def __array_finalize__(self, obj):
        self._tracer = getattr(obj, "_tracer", None)
        self._variable = getattr(obj, "_variable", None)

    @classmethod
    def watch(cls, array, tracer, variable):
        view = array.view(cls)
        view._tracer = tracer
        view._variable = variable
        return view

    def _watched(self):
        """True while user code of the live trace holds it (not inside an op's forward)."""
        tracer = self._tracer
        return (tracer is not None and tape.TRACER is tracer
                and not getattr(tracer, "in_forward", False))

    def _convert(self, kind):
        if not self._watched():
            return to_python(self.view(numpy.ndarray), kind)
        return self._tracer.concretize(self._variable, kind)

    def __bool__(self):
        return self._convert("bool")

    def __float__(self):
        return self._convert("float")

    def __int__(self):
        return self._convert("int")

    def __index__(self):
        return self._convert("index")

    def item(self, *args):
        if not self._watched():
            return self.view(numpy.ndarray).item(*args)
        if args:
            raise ConcretizationError("item(index) on a traced array: " + _COMPUTE)
        return self._convert("item")

    def tolist(self):
        if not self._watched():
            return self.view(numpy.ndarray).tolist()
        raise ConcretizationError(".tolist() of a traced array: " + _COMPUTE)

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

    def __getitem__(self, key):
        if self._watched():
            raise ConcretizationError("indexing variable.array: index the Variable instead "
                                      "(x[i] records an op); " + _COMPUTE)
        return self.view(numpy.ndarray)[plain(key)]

    def __setitem__(self, key, value):
        if self._watched():
            raise ConcretizationError(_WRITE)
        self.view(numpy.ndarray)[plain(key)] = plain(value)

    def __iter__(self):
        if self._watched():
            raise ConcretizationError("iterating over a traced array: " + _COMPUTE)
        return iter(self.view(numpy.ndarray))


def _refusing(name):
    """An ndarray method that reads or writes the data without numpy's dispatch hooks
    (``argmax``, ``fill``...): refused while watched, plain otherwise."""
    inherited = getattr(numpy.ndarray, name)

    def method(self, *args, **kwargs):
        if self._watched():
            raise ConcretizationError(f"variable.array.{name}() on a traced array: " + _COMPUTE)
        return inherited(self.view(numpy.ndarray), *args, **kwargs)

    method.__name__ = name
    return method


for _name in ("argmax", "argmin", "argsort", "argpartition", "nonzero", "searchsorted",
              "dot", "tobytes", "tofile", "dump", "dumps", "fill", "sort", "partition", "put",
              "resize", "setfield", "byteswap", "choose", "compress", "take", "repeat",
              "trace", "round"):
    setattr(TracedArray, _name, _refusing(_name))
del _name
