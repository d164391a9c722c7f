"""dualgrad_jit: the compiled face of dualgrad.

Eager dualgrad code is traced into a static graph (``dj.jit``), rewritten and run by a
backend; Python control flow that looks at data is guarded, never silently baked in.

>>> import numpy as np, dualgrad_jit as dj
>>> f = dj.jit(lambda x: (x * 2.0).sum())
>>> float(f(np.ones(3)).array)
6.0
"""

from .errors import CompileError, ConcretizationError, TracerLeakError
from .ir import Graph, GraphBuilder, interpret, print_graph, verify
from .jit import JitFunction, JitWarning, jit
from .passes import optimize

__all__ = [
    "CompileError", "ConcretizationError", "Graph", "GraphBuilder", "JitFunction",
    "JitWarning", "TracerLeakError", "interpret", "jit", "optimize", "print_graph", "verify",
]  # fmt: skip
