"""Expanding composite ops into their primitive decompositions, for compiled backends.

A composite op (``logsumexp``, ``log_softmax``, the stable cross entropies) stays whole in
the graph so that differentiation uses its numerically stable custom backward.  Once
the graph is final (its gradients are already equations), a machine-code backend gains
from seeing the decomposition instead: its reductions and elementwise parts fuse with
their neighbours rather than running as one opaque host call.  The decomposition is
the op's own ``lower()``, the same one the op harness checks against ``forward``, so
``expand_composites(g)`` computes what ``g`` does.  Ops marked ``host_step`` stay whole:
loops and branches over sub-graphs (their decomposition would unroll the loop or run
both branches) and draws reading their random state at run time.
"""

from dualgrad import lowering as lw

from ..ir import GraphBuilder, Var
from .dce import eliminate_dead_code


def expand_composites(graph):
    """``graph`` with every composite equation replaced by its decomposition."""
    from ..vjp import trace_graph

    lowerings = {}
    for eq in graph.equations:
        low = eq.op.lower(*[x.aval for x in eq.inputs])
        if isinstance(low, lw.Composite) and not getattr(eq.op, "host_step", False):
            lowerings[eq.out.id] = low
    if not lowerings:
        return graph
    builder = GraphBuilder()
    env = {v.id: builder.add_input(v.aval) for v in graph.inputs}
    for eq in graph.equations:
        operands = tuple(env[x.id] if isinstance(x, Var) else x for x in eq.inputs)
        low = lowerings.get(eq.out.id)
        if low is None:
            env[eq.out.id] = builder.emit(eq.op, operands, eq.out.aval)
            continue
        sub = trace_graph(low.decompose, *[x.aval for x in eq.inputs])
        (env[eq.out.id],) = builder.inline(expand_composites(sub), operands)
    outputs = [env[v.id] if isinstance(v, Var) else v for v in graph.outputs]
    return eliminate_dead_code(builder.build(outputs))
