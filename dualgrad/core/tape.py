"""The single entry point ``apply`` and the tape node it records.

Hot path: keep it lean.  An eager call does: unwrap inputs, pick the array module,
run ``forward``, wrap the output, and (only when some input wants a gradient and
backprop is on) record one ``Node``.  ``infer`` runs only when ``forward`` fails (to
explain the failure with a typed error) or in debug mode (to check the output); the
op test harness checks ``infer`` against ``forward`` on every sample.
"""

import sys
from weakref import ref as _weakref

import numpy

from .._config import config
from ..errors import DualgradError, NonFiniteError, OpError, user_source_line
from . import variable as variable_module
from .aval import aval_of
from .variable import Variable, make_output

_ndarray = numpy.ndarray
_new_variable = object.__new__
_modules = sys.modules

# The active tracer (compiled mode), or None.  When set, every op application goes to
# ``TRACER.apply(op, inputs, xp)`` instead, which records it into a graph (and may run
# it); eager code therefore needs no change to be traced.  Set it with ``set_tracer``.
TRACER = None


def set_tracer(tracer):
    """Install ``tracer`` (or None) and return the previous one.

    The tracer also sees every conversion of a Variable to Python or to its raw array
    (``bool``, ``float``, ``int``, ``.item()``, ``.array``): see ``Variable``."""
    global TRACER
    previous, TRACER = TRACER, tracer
    variable_module.TRACER = tracer
    return previous


class Node:
    """One recorded op application: what ``backward`` needs to run the op's VJP."""

    __slots__ = ("op", "inputs", "need", "rank", "saved_output", "released", "output_ref",
                 "grad")

    def __repr__(self):
        return f"<Node {self.op!r} rank={self.rank}>"

    @property
    def label(self):
        """A readable name of the op (Chainer's ``FunctionNode.label``)."""
        return self.op.name

    @property
    def creator(self):
        """The node itself: a released node lists its inputs' creators in place of the
        inputs, and graph walks read ``input.creator`` uniformly."""
        return self


class InputRef:
    """What backward knows of an input whose data the op does not need: its creator,
    shape and dtype.  Holding this instead of the Variable lets the array be freed."""

    __slots__ = ("creator", "requires_grad", "shape", "dtype")


def _input_ref(x):
    if not isinstance(x, Variable):
        return None
    if x.creator is None:
        return x  # a leaf: the user holds it anyway, and backward writes its .grad
    ref = InputRef()
    ref.creator = x.creator
    ref.requires_grad = x.requires_grad
    ref.shape = x._array.shape
    ref.dtype = x._array.dtype
    return ref


def _array_module(arrays):
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        for a in arrays:
            if type(a).__module__.startswith("cupy"):
                return cupy
    return numpy


def apply(op, inputs, xp=None):
    """Run ``op`` on ``inputs`` (Variables, arrays or Python scalars) and record it.

    ``xp`` forces the array module, for ops without array inputs (random draws).

    >>> import numpy as np, dualgrad as dg
    >>> from dualgrad.ops.elementwise import Exp
    >>> dg.apply(Exp(), (np.zeros(2),)).array
    array([1., 1.])
    """
    if TRACER is not None:
        return TRACER.apply(op, inputs, xp)
    if len(inputs) == 2:
        a, b = inputs
        arrays = (
            a._array if isinstance(a, Variable) else a,
            b._array if isinstance(b, Variable) else b,
        )
    elif len(inputs) == 1:
        a = inputs[0]
        arrays = (a._array if isinstance(a, Variable) else a,)
    else:
        arrays = [x._array if isinstance(x, Variable) else x for x in inputs]
    if xp is None:
        xp = _array_module(arrays) if "cupy" in _modules else numpy
    try:
        ufunc = op.numpy_ufunc
        y = ufunc(*arrays) if ufunc is not None and xp is numpy else op.forward(xp, *arrays)
    except DualgradError:
        raise
    except Exception as error:
        _explain_failure(op, inputs, error)
    if type(y) is not _ndarray and xp is numpy:
        y = numpy.asarray(y)
    if config.debug:
        _check_output(op, inputs, y, xp)
    if not config.enable_backprop or y.dtype.kind not in "fc":
        return make_output(y, None, False)  # nothing to record (e.g. ops inside backward)
    return record(op, inputs, y)


def record(op, inputs, y):
    """Wrap ``y`` (what ``op`` computed from ``inputs``) as a Variable, recording a tape node
    when backprop is on and some input wants a gradient.  ``y`` may be an abstract array
    (symbolic evaluation): only its shape and dtype are used here."""
    if not config.enable_backprop or y.dtype.kind not in "fc":
        return make_output(y, None, False)

    need = []
    requires = False
    rank = 0
    for x in inputs:
        if isinstance(x, Variable) and x.requires_grad:
            requires = True
            need.append(True)
            creator = x.creator
            if creator is not None and creator.rank >= rank:
                rank = creator.rank + 1
        else:
            need.append(False)
    if not requires:
        return make_output(y, None, False)

    node = Node()
    node.op = op
    node.inputs = inputs if op.saves_inputs else tuple(map(_input_ref, inputs))
    node.need = need
    node.rank = rank
    node.saved_output = y if op.saves_output else None
    node.released = False
    node.grad = None
    out = _new_variable(Variable)  # make_output, inlined: this is the per-op hot path
    out._array = y
    out._grad_var = None
    out.creator = node
    out.requires_grad = True
    out.name = None
    out._unchained = False
    node.output_ref = _weakref(out)
    return out


def apply_eagerly(op, inputs, xp=None):
    """``apply`` bypassing any installed tracer (a tracer runs ops through this)."""
    global TRACER
    tracer, TRACER = TRACER, None
    try:
        return apply(op, inputs, xp)
    finally:
        TRACER = tracer


def _explain_failure(op, inputs, error):
    """Turn an array library error into the typed error ``infer`` gives for these inputs."""
    for x in inputs:
        if isinstance(x, Variable) and x._array is None:
            name = f" {x.name!r}" if x.name else ""
            raise OpError(
                op.name, f"input{name} is an uninitialized Parameter (it has no array yet)",
                hint="call param.initialize(shape) first, or run its link once on data "
                "so that it infers its input size",
            )
    avals = [aval_of(x) for x in inputs]
    op.infer(*avals)  # raises ShapeError / DTypeError with the op, avals and source line
    if isinstance(error, Warning):
        # numpy's RuntimeWarning ("invalid value encountered in log") made an error by a
        # warnings filter (python -W error, pytest's filterwarnings = error): in debug mode
        # that is the first NaN/Inf, so report it as such; otherwise it stays the warning.
        arrays = [getattr(x, "_array", x) for x in inputs]
        if config.debug and _all_finite(arrays, numpy):
            raise _non_finite_error(op, avals, f": numpy says {str(error)!r}") from error
        raise error
    raise OpError(
        op.name, f"{type(error).__name__}: {error}", avals,
        hint="this input combination is not supported by the op",
    ) from error


OBSERVERS = []  # debug mode only: callables(op, input_arrays, output) (used by the op tests)


def _check_output(op, inputs, y, xp):
    for observe in OBSERVERS:
        observe(op, [getattr(x, "_array", x) for x in inputs], y)
    avals = [aval_of(x) for x in inputs]
    expected = op.infer(*avals)
    if tuple(y.shape) != expected.shape or y.dtype != expected.dtype:
        raise AssertionError(
            f"{op.name}: forward gave {y.dtype}{list(y.shape)} but infer says {expected}"
        )
    if y.dtype.kind in "fc" and not bool(xp.isfinite(y).all()):
        arrays = [getattr(x, "_array", x) for x in inputs]
        if _all_finite(arrays, xp):
            raise _non_finite_error(op, avals)


def _all_finite(arrays, xp):
    return all(
        not hasattr(a, "dtype") or a.dtype.kind not in "fc" or bool(xp.isfinite(a).all())
        for a in arrays
    )


def _non_finite_error(op, avals, detail=""):
    return NonFiniteError(
        f"{op.name} produced NaN or Inf from finite inputs "
        f"({', '.join(str(a) for a in avals)}){detail}\n  at {user_source_line()}\n"
        "  fix: check the op's domain (log of <= 0, division by zero, overflow); "
        "stable forms exist: F.log_softmax, F.logsumexp, F.softplus"
    )
