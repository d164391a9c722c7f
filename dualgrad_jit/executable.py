"""``Executable``: one compiled variant of a traced function, and how it replays.

It holds the optimised graph, where each graph input comes from (an argument or a piece
of state read again on every call), what the outputs are (the returned values, the state
writes, the parameters' new gradients and the guarded values), and the random draws to
re-number so a replay draws exactly what an eager call would.

Replayed under backprop with an input that wants a gradient (a Variable argument, a
Parameter the code reads), the returned values come out as Variables on the tape, one
``CompiledCall`` node each (``dualgrad_jit.layer.TapedGraph``): their backward is derived
from the graph, reuses the forward's residuals and is differentiable again.
"""

import operator

import numpy

from dualgrad._config import config
from dualgrad.backend import get_array_module
from dualgrad.core import state as state_module
from dualgrad.core.variable import Variable
from dualgrad.live import LiveValue
from dualgrad.ops import random as random_ops

from . import layer
from .backends import select
from .gather import compile_gather
from .ir import interpret
from .ir.graph import Const, Graph
from .passes import optimize
from .trace.tracer import source_lines

#: guards computed by at most this many ops, none reading or making more than this many
#: elements, are checked before the run
EARLY_GUARD_OPS = 8
EARLY_GUARD_SIZE = 16
_UNSET = object()


class Executable:
    on_value = None  # ``on_value(equation, array)`` sees every value of a replay (modes)
    rng_key = None  # the stream's key when traced (None: any key)
    lines = None  # {Var id: user source line of the op}, from the trace
    connects = False  # whether replayed results may join the tape (see the docstring)
    argument_grads = ()  # positions of arguments whose .grad each replay writes
    on_tape = ()  # positions of the results that join it
    _taped = None  # the layer.TapedGraph replaying onto the tape, made on first need
    _runner = None  # the graph loaded on its backend, made on first need
    _early = _UNSET  # the guards' part of the graph checked before each run (see below)
    _gathering = None  # the generated ``gather`` (see ``_fast_gather``)
    _early_plan = None  # (see ``_early_reads``)
    _early_held = None  # the arrays the early guards last held for, when all are live
    backend = "numpy"

    def __init__(self, graph, sources, tree, n_results, writes, grads, guards, rng, name):
        self.graph = graph
        self.sources = sources  # per graph input: ('arg', position) or ('state', StateRead)
        self.tree = tree  # structure of the returned value (see _flatten)
        self.n_results = n_results
        self.writes = writes  # [target]   (outputs after the results)
        self.grads = grads  # [param, has_gradient]
        self.guards = guards  # [Guard]    (the last outputs)
        self.rng = rng  # (counter at trace start, number drawn) or None
        self.name = name

    @classmethod
    def from_trace(cls, tracer, result, explicit_positions, backend="auto", name="f",
                   rng=None, arrays=()):
        leaves, tree = _flatten(result)
        outputs = [tracer.operand(leaf) for leaf in leaves if _is_traced_leaf(leaf)]
        writes = list(tracer.writes.values())
        grads = tracer.gradient_writes()
        argument_grads = tracer.argument_gradient_writes()
        wrote_gradients = any(operand is not None for _, operand in grads) or bool(
            argument_grads)
        if not wrote_gradients:
            # NOTE: code that computed no gradient leaves every .grad alone; clearing the
            # ones that were None while tracing would undo gradient accumulation across
            # calls (loss = f(x); loss.backward(), twice).
            grads = []
        outputs += [operand for _, operand in writes]
        outputs += [operand for _, operand in grads if operand is not None]
        outputs += [operand for _, operand in argument_grads]
        outputs += [guard.value for guard in tracer.guards]
        recorded = tracer.builder.build(outputs)
        graph = optimize(layer.inline_calls(recorded))
        sources = _sources(tracer, explicit_positions)
        executable = cls(graph, sources, tree, sum(map(_is_traced_leaf, leaves)),
                         [target for target, _ in writes],
                         [(param, operand is not None) for param, operand in grads],
                         list(tracer.guards), rng, name)
        executable.backend = select.resolve(backend, [getattr(a, '_array', a) for a in arrays])
        executable.rng_key = random_ops.get_state()[0]
        executable.argument_grads = [position for position, _ in argument_grads]
        # A training step's results stay off the tape: it consumed its graph itself (as
        # eager backward() does) and may write the parameters the results depend on.
        # Results on the tape are those the traced (eager) run put there: a gradient
        # computed without enable_double_backprop stays off it, as in eager.
        traced = [leaf for leaf in leaves if _is_traced_leaf(leaf)]
        executable.on_tape = [i for i, leaf in enumerate(traced)
                              if isinstance(leaf, Variable) and leaf.requires_grad]
        executable.connects = bool(executable.on_tape) and not wrote_gradients and not any(
            isinstance(target, Variable) and target.requires_grad for target, _ in writes)
        executable.lines = source_lines(recorded, graph, getattr(tracer, "sources", {}))
        return executable

    # -- running ----------------------------------------------------------------------
    def run(self, args):
        """``(True, result, None)``, or ``(False, None, why)`` when a guard failed (then
        nothing was written back and the random stream is where it was)."""
        inputs = self._fast_gather(args)
        checked, why = inputs is not None, None
        if not checked:
            inputs, why = self._gather(args)
        if why is None:
            why = self._check_early_guards(inputs)
        if why is not None:
            return False, None, why
        saved_rng = random_ops.get_state()
        renumbered = self._renumber_random_draws()
        operands = self._tape_operands(args, inputs)
        if operands is None and self.on_value is None and self.backend != "numpy":
            runner = self.runner()
            run = getattr(runner, "run_checked", runner) if checked else runner
            outputs = run(inputs, renumbered)
        elif operands is None:
            outputs = interpret(select.with_ops(self.graph, renumbered), inputs,
                                xp=get_array_module(*inputs), on_value=self.on_value)
        else:
            graph = select.with_ops(self.graph, renumbered)
            if self._taped is None:
                self._taped = layer.TapedGraph(self.graph, self.n_results, self.on_tape)
            outputs, on_tape = self._taped.run(graph, operands, inputs, self.on_value)
        position = len(outputs) - len(self.guards)
        for guard, array in zip(self.guards, outputs[position:]):
            if self._early is None and not guard.holds(array):
                random_ops.set_state(saved_rng)
                return False, None, "guard " + guard.describe(array)
        self._write_back(outputs, args)
        results = outputs[: self.n_results] if operands is None else on_tape()
        return True, _unflatten(self.tree, iter(results)), None

    def _early_guards(self):
        """The part of the graph computing the guards, when it is a few small ops on the
        inputs (an optimizer's configuration compared with its live value): checked
        before the run, so a failed guard costs no run and leaves every state as it was
        (which lets updates be written in place); None otherwise."""
        if self._early is _UNSET:
            self._early = None
            if self.guards:
                from .passes.dce import eliminate_dead_code

                outputs = self.graph.outputs[len(self.graph.outputs) - len(self.guards):]
                part = eliminate_dead_code(Graph(self.graph.inputs, self.graph.equations,
                                                 outputs))
                if len(part.equations) <= EARLY_GUARD_OPS and all(
                        x.aval.size <= EARLY_GUARD_SIZE
                        for eq in part.equations for x in (eq.out, *eq.inputs)):
                    self._early = part
        return self._early

    def _check_early_guards(self, inputs):
        """Why a guard checked before the run fails, or None.  (The few ops run straight
        through their ``forward``: the inputs were checked by ``_gather``.)

        Guards that read only live hyperparameters (``dualgrad.live.LiveValue``: an
        optimizer's configuration) are not computed again while each reads the very same
        array as when they last held: a live value's array is replaced, never written,
        when its value changes."""
        part = self._early_guards()
        if part is None:
            return None
        positions, live = self._early_reads
        read = [inputs[position] for position in positions]
        if live and self._early_held is not None and all(map(operator.is_, read,
                                                               self._early_held)):
            return None
        env = {part.inputs[position].id: array for position, array in zip(positions, read)}
        # (on the host when they read host values: a live hyperparameter)
        xp = get_array_module(*read)
        for eq in part.equations:
            env[eq.out.id] = eq.op.forward(
                xp, *(x.value if isinstance(x, Const) else env[x.id] for x in eq.inputs))
        for guard, value in zip(self.guards, part.outputs):
            array = value.value if isinstance(value, Const) else env[value.id]
            if not guard.holds(array):
                self._early_held = None
                return "guard " + guard.describe(array)
        self._early_held = read if live else None
        return None

    @property
    def _early_reads(self):
        """The positions of the inputs the early guards read, and whether all are live
        hyperparameters."""
        if self._early_plan is None:
            part = self._early_guards()
            read = {x.id for eq in part.equations for x in eq.inputs if not isinstance(x, Const)}
            positions = [i for i, var in enumerate(part.inputs) if var.id in read]
            live = all(self.sources[i][0] == "state" and self.sources[i][1].kind == "array"
                       and isinstance(self.sources[i][1].owner, LiveValue) for i in positions)
            self._early_plan = (positions, live)
        return self._early_plan

    def _tape_operands(self, args, inputs):
        """The inputs as the tape sees them (the Variable where one wants a gradient, else
        the array), or None when no gradient can flow from the results."""
        if not self.connects or not config.enable_backprop:
            return None
        operands, wanted = [], False
        for array, (kind, where) in zip(inputs, self.sources):
            owner = args[where] if kind == "arg" else (
                where.owner if where.kind == "array" else None)
            if isinstance(owner, Variable) and owner.requires_grad:
                operands.append(owner)
                wanted = True
            else:
                operands.append(array)
        return operands if wanted else None

    def _fast_gather(self, args):
        """The inputs in the common case (C-contiguous numpy arrays of the traced shapes
        and dtypes), read by code generated for this executable
        (``dualgrad_jit.gather``); else None, and ``_gather`` reads them again, handling
        and explaining everything else."""
        if self._gathering is None:
            self._gathering = compile_gather(self.sources,
                                             [var.aval for var in self.graph.inputs])
        return self._gathering(args)

    def _gather(self, args):
        inputs = []
        for var, (kind, where) in zip(self.graph.inputs, self.sources):
            if kind == "arg":
                array = args[where]
            elif where.kind == "argument_grad":
                array = args[where.owner]._grad_var
            else:
                array = where.read()
            if isinstance(array, Variable):
                array = array._array
            if array is None:
                return None, f"state {where.kind} of {_describe(where)} is gone (None)"
            if not hasattr(array, "shape"):
                array = numpy.asarray(array)
            if tuple(array.shape) != var.aval.shape or array.dtype != var.aval.dtype:
                return None, (f"input {_describe(where)} is now {array.dtype}{list(array.shape)}"
                              f", traced as {var.aval}")
            inputs.append(array)
        return inputs, None

    def runner(self):
        """The compiled graph (made on first need): ``run(inputs, ops) -> outputs``."""
        if self._runner is None:
            self._runner = select.load(self.graph, self.backend, host=self._stream_draws(),
                                       donate=self._donations())
        return self._runner

    def _donations(self):
        """``{output position: input position}``: each written state's new value and
        the graph input holding its current value, which the runner may overwrite in
        place (as the write-back would).  None with guards: they are checked after the
        run, and a failed one must leave the state as it was."""
        if self.guards and self._early_guards() is None:
            return {}
        reading = {id(where.owner): position
                   for position, (kind, where) in enumerate(self.sources)
                   if kind == "state" and where.kind in ("array", "raw")}
        return {self.n_results + k: reading[id(target)]
                for k, target in enumerate(self.writes) if id(target) in reading}

    def _stream_draws(self):
        """The random draws (ops) re-numbered on every call: they run as host steps, so
        a new counter needs no recompilation."""
        if self.rng is None:
            return frozenset()
        return frozenset(eq.op for eq in self.graph.equations
                         if self._drawn_from_stream(eq.op))

    def _renumber_random_draws(self):
        """``{traced op: op}``: this call's draws, continuing the stream where it is."""
        if self.rng is None:
            return {}
        start, drawn = self.rng
        key, base = random_ops.get_state()
        ops = {
            eq.op: eq.op.replace(
                key=key, counter=(eq.op.counter - start + base) & random_ops.MASK64)
            for eq in self.graph.equations if self._drawn_from_stream(eq.op)
        }
        random_ops.set_state((key, (base + drawn) & random_ops.MASK64))
        return ops

    def _drawn_from_stream(self, op):
        """Whether the traced call drew ``op`` from the stream (a random op built with its
        own fixed key and counter replays as it is)."""
        start, drawn = self.rng
        return (_is_random(op) and self.rng_key in (None, op.key)
                and (op.counter - start) & random_ops.MASK64 < drawn)

    def _write_back(self, outputs, args=()):
        position = self.n_results
        for target in self.writes:
            array = outputs[position]
            if getattr(target, "_array", None) is not array:  # (else: written in place)
                state_module.write(target, array)
            position += 1
        for param, has_gradient in self.grads:
            if has_gradient:
                param._grad_var = Variable(outputs[position], requires_grad=False)
                position += 1
            else:
                param._grad_var = None
        for argument in self.argument_grads:
            args[argument]._grad_var = Variable(outputs[position], requires_grad=False)
            position += 1

    def __str__(self):
        return f"{self.name}: {self.graph}"


def _is_random(op):
    return isinstance(op, random_ops._Random)


def _sources(tracer, explicit_positions):
    by_var = {var.id: ("arg", position) for var, position in zip(tracer.inputs, explicit_positions)}
    for read, var in tracer.state_reads:
        by_var[var.id] = ("state", read)
    return [by_var[var.id] for var in tracer.builder.inputs]


def _describe(where):
    if isinstance(where, int):
        return f"argument {where}"
    owner = where.owner
    name = getattr(owner, "name", None)
    return f"{type(owner).__name__}{' ' + repr(name) if name else ''}"


# -- returned structures ---------------------------------------------------------------------
def _is_traced_leaf(leaf):
    return isinstance(leaf, Variable) or hasattr(leaf, "shape")


def _flatten(value):
    """Leaves (Variables, arrays, Python values) and a structure to rebuild from."""
    if isinstance(value, (tuple, list)):
        parts = [_flatten(v) for v in value]
        leaves = [leaf for part_leaves, _ in parts for leaf in part_leaves]
        return leaves, (type(value), [tree for _, tree in parts])
    if isinstance(value, dict):
        keys = list(value)
        parts = [_flatten(value[k]) for k in keys]
        leaves = [leaf for part_leaves, _ in parts for leaf in part_leaves]
        return leaves, (dict, (keys, [tree for _, tree in parts]))
    if _is_traced_leaf(value):
        return [value], ("variable" if isinstance(value, Variable) else "array", None)
    return [value], ("static", value)


def _unflatten(tree, arrays):
    kind, inner = tree
    if kind in (tuple, list):
        return kind(_unflatten(t, arrays) for t in inner)
    if kind is dict:
        keys, trees = inner
        return {k: _unflatten(t, arrays) for k, t in zip(keys, trees)}
    if kind == "variable":  # a Variable already when it joined the tape
        value = next(arrays)
        return value if isinstance(value, Variable) else Variable(value, requires_grad=False)
    if kind == "array":
        value = next(arrays)
        return value._array if isinstance(value, Variable) else value
    return inner


