"""The tracer: records every op applied by ordinary dualgrad code into a graph.

Installed with ``dualgrad.core.tape.set_tracer``, it receives every ``apply`` (forward
ops, backward rules, optimizer updates), every state write (``assign``) and every
conversion of a traced value to Python.  Two modes:

- concrete (``dj.jit``): ops also run eagerly on the real data, so the first call gives
  eager's answer; conversions to Python are recorded as guards;
- abstract (symbolic functions): values are ``AbstractArray``s, only shapes and dtypes
  flow, and conversions raise ``ConcretizationError``.

Arrays are identified by object identity (``id``); every array seen is kept alive for
the trace's duration so identities stay unique.  An array or Variable the trace did not
create is *state*: it becomes an implicit graph input, read again on every replay
(never a baked constant).
"""

import dataclasses

import numpy

from dualgrad.core import state as state_module
from dualgrad.core import tape
from dualgrad.core.abstract import AbstractArray
from dualgrad.core.variable import Parameter, Variable, to_python
from dualgrad.errors import ConcretizationError, TracerLeakError, user_source_line

from ..ir import GraphBuilder
from .bytecode import comparison_after_conversion
from .guarded_scalar import _COMPARISONS, GuardUse, guarded
from .traced_array import TracedArray

_PYTHON_SCALARS = (bool, int, float)


@dataclasses.dataclass(frozen=True)
class StateRead:
    """An implicit input: ``read()`` gives its current array on every replay.

    ``owner`` is a Variable (its ``.array`` is read), a raw array (read as is), or, for
    ``kind == 'grad'``, the Parameter whose gradient is read."""

    owner: object
    kind: str  # 'array' | 'raw' | 'grad'

    def read(self):
        if self.kind == "array":
            return self.owner._array
        if self.kind == "grad":
            grad = self.owner._grad_var
            return None if grad is None else grad._array
        return self.owner


@dataclasses.dataclass(frozen=True)
class Guard:
    """A traced value turned into Python: ``kind`` of ``value`` was ``observed``.

    ``use`` says how the Python code used it: when it was only compared, the guard holds
    as long as every comparison comes out the same; otherwise the value must be equal."""

    value: object  # the graph operand whose data was converted
    kind: str
    observed: object
    where: str
    use: GuardUse = dataclasses.field(default_factory=GuardUse, compare=False)

    def holds(self, array):
        now = to_python(array, self.kind)
        if self.use.value_used or not self.use.comparisons:
            return now == self.observed
        return all(_outcome(name, now, other) == result
                   for name, other, result in self.use.comparisons)

    def describe(self, array=None):
        if self.use.value_used or not self.use.comparisons:
            test = f"{self.kind}() == {self.observed!r}"
        else:
            test = " and ".join(_describe_comparison(self.kind, name, other, result)
                                for name, other, result in self.use.comparisons)
        now = "" if array is None else f" (value now {to_python(array, self.kind)!r})"
        return f"{test} at {self.where or '?'} no longer holds{now}"


def _outcome(name, value, other):
    if name == "__bool__":
        return value != 0
    return _COMPARISONS[name](value, other)


def _describe_comparison(kind, name, other, result):
    symbol = {"__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=", "__eq__": "==",
              "__ne__": "!=", "__bool__": "!= 0"}[name]
    rhs = "" if other is None else f" {other!r}"
    return f"({kind}() {symbol}{rhs}) was {result}"


class Tracer:
    """Records ops into a ``GraphBuilder`` (see the module docstring)."""

    def __init__(self, abstract=False):
        self.abstract = abstract
        self.builder = GraphBuilder()
        self.inputs = []  # explicit input Vars, in order
        self.state_reads = []  # (StateRead, Var)
        self.writes = {}  # id(target) -> (target, operand)
        self.guards = []
        self._values = {}  # id(array) -> operand (Var or Const)
        self._alive = []  # every array seen, so ids stay unique
        self._grad_owner = {}  # id(gradient Variable) -> its Parameter

    # -- values --------------------------------------------------------------------------
    def add_input(self, array):
        var = self.builder.add_input(_aval(array))
        self._bind(array, var)
        self.inputs.append(var)
        return var

    def _bind(self, array, operand):
        self._values[id(array)] = operand
        self._alive.append(array)

    def operand(self, x):
        """The graph operand of ``x`` (Variable, array or scalar); unknown state is lifted."""
        if type(x) in _PYTHON_SCALARS or isinstance(x, numpy.generic):
            return self.builder.const(x)
        if isinstance(x, Variable):
            array = x._array
            found = self._values.get(id(array))
            if found is not None:
                return found
            owner = self._grad_owner.get(id(x))
            read = StateRead(owner, "grad") if owner is not None else StateRead(x, "array")
            return self._lift(read, array, x)
        found = self._values.get(id(x))
        if found is not None:
            return found
        return self._lift(StateRead(x, "raw"), x, None)

    def _lift(self, read, array, variable):
        if array is None:
            raise ConcretizationError(
                "an uninitialized Parameter was used inside a traced function; run the "
                "model once eagerly (or initialize the parameter) before compiling it"
            )
        if isinstance(array, AbstractArray):
            raise TracerLeakError(
                "a symbolic value from another function or an earlier trace was used here; "
                "pass it as an input instead of capturing it"
            )
        var = self.builder.add_input(_aval(array))
        self._bind(array, var)
        self.state_reads.append((read, var))
        if isinstance(variable, Parameter) and variable._grad_var is not None:
            self._grad_owner[id(variable._grad_var)] = variable
        if isinstance(variable, Parameter):
            self._watch_gradient(variable)
        return var

    def _watch_gradient(self, param):
        self._params = getattr(self, "_params", [])
        if all(p is not param for p in self._params):
            self._params.append(param)
            if param._grad_var is not None:
                self._grad_owner[id(param._grad_var)] = param

    @property
    def parameters(self):
        """Parameters the traced code read, in order of first use."""
        return list(getattr(self, "_params", []))

    # -- hooks called by dualgrad's core -------------------------------------------------
    def apply(self, op, inputs, xp):
        operands = [self.operand(x) for x in inputs]
        if self.abstract:
            var = self.builder.apply(op, operands)
            y = AbstractArray(var.aval.shape, var.aval.dtype)
            out = tape.record(op, inputs, y)
        else:
            out = tape.apply_eagerly(op, inputs, xp)
            var = self.builder.emit(op, operands, _aval(out._array))
        self._bind(out._array, var)
        return out

    def assign(self, target, value):
        operand = self.operand(value)
        if isinstance(target, Variable) or not hasattr(target, "shape"):
            current = target._array if isinstance(target, Variable) else target.array
            if current is not None:
                self.operand(target)  # make sure the target is known (lifted) first
        if not self.abstract:
            state_module.write(target, value)
        array = _target_array(target)
        if array is not None:
            self._bind(array, operand)
        self.writes[id(target)] = (target, operand)
        return target

    def concretize(self, variable, kind):
        if self.abstract:
            raise ConcretizationError(
                f"{kind}() of a symbolic value: its value is only known when the compiled "
                "function runs. Use T.switch / F.where for elementwise choices, dj.ifelse "
                "for a lazy branch, dj.scan for loops"
            )
        operand = self.operand(variable)
        value = to_python(variable._array, kind)
        if _is_const(operand):
            return value
        guard = Guard(operand, kind, value, user_source_line())
        self.guards.append(guard)
        comparison = comparison_after_conversion()
        if comparison is not None and kind in ("float", "int", "item"):
            name, constant = comparison
            guard.use.comparisons.append((name, constant, _outcome(name, value, constant)))
            return value  # consumed by that comparison alone
        return value if kind in ("bool", "index", "float") else guarded(value, guard.use)

    def read_array(self, variable):
        if self.abstract:
            return variable._array
        self.operand(variable)
        return TracedArray.watch(variable._array, self, variable)

    # -- the result ------------------------------------------------------------------------
    def operand_of_output(self, value):
        return self.operand(value)

    def gradient_writes(self):
        """``(param, operand or None)`` for every parameter whose ``.grad`` the code set."""
        out = []
        for param in self.parameters:
            grad = param._grad_var
            if grad is None:
                out.append((param, None))
            elif id(grad._array) in self._values:
                out.append((param, self._values[id(grad._array)]))
        return out


def _aval(array):
    from dualgrad.core.aval import ShapedArray

    return ShapedArray(tuple(array.shape), numpy.dtype(array.dtype))


def _target_array(target):
    if isinstance(target, Variable):
        return target._array
    if hasattr(target, "shape") and not hasattr(target, "array"):
        return target
    return getattr(target, "array", None)


def _is_const(operand):
    from ..ir.graph import Const

    return isinstance(operand, Const)
