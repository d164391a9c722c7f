"""``reuse_loop_outputs``: a loop's step recomputed outside it, for all steps at once, is
the stack that loop already keeps.

For a forward loop ``(h_{t+1}, y_t) = f(x_t, h_t, c)`` keeping every step of an output
(``H``: ``H[t] = h_{t+1}``, or the ``y_t``), and the states before each step
``P = concat([h_0], H[:-1])`` (``P[t] = h_t``, how the gradient of a loop reads them):

    f_batched(X, P, c) = H        (row by row, f(X[t], P[t], c) is step t)

The gradient's reverse loop replays ``f`` at every step to get its intermediates;
``scan_pushout`` moves that replay out of the reverse loop as batched equations.  This
rule replays ``f`` batched itself (with ``scan_batch``, the same equations
``scan_pushout`` makes), lets common-subexpression elimination find those equations
among the graph's, and replaces the matching value by ``H``: one product and the
step's elementwise work for every step less, and the exact forward values (the
replay's rounding may differ from the loop's).  Loops walking backwards are left
alone (their rows are reversed).
"""

from dualgrad.ops.view import Concat, GetItem, Reshape

from ..ir.builder import GraphBuilder
from ..ir.graph import Const, Graph, Var
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .scan_batch import batched
from .scan_loop import LoopEdit, loop_groups


def reuse_loop_outputs(graph):
    """``graph`` with recomputed loop steps replaced by the loop's own outputs (see the
    module docstring); the same graph when nothing matches."""
    producers = graph.producers()
    candidates = []
    for group in loop_groups(graph).values():
        scan = group.eq.op
        if scan.go_backwards or scan.n_steps < 2:
            continue
        before = _states_before(graph, producers, group)
        if before is not None:
            candidates.append((group, before))
    if not candidates:
        return graph
    builder, env, copied = _copy(graph)
    found = []  # (replayed value, stacked loop output), both in the new graph
    for group, before in candidates:
        scan = group.eq.op
        loop = LoopEdit(scan, tuple(env[x.id] if isinstance(x, Var) else x
                                    for x in group.eq.inputs))
        replayed = _replay(builder, loop, [env[v.id] for v in before])
        for i, value in enumerate(replayed):
            stacked = group.members.get(i, [None])[0]
            if value is not None and stacked is not None and scan.keep[i] == 1:
                found.append((value, env[stacked.id]))
    if not found:
        return graph
    outputs = [env[v.id] if isinstance(v, Var) else v for v in graph.outputs]
    merged = eliminate_common_subexpressions(builder.build(outputs + [v for v, _ in found]))
    extra = merged.outputs[len(outputs):]
    order = {eq.out.id: position for position, eq in enumerate(merged.equations)}
    # NOTE: only a value computed after the loop is replaced (one the loop may read,
    # such as a sequence its body passes through, stays: the loop depends on it).
    same = {v.id: stacked for v, (_, stacked) in zip(extra, found)
            if isinstance(v, Var) and v.id in copied and
            order.get(v.id, -1) > order[stacked.id]}
    if not same:
        return graph
    return eliminate_dead_code(_substitute(Graph(merged.inputs, merged.equations,
                                                 merged.outputs[:len(outputs)]), same))


def _copy(graph):
    """``graph``'s equations in a new builder: ``(builder, env, ids of the copies)``."""
    builder = GraphBuilder()
    env = {v.id: builder.add_input(v.aval) for v in graph.inputs}
    for eq in graph.equations:
        operands = tuple(env[x.id] if isinstance(x, Var) else x for x in eq.inputs)
        env[eq.out.id] = builder.emit(eq.op, operands, eq.out.aval)
    return builder, env, {v.id for v in env.values()}


def _states_before(graph, producers, group):
    """Per state of the loop, a value of the graph holding the state before each step
    (``concat([h_0], H[:-1])``), or None when one is missing."""
    scan = group.eq.op
    n_seqs = scan.n_seqs
    found = []
    for j in range(scan.n_states):
        stacked = group.members.get(j, [None])[0]
        init = group.eq.inputs[n_seqs + j]
        match = None if stacked is None or scan.keep[j] != 1 else next(
            (eq.out for eq in graph.equations if _is_shifted(eq, producers, stacked, init)),
            None)
        if match is None:
            return None
        found.append(match)
    return found


def _is_shifted(eq, producers, stacked, init):
    """Whether ``eq`` is ``concat([reshape(init)], stacked[:-1])`` along axis 0."""
    if not isinstance(eq.op, Concat) or eq.op.axis != 0 or len(eq.inputs) != 2:
        return False
    head, tail = eq.inputs
    rows = producers.get(tail.id) if isinstance(tail, Var) else None
    if rows is None or not isinstance(rows.op, GetItem) or rows.inputs[0] != stacked:
        return False
    n = stacked.aval.shape[0]
    first, *rest = rows.op.key
    if not isinstance(first, slice) or first.indices(n) != (0, n - 1, 1) or any(
            e is not Ellipsis and e != slice(None) for e in rest):
        return False
    return _is_reshaped(head, producers, init)


def _is_reshaped(head, producers, init):
    """Whether ``head`` is ``init`` with a leading axis of 1."""
    if head.aval.shape != (1,) + tuple(init.aval.shape) or head.aval.dtype != init.aval.dtype:
        return False
    if isinstance(head, Const) and isinstance(init, Const):
        return head.value.tobytes() == _array(init).tobytes()
    eq = producers.get(head.id) if isinstance(head, Var) else None
    return eq is not None and isinstance(eq.op, Reshape) and eq.inputs[0] == init


def _array(const):
    import numpy

    return numpy.asarray(const.value, const.aval.dtype)


def _replay(builder, loop, before):
    """The loop's body applied to every step at once (sequences, states before each
    step, invariants); per body output, its stack over steps, or None where an equation
    has no batching rule."""
    values = {v.id: (True, x) for x, v in loop.seqs}
    values.update({s.var.id: (True, x) for s, x in zip(loop.states, before)})
    values.update({v.id: (False, x) for x, v in loop.consts})
    for eq in loop.equations:
        if any(isinstance(x, Var) and x.id not in values for x in eq.inputs):
            continue
        stacked = [isinstance(x, Var) and values[x.id][0] for x in eq.inputs]
        operands = [values[x.id][1] if isinstance(x, Var) else x for x in eq.inputs]
        if not any(stacked):
            continue  # invariant work is the pushout's: it never stays in a loop body
        value = batched(builder, eq, operands, stacked, loop.n)
        if value is not None:
            values[eq.out.id] = (True, value)
    outputs = [s.out for s in loop.states] + [e.out for e in loop.extras]
    return [values[v.id][1] if isinstance(v, Var) and v.id in values and values[v.id][0]
            else None for v in outputs]


def _substitute(graph, same):
    """``graph`` reading ``same[id]`` wherever it read the Var ``id``."""
    from ..vjp import substitute

    return substitute(graph, same)


__all__ = ["reuse_loop_outputs"]
