"""Python operators and array methods of ``Variable``, expressed with the primitive ops."""

from ..core.variable import Variable
from . import elementwise as ew
from . import reduce, view


def _reversed(function):
    def swapped(self, other):
        return function(other, self)

    return swapped


def _method_axis(function):
    def method(self, axis=None, dtype=None, out=None, keepdims=False, **unused):
        # dtype/out: numpy.sum(variable) calls variable.sum(axis=, dtype=, out=).
        if out is not None:
            raise TypeError(f"{function.__name__}(out=...) is not supported on a Variable: "
                            "Variables are immutable results")
        result = function(self, axis=axis, keepdims=keepdims)
        return result if dtype is None else ew.cast(result, dtype)

    method.__name__ = function.__name__
    return method


def _reshape(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return view.reshape(self, shape)


def _getitem(self, key):
    from .index import get_item

    return get_item(self, key)


def _matmul(self, other):
    from .linalg import matmul

    return matmul(self, other)


def _rmatmul(self, other):
    from .linalg import matmul

    return matmul(other, self)


def _transpose(self, *axes):
    from .view import transpose

    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return transpose(self, tuple(axes) if axes else None)


def _iterate(self):
    """``for row in variable``: the rows, each an op on the tape (like a tensor)."""
    if not self.shape:
        raise TypeError("iteration over a 0-d Variable")
    for i in range(self.shape[0]):
        yield _getitem(self, i)


def _mean(self, axis=None, keepdims=False):
    from ..functions import mean

    return mean(self, axis=axis, keepdims=keepdims)


def _max(self, axis=None, keepdims=False):
    return reduce.max(self, axis=axis, keepdims=keepdims)


def _min(self, axis=None, keepdims=False):
    return reduce.min(self, axis=axis, keepdims=keepdims)


def _ufunc_table():
    import numpy

    return {
        numpy.add: ew.add, numpy.subtract: ew.sub, numpy.multiply: ew.mul,
        numpy.true_divide: ew.div, numpy.power: ew.power, numpy.negative: ew.neg,
        numpy.maximum: ew.maximum, numpy.minimum: ew.minimum, numpy.exp: ew.exp,
        numpy.log: ew.log, numpy.log1p: ew.log1p, numpy.expm1: ew.expm1, numpy.sqrt: ew.sqrt,
        numpy.tanh: ew.tanh, numpy.sin: ew.sin, numpy.cos: ew.cos, numpy.absolute: ew.absolute,
        numpy.sign: ew.sign, numpy.floor: ew.floor, numpy.less: ew.less,
        numpy.less_equal: ew.less_equal, numpy.greater: ew.greater,
        numpy.greater_equal: ew.greater_equal, numpy.equal: ew.equal,
        numpy.not_equal: ew.not_equal,
    }  # fmt: skip


_UFUNCS = {}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """``numpy.exp(variable)`` runs dualgrad's Exp and stays on the tape.

    A ufunc without a dualgrad op (or with ``out=``/``where=``) raises TypeError rather
    than silently returning a plain array that has lost its gradient.
    """
    if not _UFUNCS:
        _UFUNCS.update(_ufunc_table())
    function = _UFUNCS.get(ufunc)
    if function is None or method != "__call__" or kwargs:
        raise TypeError(
            f"numpy.{ufunc.__name__} ({method}{', ' + ', '.join(kwargs) if kwargs else ''}) "
            "has no dualgrad op: use the dualgrad.functions equivalent, or pass "
            "variable.array to work on the raw array without gradients"
        )
    return function(*inputs)


def install_variable_operators():
    """Attach the operators to ``Variable`` (and so to ``Parameter``)."""
    binary = {
        "add": ew.add, "sub": ew.sub, "mul": ew.mul, "truediv": ew.div, "pow": ew.power,
    }  # fmt: skip
    for name, function in binary.items():
        setattr(Variable, f"__{name}__", function)
        setattr(Variable, f"__r{name}__", _reversed(function))
    comparisons = {
        "lt": ew.less, "le": ew.less_equal, "gt": ew.greater, "ge": ew.greater_equal,
        "eq": ew.equal, "ne": ew.not_equal,
    }  # fmt: skip
    for name, function in comparisons.items():
        setattr(Variable, f"__{name}__", function)
    Variable.__hash__ = object.__hash__  # comparisons are elementwise; hash stays identity
    Variable.__neg__ = ew.neg
    Variable.__pos__ = lambda self: self
    Variable.__abs__ = ew.absolute
    Variable.reshape = _reshape
    Variable.sum = _method_axis(reduce.sum)
    Variable.astype = ew.cast
    Variable.__array_ufunc__ = _array_ufunc
    Variable.__getitem__ = _getitem
    Variable.__iter__ = _iterate
    Variable.__matmul__ = _matmul
    Variable.__rmatmul__ = _rmatmul
    Variable.transpose = _transpose
    Variable.T = property(lambda self: _transpose(self))
    Variable.mean = _mean
    Variable.max = _max
    Variable.min = _min
