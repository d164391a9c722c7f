"""Compiled graphs as layers: one node on the tape, with a derived, differentiable backward.

``CompiledCall(fn, index)`` is an op like any other: output ``index`` of the compiled
graph ``fn`` applied to its inputs.  Its backward applies another ``CompiledCall``, whose
graph is the VJP derived from ``fn`` (``dualgrad_jit.vjp``), so the backward is itself
differentiable, to any order.

``call(fn, inputs)`` is how compiled graphs run under the tape: when some input wants a
gradient it runs the forward graph that also returns the residuals (the forward values
the backward reads) and keeps them with the outputs, so the first backward recomputes
nothing.  ``CompiledFunction`` wraps a symbolic graph as a ``dg.Link``.
"""

import functools
import weakref

import numpy

from dualgrad._config import config, using_config
from dualgrad.backend import get_array_module
from dualgrad.core import tape
from dualgrad.core.aval import ShapedArray, aval_of
from dualgrad.core.op import Op
from dualgrad.core.variable import Variable, make_output
from dualgrad.errors import DTypeError, DualgradError, OpError, ShapeError
from dualgrad.link import Link
from dualgrad.lowering import Composite
from dualgrad.ops.elementwise import cast
from dualgrad.ops.random import _Random

from .ir import Graph, GraphBuilder, Var, interpret
from .passes import eliminate_dead_code, optimize
from .trace import Tracer
from .vjp import CompiledGraph, abstract_variable, bake_constants, derive, installed, replay, vjp_of


class CompiledCall(Op):
    """``y = G(x_1, ..., x_n)[index]`` for the compiled graph ``G`` (``fn``).

    Backward: ``gx_k = V_index(x, gy)_k``, the VJP graph derived from ``G`` by the ops'
    own backward rules, applied as another ``CompiledCall`` (so it is differentiable).
    Inputs must have exactly the shapes and dtypes ``G`` was built for.
    """

    __slots__ = ("fn", "index")
    save = "both"  # the primal inputs feed the VJP; the output finds the residuals

    def __init__(self, fn, index=0):
        fn = fn if isinstance(fn, CompiledGraph) else CompiledGraph(fn)
        if not 0 <= index < len(fn.graph.outputs):
            raise IndexError(f"the graph has {len(fn.graph.outputs)} outputs, not {index + 1}")
        self.fn = fn
        self.index = int(index)

    def infer(self, *avals):
        expected = self.fn.in_avals
        if len(avals) != len(expected):
            raise ShapeError(self.name, f"takes {len(expected)} inputs, got {len(avals)}", avals,
                             hint="pass one array or Variable per input of the compiled graph")
        for position, (got, want) in enumerate(zip(avals, expected)):
            _check_input(self.name, position, got, want, avals)
        out = self.fn.out_avals[self.index]
        return ShapedArray(out.shape, out.dtype)

    def forward(self, xp, *arrays):
        return run_graph(self.fn, arrays, xp, self.name)[self.index]

    def backward(self, gy, inputs, y, need):
        need = tuple(bool(n) for n in need)
        grads = [None] * len(inputs)
        vjp = vjp_of(self.fn, self.index, need)
        if not vjp.positions:
            return tuple(grads)
        aval = self.fn.out_avals[self.index]
        if gy.dtype != aval.dtype:  # a starting gradient may come in another dtype
            gy = cast(gy, aval.dtype)
        operands = tuple(inputs) + (gy,)
        saved = _take_saved(y, need)
        if saved is None:
            outs = call(vjp.fn, operands)
        else:
            derivation, residuals = saved
            arrays, xp = _unwrap(vjp.fn, operands, self.name)
            values = interpret(derivation.backward[self.index], arrays + list(residuals), xp)
            outs = connect(vjp.fn, operands, values, None)
        for position, gx in zip(vjp.positions, outs):
            grads[position] = gx
        return tuple(grads)

    def lower(self, *avals):
        return Composite(functools.partial(inline, self.fn, self.index))


def _check_input(name, position, got, want, avals):
    if tuple(got.shape) != tuple(want.shape):
        raise ShapeError(
            name, f"input {position} has shape {tuple(got.shape)}, but the graph was "
            f"compiled for {tuple(want.shape)}", avals,
            hint="pass arrays of the shapes the graph was built for (reshape first), or "
            "build it for these shapes",
        )
    if got.dtype != want.dtype and not (got.weak and got.dtype.kind in "biuf"):
        raise DTypeError(
            name, f"input {position} is {got.dtype}, but the graph was compiled for "
            f"{want.dtype}", avals, hint=f"cast it first, e.g. x.astype('{want.dtype}')",
        )


# -- running ---------------------------------------------------------------------------------
def _unwrap(fn, inputs, name="CompiledCall"):
    """The arrays of ``inputs`` (checked against ``fn``'s inputs) and their array module.

    Python scalars and lists take the dtype of the input they are passed for."""
    avals = fn.in_avals
    if len(inputs) != len(avals):
        raise ShapeError(name, f"takes {len(avals)} inputs, got {len(inputs)}",
                         [aval_of(x) for x in inputs],
                         hint="pass one array or Variable per input of the compiled graph")
    arrays = []
    for x, aval in zip(inputs, avals):
        array = x._array if isinstance(x, Variable) else x
        if array is None:
            raise OpError(name, f"input {getattr(x, 'name', None)!r} is an uninitialized "
                          "Parameter", hint="initialize it (param.initialize(shape)) first")
        if not hasattr(array, "shape"):
            array = numpy.asarray(array, dtype=aval.dtype)
        arrays.append(array)
    if any(tuple(a.shape) != v.shape or a.dtype != v.dtype for a, v in zip(arrays, avals)):
        got = [aval_of(a) for a in arrays]
        for position, (a, v) in enumerate(zip(got, avals)):
            _check_input(name, position, a, v, got)
    return arrays, get_array_module(*arrays)


def run_graph(fn, arrays, xp=None, name="CompiledCall"):
    """Every output of ``fn``'s graph on ``arrays`` (the reference interpreter)."""
    arrays, module = _unwrap(fn, arrays, name)
    return interpret(fn.graph, arrays, xp or module)


def need_of(inputs):
    """Which of ``inputs`` want a gradient (none while backprop is off)."""
    if not config.enable_backprop:
        return (False,) * len(inputs)
    return tuple(isinstance(x, Variable) and x.requires_grad for x in inputs)


def _derivation(fn, need):
    """The derivation for ``need``, or None when it cannot be made (a missing backward
    rule is then reported by the backward that needs it, not by the forward)."""
    try:
        return derive(fn, need)
    except (DualgradError, NotImplementedError):
        return None


def run_forward(fn, arrays, need, xp):
    """``(outputs, saved)``: every output of ``fn`` on ``arrays``; when some input wants a
    gradient, ``saved = (need, derivation, residuals)`` from the same run."""
    derivation = _derivation(fn, need) if any(need) else None
    if derivation is None:
        return interpret(fn.graph, arrays, xp), None
    values = interpret(derivation.forward, arrays, xp)
    n = len(fn.graph.outputs)
    return values[:n], (need, derivation, tuple(values[n:]))


def connect(fn, inputs, outputs, saved, indices=None):
    """Variables for ``outputs`` (those at ``indices``, default all) of ``fn`` applied to
    ``inputs``: a ``CompiledCall`` node each where a gradient can flow, else plain."""
    need = saved[0] if saved is not None else need_of(inputs)
    derivation = saved[1] if saved is not None else None
    results = []
    for i in range(len(outputs)) if indices is None else indices:
        y = outputs[i]
        flows = any(need) and i in fn.differentiable and (
            derivation is None or bool(derivation.vjps[i].positions))
        if not flows:
            results.append(make_output(y, None, False))
            continue
        out = tape.record(CompiledCall(fn, i), inputs, y)
        if saved is not None and out.creator is not None:
            _keep_saved(y, need, derivation, saved[2])
        results.append(out)
    return results


def call(fn, inputs):
    """``fn`` (a CompiledGraph or Graph) applied to ``inputs``: one Variable per output.

    Under backprop each output is one ``CompiledCall`` node on the tape (the outputs
    share one forward run); while tracing, the calls are recorded as equations.

    >>> import numpy as np, dualgrad as dg, dualgrad.functions as F
    >>> from dualgrad.core.aval import aval_of
    >>> from dualgrad_jit.vjp import trace_graph
    >>> fn = CompiledGraph(trace_graph(lambda x: F.sum(x * x), aval_of(np.zeros(3))))
    >>> x = dg.Variable(np.array([1.0, 2.0, 3.0]))
    >>> y, = call(fn, [x])
    >>> y.backward()
    >>> y.creator.label, x.grad
    ('CompiledCall', array([2., 4., 6.]))
    """
    fn = fn if isinstance(fn, CompiledGraph) else CompiledGraph(fn)
    inputs = tuple(inputs)
    if tape.TRACER is not None or config.debug:
        return tuple(tape.apply(CompiledCall(fn, i), inputs)
                     for i in range(len(fn.graph.outputs)))
    arrays, xp = _unwrap(fn, inputs)
    outputs, saved = run_forward(fn, arrays, need_of(inputs), xp)
    return tuple(connect(fn, inputs, outputs, saved))


def inline(fn, index, *inputs):
    """Output ``index`` of ``fn`` computed op by op (what a ``CompiledCall`` stands for)."""
    outputs = replay(tape.TRACER, fn.graph, inputs)
    value = outputs[index]
    if value is None:
        const = fn.graph.outputs[index]
        return Variable(numpy.asarray(const.value, const.aval.dtype), requires_grad=False)
    return value


# -- residuals, kept with the outputs --------------------------------------------------------
# id(output array) -> (weak reference to it, need, derivation, residuals).  An entry lives
# as long as the output array (the node's saved output) and is taken by the first
# backward; a later backward through a retained graph recomputes from the inputs.
_SAVED = {}


def _keep_saved(y, need, derivation, residuals):
    key = id(y)

    def forget(ref, key=key, saved=_SAVED):  # bound now: globals are gone at exit
        if saved is None:  # interpreter shutdown
            return
        entry = saved.get(key)
        if entry is not None and entry[0] is ref:
            del saved[key]

    try:
        ref = weakref.ref(y, forget)
    except TypeError:  # an array type without weak references: no residuals then
        return
    _SAVED[key] = (ref, need, derivation, residuals)


def _take_saved(y, need):
    array = getattr(y, "_array", None)
    entry = _SAVED.get(id(array))
    if entry is None or entry[0]() is not array or entry[1] != need:
        return None
    del _SAVED[id(array)]
    return entry[2], entry[3]


# -- the layer -------------------------------------------------------------------------------
class CompiledFunction(Link):
    """A symbolic graph as a layer: the analogue of Chainer's ``L.TheanoFunction``.

    ``inputs`` and ``outputs`` are symbolic variables (``dualgrad_jit.tensor``); inputs
    may be intermediate variables, where the graph is then cut.  Called with Variables,
    arrays or Parameters, it returns one Variable (one output) or a tuple of them; each
    output is one node on the tape whose backward is a VJP graph derived from the
    symbolic one (differentiable again) that reuses what the forward computed.  The graph
    is built and cached per input shapes; shared variables it reads are read on every
    call.  It holds no parameters.

    >>> import numpy as np, dualgrad as dg, dualgrad_jit.tensor as T
    >>> x, w = T.dmatrix('x'), T.dvector('w')
    >>> f = CompiledFunction(inputs=[x, w], outputs=[T.tanh(x * w).sum()])
    >>> W = dg.Parameter(np.ones(3))
    >>> y = f(np.zeros((2, 3)), W)
    >>> y.backward()
    >>> W.grad
    array([0., 0., 0.])
    """

    def __init__(self, inputs, outputs):
        super().__init__()
        self.inputs = list(inputs)
        self.outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if not self.outputs:
            raise ValueError("CompiledFunction needs at least one output")
        self._compiled = {}  # input avals -> (CompiledGraph, the state reads it takes last)

    def forward(self, *args):
        if len(args) != len(self.inputs):
            raise TypeError(f"this CompiledFunction takes {len(self.inputs)} inputs, "
                            f"got {len(args)}")
        args = [_argument(x, v, position) for position, (x, v) in
                enumerate(zip(args, self.inputs))]
        fn, state = self._lookup(tuple(aval_of(x) for x in args))
        results = call(fn, args + [read.read() for read in state])
        return results[0] if len(results) == 1 else results

    def _lookup(self, avals):
        found = self._compiled.get(avals)
        if found is not None:
            fn, state = found
            now = tuple(aval_of(read.read()) for read in state)
            if now == fn.in_avals[len(avals):]:
                return found
        graph, state = symbolic_graph(self.inputs, self.outputs, avals)
        found = self._compiled[avals] = (CompiledGraph(graph), state)
        return found

    def graph(self, *args):
        """The graph this function runs for arguments like ``args`` (for inspection)."""
        args = [_argument(x, v, i) for i, (x, v) in enumerate(zip(args, self.inputs))]
        return self._lookup(tuple(aval_of(x) for x in args))[0].graph


def symbolic_graph(inputs, outputs, avals):
    """The optimised graph of symbolic ``outputs`` for ``inputs`` of ``avals``, and the
    state reads (shared variables) it takes as its last inputs."""
    from .tensor.evaluate import Evaluator

    tracer = Tracer(abstract=True)
    # Backprop on and float inputs wanting gradients, as in dj.function: a recipe may
    # hold symbolic gradients (dj.grad), which differentiate inside this trace.
    with installed(tracer), using_config("enable_backprop", True):
        args = [abstract_variable(tracer, aval, True) for aval in avals]
        values = Evaluator(dict(zip(inputs, args))).values(outputs)
    graph = tracer.builder.build([tracer.operand(v) for v in values])
    graph, state = bake_constants(graph, tracer, len(avals), keep_state=True)
    return optimize(graph), state


def _argument(x, symbolic, position):
    """``x`` ready to be an input of type ``symbolic.type``: Variables and arrays of the
    type as they are; lists, ranges and numbers converted by Theano's rules."""
    ttype = symbolic.type
    name = f"input {position}" + (f" {symbolic.name!r}" if symbolic.name else "")
    array = x._array if isinstance(x, Variable) else x
    if array is None:
        raise OpError("CompiledFunction", f"{name} is an uninitialized Parameter",
                      hint="initialize it (param.initialize(shape)) first")
    if isinstance(x, Variable) or (hasattr(array, "dtype") and array.dtype == ttype.dtype):
        if ttype.dtype is not None and array.dtype != ttype.dtype:
            raise DTypeError("CompiledFunction", f"{name} is {ttype}, got a Variable of "
                             f"dtype {array.dtype}", [aval_of(array)],
                             hint=f"cast it first: F.cast(x, '{ttype.dtype}')")
        ttype.check_shape(array.shape, name)
        return x
    return ttype.filter(x, name=name)


# -- replays of traced functions ----------------------------------------------------------------
class TapedGraph:
    """A ``dj.jit`` variant's (or a ``dj.function``'s) graph replayed onto the tape: of
    its first ``n_results`` outputs (the returned values), those at ``on_tape`` become
    ``CompiledCall`` nodes; the others, and the other outputs (state writes, guards),
    stay plain.

    Random draws are made first and passed in as data, so the compiled graph, and the
    backward derived from it, are the same on every call whatever the draws."""

    def __init__(self, graph, n_results, on_tape):
        randoms = tuple(eq for eq in graph.equations if isinstance(eq.op, _Random))
        kept = tuple(eq for eq in graph.equations if not isinstance(eq.op, _Random))
        hoisted = Graph(graph.inputs + tuple(eq.out for eq in randoms), kept, graph.outputs)
        floats = [i for i in on_tape if graph.outputs[i].aval.dtype.kind in "fc"]
        self.fn = CompiledGraph(hoisted, floats)
        self.n_results = n_results

    def run(self, graph, operands, arrays, on_value=None, fresh=None):
        """Run this call's ``graph`` (its draws renumbered) on ``arrays``; ``operands``
        are the same inputs as the tape sees them (Variables where a gradient is wanted);
        ``on_value(equation, array)`` (modes) watches ``graph``'s own equations;
        ``fresh(outputs)`` may replace output arrays (by copies the caller owns) before
        they become Variables.

        Returns ``(outputs, results)``: every output as an array, and a function making
        the returned values' Variables (call it once the guards held)."""
        xp = get_array_module(*arrays)
        draws = [eq.op.forward(xp) for eq in graph.equations if isinstance(eq.op, _Random)]
        operands = list(operands) + draws
        if on_value is None:
            outputs, saved = run_forward(self.fn, list(arrays) + draws, need_of(operands), xp)
        else:  # a mode watches ``graph`` node by node: run it as it is, keep no residuals
            outputs, saved = interpret(graph, arrays, xp, on_value), None
        if fresh is not None:
            outputs = fresh(outputs)
        return outputs, functools.partial(connect, self.fn, operands, outputs, saved,
                                          range(self.n_results))


# -- graphs calling graphs -------------------------------------------------------------------
def inline_calls(graph):
    """``graph`` with every ``CompiledCall`` equation replaced by the equations of the
    graph it calls (recursively), so passes see one flat graph: a backward's recomputed
    forward is then merged with the forward by CSE.  A pure rewrite: same function.
    """
    if not any(isinstance(eq.op, CompiledCall) for eq in graph.equations):
        return graph
    builder = GraphBuilder()
    env = {v.id: builder.add_input(v.aval) for v in graph.inputs}
    for eq in graph.equations:
        operands = tuple(env[x.id] if isinstance(x, Var) else x for x in eq.inputs)
        op = eq.op
        if isinstance(op, CompiledCall) and all(
                o.aval == v.aval for o, v in zip(operands, op.fn.graph.inputs)):
            env[eq.out.id] = builder.inline(inline_calls(op.fn.graph), operands)[op.index]
        else:
            env[eq.out.id] = builder.emit(op, operands, eq.out.aval)
    outputs = [env[v.id] if isinstance(v, Var) else v for v in graph.outputs]
    return eliminate_dead_code(builder.build(outputs))


__all__ = ["CompiledCall", "CompiledFunction", "CompiledGraph", "TapedGraph", "call",
           "connect", "inline_calls", "need_of", "run_forward", "run_graph"]
