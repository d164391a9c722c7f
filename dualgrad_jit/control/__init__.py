"""Control flow inside compiled graphs: loops (``scan``), lazy conditionals (``ifelse``,
``cond``).

Each is one op whose body or branches are sub-graphs (``CompiledGraph``) run by the
executor of sub-graphs (``body.run_body``: the interpreter, until a backend installs its
own with ``set_body_runner``), never unrolled into the outer graph.  Their gradients are
ops of the same kind over derived sub-graphs, so they differentiate again.
"""

from .body import run_body, set_body_runner
from .cond import cond
from .ifelse import IfElse, ifelse
from .scan import foldl, foldr, map, reduce, scan  # noqa: A004 - Theano's names
from .scan_op import Scan, ScanOutput

__all__ = ["IfElse", "Scan", "ScanOutput", "cond", "foldl", "foldr", "ifelse", "map",
           "reduce", "run_body", "scan", "set_body_runner"]
