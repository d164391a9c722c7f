"""``push_out_of_loops``: work a loop does the same way at every step moves out of it.

A ``Scan`` runs its body once per step, each run paying a call and a few small
products; work that does not need the recurrence is cheaper done once, over all
steps.  With the body ``(h', y) = f(x_t, h, c)`` (rows ``x_t`` of the sequences, states
``h``, invariants ``c``), the rules, applied to every loop until none fires:

1. ``hoist_invariants``: a body equation ``v = g(c)`` reading only invariants (and
   constants) is computed once before the loop and passed in as a new invariant:
   exact, ``v`` is the same at every step (ops are pure).
2. ``push_out_sequences``: a body equation ``v_t = g(x_t, c)`` reading only sequence
   rows and invariants is computed for every row at once before the loop, ``V[r] =
   g(X[r], c)`` (``scan_batch``: one ``(n m, k) @ (k, p)`` product for ``x_t @ W``), and
   ``V`` comes in as a new sequence: the same values, row by row.  A per-step output so
   computed leaves the loop (its stack is ``V``: rows reversed for ``go_backwards``,
   every k-th for ``keep = k``, the last one for ``keep = 0``).
2b. ``transpose_invariant_operands``: ``a_t @ c^T -> a_t @ d`` with ``d = c^T`` made once
   before the loop: the same products, and a small product reading a transposed
   matrix is slower than one reading it in row order.
3. ``push_out_accumulators`` and 3b. ``push_out_products`` (``scan_outputs``): sums
   ``a' = a + f_t`` of per-step values, and per-step products ``y_t = a_t @ c`` no step
   reads, are computed after the loop from stacks (``X^T G`` for ``sum_t x_t^T g_t``).
4. ``prune_loop``: outputs nobody reads (and the states only they need), and the inputs
   the remaining body does not read, are dropped.

And across loops, ``reuse_loop_outputs`` (``scan_reuse``): a loop's step recomputed
outside it for all steps (what rule 2 makes of the replay in a gradient's reverse
loop) is replaced by the stack the loop already keeps.

Rules 1, 2b, 4 and the input side of rule 2 keep gradients as they were: a value moved
in front of the loop gets zero cotangent on the rows a truncated backward
(``truncate_gradient``) does not reach.  The rules moving per-step *results* after the
loop (the output side of rule 2, rules 3 and 3b) would not, so they leave truncated
loops alone.  Maps (loops without states) keep their per-step results in the loop
(``dj.map`` is how one bounds memory by the step), and loops of 0 steps are left
alone (moving work out of a loop that never runs would run it).
"""

from dualgrad.errors import OpError
from dualgrad.ops.linalg import MatMul
from dualgrad.ops.random import _Random
from dualgrad.ops.view import GetItem, Transpose

from ..ir.builder import GraphBuilder
from ..ir.graph import Equation, Var
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .scan_batch import batched
from .scan_loop import LoopEdit, fresh_var, loop_groups
from .scan_outputs import push_out_accumulators, push_out_products, truncated
from .scan_reuse import reuse_loop_outputs

MAX_SWEEPS = 16


def push_out_of_loops(graph, on_fire=None):
    """``graph`` with the rules of the module docstring applied to every loop until none
    fires, each time also reusing the loops' own outputs for their steps recomputed
    outside (``scan_reuse``); ``on_fire(rule_name, equation)`` hears of each rule that
    fires (with the loop's ``Scan``, or None for the reuse).

    >>> import numpy, dualgrad_jit as dj, dualgrad_jit.tensor as T
    >>> x, w = T.dmatrix('x'), T.dmatrix('w')
    >>> h, _ = dj.scan(lambda x_t, h, w: T.tanh(T.dot(x_t, w) + h), sequences=x,
    ...                outputs_info=T.zeros((3,), 'float64'), non_sequences=w)
    >>> graph = dj.function([x, w], h).graph(numpy.ones((4, 3)), numpy.eye(3))
    >>> loop = next(eq.op for eq in graph.equations if eq.op.name == 'Scan')
    >>> [eq.op.name for eq in loop.body.graph.equations]     # x_t @ w: one product, outside
    ['Add', 'Tanh']
    """
    for _ in range(MAX_SWEEPS):
        rewritten, fired = _sweep(graph, on_fire)
        if fired:
            graph = _cleanup(rewritten)
        reused = reuse_loop_outputs(graph)
        if reused is not graph:
            fired = True
            graph = _cleanup(reused)
            if on_fire is not None:
                on_fire(reuse_loop_outputs.__name__, None)
        if not fired:
            return graph
    return graph


def _cleanup(graph):
    return eliminate_common_subexpressions(eliminate_dead_code(graph))


def _sweep(graph, on_fire):
    groups = loop_groups(graph)
    if not groups:
        return graph, False
    builder = GraphBuilder()
    env = {v.id: builder.add_input(v.aval) for v in graph.inputs}
    done, fired = set(), False
    for eq in graph.equations:
        if eq.out.id in done:
            continue
        operands = tuple(env[x.id] if isinstance(x, Var) else x for x in eq.inputs)
        group = groups.get(eq.out.id)
        if group is not None and group.eq is eq:
            values = rewrite_loop(builder, eq, operands, group.read, on_fire)
            if values is not None:
                fired = True
                members = [(i, v) for i, vs in group.members.items() for v in vs]
                done.update(v.id for _, v in members)
                env.update({v.id: values[i] for i, v in members if i in values})
                continue
        env[eq.out.id] = builder.emit(eq.op, operands, eq.out.aval)
    outputs = [env[v.id] if isinstance(v, Var) else v for v in graph.outputs]
    return builder.build(outputs), fired


def rewrite_loop(builder, eq, operands, read, on_fire=None):
    """The loop ``eq`` on ``operands`` rewritten into ``builder`` by the rules; returns
    ``{output index: outer value}`` (at least for the outputs in ``read``), or None when
    no rule fires (what was emitted then is dead)."""
    if eq.op.n_steps == 0:
        return None
    loop = LoopEdit(eq.op, operands)
    moved = _movable(builder, loop)
    names = [rule.__name__ for rule in (hoist_invariants, push_out_sequences,
                                        transpose_invariant_operands)
             if rule(builder, loop, moved)]
    names += [rule.__name__ for rule in (push_out_accumulators, push_out_products)
              if rule(builder, loop)]
    if prune_loop(loop, read):
        names.append(prune_loop.__name__)
    if not names:
        return None
    for name in names:
        if on_fire is not None:
            on_fire(name, eq)
    return loop.emit(builder)


# -- rules 1 and 2 ------------------------------------------------------------------------
def _movable(builder, loop):
    """``{body var id: (kind, outer value)}`` for the body values that do not need the
    recurrence and can be computed outside: ``'inv'`` (the value itself) or ``'seq'``
    (its stack over the rows).  Their outer equations are emitted now."""
    found = {v.id: ("inv", x) for x, v in loop.consts}
    found.update({v.id: ("seq", x) for x, v in loop.seqs})
    inputs = set(found)
    for eq in loop.equations:
        if isinstance(eq.op, _Random) or eq.out.aval.weak or any(
                isinstance(x, Var) and x.id not in found for x in eq.inputs):
            continue
        stacked = [isinstance(x, Var) and found[x.id][0] == "seq" for x in eq.inputs]
        operands = [found[x.id][1] if isinstance(x, Var) else x for x in eq.inputs]
        if any(stacked):
            value = batched(builder, eq, operands, stacked, loop.n)
        else:
            value = _hoisted(builder, eq, operands)
        if value is not None:
            found[eq.out.id] = ("seq" if any(stacked) else "inv", value)
    return {k: v for k, v in found.items() if k not in inputs}


def _hoisted(builder, eq, operands):
    try:
        value = builder.apply(eq.op, operands)
    except OpError:
        return None
    return value if value.aval == eq.out.aval else None


def hoist_invariants(builder, loop, moved):
    """Rule 1: ``v = g(c) -> v`` computed once before the loop, passed in as an
    invariant; exact, since ``g`` is pure and ``c`` the same at every step."""
    return _move_out(loop, moved, "inv")


def push_out_sequences(builder, loop, moved):
    """Rule 2: ``v_t = g(x_t, c) -> V[r] = g(X[r], c)`` for all rows before the loop,
    passed in as a sequence (row ``r`` is what step ``t`` reads); a per-step output so
    computed leaves the loop (its stack is ``V``, in step order)."""
    if not loop.states:
        return False  # a map stays a loop: per-step memory is why one writes dj.map
    fired = False
    for extra in list(loop.extras) if not truncated(loop) else ():
        found = moved.get(extra.out.id) if isinstance(extra.out, Var) else None
        if found is None or found[0] != "seq" or extra.old is None:
            continue
        loop.extras.remove(extra)
        loop.after[extra.old] = _steps_from_rows(builder, loop, found[1], extra.keep)
        fired = True
    return _move_out(loop, moved, "seq") or fired


def _move_out(loop, moved, kind):
    """Drop the body equations of ``kind`` in ``moved``; the values the loop still reads
    come in as new invariants or sequences."""
    leaving = [eq for eq in loop.equations if moved.get(eq.out.id, ("",))[0] == kind]
    if not leaving:
        return False
    gone = {eq.out.id for eq in leaving}
    loop.equations = [eq for eq in loop.equations if eq.out.id not in gone]
    needed = _read_ids(loop)
    for eq in leaving:
        if eq.out.id in needed:
            entry = (moved[eq.out.id][1], eq.out)
            (loop.consts if kind == "inv" else loop.seqs).append(entry)
    return True


def _read_ids(loop):
    """Ids of the body values the loop's equations and outputs read."""
    ids = {x.id for eq in loop.equations for x in eq.inputs if isinstance(x, Var)}
    ids.update(p.out.id for p in loop.states + loop.extras if isinstance(p.out, Var))
    return ids


def transpose_invariant_operands(builder, loop, moved):
    """Rule 2b: ``a_t @ c^T -> a_t @ d`` with ``d = transpose(c)`` made once before the
    loop (and ``c^T @ a_t`` likewise): exact, the same products; a product reading a
    transposed matrix at every step is slower than one reading it in row order."""
    invariant = {v.id: x for x, v in loop.consts}
    fired = False
    for position, eq in enumerate(loop.equations):
        if not isinstance(eq.op, MatMul):
            continue
        flags = [eq.op.transa, eq.op.transb]
        for k, x in enumerate(eq.inputs):
            if flags[k] and isinstance(x, Var) and x.id in invariant and x.aval.ndim == 2:
                value = builder.apply(Transpose((1, 0)), (invariant[x.id],))
                var = fresh_var(value.aval)
                loop.consts.append((value, var))
                inputs = list(eq.inputs)
                inputs[k], flags[k] = var, False
                eq = Equation(MatMul(*flags), tuple(inputs), eq.out)
                loop.equations[position] = eq
                fired = True
    return fired


def _steps_from_rows(builder, loop, stacked, keep):
    """A function giving what a loop output with ``keep`` holds, from the stack over
    rows ``stacked``: every step (rows reversed for ``go_backwards``), every k-th, or
    the last."""
    n, backwards = loop.n, loop.scan.go_backwards
    if keep == 1 and not backwards:
        return lambda handle: stacked
    if keep == 0:
        key = (0,) if backwards else (n - 1,)
    elif backwards:  # steps k-1, 2k-1, ... read rows n-k, n-2k, ...
        stop = n - (n // keep) * keep - 1
        key = (slice(n - keep, None if stop < 0 else stop, -keep),)
    else:
        key = (slice(keep - 1, (n // keep) * keep, keep),)
    return lambda handle: builder.apply(GetItem(key), (stacked,))


# -- rule 4 ---------------------------------------------------------------------------------
def prune_loop(loop, read):
    """Rule 4: outputs of the loop that nothing reads, the states only they need, and
    the inputs the remaining body does not read, are dropped (the loop's other outputs
    do not depend on them)."""
    wanted = [s for s in loop.states if s.old in read] + \
        [e for e in loop.extras if e.old is None or e.old in read]
    while True:
        needed = _cone(loop.equations, [p.out for p in wanted])
        more = [s for s in loop.states if s.var.id in needed and not _among(s, wanted)]
        if not more:
            break
        wanted += more
    before = (len(loop.states), len(loop.extras), len(loop.seqs), len(loop.consts))
    loop.states = [s for s in loop.states if _among(s, wanted)]
    loop.extras = [e for e in loop.extras if _among(e, wanted)]
    loop.seqs = [(x, v) for x, v in loop.seqs if v.id in needed]
    loop.consts = [(x, v) for x, v in loop.consts if v.id in needed]
    return before != (len(loop.states), len(loop.extras), len(loop.seqs), len(loop.consts))


def _among(part, parts):
    return any(part is p for p in parts)


def _cone(equations, values):
    """Ids of ``values`` and of every body value they are computed from."""
    needed = {v.id for v in values if isinstance(v, Var)}
    for eq in reversed(equations):
        if eq.out.id in needed:
            needed.update(x.id for x in eq.inputs if isinstance(x, Var))
    return needed


__all__ = ["MAX_SWEEPS", "hoist_invariants", "prune_loop", "push_out_of_loops",
           "push_out_sequences", "rewrite_loop", "transpose_invariant_operands"]
