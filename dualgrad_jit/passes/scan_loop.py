"""A ``Scan`` taken apart for editing, and put back into a graph.

A loop in a graph is one ``Scan`` equation (output 0) and the ``ScanOutput`` equations
reading it (outputs ``i > 0``); ``loop_groups`` finds them and which outputs the rest of
the graph reads.  ``LoopEdit`` holds the loop's parts as lists a rewrite can change:

- ``seqs``: ``(outer sequence, body row input)`` pairs;
- ``states``: recurrent states (outer initial value, body input, body next value, keep);
- ``consts``: ``(outer value, body input)`` pairs;
- ``extras``: per-step outputs (body value, keep);
- ``equations``: the body's equations;
- ``after``: loop outputs no longer computed by the loop, each a function of the new
  loop's outputs (``handle(extra)`` -> its outer value) giving the outer value.

``LoopEdit.emit`` builds the new body and ``Scan`` and returns the outer value of every
old output the edit still provides.
"""

from dataclasses import dataclass

import numpy

from ..ir.builder import GraphBuilder
from ..ir.graph import Const, Graph, Var
from .dce import eliminate_dead_code


@dataclass(eq=False)
class State:
    init: object  # outer initial value
    var: Var  # body input: the state before the step
    out: object  # body output: the state after the step
    keep: int
    old: int  # the output index in the original loop


@dataclass(eq=False)
class Extra:
    out: object  # body value output at every step
    keep: int
    old: object = None  # the output index in the original loop (None: added by a rewrite)


@dataclass
class Group:
    """One loop of a graph: its ``Scan`` equation, ``{index: [vars]}`` of the equations
    giving its outputs, and the output indices the rest of the graph reads."""

    eq: object
    members: dict
    read: set


def loop_groups(graph):
    """``{Scan output id: Group}`` for every loop in ``graph``."""
    from ..control.scan_op import Scan, ScanOutput

    groups = {}
    for eq in graph.equations:
        if isinstance(eq.op, Scan):
            groups[eq.out.id] = Group(eq, {0: [eq.out]}, set())
        elif isinstance(eq.op, ScanOutput) and isinstance(eq.inputs[0], Var) \
                and eq.inputs[0].id in groups:
            groups[eq.inputs[0].id].members.setdefault(eq.op.index, []).append(eq.out)
    index_of = {v.id: (first, i) for first, group in groups.items()
                for i, members in group.members.items() for v in members}
    for eq in graph.equations:
        for position, x in enumerate(eq.inputs):
            if not isinstance(x, Var) or x.id not in index_of:
                continue
            first, i = index_of[x.id]
            handle = i == 0 and position == 0 and isinstance(eq.op, ScanOutput) \
                and eq.out.id in index_of
            if not handle:
                groups[first].read.add(i)
    for v in graph.outputs:
        if isinstance(v, Var) and v.id in index_of:
            first, i = index_of[v.id]
            groups[first].read.add(i)
    return groups


class LoopEdit:
    """The parts of ``scan`` applied to ``operands`` (outer values), for rewriting."""

    def __init__(self, scan, operands):
        body = scan.body.graph
        n_seqs, n_states = scan.n_seqs, scan.n_states
        inputs, outputs = body.inputs, body.outputs
        typed = [_typed(x, v.aval) for x, v in zip(operands, inputs)]
        self.scan = scan
        self.n = scan.n_steps
        self.seqs = [(x, v) for x, v in zip(typed[:n_seqs], inputs[:n_seqs])]
        self.states = [State(typed[n_seqs + j], inputs[n_seqs + j], outputs[j], scan.keep[j], j)
                       for j in range(n_states)]
        self.consts = list(zip(typed[n_seqs + n_states:], inputs[n_seqs + n_states:]))
        self.extras = [Extra(outputs[i], scan.keep[i], i) for i in range(n_states, len(outputs))]
        self.equations = list(body.equations)
        self.after = {}

    def source(self, value):
        """Where the per-step values of body ``value`` are found outside: ``('seq', outer
        sequence)`` for a row input, ``('out', extra)`` for anything the loop computes or
        carries (a new stacked output, made once); None for invariant values."""
        if not isinstance(value, Var):
            return None
        for outer, var in self.seqs:
            if var.id == value.id:
                return ("seq", outer)
        if any(var.id == value.id for _, var in self.consts):
            return None
        for extra in self.extras:
            if extra.keep == 1 and isinstance(extra.out, Var) and extra.out.id == value.id:
                return ("out", extra)
        extra = Extra(value, 1)
        self.extras.append(extra)
        return ("out", extra)

    def emit(self, builder):
        """The new loop in ``builder``; returns ``{old output index: outer value}``."""
        from ..control.scan_op import Scan, ScanOutput
        from ..vjp import CompiledGraph

        outputs = [s.out for s in self.states] + [e.out for e in self.extras]
        keep = [s.keep for s in self.states] + [e.keep for e in self.extras]
        operands = [x for x, _ in self.seqs] + [s.init for s in self.states] + \
            [x for x, _ in self.consts]
        handles = {}
        if outputs:
            inputs = [v for _, v in self.seqs] + [s.var for s in self.states] + \
                [v for _, v in self.consts]
            graph = eliminate_dead_code(Graph(inputs, self.equations, outputs))
            old = self.scan
            op = Scan(CompiledGraph(graph), len(self.seqs), len(self.states), self.n,
                      old.go_backwards, keep, old.truncate_gradient, old.checkpoint)
            first = builder.apply(op, operands)
            for k in range(len(outputs)):
                handles[k] = first if k == 0 else \
                    builder.apply(ScanOutput(op, k), (first,) + tuple(operands))
        parts = self.states + self.extras
        position = {id(part): k for k, part in enumerate(parts)}
        values = {part.old: handles[k] for k, part in enumerate(parts) if part.old is not None}
        for old, finish in self.after.items():
            values[old] = finish(lambda extra: handles[position[id(extra)]])
        return values


def fresh_var(aval):
    """A Var no graph has used yet (for a new body input)."""
    return GraphBuilder().add_input(aval)


def _typed(value, aval):
    """An outer operand typed exactly like the body input it feeds (a weak Python number
    becomes an array constant of the input's dtype)."""
    if isinstance(value, Const) and value.aval.weak:
        return Const.of(numpy.full(aval.shape, value.value, aval.dtype))
    return value


__all__ = ["Extra", "Group", "LoopEdit", "State", "fresh_var", "loop_groups"]
