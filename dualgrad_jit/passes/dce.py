"""Dead-code elimination: drop equations no output depends on."""

from ..ir.graph import Graph, Var


def eliminate_dead_code(graph):
    """The graph without the equations that no output reads, directly or not.

    Every op is pure (random draws are functions of their attributes), so an unread
    result can go.  Inputs stay: they are the graph's signature.
    """
    live = {v.id for v in graph.outputs if isinstance(v, Var)}
    kept = []
    for eq in reversed(graph.equations):
        if eq.out.id in live:
            kept.append(eq)
            live.update(x.id for x in eq.inputs if isinstance(x, Var))
    return Graph(graph.inputs, tuple(reversed(kept)), graph.outputs)
