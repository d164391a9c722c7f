"""The reference interpreter: run a graph equation by equation with ``op.forward``.

It is the ``numpy`` backend and the oracle every other backend (and every pass) is
checked against: it runs exactly the code eager mode runs, op by op.
"""

import numpy

from dualgrad.core.aval import ShapedArray

from .graph import Const
from .printer import format_aval, print_graph
from .verify import IRError


def _read(env, value, xp):
    if isinstance(value, Const):
        v = value.value
        return xp.asarray(v) if isinstance(v, numpy.ndarray) and xp is not numpy else v
    return env[value.id]


def _bind_input(position, var, array):
    """Check an argument against the input's aval (Python scalars fit weak inputs)."""
    aval = var.aval
    if aval.weak and not hasattr(array, "shape"):
        return array
    shape, dtype = tuple(getattr(array, "shape", ())), getattr(array, "dtype", None)
    if shape != aval.shape or dtype != aval.dtype:
        got = format_aval(ShapedArray(shape, numpy.dtype(dtype))) if dtype else repr(array)
        raise IRError(
            f"argument {position} is {got}, but the graph's input {position} is "
            f"{format_aval(aval)}",
            hint="pass arrays of the shapes and dtypes the graph was built for "
            "(cast with .astype, or rebuild the graph for the new shapes)",
        )
    return array


def _last_uses(graph):
    """``{var id: index of the last equation reading it}`` (outputs are never freed)."""
    last = {}
    for index, eq in enumerate(graph.equations):
        for x in eq.inputs:
            if not isinstance(x, Const):
                last[x.id] = index
    for v in graph.outputs:
        if not isinstance(v, Const):
            last[v.id] = len(graph.equations)
    return last


def _run_equation(graph, index, eq, args, xp):
    y = eq.op.forward(xp, *args)
    if not hasattr(y, "shape"):
        y = xp.asarray(y)
    elif xp is numpy and type(y) is not numpy.ndarray:
        y = numpy.asarray(y)  # numpy reductions can return numpy scalars
    aval = eq.out.aval
    if tuple(y.shape) != aval.shape or y.dtype != aval.dtype:
        line = print_graph(graph).splitlines()[index + 1].strip()
        raise IRError(
            f"{eq.op.name}.forward returned {y.dtype}{list(y.shape)}, but the equation is "
            f"typed {format_aval(aval)}", index, line,
            hint="the op's infer and forward disagree: fix the op (its test table checks this)",
        )
    return y


def interpret(graph, arrays, xp=numpy, on_value=None):
    """Run ``graph`` on ``arrays`` (one per input); return the list of output arrays.

    ``xp`` is the array module (numpy or cupy).  ``on_value(equation, array)``, when
    given, sees every intermediate result (for check modes comparing backends).

    >>> from dualgrad.core.aval import ShapedArray
    >>> from dualgrad.ops.elementwise import Exp
    >>> from dualgrad_jit.ir.builder import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(ShapedArray((2,), numpy.dtype('float64')))
    >>> interpret(b.build([b.apply(Exp(), (x,))]), [numpy.zeros(2)])
    [array([1., 1.])]
    """
    arrays = list(arrays)
    if len(arrays) != len(graph.inputs):
        raise IRError(f"the graph takes {len(graph.inputs)} inputs, got {len(arrays)}",
                      hint="pass one array per graph input, in order")
    env = {v.id: _bind_input(i, v, a) for i, (v, a) in enumerate(zip(graph.inputs, arrays))}
    last_use = _last_uses(graph)
    for index, eq in enumerate(graph.equations):
        args = [_read(env, x, xp) for x in eq.inputs]
        env[eq.out.id] = _run_equation(graph, index, eq, args, xp)
        if on_value is not None:
            on_value(eq, env[eq.out.id])
        for x in eq.inputs:  # free what no later equation reads
            if not isinstance(x, Const) and last_use.get(x.id) == index:
                env.pop(x.id, None)
        if last_use.get(eq.out.id) is None:
            env.pop(eq.out.id)
    return [xp.asarray(_read(env, v, xp)) for v in graph.outputs]


def check_against(graph_a, graph_b, arrays, rtol=1e-6, atol=0.0):
    """Run both graphs on ``arrays`` and check their outputs agree; return both results.

    Shapes and dtypes must be equal and values close (NaNs in the same places).  Meant
    for testing passes: ``check_against(graph, optimize(graph), arrays)``.

    >>> from dualgrad_jit.ir.builder import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(numpy.zeros(2))
    >>> g = b.build([x])
    >>> len(check_against(g, g, [numpy.ones(2)])[0])
    1
    """
    outs_a, outs_b = interpret(graph_a, arrays), interpret(graph_b, arrays)
    if len(outs_a) != len(outs_b):
        raise AssertionError(f"the graphs have {len(outs_a)} and {len(outs_b)} outputs")
    for i, (a, b) in enumerate(zip(outs_a, outs_b)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise AssertionError(
                f"output {i}: {a.dtype}{list(a.shape)} versus {b.dtype}{list(b.shape)}"
            )
        if not _close(a, b, rtol, atol):
            raise AssertionError(f"output {i} differs:\n{a}\nversus\n{b}")
    return outs_a, outs_b


def _close(a, b, rtol, atol):
    if a.dtype.kind in "biu":
        return bool(numpy.array_equal(a, b))
    return bool(numpy.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
