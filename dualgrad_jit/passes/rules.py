"""A tiny rewrite-rule engine, and the pattern helpers rules are written with.

A rule is a plain function ``rule(eq, builder) -> value | None``, named after what it
rewrites, whose docstring states its identity and why it is safe.  ``eq`` is the
equation under consideration with its operands already in the new graph; ``builder``
is the ``GraphBuilder`` of the new graph, through which the rule looks at producers
(``builder.producer(v)``, or ``defining`` below) and emits its replacement
(``builder.apply``).  It returns the value that replaces ``eq.out`` (a Var or a Const
typed exactly like ``eq.out``), or None when it does not match.  A rule must decide
before it emits anything: emitted equations are kept.

``apply_rules`` sweeps the graph in order, trying the rules on each equation in list
order (the first match wins), and repeats sweeps until none fires: a deterministic
fixed point.  Replacements are not revisited in the sweep that made them, so a rule
never sees its own half-built output.
"""

import numpy

from dualgrad.errors import OpError

from ..ir.builder import GraphBuilder
from ..ir.graph import Const, Equation, Var
from ..ir.printer import format_aval
from ..ir.verify import IRError

MAX_SWEEPS = 64


def apply_rules(graph, rules, on_fire=None, max_sweeps=MAX_SWEEPS):
    """Rewrite ``graph`` with ``rules`` until no rule matches; return the new graph.

    ``on_fire(rule_name, equation)``, when given, hears about every rewrite (for
    debug output: which rule changed what).
    """
    for _ in range(max_sweeps):
        graph, fired = _sweep(graph, rules, on_fire)
        if not fired:
            return graph
    names = ", ".join(rule.__name__ for rule in rules)
    raise IRError(
        f"rewrite rules ({names}) still fire after {max_sweeps} sweeps",
        hint="two rules undo each other: every rule must make the graph simpler",
    )


def _sweep(graph, rules, on_fire):
    builder = GraphBuilder()
    env = {v.id: builder.add_input(v.aval) for v in graph.inputs}
    fired = 0
    for eq in graph.equations:
        operands = tuple(env[x.id] if isinstance(x, Var) else x for x in eq.inputs)
        candidate = Equation(eq.op, operands, eq.out)
        value, rule = _rewrite_one(candidate, rules, builder)
        if rule is not None:
            fired += 1
            if on_fire is not None:
                on_fire(rule.__name__, eq)
        env[eq.out.id] = value
    outputs = tuple(env[v.id] if isinstance(v, Var) else v for v in graph.outputs)
    return builder.build(outputs), fired


def _rewrite_one(eq, rules, builder):
    for rule in rules:
        value = rule(eq, builder)
        if value is None:
            continue
        value = builder.operand(value)
        if value.aval != eq.out.aval:
            raise IRError(
                f"rule {rule.__name__} replaced a {format_aval(eq.out.aval)} value by a "
                f"{format_aval(value.aval)} one in `{eq}`",
                hint="a rule must check its match keeps the shape and dtype (see `fits`)",
            )
        return value, rule
    return builder.emit(eq.op, eq.inputs, eq.out.aval), None


# -- pattern helpers ------------------------------------------------------------------
def defining(builder, value, op_type):
    """The equation defining ``value`` when it applies an ``op_type`` op, else None."""
    eq = builder.producer(value)
    if eq is None or not isinstance(eq.op, op_type):
        return None
    return eq


def scalar_value(value):
    """The number a one-element Const holds, else None (non-constants, bigger arrays)."""
    if not isinstance(value, Const) or value.aval.size != 1:
        return None
    if isinstance(value.value, numpy.ndarray):
        return value.value.reshape(()).item()
    return value.value


def is_number(value, number):
    """True when ``value`` is a one-element Const equal to ``number``."""
    held = scalar_value(value)
    return held is not None and held == number


def other_operand(eq, number):
    """For a commutative binary ``eq`` with one operand the constant ``number``: the
    other operand; else None."""
    if eq is None or len(eq.inputs) != 2:
        return None
    a, b = eq.inputs
    if is_number(b, number):
        return a
    if is_number(a, number):
        return b
    return None


def same_type(value, eq):
    """``value`` when it is typed exactly like ``eq.out`` (so it can replace it)."""
    if value is None or value.aval != eq.out.aval:
        return None
    return value


def is_float(value):
    return value.aval.dtype.kind == "f"


def fits(op, operands, eq):
    """True when ``op(*operands)`` would be typed exactly like ``eq.out``."""
    try:
        return op.infer(*(x.aval for x in operands)) == eq.out.aval
    except OpError:
        return False
