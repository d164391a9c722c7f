"""dualgrad_jit: the compiled face of dualgrad.

Eager dualgrad code is traced into a static graph (``dj.jit``), rewritten and run by a
backend; Python control flow that looks at data is guarded, never silently baked in.

>>> import numpy as np, dualgrad_jit as dj
>>> f = dj.jit(lambda x: (x * 2.0).sum())
>>> float(f(np.ones(3)).array)
6.0
"""

import importlib

from .errors import CompileError, ConcretizationError, TracerLeakError
from .ir import Graph, GraphBuilder, interpret, print_graph, verify
from .jit import JitFunction, JitWarning, jit
from .layer import CompiledCall, CompiledFunction
from .passes import optimize

# The rest loads on first use (PEP 562): a process that only runs ``dj.jit`` starts
# faster (about 0.1 s less of imports), which is most of a warm start.
_LAZY = {
    "modes": (".modes", None), "tensor": (".tensor", None),
    "CheckError": (".modes", "CheckError"), "NonFiniteNodeError": (".modes", "NonFiniteNodeError"),
    "Function": (".symbolic_function", "Function"), "In": (".symbolic_function", "In"),
    "function": (".symbolic_function", "function"),
    "grad": (".gradient", "grad"), "hessian": (".gradient", "hessian"),
    "jacobian": (".gradient", "jacobian"),
    "debugprint": (".printing", "debugprint"), "pp": (".printing", "pp"),
    "RandomStreams": (".random_streams", "RandomStreams"),
    "SharedVariable": (".shared_variable", "SharedVariable"),
    "shared": (".shared_variable", "shared"),
    "config": (".tensor.type", "config"),
    "cond": (".control", "cond"), "foldl": (".control", "foldl"),
    "foldr": (".control", "foldr"), "ifelse": (".control", "ifelse"),
    "map": (".control", "map"), "reduce": (".control", "reduce"), "scan": (".control", "scan"),
}  # fmt: skip


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'dualgrad_jit' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CompileError", "ConcretizationError", "Graph", "GraphBuilder", "JitFunction",
    "JitWarning", "TracerLeakError", "interpret", "jit", "optimize", "print_graph", "verify",
    "Function", "In", "SharedVariable", "config", "debugprint", "function", "grad", "hessian",
    "jacobian", "pp", "shared", "tensor", "CompiledCall", "CompiledFunction",
    "CheckError", "NonFiniteNodeError", "modes",
    "RandomStreams", "cond", "foldl", "foldr", "ifelse", "map", "reduce", "scan",
]  # fmt: skip
