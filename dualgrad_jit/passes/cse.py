"""Common-subexpression elimination: compute each distinct ``op(inputs)`` once."""

from ..ir.graph import Equation, Graph, Var


def eliminate_common_subexpressions(graph):
    """The graph with each repeated equation replaced by its first occurrence.

    Two equations are the same when their ops are equal (same class, same attributes)
    and their operands are the same Vars or equal Consts (compared by value, so
    ``x * 2.0`` written twice is computed once).  Ops are pure, so equal equations
    give equal results; the first one is kept, which keeps the order deterministic.
    """
    replaced = {}  # var id -> the Var computing the same value
    first = {}  # (op, operands) -> Var
    kept = []
    for eq in graph.equations:
        operands = tuple(replaced.get(x.id, x) if isinstance(x, Var) else x for x in eq.inputs)
        key = (eq.op, operands)
        if key in first:
            replaced[eq.out.id] = first[key]
            continue
        first[key] = eq.out
        kept.append(eq if operands == eq.inputs else Equation(eq.op, operands, eq.out))
    outputs = tuple(replaced.get(v.id, v) if isinstance(v, Var) else v for v in graph.outputs)
    return Graph(graph.inputs, tuple(kept), outputs)
