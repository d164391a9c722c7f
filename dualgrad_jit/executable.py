"""``Executable``: one compiled variant of a traced function, and how it replays.

It holds the optimised graph, where each graph input comes from (an argument or a piece
of state read again on every call), what the outputs are (the returned values, the state
writes, the parameters' new gradients and the guarded values), and the random draws to
re-number so a replay draws exactly what an eager call would.
"""

import numpy

from dualgrad.core import state as state_module
from dualgrad.core.variable import Variable
from dualgrad.ops import random as random_ops

from .ir import Graph, interpret
from .passes import optimize


class Executable:
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
                   rng=None):
        _check_backend(backend)
        leaves, tree = _flatten(result)
        outputs = [tracer.operand(leaf) for leaf in leaves if _is_traced_leaf(leaf)]
        writes = list(tracer.writes.values())
        grads = tracer.gradient_writes()
        outputs += [operand for _, operand in writes]
        outputs += [operand for _, operand in grads if operand is not None]
        outputs += [guard.value for guard in tracer.guards]
        graph = optimize(tracer.builder.build(outputs))
        sources = _sources(tracer, explicit_positions)
        return cls(graph, sources, tree, sum(map(_is_traced_leaf, leaves)),
                   [target for target, _ in writes],
                   [(param, operand is not None) for param, operand in grads],
                   list(tracer.guards), rng, name)

    # -- running ----------------------------------------------------------------------
    def run(self, args):
        """``(True, result, None)``, or ``(False, None, why)`` when a guard failed (then
        nothing was written back and the random stream is where it was)."""
        inputs, why = self._gather(args)
        if why is not None:
            return False, None, why
        saved_rng = random_ops.get_state()
        graph = self._renumber_random_draws()
        outputs = interpret(graph, inputs)
        position = len(outputs) - len(self.guards)
        for guard, array in zip(self.guards, outputs[position:]):
            if not guard.holds(array):
                random_ops.set_state(saved_rng)
                return False, None, "guard " + guard.describe(array)
        self._write_back(outputs)
        return True, _unflatten(self.tree, iter(outputs[: self.n_results])), None

    def _gather(self, args):
        inputs = []
        for var, (kind, where) in zip(self.graph.inputs, self.sources):
            array = args[where] if kind == "arg" else where.read()
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

    def _renumber_random_draws(self):
        if self.rng is None:
            return self.graph
        start, drawn = self.rng
        key, base = random_ops.get_state()
        equations = tuple(
            eq if not _is_random(eq.op) else type(eq)(
                eq.op.replace(key=key, counter=(eq.op.counter - start + base) & random_ops.MASK64),
                eq.inputs, eq.out)
            for eq in self.graph.equations
        )
        random_ops.set_state((key, (base + drawn) & random_ops.MASK64))
        return Graph(self.graph.inputs, equations, self.graph.outputs)

    def _write_back(self, outputs):
        position = self.n_results
        for target in self.writes:
            state_module.write(target, outputs[position])
            position += 1
        for param, has_gradient in self.grads:
            if has_gradient:
                param._grad_var = Variable(outputs[position], requires_grad=False)
                position += 1
            else:
                param._grad_var = None

    def __str__(self):
        return f"{self.name}: {self.graph}"


def _check_backend(backend):
    if backend not in ("auto", "numpy"):
        from .errors import CompileError

        raise CompileError(
            f"backend {backend!r} is not available yet; use backend='numpy' (the reference "
            "interpreter) or 'auto'"
        )


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
    if kind == "variable":
        return Variable(next(arrays), requires_grad=False)
    if kind == "array":
        return next(arrays)
    return inner


