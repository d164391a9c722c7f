"""The IR's invariants, checked: SSA form and every equation's aval re-inferred.

A graph is well formed when
- every Var is defined once: as a graph input or as one equation's output;
- every operand is a Const or a Var defined earlier (inputs first, then equations in
  order), used with the aval it was defined with;
- every equation's ``out.aval`` is exactly what ``op.infer`` gives for its operands;
- every output is a defined Var or a Const.

Passes keep these; ``verify`` after a pass finds the equation a buggy pass broke.
"""

from dualgrad.core.op import Op
from dualgrad.errors import DualgradError, OpError

from .graph import Const, Var
from .printer import format_aval, print_graph


class IRError(DualgradError):
    """A graph breaks an invariant of the IR (see ``verify``).

    ``index`` is the position of the offending equation (None for inputs/outputs);
    the message quotes that equation as ``print_graph`` numbers it.
    """

    def __init__(self, message, index=None, line=None, hint=None):
        self.index = index
        self.line = line
        parts = [message if line is None else f"equation {index} `{line}`: {message}"]
        if hint:
            parts.append("  fix: " + hint)
        super().__init__("\n".join(parts))


def _line(graph, index):
    """Equation ``index`` as ``print_graph`` shows it (same Var numbers)."""
    return print_graph(graph).splitlines()[index + 1].strip()


def _check_inputs(graph, defined):
    for position, v in enumerate(graph.inputs):
        if not isinstance(v, Var):
            raise IRError(f"graph input {position} is {v!r}, not a Var",
                          hint="graph inputs are Vars made by GraphBuilder.add_input")
        if v.id in defined:
            raise IRError(f"graph input {position} ({format_aval(v.aval)}) is listed twice",
                          hint="give each input its own Var")
        defined[v.id] = v.aval


def _check_operands(graph, index, eq, defined):
    for position, x in enumerate(eq.inputs):
        if isinstance(x, Const):
            continue
        if not isinstance(x, Var):
            raise IRError(f"operand {position} is {x!r}, neither a Var nor a Const", index,
                          _line(graph, index), hint="wrap constants with Const.of(value)")
        if x.id not in defined:
            raise IRError(
                f"operand {position} is used before it is defined", index, _line(graph, index),
                hint="equations must come in topological order (GraphBuilder.build does this)",
            )
        if defined[x.id] != x.aval:
            raise IRError(
                f"operand {position} is used as {format_aval(x.aval)} but was defined as "
                f"{format_aval(defined[x.id])}", index, _line(graph, index),
            )


def _check_infer(graph, index, eq):
    if not isinstance(eq.op, Op):
        raise IRError(f"{eq.op!r} is not a dualgrad Op", index, _line(graph, index))
    try:
        expected = eq.op.infer(*(x.aval for x in eq.inputs))
    except OpError as error:
        raise IRError(f"{eq.op.name}.infer rejects the operands:\n{error}", index,
                      _line(graph, index)) from error
    if expected != eq.out.aval:
        raise IRError(
            f"the output is typed {format_aval(eq.out.aval)} but {eq.op.name} infers "
            f"{format_aval(expected)}", index, _line(graph, index),
            hint="build equations with GraphBuilder.apply, which runs infer",
        )


def verify(graph):
    """Check ``graph``'s invariants; return it unchanged, or raise ``IRError``.

    >>> from dualgrad_jit.ir.builder import GraphBuilder
    >>> verify(GraphBuilder().build([])).outputs
    ()
    """
    defined = {}
    _check_inputs(graph, defined)
    for index, eq in enumerate(graph.equations):
        _check_operands(graph, index, eq, defined)
        _check_infer(graph, index, eq)
        if eq.out.id in defined:
            raise IRError("redefines a Var that is already defined (SSA: one definition "
                          "per Var)", index, _line(graph, index),
                          hint="give every equation a fresh output Var")
        defined[eq.out.id] = eq.out.aval
    for position, v in enumerate(graph.outputs):
        if isinstance(v, Const):
            continue
        if not isinstance(v, Var) or defined.get(v.id) != v.aval:
            raise IRError(f"graph output {position} ({v!r}) is not a defined Var or a Const",
                          hint="outputs must be inputs, equation outputs or constants")
    return graph

