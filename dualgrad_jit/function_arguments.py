"""What ``dj.function`` is given besides its inputs: updates, givens and default
updates, checked against the variables they replace (Theano's rules)."""

import numpy

from dualgrad.backend import to_device
from dualgrad.errors import DTypeError, ShapeError

from .tensor.variable import TensorVariable, as_tensor_variable, constant


def pairs(mapping, what):
    """``mapping`` (a dict or a sequence of pairs) as a list of ``(variable, value)``."""
    if mapping is None:
        return []
    items = list(mapping.items()) if isinstance(mapping, dict) else list(mapping)
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"{what} must be (variable, expression) pairs or a dict, got {item!r}")
    return [tuple(item) for item in items]


def updates(given):
    """The ``updates`` argument as checked ``(shared variable, expression)`` pairs."""
    checked = []
    for target, expr in pairs(given, "updates"):
        if getattr(target, "kind", None) != "shared":
            raise TypeError(f"updates: {target!r} is not a shared variable (only dj.shared "
                            "variables can be updated)")
        if any(t is target for t, _ in checked):
            raise ValueError(f"updates: {target!r} is updated twice")
        if not isinstance(expr, TensorVariable):  # a number or array: in the target's dtype
            value = target.type.filter(expr, name=f"the update of {target!r}")
            expr = constant(to_device(value, "cpu"))  # constants are kept on the host
        check_type("updates", target, expr)
        checked.append((target, expr))
    return checked


def default_updates(shared, explicit, no_default_updates):
    """``(shared, default_update)`` for the shared variables read that have one, are not
    updated explicitly and are not excluded (Theano's rule)."""
    if no_default_updates is True:
        return []
    excluded = list(no_default_updates or [])
    found = []
    for variable in shared:
        expr = getattr(variable, "default_update", None)
        if expr is None or any(t is variable for t, _ in explicit) or any(
                x is variable for x in excluded):
            continue
        found.append((variable, expr))
    return found


def givens(given):
    """The ``givens`` argument as ``{variable: replacement}``, each checked."""
    out = {}
    for variable, replacement in pairs(given, "givens"):
        if not isinstance(variable, TensorVariable):
            raise TypeError(f"givens: {variable!r} is not a symbolic variable")
        replacement = as_tensor_variable(replacement)
        check_type("givens", variable, replacement)
        out[variable] = replacement
    return out


def check_type(what, variable, expr):
    """Theano's rule: a replacement or update has the type of what it replaces."""
    if not variable.type.known or not expr.type.known:
        return
    if expr.ndim != variable.ndim:
        raise ShapeError(what, f"{variable!r} is {variable.type} but its new value {expr!r} "
                         f"is {expr.type}", hint="give it a value of the same rank")
    if expr.dtype != variable.dtype:
        raise DTypeError(what, f"{variable!r} is {variable.type} but its new value {expr!r} "
                         f"is {expr.type}", hint=f"cast it: (...).astype('{variable.dtype}')")


def check_update(target, value):
    current = target.container._array
    shape = tuple(getattr(value, "shape", ()))
    dtype = numpy.dtype(getattr(value, "dtype", current.dtype))
    if dtype != current.dtype:
        raise DTypeError("updates", f"{target!r} holds {current.dtype} but its update is "
                         f"{dtype}", hint=f"cast the update: (...).astype('{current.dtype}')")
    if shape != current.shape:
        raise ShapeError("updates", f"{target!r} has shape {current.shape} but its update has "
                         f"shape {shape}", hint="an update must keep the shared value's shape")
