"""``keep_last_scan_values``: a loop keeps only the values the graph reads.

``dj.scan`` stacks every output over the steps.  When the graph reads an output only
through ``out[-1]`` (Theano's "scan is smart enough to notice": ``A**k`` by scan), the
loop keeps its last value alone; an output nothing reads is not kept at all:

    GetItem{key=(-1,)}(Scan{keep[i]=1}(...)[i])  ->  Scan{keep[i]=0}(...)[i]

Safe because step ``n-1``'s value is exactly what ``out[-1]`` selects from the stack (a
loop of 0 steps has no ``out[-1]``: that raises when the graph is built).  Memory drops
from ``n`` values to one; the equation's type shows it (no step axis).

All equations of one loop (its ``Scan`` and the ``ScanOutput``s reading it) are rewritten
together, since they run as one.
"""

from ..ir.builder import GraphBuilder
from ..ir.graph import Var


def keep_last_scan_values(graph):
    """``graph`` with each loop storing only what is read (see the module docstring)."""
    from dualgrad.ops.view import GetItem

    from ..control.scan_op import Scan, ScanOutput

    readers = _readers(graph)
    outputs = {v.id for v in graph.outputs if isinstance(v, Var)}
    members = {}  # Scan output id -> {index: equation}
    for eq in graph.equations:
        if isinstance(eq.op, Scan):
            members[eq.out.id] = {0: eq}
        elif isinstance(eq.op, ScanOutput) and isinstance(eq.inputs[0], Var) \
                and eq.inputs[0].id in members:
            members[eq.inputs[0].id][eq.op.index] = eq
    plans, dropped = {}, {}
    for first, group in members.items():
        scan = group[0].op
        keep = list(scan.keep)
        for i in range(scan.n_outputs):
            eq = group.get(i)
            uses = [] if eq is None else [r for r in readers.get(eq.out.id, [])
                                          if not (i == 0 and isinstance(r.op, ScanOutput))]
            unread = eq is None or (eq.out.id not in outputs and not uses)
            only_last = eq is not None and eq.out.id not in outputs and all(
                isinstance(r.op, GetItem) and _selects_last(r.op.key) for r in uses)
            if (unread or only_last) and scan.keep[i] != 0:
                keep[i] = 0
                if eq is not None:
                    dropped.update({r.out.id: eq.out.id for r in uses})
        if tuple(keep) != scan.keep:
            plans[first] = tuple(keep)
    if not plans:
        return graph
    return _rebuild(graph, plans, dropped)


def _readers(graph):
    found = {}
    for eq in graph.equations:
        for x in eq.inputs:
            if isinstance(x, Var):
                found.setdefault(x.id, []).append(eq)
    return found


def _selects_last(key):
    """``x[-1]`` (or ``x[-1, :, ...]``): the last entry along the first axis."""
    if not key or not isinstance(key[0], int) or key[0] != -1:
        return False
    return all(e is Ellipsis or e == slice(None) for e in key[1:])


def _rebuild(graph, plans, dropped):
    from ..control.scan_op import Scan, ScanOutput

    builder = GraphBuilder()
    env = {v.id: builder.add_input(v.aval) for v in graph.inputs}
    for eq in graph.equations:
        if eq.out.id in dropped:  # out[-1] of a loop now keeping its last value alone
            env[eq.out.id] = env[dropped[eq.out.id]]
            continue
        operands = tuple(env[x.id] if isinstance(x, Var) else x for x in eq.inputs)
        op = eq.op
        if isinstance(op, Scan) and eq.out.id in plans:
            op = op.with_keep(plans[eq.out.id])
        elif isinstance(op, ScanOutput) and isinstance(eq.inputs[0], Var) \
                and eq.inputs[0].id in plans:
            op = op.with_keep(plans[eq.inputs[0].id])
        env[eq.out.id] = builder.apply(op, operands) if op is not eq.op else \
            builder.emit(op, operands, eq.out.aval)
    outputs = [env[v.id] if isinstance(v, Var) else v for v in graph.outputs]
    return builder.build(outputs)


__all__ = ["keep_last_scan_values"]
