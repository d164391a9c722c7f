"""The optimisation pipeline: named phases, each a pure ``Graph -> Graph`` pass.

Default order: ``dce``, ``cse``, ``fold``, ``canonicalize``, ``stabilize``,
``specialize``, then ``cleanup`` (DCE and CSE again, for what the rewrites left dead
or duplicated), ``scan_pushout`` (work that does not need a loop's recurrence moves
out of it) and ``scan_memory`` (loops keep only the values read).
``optimize(graph, trace=callback)`` shows the graph after each phase:
``callback(phase_name, graph)``; ``printing_trace()`` is a ready-made callback that
prints them (what debug output uses).  ``optimize(graph, on_fire=callback)`` names
every rewrite rule that fires: ``callback(phase_name, rule_name, equation)``.
"""

import functools
import sys

from .canonicalize import canonicalize
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .fold_constants import fold_constants
from .scan_memory import keep_last_scan_values
from .scan_pushout import push_out_of_loops
from .specialize import specialize
from .stabilize import stabilize


def cleanup(graph):
    """Dead-code elimination, then common-subexpression elimination."""
    return eliminate_common_subexpressions(eliminate_dead_code(graph))


PHASES = {
    "dce": eliminate_dead_code,
    "cse": eliminate_common_subexpressions,
    "fold": fold_constants,
    "canonicalize": canonicalize,
    "stabilize": stabilize,
    "specialize": specialize,
    "cleanup": cleanup,
    "scan_pushout": push_out_of_loops,
    "scan_memory": keep_last_scan_values,
}

DEFAULT_PHASES = ("dce", "cse", "fold", "canonicalize", "stabilize", "specialize", "cleanup",
                  "scan_pushout", "scan_memory")

# Phases made of rewrite rules: they take ``on_fire`` and report each rule that fires.
RULE_PHASES = ("fold", "canonicalize", "stabilize", "specialize", "scan_pushout")


def _resolve(phase):
    """``(name, pass)`` for a phase name or a ``(name, pass)`` pair."""
    if isinstance(phase, str):
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; the phases are {', '.join(PHASES)}")
        return phase, PHASES[phase]
    name, run = phase
    return name, run


def optimize(graph, phases=DEFAULT_PHASES, trace=None, on_fire=None):
    """Run ``phases`` (names from ``PHASES`` or ``(name, pass)`` pairs) in order.

    ``trace(name, graph)``, when given, sees the graph after each phase;
    ``on_fire(phase, rule_name, equation)`` hears of every rewrite rule that fires in
    the rule phases.  The input graph is never changed; the same graph always gives
    the same result.

    >>> import numpy
    >>> from dualgrad.ops.elementwise import Add, Log
    >>> from dualgrad_jit.ir import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(numpy.zeros(3))
    >>> print(optimize(b.build([b.apply(Log(), (b.apply(Add(), (1.0, x)),))])))
    { lambda %0:f64[3] ;
      %1:f64[3] = Log1p %0
     } -> (%1)
    """
    for phase in phases:
        name, run = _resolve(phase)
        if on_fire is not None and isinstance(phase, str) and name in RULE_PHASES:
            graph = run(graph, on_fire=functools.partial(on_fire, name))
        else:
            graph = run(graph)
        if trace is not None:
            trace(name, graph)
    return graph


def printing_trace(file=None):
    """A ``trace`` callback printing each phase's graph to ``file`` (stderr by default)."""

    def show(name, graph):
        print(f"-- after {name} --\n{graph}", file=file if file is not None else sys.stderr)

    return show
