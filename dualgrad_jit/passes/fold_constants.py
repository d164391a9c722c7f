"""Constant folding: evaluate at compile time what depends on constants only."""

import numpy

from dualgrad.errors import DualgradError

from ..ir.graph import Const
from .rules import apply_rules

FOLD_LIMIT = 100_000  # largest result (in elements) worth storing in the graph


def evaluate_constant_equation(eq, builder):
    """``op(c0, c1, ...) -> c``: an equation whose operands are all constants becomes
    its value, computed with ``op.forward`` (the same code the interpreter runs, so
    the result is bit-identical).

    Skipped when the result would exceed ``FOLD_LIMIT`` elements (a broadcast of a
    scalar to a huge shape stays cheap to compute and costly to store), for ops without
    operands (random draws: the executor advances their counter on every call, so a
    folded draw would repeat), and when ``forward`` raises (the error then surfaces at
    run time, where eager mode raises it too).
    """
    if not eq.inputs or not all(isinstance(x, Const) for x in eq.inputs):
        return None
    if eq.out.aval.size > FOLD_LIMIT:
        return None
    args = [x.value for x in eq.inputs]
    try:
        with numpy.errstate(all="ignore"):  # inf/nan results are folded as they are
            value = numpy.asarray(eq.op.forward(numpy, *args))
    except (DualgradError, ArithmeticError, ValueError, TypeError, IndexError):
        return None
    if value.shape != eq.out.aval.shape or value.dtype != eq.out.aval.dtype:
        return None
    return Const.of(value)


def fold_constants(graph, on_fire=None):
    """The graph with every constant-only equation replaced by its value.

    Folding cascades: a folded result makes its users constant-only in turn.
    """
    return apply_rules(graph, [evaluate_constant_equation], on_fire)
