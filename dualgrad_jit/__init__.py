"""dualgrad_jit: the compiled face of dualgrad.

Eager dualgrad code is traced into a static graph (``dj.jit``), rewritten and run by a
backend; Python control flow that looks at data is guarded, never silently baked in.

>>> import numpy as np, dualgrad_jit as dj
>>> f = dj.jit(lambda x: (x * 2.0).sum())
>>> float(f(np.ones(3)).array)
6.0
"""

from . import modes, tensor
from .control import cond, foldl, foldr, ifelse, map, reduce, scan  # noqa: A004 - Theano's names
from .errors import CompileError, ConcretizationError, TracerLeakError
from .function import Function, In, function
from .gradient import grad, hessian, jacobian
from .ir import Graph, GraphBuilder, interpret, print_graph, verify
from .jit import JitFunction, JitWarning, jit
from .layer import CompiledCall, CompiledFunction
from .modes import CheckError, NonFiniteNodeError
from .passes import optimize
from .printing import debugprint, pp
from .random_streams import RandomStreams
from .shared import SharedVariable, shared
from .tensor.type import config

__all__ = [
    "CompileError", "ConcretizationError", "Graph", "GraphBuilder", "JitFunction",
    "JitWarning", "TracerLeakError", "interpret", "jit", "optimize", "print_graph", "verify",
    "Function", "In", "SharedVariable", "config", "debugprint", "function", "grad", "hessian",
    "jacobian", "pp", "shared", "tensor", "CompiledCall", "CompiledFunction",
    "CheckError", "NonFiniteNodeError", "modes",
    "RandomStreams", "cond", "foldl", "foldr", "ifelse", "map", "reduce", "scan",
]  # fmt: skip
