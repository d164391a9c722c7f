"""Shared helpers of the IR and pass tests: avals, and recording eager code into graphs.

``record(fn, *avals)`` runs ``fn`` (written with dualgrad functions, as users write
it) on placeholder values while a minimal tracer turns every op application into a
``GraphBuilder.apply``: the graph holds exactly the ops ``dualgrad.F`` emits, which is
what the stabilisation patterns must recognise.
"""

import numpy

from dualgrad.core.aval import ShapedArray
from dualgrad.core.tape import set_tracer
from dualgrad_jit.ir import GraphBuilder


def aval(dtype, *shape):
    """``aval('float32', 2, 3)`` -> ShapedArray((2, 3), float32)."""
    return ShapedArray(tuple(shape), numpy.dtype(dtype))


class Placeholder:
    """What dualgrad functions read from a value being recorded: its shape and dtype."""

    __slots__ = ("var",)

    def __init__(self, var):
        self.var = var

    @property
    def shape(self):
        return self.var.aval.shape

    @property
    def dtype(self):
        return self.var.aval.dtype

    @property
    def ndim(self):
        return len(self.var.aval.shape)


class _Recorder:
    def __init__(self, builder):
        self.builder = builder

    def apply(self, op, inputs, xp=None):
        operands = [x.var if isinstance(x, Placeholder) else getattr(x, "_array", x)
                    for x in inputs]
        return Placeholder(self.builder.apply(op, operands))


def record(fn, *avals):
    """The graph of ``fn`` applied to inputs of ``avals`` (a tuple result: several outputs)."""
    builder = GraphBuilder()
    args = [Placeholder(builder.add_input(a)) for a in avals]
    previous = set_tracer(_Recorder(builder))
    try:
        result = fn(*args)
    finally:
        set_tracer(previous)
    results = result if isinstance(result, tuple) else (result,)
    return builder.build([r.var if isinstance(r, Placeholder) else r for r in results])
