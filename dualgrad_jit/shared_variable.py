"""Shared variables: symbolic leaves holding an array that compiled functions read on
every call and may update (``updates=[(w, w - lr * gw)]``), as in Theano.

>>> import numpy as np, dualgrad_jit as dj
>>> state = dj.shared(np.zeros(2), name='state')
>>> step = dj.function([], state, updates=[(state, state + 1.0)])
>>> step(), step()  # each call returns the value from before its update
(array([0., 0.]), array([1., 1.]))
>>> state.get_value()
array([2., 2.])
"""

import numpy

from dualgrad.core.variable import Variable

from .tensor.type import TensorType
from .tensor.variable import TensorVariable


class SharedVariable(TensorVariable):
    """A leaf whose value lives in ``container`` (a ``dg.Variable``).

    Its type has the value's dtype and rank; sizes stay free, because ``set_value`` may
    change them (compiled functions are cached per shape).  Gradients with respect to a
    shared variable work like those with respect to any input.
    """

    __slots__ = ("container", "allow_downcast")

    def __init__(self, array, name=None, allow_downcast=None):
        ttype = TensorType(array.dtype, shape=(None,) * array.ndim)
        super().__init__(ttype, "shared", name=name)
        self.container = Variable(array, name=name)
        self.allow_downcast = allow_downcast

    def get_value(self, borrow=False, return_internal_type=False):
        """The current value; a copy unless ``borrow=True``."""
        array = self.container._array
        return array if borrow else array.copy()

    def set_value(self, value, borrow=False):
        """Replace the value (same dtype and rank; sizes may change).  Without
        ``borrow=True`` the value is copied, so later changes to it do not leak in."""
        name = f"shared variable {self.name!r}" if self.name else "the shared variable"
        array = self.type.filter(value, name=name, allow_downcast=self.allow_downcast)
        if array is value and not borrow:
            array = array.copy()
        self.container._array = array


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False):
    """A shared variable holding ``value`` (copied unless ``borrow=True``).

    ``strict`` keeps ``value`` as given (no conversion from lists or Python numbers);
    Python numbers become 0-d arrays of numpy's default dtype (float64, int64).
    """
    if strict and not isinstance(value, numpy.ndarray):
        raise TypeError(f"dj.shared(strict=True) needs a numpy array, got {type(value).__name__}")
    if isinstance(value, Variable):
        value = value._array
    array = numpy.asarray(value) if borrow else numpy.array(value, copy=True)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"dj.shared needs numbers, got {array.dtype} ({value!r})")
    return SharedVariable(array, name=name, allow_downcast=allow_downcast)
