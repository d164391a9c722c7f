"""``dj.function``: compile a symbolic recipe into a callable, Theano style.

>>> import dualgrad_jit as dj, dualgrad_jit.tensor as T
>>> x, y = T.dscalars('x', 'y')
>>> f = dj.function([x, y], x + y)
>>> f(2, 3)
array(5.)

Shapes bind at call time: the first call with a new signature (the shapes and dtypes
of the inputs and of the shared variables) evaluates the recipe under an abstract
tracer, which records every op the dualgrad functions emit into a graph; the graph is
optimised (stabilisation included: ``log(1 + x)`` runs as ``log1p``) and cached, and
every call runs it.  Updates of shared variables are computed in the same run and
written after all outputs, as in Theano.

Device data: a function whose arguments or shared variables include device (cupy)
arrays runs on the device (backend 'auto' picks 'cuda') and returns fresh device
arrays; its host (numpy) arguments are copied to the device on every call, as Theano
copied the numpy inputs of a graph on the GPU (pass device arrays to save the copies).
Updates are written into each shared variable's own array, wherever it lives.

Called with plain arrays it returns plain arrays, as Theano does.  Called with
Variables that want gradients (under ``dg.config.enable_backprop``), it returns
Variables, each float one a single differentiable node on the tape, so a compiled
function is used like any dualgrad function:

>>> import numpy as np, dualgrad as dg
>>> v = T.dvector('v')
>>> g = dj.function([v], (v ** 2).sum())
>>> x = dg.Variable(np.array([1.0, 2.0]))
>>> g(x).backward()
>>> x.grad
array([2., 4.])
"""

import operator
import warnings

import numpy

import dualgrad as dg
from dualgrad.backend import get_array_module, import_cupy, is_cupy_array
from dualgrad.core import state as state_module
from dualgrad.core import tape
from dualgrad.core.abstract import AbstractArray
from dualgrad.core.variable import Variable, make_output
from dualgrad.errors import DeviceError, DualgradError
from dualgrad.ops import elementwise as ew
from dualgrad.ops import random as random_ops

from . import function_arguments as arguments
from .backends import select
from .executable import Executable
from .ir import interpret
from .layer import TapedGraph, call
from .passes import optimize
from .tensor.evaluate import Evaluator, MissingInputError, walk
from .tensor.variable import TensorVariable, as_tensor_variable
from .trace import Tracer
from .vjp import CompiledGraph


class InputError(DualgradError, TypeError):
    """A compiled function was called with missing, extra or unknown arguments."""


class UnusedInputError(DualgradError, ValueError):
    """An input of ``dj.function`` does not take part in computing the outputs."""


class In:
    """An input with options: ``In(y, value=1)`` (a default), ``name='w_by_name'`` (the
    keyword to pass it by; the variable's name works too), ``strict`` (exact dtype
    only), ``allow_downcast`` (cast whatever comes, losing precision if need be)."""

    def __init__(self, variable, name=None, value=None, strict=False, allow_downcast=None):
        if not isinstance(variable, TensorVariable):
            raise TypeError(f"In() takes a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.strict = strict
        self.allow_downcast = allow_downcast

    @property
    def has_default(self):
        return self.value is not None

    def __repr__(self):
        return f"In({self.variable!r}, name={self.name!r})"


def function(inputs, outputs=None, updates=None, givens=None, backend="auto", name=None,
             on_unused_input="raise", allow_input_downcast=None, no_default_updates=False):
    """A compiled function from ``inputs`` (variables or ``In``) to ``outputs`` (one
    variable, or a list: then a list is returned); see the module docstring.

    ``updates``: ``[(shared, new_value), ...]`` or a dict; ``givens``: ``[(variable,
    replacement), ...]`` or a dict; ``on_unused_input``: 'raise', 'warn' or 'ignore'.
    Arguments may be arrays, lists, ``range`` or Python numbers; they are converted to
    each input's dtype when that keeps their values (see ``TensorType.filter``), or
    always with ``allow_input_downcast=True``.  Shared variables with a
    ``default_update`` (random states of ``dj.RandomStreams``) are updated by it unless
    updated explicitly or ``no_default_updates`` is True (or lists them).
    """
    return Function(inputs, outputs, updates, givens, backend, name, on_unused_input,
                    allow_input_downcast, no_default_updates)


class Function:
    """What ``dj.function`` returns: call it with arrays; ``graph(*args)`` gives the
    optimised graph for those arguments' shapes, ``print_graph()`` prints it."""

    def __init__(self, inputs, outputs, updates, givens, backend, name, on_unused_input,
                 allow_input_downcast, no_default_updates=False):
        select.check(backend)
        self.backend = backend
        self.name = name or "function"
        self.inputs = [_as_in(i, allow_input_downcast) for i in inputs]
        self._single = outputs is not None and not isinstance(outputs, (list, tuple))
        outputs = [] if outputs is None else [outputs] if self._single else list(outputs)
        self.outputs = [as_tensor_variable(o) for o in outputs]
        self.updates = arguments.updates(updates)
        self.givens = arguments.givens(givens)
        self._shared = self._check_graph(on_unused_input)
        defaults = arguments.default_updates(self._shared, self.updates, no_default_updates)
        if defaults:
            self.updates += defaults
            self._shared = self._check_graph("ignore")
        self._cache = {}
        self._specialised = []  # positions of inputs whose values key the cache
        self._containers = [s.container for s in self._shared]  # (set_value keeps them)
        self._plain = _plain_specs(self.inputs)
        self.last = None  # the Executable of the latest call

    # -- checks made once -------------------------------------------------------------
    def _check_graph(self, on_unused_input):
        variables = [spec.variable for spec in self.inputs]
        for position, variable in enumerate(variables):
            if variable.kind == "shared":
                raise TypeError(f"input {position} ({variable!r}) is a shared variable: it is "
                                "read on every call already; use a T.* placeholder as input")
            if any(other is variable for other in variables[:position]):
                raise ValueError(f"{variable!r} appears twice among the inputs")
            if variable in self.givens:
                raise ValueError(f"{variable!r} is an input and is replaced by givens: "
                                 "choose one")
        targets = self.outputs + [expr for _, expr in self.updates]
        order = walk(targets, variables, self.givens)
        seen = {id(v) for v in order}
        missing = [v for v in order if v.kind == "input" and id(v) not in _ids(variables)
                   and v not in self.givens]
        if missing:
            names = ", ".join(f"{v!r} ({v.type})" for v in missing)
            raise MissingInputError(
                f"the outputs depend on {names}, which is not among the inputs: add it to the "
                "inputs, or replace it with givens=[(variable, value)]"
            )
        unused = [(i, s) for i, s in enumerate(self.inputs) if id(s.variable) not in seen]
        if unused and on_unused_input != "ignore":
            message = ("; ".join(f"input {i} ({s.variable!r}) is not needed to compute the "
                                 "outputs" for i, s in unused)
                       + ". Remove it, or pass on_unused_input='ignore' (or 'warn')")
            if on_unused_input == "raise":
                raise UnusedInputError(message)
            warnings.warn(message, UserWarning, stacklevel=3)
        return [v for v in order if v.kind == "shared"]

    # -- calling ----------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        shared = list(map(_ARRAY, self._containers))
        plain = None if kwargs else self._plain_arrays(args, shared)
        if plain is not None:  # the usual call: nothing to convert, move or differentiate
            values = arrays = plain
            executable = self._executable(arrays, shared, on_device=False)
        else:
            values = self._values(args, kwargs)
            arrays = self._place(self._filter(values), values)
            executable = self._executable(arrays, shared)
        if tape.TRACER is not None:
            results = self._run_traced(executable, values, arrays)
        elif plain is None and dg.config.enable_backprop and any(map(_wants_grad, values)):
            results = self._run_on_tape(executable, values, arrays)
        else:
            results = self._run(executable, arrays)
        if self._single:
            return results[0]
        return results

    def _bind(self, args, kwargs):
        values = self._values(args, kwargs)
        return self._place(self._filter(values), values)

    def _plain_arrays(self, args, shared):
        """``args`` as a list when ``_filter`` and ``_place`` would keep them as they are,
        which settles the usual call cheaply: a numpy array (not a subclass) per input, of
        its dtype, rank and known sizes, and only numpy arrays in ``shared`` (the shared
        values).  Otherwise None: the general path converts, moves or raises."""
        plain = self._plain
        if plain is None or len(args) != len(plain) or not _NUMPY_ONLY.issuperset(
                map(type, shared)):
            return None
        for array, (dtype, ndim, sizes) in zip(args, plain):
            if type(array) is not numpy.ndarray or array.dtype != dtype or array.ndim != ndim:
                return None
            if sizes and any(array.shape[axis] != size for axis, size in sizes):
                return None
        return list(args)

    def _filter(self, values):
        return [_filter(spec, position, value)
                for position, (spec, value) in enumerate(zip(self.inputs, values))]

    def _place(self, arrays, values):
        """The arguments on the device when any argument or shared value is a device
        array (host ones copied there, see the module docstring), else as they are."""
        shared = [s.container._array for s in self._shared]
        if not any(map(is_cupy_array, arrays + shared)):
            return arrays
        if self.backend == "llvm":
            where = ([_label(spec, i) for i, (spec, a) in enumerate(zip(self.inputs, arrays))
                      if is_cupy_array(a)] + [f"shared variable {s.name or s!r}"
                                              for s in self._shared if s.on_device])[0]
            raise DeviceError(f"{self.name}: {where} is a device (cupy) array but backend "
                              "'llvm' runs on the CPU; use backend='cuda' or 'auto', or "
                              "keep the data on the host (cupy.asnumpy(array))")
        xp = get_array_module(*arrays, *shared)
        placed = []
        for position, (spec, array, value) in enumerate(zip(self.inputs, arrays, values)):
            if not is_cupy_array(array):
                if dg.config.enable_backprop and _wants_grad(value):  # (and its gradient)
                    raise DeviceError(
                        f"{self.name}: {_label(spec, position)} is a host Variable that "
                        "wants a gradient, but the function runs on the device (it reads "
                        "device arrays); move it there first: x.to_device('gpu')")
                array = xp.asarray(array)
            placed.append(array)
        return placed

    def _values(self, args, kwargs):
        """What the caller passed for each input (or its default), not converted yet."""
        if len(args) > len(self.inputs):
            raise InputError(f"{self.name} takes {len(self.inputs)} inputs, got {len(args)}")
        values = dict(enumerate(args))
        names = {spec.name: i for i, spec in enumerate(self.inputs) if spec.name}
        for key, value in kwargs.items():
            if key not in names:
                known = ", ".join(repr(n) for n in names) or "none"
                raise InputError(f"{self.name} has no input named {key!r} (named inputs: "
                                 f"{known})")
            if names[key] in values:
                raise InputError(f"{self.name} got input {key!r} twice (by position and name)")
            values[names[key]] = value
        for position, spec in enumerate(self.inputs):
            if position not in values and not spec.has_default:
                raise InputError(f"{self.name} is missing input {position} ({spec.variable!r}, "
                                 f"{spec.variable.type})")
        return [values.get(position, spec.value) for position, spec in enumerate(self.inputs)]

    def _signature(self, arrays, shared, on_device):
        """The cache key: the mode, whether the data are on the device, the values read
        as numbers, then the dtype and shape of each argument and each shared value
        (dtype objects compare as their ``str`` would, and faster)."""
        values = tuple([arrays[i].item() for i in self._specialised]) if self._specialised else ()
        return (dg.config.train, on_device, values, *map(_DTYPE_AND_SHAPE, arrays),
                *map(_DTYPE_AND_SHAPE, shared))

    def _executable(self, arrays, shared=None, on_device=None):
        """The executable for ``arrays`` and ``shared`` (the shared values; None: read
        them), built on a miss; ``on_device`` None: look at the arrays."""
        if shared is None:
            shared = list(map(_ARRAY, self._containers))
        if on_device is None:
            on_device = any(map(is_cupy_array, arrays + shared))
        executable = self._cache.get(self._signature(arrays, shared, on_device))
        if executable is None:
            executable = self._build(arrays)
            # the first build finds the inputs read as numbers (slice bounds): from now
            # on their values are part of the key
            self._cache[self._signature(arrays, shared, on_device)] = executable
        self.last = executable
        return executable

    def _build(self, arrays):
        tracer = Tracer(abstract=True)
        env = {}
        for spec, array in zip(self.inputs, arrays):
            abstract = AbstractArray(array.shape, array.dtype)
            tracer.add_input(abstract)
            env[spec.variable] = make_output(abstract, None, array.dtype.kind in "fc")
        key, start = random_ops.get_state()
        previous = tape.set_tracer(tracer)
        try:
            concrete = {spec.variable: array for spec, array in zip(self.inputs, arrays)}
            evaluator = Evaluator(env, self.givens, concrete)
            with dg.using_config("enable_backprop", True):
                outputs, writes = self._trace(tracer, evaluator)
        finally:
            tape.set_tracer(previous)
            drawn = (random_ops.get_state()[1] - start) & random_ops.MASK64
            random_ops.set_state((key, start))  # the runs draw them, not the trace
        positions = {id(spec.variable): i for i, spec in enumerate(self.inputs)}
        self._specialised = sorted(set(self._specialised) | {
            positions[id(v)] for v in evaluator.specialised})
        graph = optimize(tracer.builder.build(outputs + [operand for _, operand in writes]))
        executable = Executable(graph, _sources(tracer), None, len(outputs),
                                [target for target, _ in writes], [], [],
                                (start, drawn) if drawn else None, self.name)
        shared = [s.container._array for s in self._shared]
        # a function whose device data are all shared variables runs on the device too
        executable.backend = select.resolve(self.backend, arrays + shared)
        executable.device = any(map(is_cupy_array, arrays + shared))
        return executable

    def _trace(self, tracer, evaluator):
        """The graph operands of the outputs, and ``(container, operand)`` per update."""
        values = evaluator.values(self.outputs + [expr for _, expr in self.updates])
        operands = [tracer.operand(_as_result(v)) for v in values]
        count = len(self.outputs)
        writes = []
        for (target, _), value, operand in zip(self.updates, values[count:], operands[count:]):
            arguments.check_update(target, value)
            writes.append((target.container, operand))  # written back after the run
        return operands[:count], writes

    def _run(self, executable, arrays):
        inputs = _on_device([arrays[where] if kind == "arg" else where.read()
                             for kind, where in executable.sources], executable)
        renumbered = executable._renumber_random_draws()  # fresh numbers on every call
        owned = frozenset()
        if executable.backend == "numpy":
            outputs = interpret(select.with_ops(executable.graph, renumbered), inputs,
                                xp=get_array_module(*inputs))
        else:
            runner = executable.runner()
            outputs = runner(inputs, renumbered)
            # results made for this call, and updates already written in place
            owned = getattr(runner, "owned", owned) | {
                out for out, source in getattr(runner, "donated", {}).items()
                if outputs[out] is inputs[source]}
        count = executable.n_results
        results = _fresh(outputs[:count], inputs, owned)
        # ({a: b, b: a} swaps, in place)
        new_values = _fresh(outputs[count:], inputs, owned, start=count)
        for target, value in zip(executable.writes, new_values):
            if value is not target._array:  # (else the runner updated it in place)
                state_module.write(target, value)  # after every output was computed
        return results

    def _run_on_tape(self, executable, values, arrays):
        """Run with some argument wanting a gradient: each float result is one
        ``CompiledCall`` node on the tape (``dualgrad_jit.layer``), whose backward is
        derived from the graph and differentiable again; the others are plain Variables.

        Shared variables stay off the tape (their gradients are ``dj.grad``'s business);
        a captured eager Variable that wants a gradient joins it, as in ``dj.jit``.  A
        shared value an update overwrites in place is copied first, so what the nodes
        keep for the backward is the value the outputs were computed from."""
        written = executable.writes
        inputs, operands = [], []
        for kind, where in executable.sources:
            if kind == "arg":
                array = arrays[where]
                value = values[where]
                operand = _tape_operand(value, array) if _wants_grad(value) else array
            else:
                array = _on_device([where.read()], executable)[0]
                owner = where.owner if where.kind == "array" else None
                if any(owner is target for target in written):
                    array = array.copy()
                operand = owner if _wants_grad(owner) and not self._is_shared(owner) else array
            inputs.append(array)
            operands.append(operand)
        # fresh numbers on every call
        graph = select.with_ops(executable.graph, executable._renumber_random_draws())
        count = executable.n_results
        if executable._taped is None:
            executable._taped = TapedGraph(executable.graph, count, range(count))

        def fresh(outputs):
            return _fresh(outputs[:count], inputs) + _fresh(outputs[count:], inputs)

        outputs, connect = executable._taped.run(graph, operands, inputs, fresh=fresh)
        for target, value in zip(written, outputs[count:]):
            state_module.write(target, value)  # after every output was computed
        return connect()

    def _run_traced(self, executable, values, arrays):
        """Called inside traced code (``dj.jit``): the graph is recorded as ``CompiledCall``
        equations reading the arguments and the shared values, and the updates as state
        writes, so nothing of this call is baked into the trace as a constant."""
        operands = []
        for kind, where in executable.sources:
            if kind == "arg":
                value = values[where]
                operands.append(_tape_operand(value, arrays[where])
                                if isinstance(value, Variable) else arrays[where])
            else:
                operands.append(where.owner if where.kind == "array" else where.read())
        graph = select.with_ops(executable.graph, executable._renumber_random_draws())
        outputs = call(CompiledGraph(graph), operands)
        count = executable.n_results
        for target, value in zip(executable.writes, outputs[count:]):
            state_module.assign(target, value)  # after every output was computed
        return list(outputs[:count])

    def _is_shared(self, owner):
        return any(owner is s.container for s in self._shared)

    # -- looking inside -----------------------------------------------------------------
    def graph(self, *args, **kwargs):
        """The optimised graph run for arguments like ``args`` (compiled if need be)."""
        return self._executable(self._bind(args, kwargs)).graph

    def print_graph(self, *args, file=None, **kwargs):
        """Print the optimised graph for ``args`` (default: the latest call's)."""
        if not (args or kwargs) and self.last is None:
            raise ValueError(
                f"{self.name}: shapes are bound at call time, so there is no graph yet; call "
                "the function once, or pass example arguments: f.print_graph(x_example)")
        if args or kwargs:
            graph = self.graph(*args, **kwargs)
        else:
            graph = self.last.graph
        print(graph, file=file)

    def __repr__(self):
        ins = ", ".join(repr(spec.variable) for spec in self.inputs)
        return f"<dj.function {self.name}({ins}) -> {self.outputs!r}>"


# -- helpers ----------------------------------------------------------------------------------
_ARRAY = operator.attrgetter("_array")
_DTYPE_AND_SHAPE = operator.attrgetter("dtype", "shape")
_NUMPY_ONLY = frozenset([numpy.ndarray])  # (subclasses and device arrays take the long way)


def _wants_grad(value):
    return isinstance(value, Variable) and value.requires_grad


def _tape_operand(value, array):
    """The input as the tape sees it: the caller's Variable (cast on the tape when the
    input's dtype differs), else the array."""
    if not isinstance(value, Variable):
        return array
    if value._array is array:
        return value
    return ew.cast(value, array.dtype.name)  # converted by the input's type (a downcast)


def _ids(variables):
    return {id(v) for v in variables}


def _as_in(item, allow_input_downcast):
    spec = item if isinstance(item, In) else In(item)
    if spec.allow_downcast is None:
        spec.allow_downcast = allow_input_downcast
    return spec


def _plain_specs(inputs):
    """Per input ``(dtype, ndim, ((axis, size), ...))`` of its type (the known sizes),
    what ``Function._plain_arrays`` checks; None when some input's type is not known."""
    specs = []
    for spec in inputs:
        ttype = spec.variable.type
        if not ttype.known:
            return None
        sizes = tuple((axis, size) for axis, size in enumerate(ttype.shape) if size is not None)
        specs.append((numpy.dtype(ttype.dtype), len(ttype.shape), sizes))
    return specs


def _label(spec, position):
    name = spec.variable.name
    return f"input {position} ({name!r})" if name else f"input {position}"


def _filter(spec, position, value):
    variable = spec.variable
    if not variable.type.known:
        array = getattr(value, "_array", value)
        return array if is_cupy_array(array) else numpy.asarray(array)
    return variable.type.filter(value, name=_label(spec, position), strict=spec.strict,
                                allow_downcast=spec.allow_downcast)


def _on_device(inputs, executable):
    """The graph inputs of a run on the device, all there (a host shared value read by a
    function that runs on the device is copied to it)."""
    if not getattr(executable, "device", False):
        return inputs
    cupy = import_cupy()  # imported already: the function read device arrays
    return [a if is_cupy_array(a) else cupy.asarray(a) for a in inputs]


def _sources(tracer):
    """Where each graph input comes from: ``('arg', position)`` or ``('state', read)``."""
    by_var = {var.id: ("arg", position) for position, var in enumerate(tracer.inputs)}
    for read, var in tracer.state_reads:
        by_var[var.id] = ("state", read)
    return [by_var[var.id] for var in tracer.builder.inputs]


def _as_result(value):
    """An output of the trace as something the executable can return: a Variable, or a
    static value (a shape...) as an array."""
    if isinstance(value, Variable):
        return value
    return numpy.asarray(value)


def _fresh(outputs, inputs, owned=(), start=0):
    """Outputs the caller owns: never an input, a shared value, a constant or another
    output (Theano returns fresh arrays too).  Positions in ``owned`` (counted from
    ``start``) are arrays the runner made for this call alone, kept as they are."""
    fresh = []
    for position, out in enumerate(outputs, start):
        if position not in owned:
            xp = get_array_module(out)  # numpy or cupy: each has may_share_memory
            shared = any(xp.may_share_memory(out, a) for a in inputs + fresh
                         if isinstance(a, xp.ndarray))
            # cupy's flags have no ``writeable``: device arrays are always writeable
            writeable = getattr(out.flags, "writeable", True)
            out = out.copy() if shared or not writeable else out
        fresh.append(out)
    return fresh
