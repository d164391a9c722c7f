"""The graph IR of compiled mode: values, equations, graphs, and the tools around them.

- ``Var``, ``Const``, ``Equation``, ``Graph``: immutable SSA data (``graph``);
- ``GraphBuilder``: how front ends and passes make graphs (``builder``);
- ``print_graph``: the canonical text (``printer``);
- ``verify`` / ``IRError``: the invariants, checked (``verify``);
- ``interpret`` / ``check_against``: the reference interpreter and oracle (``interpret``).
"""

from .builder import GraphBuilder
from .graph import Const, Equation, Graph, Var
from .interpret import check_against, interpret
from .printer import format_aval, format_equation, format_op, print_graph
from .verify import IRError, verify

__all__ = [
    "Const", "Equation", "Graph", "GraphBuilder", "IRError", "Var", "check_against",
    "format_aval", "format_equation", "format_op", "interpret", "print_graph", "verify",
]  # fmt: skip
