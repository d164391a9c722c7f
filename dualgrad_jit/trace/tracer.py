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
import linecache
import os
import sys

import numpy

from dualgrad.core import state as state_module
from dualgrad.core import tape
from dualgrad.core.abstract import AbstractArray
from dualgrad.core.variable import Parameter, Variable, to_python
from dualgrad.errors import _PACKAGE_DIRS, ConcretizationError, TracerLeakError, user_source_line

from ..ir import GraphBuilder
from .bytecode import comparison_after_conversion
from .guarded_scalar import _COMPARISONS, GuardUse, guarded
from .traced_array import TracedArray

_PYTHON_SCALARS = (bool, int, float)


@dataclasses.dataclass(frozen=True)
class StateRead:
    """An implicit input: ``read()`` gives its current array on every replay.

    ``owner`` is a Variable (its ``.array`` is read), a raw array (read as is), for
    ``kind == 'grad'`` the Parameter whose gradient is read, and for
    ``kind == 'argument_grad'`` the position of the argument whose gradient is read
    (the executable reads it from each call's arguments)."""

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
        self.arguments = []  # (position, Variable) of Variable arguments
        self._argument_grad_owner = {}  # id(gradient Variable) -> argument position
        self.writes = {}  # id(target) -> (target, operand)
        self.guards = []
        self._values = {}  # id(array) -> operand (Var or Const)
        self._alive = []  # every array seen, so ids stay unique
        self._grad_owner = {}  # id(gradient Variable) -> its Parameter
        self._by_memory = {}  # (data pointer, shape, strides, dtype) -> operand
        self._state_ids = set()  # ids of the Vars that are state inputs
        self.sources = {}  # Var id -> the user source line of the op that made it
        self.in_forward = False  # True while an op's own forward runs (see TracedArray)

    # -- values --------------------------------------------------------------------------
    def watch_argument(self, position, variable):
        """Note a Variable argument, so its gradient (read or written by ``backward()``
        inside the function) follows the argument of each call, not this one."""
        self.arguments.append((position, variable))
        if variable._grad_var is not None:
            self._argument_grad_owner[id(variable._grad_var)] = position

    def argument_gradient_writes(self):
        """``(position, operand)`` for every argument whose ``.grad`` the code computed."""
        out = []
        for position, variable in self.arguments:
            grad = variable._grad_var
            if grad is not None and id(grad._array) in self._values:
                out.append((position, self._values[id(grad._array)]))
        return out

    def add_input(self, array):
        var = self.builder.add_input(_aval(array))
        self._bind(array, var)
        self.inputs.append(var)
        return var

    def _bind(self, array, operand):
        self._values[id(array)] = operand
        self._alive.append(array)
        key = _memory_key(array)
        if key is not None:
            self._by_memory[key] = operand

    def operand(self, x):
        """The graph operand of ``x`` (Variable, array or scalar); unknown state is lifted."""
        if type(x) is TracedArray:
            x = x._data  # ``variable.array``: the traced value itself
        if type(x) in _PYTHON_SCALARS or isinstance(x, numpy.generic):
            return self.builder.const(x)
        if isinstance(x, Variable):
            array = x._array
            found = self._values.get(id(array))
            if found is None:
                found = self._aliased(array)
            if found is not None:
                return found
            owner = self._grad_owner.get(id(x))
            read = StateRead(owner, "grad") if owner is not None else StateRead(x, "array")
            position = self._argument_grad_owner.get(id(x))
            if position is not None:
                read = StateRead(position, "argument_grad")
            return self._lift(read, array, x)
        found = self._values.get(id(x))
        if found is None:
            found = self._aliased(x)
        if found is not None:
            return found
        return self._lift(StateRead(x, "raw"), x, None)

    def _aliased(self, array):
        """The operand of the traced value whose memory ``array`` views exactly (what
        ``x.array``, ``numpy.asarray(x.array)`` or ``Variable(x.array)`` give), or None.

        Without this a view of a traced value would be lifted as state and a replay would
        read the first call's data.  A partial view (reshaped, sliced, transposed) of a
        traced value cannot be followed: that raises."""
        key = _memory_key(array)
        if key is None:
            return None
        found = self._by_memory.get(key)
        if found is not None:
            return found
        base = self._values.get(id(array.base)) if array.base is not None else None
        if base is not None and getattr(base, "id", None) not in self._state_ids:
            raise ConcretizationError(
                "a reshaped, sliced or transposed view of a traced value's .array was used "
                "as an array inside a traced function; a compiled replay could not follow "
                "it. Apply the view to the Variable instead (F.reshape, F.transpose, x[i])"
            )
        return None

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
        self._state_ids.add(var.id)
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
        if any(type(x) is TracedArray for x in inputs):
            inputs = tuple(map(unwrap, inputs))  # the op computes on the data itself
        operands = [self.operand(x) for x in inputs]
        if self.abstract:
            var = self.builder.apply(op, operands)
            y = AbstractArray(var.aval.shape, var.aval.dtype)
            out = tape.record(op, inputs, y)
        else:
            self.in_forward = True
            try:
                out = tape.apply_eagerly(op, inputs, xp)
            finally:
                self.in_forward = False
            var = self.builder.emit(op, operands, _aval(out._array))
            self.sources[var.id] = _source_line()
        self._bind(out._array, var)
        return out

    def assign(self, target, value):
        target, value = unwrap(target), unwrap(value)
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
        # Python requires __bool__/__index__/__float__/__int__ to return the exact type:
        # those values stay plain (their guard is then an exact-value one); item() may
        # return a guarded number that reports how it is used.
        return value if kind in ("bool", "index", "float", "int") else guarded(value, guard.use)

    def unwrap(self, value):
        """The data ``value`` stands for when it is a ``variable.array`` (Variable(x.array)
        then holds the traced value itself), else ``value``."""
        return unwrap(value)

    def read_array(self, variable):
        if self.abstract or variable._array is None:
            return variable._array  # None: links initialize lazily (``if W.array is None``)
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


_LIBRARY_FILES = {}  # file name -> whether it belongs to dualgrad (or importlib)


def _source_line():
    """``user_source_line()`` with the per-file path test cached (it runs per op)."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        library = _LIBRARY_FILES.get(name)
        if library is None:
            path = os.path.abspath(name)
            library = _LIBRARY_FILES[name] = (path.startswith(_PACKAGE_DIRS)
                                              or "importlib" in path)
        if not library:
            line = linecache.getline(name, frame.f_lineno).strip()
            return f"{name}:{frame.f_lineno}: {line}" if line else f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


def source_lines(traced, graph, sources):
    """``{Var id of graph: user source line}`` from ``sources`` (keyed by the Vars of the
    ``traced`` graph), for ``graph`` = ``traced`` after rewrites.

    Rewrite passes rebuild every equation with new Vars, so equations are matched by
    value numbering: an equation is the same computation in both graphs when its op is
    equal and its operands are the same inputs, constants or matched equations.  Nodes a
    rewrite created (``log1p`` for ``log(1 + x)``) have no line."""
    classes = {}

    def number(g):
        numbers = {var.id: ("input", i) for i, var in enumerate(g.inputs)}
        for eq in g.equations:
            key = (eq.op, tuple(numbers.get(x.id) if hasattr(x, "id") else ("const", x)
                                for x in eq.inputs))
            numbers[eq.out.id] = classes.setdefault(key, len(classes))
        return numbers

    traced_numbers = number(traced)
    line_of = {traced_numbers[var_id]: line for var_id, line in sources.items()
               if var_id in traced_numbers}
    numbers = number(graph)
    return {eq.out.id: line_of[numbers[eq.out.id]] for eq in graph.equations
            if numbers[eq.out.id] in line_of}


def unwrap(value):
    """The ndarray a TracedArray stands for; any other value as is."""
    return value._data if type(value) is TracedArray else value


def _aval(array):
    from dualgrad.core.aval import ShapedArray

    return ShapedArray(tuple(array.shape), numpy.dtype(array.dtype))


def _memory_key(array):
    """What identifies the data an ndarray views (None for other arrays and empty ones)."""
    if not isinstance(array, numpy.ndarray) or array.size == 0:
        return None
    return (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)


def _target_array(target):
    if isinstance(target, Variable):
        return target._array
    if hasattr(target, "shape") and not hasattr(target, "array"):
        return target
    return getattr(target, "array", None)


def _is_const(operand):
    from ..ir.graph import Const

    return isinstance(operand, Const)
