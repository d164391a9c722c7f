"""Typing a recipe node before any shape is bound, by running it on probe values.

A node is a dualgrad function applied to symbolic arguments; its type is whatever that
function gives.  Rather than a second table of typing rules (which would drift from the
ops), the function itself runs under an abstract tracer on placeholders of the
arguments' types, unknown dimensions set to a probe size: ``infer`` of every op it
emits gives the result's dtype and rank.  Two probe sizes tell the dimensions that do
not depend on the unknown sizes (known) from those that do (unknown).

Some nodes fit no probe size (``dot(x, W)`` with ``W`` of known shape (784, 10) and ``x``
of unknown shape fits only 784), so the known sizes of the arguments are tried as well;
when one size fits, changing one free dimension at a time tells which output sizes
follow it.  A node that fits none keeps its rank and dtype when the current values of
its shared variables fit, and stays untyped otherwise, until the function runs, where
the real shapes give eager's error if there is one.  A node whose arguments have fully
known shapes raises that error at once, as eager code would.
"""

import numpy

from dualgrad._config import using_config
from dualgrad.core import tape
from dualgrad.core.abstract import AbstractArray
from dualgrad.core.variable import Variable, make_output
from dualgrad.errors import ConcretizationError, DTypeError, DualgradError
from dualgrad.ops import random as random_ops

from ..trace import Tracer
from .structure import map_arguments, symbolic_leaves, wants_number
from .type import TensorType

PROBE_SIZES = (13, 17)
MAX_PERTURBATIONS = 8
UNKNOWN = TensorType(None, shape=None)
_SIZE_DEPENDENT = (DualgradError, ValueError, IndexError)


def infer_types(fn, args, kwargs):
    """``(types, several)``: one TensorType per output of ``fn(*args, **kwargs)``, and
    whether ``fn`` returns several outputs (a tuple or list)."""
    leaves = _unique(symbolic_leaves((args, kwargs)))
    if any(not v.type.known for v in leaves):
        return [UNKNOWN], False
    exact = all(d is not None for v in leaves for d in v.type.shape)
    plans = [_uniform(size) for size in _sizes(leaves)]
    results = _attempts(fn, args, kwargs, plans, exact, 1 if exact else 2)
    if exact:
        return results[0][0]
    if len(results) == 2:
        return _merge(results[0][0], results[1][0])
    if results:
        return _refine(fn, args, kwargs, leaves, *results[0])
    if any(v.kind == "shared" for v in leaves):
        # Shared values keep their current sizes (a filter of shape (6, 1, 5, 5) checked
        # against filter_shape): that gives the rank and dtype, but sizes that may
        # depend on them stay unknown, since set_value can change them.
        results = _attempts(fn, args, kwargs, [_current(PROBE_SIZES[0])], False, 1)
        if results:
            types, several = results[0][0]
            return [TensorType(t.dtype, shape=(None,) * t.ndim) for t in types], several
    return [UNKNOWN], False


def _attempts(fn, args, kwargs, plans, exact, wanted):
    """``(result, size)`` for the ``plans`` that fit, up to ``wanted`` of them."""
    results = []
    for plan in plans:
        try:
            results.append((_probe(fn, args, kwargs, plan), plan.size))
        except (ConcretizationError, DTypeError):
            raise  # independent of the sizes: the node is wrong whatever they are
        except _SIZE_DEPENDENT:
            if exact:
                raise
            continue
        if len(results) == wanted:
            break
    return results


def _refine(fn, args, kwargs, leaves, found, size):
    """One size fits (``found``, probed with ``size``): change one free dimension at a
    time to see which output sizes follow it.  A change that does not fit means the
    dimension is pinned by the others (``dot(x, W)`` pins x's columns to W's rows)."""
    types, several = found
    free = [(v, axis) for v in leaves for axis, d in enumerate(v.type.shape) if d is None]
    moving = set()
    for variable, axis in free[:MAX_PERTURBATIONS]:
        try:
            other, _ = _probe(fn, args, kwargs, _perturbed(size, variable, axis))
        except _SIZE_DEPENDENT:
            continue
        for position, (a, b) in enumerate(zip(types, other)):
            if a.ndim != b.ndim:
                moving.update((position, i) for i in range(a.ndim))
            moving.update((position, i) for i, (m, n) in enumerate(zip(a.shape, b.shape))
                          if m != n)
    if len(free) > MAX_PERTURBATIONS:
        return [TensorType(t.dtype, shape=(None,) * t.ndim) for t in types], several
    refined = [TensorType(t.dtype, shape=tuple(None if (p, i) in moving else d
                                               for i, d in enumerate(t.shape)))
               for p, t in enumerate(types)]
    return refined, several


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _sizes(leaves):
    known = sorted({d for v in leaves for d in v.type.shape if d is not None and d > 1})
    return list(PROBE_SIZES) + [d for d in known if d not in PROBE_SIZES] + [1]


# -- plans: the size of each free dimension in a probe ----------------------------------------
def _uniform(size):
    def plan(variable, axis):
        return size

    plan.size = size
    return plan


def _current(size):
    def plan(variable, axis):
        if variable.kind == "shared":
            return variable.container._array.shape[axis]
        return size

    plan.size = size
    return plan


def _perturbed(size, target, target_axis):
    def plan(variable, axis):
        return size + 1 if variable is target and axis == target_axis else size

    plan.size = size
    return plan


def _probe(fn, args, kwargs, plan):
    tracer = Tracer(abstract=True)
    state = random_ops.get_state()
    previous = tape.set_tracer(tracer)
    try:
        with using_config("enable_backprop", True):
            def leaf(variable, where):
                return probe_value(tracer, variable, plan, where)

            values, keywords = map_arguments(args, kwargs, leaf)
            result = fn(*values, **keywords)
    finally:
        tape.set_tracer(previous)
        random_ops.set_state(state)
    return _types_of(result)


def probe_value(tracer, variable, plan, where):
    """What stands for ``variable`` in a probe: an abstract placeholder with the free
    dimensions sized by ``plan``; numbers equal to the probe size for a static value (a
    shape, a size) and for an integer scalar read as a number (a slice bound: compiled
    functions specialise on its value)."""
    ttype = variable.type
    shape = tuple(plan(variable, axis) if d is None else d for axis, d in enumerate(ttype.shape))
    integral = numpy.dtype(ttype.dtype).kind in "iu"
    if variable.static or (integral and not shape and wants_number(where)):
        value = numpy.full(shape, plan.size, dtype=ttype.dtype)
        if not shape:
            return int(value) if wants_number(where) and integral else value[()]
        return value
    abstract = AbstractArray(shape, ttype.dtype)
    tracer.add_input(abstract)
    return make_output(abstract, None, abstract.dtype.kind in "fc")


def type_of_value(value):
    """The TensorType of a Variable, an array or a Python number."""
    array = value._array if isinstance(value, Variable) else value
    if not hasattr(array, "shape"):
        array = numpy.asarray(array)
    return TensorType(array.dtype, shape=array.shape)


def _types_of(result):
    if isinstance(result, (tuple, list)):
        return [type_of_value(r) for r in result], True
    return [type_of_value(result)], False


def _merge(first, second):
    """Sizes equal in two probes of different sizes do not depend on the free ones."""
    merged = []
    for a, b in zip(first[0], second[0]):
        if a.ndim != b.ndim:
            merged.append(TensorType(a.dtype, shape=(None,) * a.ndim))
            continue
        merged.append(TensorType(a.dtype, shape=tuple(m if m == n else None
                                                      for m, n in zip(a.shape, b.shape))))
    return merged, first[1]
