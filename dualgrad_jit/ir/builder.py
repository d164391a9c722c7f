"""``GraphBuilder``: the one mutable helper of the IR, used to make graphs.

Front ends (the tracer, the symbolic ``T`` variables) and passes alike build graphs
the same way::

    b = GraphBuilder()
    x = b.add_input(ShapedArray((32, 784), numpy.dtype('float32')))
    w = b.add_input(ShapedArray((100, 784), numpy.dtype('float32')))
    h = b.apply(MatMul(transb=True), (x, w))      # runs MatMul.infer: (32, 100)
    y = b.apply(Tanh(), (h,))
    graph = b.build([y])

``apply`` runs the op's ``infer`` on the operands' avals, so shape and dtype errors
surface while building, with the same ``ShapeError``/``DTypeError`` eager mode gives.
Operands may be Vars of this builder, Consts, or raw values (Python scalars, numpy
arrays), which become Consts.  Equations are kept in the order they were applied,
which is a topological order (an operand exists before it is used), so ``build`` is
deterministic: the same calls give the same graph text.
"""

import itertools

from dualgrad.core.aval import ShapedArray, aval_of

from .graph import Const, Equation, Graph, Var
from .printer import format_aval
from .verify import IRError

# Var ids are unique in the process, so a Var from another builder is caught at once.
_IDS = itertools.count()


class GraphBuilder:
    """Collects inputs and equations; ``build(outputs)`` freezes them into a Graph."""

    def __init__(self):
        self._inputs = []
        self._equations = []
        self._defined = {}  # var id -> Var, for every Var this builder made
        self._producers = {}  # var id -> the Equation defining it

    # -- making values ----------------------------------------------------------------
    def add_input(self, aval):
        """A new graph input of ``aval`` (a ShapedArray, or anything with shape/dtype)."""
        aval = aval if isinstance(aval, ShapedArray) else aval_of(aval)
        var = self._new_var(aval)
        self._inputs.append(var)
        return var

    def const(self, value):
        """A constant operand: Python scalars stay weakly typed, arrays are copied."""
        return Const.of(value)

    def apply(self, op, inputs):
        """Append ``op(*inputs)`` and return its output Var.

        ``op.infer`` types the output; its ShapeError/DTypeError propagate unchanged.
        """
        operands = tuple(self.operand(x) for x in inputs)
        aval = op.infer(*(x.aval for x in operands))
        return self._append(op, operands, aval)

    def emit(self, op, inputs, aval):
        """Append ``op(*inputs)`` typed ``aval`` without re-running ``infer``.

        For passes copying an equation whose type is already known; everything else
        should call ``apply``.
        """
        return self._append(op, tuple(self.operand(x) for x in inputs), aval)

    def operand(self, value):
        """``value`` as an operand: this builder's Var, or a Const."""
        if isinstance(value, Var):
            if self._defined.get(value.id) != value:
                raise IRError(
                    f"{value!r} was not made by this builder",
                    hint="use Vars returned by this builder's add_input/apply; values from "
                    "another graph must come in as inputs (add_input) or constants",
                )
            return value
        return Const.of(value)

    def inline(self, graph, inputs):
        """Append ``graph``'s equations with its inputs bound to ``inputs`` (operands
        typed exactly like the graph's inputs); return the values of its outputs.

        How one graph calls another: a saved forward inside a backward graph, a
        compiled function used inside a traced one.
        """
        if len(inputs) != len(graph.inputs):
            raise IRError(f"the inlined graph takes {len(graph.inputs)} inputs, got {len(inputs)}")
        env = {}
        for position, (var, value) in enumerate(zip(graph.inputs, inputs)):
            operand = self.operand(value)
            if operand.aval != var.aval:
                raise IRError(
                    f"input {position} of the inlined graph is {format_aval(var.aval)}, "
                    f"got {format_aval(operand.aval)}",
                    hint="cast or reshape the operand first (Cast, Reshape ops)",
                )
            env[var.id] = operand
        for eq in graph.equations:
            operands = tuple(env[x.id] if isinstance(x, Var) else x for x in eq.inputs)
            env[eq.out.id] = self._append(eq.op, operands, eq.out.aval)
        return tuple(env[v.id] if isinstance(v, Var) else v for v in graph.outputs)

    # -- looking at what was built ----------------------------------------------------
    def producer(self, value):
        """The Equation defining ``value``, or None (an input or a Const)."""
        if isinstance(value, Var):
            return self._producers.get(value.id)
        return None

    @property
    def inputs(self):
        return tuple(self._inputs)

    @property
    def equations(self):
        return tuple(self._equations)

    def build(self, outputs):
        """The Graph computing ``outputs`` (Vars of this builder, Consts or raw values).

        Every equation applied so far is kept, in application order; dead ones are
        removed by the ``eliminate_dead_code`` pass.
        """
        outs = tuple(self.operand(v) for v in outputs)
        return Graph(tuple(self._inputs), tuple(self._equations), outs)

    # -- internals --------------------------------------------------------------------
    def _new_var(self, aval):
        var = Var(next(_IDS), aval)
        self._defined[var.id] = var
        return var

    def _append(self, op, operands, aval):
        out = self._new_var(aval)
        eq = Equation(op, operands, out)
        self._equations.append(eq)
        self._producers[out.id] = eq
        return out
