"""The backward of a frozen graph, derived symbolically and split from its forward.

A graph ``y = G(x)`` is differentiated by replaying its equations under an abstract
tracer on Variables that want gradients and calling ``dualgrad.grad`` there: every
op's own ``backward`` rule is recorded as graph equations.  For output ``i`` and the
inputs that want a gradient (``need``) this gives the VJP graph

    V_i(x, gy_i) = ( gy_i . dy_i/dx_k  for every k with need[k] )

a function of the primal inputs and the output gradient only, so it is differentiated
again the same way (double backprop, to any order).

Running ``V_i`` after ``G`` would compute ``G``'s intermediates twice.  So the joint
graph of ``G`` and every ``V_i`` is optimised once and split where the output
gradients enter:

    forward    F(x)             = (y_1 .. y_m, r_1 .. r_R)
    backward   B_i(x, gy_i, r)  = V_i(x, gy_i)      when r = the residuals of F(x)

Every equation that does not depend on an output gradient is forward; the residuals
``r`` are the forward values a backward equation reads (what a tape saves).  ``B_i``
recomputes nothing.  The residuals are an optimisation valid for the very arrays the
forward ran on; the math of the backward stays ``V_i``, which is what gets
differentiated at the next order.
"""

import contextlib
import dataclasses
import functools
import hashlib

import numpy

from dualgrad._config import using_config
from dualgrad.core import tape
from dualgrad.core.abstract import AbstractArray
from dualgrad.core.backprop import grad as _grad
from dualgrad.core.variable import make_output
from dualgrad.errors import DualgradError

from .ir import Const, Graph, Var, print_graph, verify
from .passes import eliminate_dead_code, optimize
from .trace import Tracer

DERIVATION_CACHE = 256  # derived (graph, need) pairs kept


class CompiledGraph:
    """An immutable graph made callable as one op: equal and hashed by its canonical text.

    ``differentiable`` lists the outputs that get gradients (default: the floating-point
    ones); the others are auxiliary results (guards, state writes) that never do.

    >>> import numpy as np
    >>> from dualgrad.ops.elementwise import Exp
    >>> from dualgrad_jit.ir import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(np.zeros(3))
    >>> fn = CompiledGraph(b.build([b.apply(Exp(), (x,))]))
    >>> fn == CompiledGraph(fn.graph), fn.differentiable
    (True, (0,))
    """

    __slots__ = ("graph", "differentiable", "text", "digest")

    def __init__(self, graph, differentiable=None):
        for position, var in enumerate(graph.inputs):
            if var.aval.weak:
                raise DualgradError(
                    f"graph input {position} is a weakly typed scalar; a compiled graph takes "
                    "arrays (build the input from an array aval, e.g. a 0-d array)"
                )
        floats = tuple(i for i, v in enumerate(graph.outputs) if v.aval.dtype.kind in "fc")
        chosen = floats if differentiable is None else tuple(sorted(set(differentiable)))
        if not set(chosen) <= set(floats):
            raise DualgradError(f"outputs {sorted(set(chosen) - set(floats))} cannot be "
                                "differentiable: they are not floating point")
        text = print_graph(graph)
        digest = hashlib.sha256(f"{text}|{chosen}".encode()).hexdigest()[:8]
        for name, value in (("graph", graph), ("differentiable", chosen), ("text", text),
                            ("digest", digest)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("CompiledGraph is immutable; build a new one")

    def __eq__(self, other):
        return (isinstance(other, CompiledGraph) and self.differentiable == other.differentiable
                and self.text == other.text)

    def __hash__(self):
        return hash((self.text, self.differentiable))

    def __repr__(self):
        return f"graph#{self.digest}"

    @property
    def in_avals(self):
        return self.graph.in_avals

    @property
    def out_avals(self):
        return self.graph.out_avals


@dataclasses.dataclass(frozen=True)
class VJP:
    """``fn`` computes the gradients of one output for the inputs at ``positions``
    (those that want one and get one); its inputs are the primal inputs, then gy."""

    fn: CompiledGraph
    positions: tuple


@dataclasses.dataclass(frozen=True)
class Derivation:
    """Everything derived from one graph for one ``need``: the per-output VJPs, the
    forward graph returning the residuals after the outputs, and the per-output
    backward graphs taking ``(x..., gy, residuals...)``."""

    vjps: dict  # output index -> VJP
    forward: Graph
    backward: dict  # output index -> Graph
    n_residuals: int


# -- tracing eager code into graphs -----------------------------------------------------------
@contextlib.contextmanager
def installed(tracer):
    """Route every op to ``tracer`` for the duration of the block."""
    previous = tape.set_tracer(tracer)
    try:
        with using_config("debug", 0):  # debug checks would read abstract values
            yield tracer
    finally:
        tape.set_tracer(previous)


def abstract_variable(tracer, aval, requires_grad):
    """A Variable holding an abstract array, bound to a new input of ``tracer``."""
    array = AbstractArray(aval.shape, aval.dtype)
    tracer.add_input(array)
    return make_output(array, None, bool(requires_grad) and aval.dtype.kind in "fc")


def trace_graph(function, *avals):
    """The graph of ``function`` (written with dualgrad ops) on inputs of ``avals``.

    Several results (a tuple or list) become several outputs.

    >>> import numpy as np, dualgrad.functions as F
    >>> from dualgrad.core.aval import ShapedArray
    >>> g = trace_graph(lambda x: F.tanh(x) * 2.0, ShapedArray((3,), np.dtype('float32')))
    >>> print(g)
    { lambda %0:f32[3] ;
      %1:f32[3] = Tanh %0
      %2:f32[3] = Mul %1 2.0
     } -> (%2)
    """
    tracer = Tracer(abstract=True)
    with installed(tracer), using_config("enable_backprop", False):
        args = [abstract_variable(tracer, aval, False) for aval in avals]
        result = function(*args)
    results = result if isinstance(result, (tuple, list)) else (result,)
    graph = tracer.builder.build([tracer.operand(r) for r in results])
    return bake_constants(graph, tracer, len(avals))


def bake_constants(graph, tracer, n_inputs, keep_state=False):
    """``graph`` with the arrays the traced code captured turned into constants.

    Only the first ``n_inputs`` inputs are real; any later one was lifted by the tracer:
    an array created by the code is a constant here.  A captured Variable is state: with
    ``keep_state`` it stays an input (after the real ones) and ``(graph, state reads)``
    is returned; otherwise it is an error that says to pass it as an input.
    """
    constants, kept = {}, []
    for read, var in tracer.state_reads:
        if read.kind == "raw":
            constants[var.id] = Const.of(read.owner)
        elif keep_state:
            kept.append((read, var))
        else:
            name = getattr(read.owner, "name", None)
            raise DualgradError(
                f"the traced code read {type(read.owner).__name__}"
                f"{' ' + repr(name) if name else ''}, which is not one of its inputs; a "
                "compiled graph cannot capture state: pass it as an input"
            )
    inputs = graph.inputs[:n_inputs] + tuple(var for _, var in kept)
    baked = substitute(Graph(inputs, graph.equations, graph.outputs), constants)
    return (baked, [read for read, _ in kept]) if keep_state else baked


def substitute(graph, values):
    """``graph`` with the Vars whose ids are keys of ``values`` replaced by those values."""
    equations = []
    for eq in graph.equations:
        operands = tuple(values.get(x.id, x) if isinstance(x, Var) else x for x in eq.inputs)
        equations.append(eq if operands == eq.inputs else type(eq)(eq.op, operands, eq.out))
    outputs = tuple(values.get(v.id, v) if isinstance(v, Var) else v for v in graph.outputs)
    return Graph(graph.inputs, tuple(equations), outputs)


def replay(tracer, graph, args):
    """Apply ``graph``'s equations to ``args`` (Variables) through ``tape.apply``.

    Returns one Variable per output (None for a constant output).  Under a tracer, array
    constants are bound to it first, so ops and backward rules see them as constants,
    not as captured state."""
    env = {var.id: arg for var, arg in zip(graph.inputs, args)}
    for eq in graph.equations:
        operands = []
        for x in eq.inputs:
            if isinstance(x, Var):
                operands.append(env[x.id])
            else:
                if tracer is not None and isinstance(x.value, numpy.ndarray):
                    tracer._bind(x.value, x)
                operands.append(x.value)
        env[eq.out.id] = tape.apply(eq.op, operands)
    return [env[v.id] if isinstance(v, Var) else None for v in graph.outputs]


# -- deriving ------------------------------------------------------------------------------------
def _trace_joint(fn, need):
    """The joint graph: inputs ``(x..., gy_i for i in differentiable)``, outputs
    ``(y_1..y_m, grads of output i for i in differentiable...)``; and, per
    differentiable output, the input positions its gradients are for."""
    graph = fn.graph
    tracer = Tracer(abstract=True)
    with installed(tracer), using_config("enable_backprop", True):
        xs = [abstract_variable(tracer, v.aval, n) for v, n in zip(graph.inputs, need)]
        gys = [abstract_variable(tracer, graph.outputs[i].aval, False) for i in fn.differentiable]
        ys = replay(tracer, graph, xs)
        wanted = [k for k, x in enumerate(xs) if x.requires_grad]
        outputs = [v if y is None else tracer.operand(y) for v, y in zip(graph.outputs, ys)]
        positions = []
        for i, gy in zip(fn.differentiable, gys):
            grads = _grad([ys[i]], [xs[k] for k in wanted], [gy], retain_graph=True) \
                if ys[i] is not None and wanted else []
            found = [(k, g) for k, g in zip(wanted, grads) if g is not None]
            positions.append(tuple(k for k, _ in found))
            outputs.extend(tracer.operand(g) for _, g in found)
    joint = tracer.builder.build(outputs)
    return bake_constants(joint, tracer, len(xs) + len(gys)), positions


@functools.lru_cache(maxsize=DERIVATION_CACHE)
def derive(fn, need):
    """The ``Derivation`` of ``fn`` for the inputs flagged in ``need`` (cached).

    >>> import numpy as np, dualgrad.functions as F
    >>> from dualgrad.core.aval import ShapedArray
    >>> f64 = ShapedArray((3,), np.dtype('float64'))
    >>> fn = CompiledGraph(trace_graph(lambda x: F.sum(F.exp(x)), f64))
    >>> d = derive(fn, (True,))
    >>> d.n_residuals, d.vjps[0].positions      # exp(x) is kept, not recomputed
    (1, (0,))
    """
    need = tuple(bool(n) for n in need)
    joint, positions = _trace_joint(fn, need)
    joint = optimize(joint)
    n_x, n_out = len(fn.graph.inputs), len(fn.graph.outputs)
    gy_inputs = joint.inputs[n_x:]
    forward_eqs, backward_eqs = _partition(joint, gy_inputs)
    grads_of, start = {}, n_out
    for i, found in zip(fn.differentiable, positions):
        grads_of[i] = joint.outputs[start:start + len(found)]
        start += len(found)
    residuals = _residuals(forward_eqs, backward_eqs, grads_of)
    x_inputs = joint.inputs[:n_x]
    forward = eliminate_dead_code(
        Graph(x_inputs, forward_eqs, joint.outputs[:n_out] + residuals))
    vjps, backward = {}, {}
    for (i, found), gy in zip(zip(fn.differentiable, positions), gy_inputs):
        outs = grads_of[i]
        backward[i] = verify(eliminate_dead_code(
            Graph(x_inputs + (gy,) + residuals, backward_eqs, outs)))
        pure = verify(eliminate_dead_code(Graph(x_inputs + (gy,), joint.equations, outs)))
        vjps[i] = VJP(CompiledGraph(pure), found)
    return Derivation(vjps, forward, backward, len(residuals))


def _partition(graph, gy_inputs):
    """Equations that read no output gradient (forward) and those that do (backward)."""
    tainted = {v.id for v in gy_inputs}
    forward, backward = [], []
    for eq in graph.equations:
        if any(isinstance(x, Var) and x.id in tainted for x in eq.inputs):
            tainted.add(eq.out.id)
            backward.append(eq)
        else:
            forward.append(eq)
    return tuple(forward), tuple(backward)


def _residuals(forward_eqs, backward_eqs, grads_of):
    """Forward values the backward reads (or returns), in forward order."""
    read = set()
    for eq in backward_eqs:
        read.update(x.id for x in eq.inputs if isinstance(x, Var))
    for outs in grads_of.values():
        read.update(v.id for v in outs if isinstance(v, Var))
    return tuple(eq.out for eq in forward_eqs if eq.out.id in read)


def vjp_of(fn, index, need):
    """The ``VJP`` of output ``index`` of ``fn`` for the inputs flagged in ``need``."""
    return derive(fn, tuple(bool(n) for n in need)).vjps[index]


__all__ = ["CompiledGraph", "Derivation", "VJP", "derive", "installed", "replay",
           "trace_graph", "vjp_of"]
