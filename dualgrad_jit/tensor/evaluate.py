"""Evaluating a recipe: every step calls its dualgrad function on the values of its
arguments, under whatever tracer is installed (``dj.function`` installs an abstract one,
so the ops are recorded into a graph).

Values are ``dg.Variable``s, or *static* values: numbers known once the shapes are
bound (``x.shape[0]``, ``T.arange(x.shape[0])``), computed right away so that they can
serve where Python needs a number (a reshape, a slice bound).  A step whose arguments
are all static is computed eagerly when its result is integral and draws no random
numbers; anything else is recorded.
"""

import numpy

from dualgrad.core import tape
from dualgrad.core.variable import Variable
from dualgrad.errors import ConcretizationError, DualgradError
from dualgrad.ops import random as random_ops

from ..trace import Tracer
from .structure import any_leaf, map_arguments, wants_number


class MissingInputError(DualgradError, ValueError):
    """The outputs need a placeholder that is neither an input nor given a value."""


class CycleError(DualgradError, ValueError):
    """``givens`` made a variable depend on itself."""


def dependencies(variable, stop, givens):
    """The variables ``variable`` is computed from (none for leaves and for ``stop``)."""
    if variable in stop:
        return ()
    if variable in givens:
        return (givens[variable],)
    if variable.owner is not None:
        return variable.owner.inputs
    return ()


def walk(targets, stop=(), givens=None):
    """The variables ``targets`` need, each after the variables it is computed from.

    The walk stops at the variables of ``stop`` (a collection of variables, compared by
    identity) and follows ``givens`` (``{variable: replacement}``); the order is
    deterministic (depth first, arguments left to right).
    """
    givens = givens or {}
    stop = stop if isinstance(stop, dict) else dict.fromkeys(stop)
    order, state = [], {}  # id -> 'open' while its arguments are walked, then 'done'
    for target in targets:
        stack = [(target, False)]
        while stack:
            variable, expanded = stack.pop()
            key = id(variable)
            if expanded:
                state[key] = "done"
                order.append(variable)
                continue
            if state.get(key) == "done":
                continue
            if state.get(key) == "open":
                raise CycleError(f"{variable!r} depends on itself through givens")
            state[key] = "open"
            stack.append((variable, True))
            for dep in reversed(dependencies(variable, stop, givens)):
                if state.get(id(dep)) != "done":
                    stack.append((dep, False))
    return order


class Evaluator:
    """Values of recipe variables.  ``env`` binds variables (placeholders, cut points)
    to values; ``givens`` maps variables to the variables replacing them.

    Python reads some arguments as numbers (a slice bound, a size in a shape): an
    integer scalar computed from the inputs (``x[i * n:(i + 1) * n]``) then takes its
    value from ``concrete`` (``{input variable: array}``), and the inputs it was
    computed from are listed in ``specialised`` (a compiled function keys its cache on
    their values)."""

    def __init__(self, env, givens=None, concrete=None):
        self.env = dict(env)
        self.givens = dict(givens or {})
        self.concrete = concrete
        self.specialised = []
        self._results = {}  # id(Apply) -> what its function returned

    def values(self, targets):
        for variable in walk(targets, self.env, self.givens):
            if variable not in self.env:
                self.env[variable] = self._compute(variable)
        return [self.env[t] for t in targets]

    def _compute(self, variable):
        if variable in self.givens:
            return self.env[self.givens[variable]]
        if variable.kind == "constant":
            data = variable.data
            return data[()] if data.ndim == 0 else data
        if variable.kind == "shared":
            return variable.container
        if variable.kind == "input":
            raise MissingInputError(
                f"no value for the input {variable!r} ({variable.type}): pass it among the "
                "function's inputs, or replace it with givens"
            )
        node = variable.owner
        key = id(node)
        if key not in self._results:
            self._results[key] = self._apply(node)
        result = self._results[key]
        if node.several:
            return result[variable.index]
        if isinstance(result, (tuple, list)):
            raise TypeError(
                f"{node.name} returned {len(result)} values where one was expected: its "
                "outputs could not be counted before the shapes were bound. Declare the "
                "sizes its arguments need (T.tensor(dtype, shape=(None, 12)))"
            )
        return result

    def _argument(self, variable, where):
        value = self.env[variable]
        if not wants_number(where):
            return value
        if isinstance(value, Variable) and _integer_scalar(variable):
            value = self._number(variable)
        if isinstance(value, (numpy.integer, numpy.ndarray)) and numpy.ndim(value) == 0 \
                and numpy.asarray(value).dtype.kind in "iu":
            return int(value)  # Python wants an int
        return value

    def _number(self, variable):
        """The value of ``variable`` (an integer scalar computed from the inputs)."""
        if self.concrete is None:
            raise ConcretizationError(
                f"{variable!r} is read as a number (a slice bound or a size) but it is "
                "computed from data: use integer scalar inputs (T.iscalar, T.lscalar) for "
                "slice bounds, or sizes from x.shape"
            )
        needed = walk([variable], self.concrete, self.givens)
        if any(v.kind == "shared" for v in needed):
            raise ConcretizationError(
                f"{variable!r} is read as a number but depends on a shared variable; pass "
                "that number as an input (T.iscalar) instead"
            )
        env = {v: Variable(self.concrete[v], requires_grad=False) for v in needed
               if v in self.concrete}
        previous = tape.set_tracer(None)  # computed now, from the values of this call
        try:
            value = Evaluator(env, self.givens).values([variable])[0]
        finally:
            tape.set_tracer(previous)
        self.specialised.extend(v for v in env if all(v is not s for s in self.specialised))
        return numpy.asarray(getattr(value, "_array", value))[()]

    def _apply(self, node):
        args, kwargs = map_arguments(node.args, node.kwargs, self._argument)
        if not any_leaf((args, kwargs), _is_variable):
            folded = fold_static(node.fn, args, kwargs)
            if folded is not None:
                return folded
        try:
            return node.fn(*args, **kwargs)
        except DualgradError as error:
            error.add_note(_where(node))
            raise


def _integer_scalar(variable):
    return variable.ndim == 0 and variable.dtype is not None and variable.dtype[0] in "iu"


def _is_variable(value):
    return isinstance(value, Variable)


def _where(node):
    from ..printing import pp

    text = pp(node.outputs[0]) if node.outputs else node.name
    if len(text) > 200:
        text = text[:197] + "..."
    source = f"\n  made at {node.source}" if node.source else ""
    return f"  while computing the symbolic {text}{source}"


def fold_static(fn, args, kwargs):
    """``fn(*args, **kwargs)`` computed now when every argument is known, the result is
    integral (sizes, indices) and no random numbers are drawn; else None."""
    tracer = Tracer()  # concrete: runs the ops and shows which ones ran
    state = random_ops.get_state()
    previous = tape.set_tracer(tracer)
    try:
        result = fn(*args, **kwargs)
    except Exception:  # the recorded call raises it again, with the shapes of the trace
        return None
    finally:
        tape.set_tracer(previous)
        random_ops.set_state(state)
    # NOTE: a folded draw would repeat on every call (the executor renumbers draws).
    if any(isinstance(eq.op, random_ops._Random) for eq in tracer.builder.equations):
        return None
    value = result._array if isinstance(result, Variable) else result
    if isinstance(value, (tuple, list)):
        return None
    array = numpy.asarray(value)
    if array.dtype.kind not in "biu":
        return None
    return array[()] if array.ndim == 0 else array
