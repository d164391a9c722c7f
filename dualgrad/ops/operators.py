"""Python operators and array methods of ``Variable``, expressed with the primitive ops."""

from ..core.variable import Variable
from . import elementwise as ew
from . import reduce, view


def _reversed(function):
    def swapped(self, other):
        return function(other, self)

    return swapped


def _method_axis(function):
    def method(self, axis=None, keepdims=False):
        return function(self, axis=axis, keepdims=keepdims)

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


def _mean(self, axis=None, keepdims=False):
    from ..functions import mean

    return mean(self, axis=axis, keepdims=keepdims)


def _max(self, axis=None, keepdims=False):
    return reduce.max(self, axis=axis, keepdims=keepdims)


def _min(self, axis=None, keepdims=False):
    return reduce.min(self, axis=axis, keepdims=keepdims)


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
    Variable.__getitem__ = _getitem
    Variable.__matmul__ = _matmul
    Variable.__rmatmul__ = _rmatmul
    Variable.transpose = _transpose
    Variable.T = property(lambda self: _transpose(self))
    Variable.mean = _mean
    Variable.max = _max
    Variable.min = _min
