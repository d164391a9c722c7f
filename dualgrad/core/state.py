"""Writes to state (parameters, optimizer state, running statistics) go through here."""

import numpy

from ..backend import get_array_module, to_device
from ..errors import ShapeError
from . import tape
from .variable import Variable


def assign(target, value):
    """Write ``value`` into ``target.array``; the ONE write point of optimizers.

    ``target`` is anything with an ``.array`` (a ``Parameter``, a gradient Variable
    ``param.grad_var``, an optimizer state holder); ``value`` is a Variable, an array or
    a scalar.  When ``target`` already holds an array, the value is copied INTO it
    (same object, same dtype, same device; a value of another dtype is cast), so
    arrays shared with ``Link.copy()`` or with the caller see the update.  An empty
    target (``array is None``) is bound to the value.

    ``target`` may also be a plain array, written in place (running statistics).

    Every parameter, gradient and state write of the optimizers, their hooks and
    batch normalisation goes through this function, so a tracer compiling a training
    step sees each of them (it turns them into graph outputs written back after a run).

    >>> import numpy as np, dualgrad as dg
    >>> p = dg.Parameter(np.zeros(2, np.float32))
    >>> before = p.array
    >>> from dualgrad.core.state import assign
    >>> _ = assign(p, np.array([1.0, 2.0]))        # float64 value, float32 target
    >>> p.array, p.array is before
    (array([1., 2.], dtype=float32), True)
    """
    if tape.TRACER is not None:
        return tape.TRACER.assign(target, value)
    return write(target, value)


def write(target, value):
    """The eager effect of ``assign`` (what a tracer performs after recording it)."""
    array = value._array if isinstance(value, Variable) else value
    if isinstance(target, Variable) and target._array is array:
        return target  # written in place by a compiled run: the usual update
    if not hasattr(target, "_array") and hasattr(target, "shape"):
        if array is not target:  # (a compiled run may have written it in place)
            target[...] = array  # a plain array: in place
        return target
    current = target._array if isinstance(target, Variable) else target.array
    if array is current:
        return target
    if current is None:
        target.array = numpy.asarray(array) if numpy.isscalar(array) else array
        return target
    shape = numpy.shape(array)
    if shape != current.shape:
        raise ShapeError(
            "assign", f"cannot write a value of shape {shape} into an array of shape "
            f"{current.shape}",
            hint="an update must keep the parameter's shape; check the update rule's math "
            "(a reduction or broadcast that changed the shape)",
        )
    if get_array_module(array) is not get_array_module(current):
        array = to_device(array, "cpu" if isinstance(current, numpy.ndarray) else "gpu")
    current[...] = array
    return target
