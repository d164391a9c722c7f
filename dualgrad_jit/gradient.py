"""Symbolic differentiation: ``dj.grad``, ``dj.jacobian``, ``dj.hessian``.

A gradient is one more recipe step.  When a function is compiled, that step runs
``dg.grad`` on the traced cost with ``enable_double_backprop=True`` inside the same
abstract trace: the ops' own ``backward`` rules run and emit the gradient's ops into
the graph (nothing is differentiated twice by hand), and since those ops are recorded
on the tape too, gradients of gradients work.

>>> import dualgrad_jit as dj, dualgrad_jit.tensor as T
>>> x = T.dscalar('x')
>>> gy = dj.grad(x ** 3, x)
>>> dj.function([x], [gy, dj.grad(gy, x)])(2.0)
[array(12.), array(12.)]
"""

import warnings

import dualgrad as dg
from dualgrad import functions as F
from dualgrad.core.aval import aval_of
from dualgrad.core.variable import Variable
from dualgrad.errors import DTypeError, DualgradError, ShapeError
from dualgrad.ops import elementwise as ew
from dualgrad.ops import index, view

from .tensor import functions as TF
from .tensor.evaluate import walk
from .tensor.type import TensorType
from .tensor.variable import TensorVariable, apply_function, as_tensor_variable


class DisconnectedInputError(DualgradError, ValueError):
    """A gradient was asked with respect to a variable the cost does not depend on."""


def grad(cost, wrt, known_grads=None, disconnected_inputs="raise"):
    """d(cost)/d(wrt) for a scalar ``cost``; ``wrt`` is a variable or a list (the result
    matches).  ``known_grads={variable: gradient}`` starts backpropagation from
    intermediate variables as well (``cost`` may then be None).  A ``wrt`` the cost does
    not depend on raises ``DisconnectedInputError`` unless ``disconnected_inputs`` is
    'warn' or 'ignore' (its gradient is then zeros).
    """
    wrt_list, single = _as_list(wrt)
    known = list((known_grads or {}).items())
    starts = ([] if cost is None else [as_tensor_variable(cost)]) + [v for v, _ in known]
    if not starts:
        raise ValueError("dj.grad needs a cost or known_grads")
    if cost is not None:
        cost = as_tensor_variable(cost)
        _check_scalar(cost)
    connected = _connected(starts, wrt_list, disconnected_inputs, "grad")
    outputs = apply_function(
        gradients, (cost, list(wrt_list), [v for v, _ in known],
                    [as_tensor_variable(g) for _, g in known]),
        label="grad", types=[w.type for w in wrt_list], several=True)
    results = [out if ok else _zeros_like(w) for out, ok, w in zip(outputs, connected, wrt_list)]
    return results[0] if single else results


def jacobian(expression, wrt, disconnected_inputs="raise"):
    """d(expression)/d(wrt) of shape ``expression.shape + wrt.shape`` (for a vector
    expression, Theano's jacobian: one row per element); a scalar expression gives its
    gradient."""
    expression = as_tensor_variable(expression)
    if expression.ndim == 0:
        return grad(expression, wrt, disconnected_inputs=disconnected_inputs)
    wrt_list, single = _as_list(wrt)
    connected = _connected([expression], wrt_list, disconnected_inputs, "jacobian")
    types = [_jacobian_type(expression, w) for w in wrt_list]
    outputs = apply_function(jacobians, (expression, list(wrt_list)), label="jacobian",
                             types=types, several=True)
    results = [out if ok else _zeros_like(out) for out, ok in zip(outputs, connected)]
    return results[0] if single else results


def hessian(cost, wrt, disconnected_inputs="raise"):
    """The Hessian of a scalar ``cost``: ``jacobian(grad(cost, w), w)`` for each ``w``."""
    wrt_list, single = _as_list(wrt)
    results = [jacobian(grad(cost, w, disconnected_inputs=disconnected_inputs), w,
                        disconnected_inputs="ignore") for w in wrt_list]
    return results[0] if single else results


# -- the steps run at trace time ----------------------------------------------------------------
def gradients(cost, wrt, known_vars=(), known_grads=()):
    """The gradients of ``cost`` (and of ``known_vars``, seeded with ``known_grads``) with
    respect to each of ``wrt``, recorded so that they can be differentiated again."""
    starts, seeds = [], []
    if cost is not None:
        _check_scalar_value(cost)
        if isinstance(cost, Variable):
            starts.append(cost)
            seeds.append(ew.cast(1.0, cost.dtype))
    for variable, seed in zip(known_vars, known_grads):
        if isinstance(variable, Variable):
            starts.append(variable)
            seeds.append(seed)
    for w in wrt:
        _check_differentiable(w)
    found = [None] * len(wrt)
    if starts:
        found = dg.grad(starts, list(wrt), grad_outputs=seeds, enable_double_backprop=True)
    return tuple(TF.zeros_like(w) if g is None else g for g, w in zip(found, wrt))


def jacobians(expression, wrt):
    """One gradient per element of ``expression``, stacked: ``expression.shape + w.shape``."""
    for w in wrt:
        _check_differentiable(w)
    shape = tuple(aval_of(expression).shape)
    count = aval_of(expression).size
    rows = [[] for _ in wrt]
    flat = view.reshape(expression, (count,))
    for i in range(count):
        element = index.get_item(flat, i)
        for row, g in zip(rows, gradients(element, wrt)):
            row.append(g)
    out = []
    for row, w in zip(rows, wrt):
        full = shape + tuple(aval_of(w).shape)
        if row:
            out.append(view.reshape(F.stack(row, axis=0), full))
        else:  # an empty expression
            out.append(TF.full(full, 0, aval_of(w).dtype))
    return tuple(out)


# -- checks -----------------------------------------------------------------------------------
def _as_list(wrt):
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, TensorVariable):
            raise TypeError(f"can only differentiate with respect to symbolic variables, got "
                            f"{type(w).__name__}")
        if w.dtype is not None and w.dtype[0] not in "fc":
            raise DTypeError("grad", f"cannot differentiate with respect to {w!r} ({w.type})",
                             hint="differentiate with respect to a floating-point variable "
                             "(cast integer inputs with .astype('float64') first)")
    return wrt_list, single


def _check_scalar(cost):
    if cost.type.known and cost.ndim != 0:
        raise ShapeError("grad", f"the cost must be a scalar, got {cost.type}",
                         hint="reduce it first (cost.sum(), cost.mean()), or use "
                         "dj.jacobian for the derivatives of every element")


def _check_scalar_value(cost):
    shape = tuple(aval_of(cost).shape)
    if shape:
        raise ShapeError("grad", f"the cost must be a scalar, got shape {shape}",
                         hint="reduce it first (cost.sum(), cost.mean()), or use dj.jacobian")


def _check_differentiable(w):
    if not isinstance(w, Variable) or aval_of(w).dtype.kind not in "fc":
        raise DTypeError("grad", f"cannot differentiate with respect to a {aval_of(w).dtype} "
                         "value", hint="differentiate with respect to a floating-point variable "
                         "(cast integer inputs with .astype('float64') first)")


def _connected(starts, wrt_list, disconnected_inputs, what):
    """Whether each ``wrt`` takes part in computing ``starts`` (by the recipe)."""
    reached = {id(v) for v in walk(starts)}
    connected = [id(w) in reached for w in wrt_list]
    for w, ok in zip(wrt_list, connected):
        if ok or disconnected_inputs == "ignore":
            continue
        message = (f"dj.{what}: the expression does not depend on {w!r} ({w.type}); pass "
                   "disconnected_inputs='ignore' to get zeros for it")
        if disconnected_inputs == "raise":
            raise DisconnectedInputError(message)
        warnings.warn(message, UserWarning, stacklevel=3)
    return connected


def _jacobian_type(expression, w):
    if not expression.type.known or not w.type.known:
        return TensorType(w.dtype, shape=None)
    return TensorType(w.dtype, shape=expression.type.shape + w.type.shape)


def _zeros_like(variable):
    return apply_function(TF.zeros_like, (variable,))
