"""Sub-graphs of control flow: tracing a loop body or a branch, and running it.

A loop body or a branch is a ``CompiledGraph`` held by the op that runs it (``Scan``,
``IfElse``).  It is traced once, from ordinary dualgrad code, on abstract inputs of one
step's shapes; values the code reads from outside (a weight it closes over, a value
computed earlier in the same trace) become extra inputs of the sub-graph, passed to the
op as operands (*captures*), so the sub-graph never bakes in state.

The executor of sub-graphs is a hook: ``run_body(fn, arrays, xp)`` calls the installed
runner, by default the backend of the program running the loop (compiled once per body
under LLVM, the reference interpreter otherwise); ``set_body_runner`` installs another
(it receives the ``CompiledGraph``, hashable, to cache code by).
"""

import numpy

from dualgrad._config import using_config
from dualgrad.core.aval import ShapedArray
from dualgrad.core.variable import Variable
from dualgrad.errors import DualgradError, ShapeError
from dualgrad.ops import random as random_ops

from ..ir import Const, Graph, GraphBuilder, interpret
from ..passes import eliminate_dead_code, optimize
from ..trace import Tracer
from ..vjp import abstract_variable, bake_constants, installed


# -- the executor hook --------------------------------------------------------------------
def interpret_body(fn, arrays, xp):
    """The reference runner: the interpreter on ``fn.graph``."""
    return interpret(fn.graph, arrays, xp)


def backend_body(fn, arrays, xp):
    """The default runner: the backend of the program running the loop (compiled bodies
    under LLVM), the interpreter outside any compiled program."""
    from ..backends.select import run_sub_graph

    return run_sub_graph(fn, arrays, xp)


_RUNNER = [backend_body]


def set_body_runner(runner):
    """Install ``runner(fn, arrays, xp) -> list of arrays`` as the executor of loop bodies
    and branches (``fn`` is a ``CompiledGraph``); returns the previous runner.

    >>> previous = set_body_runner(interpret_body)
    >>> set_body_runner(previous) is interpret_body
    True
    """
    previous, _RUNNER[0] = _RUNNER[0], runner
    return previous


def run_body(fn, arrays, xp=numpy):
    """Every output of the sub-graph ``fn`` on ``arrays``, by the installed runner."""
    return _RUNNER[0](fn, arrays, xp)


# -- tracing ------------------------------------------------------------------------------
class CapturingTracer(Tracer):
    """An abstract tracer for a sub-graph: every value from outside the trace (concrete
    or abstract) becomes a new input, remembered as a capture."""

    def __init__(self):
        super().__init__(abstract=True)

    def _lift(self, read, array, variable):
        if array is None:
            return super()._lift(read, array, variable)  # the uninitialized-Parameter error
        var = self.builder.add_input(_aval(array))
        self._bind(array, var)
        self.state_reads.append((read, var))
        self._state_ids.add(var.id)
        return var


def _aval(array):
    return ShapedArray(tuple(array.shape), numpy.dtype(array.dtype))


def _captured_value(read):
    """The outside value a lifted input stands for (what the op takes as operand)."""
    if read.kind == "grad":
        return read.owner._grad_var
    return read.owner


def as_array_value(value, dtype=None):
    """``value`` as something a sub-graph input can be bound to: Variables stay; numbers
    and array-likes become numpy arrays (never weakly typed)."""
    if isinstance(value, Variable) or (hasattr(value, "shape") and hasattr(value, "dtype")):
        return value
    return numpy.asarray(value, dtype=dtype)


def trace_body(function, avals, what="loop body"):
    """``(graph, captures, several)``: ``function`` (dualgrad code) traced on abstract
    Variables of ``avals`` into an optimised graph whose inputs are those, then one per
    captured outside value (``captures``, in order); ``several`` says whether it returned
    a tuple or list (each entry an output) or one value.

    >>> import numpy as np, dualgrad.functions as F
    >>> from dualgrad.core.aval import aval_of
    >>> w = np.ones(3)
    >>> graph, captures, several = trace_body(lambda x: F.tanh(x) * w, [aval_of(np.zeros(3))])
    >>> len(graph.inputs), captures, several      # a raw array is baked in as a constant
    (1, [], False)
    """
    tracer = CapturingTracer()
    # Backprop on, float inputs wanting gradients, as in dj.function: a symbolic
    # gradient taken inside the body (T.grad of a step's cost) differentiates there.
    with installed(tracer), using_config("enable_backprop", True):
        args = [abstract_variable(tracer, aval, True) for aval in avals]
        result = function(*args)
    several = isinstance(result, (tuple, list))
    results = list(result) if several else [result]
    outputs = [_output_operand(tracer, r, what) for r in results]
    graph = tracer.builder.build(outputs)
    graph, reads = bake_constants(graph, tracer, len(avals), keep_state=True)
    _refuse_fixed_draws(graph, what)
    return optimize(graph), [_captured_value(read) for read in reads], several


def _output_operand(tracer, value, what):
    if isinstance(value, Variable):
        return tracer.operand(value)
    if value is None:
        raise DualgradError(f"the {what} returned None where a value was expected; return "
                            "the step's results (a Variable or a tuple of them)")
    return Const.of(numpy.asarray(value))  # a number: a typed constant, never weak


def _refuse_fixed_draws(graph, what):
    if any(isinstance(eq.op, random_ops._Random) for eq in graph.equations):
        raise DualgradError(
            f"the {what} draws random numbers with the eager stream (dualgrad.ops.random / "
            "F.dropout); a traced draw would repeat the same numbers on every step and call. "
            "Draw in the loop with dj.RandomStreams (symbolic scan), or pass the random "
            "numbers in as a sequence"
        )


# -- graph surgery --------------------------------------------------------------------------
def insert_inputs(graph, position, avals):
    """``graph`` with unused inputs of ``avals`` inserted before its input ``position``
    (so that two branches, each with its own captures, take one operand list)."""
    builder = GraphBuilder()
    before = [builder.add_input(v.aval) for v in graph.inputs[:position]]
    for aval in avals:
        builder.add_input(aval)
    after = [builder.add_input(v.aval) for v in graph.inputs[position:]]
    return builder.build(builder.inline(graph, before + after))


def select_output(graph, index):
    """``graph`` computing only its output ``index`` (dead equations dropped)."""
    return eliminate_dead_code(Graph(graph.inputs, graph.equations, (graph.outputs[index],)))


def check_avals(op_name, avals, expected, what):
    """Each aval equals the expected one (a weak Python number fits any numeric dtype of
    its shape); otherwise a ShapeError naming the operand."""
    if len(avals) != len(expected):
        raise ShapeError(op_name, f"takes {len(expected)} inputs, got {len(avals)}", avals)
    for position, (got, want) in enumerate(zip(avals, expected)):
        if tuple(got.shape) != tuple(want.shape) or (
                got.dtype != want.dtype and not got.weak):
            raise ShapeError(
                op_name, f"{what(position)} is {got.dtype}{list(got.shape)}, but the sub-graph "
                f"was traced for {want.dtype}{list(want.shape)}", avals,
                hint="pass operands of the shapes and dtypes the body was traced for",
            )


__all__ = ["CapturingTracer", "as_array_value", "check_avals", "interpret_body",
           "run_body", "select_output", "set_body_runner", "trace_body", "insert_inputs"]
