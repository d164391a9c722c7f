"""What ``variable.array`` returns while tracing: the real data, watched.

Converting it to a Python value (``bool``, ``float``, ``int``, ``.item()``) records a
guard, exactly like converting the Variable; computing on it with numpy or writing into
it would bypass the graph, so those raise ``ConcretizationError`` with the fix.
"""

import numpy

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

    def _convert(self, kind):
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
        if args:
            raise ConcretizationError("item(index) on a traced array: " + _COMPUTE)
        return self._convert("item")

    def tolist(self):
        raise ConcretizationError(".tolist() of a traced array: " + _COMPUTE)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise ConcretizationError(f"numpy.{ufunc.__name__} on a traced array: " + _COMPUTE)

    def __array_function__(self, func, types, args, kwargs):
        raise ConcretizationError(f"numpy.{func.__name__} on a traced array: " + _COMPUTE)

    def __getitem__(self, key):
        raise ConcretizationError("indexing variable.array: index the Variable instead "
                                  "(x[i] records an op); " + _COMPUTE)

    def __setitem__(self, key, value):
        raise ConcretizationError(_WRITE)

    def __iter__(self):
        raise ConcretizationError("iterating over a traced array: " + _COMPUTE)
