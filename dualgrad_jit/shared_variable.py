"""Shared variables: symbolic leaves holding an array that compiled functions read on
every call and may update (``updates=[(w, w - lr * gw)]``), as in Theano.

>>> import numpy as np, dualgrad_jit as dj
>>> state = dj.shared(np.zeros(2), name='state')
>>> step = dj.function([], state, updates=[(state, state + 1.0)])
>>> step(), step()  # each call returns the value from before its update
(array([0., 0.]), array([1., 1.]))
>>> state.get_value()
array([2., 2.])

A shared variable lives where its first value lives, as Theano's GPU shared variables
did: ``dj.shared(cupy_array)`` keeps the array on the device, compiled functions that
read it run there (backend 'auto' picks 'cuda') and write their updates into it, and
``get_value`` returns a device array.  ``set_value`` keeps the variable where it is: a
numpy value given to a device shared variable is copied to the device, a device value
given to a host one is copied to the host.
"""

import numpy

from dualgrad.backend import get_array_module, is_cupy_array, to_device
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

    @property
    def on_device(self):
        """Whether the value is a device (cupy) array."""
        return is_cupy_array(self.container._array)

    def get_value(self, borrow=False, return_internal_type=False):
        """The current value (a device array for a device shared variable); a copy
        unless ``borrow=True``."""
        array = self.container._array
        return array if borrow else array.copy()

    def set_value(self, value, borrow=False):
        """Replace the value (same dtype and rank; sizes may change).  Without
        ``borrow=True`` the value is copied, so later changes to it do not leak in.
        The value is moved to where the variable lives (host or device) if need be."""
        name = f"shared variable {self.name!r}" if self.name else "the shared variable"
        given = getattr(value, "_array", value)
        array = self.type.filter(value, name=name, allow_downcast=self.allow_downcast)
        if self.on_device and not is_cupy_array(array):  # a copy on its device
            current = self.container._array
            cupy = get_array_module(current)
            with cupy.cuda.Device(current.device.id):
                array = cupy.array(array)
        elif is_cupy_array(array) and not self.on_device:
            array = to_device(array, "cpu")  # a copy on the host
        elif array is given and not borrow:
            array = array.copy()
        self.container._array = array


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False):
    """A shared variable holding ``value`` (copied unless ``borrow=True``).

    ``value`` may be a device (cupy) array: the variable then lives on the device (see
    the module docstring).  ``strict`` keeps ``value`` as given (no conversion from
    lists or Python numbers); Python numbers become 0-d arrays of numpy's default dtype
    (float64, int64).
    """
    xp = get_array_module(value)
    if strict and not isinstance(value, xp.ndarray):
        raise TypeError("dj.shared(strict=True) needs a numpy or cupy array, got "
                        f"{type(value).__name__}")
    if isinstance(value, Variable):
        value = value._array
    if xp is not numpy:  # a device array stays on its device
        array = value if borrow else value.copy()
    else:
        array = numpy.asarray(value) if borrow else numpy.array(value, copy=True)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"dj.shared needs numbers, got {array.dtype} ({value!r})")
    return SharedVariable(array, name=name, allow_downcast=allow_downcast)
